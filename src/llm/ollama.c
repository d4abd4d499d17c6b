/* The Ollama generator: /api/chat streamed as NDJSON, /api/tags to see what the server has. */
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
  char *keep_alive; /* as Ollama reads durations: "300s" */
  guint history_budget;
  guint first_token_timeout_ms;
  SrServerFinding finding;
} Ollama;

/* One answer; freed by its stream. */
typedef struct {
  Ollama *ollama; /* outlives the stream: freeing it stops the stream without a call */
  SrServerAnswer *answer;
  gboolean configured_model; /* the model asked for is the configured one */
} Job;

static void start_probe (Ollama *ollama);

static void
job_free (gpointer data)
{
  Job *job = data;
  sr_server_answer_free (job->answer);
  g_free (job);
}

static const char *
server_name (Ollama *ollama)
{
  return sr_http_client_name (ollama->http);
}

/* Logs what changed, once: a server that stays down is not reported per question. */
static void
learn (Ollama *ollama, SrServerState state, const char *message)
{
  if (state != ollama->finding.state || g_strcmp0 (message, ollama->finding.message) != 0)
    g_info ("%s", message);
  sr_server_finding_set (&ollama->finding, state, message);
}

static JsonNode *
chat_body (Ollama *ollama, const SrGenerateRequest *request, const char *model)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "model");
  json_builder_add_string_value (builder, model);
  json_builder_set_member_name (builder, "messages");
  json_builder_add_value (builder, sr_server_messages_json (request, ollama->history_budget));
  json_builder_set_member_name (builder, "stream");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "keep_alive");
  json_builder_add_string_value (builder, ollama->keep_alive);
  if (request->temperature >= 0 || request->max_tokens > 0) {
    json_builder_set_member_name (builder, "options");
    json_builder_begin_object (builder);
    if (request->temperature >= 0) {
      json_builder_set_member_name (builder, "temperature");
      json_builder_add_double_value (builder, request->temperature);
    }
    if (request->max_tokens > 0) {
      json_builder_set_member_name (builder, "num_predict");
      json_builder_add_int_value (builder, request->max_tokens);
    }
    json_builder_end_object (builder);
  }
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static SrHttpLineResult
on_chat_line (const char *line, gsize length, gpointer user_data, GError **error)
{
  Job *job = user_data;
  const char *name = server_name (job->ollama);

  if (sr_is_blank (line, length))
    return SR_HTTP_LINE_MORE;
  g_autoptr (JsonObject) object = sr_server_parse_object (line, (gssize) length, name, error);
  if (object == NULL)
    return SR_HTTP_LINE_FAILED;
  const char *message = sr_json_string (object, "error");
  if (message != NULL) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                 _ ("%s stopped the answer with an error: %s"), name, message);
    return SR_HTTP_LINE_FAILED;
  }
  JsonNode *node = json_object_get_member (object, "message");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    sr_server_answer_token (job->answer, sr_json_string (json_node_get_object (node), "content"));
  if (!sr_json_true (object, "done"))
    return SR_HTTP_LINE_MORE;
  job->answer->prompt_tokens = sr_json_uint (object, "prompt_eval_count");
  job->answer->answer_tokens = sr_json_uint (object, "eval_count");
  job->answer->complete = TRUE;
  return SR_HTTP_LINE_END;
}

static gboolean
is_model_not_found (guint status, const char *text)
{
  return status == 404 && strstr (text, "not found") != NULL;
}

static GError *
status_error (Ollama *ollama, guint status, const char *body, const char *model)
{
  g_autofree char *text = sr_server_error_text (body);
  if (is_model_not_found (status, text))
    return g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                        _ ("Model '%s' not found on %s — run 'ollama pull %s'"), model,
                        server_name (ollama), model);
  return g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                      _ ("%s answered HTTP %u: %s"), server_name (ollama), status, text);
}

/* What the answer's end says of the server, for health and "auto". */
static void
learn_from_answer (Job *job, const GError *error, guint status)
{
  Ollama *ollama = job->ollama;

  if (error == NULL) {
    if (job->configured_model) {
      g_autofree char *message = g_strdup_printf (_ ("%s answers with the model '%s'"),
                                                  server_name (ollama), ollama->parent.model);
      learn (ollama, SR_SERVER_READY, message);
    }
    return;
  }
  if (g_error_matches (error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED))
    return;
  if (status == 404 && !job->configured_model)
    return; /* another model than the configured one is missing: nothing new */
  learn (ollama, status == 404 ? SR_SERVER_NO_MODEL : SR_SERVER_FAILING, error->message);
  /* An answer that broke off says little of why: a probe tells whether the server is
   * still there. */
  if (job->answer->tokens_given > 0)
    start_probe (ollama);
}

static void
on_chat_end (const SrHttpOutcome *outcome, gpointer user_data)
{
  Job *job = user_data;
  Ollama *ollama = job->ollama;
  g_autoptr (GError) error = NULL;

  if (outcome->error != NULL)
    error = g_error_copy (outcome->error);
  else if (outcome->status < 200 || outcome->status >= 300)
    error = status_error (ollama, outcome->status, outcome->body, job->answer->model);
  else if (outcome->ended_early)
    error = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                         _ ("%s ended the answer before it was complete (no line with "
                            "\"done\": true); its log may say why"),
                         server_name (ollama));
  learn_from_answer (job, error, outcome->error != NULL ? 0 : outcome->status);
  sr_server_answer_done (job->answer, error);
}

static void
ollama_generate (SrGenerator *self, const SrGenerateRequest *request, GCancellable *cancellable,
                 SrTokenFunc token, SrGenerateDone done, gpointer user_data)
{
  Ollama *ollama = (Ollama *) self;
  const char *model
      = request->model != NULL && *request->model != '\0' ? request->model : self->model;
  Job *job = g_new0 (Job, 1);
  job->ollama = ollama;
  job->answer = sr_server_answer_new (model, cancellable, token, done, user_data);
  job->configured_model = g_str_equal (model, self->model);

  g_autoptr (JsonNode) body = chat_body (ollama, request, model);
  const SrHttpRequest http = { "/api/chat", body, NULL, 0 };
  job->answer->stream = sr_http_stream_start (ollama->http, &http, cancellable, on_chat_line,
                                              on_chat_end, job, job_free);
}

/* "llama3.2" is "llama3.2:latest" to Ollama. */
static gboolean
same_model (const char *listed, const char *configured)
{
  if (listed == NULL)
    return FALSE;
  g_autofree char *a = g_str_has_suffix (listed, ":latest")
                           ? g_strndup (listed, strlen (listed) - strlen (":latest"))
                           : g_strdup (listed);
  g_autofree char *b = g_str_has_suffix (configured, ":latest")
                           ? g_strndup (configured, strlen (configured) - strlen (":latest"))
                           : g_strdup (configured);
  return g_str_equal (a, b);
}

static gboolean
lists_model (JsonObject *tags, const char *model)
{
  JsonNode *node = json_object_get_member (tags, "models");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;
  JsonArray *models = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (models); i++) {
    JsonNode *entry = json_array_get_element (models, i);
    if (!JSON_NODE_HOLDS_OBJECT (entry))
      continue;
    JsonObject *object = json_node_get_object (entry);
    if (same_model (sr_json_string (object, "name"), model)
        || same_model (sr_json_string (object, "model"), model))
      return TRUE;
  }
  return FALSE;
}

static void
on_probe_end (const SrHttpOutcome *outcome, gpointer user_data)
{
  Ollama *ollama = user_data;
  const char *model = ollama->parent.model;
  g_autoptr (GError) error = NULL;

  ollama->finding.probing = FALSE;
  if (outcome->error != NULL) {
    learn (ollama, SR_SERVER_FAILING, outcome->error->message);
    return;
  }
  if (outcome->status != 200) {
    g_autoptr (GError) failure = status_error (ollama, outcome->status, outcome->body, model);
    learn (ollama, SR_SERVER_FAILING, failure->message);
    return;
  }
  g_autoptr (JsonObject) tags = sr_server_parse_object (outcome->body != NULL ? outcome->body : "",
                                                        -1, server_name (ollama), &error);
  if (tags == NULL) {
    learn (ollama, SR_SERVER_FAILING, error->message);
    return;
  }
  g_autofree char *message = NULL;
  if (lists_model (tags, model)) {
    message
        = g_strdup_printf (_ ("%s answers and has the model '%s'"), server_name (ollama), model);
    learn (ollama, SR_SERVER_READY, message);
  } else {
    message = g_strdup_printf (_ ("Model '%s' not found on %s — run 'ollama pull %s'"), model,
                               server_name (ollama), model);
    learn (ollama, SR_SERVER_NO_MODEL, message);
  }
}

static void
start_probe (Ollama *ollama)
{
  if (ollama->finding.probing)
    return;
  ollama->finding.probing = TRUE;
  const SrHttpServer *server = sr_http_client_server (ollama->http);
  const SrHttpRequest http
      = { "/api/tags", NULL, NULL, server->connect_timeout_ms + PROBE_EXTRA_MS };
  sr_http_stream_start (ollama->http, &http, NULL, NULL, on_probe_end, ollama, NULL);
}

static void
on_preload_end (const SrHttpOutcome *outcome, gpointer user_data)
{
  Ollama *ollama = user_data;
  const char *model = ollama->parent.model;

  if (outcome->error != NULL) {
    g_info ("Could not load the model '%s' ahead of questions: %s", model, outcome->error->message);
  } else if (outcome->status != 200) {
    g_autoptr (GError) error = status_error (ollama, outcome->status, outcome->body, model);
    g_info ("Could not load the model '%s' ahead of questions: %s", model, error->message);
  } else {
    g_info ("%s has loaded the model '%s'", server_name (ollama), model);
  }
}

/* An empty conversation makes Ollama load the model and keep it for keep_alive. */
static void
start_preload (Ollama *ollama)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "model");
  json_builder_add_string_value (builder, ollama->parent.model);
  json_builder_set_member_name (builder, "messages");
  json_builder_begin_array (builder);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "stream");
  json_builder_add_boolean_value (builder, FALSE);
  json_builder_set_member_name (builder, "keep_alive");
  json_builder_add_string_value (builder, ollama->keep_alive);
  json_builder_end_object (builder);
  g_autoptr (JsonNode) body = json_builder_get_root (builder);

  const SrHttpServer *server = sr_http_client_server (ollama->http);
  const SrHttpRequest http
      = { "/api/chat", body, NULL, server->connect_timeout_ms + ollama->first_token_timeout_ms };
  sr_http_stream_start (ollama->http, &http, NULL, NULL, on_preload_end, ollama, NULL);
}

static void
ollama_status (SrGenerator *self, SrGeneratorStatus *status)
{
  Ollama *ollama = (Ollama *) self;

  status->url = sr_http_client_server (ollama->http)->url;
  sr_server_finding_status (&ollama->finding, status);
  if (!sr_server_finding_is_fresh (&ollama->finding))
    start_probe (ollama);
}

static void
ollama_free (SrGenerator *self)
{
  Ollama *ollama = (Ollama *) self;
  sr_http_client_free (ollama->http);
  sr_server_finding_clear (&ollama->finding);
  g_free (ollama->keep_alive);
  g_free (ollama);
}

static const SrGeneratorClass ollama_class = {
  .name = "ollama",
  .generate = ollama_generate,
  .free = ollama_free,
  .status = ollama_status,
};

SrGenerator *
sr_generator_ollama_new (const SrServerOptions *server, guint64 keep_alive_seconds,
                         gboolean preload)
{
  Ollama *ollama = g_new0 (Ollama, 1);
  ollama->parent.klass = &ollama_class;
  ollama->parent.model = g_strdup (server->model);
  ollama->http = sr_server_client_new (server, "Ollama", _ ("is 'ollama serve' running?"));
  ollama->keep_alive = g_strdup_printf ("%" G_GUINT64_FORMAT "s", keep_alive_seconds);
  ollama->history_budget = server->history_budget;
  ollama->first_token_timeout_ms = server->first_token_timeout_ms;
  start_probe (ollama);
  if (preload)
    start_preload (ollama);
  return &ollama->parent;
}
