/* Running a document reader in the smartrag-extract helper, confined and bounded. */
#pragma once

#include <gio/gio.h>

#include "ingest/extracted.h"

G_BEGIN_DECLS

typedef struct {
  guint64 max_file_bytes;         /* input read from the fd; default 100 MiB */
  guint64 max_memory_bytes;       /* the helper's address space (RLIMIT_AS), also watched as
                                   * resident memory from outside; default 1 GiB */
  guint cpu_seconds;              /* CPU time (RLIMIT_CPU); default 60 s */
  guint wall_timeout_seconds;     /* from start to exit, then the helper is killed;
                                   * default 120 s */
  guint64 max_output_bytes;       /* extracted text with its framing; default 64 MiB */
  guint64 max_decompressed_bytes; /* inflated from DOCX, ODT and EPUB members; default 512 MiB */
  guint max_pages;                /* PDF pages; default 5000 */
} SrSandboxLimits;

#define SR_SANDBOX_DEFAULT_MAX_FILE_BYTES         (G_GUINT64_CONSTANT (100) << 20)
#define SR_SANDBOX_DEFAULT_MAX_MEMORY_BYTES       (G_GUINT64_CONSTANT (1) << 30)
#define SR_SANDBOX_DEFAULT_CPU_SECONDS            60
#define SR_SANDBOX_DEFAULT_WALL_TIMEOUT_SECONDS   120
#define SR_SANDBOX_DEFAULT_MAX_OUTPUT_BYTES       (G_GUINT64_CONSTANT (64) << 20)
#define SR_SANDBOX_DEFAULT_MAX_DECOMPRESSED_BYTES (G_GUINT64_CONSTANT (512) << 20)
#define SR_SANDBOX_DEFAULT_MAX_PAGES              5000

/* Fills @limits with the defaults above. */
void sr_sandbox_limits_init (SrSandboxLimits *limits);

/* Reads the file behind @fd (from its current offset) in the helper at @helper_path and
 * returns what it found. @filename only helps to tell the format. The helper runs as a fork
 * server (`--serve`), started on the first call for @helper_path and again when it has died
 * or been replaced on disk; each document is read by a child it forks. Blocks until that
 * child has exited and been reaped, so call it from a worker thread; any number of threads
 * may call at once. Cancelling kills the child.
 * @limits may be NULL for the defaults. Errors are SMARTRAG_ERROR: the reader's own
 * UNSUPPORTED_FORMAT, INVALID_ARGS and TOO_LARGE pass through; a limit the helper hits
 * (time, CPU, memory, output) is TOO_LARGE; a crash, a sandbox violation or malformed output
 * is FAILED; cancelling is CANCELLED. No helper process outlives the call. */
SrExtracted *sr_sandbox_extract (const char *helper_path, int fd, const char *filename,
                                 const SrSandboxLimits *limits, GCancellable *cancellable,
                                 GError **error);
/* The same for text a person typed (AddText): read as text, HTML or Markdown, never as
 * the binary format its first bytes may look like (sr_format_detect_typed()). */
SrExtracted *sr_sandbox_extract_typed (const char *helper_path, int fd, const char *filename,
                                       const SrSandboxLimits *limits, GCancellable *cancellable,
                                       GError **error);

/* Only tells the format of the file behind @fd, as the helper would when extracting it,
 * with the same confinement and bounds; for what cannot be told from leading bytes alone,
 * such as the members of a zip archive. A file no reader takes gives TRUE with
 * SR_FORMAT_UNKNOWN; errors are the other ones of sr_sandbox_extract(). */
gboolean sr_sandbox_detect (const char *helper_path, int fd, const char *filename,
                            const SrSandboxLimits *limits, GCancellable *cancellable,
                            SrFormat *format, GError **error);

/* Stops every fork server this process started: each takes no more requests, finishes the
 * children it has, and is reaped. A later call starts a new one. */
void sr_sandbox_shutdown (void);

G_END_DECLS
