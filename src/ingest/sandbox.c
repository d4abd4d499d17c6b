/* Spawns smartrag-extract on a file descriptor, bounds it in time and output, reads its reply. */
#include "ingest/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errors.h"
#include "extract/protocol.h"

/* Resident memory is sampled this often; the helper's own RLIMIT_AS is the hard bound. */
#define WATCH_INTERVAL_MS 50
/* Enough of the helper's stderr to explain a failure in the log. */
#define MAX_STDERR_BYTES 4096

typedef enum {
  STOP_NONE,
  STOP_TIMEOUT,
  STOP_OUTPUT,
  STOP_MEMORY,
  STOP_CANCELLED,
} StopReason;

typedef struct {
  const SrSandboxLimits *limits;
  const char *filename;
  gboolean detect_only;
  GPid pid;
  int out_fd;
  int err_fd;
  gint64 deadline; /* monotonic µs */
  GByteArray *out;
  GString *err;
  StopReason stop;
  int status;
  struct rusage usage;
} Run;

void
sr_sandbox_limits_init (SrSandboxLimits *limits)
{
  *limits = (SrSandboxLimits){
    .max_file_bytes = SR_SANDBOX_DEFAULT_MAX_FILE_BYTES,
    .max_memory_bytes = SR_SANDBOX_DEFAULT_MAX_MEMORY_BYTES,
    .cpu_seconds = SR_SANDBOX_DEFAULT_CPU_SECONDS,
    .wall_timeout_seconds = SR_SANDBOX_DEFAULT_WALL_TIMEOUT_SECONDS,
    .max_output_bytes = SR_SANDBOX_DEFAULT_MAX_OUTPUT_BYTES,
    .max_decompressed_bytes = SR_SANDBOX_DEFAULT_MAX_DECOMPRESSED_BYTES,
    .max_pages = SR_SANDBOX_DEFAULT_MAX_PAGES,
  };
}

/* Runs in the child between fork and exec: only async-signal-safe calls. Worker threads
 * block signals and the daemon may ignore some; the helper must start with the defaults so
 * that SIGXCPU and SIGPIPE stop it. Its own process group lets one kill reach everything. */
static void
child_setup (gpointer user_data)
{
  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal (sig, SIG_DFL);
  setpgid (0, 0);
}

/* Only the locale travels, so that messages come back in the daemon's language. */
static char **
helper_environment (void)
{
  static const char *const keep[] = { "LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LC_CTYPE" };
  g_auto (GStrv) current = g_get_environ ();
  char **env = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (keep); i++) {
    const char *value = g_environ_getenv (current, keep[i]);
    if (value != NULL)
      env = g_environ_setenv (env, keep[i], value, TRUE);
  }
  return env != NULL ? env : g_new0 (char *, 1);
}

static GPtrArray *
helper_arguments (const char *helper_path, const Run *run)
{
  const SrSandboxLimits *limits = run->limits;
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_strdup (helper_path));
  g_ptr_array_add (argv, g_strdup_printf ("--filename=%s", run->filename));
  if (run->detect_only)
    g_ptr_array_add (argv, g_strdup ("--detect"));
  g_ptr_array_add (argv,
                   g_strdup_printf ("--max-file-bytes=%" G_GUINT64_FORMAT, limits->max_file_bytes));
  g_ptr_array_add (
      argv, g_strdup_printf ("--max-memory-bytes=%" G_GUINT64_FORMAT, limits->max_memory_bytes));
  g_ptr_array_add (argv, g_strdup_printf ("--cpu-seconds=%u", limits->cpu_seconds));
  g_ptr_array_add (
      argv, g_strdup_printf ("--max-output-bytes=%" G_GUINT64_FORMAT, limits->max_output_bytes));
  g_ptr_array_add (argv, g_strdup_printf ("--max-decompressed-bytes=%" G_GUINT64_FORMAT,
                                          limits->max_decompressed_bytes));
  g_ptr_array_add (argv, g_strdup_printf ("--max-pages=%u", limits->max_pages));
  g_ptr_array_add (argv, NULL);
  return argv;
}

static gboolean
spawn_helper (Run *run, const char *helper_path, int fd, GError **error)
{
  g_autoptr (GPtrArray) argv = helper_arguments (helper_path, run);
  g_auto (GStrv) env = helper_environment ();
  g_autoptr (GError) local = NULL;

  if (!g_spawn_async_with_pipes_and_fds ("/", (const char *const *) argv->pdata,
                                         (const char *const *) env, G_SPAWN_DO_NOT_REAP_CHILD,
                                         child_setup, NULL, fd, -1, -1, NULL, NULL, 0, &run->pid,
                                         NULL, &run->out_fd, &run->err_fd, &local)) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Could not start the document reader %s: %s; check the installation"),
                 helper_path, local->message);
    return FALSE;
  }
  return TRUE;
}

static guint64
resident_bytes (GPid pid)
{
  char path[64];
  g_snprintf (path, sizeof path, "/proc/%d/statm", (int) pid);
  g_autofree char *contents = NULL;
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  guint64 size = 0, resident = 0;
  if (sscanf (contents, "%" SCNu64 " %" SCNu64, &size, &resident) != 2)
    return 0;
  return resident * (guint64) sysconf (_SC_PAGESIZE);
}

/* Reads what is there; FALSE at end of file. */
static gboolean
drain (int fd, GByteArray *into, gsize cap, gboolean *over)
{
  guint8 buffer[65536];
  ssize_t n = read (fd, buffer, sizeof buffer);
  if (n < 0)
    return errno == EINTR || errno == EAGAIN;
  if (n == 0)
    return FALSE;
  if (into->len + (gsize) n > cap) {
    *over = TRUE;
    n = (ssize_t) (cap - into->len);
  }
  g_byte_array_append (into, buffer, (guint) n);
  return TRUE;
}

static int
poll_timeout (const Run *run)
{
  gint64 left_ms = (run->deadline - g_get_monotonic_time ()) / 1000;
  return (int) CLAMP (left_ms, 0, WATCH_INTERVAL_MS);
}

static StopReason
check_bounds (const Run *run, GCancellable *cancellable)
{
  if (g_cancellable_is_cancelled (cancellable))
    return STOP_CANCELLED;
  if (g_get_monotonic_time () >= run->deadline)
    return STOP_TIMEOUT;
  if (resident_bytes (run->pid) > run->limits->max_memory_bytes)
    return STOP_MEMORY;
  return STOP_NONE;
}

/* Collects stdout (capped) and the start of stderr until stdout closes or a bound is hit. */
static void
collect_output (Run *run, GCancellable *cancellable)
{
  gsize out_cap = run->limits->max_output_bytes + SR_PROTOCOL_ERROR_OVERHEAD;
  g_autoptr (GByteArray) err = g_byte_array_new ();
  struct pollfd fds[3] = { { run->out_fd, POLLIN, 0 }, { run->err_fd, POLLIN, 0 } };
  nfds_t nfds = 2;
  GPollFD cancel_fd;

  if (g_cancellable_make_pollfd (cancellable, &cancel_fd)) {
    fds[nfds++] = (struct pollfd){ cancel_fd.fd, POLLIN, 0 };
  }
  while (fds[0].fd >= 0 && (run->stop = check_bounds (run, cancellable)) == STOP_NONE) {
    if (poll (fds, nfds, poll_timeout (run)) < 0 && errno != EINTR)
      break;
    gboolean over = FALSE;
    if (fds[0].revents != 0 && !drain (run->out_fd, run->out, out_cap, &over))
      fds[0].fd = -1;
    if (over)
      run->stop = STOP_OUTPUT;
    if (run->stop != STOP_NONE)
      break;
    gboolean err_over = FALSE;
    if (fds[1].revents != 0 && !drain (run->err_fd, err, MAX_STDERR_BYTES, &err_over))
      fds[1].fd = -1;
  }
  if (nfds == 3)
    g_cancellable_release_fd (cancellable);
  g_string_append_len (run->err, (const char *) err->data, err->len);
}

/* Waits for the helper to exit on its own, within the deadline, without reaping it. */
static void
await_exit (Run *run, GCancellable *cancellable)
{
  while (run->stop == STOP_NONE) {
    siginfo_t info = { 0 };
    if (waitid (P_PID, run->pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno != EINTR)
      return;
    if (info.si_pid == run->pid)
      return;
    run->stop = check_bounds (run, cancellable);
    g_usleep (2000);
  }
}

/* The zombie leader keeps the group id from being reused, so killing the group before
 * reaping cannot hit an unrelated process. */
static void
kill_and_reap (Run *run)
{
  kill (-run->pid, SIGKILL);
  if (run->stop != STOP_NONE)
    kill (run->pid, SIGKILL);
  while (wait4 (run->pid, &run->status, 0, &run->usage) < 0 && errno == EINTR)
    ;
  g_spawn_close_pid (run->pid);
}

static const char *
parser_name (const Run *run)
{
  SrFormat format = sr_protocol_peek_format (run->out->data, run->out->len);
  return format == SR_FORMAT_UNKNOWN ? _ ("document") : sr_format_name (format);
}

static double
cpu_seconds_used (const struct rusage *usage)
{
  return (double) usage->ru_utime.tv_sec + usage->ru_utime.tv_usec / 1e6
         + (double) usage->ru_stime.tv_sec + usage->ru_stime.tv_usec / 1e6;
}

static gboolean too_large (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
too_large (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE, message);
  return FALSE;
}

static gboolean
report_stop (const Run *run, GError **error)
{
  const SrSandboxLimits *limits = run->limits;
  g_autofree char *size = NULL;

  switch (run->stop) {
  case STOP_TIMEOUT:
    return too_large (error,
                      _ ("Reading %s took longer than %u s and was stopped ([limits] "
                         "extract_timeout); the file may be damaged or too complex"),
                      run->filename, limits->wall_timeout_seconds);
  case STOP_OUTPUT:
    size = g_format_size_full (limits->max_output_bytes, G_FORMAT_SIZE_IEC_UNITS);
    return too_large (error,
                      _ ("%s holds more than %s of text, the limit for one document "
                         "([limits] max_extracted_size)"),
                      run->filename, size);
  case STOP_MEMORY:
    size = g_format_size_full (limits->max_memory_bytes, G_FORMAT_SIZE_IEC_UNITS);
    return too_large (error,
                      _ ("Reading %s needed more than %s of memory and was stopped ([limits] "
                         "extract_memory)"),
                      run->filename, size);
  case STOP_CANCELLED:
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED, _ ("Reading %s was cancelled"),
                 run->filename);
    return FALSE;
  case STOP_NONE:
    break;
  }
  g_assert_not_reached ();
}

static char *
signal_name (int sig)
{
  static const struct {
    int number;
    const char *name;
  } names[] = {
    { SIGSEGV, "SIGSEGV" }, { SIGBUS, "SIGBUS" },   { SIGABRT, "SIGABRT" }, { SIGFPE, "SIGFPE" },
    { SIGILL, "SIGILL" },   { SIGSYS, "SIGSYS" },   { SIGKILL, "SIGKILL" }, { SIGTRAP, "SIGTRAP" },
    { SIGPIPE, "SIGPIPE" }, { SIGXFSZ, "SIGXFSZ" }, { SIGTERM, "SIGTERM" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (names[i].number == sig)
      return g_strdup (names[i].name);
  return g_strdup_printf (_ ("signal %d"), sig);
}

/* A death by signal: a limit the kernel enforced, the sandbox, or a real crash. */
static gboolean
report_signal (const Run *run, GError **error)
{
  const SrSandboxLimits *limits = run->limits;
  int sig = WTERMSIG (run->status);
  guint64 peak = (guint64) run->usage.ru_maxrss * 1024;

  if (sig == SIGXCPU || (sig == SIGKILL && cpu_seconds_used (&run->usage) >= limits->cpu_seconds))
    return too_large (error,
                      _ ("Reading %s used more than %u s of processor time and was stopped "
                         "([limits] extract_cpu_time); the file may be damaged or too complex"),
                      run->filename, limits->cpu_seconds);
  if (peak >= limits->max_memory_bytes / 2 && sig != SIGSYS) {
    Run as_memory = *run;
    as_memory.stop = STOP_MEMORY;
    return report_stop (&as_memory, error);
  }
  g_autofree char *name = signal_name (sig);
  if (sig == SIGSYS)
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("The %s parser tried something its sandbox forbids while reading %s (%s) "
                    "and was stopped; the file may be hostile"),
                 parser_name (run), run->filename, name);
  else
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("The %s parser crashed on %s (%s); the file may be damaged"), parser_name (run),
                 run->filename, name);
  return FALSE;
}

static SrExtracted *
interpret (const Run *run, GError **error)
{
  if (run->stop != STOP_NONE) {
    report_stop (run, error);
    return NULL;
  }
  if (WIFSIGNALED (run->status)) {
    report_signal (run, error);
    return NULL;
  }
  if (!WIFEXITED (run->status) || WEXITSTATUS (run->status) != 0) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("The document reader failed on %s (exit status %d); see the log"),
                 run->filename, WEXITSTATUS (run->status));
    return NULL;
  }
  return sr_protocol_decode (run->out->data, run->out->len, error);
}

static void
log_stderr (const Run *run)
{
  if (run->err->len > 0)
    g_debug ("smartrag-extract on %s said: %s", run->filename, run->err->str);
}

static SrExtracted *
run_helper (const char *helper_path, int fd, const char *filename, const SrSandboxLimits *limits,
            gboolean detect_only, GCancellable *cancellable, GError **error)
{
  SrSandboxLimits defaults;
  if (limits == NULL) {
    sr_sandbox_limits_init (&defaults);
    limits = &defaults;
  }
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (GString) err = g_string_new (NULL);
  Run run = {
    .limits = limits,
    .filename = filename,
    .detect_only = detect_only,
    .out = out,
    .err = err,
    .out_fd = -1,
    .err_fd = -1,
    .deadline = g_get_monotonic_time () + (gint64) limits->wall_timeout_seconds * G_USEC_PER_SEC,
  };

  if (g_cancellable_is_cancelled (cancellable)) {
    run.stop = STOP_CANCELLED;
    report_stop (&run, error);
    return NULL;
  }
  if (!spawn_helper (&run, helper_path, fd, error))
    return NULL;
  collect_output (&run, cancellable);
  await_exit (&run, cancellable);
  kill_and_reap (&run);
  close (run.out_fd);
  close (run.err_fd);

  SrExtracted *extracted = interpret (&run, error);
  if (extracted == NULL)
    log_stderr (&run);
  return extracted;
}

SrExtracted *
sr_sandbox_extract (const char *helper_path, int fd, const char *filename,
                    const SrSandboxLimits *limits, GCancellable *cancellable, GError **error)
{
  return run_helper (helper_path, fd, filename, limits, FALSE, cancellable, error);
}

gboolean
sr_sandbox_detect (const char *helper_path, int fd, const char *filename,
                   const SrSandboxLimits *limits, GCancellable *cancellable, SrFormat *format,
                   GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (SrExtracted) extracted
      = run_helper (helper_path, fd, filename, limits, TRUE, cancellable, &local);
  if (extracted != NULL) {
    *format = extracted->format;
    return TRUE;
  }
  /* The helper refuses an unknown format as it would when extracting: that is an answer. */
  if (g_error_matches (local, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT)) {
    *format = SR_FORMAT_UNKNOWN;
    return TRUE;
  }
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}
