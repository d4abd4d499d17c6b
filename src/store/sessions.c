/* Rows of the sessions and users tables. */
#include "store/sessions.h"

#include <glib/gi18n.h>

#include "common/errors.h"

void
sr_session_record_free (SrSessionRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->id);
  g_free (record->title);
  g_free (record->context);
  g_free (record);
}

static gboolean
not_found (const char *id, GError **error)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND, _ ("No session '%s'"), id);
  return FALSE;
}

static gboolean
insert_rows (SrStore *store, gconstpointer data, GError **error)
{
  const SrSessionRecord *record = data;
  const char *doing = _ ("store the new session");

  if (!sr_store_user_seen (store, record->owner_uid, record->created_at, doing, error))
    return FALSE;

  g_autoptr (sqlite3_stmt) session = sr_store_statement (
      store,
      "INSERT INTO sessions (id, owner_uid, title, context, created_at, last_active, "
      "expire_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
      error);
  if (session == NULL)
    return FALSE;
  sqlite3_bind_text (session, 1, record->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (session, 2, record->owner_uid);
  sqlite3_bind_text (session, 3, record->title, -1, SQLITE_STATIC);
  sqlite3_bind_text (session, 4, record->context, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (session, 5, record->created_at);
  sqlite3_bind_int64 (session, 6, record->last_active);
  if (record->expire_after >= 0)
    sqlite3_bind_int64 (session, 7, record->expire_after);
  else
    sqlite3_bind_null (session, 7);
  return sr_store_step_done (store, session, doing, error);
}

gboolean
sr_store_session_insert (SrStore *store, const SrSessionRecord *record, GError **error)
{
  return sr_store_in_transaction (store, insert_rows, record, error);
}

SrSessionRecord *
sr_store_session_get (SrStore *store, const char *id, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store,
      "SELECT owner_uid, title, context, created_at, last_active, "
      "coalesce(expire_after, -1), message_count, document_count FROM sessions WHERE id = ?1",
      error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);

  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE) {
    not_found (id, error);
    return NULL;
  }
  if (rc != SQLITE_ROW) {
    sr_store_fail (store, error, _ ("read a session"));
    return NULL;
  }

  SrSessionRecord *record = g_new0 (SrSessionRecord, 1);
  record->id = g_strdup (id);
  record->owner_uid = (guint32) sqlite3_column_int64 (stmt, 0);
  record->title = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  record->context = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  record->created_at = sqlite3_column_int64 (stmt, 3);
  record->last_active = sqlite3_column_int64 (stmt, 4);
  record->expire_after = sqlite3_column_int64 (stmt, 5);
  record->message_count = (guint32) sqlite3_column_int64 (stmt, 6);
  record->document_count = (guint32) sqlite3_column_int64 (stmt, 7);
  return record;
}

gboolean
sr_store_session_owner (SrStore *store, const char *id, guint32 *owner_uid, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store, "SELECT owner_uid FROM sessions WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);

  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW) {
    *owner_uid = (guint32) sqlite3_column_int64 (stmt, 0);
    return TRUE;
  }
  if (rc != SQLITE_DONE)
    sr_store_fail (store, error, _ ("read a session"));
  return FALSE;
}

/* Steps @stmt to the end, gathering the ids in its first column. */
static GPtrArray *
collect_ids (SrStore *store, sqlite3_stmt *stmt, const char *doing, GError **error)
{
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (ids, g_strdup ((const char *) sqlite3_column_text (stmt, 0)));
  if (rc != SQLITE_DONE) {
    sr_store_fail (store, error, doing);
    return NULL;
  }
  return g_steal_pointer (&ids);
}

GPtrArray *
sr_store_session_list_ids (SrStore *store, gint64 owner_uid, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store, "SELECT id FROM sessions WHERE ?1 < 0 OR owner_uid = ?1 ORDER BY created_at, id",
      error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, owner_uid);

  return collect_ids (store, stmt, _ ("list sessions"), error);
}

gboolean
sr_store_session_count_owned (SrStore *store, guint32 owner_uid, guint64 *count, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store, "SELECT count(*) FROM sessions WHERE owner_uid = ?1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, owner_uid);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return sr_store_fail (store, error, _ ("count sessions"));
  *count = (guint64) sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

/* Runs one UPDATE or DELETE keyed by session id in ?1 and reports NOT_FOUND when it
 * touched nothing. */
static gboolean
change_one (SrStore *store, sqlite3_stmt *stmt, const char *id, const char *doing, GError **error)
{
  if (!sr_store_step_done (store, stmt, doing, error))
    return FALSE;
  if (sqlite3_changes (sr_store_db (store)) == 0)
    return not_found (id, error);
  return TRUE;
}

static gboolean
set_text_column (SrStore *store, const char *sql, const char *id, const char *value, gint64 now,
                 GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (store, sql, error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, value, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, now);
  return change_one (store, stmt, id, _ ("update a session"), error);
}

gboolean
sr_store_session_set_title (SrStore *store, const char *id, const char *title, gint64 now,
                            GError **error)
{
  return set_text_column (
      store, "UPDATE sessions SET title = ?2, last_active = max(last_active, ?3) WHERE id = ?1", id,
      title, now, error);
}

gboolean
sr_store_session_set_context (SrStore *store, const char *id, const char *context, gint64 now,
                              GError **error)
{
  return set_text_column (
      store, "UPDATE sessions SET context = ?2, last_active = max(last_active, ?3) WHERE id = ?1",
      id, context, now, error);
}

gboolean
sr_store_session_touch (SrStore *store, const char *id, gint64 now, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store, "UPDATE sessions SET last_active = max(last_active, ?2) WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, now);
  return change_one (store, stmt, id, _ ("update a session"), error);
}

gboolean
sr_store_session_delete (SrStore *store, const char *id, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store, "DELETE FROM sessions WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  return change_one (store, stmt, id, _ ("delete a session"), error);
}

GPtrArray *
sr_store_session_delete_expired (SrStore *store, gint64 now, guint64 default_expiry, GError **error)
{
  /* Everything the session owns goes with it through ON DELETE CASCADE. */
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store,
                            "DELETE FROM sessions WHERE id IN ("
                            "  SELECT id FROM sessions"
                            "  WHERE coalesce(expire_after, ?2) > 0"
                            "    AND last_active + coalesce(expire_after, ?2) * 1000000 <= ?1) "
                            "RETURNING id",
                            error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, now);
  sqlite3_bind_int64 (stmt, 2, (gint64) default_expiry);

  return collect_ids (store, stmt, _ ("remove expired sessions"), error);
}
