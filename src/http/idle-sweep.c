/* Once a second: cuts off late requests and closes idle connections their clients left. */
#include "http/http-private.h"

#include <errno.h>
#include <sys/socket.h>

/* libsoup 3.2 (Debian 12) never lets go of a keep-alive connection whose client closes
 * it between two requests: its descriptor stays open until the daemon stops, so a
 * thousand curl calls would use up the descriptors and stop every listener. The fix is
 * in later libsoup; here, every connection is known from its first request, and once a
 * second the ones with no request under way are looked at: a connection whose client
 * has gone is closed. */
#define SWEEP_INTERVAL_MS 1000

/* Whether the client closed its end: reading would give end of file (or an error) now. */
static gboolean
client_gone (GSocket *socket)
{
  char byte;
  ssize_t n = recv (g_socket_get_fd (socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0)
    return FALSE;
  return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Whether a request that has begun (its headers are in) uses @socket. */
static gboolean
in_use (SrHttp *http, GSocket *socket)
{
  for (GList *l = http->requests.head; l != NULL; l = l->next) {
    SrHttpRequest *request = l->data;
    if (request->counted && sr_http_message_socket (request->message) == socket)
      return TRUE;
  }
  return FALSE;
}

/* The timeout runs from the connection (or the previous reply) on, so idle keep-alive
 * connections are closed too. One timer for all requests: a source per request, added
 * and removed each time, costs the main loop more than a request to /health itself. */
static void
cut_off_late_requests (SrHttp *http)
{
  gint64 deadline = g_get_monotonic_time () - (gint64) http->request_timeout_ms * 1000;
  for (GList *l = http->requests.head; l != NULL; l = l->next) {
    SrHttpRequest *request = l->data;
    if (!request->arrived && request->started <= deadline)
      sr_http_request_cut_off (request);
  }
}

static gboolean
sweep (gpointer data)
{
  SrHttp *http = data;
  GHashTableIter iter;
  gpointer key;
  guint closed = 0;

  cut_off_late_requests (http);
  g_hash_table_iter_init (&iter, http->connections);
  while (g_hash_table_iter_next (&iter, &key, NULL)) {
    GSocket *socket = key;
    if (g_socket_is_closed (socket)) {
      g_hash_table_iter_remove (&iter);
      continue;
    }
    if (in_use (http, socket) || !client_gone (socket))
      continue;
    g_socket_close (socket, NULL);
    g_hash_table_iter_remove (&iter);
    closed++;
  }
  if (closed > 0)
    g_debug ("Closed %u HTTP connection(s) their clients had left", closed);
  return G_SOURCE_CONTINUE;
}

void
sr_http_idle_sweep_track (SrHttp *http, SoupServerMessage *message)
{
  GSocket *socket = sr_http_message_socket (message);
  if (socket != NULL && !g_hash_table_contains (http->connections, socket))
    g_hash_table_add (http->connections, g_object_ref (socket));
}

void
sr_http_idle_sweep_forget (SrHttp *http, SoupServerMessage *message)
{
  GSocket *socket = sr_http_message_socket (message);
  if (socket != NULL && http->connections != NULL)
    g_hash_table_remove (http->connections, socket);
}

void
sr_http_idle_sweep_start (SrHttp *http)
{
  http->connections = g_hash_table_new_full (g_direct_hash, g_direct_equal, g_object_unref, NULL);
  http->idle_sweep = g_timeout_add (SWEEP_INTERVAL_MS, sweep, http);
}

void
sr_http_idle_sweep_stop (SrHttp *http)
{
  g_clear_handle_id (&http->idle_sweep, g_source_remove);
  g_clear_pointer (&http->connections, g_hash_table_destroy);
}
