/* Shared by the embedder tests: tests/fakes/fake_embed.py started, steered and stopped. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

G_BEGIN_DECLS

/* The build says where they are: SR_PYTHON3 and SR_FAKE_EMBED. */
typedef struct {
  GSubprocess *process;
  guint port;
  char *url; /* http://127.0.0.1:<port> */
  SoupSession *session;
} SrFakeEmbed;

/* Starts the fake on @port (0: any free one) with @args (NULL-terminated, may be NULL)
 * and waits for the port it prints. */
static inline SrFakeEmbed *
sr_fake_embed_start_on (guint port, const char *const *args)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_strdup (SR_PYTHON3));
  g_ptr_array_add (argv, g_strdup (SR_FAKE_EMBED));
  g_ptr_array_add (argv, g_strdup ("--port"));
  g_ptr_array_add (argv, g_strdup_printf ("%u", port));
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);

  SrFakeEmbed *fake = g_new0 (SrFakeEmbed, 1);
  fake->process = g_subprocess_newv ((const char *const *) argv->pdata,
                                     G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  g_autoptr (GDataInputStream) out
      = g_data_input_stream_new (g_subprocess_get_stdout_pipe (fake->process));
  g_autofree char *line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  fake->port = (guint) g_ascii_strtoull (line, NULL, 10);
  g_assert_cmpuint (fake->port, >, 0);
  fake->url = g_strdup_printf ("http://127.0.0.1:%u", fake->port);
  fake->session = soup_session_new ();
  return fake;
}

static inline SrFakeEmbed *
sr_fake_embed_start (const char *const *args)
{
  return sr_fake_embed_start_on (0, args);
}

/* Sends @json to /control: see the fake's own description for what it takes. */
static inline void
sr_fake_embed_control (SrFakeEmbed *fake, const char *json)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = g_strconcat (fake->url, "/control", NULL);
  g_autoptr (SoupMessage) message = soup_message_new (SOUP_METHOD_POST, uri);
  g_autoptr (GBytes) body = g_bytes_new (json, strlen (json));
  soup_message_set_request_body_from_bytes (message, "application/json", body);
  g_autoptr (GBytes) answer = soup_session_send_and_read (fake->session, message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (message), ==, 200);
}

/* The embedding requests so far, as the fake lists them (a JSON array of objects). */
static inline JsonNode *
sr_fake_embed_requests (SrFakeEmbed *fake)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = g_strconcat (fake->url, "/requests", NULL);
  g_autoptr (SoupMessage) message = soup_message_new (SOUP_METHOD_GET, uri);
  g_autoptr (GBytes) answer = soup_session_send_and_read (fake->session, message, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize length = 0;
  const char *data = g_bytes_get_data (answer, &length);
  g_assert_true (json_parser_load_from_data (parser, data, (gssize) length, &error));
  g_assert_no_error (error);
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  return json_node_copy (json_object_get_member (root, "requests"));
}

/* Kills the fake and waits for it, so that its port refuses connections. */
static inline void
sr_fake_embed_stop (SrFakeEmbed *fake)
{
  if (fake == NULL)
    return;
  g_subprocess_force_exit (fake->process);
  g_subprocess_wait (fake->process, NULL, NULL);
  g_object_unref (fake->process);
  g_object_unref (fake->session);
  g_free (fake->url);
  g_free (fake);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrFakeEmbed, sr_fake_embed_stop)

G_END_DECLS
