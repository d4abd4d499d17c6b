/* One HTTP request from its headers to its reply: route, caller, body limits and checks. */
#include "http/http-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "service/metrics.h"

#define REQUEST_KEY "sr-http-request"
/* Longer paths and methods are not quoted back in messages. */
#define MAX_SHOWN 200
/* Often enough for proxies and NAT that drop quiet connections after a minute or so. */
#define WEBSOCKET_PING_SECONDS 15
/* Room for a browser's cookies for localhost; libsoup itself drops a connection whose
 * header block passes 64 KiB, without a word, so this limit says why first. */
#define MAX_HEADERS_SIZE (32 * 1024)

static void
clear_data (SrHttpRequest *request)
{
  GDestroyNotify destroy = request->data_destroy;
  gpointer data = g_steal_pointer (&request->data);
  request->data_destroy = NULL;
  if (destroy != NULL && data != NULL)
    destroy (data);
}

static void
request_free (gpointer data)
{
  SrHttpRequest *request = data;
  sr_http_request_done (request);
  if (request->upgraded_destroy != NULL)
    request->upgraded_destroy (request->upgraded_data);
  clear_data (request);
  if (request->http != NULL)
    g_queue_unlink (&request->http->requests, &request->link);
  sr_http_match_clear (&request->match);
  g_free (request->peer);
  g_free (request->token_id);
  g_free (request);
}

/* Shut down rather than closed: libsoup still polls the descriptor, and now sees its end. */
void
sr_http_request_cut_off (SrHttpRequest *request)
{
  GSocket *socket = sr_http_message_socket (request->message);
  request->arrived = TRUE;
  g_debug ("Closing an HTTP connection that sent no whole request in time");
  if (socket != NULL)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
}

void
sr_http_request_attach (SrHttp *http, SoupServerMessage *message)
{
  SrHttpRequest *request = g_new0 (SrHttpRequest, 1);
  request->http = http;
  request->message = message;
  request->link.data = request;
  request->started = g_get_monotonic_time ();
  g_queue_push_tail_link (&http->requests, &request->link);
  g_object_set_data_full (G_OBJECT (message), REQUEST_KEY, request, request_free);
}

SrHttpRequest *
sr_http_request_of (SoupServerMessage *message)
{
  return g_object_get_data (G_OBJECT (message), REQUEST_KEY);
}

/* Client text in a message: valid UTF-8, and short. */
static char *
shown (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  if (strlen (valid) <= MAX_SHOWN)
    return g_steal_pointer (&valid);
  /* Past MAX_SHOWN bytes there may be fewer than 60 characters (of four bytes each). */
  g_autofree char *start = g_utf8_substring (valid, 0, MIN (60, g_utf8_strlen (valid, -1)));
  return g_strdup_printf ("%s…", start);
}

/* A client refused its WebSocket waits for the connection to close, as libsoup's own
 * refusals do: no second request comes on it. */
static void
close_if_upgrade_refused (SoupServerMessage *message)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (message);
  guint status = soup_server_message_get_status (message);
  if (status != 0 && status != SOUP_STATUS_SWITCHING_PROTOCOLS
      && soup_message_headers_header_contains (headers, "Upgrade", "websocket"))
    soup_message_headers_replace (soup_server_message_get_response_headers (message), "Connection",
                                  "close");
}

/* Whatever the client still sends of a refused request is read and dropped, and what the
 * route kept for it (a partial upload) goes at once. */
static void
refuse (SrHttpRequest *request, const GError *error)
{
  sr_http_message_reply_error (request->message, error);
  close_if_upgrade_refused (request->message);
  soup_message_body_set_accumulate (soup_server_message_get_request_body (request->message), FALSE);
  clear_data (request);
}

static void
add_header_size (const char *name, const char *value, gpointer user_data)
{
  gsize *size = user_data;
  *size += strlen (name) + strlen (value) + 4;
}

static gboolean
check_headers (SrHttpRequest *request)
{
  gsize size = strlen (sr_http_message_path (request->message));
  soup_message_headers_foreach (soup_server_message_get_request_headers (request->message),
                                add_header_size, &size);
  if (size <= MAX_HEADERS_SIZE)
    return TRUE;
  g_autoptr (GError) error = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_HEADERS_TOO_LARGE,
                                          _ ("The request's headers are too large: %zu bytes "
                                             "with its path, of at most %d"),
                                          size, MAX_HEADERS_SIZE);
  refuse (request, error);
  return FALSE;
}

static gboolean
route_request (SrHttpRequest *request)
{
  const char *method = soup_server_message_get_method (request->message);
  const char *path = sr_http_message_path (request->message);
  g_autofree char *allow = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *shown_path = shown (path);

  switch (sr_http_routes_match (method, path, &request->match, &allow)) {
  case SR_HTTP_MATCHED:
    return TRUE;
  case SR_HTTP_NO_PATH:
    g_set_error (&error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND, _ ("Nothing is served at %s"),
                 shown_path);
    break;
  case SR_HTTP_NO_METHOD: {
    g_autofree char *shown_method = shown (method);
    soup_message_headers_replace (soup_server_message_get_response_headers (request->message),
                                  "Allow", allow);
    g_set_error (&error, SMARTRAG_ERROR, SMARTRAG_ERROR_METHOD_NOT_ALLOWED,
                 _ ("%s does not take %s; it takes %s"), shown_path, shown_method, allow);
    break;
  }
  }
  refuse (request, error);
  return FALSE;
}

static gboolean
check_caller (SrHttpRequest *request)
{
  g_autoptr (GError) error = NULL;
  request->identified = sr_http_identify (request->http, request, &error);
  if (request->identified || (request->match.route->flags & SR_HTTP_ROUTE_PUBLIC))
    return TRUE;
  refuse (request, error);
  return FALSE;
}

static gboolean
check_rate (SrHttpRequest *request)
{
  g_autoptr (GError) error = NULL;
  if (sr_http_throttle (request, &error))
    return TRUE;
  refuse (request, error);
  return FALSE;
}

/* During a stop, as on the bus: reads go on, changes are refused. */
static gboolean
check_accepting (SrHttpRequest *request)
{
  g_autoptr (GError) error = NULL;
  if (g_str_equal (request->match.route->method, "GET")
      || sr_service_accepting (request->http->service, &error))
    return TRUE;
  refuse (request, error);
  return FALSE;
}

/* libsoup would answer a bad handshake in HTML; the client is told in JSON instead. No
 * extension is offered: libsoup's server has none (server.c says why). */
static gboolean
check_websocket (SrHttpRequest *request)
{
  g_autoptr (GPtrArray) extensions = g_ptr_array_new ();
  g_autoptr (GError) local = NULL;
  g_autoptr (GError) error = NULL;
  if (!(request->match.route->flags & SR_HTTP_ROUTE_WEBSOCKET))
    return TRUE;
  const char *offered = soup_message_headers_get_list (
      soup_server_message_get_request_headers (request->message), "Sec-WebSocket-Protocol");
  /* libsoup's "Unsupported WebSocket subprotocol" does not say which one to offer. */
  if (offered != NULL && !soup_header_contains (offered, SR_HTTP_WEBSOCKET_PROTOCOL))
    error = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Invalid WebSocket subprotocols: a client that offers any must offer "
                            "\"%s\" (and may send its token as \"%s<token>\")"),
                         SR_HTTP_WEBSOCKET_PROTOCOL, SR_HTTP_WEBSOCKET_BEARER);
  else if (!soup_websocket_server_check_handshake (
               request->message, NULL, sr_http_websocket_protocols (), extensions, &local))
    error = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("This path takes a WebSocket handshake: %s"), local->message);
  if (error == NULL)
    return TRUE;
  refuse (request, error);
  return FALSE;
}

static void
refuse_too_large (SrHttpRequest *request)
{
  g_autofree char *max = g_format_size_full (request->max_body, G_FORMAT_SIZE_IEC_UNITS);
  g_autoptr (GError) error = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE,
                                          _ ("The request body is too large: this request takes "
                                             "at most %s"),
                                          max);
  /* The client may still be sending; nothing more may come on this connection. */
  soup_message_headers_replace (soup_server_message_get_response_headers (request->message),
                                "Connection", "close");
  refuse (request, error);
}

static gboolean
is_json (SoupMessageHeaders *headers, const char **type)
{
  GHashTable *params = NULL;
  *type = soup_message_headers_get_content_type (headers, &params);
  const char *charset = params != NULL ? g_hash_table_lookup (params, "charset") : NULL;
  gboolean json = *type != NULL && g_ascii_strcasecmp (*type, "application/json") == 0
                  && (charset == NULL || g_ascii_strcasecmp (charset, "utf-8") == 0);
  g_clear_pointer (&params, g_hash_table_destroy);
  return json;
}

static gboolean
check_body (SrHttpRequest *request)
{
  const SrHttpRoute *route = request->match.route;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (request->message);
  SoupEncoding encoding = soup_message_headers_get_encoding (headers);
  goffset length = encoding == SOUP_ENCODING_CONTENT_LENGTH
                       ? soup_message_headers_get_content_length (headers)
                       : 0;

  if (route->body != NULL && route->body->max_body != NULL)
    request->max_body = route->body->max_body (request->http->service);
  else
    request->max_body = route->max_body != 0 ? route->max_body : request->http->max_body_size;
  if ((guint64) length > request->max_body) {
    refuse_too_large (request);
    return FALSE;
  }
  const char *type;
  if ((length == 0 && encoding != SOUP_ENCODING_CHUNKED)
      || !(route->flags & SR_HTTP_ROUTE_JSON_BODY) || is_json (headers, &type))
    return TRUE;
  g_autofree char *shown_type = type != NULL ? shown (type) : NULL;
  g_autoptr (GError) error = NULL;
  if (shown_type != NULL)
    g_set_error (&error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT,
                 _ ("The request body must be JSON in UTF-8, sent with 'Content-Type: "
                    "application/json'; this one's type is %s"),
                 shown_type);
  else
    g_set_error_literal (&error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT,
                         _ ("The request body must be JSON in UTF-8, sent with 'Content-Type: "
                            "application/json'; this one has no type"));
  refuse (request, error);
  return FALSE;
}

/* A route that reads its body itself gets it piece by piece, never kept whole. */
static void
start_body (SrHttpRequest *request)
{
  const SrHttpBodyReader *body = request->match.route->body;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (request->message);
  /* A declared length was checked whole (check_body); a chunked one is counted as it comes. */
  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CHUNKED
      || (body != NULL && body->chunk != NULL))
    sr_http_request_watch_chunks (request);
  if (body == NULL)
    return;
  if (body->chunk != NULL)
    soup_message_body_set_accumulate (soup_server_message_get_request_body (request->message),
                                      FALSE);
  if (body->begin != NULL)
    body->begin (request);
}

void
sr_http_request_got_headers (SrHttpRequest *request)
{
  SrHttp *http = request->http;
  if (http == NULL)
    return;
  request->counted = TRUE;
  sr_service_work_begin (http->service);

  /* libsoup refused it already (a path with "..", say). */
  if (soup_server_message_get_status (request->message) != 0) {
    soup_message_body_set_accumulate (soup_server_message_get_request_body (request->message),
                                      FALSE);
    return;
  }
  if (!check_headers (request) || sr_http_cors (request))
    return;
  if (route_request (request) && check_caller (request) && check_rate (request)
      && check_accepting (request) && check_websocket (request) && check_body (request))
    start_body (request);
}

void
sr_http_request_got_chunk (SrHttpRequest *request, GBytes *piece)
{
  const SrHttpRoute *route = request->match.route;
  request->received += g_bytes_get_size (piece);
  if (soup_server_message_get_status (request->message) != 0)
    return;
  if (request->received > request->max_body) {
    refuse_too_large (request);
    soup_message_body_truncate (soup_server_message_get_request_body (request->message));
    return;
  }
  if (route != NULL && route->body != NULL && route->body->chunk != NULL)
    route->body->chunk (request, piece);
}

void
sr_http_request_got_body (SrHttpRequest *request)
{
  request->arrived = TRUE;
}

void
sr_http_request_done (SrHttpRequest *request)
{
  request->arrived = TRUE;
  if (!request->counted)
    return;
  request->counted = FALSE;
  sr_service_work_end (request->http->service);
}

void
sr_http_request_detach (SrHttpRequest *request)
{
  sr_http_request_done (request);
  g_queue_unlink (&request->http->requests, &request->link);
  request->http = NULL;
}

void
sr_http_request_run (SrHttpRequest *request)
{
  if (request->match.route == NULL) {
    sr_http_message_reply_code (request->message, SMARTRAG_ERROR_FAILED,
                                _ ("The request reached no route"));
    return;
  }
  request->match.route->handler (request);
  if ((request->match.route->flags & SR_HTTP_ROUTE_WEBSOCKET) && request->upgraded == NULL
      && soup_server_message_get_status (request->message) == 0)
    sr_http_message_reply_code (request->message, SMARTRAG_ERROR_FAILED,
                                _ ("The WebSocket route neither accepted nor refused the upgrade"));
  close_if_upgrade_refused (request->message);
}

void
sr_http_request_accept_websocket (SrHttpRequest *request, SrHttpWebsocketHandler handler,
                                  gpointer user_data, GDestroyNotify destroy)
{
  g_return_if_fail (request->upgraded == NULL);
  request->upgraded = handler;
  request->upgraded_data = user_data;
  request->upgraded_destroy = destroy;
}

void
sr_http_request_upgraded (SrHttpRequest *request, SoupWebsocketConnection *connection)
{
  /* The HTTP exchange is over: an open socket is no work a stop should wait for. libsoup
   * tells no "request-finished" for it, so it is counted here. */
  sr_http_request_count (request, SOUP_STATUS_SWITCHING_PROTOCOLS);
  if (request->http != NULL)
    sr_http_idle_sweep_forget (request->http, request->message);
  sr_http_request_done (request);
  if (request->upgraded == NULL) {
    soup_websocket_connection_close (connection, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, NULL);
    return;
  }
  soup_websocket_connection_set_max_incoming_payload_size (connection, request->max_body);
  soup_websocket_connection_set_keepalive_interval (connection, WEBSOCKET_PING_SECONDS);
  request->upgraded (request, connection, request->upgraded_data);
}

void
sr_http_request_count (SrHttpRequest *request, guint status)
{
  if (request->counted_in_metrics || request->http == NULL)
    return;
  request->counted_in_metrics = TRUE;
  /* The route's pattern, never the path: ids in paths would make a series per id. */
  const SrHttpRoute *route = request->match.route;
  sr_metrics_observe_http (sr_service_metrics (request->http->service),
                           soup_server_message_get_method (request->message),
                           route != NULL ? route->pattern : NULL, status,
                           (double) (g_get_monotonic_time () - request->started) / 1e6);
}

char *
sr_http_shown (const char *text)
{
  return shown (text);
}

SrService *
sr_http_request_service (SrHttpRequest *request)
{
  return request->http->service;
}

SoupServerMessage *
sr_http_request_message (SrHttpRequest *request)
{
  return request->message;
}

const SrCaller *
sr_http_request_caller (SrHttpRequest *request)
{
  return request->identified ? &request->caller : NULL;
}

const char *
sr_http_request_param (SrHttpRequest *request, const char *name)
{
  for (guint i = 0; i < request->match.n_params; i++)
    if (g_str_equal (request->match.names[i], name))
      return request->match.values[i];
  g_return_val_if_reached (NULL);
}

void
sr_http_request_set_data (SrHttpRequest *request, gpointer data, GDestroyNotify destroy)
{
  clear_data (request);
  request->data = data;
  request->data_destroy = destroy;
}

gpointer
sr_http_request_get_data (SrHttpRequest *request)
{
  return request->data;
}

SrJsonBody *
sr_http_request_json (SrHttpRequest *request)
{
  SoupMessageBody *body = soup_server_message_get_request_body (request->message);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr (GError) error = NULL;
  SrJsonBody *json = sr_json_body_parse (bytes, &error);
  if (json == NULL)
    sr_http_reply_error (request, error);
  return json;
}
