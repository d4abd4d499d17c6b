/* Shared by the model-server tests: a fake server process and one generation, watched. */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "common/errors.h"
#include "llm/generator.h"

/* How long any one generation in these tests may take before the test gives up. */
#define RUN_LIMIT_MS 10000

typedef struct {
  GSubprocess *process;
  guint port;
  char *url; /* http://127.0.0.1:PORT */
  SoupSession *control;
} FakeServer;

/* Starts tests/fakes/@script; it exits with us (its stdin is our pipe). */
static inline FakeServer *
fake_server_start (const char *script)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (SR_FAKES_DIR, script, NULL);
  FakeServer *fake = g_new0 (FakeServer, 1);

  fake->process
      = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                          SR_PYTHON, path, "--port", "0", "--exit-with-stdin", NULL);
  g_assert_no_error (error);
  g_autoptr (GDataInputStream) out
      = g_data_input_stream_new (g_subprocess_get_stdout_pipe (fake->process));
  g_autofree char *line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  fake->port = (guint) g_ascii_strtoull (line, NULL, 10);
  g_assert_cmpuint (fake->port, >, 0);
  fake->url = g_strdup_printf ("http://127.0.0.1:%u", fake->port);
  fake->control = soup_session_new ();
  return fake;
}

static inline void
fake_server_stop (FakeServer *fake)
{
  g_subprocess_force_exit (fake->process);
  g_subprocess_wait (fake->process, NULL, NULL);
  g_object_unref (fake->process);
  g_object_unref (fake->control);
  g_free (fake->url);
  g_free (fake);
}

static inline JsonNode *
fake_server_call (FakeServer *fake, const char *method, const char *path, const char *json)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = g_strconcat (fake->url, path, NULL);
  g_autoptr (SoupMessage) message = soup_message_new (method, uri);
  if (json != NULL) {
    g_autoptr (GBytes) body = g_bytes_new (json, strlen (json));
    soup_message_set_request_body_from_bytes (message, "application/json", body);
  }
  g_autoptr (GBytes) reply = soup_session_send_and_read (fake->control, message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (message), ==, 200);
  g_autoptr (JsonParser) parser = json_parser_new ();
  json_parser_load_from_data (parser, g_bytes_get_data (reply, NULL), g_bytes_get_size (reply),
                              &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

/* Merges @json into the fake's behaviour. */
static inline void
fake_server_control (FakeServer *fake, const char *json)
{
  json_node_unref (fake_server_call (fake, "POST", "/_control", json));
}

/* Back to the defaults, with no requests recorded. */
static inline void
fake_server_reset (FakeServer *fake)
{
  fake_server_control (fake, "{\"reset\": true}");
  json_node_unref (fake_server_call (fake, "POST", "/_reset", NULL));
}

/* The requests the fake received for @path, oldest first: JSON objects with method, path,
 * peer_port, headers (lower-case names) and body. */
static inline GPtrArray *
fake_server_requests (FakeServer *fake, const char *path)
{
  g_autoptr (JsonNode) all = fake_server_call (fake, "GET", "/_requests", NULL);
  GPtrArray *found = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  JsonArray *array = json_node_get_array (all);
  for (guint i = 0; i < json_array_get_length (array); i++) {
    JsonObject *request = json_array_get_object_element (array, i);
    if (g_str_equal (json_object_get_string_member (request, "path"), path))
      g_ptr_array_add (found, json_object_ref (request));
  }
  return found;
}

/* A loopback port nobody listens on (it was free a moment ago). */
static inline guint
unused_port (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* One generation on the default main context, every callback checked as it comes. */
typedef struct {
  GPtrArray *tokens;
  GString *text;
  gboolean generating; /* inside sr_generator_generate(): no callback may run then */
  guint done_calls;
  GError *error;
  SrGenerateStats stats;
  char *model;
  char *backend;
  GCancellable *cancellable;
  guint cancel_at_token; /* cancel when this many tokens came; 0: never */
  gint64 cancelled_at;   /* monotonic µs */
  gint64 started_at;
  gint64 done_at;
} Run;

static inline void
run_clear (Run *run)
{
  g_clear_pointer (&run->tokens, g_ptr_array_unref);
  if (run->text != NULL)
    g_string_free (g_steal_pointer (&run->text), TRUE);
  g_clear_error (&run->error);
  g_clear_pointer (&run->model, g_free);
  g_clear_pointer (&run->backend, g_free);
  g_clear_object (&run->cancellable);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

static inline void
run_on_token (const char *text, gpointer user_data)
{
  Run *run = user_data;

  g_assert_false (run->generating);
  g_assert_cmpuint (run->done_calls, ==, 0);
  g_assert_cmpstr (text, !=, "");
  g_assert_true (g_utf8_validate (text, -1, NULL));
  g_ptr_array_add (run->tokens, g_strdup (text));
  g_string_append (run->text, text);
  if (run->cancel_at_token > 0 && run->tokens->len == run->cancel_at_token) {
    run->cancelled_at = g_get_monotonic_time ();
    g_cancellable_cancel (run->cancellable);
  }
}

static inline void
run_on_done (const SrGenerateStats *stats, const GError *error, gpointer user_data)
{
  Run *run = user_data;

  g_assert_false (run->generating);
  run->done_calls++;
  g_assert_cmpuint (run->done_calls, ==, 1);
  run->done_at = g_get_monotonic_time ();
  run->stats = *stats;
  run->model = g_strdup (stats->model);
  run->backend = g_strdup (stats->backend);
  run->stats.model = run->model;
  run->stats.backend = run->backend;
  run->error = error != NULL ? g_error_copy (error) : NULL;
}

static inline gboolean
run_time_up (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Generates @request and waits for done (and a moment more, to see nothing follows). */
static inline void
run_generate (Run *run, SrGenerator *generator, const SrGenerateRequest *request)
{
  run->tokens = g_ptr_array_new_with_free_func (g_free);
  run->text = g_string_new (NULL);
  if (run->cancellable == NULL)
    run->cancellable = g_cancellable_new ();
  run->started_at = g_get_monotonic_time ();
  run->generating = TRUE;
  sr_generator_generate (generator, request, run->cancellable, run_on_token, run_on_done, run);
  run->generating = FALSE;

  gboolean time_up = FALSE;
  guint timer = g_timeout_add (RUN_LIMIT_MS, run_time_up, &time_up);
  while (run->done_calls == 0 && !time_up)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (time_up);
  g_source_remove (timer);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (run->done_calls, ==, 1);
}

/* Iterates the default main context for @ms, so that background work (a probe) lands. */
static inline void
spin (guint ms)
{
  gboolean time_up = FALSE;
  g_timeout_add (ms, run_time_up, &time_up);
  while (!time_up)
    g_main_context_iteration (NULL, TRUE);
}

/* Iterates until @generator's server finding is no longer unknown. */
static inline void
wait_probed (SrGenerator *generator, SrGeneratorStatus *status)
{
  gint64 deadline = g_get_monotonic_time () + RUN_LIMIT_MS * 1000;
  for (;;) {
    sr_generator_status (generator, status);
    if (status->checked_at > 0)
      return;
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_main_context_iteration (NULL, TRUE);
  }
}

static inline void
assert_contains (const char *haystack, const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    g_error ("'%s' does not contain '%s'", haystack, needle);
}

static const SrPromptSource test_sources[] = {
  { 1, "harbour.txt", 2, "Port", "The harbour was built in 1871." },
  { 2, "market.txt", 0, "", "The market opens on Saturdays." },
};

static const SrChatTurn test_history[] = {
  { "user", "When does the market open?" },
  { "assistant", "On Saturdays [2]." },
};

static inline SrGenerateRequest
test_request (void)
{
  return (SrGenerateRequest){
    .question = "When was the harbour built?",
    .sources = test_sources,
    .n_sources = G_N_ELEMENTS (test_sources),
    .history = test_history,
    .n_history = G_N_ELEMENTS (test_history),
    .temperature = -1.0,
  };
}
