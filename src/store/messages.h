/* Rows of the messages table: a session's conversation, with full-text search. */
#pragma once

#include <glib.h>

#include "store/store.h"

G_BEGIN_DECLS

typedef struct {
  gint64 id; /* rising: the conversation's order */
  char *session_id;
  char *query_id; /* the Ask that wrote it */
  char *role;     /* "user" or "assistant" */
  char *content;
  /* An assistant message's sources as a JSON array of objects with the keys of a
   * search hit (document_id, filename, chunk, page when known, heading, text, score);
   * "[]" for a question. */
  char *sources_json;
  /* "complete"; "incomplete" when the answer stopped early (cancelled, the client left,
   * the backend died mid-way); "failed" when nothing could be answered */
  char *state;
  char *error;   /* why it is incomplete or failed, for a person; "" otherwise */
  char *backend; /* of an answer: "builtin", "ollama", "openai"; "" for a question */
  char *model;
  double ttft_ms; /* of an answer: question to first token; 0 otherwise */
  double total_ms;
  guint32 prompt_tokens;
  guint32 answer_tokens;
  gint64 created_at; /* µs since the epoch */
} SrMessageRecord;

void sr_message_record_free (SrMessageRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrMessageRecord, sr_message_record_free)

/* Inserts @record (its id is ignored) and counts it in its session's message_count;
 * @id receives the new row's id. One statement, whole alone or inside the caller's
 * transaction (a thread other than the main one brackets it with sr_store_lock_writes()
 * as any single write); NULL strings are stored as "" ("[]" for sources_json, "complete"
 * for state). NOT_FOUND when the session is gone. */
gboolean sr_store_message_insert (SrStore *store, const SrMessageRecord *record, gint64 *id,
                                  GError **error);

/* A session's messages, oldest first, from the @offset-th on, at most @limit. */
GPtrArray *sr_store_messages_list (SrStore *store, const char *session_id, guint offset,
                                   guint limit, GError **error);

/* The last @limit messages of a session, oldest first: the history a prompt carries. */
GPtrArray *sr_store_messages_recent (SrStore *store, const char *session_id, guint limit,
                                     GError **error);

/* A session's messages holding any word of @text (free text, no FTS5 syntax reaches
 * FTS5), best first by BM25, at most @limit. */
GPtrArray *sr_store_messages_search (SrStore *store, const char *session_id, const char *text,
                                     guint limit, GError **error);

G_END_DECLS
