/* The copy of the database kept from before its last schema migration. */
#pragma once

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

/* Copies @db (the file @path, at schema version @from) to "@path.pre-v@to" through SQLite's
 * backup API, so that a migration to @to that goes wrong, or a newer release that is rolled
 * back, leaves the old database to return to. Earlier copies are removed once the new one
 * is complete: only the last is kept. */
gboolean sr_store_copy_before_migration (sqlite3 *db, const char *path, int from, int to,
                                         GError **error);

/* "smartrag.db.pre-v7" for @to 7, in the directory of @path. */
char *sr_store_pre_migration_path (const char *path, int to);

G_END_DECLS
