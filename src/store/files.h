/* Uploaded bytes, stored once by content under <state>/files/<sha256[0:2]>/<sha256>. */
#pragma once

#include <glib.h>

#include "common/sha256.h"

G_BEGIN_DECLS

typedef struct {
  char sha256[SR_SHA256_HEX_LENGTH + 1];
  guint64 size;
  gboolean existed; /* the same bytes were already stored */
} SrStoredFile;

/* Streams @fd to the end into the store, computing its SHA-256, and makes the file durable
 * (fsync of the file and of the directories it lands in) before returning. It blocks: run
 * it on a worker thread. A pipe or socket that goes silent for @idle_timeout_ms fails.
 * More than @max_bytes is TOO_LARGE, and nothing of it is kept. */
gboolean sr_files_put_fd (const char *files_dir, int fd, guint64 max_bytes, guint idle_timeout_ms,
                          SrStoredFile *stored, GError **error);

/* Looks at a complete upload before it is stored under its address: @fd reads its bytes from
 * the start (read-only), @head holds the first of them, up to the head_bytes asked for.
 * Returning FALSE with @error refuses the upload. Runs on the caller's thread. */
typedef gboolean (*SrFilesCheckFunc) (int fd, const guint8 *head, gsize head_length,
                                      gpointer user_data, GError **error);

typedef struct {
  gsize head_bytes;
  SrFilesCheckFunc func;
  gpointer user_data;
} SrFilesCheck;

/* sr_files_put_fd() that lets @check refuse the bytes once they have all arrived. A refused
 * upload leaves nothing behind, and stored files with the same bytes are not touched. */
gboolean sr_files_put_fd_checked (const char *files_dir, int fd, guint64 max_bytes,
                                  guint idle_timeout_ms, const SrFilesCheck *check,
                                  SrStoredFile *stored, GError **error);

char *sr_files_path (const char *files_dir, const char *sha256);

/* A new empty file without a name in the temporary folder, open for reading and writing,
 * for bytes that arrive piece by piece before sr_files_put_fd() takes them: it is gone
 * when the last descriptor closes, whatever happens to the daemon. */
int sr_files_open_unnamed (const char *files_dir, GError **error);

/* Removes a stored file; one that is already gone is not an error. */
gboolean sr_files_remove (const char *files_dir, const char *sha256, GError **error);

/* Deletes what an interrupted sr_files_put_fd() left in the temporary folder; returns how
 * many files went. Run at start, before any upload. */
guint sr_files_clean_temporary (const char *files_dir);

G_END_DECLS
