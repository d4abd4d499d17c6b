/* The ingest baseline: SQLite alone writing again the chunks the daemon stored. */
#include "bench-store-floor.h"

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "bench-common.h"

typedef struct {
  sqlite3 *from;
  sqlite3 *to;
  sqlite3_stmt *read;
  sqlite3_stmt *write;
} Floor;

static void
floor_clear (Floor *f)
{
  g_clear_pointer (&f->read, sqlite3_finalize);
  g_clear_pointer (&f->write, sqlite3_finalize);
  g_clear_pointer (&f->from, sqlite3_close);
  g_clear_pointer (&f->to, sqlite3_close);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Floor, floor_clear)

static gboolean
sql_fail (sqlite3 *db, const char *doing, GError **error)
{
  return fail (error, "store floor: cannot %s: %s", doing, sqlite3_errmsg (db));
}

/* The chunks table, its indexes, its full-text table and the triggers that feed it, exactly
 * as the daemon's schema has them; what they refer to (documents, sessions) is left out
 * and foreign keys are off, as they cost the daemon one lookup each. */
static gboolean
copy_schema (Floor *f, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  if (sqlite3_prepare_v2 (f->from,
                          "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL"
                          " AND (tbl_name = 'chunks' OR name = 'chunks_fts')"
                          " ORDER BY type = 'trigger', type = 'index', name = 'chunks_fts'",
                          -1, &stmt, NULL)
      != SQLITE_OK)
    return sql_fail (f->from, "read the schema", error);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    if (sqlite3_exec (f->to, (const char *) sqlite3_column_text (stmt, 0), NULL, NULL, NULL)
        != SQLITE_OK) {
      sqlite3_finalize (stmt);
      return sql_fail (f->to, "create the schema", error);
    }
  }
  sqlite3_finalize (stmt);
  return rc == SQLITE_DONE || sql_fail (f->from, "read the schema", error);
}

static gboolean
open_both (Floor *f, const char *database, const char *scratch, GError **error)
{
  if (sqlite3_open_v2 (database, &f->from, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    return sql_fail (f->from, "open the daemon's database", error);
  if (sqlite3_open (scratch, &f->to) != SQLITE_OK)
    return sql_fail (f->to, "create the scratch database", error);
  /* The daemon's own settings (src/store/store.c). */
  if (sqlite3_exec (f->to,
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                    " PRAGMA mmap_size = 1073741824;",
                    NULL, NULL, NULL)
      != SQLITE_OK)
    return sql_fail (f->to, "configure the scratch database", error);
  if (!copy_schema (f, error))
    return FALSE;
  if (sqlite3_prepare_v2 (f->from,
                          "SELECT document_id, session_id, ordinal, page, heading, text,"
                          " embedding, embedding_model FROM chunks ORDER BY id",
                          -1, &f->read, NULL)
      != SQLITE_OK)
    return sql_fail (f->from, "read the chunks", error);
  if (sqlite3_prepare_v2 (f->to,
                          "INSERT INTO chunks (document_id, session_id, ordinal, page, heading,"
                          " text, embedding, embedding_model) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                          " ?8)",
                          -1, &f->write, NULL)
      != SQLITE_OK)
    return sql_fail (f->to, "prepare the insert", error);
  return TRUE;
}

/* Copies one row read into the insert, values and all. */
static gboolean
insert_row (Floor *f, guint64 *text_bytes, GError **error)
{
  for (int c = 0; c < 8; c++)
    sqlite3_bind_value (f->write, c + 1, sqlite3_column_value (f->read, c));
  *text_bytes += (guint64) sqlite3_column_bytes (f->read, 5);
  int rc = sqlite3_step (f->write);
  sqlite3_reset (f->write);
  return rc == SQLITE_DONE || sql_fail (f->to, "insert a chunk", error);
}

/* Commits the document under way, if any, and adds its transaction's time to @spent. */
static gboolean
end_document (Floor *f, char **document, gint64 started, gint64 *spent, GError **error)
{
  if (*document == NULL)
    return TRUE;
  g_clear_pointer (document, g_free);
  if (sqlite3_exec (f->to, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    return sql_fail (f->to, "commit", error);
  *spent += now_ns () - started;
  return TRUE;
}

gboolean
bench_store_floor (const char *database, const char *scratch_dir, guint max_documents,
                   StoreFloor *out, GError **error)
{
  static const char *const files[] = { "", "-wal", "-shm" };
  g_autofree char *scratch = g_build_filename (scratch_dir, "store-floor.db", NULL);
  g_auto (Floor) f = { 0 };
  *out = (StoreFloor){ 0 };
  if (!open_both (&f, database, scratch, error))
    return FALSE;

  /* One transaction per document, as the daemon commits them; only the writes are timed,
   * the reads (from a warm page cache) would be the extraction helper's job there. */
  g_autofree char *document = NULL;
  gint64 spent = 0, started = 0;
  int rc;
  while ((rc = sqlite3_step (f.read)) == SQLITE_ROW) {
    const char *id = (const char *) sqlite3_column_text (f.read, 0);
    if (document == NULL || !g_str_equal (document, id)) {
      if (!end_document (&f, &document, started, &spent, error))
        return FALSE;
      if (out->documents == max_documents)
        break;
      document = g_strdup (id);
      out->documents++;
      started = now_ns ();
      if (sqlite3_exec (f.to, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail (f.to, "begin", error);
    }
    if (!insert_row (&f, &out->text_bytes, error))
      return FALSE;
    out->chunks++;
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return sql_fail (f.from, "read the chunks", error);
  if (!end_document (&f, &document, started, &spent, error))
    return FALSE;
  out->seconds = (double) spent / 1e9;
  floor_clear (&f);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree char *path = g_strconcat (scratch, files[i], NULL);
    g_unlink (path);
  }
  return TRUE;
}
