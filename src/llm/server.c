/* What the model-server generators share: the server's last finding and one answer's stream. */
#include "llm/server.h"

#include <glib/gi18n.h>

#include "common/errors.h"
#include "rag/prompt.h"

/* Of an error body quoted in a message. */
#define MAX_QUOTED_CHARS 300

void
sr_server_finding_set (SrServerFinding *finding, SrServerState state, const char *message)
{
  finding->state = state;
  finding->checked_monotonic = g_get_monotonic_time ();
  finding->checked_at = g_get_real_time ();
  g_free (finding->message);
  finding->message = g_strdup (message);
}

gboolean
sr_server_finding_is_fresh (const SrServerFinding *finding)
{
  return finding->checked_monotonic > 0
         && g_get_monotonic_time () - finding->checked_monotonic < SR_GENERATOR_PROBE_INTERVAL_US;
}

void
sr_server_finding_clear (SrServerFinding *finding)
{
  g_clear_pointer (&finding->message, g_free);
}

void
sr_server_finding_status (const SrServerFinding *finding, SrGeneratorStatus *status)
{
  status->server = finding->state;
  status->checked_at = finding->checked_monotonic > 0 ? finding->checked_at : 0;
  status->message = finding->message;
}

SrServerAnswer *
sr_server_answer_new (const char *model, GCancellable *cancellable, SrTokenFunc token,
                      SrGenerateDone done, gpointer user_data)
{
  SrServerAnswer *answer = g_new0 (SrServerAnswer, 1);
  answer->model = g_strdup (model);
  answer->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  answer->token = token;
  answer->done = done;
  answer->user_data = user_data;
  return answer;
}

void
sr_server_answer_free (SrServerAnswer *answer)
{
  if (answer == NULL)
    return;
  g_free (answer->model);
  g_clear_object (&answer->cancellable);
  g_free (answer);
}

void
sr_server_answer_token (SrServerAnswer *answer, const char *text)
{
  if (text == NULL || *text == '\0')
    return;
  if (answer->tokens_given++ == 0 && answer->stream != NULL)
    sr_http_stream_first_token (answer->stream);
  answer->token (text, answer->user_data);
}

void
sr_server_answer_done (SrServerAnswer *answer, const GError *error)
{
  SrGenerateStats stats = {
    .model = answer->model,
    .prompt_tokens = answer->prompt_tokens,
    .answer_tokens = answer->answer_tokens > 0 ? answer->answer_tokens : answer->tokens_given,
  };
  answer->stream = NULL;
  answer->done (&stats, error, answer->user_data);
}

JsonNode *
sr_server_messages_json (const SrGenerateRequest *request, guint history_budget)
{
  g_autoptr (GPtrArray) messages
      = sr_prompt_build (request, history_budget > 0 ? history_budget : SR_PROMPT_HISTORY_BUDGET);
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_array (builder);
  for (guint i = 0; i < messages->len; i++) {
    const SrChatMessage *message = messages->pdata[i];
    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "role");
    json_builder_add_string_value (builder, message->role);
    json_builder_set_member_name (builder, "content");
    json_builder_add_string_value (builder, message->content);
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
  return json_builder_get_root (builder);
}

JsonObject *
sr_server_parse_object (const char *text, gssize length, const char *server_name, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;

  if (!json_parser_load_from_data (parser, text, length, &local)) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                 _ ("%s sent something that is not JSON (%s); is the URL that of the right "
                    "server?"),
                 server_name, local->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                 _ ("%s sent JSON that is not an object; is the URL that of the right server?"),
                 server_name);
    return NULL;
  }
  return json_object_ref (json_node_get_object (root));
}

char *
sr_server_error_text (const char *body)
{
  if (body == NULL || *body == '\0')
    return g_strdup (_ ("no message"));
  g_autoptr (JsonObject) object = sr_server_parse_object (body, -1, "", NULL);
  const char *text = sr_json_string (object, "error");
  JsonNode *node = object != NULL ? json_object_get_member (object, "error") : NULL;
  if (text == NULL && node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    text = sr_json_string (json_node_get_object (node), "message");
  if (text == NULL)
    text = sr_json_string (object, "message");
  if (text == NULL)
    text = body;
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  g_strstrip (valid);
  if (g_utf8_strlen (valid, -1) <= MAX_QUOTED_CHARS)
    return g_steal_pointer (&valid);
  g_autofree char *cut = g_utf8_substring (valid, 0, MAX_QUOTED_CHARS);
  return g_strconcat (cut, "…", NULL);
}

gboolean
sr_is_blank (const char *line, gsize length)
{
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isspace (line[i]))
      return FALSE;
  return TRUE;
}

const char *
sr_json_string (JsonObject *object, const char *member)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, member) : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

guint
sr_json_uint (JsonObject *object, const char *member)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, member) : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64)
    return 0;
  gint64 value = json_node_get_int (node);
  return value > 0 ? (guint) MIN (value, G_MAXUINT) : 0;
}

gboolean
sr_json_true (JsonObject *object, const char *member)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, member) : NULL;
  return node != NULL && JSON_NODE_HOLDS_VALUE (node)
         && json_node_get_value_type (node) == G_TYPE_BOOLEAN && json_node_get_boolean (node);
}

SrHttpClient *
sr_server_client_new (const SrServerOptions *options, const char *kind,
                      const char *unreachable_hint)
{
  const SrHttpServer server = {
    .kind = kind,
    .url = options->url,
    .unreachable_hint = unreachable_hint,
    .connect_timeout_ms = options->connect_timeout_ms,
    .first_token_timeout_ms = options->first_token_timeout_ms,
    .total_timeout_ms = options->total_timeout_ms,
  };
  return sr_http_client_new (&server);
}
