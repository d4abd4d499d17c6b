/* Documents benchmark: ingest throughput, bus latency while ingesting, and Search against FTS5, as
 * JSON. */
#define _GNU_SOURCE /* execvpe, pipe2, struct ucred */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#define BUS_NAME            "org.smartrag.Daemon"
#define BUS_PATH            "/org/smartrag/Daemon"
#define SESSION_PATH_PREFIX BUS_PATH "/session/"
#define DOCUMENT_INTERFACE  BUS_NAME ".Document"
#define QUERY_INTERFACE     BUS_NAME ".Query"
#define DATABASE_FILENAME   "smartrag.db"

/* Every wait is bounded, so a hung daemon or bus ends the run with an error, not a hang.
 * Calls get more room than in the foundation benchmark: a blocked main loop must show up
 * as a slow figure in the report, not as a failed run. */
#define CALL_TIMEOUT_US         (60 * G_USEC_PER_SEC)
#define SLOW_CALL_TIMEOUT_US    (20 * 60 * G_USEC_PER_SEC) /* a first Search that rebuilds */
#define BUS_START_TIMEOUT_US    (5 * G_USEC_PER_SEC)
#define READY_TIMEOUT_US        (60 * G_USEC_PER_SEC)
#define STOP_TIMEOUT_US         (120 * G_USEC_PER_SEC) /* a stop saves the vector index */
#define NAME_RELEASE_TIMEOUT_US (5 * G_USEC_PER_SEC)
#define INGEST_TIMEOUT_US       (30 * 60 * G_USEC_PER_SEC)
/* How long a freshly started daemon is left alone before its RSS counts as idle. */
#define SETTLE_US (300 * 1000)

/* Pause between two probes: frequent enough to catch a stall of a few milliseconds,
 * sparse enough that the prober does not take a core from the daemon. */
#define PROBE_INTERVAL_US 2000
/* AddText calls in flight at once: the daemon stores the next while it indexes one. */
#define ADD_WINDOW     4
#define SEARCH_K       5
#define WARMUP_QUERIES 20
#define VOCABULARY     20000

/* The targets. */
#define TARGET_INGEST_MB_S     10.0
#define TARGET_HEALTH_P99_MS   5.0
#define TARGET_SEARCH_P95_MS   10.0
#define TARGET_SEARCH_AT_CHUNK 100000

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (sd_bus_error, sd_bus_error_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

static volatile sig_atomic_t interrupted;

static G_DEFINE_QUARK (bench - documents - error - quark, bench_error)

    typedef struct {
  double *cumulative; /* Zipf weights, summed */
  char **words;
  guint n;
} Vocabulary;

typedef struct {
  /* parameters */
  char *daemon_path;
  char *extract_helper;
  char *dbus_daemon;
  char *build_type;
  char *tmp_parent;
  int ingest_mb;
  int document_kb;
  int fill_document_kb;
  int queries;
  int questions;
  int large_chunks;
  int seed;
  gboolean keep;

  /* resources, all released by bench_cleanup */
  char *dir;
  char *config_path;
  char *log_path;
  char *state_dir;
  char *bus_address;
  GPid bus_pid;
  GPid daemon_pid;
  int notify_fd;
  sd_bus *client;
  char *session_path;
  char *session_id;
  GRand *rand;
  Vocabulary vocabulary;

  /* what the run found */
  gboolean system_mode;
  guint unclean_exits;
  guint64 documents;
  guint64 chunks;
  guint64 text_bytes;
  char *daemon_version;
  double load_before, load_after; /* 1-minute load average around the run */
} Bench;

static gint64
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static gboolean fail (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, bench_error_quark (), 0, message);
  return FALSE;
}

static gboolean
check_interrupted (GError **error)
{
  if (interrupted)
    return fail (error, "interrupted by a signal");
  return TRUE;
}

static void
on_signal (int sig)
{
  interrupted = 1;
}

static void progress (const char *format, ...) G_GNUC_PRINTF (1, 2);

static void
progress (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "bench-documents: %s\n", message);
}

/* ---- files ---- */

static int
remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  if (remove (path) != 0)
    g_printerr ("bench-documents: cannot remove %s: %s\n", path, g_strerror (errno));
  return 0;
}

static void
remove_tree (const char *dir)
{
  if (dir != NULL && g_file_test (dir, G_FILE_TEST_EXISTS))
    nftw (dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *
log_tail (const char *path, guint lines)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL) || *text == '\0')
    return g_strdup ("(the daemon wrote nothing)");
  g_auto (GStrv) all = g_strsplit (g_strchomp (text), "\n", -1);
  guint n = g_strv_length (all);
  guint first = n > lines ? n - lines : 0;
  return g_strjoinv ("\n", all + first);
}

static gboolean
write_file (const char *path, const char *text, GError **error)
{
  return g_file_set_contents (path, text, -1, error);
}

/* ---- processes ---- */

/* fork+exec by hand rather than g_spawn: the child must die with the benchmark
 * (PR_SET_PDEATHSIG), and the fork is the moment start-up time is measured from. */
static gboolean
spawn (char **argv, char **envp, int log_fd, int pass_fd, GPid *pid, GError **error)
{
  pid_t parent = getpid ();
  pid_t child = fork ();

  if (child < 0)
    return fail (error, "cannot fork: %s", g_strerror (errno));
  if (child == 0) {
    if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid () != parent)
      _exit (127);
    int null = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2 (null, STDIN_FILENO) < 0 || dup2 (log_fd, STDOUT_FILENO) < 0
        || dup2 (log_fd, STDERR_FILENO) < 0)
      _exit (127);
    if (pass_fd >= 0 && (pass_fd == 3 ? fcntl (3, F_SETFD, 0) : dup2 (pass_fd, 3)) < 0)
      _exit (127);
    execvpe (argv[0], argv, envp);
    _exit (127);
  }
  *pid = child;
  return TRUE;
}

/* Waits for pid to exit until deadline (monotonic µs); TRUE with its status if it did. */
static gboolean
wait_exit (GPid pid, gint64 deadline, int *status)
{
  for (;;) {
    pid_t r = waitpid (pid, status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD))
      return TRUE;
    if (g_get_monotonic_time () >= deadline)
      return FALSE;
    g_usleep (1000);
  }
}

/* Stops pid with SIGTERM, then SIGKILL if it outlives timeout_us; FALSE if it needed the kill. */
static gboolean
terminate (GPid pid, gint64 timeout_us, int *status)
{
  kill (pid, SIGTERM);
  if (wait_exit (pid, g_get_monotonic_time () + timeout_us, status))
    return TRUE;
  kill (pid, SIGKILL);
  wait_exit (pid, g_get_monotonic_time () + timeout_us, status);
  return FALSE;
}

static char *
describe_status (int status)
{
  if (WIFEXITED (status))
    return g_strdup_printf ("exit status %d", WEXITSTATUS (status));
  if (WIFSIGNALED (status))
    return g_strdup_printf ("signal %s", g_strsignal (WTERMSIG (status)));
  return g_strdup_printf ("wait status %d", status);
}

static gboolean
read_rss_kb (GPid pid, guint64 *kb, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  const char *line = strstr (text, "\nVmRSS:");
  if (line == NULL)
    return fail (error, "%s has no VmRSS line", path);
  *kb = g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10);
  return TRUE;
}

/* ---- the private bus ---- */

static const char bus_config_template[]
    = "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
      " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
      "<busconfig>\n"
      "  <type>session</type>\n"
      "  <listen>unix:path=%s</listen>\n"
      "  <auth>EXTERNAL</auth>\n"
      "  <policy context=\"default\">\n"
      "    <allow user=\"*\"/>\n"
      "    <allow own=\"*\"/>\n"
      "    <allow send_destination=\"*\"/>\n"
      "    <allow receive_sender=\"*\"/>\n"
      "  </policy>\n"
      "</busconfig>\n";

static gboolean
read_address (int fd, gint64 deadline, GString *address, GError **error)
{
  for (;;) {
    gint64 left = deadline - g_get_monotonic_time ();
    if (left <= 0)
      return fail (error, "dbus-daemon did not print its address within %d s",
                   (int) (BUS_START_TIMEOUT_US / G_USEC_PER_SEC));
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll (&p, 1, (int) (left / 1000) + 1) < 0 && errno != EINTR)
      return fail (error, "poll: %s", g_strerror (errno));
    if (!check_interrupted (error))
      return FALSE;
    if (p.revents == 0)
      continue;
    char buf[512];
    ssize_t n = read (fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return fail (error, "dbus-daemon exited before printing its address");
    g_string_append_len (address, buf, n);
    if (strchr (address->str, '\n') != NULL) {
      g_strchomp (address->str);
      address->len = strlen (address->str);
      return TRUE;
    }
  }
}

static gboolean
start_bus (Bench *b, GError **error)
{
  g_autofree char *socket_path = g_build_filename (b->dir, "bus", NULL);
  g_autofree char *config_path = g_build_filename (b->dir, "bus.conf", NULL);
  g_autofree char *config = g_strdup_printf (bus_config_template, socket_path);
  g_autofree char *config_arg = g_strdup_printf ("--config-file=%s", config_path);
  g_autofree char *bus_log = g_build_filename (b->dir, "dbus-daemon.log", NULL);
  char *argv[]
      = { b->dbus_daemon, "--nofork", "--nopidfile", config_arg, "--print-address=3", NULL };
  int pipe_fds[2];

  if (!write_file (config_path, config, error))
    return FALSE;
  int log_fd = open (bus_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0)
    return fail (error, "cannot create %s: %s", bus_log, g_strerror (errno));
  if (pipe2 (pipe_fds, O_CLOEXEC) != 0) {
    close (log_fd);
    return fail (error, "pipe: %s", g_strerror (errno));
  }

  g_auto (GStrv) env = g_get_environ ();
  gboolean ok = spawn (argv, env, log_fd, pipe_fds[1], &b->bus_pid, error);
  close (log_fd);
  close (pipe_fds[1]);

  g_autoptr (GString) address = g_string_new (NULL);
  if (ok)
    ok = read_address (pipe_fds[0], g_get_monotonic_time () + BUS_START_TIMEOUT_US, address, error);
  close (pipe_fds[0]);
  if (!ok) {
    g_autofree char *tail = log_tail (bus_log, 10);
    g_prefix_error (error, "starting %s: ", b->dbus_daemon);
    g_prefix_error (error, "%s\n", tail);
    return FALSE;
  }
  b->bus_address = g_string_free (g_steal_pointer (&address), FALSE);
  return TRUE;
}

/* One connection per thread: sd-bus connections are not shared between threads. */
static gboolean
connect_bus (const char *address, sd_bus **bus, GError **error)
{
  g_autoptr (sd_bus) conn = NULL;
  int r = sd_bus_new (&conn);
  if (r >= 0)
    r = sd_bus_set_address (conn, address);
  if (r >= 0)
    r = sd_bus_set_bus_client (conn, 1);
  if (r >= 0)
    r = sd_bus_start (conn);
  if (r < 0)
    return fail (error, "cannot connect to %s: %s", address, g_strerror (-r));
  *bus = g_steal_pointer (&conn);
  return TRUE;
}
/* ---- calls ---- */

static gboolean
call (sd_bus_message *m, gint64 timeout_us, sd_bus_message **reply, double *ms, GError **error)
{
  g_auto (sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
  gint64 start = now_ns ();
  int r = sd_bus_call (NULL, m, timeout_us, &bus_error, reply);
  gint64 end = now_ns ();

  if (r < 0 && interrupted)
    return check_interrupted (error);
  if (r < 0)
    return fail (error, "%s.%s failed: %s", sd_bus_message_get_interface (m),
                 sd_bus_message_get_member (m),
                 bus_error.message ? bus_error.message : g_strerror (-r));
  if (ms != NULL)
    *ms = (double) (end - start) / 1e6;
  return TRUE;
}

static gboolean
new_call (sd_bus *bus, const char *path, const char *interface, const char *member,
          sd_bus_message **m, GError **error)
{
  int r = sd_bus_message_new_method_call (bus, m, BUS_NAME, path, interface, member);
  if (r < 0)
    return fail (error, "cannot build %s.%s: %s", interface, member, g_strerror (-r));
  return TRUE;
}

static gboolean
read_version (Bench *b, GError **error)
{
  g_auto (sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
  char *version = NULL;
  int r = sd_bus_get_property_string (b->client, BUS_NAME, BUS_PATH, BUS_NAME, "Version",
                                      &bus_error, &version);
  if (r < 0)
    return fail (error, "cannot read the Version property: %s",
                 bus_error.message ? bus_error.message : g_strerror (-r));
  g_free (b->daemon_version);
  b->daemon_version = g_strdup (version);
  free (version);
  return TRUE;
}

static gboolean
name_has_owner (Bench *b, gboolean *owned, GError **error)
{
  g_auto (sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  int value = 0;
  int r = sd_bus_call_method (b->client, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                              "org.freedesktop.DBus", "NameHasOwner", &bus_error, &reply, "s",
                              BUS_NAME);
  if (r >= 0)
    r = sd_bus_message_read (reply, "b", &value);
  if (r < 0)
    return fail (error, "NameHasOwner: %s",
                 bus_error.message ? bus_error.message : g_strerror (-r));
  *owned = value != 0;
  return TRUE;
}

/* The bus notices a closed connection on its own schedule; the next daemon can only
 * take the name once the bus has let go of it. */
static gboolean
wait_name_released (Bench *b, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + NAME_RELEASE_TIMEOUT_US;
  for (;;) {
    gboolean owned = TRUE;
    if (!name_has_owner (b, &owned, error))
      return FALSE;
    if (!owned)
      return TRUE;
    if (g_get_monotonic_time () >= deadline)
      return fail (error, "%s is still owned %d s after the daemon exited", BUS_NAME,
                   (int) (NAME_RELEASE_TIMEOUT_US / G_USEC_PER_SEC));
    g_usleep (1000);
  }
}
/* ---- the daemon ---- */

static gboolean
open_notify_socket (Bench *b, GError **error)
{
  g_autofree char *path = g_build_filename (b->dir, "notify", NULL);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int one = 1;

  if (strlen (path) >= sizeof sa.sun_path)
    return fail (error,
                 "the notify socket path %s is too long; set TMPDIR to a shorter "
                 "directory",
                 path);
  strcpy (sa.sun_path, path);
  b->notify_fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (b->notify_fd < 0)
    return fail (error, "socket: %s", g_strerror (errno));
  if (bind (b->notify_fd, (struct sockaddr *) &sa, sizeof sa) != 0)
    return fail (error, "cannot bind %s: %s", path, g_strerror (errno));
  /* The kernel then stamps each datagram with its sender, so stale messages from an
   * earlier daemon cannot count as this one's READY. */
  if (setsockopt (b->notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0)
    return fail (error, "SO_PASSCRED: %s", g_strerror (errno));
  return TRUE;
}

/* Reads one pending datagram; TRUE if it is READY=1 from pid. */
static gboolean
read_notify (Bench *b, GPid pid, gboolean *more)
{
  char buf[4096];
  union {
    struct cmsghdr align;
    char space[CMSG_SPACE (sizeof (struct ucred))];
  } control;
  struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
  struct msghdr msg = {
    .msg_iov = &iov,
    .msg_iovlen = 1,
    .msg_control = &control,
    .msg_controllen = sizeof control,
  };

  ssize_t n = recvmsg (b->notify_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  *more = n >= 0 || errno == EINTR;
  if (n < 0)
    return FALSE;
  buf[n] = '\0';

  pid_t sender = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c != NULL; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      struct ucred cred;
      memcpy (&cred, CMSG_DATA (c), sizeof cred);
      sender = cred.pid;
    }
  if (sender != pid)
    return FALSE;
  g_auto (GStrv) lines = g_strsplit (buf, "\n", -1);
  return g_strv_contains ((const char *const *) lines, "READY=1");
}

static void
drain_notify (Bench *b)
{
  gboolean more = TRUE;
  while (more)
    read_notify (b, 0, &more);
}

static gboolean
daemon_failed (Bench *b, const char *what, GError **error)
{
  g_autofree char *tail = log_tail (b->log_path, 15);
  return fail (error, "smartragd %s. Its last log lines:\n%s", what, tail);
}

static gboolean
wait_ready (Bench *b, gint64 *ready_ns, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + READY_TIMEOUT_US;

  for (;;) {
    gint64 left = deadline - g_get_monotonic_time ();
    if (left <= 0)
      return daemon_failed (b, "did not send READY=1 in time", error);
    struct pollfd p = { .fd = b->notify_fd, .events = POLLIN };
    /* Short slices so that a daemon dying before READY is noticed quickly. */
    int n = poll (&p, 1, (int) MIN (left / 1000 + 1, 20));
    gint64 woke = now_ns ();
    if (!check_interrupted (error))
      return FALSE;
    gboolean more = n > 0;
    while (more) {
      if (read_notify (b, b->daemon_pid, &more)) {
        *ready_ns = woke;
        return TRUE;
      }
    }
    int status;
    if (waitpid (b->daemon_pid, &status, WNOHANG) == b->daemon_pid) {
      b->daemon_pid = 0;
      g_autofree char *how = describe_status (status);
      g_autofree char *what = g_strdup_printf ("ended (%s) before it was ready", how);
      return daemon_failed (b, what, error);
    }
  }
}

static char **
daemon_environment (Bench *b)
{
  char **env = g_get_environ ();
  /* Our own service manager's settings must not leak into the daemon under test. */
  static const char *const drop[] = { "WATCHDOG_USEC", "WATCHDOG_PID",   "LISTEN_FDS",
                                      "LISTEN_PIDS",   "LISTEN_FDNAMES", "INVOCATION_ID" };
  for (guint i = 0; i < G_N_ELEMENTS (drop); i++)
    env = g_environ_unsetenv (env, drop[i]);
  g_autofree char *notify = g_build_filename (b->dir, "notify", NULL);
  env = g_environ_setenv (env, "NOTIFY_SOCKET", notify, TRUE);
  /* A daemon run from a build tree finds its parsing helper only through this. */
  if (b->extract_helper != NULL)
    env = g_environ_setenv (env, "SMARTRAG_EXTRACT_HELPER", b->extract_helper, TRUE);
  return env;
}

/* Starts smartragd on state_dir and measures fork → READY=1. */
static gboolean
start_daemon (Bench *b, const char *state_dir, double *ready_ms, GError **error)
{
  g_autofree char *address_arg = g_strdup_printf ("--address=%s", b->bus_address);
  g_autofree char *state_arg = g_strdup_printf ("--state-dir=%s", state_dir);
  g_autofree char *config_arg = g_strdup_printf ("--config=%s", b->config_path);
  char *argv[] = {
    b->daemon_path, address_arg, state_arg, config_arg, b->system_mode ? NULL : "--user", NULL
  };
  g_auto (GStrv) env = daemon_environment (b);

  int log_fd = open (b->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0)
    return fail (error, "cannot open %s: %s", b->log_path, g_strerror (errno));
  drain_notify (b);

  gint64 forked = now_ns ();
  gboolean ok = spawn (argv, env, log_fd, -1, &b->daemon_pid, error);
  close (log_fd);
  gint64 ready = 0;
  if (!ok || !wait_ready (b, &ready, error))
    return FALSE;
  if (ready_ms != NULL)
    *ready_ms = (double) (ready - forked) / 1e6;
  return TRUE;
}

static gboolean
stop_daemon (Bench *b, GError **error)
{
  int status = 0;
  GPid pid = b->daemon_pid;

  if (pid == 0)
    return TRUE;
  b->daemon_pid = 0;
  if (!terminate (pid, STOP_TIMEOUT_US, &status))
    return daemon_failed (b, "did not stop within 15 s of SIGTERM and was killed", error);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
    g_autofree char *how = describe_status (status);
    progress ("warning: smartragd stopped with %s instead of exit status 0", how);
    b->unclean_exits++;
  }
  return wait_name_released (b, error);
}

static void
settle (void)
{
  g_usleep (SETTLE_US);
}

/* ---- statistics ---- */

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double
percentile (GArray *sorted, double q)
{
  guint rank = (guint) ceil (q * sorted->len);
  return g_array_index (sorted, double, CLAMP (rank, 1, sorted->len) - 1);
}

/* ---- JSON output ---- */

/* A few lines of writer rather than json-glib, whose generator prints 18.693 as
 * 18.693000000000001: every figure here comes out with exactly three decimals. */
typedef struct {
  GString *out;
  guint depth;
  gboolean first; /* nothing written yet in the innermost container */
} Json;

static void
json_quote (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) text; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_printf (out, "\\%c", *p);
    else if (*p < 0x20)
      g_string_append_printf (out, "\\u%04x", *p);
    else
      g_string_append_c (out, (char) *p);
  }
  g_string_append_c (out, '"');
}

static void
json_newline (Json *json)
{
  g_string_append_c (json->out, '\n');
  for (guint i = 0; i < json->depth; i++)
    g_string_append (json->out, "  ");
}

/* Starts a value: a member called name, or an array element when name is NULL. */
static void
json_key (Json *json, const char *name)
{
  if (json->depth > 0) {
    if (!json->first)
      g_string_append_c (json->out, ',');
    json_newline (json);
  }
  json->first = FALSE;
  if (name != NULL) {
    json_quote (json->out, name);
    g_string_append (json->out, ": ");
  }
}

static void
json_open (Json *json, const char *name, char bracket)
{
  json_key (json, name);
  g_string_append_c (json->out, bracket);
  json->depth++;
  json->first = TRUE;
}

static void
json_close (Json *json, char bracket)
{
  json->depth--;
  if (!json->first)
    json_newline (json);
  g_string_append_c (json->out, bracket);
  json->first = FALSE;
}

static void
json_begin_object (Json *json, const char *name)
{
  json_open (json, name, '{');
}

static void
json_end_object (Json *json)
{
  json_close (json, '}');
}

static void
add_number (Json *json, const char *name, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  json_key (json, name);
  g_string_append (json->out, g_ascii_formatd (buf, sizeof buf, "%.3f", value));
}

static void
add_int (Json *json, const char *name, gint64 value)
{
  json_key (json, name);
  g_string_append_printf (json->out, "%" G_GINT64_FORMAT, value);
}

static void
add_string (Json *json, const char *name, const char *value)
{
  json_key (json, name);
  json_quote (json->out, value);
}

static void
add_bool (Json *json, const char *name, gboolean value)
{
  json_key (json, name);
  g_string_append (json->out, value ? "true" : "false");
}

static void
add_latency (Json *json, const char *name, GArray *samples)
{
  g_array_sort (samples, compare_doubles);
  double sum = 0;
  for (guint i = 0; i < samples->len; i++)
    sum += g_array_index (samples, double, i);

  json_begin_object (json, name);
  add_int (json, "calls", samples->len);
  add_number (json, "p50", percentile (samples, 0.50));
  add_number (json, "p95", percentile (samples, 0.95));
  add_number (json, "p99", percentile (samples, 0.99));
  add_number (json, "p999", percentile (samples, 0.999));
  add_number (json, "max", g_array_index (samples, double, samples->len - 1));
  add_number (json, "mean", sum / samples->len);
  json_end_object (json);
}

static double
load_average (void)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return -1;
  return g_ascii_strtod (text, NULL);
}

static char *
cpu_model (void)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/cpuinfo", &text, NULL, NULL))
    return g_strdup ("unknown");
  const char *line = strstr (text, "model name");
  const char *colon = line ? strchr (line, ':') : NULL;
  if (colon == NULL)
    return g_strdup ("unknown");
  g_autofree char *model = g_strndup (colon + 1, strcspn (colon + 1, "\n"));
  return g_strdup (g_strstrip (model));
}

static const char *
filesystem_name (const char *dir)
{
  static const struct {
    long magic;
    const char *name;
  } known[] = {
    { 0xEF53, "ext4" },     { 0x01021994, "tmpfs" },   { 0x9123683E, "btrfs" },
    { 0x58465342, "xfs" },  { 0x794c7630, "overlay" }, { 0x2fc12fc1, "zfs" },
    { 0xF2F52010, "f2fs" },
  };
  struct statfs st;
  if (statfs (dir, &st) != 0)
    return "unknown";
  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    if ((long) st.f_type == known[i].magic)
      return known[i].name;
  return "other";
}

static void
add_machine (Json *json, Bench *b)
{
  struct utsname uts;
  g_autofree char *model = cpu_model ();

  json_begin_object (json, "machine");
  add_int (json, "nproc", sysconf (_SC_NPROCESSORS_ONLN));
  add_string (json, "cpu", model);
  add_int (json, "memory_kb", (gint64) sysconf (_SC_PHYS_PAGES) * sysconf (_SC_PAGESIZE) / 1024);
  add_string (json, "kernel", uname (&uts) == 0 ? uts.release : "unknown");
  add_string (json, "state_filesystem", filesystem_name (b->dir));
  add_number (json, "load_average_before", b->load_before);
  add_number (json, "load_average_after", b->load_after);
  json_end_object (json);
}

/* ---- generated text ---- */

/* Function words take the top ranks, as in English; the rest are made-up words of two to
 * four syllables, so that the text has an English-like spread of common and rare words
 * without shipping a corpus. */
static const char *const function_words[] = {
  "the",   "of",   "and",   "to",  "in",   "a",   "is",    "that", "for",  "it",
  "as",    "was",  "with",  "be",  "by",   "on",  "not",   "this", "are",  "or",
  "from",  "at",   "which", "but", "have", "an",  "had",   "they", "you",  "were",
  "their", "one",  "all",   "we",  "can",  "has", "there", "been", "if",   "more",
  "when",  "will", "would", "who", "so",   "no",  "into",  "than", "them", "these",
};

static const char *const syllables[] = {
  "ka",  "lo",  "mi",  "ren", "sta", "tor", "vel", "an",  "dur", "is",  "po",  "gra", "men", "ther",
  "qui", "sol", "bar", "nek", "tri", "zu",  "fal", "hem", "or",  "pla", "ses", "ul",  "wen", "cro",
  "di",  "ga",  "ble", "ton", "mar", "ep",  "sin", "ro",  "ta",  "ven", "ik",  "lu",
};

static void
vocabulary_init (Vocabulary *v, GRand *rand)
{
  guint n_function = G_N_ELEMENTS (function_words);
  double sum = 0;

  v->n = VOCABULARY;
  v->words = g_new0 (char *, v->n + 1);
  v->cumulative = g_new (double, v->n);
  for (guint i = 0; i < v->n; i++) {
    if (i < n_function) {
      v->words[i] = g_strdup (function_words[i]);
    } else {
      GString *word = g_string_new (NULL);
      gint32 parts = g_rand_int_range (rand, 2, 5);
      for (gint32 p = 0; p < parts; p++)
        g_string_append (word, syllables[g_rand_int_range (rand, 0, G_N_ELEMENTS (syllables))]);
      v->words[i] = g_string_free (word, FALSE);
    }
    /* Zipf's law with the exponent usually measured for English. */
    sum += 1.0 / pow (i + 1, 1.07);
    v->cumulative[i] = sum;
  }
}

/* A word by Zipf rank, from @first on; the search is over the cumulative weights. */
static const char *
vocabulary_pick (Vocabulary *v, GRand *rand, guint first)
{
  double low = first > 0 ? v->cumulative[first - 1] : 0;
  double x = g_rand_double_range (rand, low, v->cumulative[v->n - 1]);
  guint lo = first, hi = v->n - 1;
  while (lo < hi) {
    guint mid = (lo + hi) / 2;
    if (v->cumulative[mid] < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return v->words[lo];
}

static void
append_sentence (GString *text, Vocabulary *v, GRand *rand)
{
  gint32 words = g_rand_int_range (rand, 6, 19);
  for (gint32 i = 0; i < words; i++) {
    const char *word = vocabulary_pick (v, rand, 0);
    if (i == 0) {
      g_string_append_c (text, g_ascii_toupper (word[0]));
      g_string_append (text, word + 1);
      continue;
    }
    g_string_append (text, i > 2 && g_rand_int_range (rand, 0, 9) == 0 ? ", " : " ");
    g_string_append (text, word);
  }
  g_string_append (text, ". ");
}

/* Paragraphs of three to seven sentences until the text holds about @bytes bytes. */
static char *
generate_document (Bench *b, gsize bytes)
{
  GString *text = g_string_sized_new (bytes + 256);
  while (text->len < bytes) {
    gint32 sentences = g_rand_int_range (b->rand, 3, 8);
    for (gint32 i = 0; i < sentences; i++)
      append_sentence (text, &b->vocabulary, b->rand);
    g_string_truncate (text, text->len - 1);
    g_string_append (text, "\n\n");
  }
  return g_string_free (text, FALSE);
}

/* Keyword queries: two to four content words, the kind a search box gets. */
static char *
generate_keywords (Bench *b)
{
  GString *query = g_string_new (NULL);
  gint32 words = g_rand_int_range (b->rand, 2, 5);
  for (gint32 i = 0; i < words; i++)
    g_string_append_printf (
        query, "%s%s", i ? " " : "",
        vocabulary_pick (&b->vocabulary, b->rand, G_N_ELEMENTS (function_words)));
  return g_string_free (query, FALSE);
}

/* Questions as people type them: their function words match nearly every chunk. */
static char *
generate_question (Bench *b)
{
  guint first = G_N_ELEMENTS (function_words);
  return g_strdup_printf ("what is the %s of the %s",
                          vocabulary_pick (&b->vocabulary, b->rand, first),
                          vocabulary_pick (&b->vocabulary, b->rand, first));
}

/* ---- probing the daemon while it works ---- */

/* A thread with its own connection that takes turns calling Peer.Ping and GetHealth
 * until told to stop: its figures show how long the main loop keeps callers waiting. */
typedef struct {
  const char *address;
  gint64 timeout_us;
  gint stop;
  GThread *thread;
  GArray *ping_ms;
  GArray *health_ms;
  guint health_not_ok;
  GError *error;
} Prober;

static gboolean
probe_once (sd_bus *bus, Prober *p, GError **error)
{
  g_autoptr (sd_bus_message) ping = NULL;
  g_autoptr (sd_bus_message) health = NULL;
  g_autoptr (sd_bus_message) ping_reply = NULL;
  g_autoptr (sd_bus_message) health_reply = NULL;
  const char *status = NULL;
  double ping_ms, health_ms;

  if (!new_call (bus, BUS_PATH, "org.freedesktop.DBus.Peer", "Ping", &ping, error)
      || !call (ping, p->timeout_us, &ping_reply, &ping_ms, error)
      || !new_call (bus, BUS_PATH, BUS_NAME, "GetHealth", &health, error)
      || !call (health, p->timeout_us, &health_reply, &health_ms, error))
    return FALSE;
  int r = sd_bus_message_read (health_reply, "s", &status);
  if (r < 0)
    return fail (error, "GetHealth: unexpected reply: %s", g_strerror (-r));
  if (!g_str_equal (status, "ok"))
    p->health_not_ok++;
  g_array_append_val (p->ping_ms, ping_ms);
  g_array_append_val (p->health_ms, health_ms);
  return TRUE;
}

static gpointer
probe_thread (gpointer data)
{
  Prober *p = data;
  g_autoptr (sd_bus) bus = NULL;

  if (!connect_bus (p->address, &bus, &p->error))
    return NULL;
  while (!g_atomic_int_get (&p->stop) && !interrupted) {
    if (!probe_once (bus, p, &p->error))
      return NULL;
    g_usleep (PROBE_INTERVAL_US);
  }
  return NULL;
}

static void
prober_start (Prober *p, Bench *b, gint64 timeout_us)
{
  *p = (Prober){
    .address = b->bus_address,
    .timeout_us = timeout_us,
    .ping_ms = g_array_new (FALSE, FALSE, sizeof (double)),
    .health_ms = g_array_new (FALSE, FALSE, sizeof (double)),
  };
  p->thread = g_thread_new ("prober", probe_thread, p);
}

/* Stops the thread; FALSE with its error if a probe failed. */
static gboolean
prober_stop (Prober *p, GError **error)
{
  g_atomic_int_set (&p->stop, 1);
  g_thread_join (g_steal_pointer (&p->thread));
  if (p->error != NULL) {
    g_propagate_prefixed_error (error, g_steal_pointer (&p->error), "probing the daemon: ");
    return FALSE;
  }
  if (p->health_ms->len == 0)
    return fail (error, "no probe finished while the daemon worked");
  return TRUE;
}

static void
prober_clear (Prober *p)
{
  if (p->thread != NULL) {
    g_atomic_int_set (&p->stop, 1);
    g_thread_join (g_steal_pointer (&p->thread));
  }
  g_clear_error (&p->error);
  g_clear_pointer (&p->ping_ms, g_array_unref);
  g_clear_pointer (&p->health_ms, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Prober, prober_clear)

/* ---- session, ingest ---- */

static gboolean
create_session (Bench *b, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  const char *path;

  if (!new_call (b->client, BUS_PATH, BUS_NAME, "CreateSession", &m, error))
    return FALSE;
  /* expire_after 0: a long run must not lose its session to the default expiry. */
  int r = sd_bus_message_append (m, "a{sv}", 2, "title", "s", "Documents benchmark", "expire_after",
                                 "u", 0);
  if (r < 0)
    return fail (error, "cannot build CreateSession: %s", g_strerror (-r));
  if (!call (m, CALL_TIMEOUT_US, &reply, NULL, error))
    return FALSE;
  if ((r = sd_bus_message_read (reply, "o", &path)) < 0)
    return fail (error, "CreateSession: unexpected reply: %s", g_strerror (-r));
  if (!g_str_has_prefix (path, SESSION_PATH_PREFIX))
    return fail (error, "CreateSession returned %s", path);
  b->session_path = g_strdup (path);
  b->session_id = g_strdup (path + strlen (SESSION_PATH_PREFIX));
  return TRUE;
}

typedef struct {
  GPtrArray *texts;  /* generated before the clock starts */
  GHashTable *added; /* document ids AddText returned */
  GHashTable *ready; /* document ids that reached "ready" */
  GPtrArray *slots;  /* pending calls and the signal match, released together */
  GPtrArray *calls;  /* one AddCall per AddText sent */
  GArray *add_ms;    /* AddText call to reply: how long storing keeps a client waiting */
  guint sent;
  guint in_flight;
  GError *error; /* the first failure */
  gint64 last_ready_ns;
} Ingest;

static void ingest_fail (Ingest *in, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
ingest_fail (Ingest *in, const char *format, ...)
{
  if (in->error != NULL)
    return;
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  in->error = g_error_new_literal (bench_error_quark (), 0, message);
}

static int
on_document_changed (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Ingest *in = userdata;
  const char *id, *state, *message;
  double progress;
  int r = sd_bus_message_read (m, "ssds", &id, &state, &progress, &message);

  if (r < 0)
    ingest_fail (in, "DocumentChanged: unexpected arguments: %s", g_strerror (-r));
  else if (g_str_equal (state, "failed"))
    ingest_fail (in, "document %s failed: %s", id, message);
  else if (g_str_equal (state, "ready") && g_hash_table_add (in->ready, g_strdup (id)))
    in->last_ready_ns = now_ns ();
  return 0;
}

typedef struct {
  Ingest *in;
  gint64 sent_ns;
} AddCall;

static int
on_added (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  AddCall *add = userdata;
  Ingest *in = add->in;
  const sd_bus_error *e = sd_bus_message_get_error (reply);
  const char *id;
  double ms = (double) (now_ns () - add->sent_ns) / 1e6;

  in->in_flight--;
  g_array_append_val (in->add_ms, ms);
  if (e != NULL) {
    ingest_fail (in, "AddText failed: %s", e->message ? e->message : e->name);
    return 0;
  }
  int r = sd_bus_message_read (reply, "s", &id);
  if (r < 0)
    ingest_fail (in, "AddText: unexpected reply: %s", g_strerror (-r));
  else
    g_hash_table_add (in->added, g_strdup (id));
  return 0;
}

static void
slot_unref (gpointer slot)
{
  sd_bus_slot_unref (slot);
}

static gboolean
send_next (Bench *b, Ingest *in, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  sd_bus_slot *slot = NULL;
  g_autofree char *title = g_strdup_printf ("Benchmark document %u", in->sent + 1);
  AddCall *add = g_new0 (AddCall, 1);
  add->in = in;
  g_ptr_array_add (in->calls, add);

  if (!new_call (b->client, b->session_path, DOCUMENT_INTERFACE, "AddText", &m, error))
    return FALSE;
  int r = sd_bus_message_append (m, "ssa{sv}", title, (const char *) in->texts->pdata[in->sent], 0);
  if (r < 0)
    return fail (error, "cannot build AddText: %s", g_strerror (-r));
  add->sent_ns = now_ns ();
  /* A generous timeout: a reply held up by a busy main loop is a finding to report. */
  r = sd_bus_call_async (NULL, &slot, m, on_added, add, SLOW_CALL_TIMEOUT_US);
  if (r < 0)
    return fail (error, "cannot send AddText: %s", g_strerror (-r));
  g_ptr_array_add (in->slots, slot);
  in->sent++;
  in->in_flight++;
  return TRUE;
}

static gboolean
ingest_done (Ingest *in)
{
  if (g_hash_table_size (in->added) < in->texts->len)
    return FALSE;
  GHashTableIter iter;
  gpointer id;
  g_hash_table_iter_init (&iter, in->added);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    if (!g_hash_table_contains (in->ready, id))
      return FALSE;
  return TRUE;
}

/* Sends every text, a few calls in flight at a time, and dispatches replies and
 * DocumentChanged signals until every document is ready. */
static gboolean
ingest_loop (Bench *b, Ingest *in, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + INGEST_TIMEOUT_US;

  while (!ingest_done (in)) {
    if (!check_interrupted (error))
      return FALSE;
    if (in->error != NULL) {
      g_propagate_error (error, g_steal_pointer (&in->error));
      return FALSE;
    }
    if (g_get_monotonic_time () >= deadline)
      return fail (error, "%u of %u documents were ready after %d minutes",
                   g_hash_table_size (in->ready), in->texts->len,
                   (int) (INGEST_TIMEOUT_US / G_USEC_PER_SEC / 60));
    while (in->in_flight < ADD_WINDOW && in->sent < in->texts->len)
      if (!send_next (b, in, error))
        return FALSE;
    int r = sd_bus_process (b->client, NULL);
    if (r < 0)
      return fail (error, "the bus connection failed: %s", g_strerror (-r));
    if (r == 0 && (r = sd_bus_wait (b->client, 100 * 1000)) < 0 && r != -EINTR)
      return fail (error, "waiting on the bus failed: %s", g_strerror (-r));
  }
  return TRUE;
}

static void
ingest_clear (Ingest *in)
{
  g_clear_pointer (&in->slots, g_ptr_array_unref);
  g_clear_pointer (&in->calls, g_ptr_array_unref);
  g_clear_pointer (&in->add_ms, g_array_unref);
  g_clear_pointer (&in->texts, g_ptr_array_unref);
  g_clear_pointer (&in->added, g_hash_table_unref);
  g_clear_pointer (&in->ready, g_hash_table_unref);
  g_clear_error (&in->error);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Ingest, ingest_clear)

typedef struct {
  guint documents;
  guint64 bytes;
  double seconds;
  guint64 chunks_after;
  GArray *ping_ms;
  GArray *health_ms;
  GArray *add_ms;
  guint health_not_ok;
} IngestResult;

static void
ingest_result_clear (IngestResult *r)
{
  g_clear_pointer (&r->ping_ms, g_array_unref);
  g_clear_pointer (&r->health_ms, g_array_unref);
  g_clear_pointer (&r->add_ms, g_array_unref);
}

/* Sums the chunks of the session's documents, checking that every one is ready. */
static gboolean
count_chunks (Bench *b, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  guint64 documents = 0, chunks = 0;
  int r;

  if (!new_call (b->client, b->session_path, DOCUMENT_INTERFACE, "ListDocuments", &m, error)
      || !call (m, CALL_TIMEOUT_US, &reply, NULL, error))
    return FALSE;
  if ((r = sd_bus_message_enter_container (reply, 'a', "a{sv}")) < 0)
    return fail (error, "ListDocuments: unexpected reply: %s", g_strerror (-r));
  while ((r = sd_bus_message_enter_container (reply, 'a', "{sv}")) > 0) {
    const char *key, *state = "";
    guint32 n = 0;
    while ((r = sd_bus_message_enter_container (reply, 'e', "sv")) > 0) {
      if ((r = sd_bus_message_read (reply, "s", &key)) < 0)
        break;
      if (g_str_equal (key, "state"))
        r = sd_bus_message_read (reply, "v", "s", &state);
      else if (g_str_equal (key, "chunks"))
        r = sd_bus_message_read (reply, "v", "u", &n);
      else
        r = sd_bus_message_skip (reply, "v");
      if (r < 0 || (r = sd_bus_message_exit_container (reply)) < 0)
        break;
    }
    if (r < 0 || (r = sd_bus_message_exit_container (reply)) < 0)
      break;
    if (!g_str_equal (state, "ready"))
      return fail (error, "a document is '%s' after the ingest, not ready", state);
    documents++;
    chunks += n;
  }
  if (r < 0)
    return fail (error, "ListDocuments: unexpected reply: %s", g_strerror (-r));
  b->documents = documents;
  b->chunks = chunks;
  return TRUE;
}

/* Adds @total bytes of text in documents of @document_bytes and times from the first
 * AddText to the last document reaching "ready", while a prober measures the bus. */
static gboolean
measure_ingest (Bench *b, guint64 total, gsize document_bytes, IngestResult *out, GError **error)
{
  g_auto (Ingest) in = {
    .texts = g_ptr_array_new_with_free_func (g_free),
    .added = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    .ready = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    .slots = g_ptr_array_new_with_free_func (slot_unref),
    .calls = g_ptr_array_new_with_free_func (g_free),
    .add_ms = g_array_new (FALSE, FALSE, sizeof (double)),
  };
  g_auto (Prober) prober = { 0 };
  sd_bus_slot *match = NULL;

  for (guint64 made = 0; made < total;) {
    char *text = generate_document (b, MIN (document_bytes, total - made));
    made += strlen (text);
    out->bytes += strlen (text);
    g_ptr_array_add (in.texts, text);
  }
  out->documents = in.texts->len;
  int r = sd_bus_match_signal (b->client, &match, BUS_NAME, b->session_path, DOCUMENT_INTERFACE,
                               "DocumentChanged", on_document_changed, &in);
  if (r < 0)
    return fail (error, "cannot listen to DocumentChanged: %s", g_strerror (-r));
  g_ptr_array_add (in.slots, match);

  prober_start (&prober, b, SLOW_CALL_TIMEOUT_US);
  gint64 start = now_ns ();
  gboolean ok = ingest_loop (b, &in, error);
  if (!prober_stop (&prober, ok ? error : NULL) || !ok)
    return FALSE;
  out->seconds = (double) (in.last_ready_ns - start) / 1e9;
  out->ping_ms = g_steal_pointer (&prober.ping_ms);
  out->health_ms = g_steal_pointer (&prober.health_ms);
  out->health_not_ok = prober.health_not_ok;
  out->add_ms = g_steal_pointer (&in.add_ms);
  b->text_bytes += out->bytes;
  if (!count_chunks (b, error))
    return FALSE;
  out->chunks_after = b->chunks;
  return TRUE;
}

/* ---- search ---- */

static gboolean
search (Bench *b, const char *text, gint64 timeout_us, double *ms, guint *hits, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  int r;

  if (!new_call (b->client, b->session_path, QUERY_INTERFACE, "Search", &m, error))
    return FALSE;
  if ((r = sd_bus_message_append (m, "sa{sv}", text, 1, "k", "u", SEARCH_K)) < 0)
    return fail (error, "cannot build Search: %s", g_strerror (-r));
  if (!call (m, timeout_us, &reply, ms, error))
    return FALSE;
  *hits = 0;
  if ((r = sd_bus_message_enter_container (reply, 'a', "a{sv}")) < 0)
    return fail (error, "Search: unexpected reply: %s", g_strerror (-r));
  while ((r = sd_bus_message_skip (reply, "a{sv}")) > 0)
    (*hits)++;
  if (r < 0)
    return fail (error, "Search: unexpected reply: %s", g_strerror (-r));
  return TRUE;
}

/* The daemon's full-text half, run by the benchmark on its own read-only connection:
 * the same FTS5 query string and the same statement, cut at k. */
typedef struct {
  sqlite3 *db;
  sqlite3_stmt *stmt;
} FullText;

static void
full_text_clear (FullText *f)
{
  g_clear_pointer (&f->stmt, sqlite3_finalize);
  g_clear_pointer (&f->db, sqlite3_close);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FullText, full_text_clear)

static gboolean
full_text_open (Bench *b, FullText *f, GError **error)
{
  g_autofree char *path = g_build_filename (b->state_dir, DATABASE_FILENAME, NULL);
  int rc = sqlite3_open_v2 (path, &f->db, SQLITE_OPEN_READONLY, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (
        f->db,
        "SELECT c.id, c.document_id, d.filename, c.ordinal, coalesce(c.page, 0), c.heading,"
        " c.text, bm25(chunks_fts) AS rank"
        " FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid"
        " JOIN documents d ON d.id = c.document_id"
        " WHERE chunks_fts MATCH ?1 AND c.session_id = ?2"
        " ORDER BY rank, c.text, c.id LIMIT ?3",
        -1, &f->stmt, NULL);
  if (rc != SQLITE_OK)
    return fail (error, "cannot query %s: %s", path,
                 f->db ? sqlite3_errmsg (f->db) : sqlite3_errstr (rc));
  return TRUE;
}

/* As the daemon builds it: each folded word quoted, joined by OR. */
static char *
fts_query (const char *text)
{
  GString *query = g_string_new (NULL);
  g_auto (GStrv) words = g_str_tokenize_and_fold (text, NULL, NULL);
  for (guint i = 0; words[i] != NULL; i++) {
    g_auto (GStrv) parts = g_strsplit (words[i], "\"", -1);
    g_autofree char *escaped = g_strjoinv ("\"\"", parts);
    g_string_append_printf (query, "%s\"%s\"", query->len ? " OR " : "", escaped);
  }
  return g_string_free (query, FALSE);
}

static gboolean
full_text_search (Bench *b, FullText *f, const char *text, double *ms, guint *hits, GError **error)
{
  gint64 start = now_ns ();
  g_autofree char *match = fts_query (text);
  int rc;

  sqlite3_reset (f->stmt);
  sqlite3_bind_text (f->stmt, 1, match, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (f->stmt, 2, b->session_id, -1, SQLITE_STATIC);
  sqlite3_bind_int (f->stmt, 3, SEARCH_K);
  *hits = 0;
  while ((rc = sqlite3_step (f->stmt)) == SQLITE_ROW) {
    /* Read what a hit carries, as the daemon does. */
    for (int c = 0; c < 8; c++)
      (void) sqlite3_column_text (f->stmt, c);
    (*hits)++;
  }
  *ms = (double) (now_ns () - start) / 1e6;
  if (rc != SQLITE_DONE)
    return fail (error, "full-text query for '%s': %s", text, sqlite3_errmsg (f->db));
  return TRUE;
}

static gboolean
ping (Bench *b, double *ms, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  return new_call (b->client, BUS_PATH, "org.freedesktop.DBus.Peer", "Ping", &m, error)
         && call (m, CALL_TIMEOUT_US, &reply, ms, error);
}

typedef enum {
  RUN_SEARCH,
  RUN_FULL_TEXT,
  RUN_PING,
  N_RUNS,
} RunKind;

static const char *const run_names[N_RUNS] = {
  [RUN_SEARCH] = "search_hybrid_over_bus",
  [RUN_FULL_TEXT] = "fts5_only_in_process",
  [RUN_PING] = "ping_baseline",
};

typedef struct {
  GArray *ms[N_RUNS];
  guint64 hits[N_RUNS];
  guint empty[N_RUNS]; /* queries that found nothing */
} QueryRun;

static void
query_run_init (QueryRun *q)
{
  for (int k = 0; k < N_RUNS; k++)
    q->ms[k] = g_array_new (FALSE, FALSE, sizeof (double));
}

static void
query_run_clear (QueryRun *q)
{
  for (int k = 0; k < N_RUNS; k++)
    g_clear_pointer (&q->ms[k], g_array_unref);
}

static gboolean
run_one (Bench *b, FullText *f, RunKind kind, const char *text, QueryRun *out, GError **error)
{
  double ms = 0;
  guint hits = 0;
  gboolean ok = FALSE;

  switch (kind) {
  case RUN_SEARCH:
    ok = search (b, text, CALL_TIMEOUT_US, &ms, &hits, error);
    break;
  case RUN_FULL_TEXT:
    ok = full_text_search (b, f, text, &ms, &hits, error);
    break;
  case RUN_PING:
    ok = ping (b, &ms, error);
    hits = 1;
    break;
  case N_RUNS:
    g_assert_not_reached ();
  }
  if (!ok || out == NULL)
    return ok;
  g_array_append_val (out->ms[kind], ms);
  out->hits[kind] += hits;
  if (hits == 0)
    out->empty[kind]++;
  return TRUE;
}

/* Hybrid Search, the FTS5 baseline and Ping take turns in rotating order for each query,
 * so that all three see the same machine at the same moment. */
static gboolean
measure_queries (Bench *b, FullText *f, GPtrArray *queries, QueryRun *out, GError **error)
{
  for (guint i = 0; i < MIN (WARMUP_QUERIES, queries->len); i++)
    for (int k = 0; k < N_RUNS; k++)
      if (!run_one (b, f, k, queries->pdata[i], NULL, error))
        return FALSE;
  for (guint i = 0; i < queries->len; i++) {
    if (!check_interrupted (error))
      return FALSE;
    for (int j = 0; j < N_RUNS; j++)
      if (!run_one (b, f, (i + j) % N_RUNS, queries->pdata[i], out, error))
        return FALSE;
  }
  return TRUE;
}

/* ---- one session size ---- */

typedef struct {
  double search_ms;
  guint hits;
  double probe_max_ms; /* the slowest Ping or GetHealth answered while this Search ran */
  guint probes;
} FirstSearch;

typedef struct {
  guint64 documents;
  guint64 chunks;
  guint64 index_file_bytes;
  guint64 rss_before_kb;     /* restarted daemon, nothing searched yet */
  guint64 rss_after_load_kb; /* after the first Search loaded the saved index */
  FirstSearch load;
  FirstSearch rebuild;
  QueryRun keywords;
  QueryRun questions;
} SizeResult;

static void
size_result_clear (SizeResult *s)
{
  query_run_clear (&s->keywords);
  query_run_clear (&s->questions);
}

/* The first Search of a session loads or rebuilds its vector index on the daemon's main
 * loop; a prober alongside shows how long everyone else waits meanwhile. */
static gboolean
first_search (Bench *b, const char *text, FirstSearch *out, GError **error)
{
  g_auto (Prober) prober = { 0 };
  prober_start (&prober, b, SLOW_CALL_TIMEOUT_US);
  /* Let the prober connect and settle into its rhythm before the Search starts. */
  g_usleep (50 * 1000);
  gboolean ok = search (b, text, SLOW_CALL_TIMEOUT_US, &out->search_ms, &out->hits, error);
  g_usleep (20 * 1000);
  if (!prober_stop (&prober, ok ? error : NULL) || !ok)
    return FALSE;
  /* A stall delays whichever call is in flight, Ping or GetHealth: take the slower. */
  g_array_sort (prober.health_ms, compare_doubles);
  g_array_sort (prober.ping_ms, compare_doubles);
  out->probe_max_ms = MAX (g_array_index (prober.health_ms, double, prober.health_ms->len - 1),
                           g_array_index (prober.ping_ms, double, prober.ping_ms->len - 1));
  out->probes = prober.health_ms->len;
  return TRUE;
}

static char *
index_file (Bench *b)
{
  g_autofree char *name = g_strconcat (b->session_id, ".hnsw", NULL);
  return g_build_filename (b->state_dir, "index", name, NULL);
}

/* At the session's current size: the saved index's size, the first Search from it and
 * the memory it takes, every query, then the first Search after losing the file. */
static gboolean
measure_size (Bench *b, GPtrArray *keywords, GPtrArray *questions, SizeResult *out, GError **error)
{
  g_autofree char *path = index_file (b);
  GStatBuf st;

  out->documents = b->documents;
  out->chunks = b->chunks;
  /* A stop saves the index: what a restart finds. */
  if (!stop_daemon (b, error))
    return FALSE;
  if (g_stat (path, &st) != 0)
    return fail (error, "the daemon saved no vector index at %s: %s", path, g_strerror (errno));
  out->index_file_bytes = (guint64) st.st_size;

  progress ("%" G_GUINT64_FORMAT " chunks: first Search from the saved index", b->chunks);
  if (!start_daemon (b, b->state_dir, NULL, error))
    return FALSE;
  settle ();
  if (!read_rss_kb (b->daemon_pid, &out->rss_before_kb, error)
      || !first_search (b, keywords->pdata[0], &out->load, error))
    return FALSE;
  settle ();
  if (!read_rss_kb (b->daemon_pid, &out->rss_after_load_kb, error))
    return FALSE;

  progress ("%" G_GUINT64_FORMAT " chunks: %u keyword queries and %u questions", b->chunks,
            keywords->len, questions->len);
  g_auto (FullText) full_text = { 0 };
  if (!full_text_open (b, &full_text, error)
      || !measure_queries (b, &full_text, keywords, &out->keywords, error)
      || !measure_queries (b, &full_text, questions, &out->questions, error))
    return FALSE;
  full_text_clear (&full_text);

  progress ("%" G_GUINT64_FORMAT " chunks: first Search without the index file", b->chunks);
  if (!stop_daemon (b, error))
    return FALSE;
  if (g_unlink (path) != 0)
    return fail (error, "cannot remove %s: %s", path, g_strerror (errno));
  return start_daemon (b, b->state_dir, NULL, error)
         && first_search (b, keywords->pdata[0], &out->rebuild, error);
}

/* ---- the report ---- */

typedef struct {
  IngestResult ingest;
  IngestResult fill;
  SizeResult small;
  SizeResult large;
  gboolean has_large;
} Results;

static void
results_init (Results *r)
{
  query_run_init (&r->small.keywords);
  query_run_init (&r->small.questions);
  query_run_init (&r->large.keywords);
  query_run_init (&r->large.questions);
}

static void
results_clear (Results *r)
{
  ingest_result_clear (&r->ingest);
  ingest_result_clear (&r->fill);
  size_result_clear (&r->small);
  size_result_clear (&r->large);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Results, results_clear)

static double
percentile_of (GArray *samples, double q)
{
  g_array_sort (samples, compare_doubles);
  return percentile (samples, q);
}

static void
add_ingest (Json *json, const char *name, const char *state, IngestResult *r)
{
  guint slow = 0;
  for (guint i = 0; i < r->health_ms->len; i++)
    slow += g_array_index (r->health_ms, double, i) >= TARGET_HEALTH_P99_MS;

  json_begin_object (json, name);
  add_string (json, "state", state);
  add_int (json, "documents", r->documents);
  add_int (json, "text_bytes", (gint64) r->bytes);
  add_number (json, "seconds", r->seconds);
  add_number (json, "mb_per_second", r->bytes / 1e6 / r->seconds);
  add_int (json, "session_chunks_after", (gint64) r->chunks_after);
  json_begin_object (json, "latency_ms_meanwhile");
  add_latency (json, "ping_baseline", r->ping_ms);
  add_latency (json, "get_health", r->health_ms);
  add_latency (json, "add_text", r->add_ms);
  json_end_object (json);
  add_int (json, "get_health_at_or_over_5ms", slow);
  add_int (json, "get_health_not_ok", r->health_not_ok);
  json_end_object (json);
}

static void
add_first_search (Json *json, const char *name, FirstSearch *f)
{
  json_begin_object (json, name);
  add_number (json, "search_ms", f->search_ms);
  add_int (json, "hits", f->hits);
  add_number (json, "probe_max_ms_meanwhile", f->probe_max_ms);
  add_int (json, "probes_meanwhile", f->probes);
  json_end_object (json);
}

static void
add_query_run (Json *json, const char *name, const char *what, QueryRun *q)
{
  json_begin_object (json, name);
  add_string (json, "queries", what);
  for (int k = 0; k < N_RUNS; k++) {
    json_begin_object (json, run_names[k]);
    add_latency (json, "latency_ms", q->ms[k]);
    if (k != RUN_PING) {
      add_number (json, "hits_mean", (double) q->hits[k] / MAX (q->ms[k]->len, 1));
      add_int (json, "queries_without_hits", q->empty[k]);
    }
    json_end_object (json);
  }
  json_end_object (json);
}

static void
add_size (Json *json, SizeResult *s)
{
  g_autofree char *name = g_strdup_printf ("chunks_%" G_GUINT64_FORMAT, s->chunks);
  json_begin_object (json, name);
  add_int (json, "documents", (gint64) s->documents);
  add_int (json, "chunks", (gint64) s->chunks);
  add_int (json, "index_file_bytes", (gint64) s->index_file_bytes);
  add_number (json, "index_file_mb", s->index_file_bytes / 1048576.0);
  add_int (json, "rss_kb_before_first_search", (gint64) s->rss_before_kb);
  add_int (json, "rss_kb_after_index_loaded", (gint64) s->rss_after_load_kb);
  add_number (json, "index_rss_growth_mb",
              ((double) s->rss_after_load_kb - (double) s->rss_before_kb) / 1024.0);
  json_begin_object (json, "first_search");
  add_first_search (json, "from_saved_index", &s->load);
  add_first_search (json, "rebuilt_from_database", &s->rebuild);
  json_end_object (json);
  add_query_run (json, "keywords", "two to four content words", &s->keywords);
  add_query_run (json, "questions", "'what is the X of the Y'", &s->questions);
  json_end_object (json);
}

static void
add_memory (Json *json, SizeResult *s)
{
  double scale = 100000.0 / (double) MAX (s->chunks, 1);
  json_begin_object (json, "index_memory_per_100k_chunks");
  add_int (json, "measured_at_chunks", (gint64) s->chunks);
  add_number (json, "rss_growth_mb",
              ((double) s->rss_after_load_kb - (double) s->rss_before_kb) / 1024.0 * scale);
  add_number (json, "index_file_mb", s->index_file_bytes / 1048576.0 * scale);
  json_end_object (json);
}

static gboolean
add_target (Json *json, const char *name, const char *measured_as, gboolean measured, double value,
            double limit, gboolean at_least, const char *unit)
{
  gboolean pass = measured && (at_least ? value >= limit : value < limit);
  json_begin_object (json, name);
  add_string (json, "measured_as", measured_as);
  if (measured)
    add_number (json, "value", value);
  else
    add_string (json, "value", "not measured");
  add_number (json, "limit", limit);
  add_string (json, "unit", unit);
  add_string (json, "kind", at_least ? "at least" : "below");
  add_bool (json, "pass", pass);
  json_end_object (json);
  return pass;
}

static void
add_targets (Json *json, Results *r)
{
  gboolean all = TRUE;
  double health_p99 = percentile_of (r->ingest.health_ms, 0.99);
  if (r->has_large)
    health_p99 = MAX (health_p99, percentile_of (r->fill.health_ms, 0.99));
  gboolean at_target = r->has_large && r->large.chunks >= TARGET_SEARCH_AT_CHUNK;

  json_begin_object (json, "targets");
  all &= add_target (json, "ingest_throughput", "ingest.mb_per_second", TRUE,
                     r->ingest.bytes / 1e6 / r->ingest.seconds, TARGET_INGEST_MB_S, TRUE, "MB/s");
  all &= add_target (json, "get_health_p99_while_ingesting",
                     "worst get_health p99 of ingest and fill", TRUE, health_p99,
                     TARGET_HEALTH_P99_MS, FALSE, "ms");
  all &= add_target (json, "search_p95_at_100k_chunks",
                     "keywords search_hybrid_over_bus p95 at the larger size", at_target,
                     at_target ? percentile_of (r->large.keywords.ms[RUN_SEARCH], 0.95) : 0,
                     TARGET_SEARCH_P95_MS, FALSE, "ms");
  json_end_object (json);
  add_bool (json, "all_targets_pass", all);
}

static void
add_daemon (Json *json, Bench *b)
{
  json_begin_object (json, "daemon");
  add_string (json, "path", b->daemon_path);
  add_string (json, "extract_helper", b->extract_helper ? b->extract_helper : "(installed path)");
  add_string (json, "version", b->daemon_version ? b->daemon_version : "unknown");
  add_string (json, "build_type", b->build_type);
  add_string (json, "mode",
              b->system_mode ? "system (caller is root, no polkit)" : "user (--user, no polkit)");
  add_string (json, "config", "every key default (builtin embedder)");
  add_int (json, "unclean_exits", b->unclean_exits);
  json_end_object (json);
}

static void
add_parameters (Json *json, Bench *b)
{
  json_begin_object (json, "parameters");
  add_int (json, "ingest_mb", b->ingest_mb);
  add_int (json, "document_kb", b->document_kb);
  add_int (json, "fill_document_kb", b->fill_document_kb);
  add_int (json, "large_chunks", b->large_chunks);
  add_int (json, "queries", b->queries);
  add_int (json, "questions", b->questions);
  add_int (json, "warmup_queries", WARMUP_QUERIES);
  add_int (json, "k", SEARCH_K);
  add_int (json, "add_window", ADD_WINDOW);
  add_number (json, "probe_interval_ms", PROBE_INTERVAL_US / 1000.0);
  add_int (json, "vocabulary", VOCABULARY);
  add_int (json, "seed", b->seed);
  json_end_object (json);
}

static char *
report (Bench *b, Results *r)
{
  Json writer = { g_string_new (NULL), 0, TRUE };
  Json *json = &writer;

  json_begin_object (json, NULL);
  add_string (json, "benchmark", "documents");
  add_machine (json, b);
  add_daemon (json, b);
  add_parameters (json, b);
  add_ingest (json, "ingest", "the session's vector index loaded (one Search on the empty session)",
              &r->ingest);
  if (r->has_large)
    add_ingest (json, "fill", "the same session grown to the larger size, index loaded", &r->fill);
  json_begin_object (json, "sizes");
  add_size (json, &r->small);
  if (r->has_large)
    add_size (json, &r->large);
  json_end_object (json);
  add_memory (json, r->has_large ? &r->large : &r->small);
  add_targets (json, r);
  json_end_object (json);

  g_string_append_c (json->out, '\n');
  return g_string_free (json->out, FALSE);
}

/* ---- the run ---- */

static gboolean
prepare (Bench *b, GError **error)
{
  g_autofree char *template = g_build_filename (b->tmp_parent, "smartrag-bench-XXXXXX", NULL);
  b->dir = g_mkdtemp (g_steal_pointer (&template));
  if (b->dir == NULL)
    return fail (error, "cannot create a directory in %s: %s", b->tmp_parent, g_strerror (errno));
  b->config_path = g_build_filename (b->dir, "smartrag.conf", NULL);
  b->log_path = g_build_filename (b->dir, "smartragd.log", NULL);
  b->state_dir = g_build_filename (b->dir, "state", NULL);
  b->rand = g_rand_new_with_seed ((guint32) b->seed);
  vocabulary_init (&b->vocabulary, b->rand);
  /* An empty file: the defaults are measured, and no configuration of this machine leaks in. */
  if (!write_file (b->config_path, "", error))
    return FALSE;
  return open_notify_socket (b, error) && start_bus (b, error)
         && connect_bus (b->bus_address, &b->client, error);
}

static GPtrArray *
generate_queries (Bench *b, guint n, char *(*generate) (Bench *) )
{
  GPtrArray *queries = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (queries, generate (b));
  return queries;
}

static gboolean
run (Bench *b, Results *r, GError **error)
{
  double ms;
  guint hits;

  if (!prepare (b, error))
    return FALSE;
  g_autoptr (GPtrArray) keywords = generate_queries (b, b->queries, generate_keywords);
  g_autoptr (GPtrArray) questions = generate_queries (b, b->questions, generate_question);
  if (!start_daemon (b, b->state_dir, NULL, error) || !read_version (b, error)
      || !create_session (b, error))
    return FALSE;
  /* A session in use has its index loaded, so that each ready document is also inserted
   * into it on the main loop: the case that can stall other callers. */
  if (!search (b, keywords->pdata[0], CALL_TIMEOUT_US, &ms, &hits, error))
    return FALSE;

  progress ("ingesting %d MB in documents of %d kB", b->ingest_mb, b->document_kb);
  if (!measure_ingest (b, (guint64) b->ingest_mb * 1000000, (gsize) b->document_kb * 1000,
                       &r->ingest, error)
      || !measure_size (b, keywords, questions, &r->small, error))
    return FALSE;

  if ((guint64) b->large_chunks > b->chunks) {
    /* Enough text for the larger size at the rate of chunks per byte seen so far. */
    double per_chunk = (double) b->text_bytes / (double) b->chunks;
    guint64 more = (guint64) ((b->large_chunks - b->chunks) * per_chunk * 1.03) + 1;
    progress ("filling the session to %d chunks (%" G_GUINT64_FORMAT " MB more text)",
              b->large_chunks, more / 1000000);
    r->has_large = TRUE;
    if (!measure_ingest (b, more, (gsize) b->fill_document_kb * 1000, &r->fill, error)
        || !measure_size (b, keywords, questions, &r->large, error))
      return FALSE;
  }
  return stop_daemon (b, error);
}

static void
bench_cleanup (Bench *b)
{
  int status;

  if (b->daemon_pid > 0)
    terminate (b->daemon_pid, STOP_TIMEOUT_US, &status);
  g_clear_pointer (&b->client, sd_bus_flush_close_unref);
  if (b->bus_pid > 0)
    terminate (b->bus_pid, BUS_START_TIMEOUT_US, &status);
  if (b->notify_fd >= 0)
    close (b->notify_fd);
  if (b->keep && b->dir != NULL)
    progress ("kept %s (the daemon's log and state)", b->dir);
  else
    remove_tree (b->dir);
  g_free (b->dir);
  g_free (b->config_path);
  g_free (b->log_path);
  g_free (b->bus_address);
  g_free (b->daemon_version);
  g_free (b->state_dir);
  g_free (b->session_path);
  g_free (b->session_id);
  g_clear_pointer (&b->rand, g_rand_free);
  g_free (b->vocabulary.cumulative);
  g_strfreev (b->vocabulary.words);
}

static void
install_signal_handlers (void)
{
  /* No SA_RESTART: a signal interrupts poll(), and every wait checks the flag. */
  struct sigaction sa = { .sa_handler = on_signal };
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGHUP, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);
}

static gboolean
parse_arguments (Bench *b, int *argc, char ***argv, GError **error)
{
  g_autofree char *daemon = NULL;
  g_autofree char *build_type = NULL;
  g_autofree char *dbus_daemon = NULL;
  g_autofree char *helper = NULL;
  const GOptionEntry entries[] = {
    { "daemon", 0, 0, G_OPTION_ARG_FILENAME, &daemon,
      "The smartragd to measure (default: $SMARTRAGD, else the one built with this benchmark)",
      "PATH" },
    { "extract-helper", 0, 0, G_OPTION_ARG_FILENAME, &helper,
      "The smartrag-extract the daemon runs (default: $SMARTRAG_EXTRACT_HELPER, else this "
      "build's for this build's daemon, else the daemon's own)",
      "PATH" },
    { "dbus-daemon", 0, 0, G_OPTION_ARG_FILENAME, &dbus_daemon,
      "The dbus-daemon for the private bus (default: from PATH)", "PATH" },
    { "build-type", 0, 0, G_OPTION_ARG_STRING, &build_type,
      "Build type to report for the daemon (default: this build's, or unknown with --daemon)",
      "TYPE" },
    { "ingest-mb", 0, 0, G_OPTION_ARG_INT, &b->ingest_mb,
      "Megabytes of text in the measured ingest (default 8)", "N" },
    { "document-kb", 0, 0, G_OPTION_ARG_INT, &b->document_kb,
      "Kilobytes per document in the measured ingest (default 200)", "N" },
    { "fill-document-kb", 0, 0, G_OPTION_ARG_INT, &b->fill_document_kb,
      "Kilobytes per document when filling to the larger size (default 1000)", "N" },
    { "large-chunks", 0, 0, G_OPTION_ARG_INT, &b->large_chunks,
      "Chunks of the larger session size; 0 skips it (default 100000)", "N" },
    { "queries", 0, 0, G_OPTION_ARG_INT, &b->queries, "Keyword queries per size (default 500)",
      "N" },
    { "questions", 0, 0, G_OPTION_ARG_INT, &b->questions,
      "Question-like queries per size (default 100)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &b->seed, "Seed of the generated text (default 1)", "N" },
    { "keep", 0, 0, G_OPTION_ARG_NONE, &b->keep,
      "Keep the temporary directory with the daemon's log and state", NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("[SMARTRAGD]");
  g_option_context_set_summary (context,
                                "Measures smartragd's ingest throughput, its bus latency while "
                                "ingesting and Search latency against FTS5\non a private bus, "
                                "and prints one JSON document.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 2)
    return fail (error, "unexpected argument '%s'", (*argv)[2]);
  if (b->ingest_mb < 1 || b->document_kb < 1 || b->fill_document_kb < 1 || b->queries < 1
      || b->questions < 1 || b->large_chunks < 0)
    return fail (error, "sizes and query counts must be at least 1, --large-chunks at least 0");

  /* Only the daemon built next to this benchmark is known to have this build's type. */
  gboolean built_here = FALSE;
  if (*argc == 2) {
    g_free (daemon);
    daemon = g_strdup ((*argv)[1]);
  } else if (daemon == NULL && g_getenv ("SMARTRAGD") != NULL) {
    daemon = g_strdup (g_getenv ("SMARTRAGD"));
  } else if (daemon == NULL) {
    daemon = g_strdup (SMARTRAGD_PATH);
    built_here = TRUE;
  }
  if (!g_file_test (daemon, G_FILE_TEST_IS_EXECUTABLE))
    return fail (error, "%s is not an executable smartragd", daemon);
  if (helper == NULL && g_getenv ("SMARTRAG_EXTRACT_HELPER") != NULL)
    helper = g_strdup (g_getenv ("SMARTRAG_EXTRACT_HELPER"));
  else if (helper == NULL && built_here)
    helper = g_strdup (SMARTRAG_EXTRACT_PATH);
  if (helper != NULL && !g_file_test (helper, G_FILE_TEST_IS_EXECUTABLE))
    return fail (error, "%s is not an executable smartrag-extract", helper);

  b->daemon_path = g_steal_pointer (&daemon);
  b->extract_helper = g_steal_pointer (&helper);
  b->dbus_daemon = dbus_daemon ? g_steal_pointer (&dbus_daemon) : g_strdup ("dbus-daemon");
  b->build_type = build_type ? g_steal_pointer (&build_type)
                             : g_strdup (built_here ? SMARTRAGD_BUILD_TYPE : "unknown");
  return TRUE;
}

int
main (int argc, char **argv)
{
  Bench bench = {
    .ingest_mb = 8,
    .document_kb = 200,
    .fill_document_kb = 1000,
    .large_chunks = 100000,
    .queries = 500,
    .questions = 100,
    .seed = 1,
    .notify_fd = -1,
    .tmp_parent = (char *) g_get_tmp_dir (),
    /* Root needs no polkit; anyone else runs the daemon in user mode on the private bus. */
    .system_mode = geteuid () == 0,
  };
  g_auto (Results) results = { 0 };
  g_autoptr (GError) error = NULL;

  if (!parse_arguments (&bench, &argc, &argv, &error)) {
    g_printerr ("bench-documents: %s\n", error->message);
    return 2;
  }
  install_signal_handlers ();
  results_init (&results);

  bench.load_before = load_average ();
  gboolean ok = run (&bench, &results, &error);
  bench.load_after = load_average ();
  g_autofree char *json = ok ? report (&bench, &results) : NULL;
  bench_cleanup (&bench);
  g_free (bench.daemon_path);
  g_free (bench.extract_helper);
  g_free (bench.dbus_daemon);
  g_free (bench.build_type);

  if (!ok) {
    g_printerr ("bench-documents: %s\n", error->message);
    return 1;
  }
  fputs (json, stdout);
  return 0;
}
