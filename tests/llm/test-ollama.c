/* Unit tests for the Ollama and auto generators, against tests/fakes/fake_ollama.py. */
#include "fake-server.h"

#define MODEL "llama3.2"

typedef struct {
  FakeServer *fake;
  SrGenerator *generator;
} Fixture;

static SrGenerator *
ollama_at (const char *url, guint first_token_ms, guint total_ms, gboolean preload)
{
  const SrServerOptions options = { url, MODEL, 2000, first_token_ms, total_ms, 0 };
  return sr_generator_ollama_new (&options, 300, preload);
}

static void
set_up (Fixture *f, gconstpointer data)
{
  f->fake = (FakeServer *) data;
  fake_server_reset (f->fake);
  f->generator = ollama_at (f->fake->url, 5000, 20000, FALSE);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->generator, sr_generator_free);
}

/* The body of the last /api/chat request the fake received. */
static JsonObject *
last_chat (Fixture *f)
{
  g_autoptr (GPtrArray) chats = fake_server_requests (f->fake, "/api/chat");
  g_assert_cmpuint (chats->len, >, 0);
  JsonObject *request = chats->pdata[chats->len - 1];
  return json_object_ref (json_object_get_object_member (request, "body"));
}

static void
test_streams_in_order (Fixture *f, gconstpointer data)
{
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  run_generate (&run, f->generator, &request);
  g_assert_no_error (run.error);
  g_assert_cmpuint (run.tokens->len, ==, 7);
  g_assert_cmpstr (run.tokens->pdata[0], ==, "The");
  g_assert_cmpstr (run.tokens->pdata[6], ==, " [1].");
  g_assert_cmpstr (run.text->str, ==, "The harbour was built in 1871 [1].");
  g_assert_cmpstr (run.model, ==, MODEL);
  g_assert_null (run.backend);
  g_assert_cmpuint (run.stats.prompt_tokens, ==, 26);
  g_assert_cmpuint (run.stats.answer_tokens, ==, 7);
}

static void
test_request_body (Fixture *f, gconstpointer data)
{
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  run_generate (&run, f->generator, &request);
  g_assert_no_error (run.error);
  g_autoptr (JsonObject) body = last_chat (f);
  g_assert_cmpstr (json_object_get_string_member (body, "model"), ==, MODEL);
  g_assert_true (json_object_get_boolean_member (body, "stream"));
  g_assert_cmpstr (json_object_get_string_member (body, "keep_alive"), ==, "300s");
  /* No options were asked for: the server's own apply. */
  g_assert_false (json_object_has_member (body, "options"));

  JsonArray *messages = json_object_get_array_member (body, "messages");
  g_assert_cmpuint (json_array_get_length (messages), ==, 4);
  const char *roles[] = { "system", "user", "assistant", "user" };
  for (guint i = 0; i < 4; i++) {
    JsonObject *message = json_array_get_object_element (messages, i);
    g_assert_cmpstr (json_object_get_string_member (message, "role"), ==, roles[i]);
  }
  JsonObject *last = json_array_get_object_element (messages, 3);
  const char *content = json_object_get_string_member (last, "content");
  assert_contains (content, "[1] harbour.txt, page 2 — Port\nThe harbour was built in 1871.");
  assert_contains (content, "[2] market.txt\nThe market opens on Saturdays.");
  g_assert_true (g_str_has_suffix (content, "Question: When was the harbour built?"));
  JsonObject *answer = json_array_get_object_element (messages, 2);
  g_assert_cmpstr (json_object_get_string_member (answer, "content"), ==, "On Saturdays [2].");

  g_autoptr (GPtrArray) chats = fake_server_requests (f->fake, "/api/chat");
  JsonObject *headers = json_object_get_object_member (chats->pdata[0], "headers");
  g_assert_true (
      g_str_has_prefix (json_object_get_string_member (headers, "user-agent"), "smartrag/"));
  g_assert_cmpstr (json_object_get_string_member (headers, "content-type"), ==, "application/json");
}

static void
test_options_sent (Fixture *f, gconstpointer data)
{
  SrGenerateRequest request = test_request ();
  request.temperature = 0.25;
  request.max_tokens = 64;
  g_auto (Run) run = { 0 };

  run_generate (&run, f->generator, &request);
  g_assert_no_error (run.error);
  g_autoptr (JsonObject) body = last_chat (f);
  JsonObject *options = json_object_get_object_member (body, "options");
  g_assert_cmpfloat (json_object_get_double_member (options, "temperature"), ==, 0.25);
  g_assert_cmpint (json_object_get_int_member (options, "num_predict"), ==, 64);
}

static void
assert_fails (Fixture *f, const char *behaviour, const char *const *phrases, guint tokens)
{
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  if (behaviour != NULL)
    fake_server_control (f->fake, behaviour);
  run_generate (&run, f->generator, &request);
  g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE);
  g_test_message ("%s", run.error->message);
  assert_contains (run.error->message, f->fake->url);
  for (guint i = 0; phrases[i] != NULL; i++)
    assert_contains (run.error->message, phrases[i]);
  g_assert_cmpuint (run.tokens->len, ==, tokens);
}

static void
test_model_not_found (Fixture *f, gconstpointer data)
{
  g_autofree char *expected = g_strdup_printf ("Model 'llama3.2' not found on Ollama at %s — run "
                                               "'ollama pull llama3.2'",
                                               f->fake->url);
  const char *phrases[] = { expected, NULL };
  assert_fails (f, "{\"models\": [\"mistral:latest\"]}", phrases, 0);
}

static void
test_http_error (Fixture *f, gconstpointer data)
{
  const char *phrases[] = { "answered HTTP 500", "out of memory", NULL };
  assert_fails (f, "{\"fail_status\": 500, \"error_message\": \"out of memory\"}", phrases, 0);
}

static void
test_error_line (Fixture *f, gconstpointer data)
{
  const char *phrases[] = { "stopped the answer with an error", "runner stopped", NULL };
  assert_fails (f, "{\"error_after\": 3}", phrases, 3);
}

static void
test_no_done_line (Fixture *f, gconstpointer data)
{
  const char *phrases[] = { "ended the answer before it was complete", NULL };
  assert_fails (f, "{\"end_early_after\": 7}", phrases, 7);
}

static void
test_cut_mid_stream (Fixture *f, gconstpointer data)
{
  /* libsoup reads a chunked body cut short as one that ended. */
  const char *phrases[] = { "ended the answer before it was complete", NULL };
  assert_fails (f, "{\"cut_after\": 2}", phrases, 2);
}

static void
test_malformed_line (Fixture *f, gconstpointer data)
{
  const char *phrases[] = { "is not JSON", NULL };
  assert_fails (f, "{\"garbage_after\": 1}", phrases, 1);
}

static void
test_refused (void)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u", unused_port ());
  g_autoptr (SrGenerator) generator = ollama_at (url, 5000, 20000, FALSE);
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  run_generate (&run, generator, &request);
  g_autofree char *expected = g_strdup_printf ("Cannot reach Ollama at %s: connection refused — "
                                               "is 'ollama serve' running?",
                                               url);
  g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE);
  g_assert_cmpstr (run.error->message, ==, expected);
  g_assert_cmpuint (run.tokens->len, ==, 0);
}

static void
test_cancel_mid_stream (Fixture *f, gconstpointer data)
{
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  fake_server_control (f->fake, "{\"token_delay\": 0.5}");
  run.cancel_at_token = 2;
  run_generate (&run, f->generator, &request);
  g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED);
  g_assert_cmpuint (run.tokens->len, ==, 2);
  g_assert_cmpint (run.done_at - run.cancelled_at, <, 100 * 1000);
}

static void
test_cancel_before_start (Fixture *f, gconstpointer data)
{
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  run.cancellable = g_cancellable_new ();
  g_cancellable_cancel (run.cancellable);
  run_generate (&run, f->generator, &request);
  g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED);
  g_assert_cmpuint (run.tokens->len, ==, 0);
}

/* The generator is freed while the answer streams: nothing more is called. */
static void
test_free_mid_stream (Fixture *f, gconstpointer data)
{
  SrGenerateRequest request = test_request ();
  Run run = { 0 };

  fake_server_control (f->fake, "{\"token_delay\": 0.2}");
  run.tokens = g_ptr_array_new_with_free_func (g_free);
  run.text = g_string_new (NULL);
  sr_generator_generate (f->generator, &request, NULL, run_on_token, run_on_done, &run);
  while (run.tokens->len == 0)
    g_main_context_iteration (NULL, TRUE);
  g_clear_pointer (&f->generator, sr_generator_free);
  spin (300);
  g_assert_cmpuint (run.done_calls, ==, 0);
  run_clear (&run);
}

static void
test_first_token_timeout (Fixture *f, gconstpointer data)
{
  g_autoptr (SrGenerator) generator = ollama_at (f->fake->url, 300, 20000, FALSE);
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  fake_server_control (f->fake, "{\"first_token_delay\": 3}");
  run_generate (&run, generator, &request);
  g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE);
  assert_contains (run.error->message, "sent no answer within 300 ms ([generation] "
                                       "first_token_timeout)");
  g_assert_cmpint (run.done_at - run.started_at, >=, 290 * 1000);
  g_assert_cmpint (run.done_at - run.started_at, <, 1500 * 1000);
}

static void
test_total_timeout (Fixture *f, gconstpointer data)
{
  g_autoptr (SrGenerator) generator = ollama_at (f->fake->url, 5000, 700, FALSE);
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  fake_server_control (f->fake, "{\"token_delay\": 0.3}");
  run_generate (&run, generator, &request);
  g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE);
  assert_contains (run.error->message, "did not finish within 700 ms ([generation] total_timeout)");
  g_assert_cmpuint (run.tokens->len, >, 0);
  g_assert_cmpuint (run.tokens->len, <, 7);
}

static void
test_connection_reused (Fixture *f, gconstpointer data)
{
  SrGeneratorStatus status;
  wait_probed (f->generator, &status);
  for (guint i = 0; i < 2; i++) {
    SrGenerateRequest request = test_request ();
    g_auto (Run) run = { 0 };
    run_generate (&run, f->generator, &request);
    g_assert_no_error (run.error);
    spin (50);
  }
  g_autoptr (GPtrArray) chats = fake_server_requests (f->fake, "/api/chat");
  g_assert_cmpuint (chats->len, ==, 2);
  g_assert_cmpint (json_object_get_int_member (chats->pdata[0], "peer_port"), ==,
                   json_object_get_int_member (chats->pdata[1], "peer_port"));
}

static void
test_probe_ready (Fixture *f, gconstpointer data)
{
  SrGeneratorStatus status;

  wait_probed (f->generator, &status);
  g_assert_cmpstr (status.backend, ==, "ollama");
  g_assert_cmpstr (status.active, ==, "ollama");
  g_assert_cmpstr (status.url, ==, f->fake->url);
  g_assert_cmpstr (status.model, ==, MODEL);
  g_assert_cmpint (status.server, ==, SR_SERVER_READY);
  assert_contains (status.message, "has the model 'llama3.2'");
  g_autoptr (GPtrArray) probes = fake_server_requests (f->fake, "/api/tags");
  g_assert_cmpuint (probes->len, ==, 1);
}

static void
test_probe_no_model (Fixture *f, gconstpointer data)
{
  SrGeneratorStatus status;

  fake_server_control (f->fake, "{\"models\": [\"llama3.2:1b\", \"mistral:latest\"]}");
  g_autoptr (SrGenerator) generator = ollama_at (f->fake->url, 5000, 20000, FALSE);
  wait_probed (generator, &status);
  g_assert_cmpint (status.server, ==, SR_SERVER_NO_MODEL);
  assert_contains (status.message, "run 'ollama pull llama3.2'");
}

static void
test_probe_refused (void)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u", unused_port ());
  g_autoptr (SrGenerator) generator = ollama_at (url, 5000, 20000, FALSE);
  SrGeneratorStatus status;

  wait_probed (generator, &status);
  g_assert_cmpint (status.server, ==, SR_SERVER_FAILING);
  assert_contains (status.message, "connection refused");
}

static void
test_preload (Fixture *f, gconstpointer data)
{
  g_autoptr (SrGenerator) generator = ollama_at (f->fake->url, 5000, 20000, TRUE);
  g_autoptr (GPtrArray) chats = NULL;

  for (guint i = 0; i < 200; i++) {
    g_clear_pointer (&chats, g_ptr_array_unref);
    chats = fake_server_requests (f->fake, "/api/chat");
    if (chats->len > 0)
      break;
    spin (10);
  }
  g_assert_cmpuint (chats->len, ==, 1);
  JsonObject *body = json_object_get_object_member (chats->pdata[0], "body");
  g_assert_cmpstr (json_object_get_string_member (body, "model"), ==, MODEL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (body, "messages")), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (body, "keep_alive"), ==, "300s");
}

/* auto: Ollama when it answers, else the builtin generator. */
static SrGenerator *
auto_at (const char *url)
{
  return sr_generator_auto_new (ollama_at (url, 5000, 20000, FALSE), sr_generator_builtin_new ());
}

static void
test_auto_uses_ollama (Fixture *f, gconstpointer data)
{
  g_autoptr (SrGenerator) generator = auto_at (f->fake->url);
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  g_assert_cmpstr (generator->klass->name, ==, "auto");
  run_generate (&run, generator, &request);
  g_assert_no_error (run.error);
  g_assert_cmpstr (run.backend, ==, "ollama");
  g_assert_cmpstr (run.model, ==, MODEL);
  g_assert_cmpstr (run.text->str, ==, "The harbour was built in 1871 [1].");

  SrGeneratorStatus status;
  wait_probed (generator, &status);
  g_assert_cmpstr (status.backend, ==, "auto");
  g_assert_cmpstr (status.active, ==, "ollama");
  g_assert_cmpint (status.server, ==, SR_SERVER_READY);
}

static void
assert_auto_falls_back (SrGenerator *generator)
{
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  run_generate (&run, generator, &request);
  g_assert_no_error (run.error);
  g_assert_cmpstr (run.backend, ==, "builtin");
  g_assert_cmpstr (run.model, ==, "extractive");
  g_assert_cmpstr (run.text->str, ==, "The harbour was built in 1871. [1]");
}

static void
test_auto_falls_back_when_down (void)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u", unused_port ());
  g_autoptr (SrGenerator) generator = auto_at (url);

  /* Before any finding, and again once the server is known to be down. */
  assert_auto_falls_back (generator);
  SrGeneratorStatus status;
  wait_probed (generator, &status);
  g_assert_cmpstr (status.active, ==, "builtin");
  g_assert_cmpstr (status.model, ==, "extractive");
  g_assert_cmpstr (status.url, ==, url);
  g_assert_cmpint (status.server, ==, SR_SERVER_FAILING);
  assert_contains (status.message, "the builtin generator answers meanwhile");
  assert_auto_falls_back (generator);
}

static void
test_auto_falls_back_without_model (Fixture *f, gconstpointer data)
{
  fake_server_control (f->fake, "{\"models\": []}");
  g_autoptr (SrGenerator) generator = auto_at (f->fake->url);
  assert_auto_falls_back (generator);
  /* Told by the answer or the probe, whichever came first. */
  SrGeneratorStatus status;
  wait_probed (generator, &status);
  g_assert_cmpint (status.server, ==, SR_SERVER_NO_MODEL);
  assert_auto_falls_back (generator);
}

/* Once Ollama has said something, a failure is its answer's end: no second voice. */
static void
test_auto_no_fallback_mid_answer (Fixture *f, gconstpointer data)
{
  g_autoptr (SrGenerator) generator = auto_at (f->fake->url);
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  fake_server_control (f->fake, "{\"cut_after\": 2}");
  run_generate (&run, generator, &request);
  g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE);
  g_assert_cmpstr (run.backend, ==, "ollama");
  g_assert_cmpstr (run.text->str, ==, "The harbour");
}

static void
test_auto_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr (SrGenerator) generator = auto_at (f->fake->url);
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  fake_server_control (f->fake, "{\"token_delay\": 0.5}");
  run.cancel_at_token = 1;
  run_generate (&run, generator, &request);
  g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED);
  g_assert_cmpint (run.done_at - run.cancelled_at, <, 100 * 1000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  FakeServer *fake = fake_server_start ("fake_ollama.py");

#define ADD(path, func) g_test_add (path, Fixture, fake, set_up, func, tear_down)
  ADD ("/ollama/streams-in-order", test_streams_in_order);
  ADD ("/ollama/request-body", test_request_body);
  ADD ("/ollama/options-sent", test_options_sent);
  ADD ("/ollama/error/model-not-found", test_model_not_found);
  ADD ("/ollama/error/http-status", test_http_error);
  ADD ("/ollama/error/error-line", test_error_line);
  ADD ("/ollama/error/no-done-line", test_no_done_line);
  ADD ("/ollama/error/cut-mid-stream", test_cut_mid_stream);
  ADD ("/ollama/error/malformed-line", test_malformed_line);
  g_test_add_func ("/ollama/error/refused", test_refused);
  ADD ("/ollama/cancel/mid-stream", test_cancel_mid_stream);
  ADD ("/ollama/cancel/before-start", test_cancel_before_start);
  ADD ("/ollama/free-mid-stream", test_free_mid_stream);
  ADD ("/ollama/timeout/first-token", test_first_token_timeout);
  ADD ("/ollama/timeout/total", test_total_timeout);
  ADD ("/ollama/connection-reused", test_connection_reused);
  ADD ("/ollama/probe/ready", test_probe_ready);
  ADD ("/ollama/probe/no-model", test_probe_no_model);
  g_test_add_func ("/ollama/probe/refused", test_probe_refused);
  ADD ("/ollama/preload", test_preload);
  ADD ("/auto/uses-ollama", test_auto_uses_ollama);
  g_test_add_func ("/auto/falls-back-when-down", test_auto_falls_back_when_down);
  ADD ("/auto/falls-back-without-model", test_auto_falls_back_without_model);
  ADD ("/auto/no-fallback-mid-answer", test_auto_no_fallback_mid_answer);
  ADD ("/auto/cancel", test_auto_cancel);
#undef ADD

  int status = g_test_run ();
  fake_server_stop (fake);
  return status;
}
