/* Writing one backup folder: the database's snapshot, index files, stored files, manifest. */
#pragma once

#include <glib.h>

#include "store/backup-memo.h"

G_BEGIN_DECLS

typedef struct {
  const char *state_dir;      /* holds smartrag.db, files/ and index/ */
  const char *root;           /* the backup directory */
  const char *comment;        /* kept in the manifest; NULL for none */
  const char *daemon_version; /* the daemon that writes it */
  guint keep;                 /* complete backups kept, this one included */
  gint64 now;                 /* µs since the epoch: the backup's name */
} SrBackupSpec;

typedef struct {
  char *path;           /* the new backup */
  int schema_version;   /* of its database */
  guint64 copied;       /* files copied */
  guint64 linked;       /* files hard-linked to the previous backup's */
  guint64 bytes_copied; /* bytes written, the database included */
  guint pruned;         /* old backups removed */
} SrBackupResult;

void sr_backup_result_clear (SrBackupResult *result);

/* Writes <root>/<time>/ from @spec's state, in this order, so that whatever is in the
 * backup belongs together:
 * - the index files, each either as it was or as it was rewritten (they are renamed into
 *   place whole); the start catches a restored index up with the restored database, so
 *   one a little older or newer than the database is fine;
 * - the database, one moment of it, through SQLite's online backup API;
 * - the stored files that moment names (the caller keeps them from being removed until
 *   this returns), hard-linked to the previous backup's when it holds the same bytes;
 * - manifest.json, written last and atomically; the folder gets its name only then, and
 *   "latest" is pointed at it. The oldest complete backups beyond @keep are removed.
 * What @memo remembers of the previous backup is linked without being read: index files
 * not renamed since, and the database when nothing has committed since. A failure leaves
 * no partial backup (and the next backup removes what a crash left). */
gboolean sr_store_backup (SrBackupMemo *memo, const SrBackupSpec *spec, SrBackupResult *result,
                          GError **error);

G_END_DECLS
