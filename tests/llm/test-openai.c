/* Unit tests for the OpenAI-compatible generator, against tests/fakes/fake_openai.py. */
#include "fake-server.h"

#define MODEL "fake-model"
#define KEY   "sk-test-0123456789"

typedef struct {
  FakeServer *fake;
  char *url; /* the fake's /v1 */
  SrGenerator *generator;
} Fixture;

static SrGenerator *
openai_at (const char *url, const char *model, const char *api_key)
{
  const SrServerOptions options = { url, model, 2000, 5000, 20000, 0 };
  return sr_generator_openai_new (&options, api_key);
}

static void
set_up (Fixture *f, gconstpointer data)
{
  f->fake = (FakeServer *) data;
  fake_server_reset (f->fake);
  f->url = g_strconcat (f->fake->url, "/v1", NULL);
  f->generator = openai_at (f->url, MODEL, NULL);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->generator, sr_generator_free);
  g_free (f->url);
}

static JsonObject *
last_request (Fixture *f)
{
  g_autoptr (GPtrArray) chats = fake_server_requests (f->fake, "/v1/chat/completions");
  g_assert_cmpuint (chats->len, >, 0);
  return json_object_ref (chats->pdata[chats->len - 1]);
}

static void
test_streams_in_order (Fixture *f, gconstpointer data)
{
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  run_generate (&run, f->generator, &request);
  g_assert_no_error (run.error);
  g_assert_cmpuint (run.tokens->len, ==, 7);
  g_assert_cmpstr (run.tokens->pdata[1], ==, " harbour");
  g_assert_cmpstr (run.text->str, ==, "The harbour was built in 1871 [1].");
  g_assert_cmpstr (run.model, ==, MODEL);
  g_assert_null (run.backend);
  /* From the usage chunk. */
  g_assert_cmpuint (run.stats.prompt_tokens, ==, 31);
  g_assert_cmpuint (run.stats.answer_tokens, ==, 7);
}

static void
test_request_body (Fixture *f, gconstpointer data)
{
  SrGenerateRequest request = test_request ();
  request.temperature = 0.5;
  request.max_tokens = 100;
  g_auto (Run) run = { 0 };

  run_generate (&run, f->generator, &request);
  g_assert_no_error (run.error);
  g_autoptr (JsonObject) sent = last_request (f);
  JsonObject *body = json_object_get_object_member (sent, "body");
  g_assert_cmpstr (json_object_get_string_member (body, "model"), ==, MODEL);
  g_assert_true (json_object_get_boolean_member (body, "stream"));
  g_assert_true (json_object_get_boolean_member (
      json_object_get_object_member (body, "stream_options"), "include_usage"));
  g_assert_cmpfloat (json_object_get_double_member (body, "temperature"), ==, 0.5);
  g_assert_cmpint (json_object_get_int_member (body, "max_tokens"), ==, 100);
  JsonArray *messages = json_object_get_array_member (body, "messages");
  g_assert_cmpuint (json_array_get_length (messages), ==, 4);
  JsonObject *system = json_array_get_object_element (messages, 0);
  g_assert_cmpstr (json_object_get_string_member (system, "role"), ==, "system");
  JsonObject *question = json_array_get_object_element (messages, 3);
  assert_contains (json_object_get_string_member (question, "content"), "[1] harbour.txt");
  /* No key configured, none sent. */
  JsonObject *headers = json_object_get_object_member (sent, "headers");
  g_assert_false (json_object_has_member (headers, "authorization"));
}

/* Without a configured model the server's own answers, and stats name it. */
static void
test_server_model (Fixture *f, gconstpointer data)
{
  g_autoptr (SrGenerator) generator = openai_at (f->url, "", NULL);
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  run_generate (&run, generator, &request);
  g_assert_no_error (run.error);
  g_assert_cmpstr (run.model, ==, MODEL);
  g_autoptr (JsonObject) sent = last_request (f);
  g_assert_false (json_object_has_member (json_object_get_object_member (sent, "body"), "model"));
}

static void
test_usage_choices_null (Fixture *f, gconstpointer data)
{
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  fake_server_control (f->fake, "{\"usage_choices\": \"null\"}");
  run_generate (&run, f->generator, &request);
  g_assert_no_error (run.error);
  g_assert_cmpuint (run.stats.prompt_tokens, ==, 31);
  g_assert_cmpstr (run.text->str, ==, "The harbour was built in 1871 [1].");
}

static void
test_api_key (Fixture *f, gconstpointer data)
{
  g_autoptr (SrGenerator) generator = openai_at (f->url, MODEL, KEY);
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  fake_server_control (f->fake, "{\"api_key\": \"" KEY "\"}");
  run_generate (&run, generator, &request);
  g_assert_no_error (run.error);
  g_autoptr (JsonObject) sent = last_request (f);
  JsonObject *headers = json_object_get_object_member (sent, "headers");
  g_assert_cmpstr (json_object_get_string_member (headers, "authorization"), ==, "Bearer " KEY);
}

static void
assert_fails (Fixture *f, SrGenerator *generator, const char *behaviour, const char *const *phrases,
              guint tokens)
{
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  if (behaviour != NULL)
    fake_server_control (f->fake, behaviour);
  run_generate (&run, generator != NULL ? generator : f->generator, &request);
  g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE);
  g_test_message ("%s", run.error->message);
  assert_contains (run.error->message, f->url);
  for (guint i = 0; phrases[i] != NULL; i++)
    assert_contains (run.error->message, phrases[i]);
  g_assert_cmpuint (run.tokens->len, ==, tokens);
}

static void
test_wrong_key (Fixture *f, gconstpointer data)
{
  g_autoptr (SrGenerator) generator = openai_at (f->url, MODEL, "sk-wrong");
  const char *phrases[] = { "refused the API key (HTTP 401: Incorrect API key provided)",
                            "[generation] openai_api_key_file", NULL };
  assert_fails (f, generator, "{\"api_key\": \"" KEY "\"}", phrases, 0);
}

static void
test_unknown_model (Fixture *f, gconstpointer data)
{
  g_autoptr (SrGenerator) generator = openai_at (f->url, "gpt-9", NULL);
  const char *phrases[] = { "HTTP 404: The model 'gpt-9' does not exist", "openai_model", NULL };
  assert_fails (f, generator, NULL, phrases, 0);
}

static void
test_http_statuses (Fixture *f, gconstpointer data)
{
  static const struct {
    guint status;
    const char *phrase;
  } cases[] = {
    { 400, "refused the request (HTTP 400: context too long)" },
    { 429, "is busy or over its quota (HTTP 429: context too long) — try again later" },
    { 500, "failed (HTTP 500: context too long)" },
    { 503, "failed (HTTP 503: context too long)" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *behaviour = g_strdup_printf (
        "{\"fail_status\": %u, \"error_message\": \"context too long\"}", cases[i].status);
    const char *phrases[] = { cases[i].phrase, NULL };
    assert_fails (f, NULL, behaviour, phrases, 0);
  }
}

static void
test_error_chunk (Fixture *f, gconstpointer data)
{
  const char *phrases[] = { "stopped the answer with an error: the model runner stopped", NULL };
  assert_fails (f, NULL, "{\"error_after\": 2}", phrases, 2);
}

static void
test_no_done (Fixture *f, gconstpointer data)
{
  const char *phrases[] = { "ended the answer before it was complete (no [DONE])", NULL };
  assert_fails (f, NULL, "{\"end_early_after\": 4}", phrases, 4);
}

static void
test_cut_mid_stream (Fixture *f, gconstpointer data)
{
  const char *phrases[] = { "ended the answer before it was complete", NULL };
  assert_fails (f, NULL, "{\"cut_after\": 3}", phrases, 3);
}

static void
test_malformed_event (Fixture *f, gconstpointer data)
{
  const char *phrases[] = { "is not JSON", NULL };
  assert_fails (f, NULL, "{\"garbage_after\": 2}", phrases, 2);
}

static void
test_refused (void)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/v1", unused_port ());
  g_autoptr (SrGenerator) generator = openai_at (url, MODEL, NULL);
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  run_generate (&run, generator, &request);
  g_autofree char *expected = g_strdup_printf ("Cannot reach OpenAI-compatible server at %s: "
                                               "connection refused — is the server running?",
                                               url);
  g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE);
  g_assert_cmpstr (run.error->message, ==, expected);
}

static void
test_cancel_mid_stream (Fixture *f, gconstpointer data)
{
  SrGenerateRequest request = test_request ();
  g_auto (Run) run = { 0 };

  fake_server_control (f->fake, "{\"token_delay\": 0.5}");
  run.cancel_at_token = 1;
  run_generate (&run, f->generator, &request);
  g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED);
  g_assert_cmpuint (run.tokens->len, ==, 1);
  g_assert_cmpint (run.done_at - run.cancelled_at, <, 100 * 1000);
}

static void
test_probe (Fixture *f, gconstpointer data)
{
  SrGeneratorStatus status;

  wait_probed (f->generator, &status);
  g_assert_cmpstr (status.backend, ==, "openai");
  g_assert_cmpstr (status.active, ==, "openai");
  g_assert_cmpstr (status.url, ==, f->url);
  g_assert_cmpint (status.server, ==, SR_SERVER_READY);

  g_autoptr (SrGenerator) other = openai_at (f->url, "gpt-9", NULL);
  wait_probed (other, &status);
  g_assert_cmpint (status.server, ==, SR_SERVER_NO_MODEL);
  assert_contains (status.message, "does not list the model 'gpt-9'");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  FakeServer *fake = fake_server_start ("fake_openai.py");

#define ADD(path, func) g_test_add (path, Fixture, fake, set_up, func, tear_down)
  ADD ("/openai/streams-in-order", test_streams_in_order);
  ADD ("/openai/request-body", test_request_body);
  ADD ("/openai/server-model", test_server_model);
  ADD ("/openai/usage-choices-null", test_usage_choices_null);
  ADD ("/openai/api-key", test_api_key);
  ADD ("/openai/error/wrong-key", test_wrong_key);
  ADD ("/openai/error/unknown-model", test_unknown_model);
  ADD ("/openai/error/http-statuses", test_http_statuses);
  ADD ("/openai/error/error-chunk", test_error_chunk);
  ADD ("/openai/error/no-done", test_no_done);
  ADD ("/openai/error/cut-mid-stream", test_cut_mid_stream);
  ADD ("/openai/error/malformed-event", test_malformed_event);
  g_test_add_func ("/openai/error/refused", test_refused);
  ADD ("/openai/cancel/mid-stream", test_cancel_mid_stream);
  ADD ("/openai/probe", test_probe);
#undef ADD

  int status = g_test_run ();
  fake_server_stop (fake);
  return status;
}
