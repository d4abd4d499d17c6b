/* Keeping the database lean: statistics for the planner, merged full-text indexes, VACUUM. */
#include "store/optimize.h"

#include <glib/gi18n.h>

#include "common/errors.h"

/* Leaf pages one merge step merges at most: a few megabytes, so that the write lock is held
 * for tens of milliseconds at a time. */
#define MERGE_PAGES 256
/* Rows ANALYZE reads per index: enough for the planner, bounded on a large database. */
#define ANALYSIS_LIMIT 2000

static gboolean
read_number (SrStore *store, const char *sql, guint64 *value, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  sqlite3 *db = sr_store_db (store);
  gboolean ok = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK
                && sqlite3_step (stmt) == SQLITE_ROW;
  if (ok)
    *value = (guint64) sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return ok || sr_store_fail (store, error, _ ("read the size of the database"));
}

gboolean
sr_store_pages (SrStore *store, SrStorePages *pages, GError **error)
{
  return read_number (store, "PRAGMA page_size", &pages->page_size, error)
         && read_number (store, "PRAGMA page_count", &pages->pages, error)
         && read_number (store, "PRAGMA freelist_count", &pages->free_pages, error);
}

gboolean
sr_store_count_rows (SrStore *store, const char *table, guint64 *count, GError **error)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM \"%s\"", table);
  return read_number (store, sql, count, error);
}

static gboolean
exec_locked (SrStore *store, const char *sql, const char *doing, GError **error)
{
  if (!sr_store_begin (store, error))
    return FALSE;
  if (sqlite3_exec (sr_store_db (store), sql, NULL, NULL, NULL) != SQLITE_OK) {
    sr_store_fail (store, error, doing);
    sr_store_rollback (store);
    return FALSE;
  }
  return sr_store_commit (store, error);
}

gboolean
sr_store_analyze (SrStore *store, GError **error)
{
  g_autofree char *limit = g_strdup_printf ("PRAGMA analysis_limit = %d", ANALYSIS_LIMIT);
  if (sqlite3_exec (sr_store_db (store), limit, NULL, NULL, NULL) != SQLITE_OK)
    return sr_store_fail (store, error, _ ("gather statistics for the query planner"));
  return exec_locked (store, "ANALYZE", _ ("gather statistics for the query planner"), error);
}

gboolean
sr_store_fts_merge_step (SrStore *store, const char *table, gboolean *done, GError **error)
{
  *done = FALSE;
  if (!sr_store_begin (store, error))
    return FALSE;
  sqlite3 *db = sr_store_db (store);
  gint64 before = sqlite3_total_changes64 (db);
  /* Negative: merge whatever the levels, as 'optimize' does, but a bounded piece. */
  g_autofree char *sql = g_strdup_printf ("INSERT INTO \"%s\" (\"%s\", rank) VALUES ('merge', %d)",
                                          table, table, -MERGE_PAGES);
  if (sqlite3_exec (db, sql, NULL, NULL, NULL) != SQLITE_OK) {
    sr_store_fail (store, error, _ ("merge the full-text index"));
    sr_store_rollback (store);
    return FALSE;
  }
  /* FTS5 counts fewer than two changes for a merge that found no work. */
  *done = sqlite3_total_changes64 (db) - before < 2;
  return sr_store_commit (store, error);
}

gboolean
sr_store_vacuum (SrStore *store, GError **error)
{
  sqlite3 *db = sr_store_db (store);
  /* VACUUM cannot run inside a transaction; the lock alone keeps our writers out. */
  sr_store_lock_writes (store);
  gboolean ok = sqlite3_exec (db, "VACUUM", NULL, NULL, NULL) == SQLITE_OK;
  if (!ok)
    sr_store_fail (store, error, _ ("rewrite the database without its free pages (VACUUM)"));
  /* Readers may hold the WAL; what they hold is copied back at a later checkpoint. */
  if (ok)
    sqlite3_exec (db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  sr_store_unlock_writes (store);
  return ok;
}
