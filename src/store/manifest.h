/* A backup's manifest.json: every file's path, size and SHA-256, and the versions it needs. */
#pragma once

#include <glib.h>

#include "store/durable.h"

G_BEGIN_DECLS

#define SR_MANIFEST_NAME   "manifest.json"
#define SR_MANIFEST_FORMAT 1

typedef struct {
  char *path; /* relative to the backup: smartrag.db, index/<name>, files/<ab>/<sha256> */
  guint64 size;
  char sha256[SR_SHA256_HEX_LENGTH + 1];
} SrManifestEntry;

typedef struct {
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

/* Writes @dir/manifest.json atomically. */
gboolean sr_manifest_write (const SrManifest *manifest, const char *dir, GError **error);
/* Reads @dir/manifest.json and checks its shape strictly: the format, every field's type,
 * every path, no path twice, the database listed. Says what is wrong otherwise. */
SrManifest *sr_manifest_read (const char *dir, GError **error);

G_END_DECLS
