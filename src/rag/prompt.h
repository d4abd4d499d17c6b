/* The prompt: a question, its numbered sources and recent history as chat messages. */
#pragma once

#include <glib.h>

#include "llm/generator.h"

G_BEGIN_DECLS

/* Tokens of history a prompt carries unless told otherwise: room for a few exchanges
 * while leaving a small model's context (often 2048 to 8192 tokens) to the sources. */
#define SR_PROMPT_HISTORY_BUDGET 1500

typedef struct {
  const char *role; /* "system", "user" or "assistant" (static) */
  char *content;
} SrChatMessage;

void sr_chat_message_free (SrChatMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrChatMessage, sr_chat_message_free)

/* What a model reads of @text, roughly: a token per four characters, rounded up. Good
 * enough to budget with, no tokenizer needed. */
guint sr_prompt_estimate_tokens (const char *text);

/* The messages for a chat model, in order (SrChatMessage*): the instructions as a system
 * message, the newest turns of @request's history that fit in @history_budget tokens
 * (starting with a question), and a user message with the numbered sources and the
 * question. */
GPtrArray *sr_prompt_build (const SrGenerateRequest *request, guint history_budget);

G_END_DECLS
