/* The database copied while it is in use (SQLite's online backup API), and read as a copy. */
#include "store/snapshot.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "common/errors.h"
#include "store/durable.h"

static gboolean
fail (sqlite3 *db, const char *doing, const char *path, GError **error)
{
  /* SQLite's "database or disk is full" says neither which disk nor what to do. */
  if (db != NULL && sqlite3_errcode (db) == SQLITE_FULL)
    return sr_durable_fail_errno (error, ENOSPC, path, "%s", sqlite3_errmsg (db));
  return sr_error_set (error, SMARTRAG_ERROR_FAILED, _ ("Cannot %s %s: %s"), doing, path,
                       db != NULL ? sqlite3_errmsg (db) : g_strerror (ENOMEM));
}

/* All pages in one step: one read transaction, so one moment of the database. Copying in
 * pieces would start again whenever another connection wrote, and might never end. */
static gboolean
copy_pages (sqlite3 *source, sqlite3 *target, const char *path, GError **error)
{
  sqlite3_backup *backup = sqlite3_backup_init (target, "main", source, "main");
  if (backup == NULL)
    return fail (target, _ ("start copying the database into"), path, error);
  int rc;
  do
    rc = sqlite3_backup_step (backup, -1);
  while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  sqlite3_backup_finish (backup);
  if (rc != SQLITE_DONE)
    return fail (target, _ ("copy the database into"), path, error);
  return TRUE;
}

gboolean
sr_store_snapshot (sqlite3 *source, const char *path, gboolean durable, GError **error)
{
  sqlite3 *target = NULL;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  gboolean ok = sqlite3_open_v2 (path, &target, flags, NULL) == SQLITE_OK;
  if (!ok)
    fail (target, _ ("create"), path, error);
  if (ok && !durable
      && sqlite3_exec (target, "PRAGMA synchronous = OFF", NULL, NULL, NULL) != SQLITE_OK)
    ok = fail (target, _ ("create"), path, error);
  ok = ok && copy_pages (source, target, path, error);
  /* The copy took the source's WAL mode; a backup is one file that needs nothing else. */
  if (ok && sqlite3_exec (target, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK)
    ok = fail (target, _ ("finish the copy of the database in"), path, error);
  if (sqlite3_close (target) != SQLITE_OK && ok)
    ok = sr_error_set (error, SMARTRAG_ERROR_FAILED, _ ("Cannot close %s"), path);
  if (!ok) {
    g_unlink (path);
    return FALSE;
  }
  if (!durable)
    return TRUE;
  /* SQLite syncs what it writes, but this file was never opened as durably as ours. */
  g_autofree char *dir = g_path_get_dirname (path);
  return sr_durable_sync_dir (dir, error);
}

static sqlite3 *
open_read_only (const char *path, GError **error)
{
  sqlite3 *db = NULL;
  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
    return db;
  fail (db, _ ("open"), path, error);
  sqlite3_close (db);
  return NULL;
}

gboolean
sr_store_db_schema_version (sqlite3 *db, const char *path, int *version, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok = sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK
                && sqlite3_step (stmt) == SQLITE_ROW;
  if (ok)
    *version = sqlite3_column_int (stmt, 0);
  else
    fail (db, _ ("read the schema version of"), path, error);
  sqlite3_finalize (stmt);
  return ok;
}

gboolean
sr_store_file_schema_version (const char *path, int *version, GError **error)
{
  sqlite3 *db = open_read_only (path, error);
  if (db == NULL)
    return FALSE;
  gboolean ok = sr_store_db_schema_version (db, path, version, error);
  sqlite3_close (db);
  return ok;
}

static void
file_row_free (gpointer data)
{
  SrStoredFileRow *row = data;
  g_free (row->sha256);
  g_free (row);
}

GPtrArray *
sr_store_file_rows (sqlite3 *db, const char *path, GError **error)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (file_row_free);
  sqlite3_stmt *stmt = NULL;
  int rc
      = sqlite3_prepare_v2 (db, "SELECT sha256, size FROM files ORDER BY sha256", -1, &stmt, NULL);
  while (rc == SQLITE_OK && (rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    SrStoredFileRow *row = g_new0 (SrStoredFileRow, 1);
    row->sha256 = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
    row->size = (guint64) sqlite3_column_int64 (stmt, 1);
    g_ptr_array_add (rows, row);
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE)
    fail (db, _ ("read the stored files of"), path, error);
  sqlite3_finalize (stmt);
  return rc == SQLITE_DONE ? g_steal_pointer (&rows) : NULL;
}
