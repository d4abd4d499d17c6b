/* Checking a backup against its manifest and staging a copy of it beside the live state. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  int schema_version; /* of the backup's database */
  guint64 files;      /* checked and staged, the database included */
  guint64 bytes;
} SrRestoreStaged;

/* Checks the backup folder @backup without touching the state: its manifest, that it
 * holds exactly the files listed, each of the listed size and SHA-256, and a schema no
 * newer than @latest_schema. Then copies it into sr_swap_staging_dir (@state_dir),
 * checking every byte again as it is copied, and migrates the staged database to this
 * build's schema. Refusals are INVALID_ARGS saying what is wrong; on any failure nothing
 * is left staged. Slow: run it on a worker thread. */
gboolean sr_store_restore_stage (const char *backup, const char *state_dir, int latest_schema,
                                 SrRestoreStaged *staged, GError **error);

G_END_DECLS
