/* The fork server: single-threaded, it forks a child per request and reports how it ended. */
#define _GNU_SOURCE /* close_range */
#include "extract/serve.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "extract/confine.h"
#include "extract/document.h"
#include "extract/serve-protocol.h"

typedef struct {
  pid_t pid;
  int pidfd;
  int reply; /* the request's reply socket */
} Child;

typedef struct {
  int socket;
  pid_t self;
  const char *fault;
  GArray *children; /* Child, in no particular order */
} Server;

static void say (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* Goes to the daemon's stderr, which is the log. */
static void
say (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "smartrag-extract: %s\n", message);
}

/* PR_SET_PDEATHSIG would not fire for a parent that died before it was set; then this
 * process has been handed to another parent already, and the daemon's socket tells which
 * process created it. A helper started through a wrapper must exec it, so that its parent
 * is the daemon. */
static gboolean
tie_to_daemon (int socket)
{
  struct ucred peer;
  socklen_t length = sizeof peer;

  if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0
      || getsockopt (socket, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
    int saved = errno;
    say (_ ("Cannot serve on descriptor %d: %s"), socket, g_strerror (saved));
    return FALSE;
  }
  if (getppid () != peer.pid) {
    say (_ ("The parent of this server did not open its socket: the daemon is gone, or a "
            "wrapper did not exec the reader"));
    return FALSE;
  }
  /* Nothing this process or its children run may gain privileges, set-uid or not. */
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    int saved = errno;
    say (_ ("Could not set up the sandbox (%s): %s"), "PR_SET_NO_NEW_PRIVS", g_strerror (saved));
    return FALSE;
  }
  return TRUE;
}

static void G_GNUC_NORETURN
run_child (const Server *server, const SrServeRequest *request, const char *filename,
           const int *fds)
{
  /* This server ignores SIGPIPE: a parser must start with the defaults so that SIGXCPU
   * and SIGPIPE stop it. */
  sr_serve_reset_signals ();
  /* A child must not outlive the server that would report on it. */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid () != server->self)
    _exit (EXIT_FAILURE);
  if (dup2 (fds[SR_SERVE_FD_INPUT], STDIN_FILENO) < 0
      || dup2 (fds[SR_SERVE_FD_OUTPUT], STDOUT_FILENO) < 0
      || dup2 (fds[SR_SERVE_FD_ERRORS], STDERR_FILENO) < 0)
    _exit (EXIT_FAILURE);
  /* The server's socket, its pidfds and the other requests' descriptors would let a
   * compromised parser reach past its own document. */
  if (close_range (STDERR_FILENO + 1, ~0U, 0) != 0)
    _exit (EXIT_FAILURE);
  /* A forked helper, like an executed one, yields to the daemon as much as the thread that
   * waits for it does. Only a nicer server keeps it nicer still: becoming less nice takes
   * a privilege, so the failure is no error. */
  (void) setpriority (PRIO_PROCESS, 0, request->niceness);

  SrExtractJob job = {
    .filename = filename,
    .max_file_bytes = request->max_file_bytes,
    .max_memory_bytes = request->max_memory_bytes,
    .cpu_seconds = request->cpu_seconds,
    .max_output_bytes = request->max_output_bytes,
    .max_decompressed_bytes = request->max_decompressed_bytes,
    .max_pages = request->max_pages,
    .detect_only = (request->flags & SR_SERVE_DETECT_ONLY) != 0,
    .typed_text = (request->flags & SR_SERVE_TYPED_TEXT) != 0,
    .fault = server->fault,
  };
  int status = sr_extract_document (&job);
#ifdef SR_EXTRACT_COVERAGE
  /* A coverage build's exit handler writes the counts, as in a helper of its own. */
  exit (status);
#else
  /* The reply is written already; the libraries' destructors would only touch, and so
   * copy, pages the child shares with the server. */
  _exit (status);
#endif
}

static void
refuse (int reply, int error)
{
  SrServeReport report = { .type = SR_SERVE_REFUSED, .error = error };
  sr_serve_send (reply, &report, sizeof report, NULL, 0);
  close (reply);
}

static void
start_child (Server *server, const SrServeRequest *request, const char *filename, const int *fds)
{
  int reply = fds[SR_SERVE_FD_REPLY];
  pid_t pid = fork ();
  if (pid == 0)
    run_child (server, request, filename, fds);
  int saved = errno;
  /* The child holds them now; the daemon sees the end of the output only once every copy
   * is closed. */
  close (fds[SR_SERVE_FD_INPUT]);
  close (fds[SR_SERVE_FD_OUTPUT]);
  close (fds[SR_SERVE_FD_ERRORS]);
  if (pid < 0) {
    refuse (reply, saved);
    return;
  }

  int pidfd = pidfd_open (pid, 0);
  if (pidfd < 0) {
    saved = errno;
    kill (pid, SIGKILL);
    while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
      ;
    refuse (reply, saved);
    return;
  }
  SrServeReport report = { .type = SR_SERVE_STARTED, .pid = pid };
  /* A daemon that cannot be told about the child cannot stop it either. */
  if (sr_serve_send (reply, &report, sizeof report, &pidfd, 1) < 0)
    pidfd_send_signal (pidfd, SIGKILL, NULL, 0);
  Child child = { pid, pidfd, reply };
  g_array_append_val (server->children, child);
}

/* Returns FALSE once the daemon has closed its end. */
static gboolean
take_request (Server *server)
{
  guint8 buffer[sizeof (SrServeRequest) + SR_SERVE_MAX_FILENAME];
  int fds[SR_SERVE_N_FDS];
  guint n_fds = 0;
  gssize n = sr_serve_receive (server->socket, buffer, sizeof buffer, fds, SR_SERVE_N_FDS, &n_fds);

  if (n == 0)
    return FALSE;
  if (n == -EINTR || n == -EAGAIN)
    return TRUE;
  if (n < 0 || n_fds != SR_SERVE_N_FDS) {
    say (_ ("A request could not be read: %s"), g_strerror (n < 0 ? (int) -n : EBADMSG));
    for (guint i = 0; i < n_fds; i++)
      close (fds[i]);
    return n == -EBADMSG || n >= 0;
  }

  SrServeRequest request;
  g_autofree char *filename = NULL;
  int rc = sr_serve_request_decode (buffer, (gsize) n, &request, &filename);
  if (rc < 0) {
    close (fds[SR_SERVE_FD_INPUT]);
    close (fds[SR_SERVE_FD_OUTPUT]);
    close (fds[SR_SERVE_FD_ERRORS]);
    refuse (fds[SR_SERVE_FD_REPLY], -rc);
    return TRUE;
  }
  start_child (server, &request, filename, fds);
  return TRUE;
}

/* waitid() as the kernel has it: glibc's leaves out the resource usage. */
static int
wait_child (pid_t pid, int options, siginfo_t *info, struct rusage *usage)
{
  int rc;
  do
    rc = (int) syscall (SYS_waitid, P_PID, pid, info, WEXITED | options, usage);
  while (rc < 0 && errno == EINTR);
  return rc;
}

/* The status as waitpid() would give it, which is what the daemon interprets. */
static gint32
wait_status (const siginfo_t *info)
{
  switch (info->si_code) {
  case CLD_EXITED:
    return W_EXITCODE (info->si_status, 0);
  case CLD_DUMPED:
    return info->si_status | WCOREFLAG;
  default:
    return info->si_status;
  }
}

static guint64
usec (const struct timeval *time)
{
  return (guint64) time->tv_sec * G_USEC_PER_SEC + (guint64) time->tv_usec;
}

/* Reaps the child at @index if it has exited (or waits for it if @block) and reports. */
static void
reap_child (Server *server, guint index, gboolean block)
{
  Child *child = &g_array_index (server->children, Child, index);
  siginfo_t info = { 0 };
  struct rusage usage = { 0 };

  if (wait_child (child->pid, block ? 0 : WNOHANG, &info, &usage) < 0) {
    /* Cannot happen to a child nobody else reaps; closing the reply tells the daemon. */
    say (_ ("Cannot wait for process %d: %s"), (int) child->pid, g_strerror (errno));
  } else if (info.si_pid == 0) {
    return;
  } else {
    SrServeReport report = {
      .type = SR_SERVE_EXITED,
      .wait_status = wait_status (&info),
      .cpu_usec = usec (&usage.ru_utime) + usec (&usage.ru_stime),
      .max_rss_bytes = (guint64) usage.ru_maxrss * 1024,
    };
    /* The daemon may have stopped listening; the child is reaped all the same. */
    sr_serve_send (child->reply, &report, sizeof report, NULL, 0);
  }
  close (child->reply);
  close (child->pidfd);
  g_array_remove_index_fast (server->children, index);
}

static void
serve (Server *server)
{
  gboolean accepting = TRUE;
  g_autoptr (GArray) fds = g_array_new (FALSE, FALSE, sizeof (struct pollfd));

  while (accepting || server->children->len > 0) {
    guint n_children = server->children->len;
    g_array_set_size (fds, 1 + n_children);
    struct pollfd *pfd = (struct pollfd *) fds->data;
    pfd[0] = (struct pollfd){ accepting ? server->socket : -1, POLLIN, 0 };
    for (guint i = 0; i < n_children; i++)
      pfd[1 + i] = (struct pollfd){ g_array_index (server->children, Child, i).pidfd, POLLIN, 0 };

    if (poll (pfd, 1 + n_children, -1) < 0) {
      if (errno == EINTR)
        continue;
      say (_ ("Cannot wait for requests: %s"), g_strerror (errno));
      break;
    }
    /* Downwards, so that removing a child moves only one that was looked at already. */
    for (guint i = n_children; i-- > 0;)
      if (pfd[1 + i].revents != 0)
        reap_child (server, i, FALSE);
    if (pfd[0].revents != 0)
      accepting = take_request (server);
  }
  /* Only when poll() itself failed: no child may be left behind. */
  while (server->children->len > 0) {
    pidfd_send_signal (g_array_index (server->children, Child, 0).pidfd, SIGKILL, NULL, 0);
    reap_child (server, 0, TRUE);
  }
}

int
sr_serve_run (int socket, const char *fault)
{
  if (!tie_to_daemon (socket))
    return EXIT_FAILURE;
  /* A daemon that went away between two reports must not kill the server. */
  signal (SIGPIPE, SIG_IGN);
  /* Once here, so that no child has to open catalogs or converters. */
  sr_confine_preload ();

  g_autoptr (GArray) children = g_array_new (FALSE, FALSE, sizeof (Child));
  Server server = { socket, getpid (), fault, children };
  serve (&server);
  return EXIT_SUCCESS;
}
