/* Where the HTTP face listens: its Unix socket, accepted here with the peer's uid, and TCP. */
#include "http/http-private.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* Who is at the other end of a Unix connection, kept on the remote address that libsoup
 * keeps for the connection. */
#define PEER_KEY "sr-http-unix-peer"

typedef struct {
  guint32 uid;
  char *name;
  GSocketConnection *connection;
} UnixPeer;

static void
unix_peer_free (gpointer data)
{
  UnixPeer *peer = data;
  g_free (peer->name);
  g_clear_object (&peer->connection);
  g_free (peer);
}

static gboolean fail_errno (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* @format says what failed; errno says why. */
static gboolean
fail_errno (GError **error, const char *format, ...)
{
  int saved = errno;
  va_list args;
  va_start (args, format);
  g_autofree char *doing = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED, "%s: %s", doing, g_strerror (saved));
  return FALSE;
}

/* The daemon's umask (0077) would keep other users out of a directory it makes. */
static gboolean
prepare_directory (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  if (g_file_test (dir, G_FILE_TEST_IS_DIR))
    return TRUE;
  if (g_mkdir_with_parents (dir, 0755) != 0 || g_chmod (dir, 0755) != 0)
    return fail_errno (error, _ ("Cannot create the directory %s for the HTTP socket"), dir);
  return TRUE;
}

/* A socket file that a daemon left when it did not stop cleanly goes; one that another
 * process still listens on, or a file that is no socket, stays and stops the start. */
static gboolean
remove_stale (const char *path, GError **error)
{
  struct stat st;
  if (lstat (path, &st) != 0)
    return errno == ENOENT ? TRUE : fail_errno (error, _ ("Cannot look at %s"), path);
  if (!S_ISSOCK (st.st_mode)) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("%s exists and is not a socket; remove it, or set [http] socket to another "
                    "file"),
                 path);
    return FALSE;
  }
  g_autoptr (GSocket) probe
      = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, error);
  if (probe == NULL)
    return FALSE;
  g_socket_set_blocking (probe, FALSE);
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr (GError) local = NULL;
  if (!g_socket_connect (probe, address, NULL, &local)
      && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)) {
    if (g_unlink (path) != 0 && errno != ENOENT)
      return fail_errno (error, _ ("Cannot remove the stale socket %s"), path);
    g_info ("Removed the HTTP socket %s that an earlier run left", path);
    return TRUE;
  }
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
               _ ("Another program serves the socket %s (is smartragd running already?); stop "
                  "it, or set [http] socket to another file"),
               path);
  return FALSE;
}

/* Connections the kernel holds for us before they are accepted. GLib's default of 10
 * turned clients away with "connection reset" when a thousand WebSocket clients came at
 * once; the kernel caps it at net.core.somaxconn. */
#define LISTEN_BACKLOG 4096

static GSocket *
bind_unix (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                             G_SOCKET_PROTOCOL_DEFAULT, &local);
  if (socket != NULL && g_socket_bind (socket, address, FALSE, &local)) {
    /* Every local user may connect: the uid of the peer, not the mode of the file,
     * decides what a client sees. */
    if (g_chmod (path, 0666) != 0)
      g_set_error (&local, G_IO_ERROR, g_io_error_from_errno (errno), "%s", g_strerror (errno));
    else {
      g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
      if (g_socket_listen (socket, &local))
        return g_steal_pointer (&socket);
    }
  }
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
               _ ("Cannot listen for HTTP on the socket %s: %s"), path, local->message);
  return NULL;
}

static UnixPeer *
peer_of (SoupServerMessage *message)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (message);
  return remote != NULL ? g_object_get_data (G_OBJECT (remote), PEER_KEY) : NULL;
}

/* libsoup builds the URI of an HTTP/1.0 request without Host from the connection's
 * local address and takes only IP addresses there (anything else is a critical), so a
 * Unix connection is handed over with loopback as its local address. Who the client is
 * comes from the peer kept on the remote address, never from an address. */
static gboolean
on_unix_incoming (GSocketService *service, GSocketConnection *connection, GObject *source,
                  gpointer user_data)
{
  SrHttp *http = user_data;
  g_autoptr (GError) error = NULL;
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autoptr (GCredentials) credentials = g_socket_get_credentials (socket, &error);
  uid_t uid = credentials != NULL ? g_credentials_get_unix_user (credentials, &error) : (uid_t) -1;
  if (uid == (uid_t) -1) {
    g_debug ("Closing an HTTP connection whose peer is unknown: %s", error->message);
    return TRUE;
  }

  UnixPeer *peer = g_new0 (UnixPeer, 1);
  peer->uid = (guint32) uid;
  peer->name = g_strdup_printf ("http:uid%u:c%u", peer->uid, ++http->next_connection);
  peer->connection = g_object_ref (connection);
  g_autoptr (GSocketAddress) remote
      = g_unix_socket_address_new_with_type ("", 0, G_UNIX_SOCKET_ADDRESS_ANONYMOUS);
  g_object_set_data_full (G_OBJECT (remote), PEER_KEY, peer, unix_peer_free);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) local = g_inet_socket_address_new (loopback, 0);
  soup_server_accept_iostream (http->server, G_IO_STREAM (connection), local, remote, NULL);
  return TRUE;
}

/* The Unix socket is accepted here rather than by libsoup for the local address above.
 * The price: libsoup keeps connections open between requests only while it has a
 * listener of its own, so without TCP each Unix connection serves one request. */
gboolean
sr_http_listen_unix (SrHttp *http, const char *path, GError **error)
{
  if (!prepare_directory (path, error) || !remove_stale (path, error))
    return FALSE;
  g_autoptr (GSocket) socket = bind_unix (path, error);
  if (socket == NULL)
    return FALSE;
  struct stat st;
  if (lstat (path, &st) != 0)
    return fail_errno (error, _ ("Cannot look at %s"), path);
  http->socket_path = g_strdup (path);
  http->socket_dev = st.st_dev;
  http->socket_ino = st.st_ino;

  http->unix_service = g_socket_service_new ();
  if (!g_socket_listener_add_socket (G_SOCKET_LISTENER (http->unix_service), socket, NULL, error))
    return FALSE;
  g_signal_connect (http->unix_service, "incoming", G_CALLBACK (on_unix_incoming), http);
  g_socket_service_start (http->unix_service);
  g_info ("HTTP API listening on unix:%s", path);
  return TRUE;
}

void
sr_http_close_unix (SrHttp *http)
{
  if (http->unix_service == NULL)
    return;
  g_socket_service_stop (http->unix_service);
  g_socket_listener_close (G_SOCKET_LISTENER (http->unix_service));
  g_clear_object (&http->unix_service);
  /* Another daemon may have put its own socket there since: only ours goes. */
  struct stat st;
  if (lstat (http->socket_path, &st) == 0 && st.st_dev == http->socket_dev
      && st.st_ino == http->socket_ino && g_unlink (http->socket_path) != 0)
    g_warning ("Cannot remove the HTTP socket %s: %s", http->socket_path, g_strerror (errno));
}

gboolean
sr_http_listen_tcp (SrHttp *http, GSocketAddress *address, GError **error)
{
  g_autofree char *wanted = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
  g_autoptr (GError) local = NULL;
  if (!soup_server_listen (http->server, address, 0, &local)) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot listen for HTTP on %s: %s; set [http] listen to another address, "
                    "or to nothing"),
                 wanted, local->message);
    return FALSE;
  }
  /* With port 0 the kernel chose one: the address bound is the one to tell. */
  GSList *listeners = soup_server_get_listeners (http->server);
  GSocket *listening = listeners->data;
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (listening, NULL);
  g_slist_free (listeners);
  /* libsoup listened with GLib's default backlog, which GLib will not change on a socket
   * that listens; listening again on its descriptor only raises it. */
  if (listen (g_socket_get_fd (listening), LISTEN_BACKLOG) != 0)
    g_warning ("Cannot raise the HTTP listen backlog on %s: %s", wanted, g_strerror (errno));
  g_autofree char *where = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (bound));
  http->tcp_url = g_strdup_printf ("http://%s/", where);

  GInetAddress *ip = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (bound));
  if (g_inet_address_get_is_loopback (ip))
    g_info ("HTTP API listening on %s", http->tcp_url);
  else
    g_warning ("HTTP API listening on %s, which other machines may reach: requests need a "
               "token there, and travel unencrypted",
               http->tcp_url);
  return TRUE;
}

gboolean
sr_http_unix_peer (SoupServerMessage *message, guint32 *uid, const char **peer)
{
  UnixPeer *found = peer_of (message);
  if (found == NULL)
    return FALSE;
  *uid = found->uid;
  *peer = found->name;
  return TRUE;
}

GSocket *
sr_http_message_socket (SoupServerMessage *message)
{
  GSocket *socket = soup_server_message_get_socket (message);
  if (socket != NULL)
    return socket;
  UnixPeer *peer = peer_of (message);
  return peer != NULL ? g_socket_connection_get_socket (peer->connection) : NULL;
}
