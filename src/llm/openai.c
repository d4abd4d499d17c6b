/* The OpenAI-compatible generator: /chat/completions streamed as server-sent events. */
#include "llm/generator.h"

#include <glib/gi18n.h>
#include <string.h>

#include "common/errors.h"
#include "llm/server.h"

/* A probe lists models; it needs no more than a connection and a moment. */
#define PROBE_EXTRA_MS 5000

typedef struct {
  SrGenerator parent;
  SrHttpClient *http;
  char *api_key; /* NULL: none */
  guint history_budget;
  SrServerFinding finding;
} OpenAI;

/* One answer; freed by its stream. */
typedef struct {
  OpenAI *openai; /* outlives the stream: freeing it stops the stream without a call */
  SrServerAnswer *answer;
  gboolean finished; /* a choice came with its finish_reason */
} Job;

static void start_probe (OpenAI *openai);

static void
job_free (gpointer data)
{
  Job *job = data;
  sr_server_answer_free (job->answer);
  g_free (job);
}

static const char *
server_name (OpenAI *openai)
{
  return sr_http_client_name (openai->http);
}

/* Logs what changed, once: a server that stays down is not reported per question. */
static void
learn (OpenAI *openai, SrServerState state, const char *message)
{
  if (state != openai->finding.state || g_strcmp0 (message, openai->finding.message) != 0)
    g_info ("%s", message);
  sr_server_finding_set (&openai->finding, state, message);
}

static JsonNode *
chat_body (OpenAI *openai, const SrGenerateRequest *request, const char *model)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  /* Without a model, a server that serves one (llama.cpp) uses it. */
  if (*model != '\0') {
    json_builder_set_member_name (builder, "model");
    json_builder_add_string_value (builder, model);
  }
  json_builder_set_member_name (builder, "messages");
  json_builder_add_value (builder, sr_server_messages_json (request, openai->history_budget));
  json_builder_set_member_name (builder, "stream");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "stream_options");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "include_usage");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_end_object (builder);
  if (request->temperature >= 0) {
    json_builder_set_member_name (builder, "temperature");
    json_builder_add_double_value (builder, request->temperature);
  }
  if (request->max_tokens > 0) {
    json_builder_set_member_name (builder, "max_tokens");
    json_builder_add_int_value (builder, request->max_tokens);
  }
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static JsonObject *
member_object (JsonObject *object, const char *member)
{
  JsonNode *node = json_object_get_member (object, member);
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* The first choice's delta; the usage chunk has none (its choices are [] or null). */
static void
take_choice (Job *job, JsonObject *chunk)
{
  JsonNode *node = json_object_get_member (chunk, "choices");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return;
  JsonArray *choices = json_node_get_array (node);
  if (json_array_get_length (choices) == 0)
    return;
  JsonNode *first = json_array_get_element (choices, 0);
  if (!JSON_NODE_HOLDS_OBJECT (first))
    return;
  JsonObject *choice = json_node_get_object (first);
  JsonObject *delta = member_object (choice, "delta");
  if (delta != NULL)
    sr_server_answer_token (job->answer, sr_json_string (delta, "content"));
  if (sr_json_string (choice, "finish_reason") != NULL)
    job->finished = TRUE;
}

static SrHttpLineResult
take_event (Job *job, const char *data, GError **error)
{
  const char *name = server_name (job->openai);

  if (g_str_equal (data, "[DONE]")) {
    job->answer->complete = TRUE;
    return SR_HTTP_LINE_END;
  }
  g_autoptr (JsonObject) chunk = sr_server_parse_object (data, -1, name, error);
  if (chunk == NULL)
    return SR_HTTP_LINE_FAILED;
  if (json_object_has_member (chunk, "error")) {
    g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), chunk);
    g_autofree char *body = json_to_string (node, FALSE);
    g_autofree char *text = sr_server_error_text (body);
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                 _ ("%s stopped the answer with an error: %s"), name, text);
    return SR_HTTP_LINE_FAILED;
  }
  const char *model = sr_json_string (chunk, "model");
  if (model != NULL && *model != '\0' && g_strcmp0 (model, job->answer->model) != 0) {
    g_free (job->answer->model);
    job->answer->model = g_strdup (model);
  }
  JsonObject *usage = member_object (chunk, "usage");
  if (usage != NULL) {
    job->answer->prompt_tokens = sr_json_uint (usage, "prompt_tokens");
    job->answer->answer_tokens = sr_json_uint (usage, "completion_tokens");
  }
  take_choice (job, chunk);
  return SR_HTTP_LINE_MORE;
}

/* Server-sent events: each "data:" line is one event here, as every OpenAI-compatible
 * server sends them; other fields and comments (": ping") say nothing to a client. */
static SrHttpLineResult
on_chat_line (const char *line, gsize length, gpointer user_data, GError **error)
{
  Job *job = user_data;

  if (!g_str_has_prefix (line, "data:"))
    return SR_HTTP_LINE_MORE;
  const char *data = line + strlen ("data:");
  if (*data == ' ')
    data++;
  if (sr_is_blank (data, strlen (data)))
    return SR_HTTP_LINE_MORE;
  return take_event (job, data, error);
}

static GError *
status_error (OpenAI *openai, guint status, const char *body)
{
  g_autofree char *text = sr_server_error_text (body);
  const char *name = server_name (openai);

  switch (status) {
  case 401:
  case 403:
    return g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                        _ ("%s refused the API key (HTTP %u: %s) — check the key in the file "
                           "named by [generation] openai_api_key_file"),
                        name, status, text);
  case 404:
    return g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                        _ ("%s answered HTTP 404: %s — check [generation] openai_url (it usually "
                           "ends in /v1) and openai_model"),
                        name, text);
  case 400:
    return g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                        _ ("%s refused the request (HTTP 400: %s) — check [generation] "
                           "openai_model"),
                        name, text);
  case 429:
    return g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                        _ ("%s is busy or over its quota (HTTP 429: %s) — try again later"), name,
                        text);
  default:
    if (status >= 500)
      return g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                          _ ("%s failed (HTTP %u: %s); its log may say why"), name, status, text);
    return g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                        _ ("%s answered HTTP %u: %s"), name, status, text);
  }
}

static void
learn_from_answer (Job *job, const GError *error)
{
  OpenAI *openai = job->openai;

  if (error == NULL) {
    g_autofree char *message = g_strdup_printf (_ ("%s answers with the model '%s'"),
                                                server_name (openai), job->answer->model);
    learn (openai, SR_SERVER_READY, message);
    return;
  }
  if (g_error_matches (error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED))
    return;
  learn (openai, SR_SERVER_FAILING, error->message);
  if (job->answer->tokens_given > 0)
    start_probe (openai);
}

static void
on_chat_end (const SrHttpOutcome *outcome, gpointer user_data)
{
  Job *job = user_data;
  OpenAI *openai = job->openai;
  g_autoptr (GError) error = NULL;

  if (outcome->error != NULL)
    error = g_error_copy (outcome->error);
  else if (outcome->status < 200 || outcome->status >= 300)
    error = status_error (openai, outcome->status, outcome->body);
  /* A server that closes after the last choice without [DONE] has still answered whole. */
  else if (outcome->ended_early && !job->finished)
    error = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                         _ ("%s ended the answer before it was complete (no [DONE]); its log "
                            "may say why"),
                         server_name (openai));
  learn_from_answer (job, error);
  sr_server_answer_done (job->answer, error);
}

static void
openai_generate (SrGenerator *self, const SrGenerateRequest *request, GCancellable *cancellable,
                 SrTokenFunc token, SrGenerateDone done, gpointer user_data)
{
  OpenAI *openai = (OpenAI *) self;
  const char *model
      = request->model != NULL && *request->model != '\0' ? request->model : self->model;
  Job *job = g_new0 (Job, 1);
  job->openai = openai;
  job->answer = sr_server_answer_new (model, cancellable, token, done, user_data);

  g_autoptr (JsonNode) body = chat_body (openai, request, model);
  const SrHttpRequest http = { "/chat/completions", body, openai->api_key, 0 };
  job->answer->stream = sr_http_stream_start (openai->http, &http, cancellable, on_chat_line,
                                              on_chat_end, job, job_free);
}

static gboolean
lists_model (JsonObject *models, const char *model)
{
  JsonNode *node = json_object_get_member (models, "data");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;
  JsonArray *data = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (data); i++) {
    JsonNode *entry = json_array_get_element (data, i);
    if (JSON_NODE_HOLDS_OBJECT (entry)
        && g_strcmp0 (sr_json_string (json_node_get_object (entry), "id"), model) == 0)
      return TRUE;
  }
  return FALSE;
}

static void
on_probe_end (const SrHttpOutcome *outcome, gpointer user_data)
{
  OpenAI *openai = user_data;
  const char *model = openai->parent.model;
  g_autoptr (GError) error = NULL;

  openai->finding.probing = FALSE;
  if (outcome->error != NULL) {
    learn (openai, SR_SERVER_FAILING, outcome->error->message);
    return;
  }
  if (outcome->status != 200) {
    g_autoptr (GError) failure = status_error (openai, outcome->status, outcome->body);
    learn (openai, SR_SERVER_FAILING, failure->message);
    return;
  }
  g_autoptr (JsonObject) models = sr_server_parse_object (
      outcome->body != NULL ? outcome->body : "", -1, server_name (openai), &error);
  if (models == NULL) {
    learn (openai, SR_SERVER_FAILING, error->message);
    return;
  }
  g_autofree char *message = NULL;
  if (*model == '\0') {
    message = g_strdup_printf (_ ("%s answers"), server_name (openai));
    learn (openai, SR_SERVER_READY, message);
  } else if (lists_model (models, model)) {
    message
        = g_strdup_printf (_ ("%s answers and has the model '%s'"), server_name (openai), model);
    learn (openai, SR_SERVER_READY, message);
  } else {
    message = g_strdup_printf (_ ("%s does not list the model '%s' — check [generation] "
                                  "openai_model"),
                               server_name (openai), model);
    learn (openai, SR_SERVER_NO_MODEL, message);
  }
}

static void
start_probe (OpenAI *openai)
{
  if (openai->finding.probing)
    return;
  openai->finding.probing = TRUE;
  const SrHttpServer *server = sr_http_client_server (openai->http);
  const SrHttpRequest http
      = { "/models", NULL, openai->api_key, server->connect_timeout_ms + PROBE_EXTRA_MS };
  sr_http_stream_start (openai->http, &http, NULL, NULL, on_probe_end, openai, NULL);
}

static void
openai_status (SrGenerator *self, SrGeneratorStatus *status)
{
  OpenAI *openai = (OpenAI *) self;

  status->url = sr_http_client_server (openai->http)->url;
  sr_server_finding_status (&openai->finding, status);
  if (!sr_server_finding_is_fresh (&openai->finding))
    start_probe (openai);
}

static void
openai_free (SrGenerator *self)
{
  OpenAI *openai = (OpenAI *) self;
  sr_http_client_free (openai->http);
  sr_server_finding_clear (&openai->finding);
  if (openai->api_key != NULL)
    memset (openai->api_key, 0, strlen (openai->api_key));
  g_free (openai->api_key);
  g_free (openai);
}

static const SrGeneratorClass openai_class = {
  .name = "openai",
  .generate = openai_generate,
  .free = openai_free,
  .status = openai_status,
};

SrGenerator *
sr_generator_openai_new (const SrServerOptions *server, const char *api_key)
{
  OpenAI *openai = g_new0 (OpenAI, 1);
  openai->parent.klass = &openai_class;
  openai->parent.model = g_strdup (server->model != NULL ? server->model : "");
  openai->http
      = sr_server_client_new (server, _ ("OpenAI-compatible server"), _ ("is the server running?"));
  openai->api_key = api_key != NULL && *api_key != '\0' ? g_strdup (api_key) : NULL;
  openai->history_budget = server->history_budget;
  start_probe (openai);
  return &openai->parent;
}
