/* Rows of the documents and files tables. */
#include "store/documents.h"

#include <glib/gi18n.h>

#include "common/errors.h"

#define DOCUMENT_COLUMNS                                                                           \
  "d.id, d.session_id, d.file_sha256, f.size, d.filename, d.title, d.format, d.state,"             \
  " d.progress, d.message, d.chunk_count, d.created_at, d.updated_at"                              \
  " FROM documents d JOIN files f ON f.sha256 = d.file_sha256"

void
sr_document_record_free (SrDocumentRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->id);
  g_free (record->session_id);
  g_free (record->file_sha256);
  g_free (record->filename);
  g_free (record->title);
  g_free (record->format);
  g_free (record->state);
  g_free (record->message);
  g_free (record);
}

static char *
column_text (sqlite3_stmt *stmt, int column)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, column));
}

static SrDocumentRecord *
record_from_row (sqlite3_stmt *stmt)
{
  SrDocumentRecord *r = g_new0 (SrDocumentRecord, 1);
  r->id = column_text (stmt, 0);
  r->session_id = column_text (stmt, 1);
  r->file_sha256 = column_text (stmt, 2);
  r->size = (guint64) sqlite3_column_int64 (stmt, 3);
  r->filename = column_text (stmt, 4);
  r->title = column_text (stmt, 5);
  r->format = column_text (stmt, 6);
  r->state = column_text (stmt, 7);
  r->progress = sqlite3_column_double (stmt, 8);
  r->message = column_text (stmt, 9);
  r->chunk_count = (guint32) sqlite3_column_int64 (stmt, 10);
  r->created_at = sqlite3_column_int64 (stmt, 11);
  r->updated_at = sqlite3_column_int64 (stmt, 12);
  return r;
}

static gboolean
not_found (const char *id, GError **error)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND, _ ("No document '%s'"), id);
  return FALSE;
}

static gboolean
insert_rows (SrStore *store, gconstpointer data, GError **error)
{
  const SrDocumentRecord *r = data;
  const char *doing = _ ("store the new document");
  g_autoptr (sqlite3_stmt) file
      = sr_store_statement (store,
                            "INSERT INTO files (sha256, size, created_at) VALUES (?1, ?2, ?3) "
                            "ON CONFLICT (sha256) DO NOTHING",
                            error);
  if (file == NULL)
    return FALSE;
  sqlite3_bind_text (file, 1, r->file_sha256, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (file, 2, (gint64) r->size);
  sqlite3_bind_int64 (file, 3, r->created_at);
  if (sqlite3_step (file) != SQLITE_DONE)
    return sr_store_fail (store, error, doing);

  g_autoptr (sqlite3_stmt) doc = sr_store_statement (
      store,
      "INSERT INTO documents (id, session_id, file_sha256, filename, title, format, state,"
      " progress, message, created_at, updated_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
      error);
  if (doc == NULL)
    return FALSE;
  sqlite3_bind_text (doc, 1, r->id, -1, SQLITE_STATIC);
  sqlite3_bind_text (doc, 2, r->session_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (doc, 3, r->file_sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text (doc, 4, r->filename, -1, SQLITE_STATIC);
  sqlite3_bind_text (doc, 5, r->title ? r->title : "", -1, SQLITE_STATIC);
  sqlite3_bind_text (doc, 6, r->format ? r->format : "", -1, SQLITE_STATIC);
  sqlite3_bind_text (doc, 7, r->state ? r->state : "stored", -1, SQLITE_STATIC);
  sqlite3_bind_double (doc, 8, r->progress);
  sqlite3_bind_text (doc, 9, r->message ? r->message : "", -1, SQLITE_STATIC);
  sqlite3_bind_int64 (doc, 10, r->created_at);
  if (sqlite3_step (doc) != SQLITE_DONE)
    return sr_store_fail (store, error, doing);
  return TRUE;
}

gboolean
sr_store_document_insert (SrStore *store, const SrDocumentRecord *record, GError **error)
{
  return sr_store_in_transaction (store, insert_rows, record, error);
}

SrDocumentRecord *
sr_store_document_get (SrStore *store, const char *id, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store, "SELECT " DOCUMENT_COLUMNS " WHERE d.id = ?1", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return record_from_row (stmt);
  if (rc == SQLITE_DONE)
    not_found (id, error);
  else
    sr_store_fail (store, error, _ ("read a document"));
  return NULL;
}

static GPtrArray *
collect_records (SrStore *store, sqlite3_stmt *stmt, GError **error)
{
  g_autoptr (GPtrArray) all
      = g_ptr_array_new_with_free_func ((GDestroyNotify) sr_document_record_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (all, record_from_row (stmt));
  if (rc != SQLITE_DONE) {
    sr_store_fail (store, error, _ ("list documents"));
    return NULL;
  }
  return g_steal_pointer (&all);
}

GPtrArray *
sr_store_document_list (SrStore *store, const char *session_id, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store, "SELECT " DOCUMENT_COLUMNS " WHERE d.session_id = ?1 ORDER BY d.created_at, d.id",
      error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, session_id, -1, SQLITE_STATIC);
  return collect_records (store, stmt, error);
}

GPtrArray *
sr_store_document_list_unfinished (SrStore *store, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store,
      "SELECT " DOCUMENT_COLUMNS " WHERE d.state IN ('stored', 'parsing', 'indexing')"
      " ORDER BY d.created_at, d.id",
      error);
  if (stmt == NULL)
    return NULL;
  return collect_records (store, stmt, error);
}

gboolean
sr_store_document_set_state (SrStore *store, const char *id, const char *state, double progress,
                             const char *message, gint64 now, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store,
      "UPDATE documents SET state = ?2, progress = ?3, message = ?4, updated_at = ?5"
      " WHERE id = ?1",
      error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, state, -1, SQLITE_STATIC);
  sqlite3_bind_double (stmt, 3, progress);
  sqlite3_bind_text (stmt, 4, message ? message : "", -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 5, now);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return sr_store_fail (store, error, _ ("update a document"));
  if (sqlite3_changes (sr_store_db (store)) == 0)
    return not_found (id, error);
  return TRUE;
}

gboolean
sr_store_document_describe (SrStore *store, const char *id, const char *format, const char *title,
                            GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store,
      "UPDATE documents SET format = ?2,"
      " title = CASE WHEN title = '' AND ?3 IS NOT NULL THEN ?3 ELSE title END WHERE id = ?1",
      error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, format, -1, SQLITE_STATIC);
  if (title != NULL)
    sqlite3_bind_text (stmt, 3, title, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null (stmt, 3);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return sr_store_fail (store, error, _ ("update a document"));
  return TRUE;
}

/* Deletes the file row when nothing refers to it; TRUE in @deleted when it went. */
static gboolean
drop_file_if_unused (SrStore *store, const char *sha256, gboolean *deleted, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store,
                            "DELETE FROM files WHERE sha256 = ?1"
                            " AND NOT EXISTS (SELECT 1 FROM documents WHERE file_sha256 = ?1)",
                            error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, sha256, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return sr_store_fail (store, error, _ ("delete a document"));
  *deleted = sqlite3_changes (sr_store_db (store)) > 0;
  return TRUE;
}

static gboolean
delete_rows (SrStore *store, const char *id, char **orphan_sha256, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store, "DELETE FROM documents WHERE id = ?1 RETURNING file_sha256", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    return not_found (id, error);
  if (rc != SQLITE_ROW)
    return sr_store_fail (store, error, _ ("delete a document"));
  g_autofree char *sha256 = column_text (stmt, 0);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return sr_store_fail (store, error, _ ("delete a document"));

  gboolean deleted = FALSE;
  if (!drop_file_if_unused (store, sha256, &deleted, error))
    return FALSE;
  *orphan_sha256 = deleted ? g_steal_pointer (&sha256) : NULL;
  return TRUE;
}

gboolean
sr_store_document_delete (SrStore *store, const char *id, char **orphan_sha256, GError **error)
{
  g_autofree char *orphan = NULL;
  if (!sr_store_begin (store, error))
    return FALSE;
  if (!delete_rows (store, id, &orphan, error)) {
    sr_store_rollback (store);
    return FALSE;
  }
  if (!sr_store_commit (store, error))
    return FALSE;
  *orphan_sha256 = g_steal_pointer (&orphan);
  return TRUE;
}

GPtrArray *
sr_store_files_collect_orphans (SrStore *store, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store,
      "DELETE FROM files WHERE NOT EXISTS"
      " (SELECT 1 FROM documents WHERE file_sha256 = files.sha256) RETURNING sha256",
      error);
  if (stmt == NULL)
    return NULL;
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (gone, column_text (stmt, 0));
  if (rc != SQLITE_DONE) {
    sr_store_fail (store, error, _ ("remove unused files"));
    return NULL;
  }
  return g_steal_pointer (&gone);
}

gboolean
sr_store_file_stored (SrStore *store, const char *sha256, gboolean *stored, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store, "SELECT 1 FROM files WHERE sha256 = ?1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, sha256, -1, SQLITE_STATIC);
  int rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return sr_store_fail (store, error, _ ("look up a stored file"));
  *stored = rc == SQLITE_ROW;
  return TRUE;
}
