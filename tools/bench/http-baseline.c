/* bench-http's baseline: a bare libsoup server that answers GET /health with fixed bytes. */
#include <glib.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>

/* The same headers as the daemon's JSON replies, so that both send about the same bytes and
 * the difference is the daemon's own work. */
#define CONTENT_TYPE "application/json; charset=utf-8"

static void
on_request (SoupServer *server, SoupServerMessage *message, const char *path, GHashTable *query,
            gpointer user_data)
{
  GBytes *body = user_data;

  if (!g_str_equal (path, "/health")) {
    soup_server_message_set_status (message, SOUP_STATUS_NOT_FOUND, NULL);
    return;
  }
  if (!g_str_equal (soup_server_message_get_method (message), "GET")) {
    soup_server_message_set_status (message, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
    return;
  }
  soup_message_headers_replace (soup_server_message_get_response_headers (message), "Cache-Control",
                                "no-store");
  soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (message, CONTENT_TYPE, SOUP_MEMORY_STATIC,
                                    g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

static GBytes *
read_body (const char *text, const char *file, GError **error)
{
  if (text != NULL)
    return g_bytes_new (text, strlen (text));
  g_autofree char *contents = NULL;
  gsize length;
  if (!g_file_get_contents (file, &contents, &length, error))
    return NULL;
  return g_bytes_new_take (g_steal_pointer (&contents), length);
}

int
main (int argc, char **argv)
{
  g_autofree char *body_text = NULL;
  g_autofree char *body_file = NULL;
  g_autoptr (GError) error = NULL;
  const GOptionEntry entries[] = {
    { "body", 0, 0, G_OPTION_ARG_STRING, &body_text, "The body of GET /health", "TEXT" },
    { "body-file", 0, 0, G_OPTION_ARG_FILENAME, &body_file,
      "Read the body of GET /health from FILE, byte for byte", "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
                                "Listens on 127.0.0.1 on a free port, prints the port on its "
                                "first line, and answers GET /health with the given body.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)
      || (body_text == NULL) == (body_file == NULL)) {
    g_printerr ("http-baseline: %s\n",
                error != NULL ? error->message : "give exactly one of --body and --body-file");
    return 2;
  }

  g_autoptr (GBytes) body = read_body (body_text, body_file, &error);
  g_autoptr (SoupServer) server = soup_server_new ("server-header", "http-baseline", NULL);
  if (body == NULL || !soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error)) {
    g_printerr ("http-baseline: %s\n", error->message);
    return 1;
  }
  soup_server_add_handler (server, NULL, on_request, body, NULL);

  GSList *uris = soup_server_get_uris (server);
  printf ("%d\n", g_uri_get_port (uris->data));
  fflush (stdout);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  /* Runs until the benchmark stops it with a signal. */
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_main_loop_run (loop);
  return 0;
}
