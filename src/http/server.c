/* The HTTP face's server: libsoup on the main loop, and the way of each request through it. */
#include "http/http-private.h"

#include <unistd.h>

#include "http/answer-stream.h"

static void
on_got_headers (SoupServerMessage *message, gpointer user_data)
{
  SrHttpRequest *request = sr_http_request_of (message);
  if (request != NULL)
    sr_http_request_got_headers (request);
}

static void
on_got_chunk (SoupServerMessage *message, GBytes *chunk, gpointer user_data)
{
  SrHttpRequest *request = sr_http_request_of (message);
  if (request != NULL)
    sr_http_request_got_chunk (request, chunk);
}

static void
on_request_read (SoupServer *server, SoupServerMessage *message, gpointer user_data)
{
  SrHttpRequest *request = sr_http_request_of (message);
  if (request != NULL)
    sr_http_request_got_body (request);
}

void
sr_http_request_watch_chunks (SrHttpRequest *request)
{
  g_signal_connect (request->message, "got-chunk", G_CALLBACK (on_got_chunk), NULL);
}

/* libsoup connected its own handlers first, so ours see what it made of the headers.
 * Chunks are watched only where needed (request.c): each handler connected costs. */
static void
on_request_started (SoupServer *server, SoupServerMessage *message, gpointer user_data)
{
  sr_http_request_attach (user_data, message);
  sr_http_idle_sweep_track (user_data, message);
  g_signal_connect (message, "got-headers", G_CALLBACK (on_got_headers), NULL);
}

static void
on_request_done (SoupServer *server, SoupServerMessage *message, gpointer user_data)
{
  SrHttpRequest *request = sr_http_request_of (message);
  if (request == NULL)
    return;
  guint status = soup_server_message_get_status (message);
  /* GLib formats a message before the writer drops it: not for every request. */
  if (g_log_get_debug_enabled ())
    g_debug ("HTTP %s %s: %u (%s)", soup_server_message_get_method (message),
             sr_http_message_path (message), status,
             request->identified ? request->caller.peer : "no identity");
  sr_http_request_count (request, status);
  sr_http_request_done (request);
}

static void
on_request (SoupServer *server, SoupServerMessage *message, const char *path, GHashTable *query,
            gpointer user_data)
{
  SrHttpRequest *request = sr_http_request_of (message);
  if (request != NULL)
    sr_http_request_run (request);
}

static void
on_websocket (SoupServer *server, SoupServerMessage *message, const char *path,
              SoupWebsocketConnection *connection, gpointer user_data)
{
  SrHttpRequest *request = sr_http_request_of (message);
  if (request != NULL)
    sr_http_request_upgraded (request, connection);
  else
    soup_websocket_connection_close (connection, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, NULL);
}

char **
sr_http_websocket_protocols (void)
{
  static const char *const protocols[] = { SR_HTTP_WEBSOCKET_PROTOCOL, NULL };
  return (char **) protocols;
}

/* libsoup upgrades only where a WebSocket handler is registered, and runs that path's own
 * handler, not the default one: each WebSocket route's path gets both, so the route's
 * handler decides (request.c) before the handshake is answered. */
static void
add_websocket_handlers (SrHttp *http)
{
  g_auto (GStrv) prefixes = sr_http_websocket_prefixes ();
  for (guint i = 0; prefixes[i] != NULL; i++) {
    soup_server_add_handler (http->server, prefixes[i], on_request, http, NULL);
    soup_server_add_websocket_handler (http->server, prefixes[i], NULL,
                                       sr_http_websocket_protocols (), on_websocket, http, NULL);
  }
  /* libsoup 3.2 bounds a compressed frame, not what it inflates to: a small frame could
   * grow a thousandfold past the message limit. Answers are small text anyway. */
  soup_server_remove_websocket_extension (http->server, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
}

SrHttp *
sr_http_new (SrService *service, const SrHttpOptions *options, GError **error)
{
  g_autoptr (SrHttp) http = g_new0 (SrHttp, 1);
  http->service = service;
  http->user_mode = options->user_mode;
  http->own_uid = getuid ();
  http->max_body_size = options->max_body_size;
  http->request_timeout_ms = options->request_timeout * 1000;
  sr_http_throttle_init (http, options);
  sr_http_cors_init (http, options);
  http->server = soup_server_new ("server-header", "smartragd", NULL);
  g_signal_connect (http->server, "request-started", G_CALLBACK (on_request_started), http);
  g_signal_connect (http->server, "request-read", G_CALLBACK (on_request_read), http);
  g_signal_connect (http->server, "request-finished", G_CALLBACK (on_request_done), http);
  g_signal_connect (http->server, "request-aborted", G_CALLBACK (on_request_done), http);
  soup_server_add_handler (http->server, NULL, on_request, http, NULL);
  add_websocket_handlers (http);
  http->answers = sr_answer_streams_new (service);
  sr_http_idle_sweep_start (http);

  if (options->socket_path != NULL && !sr_http_listen_unix (http, options->socket_path, error))
    return NULL;
  if (options->listen != NULL && !sr_http_listen_tcp (http, options->listen, error))
    return NULL;
  return g_steal_pointer (&http);
}

void
sr_http_free (SrHttp *http)
{
  if (http == NULL)
    return;
  /* First, while every connection is still there to be told. */
  g_clear_pointer (&http->answers, sr_answer_streams_free);
  sr_http_idle_sweep_stop (http);
  sr_http_close_unix (http);
  if (http->server != NULL) {
    g_signal_handlers_disconnect_by_data (http->server, http);
    soup_server_disconnect (http->server);
  }
  /* Messages may outlive the server by a little; their requests must not reach it. */
  while (!g_queue_is_empty (&http->requests))
    sr_http_request_detach (g_queue_peek_head (&http->requests));
  g_clear_object (&http->server);
  sr_rate_limiter_free (http->token_rates);
  sr_rate_limiter_free (http->local_rates);
  g_strfreev (http->cors_origins);
  g_clear_pointer (&http->health_components, g_variant_unref);
  g_clear_pointer (&http->health_body, g_bytes_unref);
  g_free (http->socket_path);
  g_free (http->tcp_url);
  g_free (http);
}

void
sr_http_set_policy (SrHttp *http, const SrHttpOptions *options)
{
  /* Every caller's count starts afresh under the new rates. */
  g_clear_pointer (&http->token_rates, sr_rate_limiter_free);
  g_clear_pointer (&http->local_rates, sr_rate_limiter_free);
  g_clear_pointer (&http->cors_origins, g_strfreev);
  sr_http_throttle_init (http, options);
  sr_http_cors_init (http, options);
}

char *
sr_http_describe (SrHttp *http)
{
  g_autofree char *unix_url
      = http->socket_path != NULL ? g_strdup_printf ("unix:%s", http->socket_path) : NULL;
  if (unix_url != NULL && http->tcp_url != NULL)
    return g_strdup_printf ("%s, %s", unix_url, http->tcp_url);
  return g_strdup (unix_url != NULL ? unix_url : http->tcp_url);
}
