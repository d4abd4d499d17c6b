/* Who sent an HTTP request: the one place that turns a connection into a caller. */
#include "http/http-private.h"

#include <glib/gi18n.h>

/* Over the Unix socket the caller is the uid the kernel gave for the peer when it
 * connected (SO_PEERCRED), never anything the request says. Root is an administrator,
 * and so, in user mode, is the daemon's own user, as on the bus; HTTP does not ask
 * polkit, so no other caller administers anything.
 *
 * Over TCP nothing about the peer is known, so a request there needs a bearer token
 * ("Authorization: Bearer <token>") that names the uid it acts for. This build checks
 * no tokens: every TCP request is UNAUTHENTICATED, and only public routes (GET /health)
 * answer it. */
gboolean
sr_http_identify (SrHttp *http, SoupServerMessage *message, SrCaller *out, GError **error)
{
  guint32 uid;
  const char *peer;

  if (sr_http_unix_peer (message, &uid, &peer)) {
    *out = (SrCaller){
      .uid = uid,
      .admin = uid == 0 || (http->user_mode && uid == http->own_uid),
      .peer = peer,
    };
    return TRUE;
  }
  if (http->socket_path != NULL)
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNAUTHENTICATED,
                 _ ("This request needs an API token in an 'Authorization: Bearer' header; "
                    "over the Unix socket %s no token is needed"),
                 http->socket_path);
  else
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNAUTHENTICATED,
                         _ ("This request needs an API token in an 'Authorization: Bearer' "
                            "header"));
  return FALSE;
}
