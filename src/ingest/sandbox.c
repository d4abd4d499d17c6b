/* Has the helper's fork server read a document, bounds it in time and output, reads the reply. */
#define _GNU_SOURCE /* pipe2, gettid */
#include "ingest/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errors.h"
#include "extract/protocol.h"
#include "extract/serve-protocol.h"
#include "ingest/sandbox-server.h"

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
  const char *helper_path;
  const char *filename;
  gboolean detect_only;
  gboolean typed_text;
  SrSandboxServer *server; /* held while the request runs */
  int out_fd;              /* the child's stdout */
  int err_fd;              /* the child's stderr, non-blocking */
  int reply_fd;            /* the server's reports on this request */
  int pidfd;               /* the child, once the server has started it */
  pid_t pid;
  gboolean exited; /* reaped by the server; status and usage below are known */
  int refused;     /* the server started no child, for this errno */
  gboolean lost;   /* the server went away before reporting the end */
  gint64 deadline; /* monotonic µs */
  GByteArray *out;
  GByteArray *err;
  StopReason stop;
  int status;
  guint64 cpu_usec;
  guint64 peak_bytes;
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

static GByteArray *
encode_request (const Run *run)
{
  const SrSandboxLimits *limits = run->limits;
  SrServeRequest request = {
    .version = SR_SERVE_VERSION,
    .flags
    = (run->detect_only ? SR_SERVE_DETECT_ONLY : 0) | (run->typed_text ? SR_SERVE_TYPED_TEXT : 0),
    .max_file_bytes = limits->max_file_bytes,
    .max_memory_bytes = limits->max_memory_bytes,
    .max_output_bytes = limits->max_output_bytes,
    .max_decompressed_bytes = limits->max_decompressed_bytes,
    .cpu_seconds = limits->cpu_seconds,
    .max_pages = limits->max_pages,
    .filename_length = (guint32) strlen (run->filename),
    /* Linux keeps one per thread; the workers lower theirs to yield to the main loop. */
    .niceness = getpriority (PRIO_PROCESS, (id_t) gettid ()),
  };
  return sr_serve_request_encode (&request, run->filename);
}

static void
close_pair (int pair[2])
{
  close (pair[0]);
  close (pair[1]);
}

/* Both ends of the child's stdout and stderr and of the request's reply socket. */
static gboolean
open_channels (const Run *run, int out[2], int err[2], int reply[2], GError **error)
{
  int saved;

  if (pipe2 (out, O_CLOEXEC) != 0) {
    saved = errno;
  } else if (pipe2 (err, O_CLOEXEC | O_NONBLOCK) != 0) {
    saved = errno;
    close_pair (out);
  } else if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, reply) != 0) {
    saved = errno;
    close_pair (out);
    close_pair (err);
  } else {
    return TRUE;
  }
  sr_sandbox_server_set_start_error (error, run->helper_path, g_strerror (saved));
  return FALSE;
}

/* Hands the document, fresh output and error pipes and a fresh reply socket to the fork
 * server. */
static gboolean
submit (Run *run, int fd, GError **error)
{
  int out[2], err[2], reply[2];

  if (strlen (run->filename) > SR_SERVE_MAX_FILENAME) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("The file name is longer than %d bytes"), SR_SERVE_MAX_FILENAME);
    return FALSE;
  }
  if (!open_channels (run, out, err, reply, error))
    return FALSE;
  g_autoptr (GByteArray) request = encode_request (run);
  const int fds[SR_SERVE_N_FDS] = {
    [SR_SERVE_FD_INPUT] = fd,
    [SR_SERVE_FD_OUTPUT] = out[1],
    [SR_SERVE_FD_ERRORS] = err[1],
    [SR_SERVE_FD_REPLY] = reply[1],
  };
  run->server = sr_sandbox_server_send (run->helper_path, request->data, request->len, fds,
                                        SR_SERVE_N_FDS, error);
  /* Only the child may keep the write ends: its exit has to be the end of its output. */
  close (out[1]);
  close (err[1]);
  close (reply[1]);
  if (run->server == NULL) {
    close (out[0]);
    close (err[0]);
    close (reply[0]);
    return FALSE;
  }
  run->out_fd = out[0];
  run->err_fd = err[0];
  run->reply_fd = reply[0];
  return TRUE;
}

/* Whether the child has been reaped: its pidfd polls readable from then on. */
static gboolean
child_exited (const Run *run)
{
  struct pollfd pfd = { run->pidfd, POLLIN, 0 };
  return poll (&pfd, 1, 0) != 0;
}

/* The pid is only the child's while it has not exited; checking after reading makes sure
 * the figure is not another process's that got the pid again. */
static guint64
resident_bytes (const Run *run)
{
  if (run->pidfd < 0)
    return 0;
  char path[64];
  g_snprintf (path, sizeof path, "/proc/%d/statm", (int) run->pid);
  g_autofree char *contents = NULL;
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  guint64 size = 0, resident = 0;
  if (sscanf (contents, "%" SCNu64 " %" SCNu64, &size, &resident) != 2 || child_exited (run))
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
  if (resident_bytes (run) > run->limits->max_memory_bytes)
    return STOP_MEMORY;
  return STOP_NONE;
}

/* The server reports on the request until it closes the reply socket. */
static gboolean
reporting (const Run *run)
{
  return run->reply_fd >= 0;
}

static void
close_reply (Run *run)
{
  close (run->reply_fd);
  run->reply_fd = -1;
}

static void
take_started (Run *run, const SrServeReport *report, int pidfd, guint n_fds)
{
  if (n_fds != 1 || run->pidfd >= 0) {
    if (n_fds == 1)
      close (pidfd);
    run->lost = TRUE;
    close_reply (run);
    return;
  }
  run->pidfd = pidfd;
  run->pid = report->pid;
}

/* Takes the next report, blocking if there is none yet. */
static void
receive_report (Run *run)
{
  SrServeReport report;
  int pidfd = -1;
  guint n_fds = 0;
  gssize n = sr_serve_receive (run->reply_fd, &report, sizeof report, &pidfd, 1, &n_fds);

  if (n == -EINTR || n == -EAGAIN)
    return;
  if (n != sizeof report) {
    /* The end of the stream, or a report that is not one: the server is gone or broken. */
    if (n_fds > 0)
      close (pidfd);
    run->lost = TRUE;
    close_reply (run);
    return;
  }
  switch (report.type) {
  case SR_SERVE_STARTED:
    take_started (run, &report, pidfd, n_fds);
    return;
  case SR_SERVE_EXITED:
    run->exited = TRUE;
    run->status = report.wait_status;
    run->cpu_usec = report.cpu_usec;
    run->peak_bytes = report.max_rss_bytes;
    break;
  case SR_SERVE_REFUSED:
    run->refused = report.error > 0 ? report.error : EPROTO;
    break;
  default:
    run->lost = TRUE;
    break;
  }
  if (n_fds > 0)
    close (pidfd);
  close_reply (run);
}

/* Collects stdout (capped), the start of stderr and the server's reports until the output
 * has ended and the child has been reaped, or a bound is hit. */
static void
watch (Run *run, GCancellable *cancellable)
{
  gsize out_cap = run->limits->max_output_bytes + SR_PROTOCOL_ERROR_OVERHEAD;
  GPollFD cancel_fd;
  gboolean cancel_pollable = g_cancellable_make_pollfd (cancellable, &cancel_fd);

  while (run->out_fd >= 0 || reporting (run)) {
    run->stop = check_bounds (run, cancellable);
    if (run->stop != STOP_NONE)
      break;
    struct pollfd fds[4] = {
      { run->out_fd, POLLIN, 0 },
      { run->reply_fd, POLLIN, 0 },
      { run->err_fd, POLLIN, 0 },
      { cancel_pollable ? cancel_fd.fd : -1, POLLIN, 0 },
    };
    /* Only EINTR, or ENOMEM when the kernel is short of memory; the bounds still hold. */
    if (poll (fds, G_N_ELEMENTS (fds), poll_timeout (run)) < 0) {
      g_usleep (1000);
      continue;
    }
    if (fds[1].revents != 0)
      receive_report (run);
    gboolean over = FALSE;
    if (fds[0].revents != 0 && !drain (run->out_fd, run->out, out_cap, &over)) {
      close (run->out_fd);
      run->out_fd = -1;
    }
    if (over) {
      run->stop = STOP_OUTPUT;
      break;
    }
    gboolean err_over = FALSE;
    if (fds[2].revents != 0 && !drain (run->err_fd, run->err, MAX_STDERR_BYTES, &err_over)) {
      close (run->err_fd);
      run->err_fd = -1;
    }
  }
  if (cancel_pollable)
    g_cancellable_release_fd (cancellable);
}

/* What the child wrote to stderr and was not read yet. Called once the child is gone, so
 * nothing more can come; the descriptor does not block, should a child the server lost
 * still hold it. */
static void
drain_stderr (Run *run)
{
  guint8 buffer[4096];

  for (;;) {
    ssize_t n = read (run->err_fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    gsize room = MAX_STDERR_BYTES - MIN (run->err->len, MAX_STDERR_BYTES);
    g_byte_array_append (run->err, buffer, (guint) MIN ((gsize) n, room));
  }
  close (run->err_fd);
  run->err_fd = -1;
}

/* A child that is stopped is killed, and waited for in every case, so that none outlives
 * the call. The server names its child before anything else, so waiting for the pidfd is
 * short. A child the server can no longer report on is waited for through its pidfd. */
static void
finish (Run *run)
{
  if (run->stop != STOP_NONE) {
    while (run->pidfd < 0 && reporting (run))
      receive_report (run);
    if (run->pidfd >= 0)
      pidfd_send_signal (run->pidfd, SIGKILL, NULL, 0);
  }
  while (reporting (run))
    receive_report (run);
  if (run->lost && run->pidfd >= 0) {
    pidfd_send_signal (run->pidfd, SIGKILL, NULL, 0);
    struct pollfd pfd = { run->pidfd, POLLIN, 0 };
    while (poll (&pfd, 1, -1) < 0 && errno == EINTR)
      ;
  }
  if (run->out_fd >= 0)
    close (run->out_fd);
  run->out_fd = -1;
  if (run->err_fd >= 0)
    drain_stderr (run);
  if (run->pidfd >= 0)
    close (run->pidfd);
  run->pidfd = -1;
  sr_sandbox_server_release (run->server, run->lost);
  run->server = NULL;
}

static const char *
parser_name (const Run *run)
{
  SrFormat format = sr_protocol_peek_format (run->out->data, run->out->len);
  return format == SR_FORMAT_UNKNOWN ? _ ("document") : sr_format_name (format);
}

static gboolean
report_stop (const Run *run, GError **error)
{
  const SrSandboxLimits *limits = run->limits;
  g_autofree char *size = NULL;

  switch (run->stop) {
  case STOP_TIMEOUT:
    return sr_error_set (error, SMARTRAG_ERROR_TOO_LARGE,
                         _ ("Reading %s took longer than %u s and was stopped ([limits] "
                            "extract_timeout); the file may be damaged or too complex"),
                         run->filename, limits->wall_timeout_seconds);
  case STOP_OUTPUT:
    size = g_format_size_full (limits->max_output_bytes, G_FORMAT_SIZE_IEC_UNITS);
    return sr_error_set (error, SMARTRAG_ERROR_TOO_LARGE,
                         _ ("%s holds more than %s of text, the limit for one document "
                            "([limits] max_extracted_size)"),
                         run->filename, size);
  case STOP_MEMORY:
    size = g_format_size_full (limits->max_memory_bytes, G_FORMAT_SIZE_IEC_UNITS);
    return sr_error_set (error, SMARTRAG_ERROR_TOO_LARGE,
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
  guint64 peak = run->peak_bytes;

  if (sig == SIGXCPU
      || (sig == SIGKILL && run->cpu_usec >= (guint64) limits->cpu_seconds * G_USEC_PER_SEC))
    return sr_error_set (error, SMARTRAG_ERROR_TOO_LARGE,
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
interpret (const Run *run, gboolean started, GError **error)
{
  if (run->stop != STOP_NONE) {
    report_stop (run, error);
    return NULL;
  }
  if (run->refused != 0) {
    sr_sandbox_server_set_start_error (error, run->helper_path, g_strerror (run->refused));
    return NULL;
  }
  if (run->lost && !started) {
    sr_sandbox_server_set_start_error (error, run->helper_path,
                                       _ ("it exited before taking the document"));
    return NULL;
  }
  if (run->lost) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("The document reader stopped unexpectedly while reading %s; see the log"),
                 run->filename);
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
    g_debug ("smartrag-extract on %s said: %.*s", run->filename, (int) run->err->len,
             (const char *) run->err->data);
}

/* One request; *started says whether the server got as far as forking a child. */
static gboolean
run_once (Run *run, int fd, GCancellable *cancellable, gboolean *started, GError **error)
{
  run->out_fd = run->err_fd = run->reply_fd = run->pidfd = -1;
  run->pid = 0;
  run->exited = run->lost = FALSE;
  run->refused = 0;
  g_byte_array_set_size (run->out, 0);
  g_byte_array_set_size (run->err, 0);
  if (!submit (run, fd, error))
    return FALSE;
  watch (run, cancellable);
  *started = run->pidfd >= 0 || run->exited;
  finish (run);
  return TRUE;
}

static SrExtracted *
run_helper (const char *helper_path, int fd, const char *filename, const SrSandboxLimits *limits,
            gboolean detect_only, gboolean typed_text, GCancellable *cancellable, GError **error)
{
  SrSandboxLimits defaults;
  if (limits == NULL) {
    sr_sandbox_limits_init (&defaults);
    limits = &defaults;
  }
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (GByteArray) err = g_byte_array_new ();
  Run run = {
    .limits = limits,
    .helper_path = helper_path,
    .filename = filename,
    .detect_only = detect_only,
    .typed_text = typed_text,
    .out = out,
    .err = err,
    .deadline = g_get_monotonic_time () + (gint64) limits->wall_timeout_seconds * G_USEC_PER_SEC,
  };

  if (g_cancellable_is_cancelled (cancellable)) {
    run.stop = STOP_CANCELLED;
    report_stop (&run, error);
    return NULL;
  }
  /* A server that died just before it took the request is replaced and the request sent
   * again, once; from the same offset, should a child have begun to read. */
  off_t offset = lseek (fd, 0, SEEK_CUR);
  gboolean started = FALSE;
  for (guint attempt = 0;; attempt++) {
    if (!run_once (&run, fd, cancellable, &started, error))
      return NULL;
    if (started || !run.lost || run.stop != STOP_NONE || attempt > 0 || offset < 0
        || lseek (fd, offset, SEEK_SET) < 0)
      break;
    g_debug ("The document reader %s went away before taking %s; trying again", helper_path,
             filename);
  }
  SrExtracted *extracted = interpret (&run, started, error);
  if (extracted == NULL)
    log_stderr (&run);
  return extracted;
}

SrExtracted *
sr_sandbox_extract (const char *helper_path, int fd, const char *filename,
                    const SrSandboxLimits *limits, GCancellable *cancellable, GError **error)
{
  return run_helper (helper_path, fd, filename, limits, FALSE, FALSE, cancellable, error);
}

SrExtracted *
sr_sandbox_extract_typed (const char *helper_path, int fd, const char *filename,
                          const SrSandboxLimits *limits, GCancellable *cancellable, GError **error)
{
  return run_helper (helper_path, fd, filename, limits, FALSE, TRUE, cancellable, error);
}

gboolean
sr_sandbox_detect (const char *helper_path, int fd, const char *filename,
                   const SrSandboxLimits *limits, GCancellable *cancellable, SrFormat *format,
                   GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (SrExtracted) extracted
      = run_helper (helper_path, fd, filename, limits, TRUE, FALSE, cancellable, &local);
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
