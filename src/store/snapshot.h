/* The database copied while it is in use (SQLite's online backup API), and read as a copy. */
#pragma once

#include <glib.h>

#include "store/store.h"

G_BEGIN_DECLS

/* Copies the database behind @source (a connection of this thread's own) into the new file
 * @path in one read transaction (@source's own when it has one open): the copy is one
 * consistent moment of it, while other connections go on writing. The copy is a single
 * file (no WAL); @durable, it is fsynced, else it is a scratch copy the page cache may
 * hold. Slow for a large database: run it on a worker thread. */
gboolean sr_store_snapshot (sqlite3 *source, const char *path, gboolean durable, GError **error);

/* The schema version (PRAGMA user_version) of the database on @db (@path names it in
 * messages), or in the file @path, opened read-only. */
gboolean sr_store_db_schema_version (sqlite3 *db, const char *path, int *version, GError **error);
gboolean sr_store_file_schema_version (const char *path, int *version, GError **error);

typedef struct {
  char *sha256;
  guint64 size;
} SrStoredFileRow;

/* The rows of the files table on @db (@path names it in messages), in the snapshot its
 * open read transaction sees: the uploads that moment of the database refers to. */
GPtrArray *sr_store_file_rows (sqlite3 *db, const char *path, GError **error);

G_END_DECLS
