/* Shared by the daemon benchmarks: private bus, smartragd start and stop, timing, JSON. */
#define _GNU_SOURCE /* execvpe, pipe2, struct ucred */

#include "bench-common.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glib/gstdio.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t interrupted;

G_DEFINE_QUARK (bench - error - quark, bench_error)

gint64
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

gboolean
fail (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, bench_error_quark (), 0, message);
  return FALSE;
}

gboolean
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

void
progress (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "%s: %s\n", g_get_prgname (), message);
}

static int
remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  if (remove (path) != 0)
    g_printerr ("%s: cannot remove %s: %s\n", g_get_prgname (), path, g_strerror (errno));
  return 0;
}

void
remove_tree (const char *dir)
{
  if (dir != NULL && g_file_test (dir, G_FILE_TEST_EXISTS))
    nftw (dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *
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

gboolean
write_file (const char *path, const char *text, GError **error)
{
  return g_file_set_contents (path, text, -1, error);
}

/* fork+exec by hand rather than g_spawn: the child must die with the benchmark
 * (PR_SET_PDEATHSIG), and the fork is the moment start-up time is measured from. */
gboolean
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
gboolean
terminate (GPid pid, gint64 timeout_us, int *status)
{
  kill (pid, SIGTERM);
  if (wait_exit (pid, g_get_monotonic_time () + timeout_us, status))
    return TRUE;
  kill (pid, SIGKILL);
  wait_exit (pid, g_get_monotonic_time () + timeout_us, status);
  return FALSE;
}

/* Waits until @fd can be read, at most until @deadline (monotonic µs), and reads it once:
 * @n bytes (0 at its end, -1 with errno on an error). FALSE with @late set when the
 * deadline came first, FALSE with @error when waiting failed or was interrupted. */
static gboolean
read_once_before (int fd, gint64 deadline, char *buf, gsize size, ssize_t *n, gboolean *late,
                  GError **error)
{
  *late = FALSE;
  for (;;) {
    gint64 left = deadline - g_get_monotonic_time ();
    if (left <= 0) {
      *late = TRUE;
      return FALSE;
    }
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll (&p, 1, (int) (left / 1000) + 1) < 0 && errno != EINTR)
      return fail (error, "poll: %s", g_strerror (errno));
    if (!check_interrupted (error))
      return FALSE;
    if (p.revents == 0)
      continue;
    *n = read (fd, buf, size);
    if (*n >= 0 || errno != EINTR)
      return TRUE;
  }
}

/* Reads @fd to its end, at most until @deadline (monotonic µs). */
static gboolean
read_to_end (int fd, gint64 deadline, const char *program, GString *out, GError **error)
{
  char buf[4096];
  for (;;) {
    ssize_t n;
    gboolean late;
    if (!read_once_before (fd, deadline, buf, sizeof buf, &n, &late, error))
      return late ? fail (error, "%s did not finish in time", program) : FALSE;
    if (n < 0)
      return fail (error, "reading from %s: %s", program, g_strerror (errno));
    if (n == 0)
      return TRUE;
    g_string_append_len (out, buf, n);
  }
}

gboolean
run_program (char **argv, char **envp, gint64 timeout_us, GString *out, int *status, GError **error)
{
  int fds[2];
  GPid pid = 0;

  if (pipe2 (fds, O_CLOEXEC) != 0)
    return fail (error, "pipe: %s", g_strerror (errno));
  gboolean ok = spawn (argv, envp, fds[1], -1, &pid, error);
  close (fds[1]);
  if (ok)
    ok = read_to_end (fds[0], g_get_monotonic_time () + timeout_us, argv[0], out, error);
  close (fds[0]);
  if (!ok) {
    if (pid > 0)
      terminate (pid, CHILD_STOP_TIMEOUT_US, status);
    return FALSE;
  }
  while (waitpid (pid, status, 0) < 0)
    if (errno != EINTR)
      return fail (error, "waitpid: %s", g_strerror (errno));
  return TRUE;
}

char *
describe_status (int status)
{
  if (WIFEXITED (status))
    return g_strdup_printf ("exit status %d", WEXITSTATUS (status));
  if (WIFSIGNALED (status))
    return g_strdup_printf ("signal %s", g_strsignal (WTERMSIG (status)));
  return g_strdup_printf ("wait status %d", status);
}

gboolean
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

gboolean
read_first_line (int fd, gint64 timeout_us, const char *program, const char *what, GString *line,
                 GError **error)
{
  gint64 deadline = g_get_monotonic_time () + timeout_us;
  char buf[512];
  for (;;) {
    ssize_t n;
    gboolean late;
    if (!read_once_before (fd, deadline, buf, sizeof buf, &n, &late, error))
      return late ? fail (error, "%s did not print %s within %d s", program, what,
                          (int) (timeout_us / G_USEC_PER_SEC))
                  : FALSE;
    if (n <= 0)
      return fail (error, "%s exited before printing %s", program, what);
    g_string_append_len (line, buf, n);
    const char *end = strchr (line->str, '\n');
    if (end != NULL) {
      g_string_truncate (line, (gsize) (end - line->str));
      g_strchomp (line->str);
      line->len = strlen (line->str);
      return TRUE;
    }
  }
}

gboolean
start_bus (BenchDaemon *d, GError **error)
{
  g_autofree char *socket_path = g_build_filename (d->dir, "bus", NULL);
  g_autofree char *config_path = g_build_filename (d->dir, "bus.conf", NULL);
  g_autofree char *config = g_strdup_printf (bus_config_template, socket_path);
  g_autofree char *config_arg = g_strdup_printf ("--config-file=%s", config_path);
  g_autofree char *bus_log = g_build_filename (d->dir, "dbus-daemon.log", NULL);
  char *argv[]
      = { d->dbus_daemon, "--nofork", "--nopidfile", config_arg, "--print-address=3", NULL };
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
  gboolean ok = spawn (argv, env, log_fd, pipe_fds[1], &d->bus_pid, error);
  close (log_fd);
  close (pipe_fds[1]);

  g_autoptr (GString) address = g_string_new (NULL);
  if (ok)
    ok = read_first_line (pipe_fds[0], BUS_START_TIMEOUT_US, "dbus-daemon", "its address", address,
                          error);
  close (pipe_fds[0]);
  if (!ok) {
    g_autofree char *tail = log_tail (bus_log, 10);
    g_prefix_error (error, "starting %s: ", d->dbus_daemon);
    g_prefix_error (error, "%s\n", tail);
    return FALSE;
  }
  d->bus_address = g_string_free (g_steal_pointer (&address), FALSE);
  return TRUE;
}

/* One connection per thread: sd-bus connections are not shared between threads. */
gboolean
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

gboolean
read_version (BenchDaemon *d, GError **error)
{
  g_auto (sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
  char *version = NULL;
  int r = sd_bus_get_property_string (d->client, BUS_NAME, BUS_PATH, BUS_NAME, "Version",
                                      &bus_error, &version);
  if (r < 0)
    return fail (error, "cannot read the Version property: %s",
                 bus_error.message ? bus_error.message : g_strerror (-r));
  g_free (d->daemon_version);
  d->daemon_version = g_strdup (version);
  free (version);
  return TRUE;
}

static gboolean
name_has_owner (BenchDaemon *d, gboolean *owned, GError **error)
{
  g_auto (sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  int value = 0;
  int r = sd_bus_call_method (d->client, "org.freedesktop.DBus", "/org/freedesktop/DBus",
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
gboolean
wait_name_released (BenchDaemon *d, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + NAME_RELEASE_TIMEOUT_US;
  for (;;) {
    gboolean owned = TRUE;
    if (!name_has_owner (d, &owned, error))
      return FALSE;
    if (!owned)
      return TRUE;
    if (g_get_monotonic_time () >= deadline)
      return fail (error, "%s is still owned %d s after the daemon exited", BUS_NAME,
                   (int) (NAME_RELEASE_TIMEOUT_US / G_USEC_PER_SEC));
    g_usleep (1000);
  }
}

gboolean
open_notify_socket (BenchDaemon *d, GError **error)
{
  g_autofree char *path = g_build_filename (d->dir, "notify", NULL);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int one = 1;

  if (strlen (path) >= sizeof sa.sun_path)
    return fail (error,
                 "the notify socket path %s is too long; set TMPDIR to a shorter "
                 "directory",
                 path);
  strcpy (sa.sun_path, path);
  d->notify_fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (d->notify_fd < 0)
    return fail (error, "socket: %s", g_strerror (errno));
  if (bind (d->notify_fd, (struct sockaddr *) &sa, sizeof sa) != 0)
    return fail (error, "cannot bind %s: %s", path, g_strerror (errno));
  /* The kernel then stamps each datagram with its sender, so stale messages from an
   * earlier daemon cannot count as this one's READY. */
  if (setsockopt (d->notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0)
    return fail (error, "SO_PASSCRED: %s", g_strerror (errno));
  return TRUE;
}

/* Reads one pending datagram; TRUE if it is READY=1 from pid. */
static gboolean
read_notify (BenchDaemon *d, GPid pid, gboolean *more)
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

  ssize_t n = recvmsg (d->notify_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
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
drain_notify (BenchDaemon *d)
{
  gboolean more = TRUE;
  while (more)
    read_notify (d, 0, &more);
}

static gboolean
daemon_failed (BenchDaemon *d, const char *what, GError **error)
{
  g_autofree char *tail = log_tail (d->log_path, 15);
  return fail (error, "smartragd %s. Its last log lines:\n%s", what, tail);
}

gboolean
wait_ready (BenchDaemon *d, gint64 *ready_ns, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + d->ready_timeout_us;

  for (;;) {
    gint64 left = deadline - g_get_monotonic_time ();
    if (left <= 0) {
      g_autofree char *what = g_strdup_printf ("did not send READY=1 within %d s",
                                               (int) (d->ready_timeout_us / G_USEC_PER_SEC));
      return daemon_failed (d, what, error);
    }
    struct pollfd p = { .fd = d->notify_fd, .events = POLLIN };
    /* Short slices so that a daemon dying before READY is noticed quickly. */
    int n = poll (&p, 1, (int) MIN (left / 1000 + 1, 20));
    gint64 woke = now_ns ();
    if (!check_interrupted (error))
      return FALSE;
    gboolean more = n > 0;
    while (more) {
      if (read_notify (d, d->daemon_pid, &more)) {
        *ready_ns = woke;
        return TRUE;
      }
    }
    int status;
    if (waitpid (d->daemon_pid, &status, WNOHANG) == d->daemon_pid) {
      d->daemon_pid = 0;
      g_autofree char *how = describe_status (status);
      g_autofree char *what = g_strdup_printf ("ended (%s) before it was ready", how);
      return daemon_failed (d, what, error);
    }
  }
}

static char **
daemon_environment (BenchDaemon *d)
{
  char **env = g_get_environ ();
  /* Our own service manager's settings must not leak into the daemon under test. */
  static const char *const drop[] = { "WATCHDOG_USEC", "WATCHDOG_PID",   "LISTEN_FDS",
                                      "LISTEN_PIDS",   "LISTEN_FDNAMES", "INVOCATION_ID" };
  for (guint i = 0; i < G_N_ELEMENTS (drop); i++)
    env = g_environ_unsetenv (env, drop[i]);
  g_autofree char *notify = g_build_filename (d->dir, "notify", NULL);
  env = g_environ_setenv (env, "NOTIFY_SOCKET", notify, TRUE);
  /* A daemon run from a build tree finds its parsing helper only through this. */
  if (d->extract_helper != NULL)
    env = g_environ_setenv (env, "SMARTRAG_EXTRACT_HELPER", d->extract_helper, TRUE);
  return env;
}

/* Starts smartragd on state_dir and measures fork → READY=1. */
gboolean
start_daemon (BenchDaemon *d, const char *state_dir, double *ready_ms, GError **error)
{
  g_autofree char *address_arg = g_strdup_printf ("--address=%s", d->bus_address);
  g_autofree char *state_arg = g_strdup_printf ("--state-dir=%s", state_dir);
  g_autofree char *config_arg = g_strdup_printf ("--config=%s", d->config_path);
  char *argv[] = {
    d->daemon_path, address_arg, state_arg, config_arg, d->system_mode ? NULL : "--user", NULL
  };
  g_auto (GStrv) env = daemon_environment (d);

  int log_fd = open (d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0)
    return fail (error, "cannot open %s: %s", d->log_path, g_strerror (errno));
  drain_notify (d);

  gint64 forked = now_ns ();
  gboolean ok = spawn (argv, env, log_fd, -1, &d->daemon_pid, error);
  close (log_fd);
  gint64 ready = 0;
  if (!ok || !wait_ready (d, &ready, error))
    return FALSE;
  if (ready_ms != NULL)
    *ready_ms = (double) (ready - forked) / 1e6;
  return TRUE;
}

gboolean
stop_daemon (BenchDaemon *d, GError **error)
{
  int status = 0;
  GPid pid = d->daemon_pid;

  if (pid == 0)
    return TRUE;
  d->daemon_pid = 0;
  if (!terminate (pid, d->stop_timeout_us, &status)) {
    g_autofree char *what = g_strdup_printf ("did not stop within %d s of SIGTERM and was killed",
                                             (int) (d->stop_timeout_us / G_USEC_PER_SEC));
    return daemon_failed (d, what, error);
  }
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
    g_autofree char *how = describe_status (status);
    progress ("warning: smartragd stopped with %s instead of exit status 0", how);
    d->unclean_exits++;
  }
  return wait_name_released (d, error);
}

void
settle (void)
{
  g_usleep (SETTLE_US);
}

int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
double
percentile (GArray *sorted, double q)
{
  guint rank = (guint) ceil (q * sorted->len);
  return g_array_index (sorted, double, CLAMP (rank, 1, sorted->len) - 1);
}

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

void
json_begin_object (Json *json, const char *name)
{
  json_open (json, name, '{');
}

void
json_end_object (Json *json)
{
  json_close (json, '}');
}

void
add_number (Json *json, const char *name, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  json_key (json, name);
  g_string_append (json->out, g_ascii_formatd (buf, sizeof buf, "%.3f", value));
}

void
add_int (Json *json, const char *name, gint64 value)
{
  json_key (json, name);
  g_string_append_printf (json->out, "%" G_GINT64_FORMAT, value);
}

void
add_string (Json *json, const char *name, const char *value)
{
  json_key (json, name);
  json_quote (json->out, value);
}

void
add_bool (Json *json, const char *name, gboolean value)
{
  json_key (json, name);
  g_string_append (json->out, value ? "true" : "false");
}

void
add_latency (Json *json, const char *name, GArray *samples, gboolean with_p999)
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
  if (with_p999)
    add_number (json, "p999", percentile (samples, 0.999));
  add_number (json, "max", g_array_index (samples, double, samples->len - 1));
  add_number (json, "mean", sum / samples->len);
  json_end_object (json);
}

double
load_average (void)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return -1;
  return g_ascii_strtod (text, NULL);
}

char *
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

const char *
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

void
add_machine (Json *json, BenchDaemon *d)
{
  struct utsname uts;
  g_autofree char *model = cpu_model ();

  json_begin_object (json, "machine");
  add_int (json, "nproc", sysconf (_SC_NPROCESSORS_ONLN));
  add_string (json, "cpu", model);
  add_int (json, "memory_kb", (gint64) sysconf (_SC_PHYS_PAGES) * sysconf (_SC_PAGESIZE) / 1024);
  add_string (json, "kernel", uname (&uts) == 0 ? uts.release : "unknown");
  add_string (json, "state_filesystem", filesystem_name (d->dir));
  add_number (json, "load_average_before", d->load_before);
  add_number (json, "load_average_after", d->load_after);
  json_end_object (json);
}

void
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

void
json_begin_array (Json *json, const char *name)
{
  json_open (json, name, '[');
}

void
json_end_array (Json *json)
{
  json_close (json, ']');
}

gboolean
bench_daemon_write_config (BenchDaemon *d, const char *config, GError **error)
{
  g_autofree char *text = g_strdup_printf ("%s\n[http]\nsocket=\nlisten=\n", config);
  return write_file (d->config_path, text, error);
}

gboolean
bench_daemon_prepare (BenchDaemon *d, const char *tmp_parent, const char *config, GError **error)
{
  g_autofree char *template = g_build_filename (tmp_parent, "smartrag-bench-XXXXXX", NULL);
  d->dir = g_mkdtemp (g_steal_pointer (&template));
  if (d->dir == NULL)
    return fail (error, "cannot create a directory in %s: %s", tmp_parent, g_strerror (errno));
  d->config_path = g_build_filename (d->dir, "smartrag.conf", NULL);
  d->log_path = g_build_filename (d->dir, "smartragd.log", NULL);
  return bench_daemon_write_config (d, config, error) && open_notify_socket (d, error)
         && start_bus (d, error) && connect_bus (d->bus_address, &d->client, error);
}

void
bench_daemon_clear (BenchDaemon *d, gboolean keep)
{
  int status;

  if (d->daemon_pid > 0)
    terminate (d->daemon_pid, d->stop_timeout_us, &status);
  g_clear_pointer (&d->client, sd_bus_flush_close_unref);
  if (d->bus_pid > 0)
    terminate (d->bus_pid, BUS_START_TIMEOUT_US, &status);
  if (d->notify_fd >= 0)
    close (d->notify_fd);
  if (keep && d->dir != NULL)
    progress ("kept %s (the daemon's log and state)", d->dir);
  else
    remove_tree (d->dir);
  g_free (d->dir);
  g_free (d->config_path);
  g_free (d->log_path);
  g_free (d->bus_address);
  g_free (d->daemon_version);
  g_free (d->daemon_path);
  g_free (d->extract_helper);
  g_free (d->dbus_daemon);
}

void
bench_daemon_args_clear (BenchDaemonArgs *args)
{
  g_clear_pointer (&args->daemon, g_free);
  g_clear_pointer (&args->helper, g_free);
  g_clear_pointer (&args->dbus_daemon, g_free);
  g_clear_pointer (&args->build_type, g_free);
}

gboolean
bench_daemon_resolve (BenchDaemon *d, BenchDaemonArgs *args, int argc, char **argv,
                      const char *built_daemon, const char *built_helper, const char *built_type,
                      char **build_type, GError **error)
{
  gboolean built_here = FALSE;
  if (argc == 2) {
    g_free (args->daemon);
    args->daemon = g_strdup (argv[1]);
  } else if (args->daemon == NULL && g_getenv ("SMARTRAGD") != NULL) {
    args->daemon = g_strdup (g_getenv ("SMARTRAGD"));
  } else if (args->daemon == NULL) {
    args->daemon = g_strdup (built_daemon);
    built_here = TRUE;
  }
  if (!g_file_test (args->daemon, G_FILE_TEST_IS_EXECUTABLE))
    return fail (error, "%s is not an executable smartragd", args->daemon);
  if (built_helper != NULL) {
    if (args->helper == NULL && g_getenv ("SMARTRAG_EXTRACT_HELPER") != NULL)
      args->helper = g_strdup (g_getenv ("SMARTRAG_EXTRACT_HELPER"));
    else if (args->helper == NULL && built_here)
      args->helper = g_strdup (built_helper);
    if (args->helper != NULL && !g_file_test (args->helper, G_FILE_TEST_IS_EXECUTABLE))
      return fail (error, "%s is not an executable smartrag-extract", args->helper);
  }

  d->daemon_path = g_steal_pointer (&args->daemon);
  d->extract_helper = g_steal_pointer (&args->helper);
  d->dbus_daemon
      = args->dbus_daemon ? g_steal_pointer (&args->dbus_daemon) : g_strdup ("dbus-daemon");
  *build_type = args->build_type ? g_steal_pointer (&args->build_type)
                                 : g_strdup (built_here ? built_type : "unknown");
  return TRUE;
}

/* utime + stime of /proc/<pid>/stat, in seconds; 0 when the process cannot be read. */
double
process_cpu_seconds (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  /* The command name may hold spaces; the fields are counted after its closing parenthesis,
   * where field 3 (state) starts: utime and stime are fields 14 and 15. */
  const char *after = strrchr (text, ')');
  if (after == NULL)
    return 0;
  g_auto (GStrv) fields = g_strsplit (after + 2, " ", -1);
  if (g_strv_length (fields) < 13)
    return 0;
  double ticks = g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL);
  return ticks / (double) sysconf (_SC_CLK_TCK);
}

/* Sorts @samples in place and takes their nearest-rank percentile. */
double
percentile_of (GArray *samples, double q)
{
  g_array_sort (samples, compare_doubles);
  return percentile (samples, q);
}

void
add_series (Json *json, const char *name, GArray *samples)
{
  /* p999 says something only of a thousand samples or more. */
  add_latency (json, name, samples, samples->len >= 1000);
}

/* The lines of a configuration file as an array of strings, blank lines left out. */
void
add_config_lines (Json *json, const char *name, const char *config)
{
  g_auto (GStrv) lines = g_strsplit (config, "\n", -1);
  json_begin_array (json, name);
  for (guint i = 0; lines[i] != NULL; i++)
    if (*lines[i] != '\0')
      add_string (json, NULL, lines[i]);
  json_end_array (json);
}

gboolean
bench_parse_options (const GOptionEntry *entries, const char *summary, int *argc, char ***argv,
                     GError **error)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("[SMARTRAGD]");
  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 2)
    return fail (error, "unexpected argument '%s'", (*argv)[2]);
  return TRUE;
}

void
add_daemon_identity (Json *json, BenchDaemon *d, const char *build_type)
{
  add_string (json, "path", d->daemon_path);
  add_string (json, "extract_helper", d->extract_helper ? d->extract_helper : "(installed path)");
  add_string (json, "version", d->daemon_version ? d->daemon_version : "unknown");
  add_string (json, "build_type", build_type);
  add_string (json, "mode",
              d->system_mode ? "system (caller is root, no polkit)" : "user (--user, no polkit)");
}
