/* The messages between smartragd and its fork server, `smartrag-extract --serve`. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The daemon starts the server with one end of a SOCK_SEQPACKET socket pair here. Each
 * message on it is one request: an SrServeRequest, the filename right after it, and
 * SR_SERVE_N_FDS descriptors. The server answers on the request's own reply socket: STARTED
 * with the child's pidfd, then EXITED once it has reaped the child, then it closes that
 * socket; or REFUSED alone. Both ends come from one build, so structures travel as they are
 * laid out in memory; the version catches a helper and a daemon from different builds. */
#define SR_SERVE_FD           3
#define SR_SERVE_VERSION      1
#define SR_SERVE_MAX_FILENAME 4096

/* The descriptors of a request, in this order. */
enum {
  SR_SERVE_FD_INPUT,  /* the document, read from its current offset; the child's stdin */
  SR_SERVE_FD_OUTPUT, /* the write end of a pipe; the child's stdout */
  SR_SERVE_FD_ERRORS, /* the write end of another; the child's stderr, never a file that
                       * RLIMIT_FSIZE would turn a complaint on into SIGXFSZ */
  SR_SERVE_FD_REPLY,  /* where the server reports on this request */
  SR_SERVE_N_FDS,
};

#define SR_SERVE_DETECT_ONLY (1u << 0)
#define SR_SERVE_TYPED_TEXT  (1u << 1) /* SrExtractJob.typed_text */

typedef struct {
  guint32 version;
  guint32 flags;
  guint64 max_file_bytes;
  guint64 max_memory_bytes;
  guint64 max_output_bytes;
  guint64 max_decompressed_bytes;
  guint32 cpu_seconds;
  guint32 max_pages;
  guint32 filename_length; /* bytes of filename after the header, without a NUL */
  gint32 niceness;         /* of the thread that asked; the child runs at least as nice */
} SrServeRequest;

typedef enum {
  SR_SERVE_STARTED = 1, /* the child runs; its pidfd comes with the report */
  SR_SERVE_EXITED,      /* the child is reaped; the last report */
  SR_SERVE_REFUSED,     /* no child was started; the only report */
} SrServeReportType;

typedef struct {
  guint32 type;
  gint32 pid;            /* STARTED */
  gint32 wait_status;    /* EXITED: as waitpid() gives it */
  gint32 error;          /* REFUSED: an errno value */
  guint64 cpu_usec;      /* EXITED: user and system time */
  guint64 max_rss_bytes; /* EXITED: peak resident memory */
} SrServeReport;

/* Every signal back to its default disposition and none blocked: a process the daemon
 * or the server starts must not inherit what its parent ignored or blocked. Only
 * async-signal-safe calls, for between fork() and exec(). */
void sr_serve_reset_signals (void);

/* Sends one message with @n_fds descriptors attached; never raises SIGPIPE.
 * Returns 0 or a negative errno. */
int sr_serve_send (int socket, const void *data, gsize length, const int *fds, guint n_fds);

/* Receives one message into @buffer and up to @max_fds descriptors, close-on-exec, into
 * @fds (the rest are set to -1) and their number into @n_fds. Returns the message length,
 * 0 at the end of the stream or a negative errno; a message cut short or with too many
 * descriptors is -EBADMSG, and whatever came with it is closed. */
gssize sr_serve_receive (int socket, void *buffer, gsize size, int *fds, guint max_fds,
                         guint *n_fds);

/* A request as it goes on the wire: header and filename. */
GByteArray *sr_serve_request_encode (const SrServeRequest *request, const char *filename);

/* Checks a received request and copies out its header and its filename (a new string).
 * Returns 0, -EPROTO for another version, or -EINVAL for a malformed one. */
int sr_serve_request_decode (const guint8 *data, gsize length, SrServeRequest *request,
                             char **filename);

G_END_DECLS
