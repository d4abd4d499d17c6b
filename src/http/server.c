/* The HTTP face's server: libsoup on the main loop, and the way of each request through it. */
#include "http/http-private.h"

#include <unistd.h>

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
    sr_http_request_got_chunk (request, g_bytes_get_size (chunk));
}

static void
on_got_body (SoupServerMessage *message, gpointer user_data)
{
  SrHttpRequest *request = sr_http_request_of (message);
  if (request != NULL)
    sr_http_request_got_body (request);
}

/* libsoup connected its own handlers first, so ours see what it made of the headers. */
static void
on_request_started (SoupServer *server, SoupServerMessage *message, gpointer user_data)
{
  sr_http_request_attach (user_data, message);
  g_signal_connect (message, "got-headers", G_CALLBACK (on_got_headers), NULL);
  g_signal_connect (message, "got-chunk", G_CALLBACK (on_got_chunk), NULL);
  g_signal_connect (message, "got-body", G_CALLBACK (on_got_body), NULL);
}

static void
on_request_done (SoupServer *server, SoupServerMessage *message, gpointer user_data)
{
  SrHttpRequest *request = sr_http_request_of (message);
  if (request == NULL)
    return;
  g_debug ("HTTP %s %s: %u (%s)", soup_server_message_get_method (message),
           sr_http_message_path (message), soup_server_message_get_status (message),
           request->identified ? request->caller.peer : "no identity");
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
  g_signal_connect (http->server, "request-finished", G_CALLBACK (on_request_done), http);
  g_signal_connect (http->server, "request-aborted", G_CALLBACK (on_request_done), http);
  soup_server_add_handler (http->server, NULL, on_request, http, NULL);

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
  g_free (http->socket_path);
  g_free (http->tcp_url);
  g_free (http);
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
