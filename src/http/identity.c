/* Who sent an HTTP request: the one place that turns a connection into a caller. */
#include "http/http-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "service/tokens.h"

/* "Authorization: Bearer <token>", or NULL. The scheme is case-insensitive (RFC 7235). */
static char *
authorization_bearer (SoupMessageHeaders *headers)
{
  const char *value = soup_message_headers_get_one (headers, "Authorization");
  if (value == NULL || g_ascii_strncasecmp (value, "Bearer ", 7) != 0)
    return NULL;
  value += 7;
  while (*value == ' ')
    value++;
  return g_strdup (value);
}

/* A WebSocket handshake's "smartrag.bearer.<token>" among its subprotocols, or NULL: what
 * a browser, which cannot set Authorization there, sends instead. */
static char *
protocol_bearer (SoupMessageHeaders *headers)
{
  const char *value = soup_message_headers_get_list (headers, "Sec-WebSocket-Protocol");
  if (value == NULL)
    return NULL;
  GSList *offered = soup_header_parse_list (value);
  char *bearer = NULL;
  for (GSList *l = offered; l != NULL && bearer == NULL; l = l->next)
    if (g_str_has_prefix (l->data, SR_HTTP_WEBSOCKET_BEARER))
      bearer = g_strdup ((const char *) l->data + strlen (SR_HTTP_WEBSOCKET_BEARER));
  soup_header_free_list (offered);
  return bearer;
}

/* The token of a request over TCP; in a subprotocol only on a WebSocket route. */
static char *
bearer_of (SrHttpRequest *request)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (request->message);
  char *bearer = authorization_bearer (headers);
  if (bearer != NULL || !(request->match.route->flags & SR_HTTP_ROUTE_WEBSOCKET))
    return bearer;
  return protocol_bearer (headers);
}

static gboolean
missing_token (SrHttp *http, GError **error)
{
  if (http->socket_path != NULL)
    return sr_error_set (error, SMARTRAG_ERROR_UNAUTHENTICATED,
                         _ ("This request needs an API token in an 'Authorization: Bearer' "
                            "header; over the Unix socket %s no token is needed"),
                         http->socket_path);
  return sr_error_set (error, SMARTRAG_ERROR_UNAUTHENTICATED, "%s",
                       _ ("This request needs an API token in an 'Authorization: Bearer' "
                          "header"));
}

/* Over the Unix socket the caller is the uid the kernel gave for the peer when it
 * connected (SO_PEERCRED), never anything the request says. Root is an administrator,
 * and so, in user mode, is the daemon's own user, as on the bus; HTTP does not ask
 * polkit, so no other caller administers anything.
 *
 * Over TCP nothing about the peer is known: a request there needs a bearer token
 * ("Authorization: Bearer <token>", made with CreateToken) and acts as the uid that made
 * it, never as an administrator: a token is a password that may leak, and it grants no
 * more than its owner's own sessions. */
gboolean
sr_http_identify (SrHttp *http, SrHttpRequest *request, GError **error)
{
  guint32 uid;
  const char *peer;

  if (sr_http_unix_peer (request->message, &uid, &peer)) {
    request->caller = (SrCaller){
      .uid = uid,
      .admin = uid == 0 || (http->user_mode && uid == http->own_uid),
      .peer = peer,
    };
    return TRUE;
  }
  g_autofree char *bearer = bearer_of (request);
  if (bearer == NULL)
    return missing_token (http, error);
  g_autofree char *token_id = NULL;
  if (!sr_tokens_authenticate (http->service, bearer, &uid, &token_id, error))
    return FALSE;
  request->peer = g_strdup_printf ("http:token:%s", token_id);
  request->token_id = g_steal_pointer (&token_id);
  request->caller = (SrCaller){ .uid = uid, .admin = FALSE, .peer = request->peer };
  return TRUE;
}
