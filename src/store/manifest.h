/* A backup's manifest.json: every file's path, size and SHA-256, and the versions it needs. */
#pragma once

#include <glib.h>

#include "store/durable.h"

G_BEGIN_DECLS

#define SR_MANIFEST_NAME "manifest.json"
/* Format 1 holds the database whole, as smartrag.db; format 2 (written now) in segments,
 * database/000000, database/000001, ..., which joined in order are the database: what
 * did not change since the previous backup is shared with it segment by segment. */
#define SR_MANIFEST_FORMAT_WHOLE   1
#define SR_MANIFEST_FORMAT         2
#define SR_MANIFEST_SEGMENTS       "database"
#define SR_MANIFEST_SEGMENT_DIGITS 6
#define SR_MANIFEST_SEGMENT_BYTES  (4 * 1024 * 1024)

typedef struct {
  /* relative to the backup: database/<segment> (or smartrag.db), index/<name>,
   * files/<ab>/<sha256> */
  char *path;
  guint64 size;
  char sha256[SR_SHA256_HEX_LENGTH + 1];
} SrManifestEntry;

typedef struct {
  int format;           /* SR_MANIFEST_FORMAT for a new one */
  int schema_version;   /* the database's PRAGMA user_version */
  char *daemon_version; /* the smartragd that wrote it */
  gint64 created;       /* µs since the epoch */
  char *comment;        /* NULL when none was given */
  GPtrArray *entries;   /* SrManifestEntry, in the order written */
} SrManifest;

SrManifest *sr_manifest_new (void);
void sr_manifest_free (SrManifest *manifest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrManifest, sr_manifest_free)

void sr_manifest_add (SrManifest *manifest, const char *path, guint64 size, const char *sha256);
/* The entry for @path, or NULL. */
const SrManifestEntry *sr_manifest_find (const SrManifest *manifest, const char *path);

/* Whether @path is one a backup may hold: nothing absolute, no "..", no other place. */
gboolean sr_manifest_path_valid (const char *path);

/* database/<@index, zero-padded>. */
char *sr_manifest_segment_path (guint index);
/* Whether @path is the database or a part of it. */
gboolean sr_manifest_is_database (const char *path);
/* The entries that joined in order are the database: its segments, or smartrag.db alone
 * in format 1. The array borrows them from @manifest. */
GPtrArray *sr_manifest_database (const SrManifest *manifest);

/* Writes @dir/manifest.json atomically. */
gboolean sr_manifest_write (const SrManifest *manifest, const char *dir, GError **error);
/* Reads @dir/manifest.json and checks its shape strictly: the format (1 or 2), every
 * field's type, every path, no path twice, the database listed as its format holds it (no
 * segment missing). Says what is wrong otherwise. */
SrManifest *sr_manifest_read (const char *dir, GError **error);

G_END_DECLS
