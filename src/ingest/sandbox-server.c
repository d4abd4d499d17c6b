/* Starts smartrag-extract --serve on demand, once per helper program, and stops it again. */
#include "ingest/sandbox-server.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errors.h"
#include "extract/serve-protocol.h"
#include "ingest/sandbox.h"

struct _SrSandboxServer {
  char *helper_path;
  struct stat program; /* the helper as it was when the server started */
  GPid pid;
  int socket; /* -1 once closed: the server finishes its children and exits */
  guint refs; /* the table's while listed, and one per request in flight */
};

/* A request to the launcher thread, answered on @done. */
typedef struct {
  const char *helper_path;
  GPid pid;
  int socket;
  GError *error;
  GAsyncQueue *done;
} Launch;

/* Process-wide, because a fork server belongs to the process that started it rather than
 * to one pipeline: every caller with the same helper shares it, and the kernel ties its
 * life to the thread that spawned it. Everything here is under @lock. */
static struct {
  GMutex lock;
  GHashTable *servers;   /* helper path → SrSandboxServer */
  GAsyncQueue *launches; /* to the launcher thread, which never ends */
} state;

void
sr_sandbox_server_set_start_error (GError **error, const char *helper_path, const char *reason)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
               _ ("Could not start the document reader %s: %s; check the installation"),
               helper_path, reason);
}

/* Runs in the child between fork and exec: only async-signal-safe calls. The launcher
 * thread inherits the blocked signals of whichever thread created it, and the daemon may
 * ignore some; the server and its children must start with the defaults. Its own process
 * group keeps a terminal's ^C from reaching it before the daemon. */
static void
child_setup (gpointer user_data)
{
  sr_serve_reset_signals ();
  setpgid (0, 0);
}

/* Only the locale travels, so that messages come back in the daemon's language. The
 * server binds every symbol of its libraries once, at start, where each child would
 * otherwise look up again whatever it calls first. */
static char **
helper_environment (void)
{
  static const char *const keep[] = { "LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LC_CTYPE" };
  g_auto (GStrv) current = g_get_environ ();
  char **env = g_environ_setenv (NULL, "LD_BIND_NOW", "1", TRUE);

  for (gsize i = 0; i < G_N_ELEMENTS (keep); i++) {
    const char *value = g_environ_getenv (current, keep[i]);
    if (value != NULL)
      env = g_environ_setenv (env, keep[i], value, TRUE);
  }
  return env;
}

/* The server gets one end of the socket pair as SR_SERVE_FD, /dev/null as stdin and stdout,
 * and the daemon's stderr, where its children's complaints end up in the log. */
static gboolean
spawn_server (Launch *launch)
{
  const char *const argv[] = { launch->helper_path, "--serve", NULL };
  g_auto (GStrv) env = helper_environment ();
  g_autoptr (GError) local = NULL;
  int pair[2];

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    sr_sandbox_server_set_start_error (&launch->error, launch->helper_path, g_strerror (errno));
    return FALSE;
  }
  const int source_fds[] = { pair[1] };
  const int target_fds[] = { SR_SERVE_FD };
  gboolean spawned = g_spawn_async_with_pipes_and_fds (
      "/", argv, (const char *const *) env, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
      child_setup, NULL, -1, -1, -1, source_fds, target_fds, G_N_ELEMENTS (source_fds),
      &launch->pid, NULL, NULL, NULL, &local);
  close (pair[1]);
  if (!spawned) {
    close (pair[0]);
    sr_sandbox_server_set_start_error (&launch->error, launch->helper_path, local->message);
    return FALSE;
  }
  launch->socket = pair[0];
  return TRUE;
}

/* PR_SET_PDEATHSIG fires when the thread that spawned the server ends, not the process:
 * started from a pool worker, the server would be killed, its children with it, when that
 * worker retires. So every server is spawned from this one thread, which lives as long as
 * the process does. */
static gpointer
launcher_main (gpointer data)
{
  GAsyncQueue *launches = data;
  for (;;) {
    Launch *launch = g_async_queue_pop (launches);
    spawn_server (launch);
    g_async_queue_push (launch->done, launch);
  }
  return NULL;
}

static SrSandboxServer *
start_server (const char *helper_path, const struct stat *program, GError **error)
{
  Launch launch = { .helper_path = helper_path, .socket = -1 };

  if (state.launches == NULL) {
    state.launches = g_async_queue_new ();
    g_thread_unref (g_thread_new ("sr-sandbox", launcher_main, g_async_queue_ref (state.launches)));
  }
  launch.done = g_async_queue_new ();
  g_async_queue_push (state.launches, &launch);
  g_async_queue_pop (launch.done);
  g_async_queue_unref (launch.done);
  if (launch.socket < 0) {
    g_propagate_error (error, launch.error);
    return NULL;
  }

  SrSandboxServer *server = g_new0 (SrSandboxServer, 1);
  server->helper_path = g_strdup (helper_path);
  server->program = *program;
  server->pid = launch.pid;
  server->socket = launch.socket;
  server->refs = 1;
  g_hash_table_insert (state.servers, server->helper_path, server);
  return server;
}

/* The last reference: a server whose socket is closed exits once its children have, and
 * the last request in flight has seen its child reaped, so this wait is short. */
static void
server_unref (SrSandboxServer *server)
{
  if (--server->refs > 0)
    return;
  if (server->socket >= 0)
    close (server->socket);
  while (waitpid (server->pid, NULL, 0) < 0 && errno == EINTR)
    ;
  g_spawn_close_pid (server->pid);
  g_free (server->helper_path);
  g_free (server);
}

/* Takes @server off the table and closes its socket, so that it takes no more requests.
 * One that has died is killed outright: what is left of it must not be waited for. */
static void
retire (SrSandboxServer *server, gboolean dead)
{
  g_hash_table_remove (state.servers, server->helper_path);
  if (dead)
    kill (server->pid, SIGKILL);
  close (server->socket);
  server->socket = -1;
  server_unref (server);
}

/* A server that has died has closed its end of the socket; when poll() itself fails,
 * sending will tell. */
static gboolean
is_alive (const SrSandboxServer *server)
{
  struct pollfd pfd = { server->socket, 0, 0 };
  return poll (&pfd, 1, 0) <= 0;
}

/* Whether the helper on disk is still the program the server runs: a package upgrade, or a
 * test writing a new wrapper script to the same path, replaces the file. */
static gboolean
same_program (const struct stat *a, const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
         && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec
         && a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The server to send the next request to, started if need be. */
static SrSandboxServer *
current_server (const char *helper_path, GError **error)
{
  struct stat program = { 0 };
  gboolean found = stat (helper_path, &program) == 0;

  if (state.servers == NULL)
    state.servers = g_hash_table_new (g_str_hash, g_str_equal);
  SrSandboxServer *server = g_hash_table_lookup (state.servers, helper_path);
  if (server != NULL && !is_alive (server)) {
    g_debug ("The document reader %s (process %d) has exited; starting it again", helper_path,
             (int) server->pid);
    retire (server, TRUE);
  } else if (server != NULL && (!found || !same_program (&server->program, &program))) {
    g_debug ("The document reader %s has changed on disk; starting it again", helper_path);
    retire (server, FALSE);
  } else if (server != NULL) {
    return server;
  }
  return start_server (helper_path, &program, error);
}

SrSandboxServer *
sr_sandbox_server_send (const char *helper_path, const void *data, gsize length, const int *fds,
                        guint n_fds, GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&state.lock);
  int rc = 0;

  for (guint attempt = 0; attempt < 2; attempt++) {
    SrSandboxServer *server = current_server (helper_path, error);
    if (server == NULL)
      return NULL;
    rc = sr_serve_send (server->socket, data, length, fds, n_fds);
    if (rc == 0) {
      server->refs++;
      return server;
    }
    /* EPIPE or ECONNRESET: it died since it was last looked at. */
    g_debug ("The document reader %s (process %d) took no request: %s", helper_path,
             (int) server->pid, g_strerror (-rc));
    retire (server, TRUE);
  }
  sr_sandbox_server_set_start_error (error, helper_path, g_strerror (-rc));
  return NULL;
}

void
sr_sandbox_server_release (SrSandboxServer *server, gboolean lost)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&state.lock);
  if (lost && server->socket >= 0)
    retire (server, TRUE);
  server_unref (server);
}

void
sr_sandbox_shutdown (void)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&state.lock);
  if (state.servers == NULL)
    return;
  g_autoptr (GList) servers = g_hash_table_get_values (state.servers);
  for (GList *l = servers; l != NULL; l = l->next)
    retire (l->data, FALSE);
}
