/* Foundation benchmark: start-up time, bus call latency and idle memory of smartragd, as JSON. */
#define _GNU_SOURCE /* execvpe, pipe2, struct ucred */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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

/* Every wait is bounded, so a hung daemon or bus ends the run with an error, not a hang. */
#define CALL_TIMEOUT_US         (5 * G_USEC_PER_SEC)
#define BUS_START_TIMEOUT_US    (5 * G_USEC_PER_SEC)
#define READY_TIMEOUT_US        (10 * G_USEC_PER_SEC)
#define STOP_TIMEOUT_US         (15 * G_USEC_PER_SEC)
#define NAME_RELEASE_TIMEOUT_US (5 * G_USEC_PER_SEC)
/* How long a freshly started daemon is left alone before its RSS counts as idle. */
#define SETTLE_US    (300 * 1000)
#define WARMUP_CALLS 100

/* The targets. */
#define TARGET_READY_EMPTY_MS 150.0
#define TARGET_READY_FULL_MS  400.0
#define TARGET_CREATE_P99_MS  2.0
#define TARGET_HEALTH_P99_MS  1.0
#define TARGET_IDLE_RSS_MB    25.0

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (sd_bus_error, sd_bus_error_free)

static volatile sig_atomic_t interrupted;

static G_DEFINE_QUARK (bench - foundation - error - quark, bench_error)

    typedef enum {
      CALL_PING,
      CALL_CREATE,
      CALL_HEALTH,
      N_CALLS,
    } CallKind;

static const char *const call_names[N_CALLS] = {
  [CALL_PING] = "ping_baseline",
  [CALL_CREATE] = "create_session",
  [CALL_HEALTH] = "get_health",
};

typedef struct {
  /* parameters */
  char *daemon_path;
  char *dbus_daemon;
  char *build_type;
  char *tmp_parent;
  int starts;
  int calls;
  int sessions;

  /* resources, all released by bench_cleanup */
  char *dir;
  char *config_path;
  char *log_path;
  char *bus_address;
  GPid bus_pid;
  GPid daemon_pid;
  int notify_fd;
  sd_bus *client;

  /* what the run found */
  gboolean system_mode;
  guint sessions_created;
  guint unclean_exits;
  guint health_not_ok;
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
  fprintf (stderr, "bench-foundation: %s\n", message);
}

/* ---- files ---- */

static int
remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  if (remove (path) != 0)
    g_printerr ("bench-foundation: cannot remove %s: %s\n", path, g_strerror (errno));
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

static gboolean
connect_client (Bench *b, GError **error)
{
  int r = sd_bus_new (&b->client);
  if (r >= 0)
    r = sd_bus_set_address (b->client, b->bus_address);
  if (r >= 0)
    r = sd_bus_set_bus_client (b->client, 1);
  if (r >= 0)
    r = sd_bus_start (b->client);
  if (r < 0)
    return fail (error, "cannot connect to %s: %s", b->bus_address, g_strerror (-r));
  return TRUE;
}

/* ---- calls ---- */

static gboolean
call (Bench *b, sd_bus_message *m, sd_bus_message **reply, double *ms, GError **error)
{
  g_auto (sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
  gint64 start = now_ns ();
  int r = sd_bus_call (b->client, m, CALL_TIMEOUT_US, &bus_error, reply);
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
new_call (Bench *b, const char *destination, const char *path, const char *interface,
          const char *member, sd_bus_message **m, GError **error)
{
  int r = sd_bus_message_new_method_call (b->client, m, destination, path, interface, member);
  if (r < 0)
    return fail (error, "cannot build %s.%s: %s", interface, member, g_strerror (-r));
  return TRUE;
}

static gboolean
build_create (Bench *b, sd_bus_message **m, GError **error)
{
  if (!new_call (b, BUS_NAME, BUS_PATH, BUS_NAME, "CreateSession", m, error))
    return FALSE;
  g_autofree char *title = g_strdup_printf ("Benchmark session %u", b->sessions_created + 1);
  g_autofree char *context
      = g_strdup_printf ("{\"benchmark\":\"foundation\",\"n\":%u}", b->sessions_created + 1);
  int r = sd_bus_message_append (*m, "a{sv}", 2, "title", "s", title, "context", "s", context);
  if (r < 0)
    return fail (error, "cannot build CreateSession: %s", g_strerror (-r));
  return TRUE;
}

/* Checks each answer, so that a failing call can never pass for a fast one. */
static gboolean
check_reply (Bench *b, CallKind kind, sd_bus_message *reply, GError **error)
{
  const char *text = NULL;
  int r;

  switch (kind) {
  case CALL_PING:
    return TRUE;
  case CALL_CREATE:
    if ((r = sd_bus_message_read (reply, "o", &text)) < 0)
      return fail (error, "CreateSession: unexpected reply: %s", g_strerror (-r));
    if (!g_str_has_prefix (text, SESSION_PATH_PREFIX))
      return fail (error, "CreateSession returned %s", text);
    b->sessions_created++;
    return TRUE;
  case CALL_HEALTH:
    if ((r = sd_bus_message_read (reply, "s", &text)) < 0)
      return fail (error, "GetHealth: unexpected reply: %s", g_strerror (-r));
    if (!g_str_equal (text, "ok") && !g_str_equal (text, "degraded")
        && !g_str_equal (text, "failing"))
      return fail (error, "GetHealth returned status '%s'", text);
    if (!g_str_equal (text, "ok"))
      b->health_not_ok++;
    return TRUE;
  case N_CALLS:
    break;
  }
  g_assert_not_reached ();
  return FALSE;
}

static gboolean
timed_call (Bench *b, CallKind kind, double *ms, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  gboolean built = FALSE;

  switch (kind) {
  case CALL_PING:
    built = new_call (b, BUS_NAME, BUS_PATH, "org.freedesktop.DBus.Peer", "Ping", &m, error);
    break;
  case CALL_CREATE:
    built = build_create (b, &m, error);
    break;
  case CALL_HEALTH:
    built = new_call (b, BUS_NAME, BUS_PATH, BUS_NAME, "GetHealth", &m, error);
    break;
  case N_CALLS:
    g_assert_not_reached ();
  }
  return built && call (b, m, &reply, ms, error) && check_reply (b, kind, reply, error);
}

static gboolean
count_sessions (Bench *b, guint *count, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  const char *path;
  int r;

  if (!new_call (b, BUS_NAME, BUS_PATH, BUS_NAME, "ListSessions", &m, error)
      || !call (b, m, &reply, NULL, error))
    return FALSE;
  *count = 0;
  if ((r = sd_bus_message_enter_container (reply, 'a', "o")) < 0)
    return fail (error, "ListSessions: unexpected reply: %s", g_strerror (-r));
  while ((r = sd_bus_message_read (reply, "o", &path)) > 0)
    (*count)++;
  if (r < 0)
    return fail (error, "ListSessions: unexpected reply: %s", g_strerror (-r));
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
      return daemon_failed (b, "did not send READY=1 within 10 s", error);
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
  return g_environ_setenv (env, "NOTIFY_SOCKET", notify, TRUE);
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
json_begin_array (Json *json, const char *name)
{
  json_open (json, name, '[');
}

static void
json_end_array (Json *json)
{
  json_close (json, ']');
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
  add_number (json, "max", g_array_index (samples, double, samples->len - 1));
  add_number (json, "mean", sum / samples->len);
  json_end_object (json);
}

/* Median, min and max of start times (ms, three decimals) or RSS (kB, whole), with every
 * sample in the order taken. */
static void
add_spread (Json *json, const char *name, GArray *samples, gboolean is_kb)
{
  g_autoptr (GArray) sorted = g_array_copy (samples);
  g_array_sort (sorted, compare_doubles);
  double median = percentile (sorted, 0.5);
  double min = g_array_index (sorted, double, 0);
  double max = g_array_index (sorted, double, sorted->len - 1);

  json_begin_object (json, name);
  if (is_kb) {
    add_int (json, "median", (gint64) median);
    add_int (json, "min", (gint64) min);
    add_int (json, "max", (gint64) max);
    add_number (json, "median_mb", median / 1024.0);
    add_number (json, "max_mb", max / 1024.0);
  } else {
    add_number (json, "median", median);
    add_number (json, "min", min);
    add_number (json, "max", max);
  }
  json_begin_array (json, "samples");
  for (guint i = 0; i < samples->len; i++) {
    double v = g_array_index (samples, double, i);
    if (is_kb)
      add_int (json, NULL, (gint64) v);
    else
      add_number (json, NULL, v);
  }
  json_end_array (json);
  json_end_object (json);
}

static double
sorted_stat (GArray *samples, double q)
{
  g_autoptr (GArray) sorted = g_array_copy (samples);
  g_array_sort (sorted, compare_doubles);
  return percentile (sorted, q);
}

/* ---- phases ---- */

typedef struct {
  GArray *ready_ms;
  GArray *rss_kb;
} StartSamples;

static void
start_samples_init (StartSamples *s)
{
  s->ready_ms = g_array_new (FALSE, FALSE, sizeof (double));
  s->rss_kb = g_array_new (FALSE, FALSE, sizeof (double));
}

static void
start_samples_clear (StartSamples *s)
{
  g_clear_pointer (&s->ready_ms, g_array_unref);
  g_clear_pointer (&s->rss_kb, g_array_unref);
}

/* One measured start: READY time, then idle RSS after the daemon has settled. */
static gboolean
measure_start (Bench *b, const char *state_dir, guint expect_sessions, StartSamples *out,
               GError **error)
{
  double ready_ms;
  guint64 rss;
  guint count;

  if (!start_daemon (b, state_dir, &ready_ms, error))
    return FALSE;
  settle ();
  if (!read_rss_kb (b->daemon_pid, &rss, error))
    return FALSE;
  /* Proves the start really had the stored sessions to open. */
  if (!count_sessions (b, &count, error))
    return FALSE;
  if (count != expect_sessions)
    return fail (error, "the daemon lists %u sessions, expected %u", count, expect_sessions);
  double rss_kb = (double) rss;
  g_array_append_val (out->ready_ms, ready_ms);
  g_array_append_val (out->rss_kb, rss_kb);
  return stop_daemon (b, error);
}

static gboolean
measure_empty_starts (Bench *b, StartSamples *out, GError **error)
{
  for (int i = 0; i < b->starts; i++) {
    g_autofree char *name = g_strdup_printf ("empty-%d", i);
    g_autofree char *dir = g_build_filename (b->dir, name, NULL);
    if (!check_interrupted (error) || !measure_start (b, dir, 0, out, error))
      return FALSE;
    remove_tree (dir);
  }
  return TRUE;
}

static gboolean
measure_full_starts (Bench *b, const char *state_dir, StartSamples *out, GError **error)
{
  for (int i = 0; i < b->starts; i++)
    if (!check_interrupted (error)
        || !measure_start (b, state_dir, b->sessions_created, out, error))
      return FALSE;
  return TRUE;
}

typedef struct {
  GArray *samples[N_CALLS];
} Latencies;

static void
latencies_init (Latencies *l)
{
  for (int k = 0; k < N_CALLS; k++)
    l->samples[k] = g_array_new (FALSE, FALSE, sizeof (double));
}

static void
latencies_clear (Latencies *l)
{
  for (int k = 0; k < N_CALLS; k++)
    g_clear_pointer (&l->samples[k], g_array_unref);
}

/* The three calls take turns in rotating order, so that each sees the same machine
 * and the same database, and Ping shows what the bus alone costs. */
static gboolean
measure_latencies (Bench *b, Latencies *out, GError **error)
{
  for (int i = 0; i < WARMUP_CALLS; i++)
    for (int k = 0; k < N_CALLS; k++)
      if (!timed_call (b, k, NULL, error))
        return FALSE;

  for (int i = 0; i < b->calls; i++) {
    if (!check_interrupted (error))
      return FALSE;
    for (int j = 0; j < N_CALLS; j++) {
      CallKind kind = (i + j) % N_CALLS;
      double ms;
      if (!timed_call (b, kind, &ms, error))
        return FALSE;
      g_array_append_val (out->samples[kind], ms);
    }
  }
  return TRUE;
}

static gboolean
fill_sessions (Bench *b, GArray *samples, double *seconds, GError **error)
{
  gint64 start = now_ns ();
  while (b->sessions_created < (guint) b->sessions) {
    double ms;
    if ((b->sessions_created % 1000 == 0 && !check_interrupted (error))
        || !timed_call (b, CALL_CREATE, &ms, error))
      return FALSE;
    g_array_append_val (samples, ms);
  }
  *seconds = (double) (now_ns () - start) / 1e9;
  return TRUE;
}

/* ---- the report ---- */

static void
add_latency_phase (Json *json, const char *name, const char *state, Latencies *l)
{
  json_begin_object (json, name);
  add_string (json, "state", state);
  for (int k = 0; k < N_CALLS; k++)
    add_latency (json, call_names[k], l->samples[k]);
  /* Percentiles do not subtract exactly, but this shows what the daemon adds to a bare
   * bus round trip to the same peer. */
  json_begin_object (json, "over_baseline_ms");
  for (int k = CALL_CREATE; k < N_CALLS; k++) {
    json_begin_object (json, call_names[k]);
    add_number (json, "p50",
                sorted_stat (l->samples[k], 0.5) - sorted_stat (l->samples[CALL_PING], 0.5));
    add_number (json, "p99",
                sorted_stat (l->samples[k], 0.99) - sorted_stat (l->samples[CALL_PING], 0.99));
    json_end_object (json);
  }
  json_end_object (json);
  json_end_object (json);
}

static gboolean
add_target (Json *json, const char *name, const char *measured_as, double value, double limit,
            const char *unit)
{
  gboolean pass = value < limit;
  json_begin_object (json, name);
  add_string (json, "measured_as", measured_as);
  add_number (json, "value", value);
  add_number (json, "limit", limit);
  add_string (json, "unit", unit);
  add_bool (json, "pass", pass);
  json_end_object (json);
  return pass;
}

typedef struct {
  StartSamples empty_starts;
  StartSamples full_starts;
  Latencies at_empty;
  Latencies at_full;
  GArray *fill_ms;
  double fill_seconds;
  guint64 rss_after_fill_kb;
} Results;

static void
results_init (Results *r)
{
  start_samples_init (&r->empty_starts);
  start_samples_init (&r->full_starts);
  latencies_init (&r->at_empty);
  latencies_init (&r->at_full);
  r->fill_ms = g_array_new (FALSE, FALSE, sizeof (double));
}

static void
results_clear (Results *r)
{
  start_samples_clear (&r->empty_starts);
  start_samples_clear (&r->full_starts);
  latencies_clear (&r->at_empty);
  latencies_clear (&r->at_full);
  g_clear_pointer (&r->fill_ms, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Results, results_clear)

static void
add_targets (Json *json, Results *r)
{
  gboolean all = TRUE;
  double create_p99 = MAX (sorted_stat (r->at_empty.samples[CALL_CREATE], 0.99),
                           sorted_stat (r->at_full.samples[CALL_CREATE], 0.99));
  double health_p99 = MAX (sorted_stat (r->at_empty.samples[CALL_HEALTH], 0.99),
                           sorted_stat (r->at_full.samples[CALL_HEALTH], 0.99));
  double rss_max_kb = MAX (
      MAX (sorted_stat (r->empty_starts.rss_kb, 1.0), sorted_stat (r->full_starts.rss_kb, 1.0)),
      (double) r->rss_after_fill_kb);

  json_begin_object (json, "targets");
  all &= add_target (json, "start_to_ready_empty", "median of the empty-state starts",
                     sorted_stat (r->empty_starts.ready_ms, 0.5), TARGET_READY_EMPTY_MS, "ms");
  all &= add_target (json, "start_to_ready_sessions", "median of the starts with the sessions",
                     sorted_stat (r->full_starts.ready_ms, 0.5), TARGET_READY_FULL_MS, "ms");
  all &= add_target (json, "create_session_p99", "worst p99 of the two latency phases", create_p99,
                     TARGET_CREATE_P99_MS, "ms");
  all &= add_target (json, "get_health_p99", "worst p99 of the two latency phases", health_p99,
                     TARGET_HEALTH_P99_MS, "ms");
  all &= add_target (json, "idle_rss", "largest idle VmRSS seen", rss_max_kb / 1024.0,
                     TARGET_IDLE_RSS_MB, "MB");
  json_end_object (json);
  add_bool (json, "all_targets_pass", all);
}

/* Other work on the machine shows in the tails; the load average says there was some. */
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

static void
add_daemon (Json *json, Bench *b)
{
  json_begin_object (json, "daemon");
  add_string (json, "path", b->daemon_path);
  add_string (json, "version", b->daemon_version ? b->daemon_version : "unknown");
  add_string (json, "build_type", b->build_type);
  add_string (json, "mode",
              b->system_mode ? "system (caller is root, no polkit)" : "user (--user, no polkit)");
  add_string (json, "config", "[limits] max_sessions_per_user=0, other keys default");
  add_int (json, "unclean_exits", b->unclean_exits);
  add_int (json, "health_not_ok", b->health_not_ok);
  json_end_object (json);
}

static char *
report (Bench *b, Results *r)
{
  Json writer = { g_string_new (NULL), 0, TRUE };
  Json *json = &writer;
  g_autofree char *full = g_strdup_printf ("sessions_%d", b->sessions);

  json_begin_object (json, NULL);
  add_string (json, "benchmark", "foundation");
  add_machine (json, b);
  add_daemon (json, b);

  json_begin_object (json, "parameters");
  add_int (json, "starts", b->starts);
  add_int (json, "calls_per_method", b->calls);
  add_int (json, "warmup_calls_per_method", WARMUP_CALLS);
  add_int (json, "sessions", b->sessions);
  add_int (json, "settle_ms", SETTLE_US / 1000);
  json_end_object (json);

  json_begin_object (json, "start_to_ready_ms");
  add_spread (json, "empty", r->empty_starts.ready_ms, FALSE);
  add_spread (json, full, r->full_starts.ready_ms, FALSE);
  json_end_object (json);

  json_begin_object (json, "latency_ms");
  add_latency_phase (json, "empty_state", "sessions created from an empty database", &r->at_empty);
  g_autofree char *state = g_strdup_printf ("after a restart with %d stored sessions", b->sessions);
  add_latency_phase (json, full, state, &r->at_full);
  json_end_object (json);

  json_begin_object (json, "fill");
  add_int (json, "sessions_created", r->fill_ms->len);
  add_number (json, "seconds", r->fill_seconds);
  add_number (json, "sessions_per_second",
              r->fill_seconds > 0 ? r->fill_ms->len / r->fill_seconds : 0);
  if (r->fill_ms->len > 0)
    add_latency (json, "create_session_ms", r->fill_ms);
  json_end_object (json);

  json_begin_object (json, "idle_rss_kb");
  add_spread (json, "after_start_empty", r->empty_starts.rss_kb, TRUE);
  g_autofree char *after_fill = g_strdup_printf ("after_creating_%d", b->sessions);
  json_begin_object (json, after_fill);
  add_int (json, "kb", (gint64) r->rss_after_fill_kb);
  add_number (json, "mb", r->rss_after_fill_kb / 1024.0);
  json_end_object (json);
  g_autofree char *after_restart = g_strdup_printf ("after_start_%s", full);
  add_spread (json, after_restart, r->full_starts.rss_kb, TRUE);
  json_end_object (json);

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
  /* The fill must not stop at the default per-user quota; a short shutdown_timeout
   * keeps a misbehaving stop from stalling the run. */
  if (!write_file (b->config_path,
                   "[daemon]\nshutdown_timeout=5s\n\n[limits]\nmax_sessions_per_user=0\n", error))
    return FALSE;
  return open_notify_socket (b, error) && start_bus (b, error) && connect_client (b, error);
}

static gboolean
run (Bench *b, Results *r, GError **error)
{
  guint count;

  if (!prepare (b, error))
    return FALSE;
  g_autofree char *state_dir = g_build_filename (b->dir, "state", NULL);

  progress ("%d starts with an empty state directory", b->starts);
  if (!measure_empty_starts (b, &r->empty_starts, error))
    return FALSE;

  progress ("%d calls each of Ping, CreateSession and GetHealth", b->calls);
  if (!start_daemon (b, state_dir, NULL, error) || !read_version (b, error)
      || !measure_latencies (b, &r->at_empty, error))
    return FALSE;

  progress ("filling up to %d sessions", b->sessions);
  if (!fill_sessions (b, r->fill_ms, &r->fill_seconds, error))
    return FALSE;
  settle ();
  /* RSS first: listing every session would add its reply buffers to the figure. */
  if (!read_rss_kb (b->daemon_pid, &r->rss_after_fill_kb, error)
      || !count_sessions (b, &count, error))
    return FALSE;
  if (count != b->sessions_created)
    return fail (error, "the daemon lists %u sessions after the fill, expected %u", count,
                 b->sessions_created);
  if (!stop_daemon (b, error))
    return FALSE;

  progress ("%d starts with %u stored sessions", b->starts, b->sessions_created);
  if (!measure_full_starts (b, state_dir, &r->full_starts, error))
    return FALSE;

  progress ("%d calls each again, with %u stored sessions", b->calls, b->sessions_created);
  return start_daemon (b, state_dir, NULL, error) && measure_latencies (b, &r->at_full, error)
         && stop_daemon (b, error);
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
  remove_tree (b->dir);
  g_free (b->dir);
  g_free (b->config_path);
  g_free (b->log_path);
  g_free (b->bus_address);
  g_free (b->daemon_version);
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
  const GOptionEntry entries[] = {
    { "daemon", 0, 0, G_OPTION_ARG_FILENAME, &daemon,
      "The smartragd to measure (default: $SMARTRAGD, else the one built with this benchmark)",
      "PATH" },
    { "dbus-daemon", 0, 0, G_OPTION_ARG_FILENAME, &dbus_daemon,
      "The dbus-daemon for the private bus (default: from PATH)", "PATH" },
    { "build-type", 0, 0, G_OPTION_ARG_STRING, &build_type,
      "Build type to report for the daemon (default: this build's, or unknown with --daemon)",
      "TYPE" },
    { "starts", 0, 0, G_OPTION_ARG_INT, &b->starts, "Starts per state (default 10)", "N" },
    { "calls", 0, 0, G_OPTION_ARG_INT, &b->calls,
      "Measured calls per method and phase (default 2000)", "N" },
    { "sessions", 0, 0, G_OPTION_ARG_INT, &b->sessions,
      "Sessions stored for the second phase (default 10000)", "N" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("[SMARTRAGD]");
  g_option_context_set_summary (context,
                                "Measures smartragd's start-up time, bus call latency and idle "
                                "memory on a private bus,\nand prints one JSON document.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 2)
    return fail (error, "unexpected argument '%s'", (*argv)[2]);
  if (b->starts < 1 || b->calls < 1 || b->sessions < 0)
    return fail (error, "--starts and --calls must be at least 1, --sessions at least 0");

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

  b->daemon_path = g_steal_pointer (&daemon);
  b->dbus_daemon = dbus_daemon ? g_steal_pointer (&dbus_daemon) : g_strdup ("dbus-daemon");
  b->build_type = build_type ? g_steal_pointer (&build_type)
                             : g_strdup (built_here ? SMARTRAGD_BUILD_TYPE : "unknown");
  return TRUE;
}

int
main (int argc, char **argv)
{
  Bench bench = {
    .starts = 10,
    .calls = 2000,
    .sessions = 10000,
    .notify_fd = -1,
    .tmp_parent = (char *) g_get_tmp_dir (),
    /* Root needs no polkit; anyone else runs the daemon in user mode on the private bus. */
    .system_mode = geteuid () == 0,
  };
  g_auto (Results) results = { 0 };
  g_autoptr (GError) error = NULL;

  if (!parse_arguments (&bench, &argc, &argv, &error)) {
    g_printerr ("bench-foundation: %s\n", error->message);
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
  g_free (bench.dbus_daemon);
  g_free (bench.build_type);

  if (!ok) {
    g_printerr ("bench-foundation: %s\n", error->message);
    return 1;
  }
  fputs (json, stdout);
  return 0;
}
