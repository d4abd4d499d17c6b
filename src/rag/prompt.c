/* The prompt: a question, its numbered sources and recent history as chat messages. */
#include "rag/prompt.h"

#include <string.h>

/* In English whatever the question's language: models follow English instructions best,
 * and the instructions themselves say which language to answer in. */
static const char system_text[]
    = "You answer questions using only the numbered sources given with each question. "
      "Cite the source of every statement by its number in square brackets, such as [1] or "
      "[2][3]. Answer in the language of the question. If the sources do not contain the "
      "answer, say so plainly instead of guessing, and do not fill gaps with knowledge of "
      "your own. Keep the answer short and to the point.";

void
sr_chat_message_free (SrChatMessage *message)
{
  if (message == NULL)
    return;
  g_free (message->content);
  g_free (message);
}

static SrChatMessage *
chat_message_new (const char *role, char *content)
{
  SrChatMessage *message = g_new0 (SrChatMessage, 1);
  message->role = role;
  message->content = content;
  return message;
}

guint
sr_prompt_estimate_tokens (const char *text)
{
  glong chars = g_utf8_strlen (text, -1);
  return (guint) ((chars + 3) / 4);
}

static gboolean
is_blank (const char *text)
{
  for (; *text != '\0'; text++)
    if (!g_ascii_isspace (*text))
      return FALSE;
  return TRUE;
}

/* The role a turn takes in the prompt, or NULL to leave it out: stored roles are free text
 * to the prompt, and only the two a chat model knows pass; an empty turn (an answer that
 * failed before its first word) tells the model nothing. */
static const char *
chat_role (const SrChatTurn *turn)
{
  if (is_blank (turn->content))
    return NULL;
  if (g_strcmp0 (turn->role, "user") == 0)
    return "user";
  if (g_strcmp0 (turn->role, "assistant") == 0)
    return "assistant";
  return NULL;
}

/* The index of the oldest history turn to send: the newest turns whose estimate fits
 * @budget together, moved forward to a question so that the conversation the model sees
 * does not open with an answer to something it cannot see. */
static guint
first_turn (const SrGenerateRequest *request, guint budget)
{
  guint first = request->n_history;
  guint used = 0;

  while (first > 0) {
    const SrChatTurn *turn = &request->history[first - 1];
    guint cost = sr_prompt_estimate_tokens (turn->content);
    if (chat_role (turn) != NULL && used + cost > budget)
      break;
    used += chat_role (turn) != NULL ? cost : 0;
    first--;
  }
  while (first < request->n_history
         && g_strcmp0 (chat_role (&request->history[first]), "user") != 0)
    first++;
  return first;
}

/* "[2] guide.pdf, page 4 — Bridges" */
static void
append_source_header (GString *out, const SrPromptSource *source)
{
  const char *filename
      = source->filename != NULL && *source->filename != '\0' ? source->filename : "untitled";
  g_string_append_printf (out, "[%u] %s", source->number, filename);
  if (source->page > 0)
    g_string_append_printf (out, ", page %u", source->page);
  if (source->heading != NULL && *source->heading != '\0')
    g_string_append_printf (out, " — %s", source->heading);
  g_string_append_c (out, '\n');
}

static char *
question_text (const SrGenerateRequest *request)
{
  GString *out = g_string_new (NULL);

  if (request->n_sources == 0) {
    g_string_append (out, "No sources were found for this question.\n\n");
  } else {
    g_string_append (out, "Sources:\n\n");
    for (guint i = 0; i < request->n_sources; i++) {
      const SrPromptSource *source = &request->sources[i];
      append_source_header (out, source);
      g_string_append (out, source->text);
      /* One blank line between sources whatever the text ends with. */
      while (out->len > 0 && out->str[out->len - 1] == '\n')
        g_string_truncate (out, out->len - 1);
      g_string_append (out, "\n\n");
    }
  }
  g_string_append (out, "Question: ");
  g_string_append (out, request->question);
  return g_string_free (out, FALSE);
}

GPtrArray *
sr_prompt_build (const SrGenerateRequest *request, guint history_budget)
{
  GPtrArray *messages = g_ptr_array_new_with_free_func ((GDestroyNotify) sr_chat_message_free);

  g_ptr_array_add (messages, chat_message_new ("system", g_strdup (system_text)));
  for (guint i = first_turn (request, history_budget); i < request->n_history; i++) {
    const char *role = chat_role (&request->history[i]);
    if (role != NULL)
      g_ptr_array_add (messages, chat_message_new (role, g_strdup (request->history[i].content)));
  }
  g_ptr_array_add (messages, chat_message_new ("user", question_text (request)));
  return messages;
}
