/* Rows of the tokens table: API tokens, each kept as the SHA-256 of its secret. */
#include "store/tokens.h"

#include <glib/gi18n.h>
#include <string.h>

#include "common/errors.h"

void
sr_token_record_free (SrTokenRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->id);
  g_free (record->name);
  g_free (record);
}

static gboolean
insert_rows (SrStore *store, gconstpointer data, GError **error)
{
  const SrTokenRecord *record = data;
  const char *doing = _ ("store the new token");

  if (!sr_store_user_seen (store, record->owner_uid, record->created_at, doing, error))
    return FALSE;

  g_autoptr (sqlite3_stmt) token
      = sr_store_statement (store,
                            "INSERT INTO tokens (id, owner_uid, name, secret_sha256, created_at) "
                            "VALUES (?1, ?2, ?3, ?4, ?5)",
                            error);
  if (token == NULL)
    return FALSE;
  sqlite3_bind_text (token, 1, record->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (token, 2, record->owner_uid);
  sqlite3_bind_text (token, 3, record->name, -1, SQLITE_STATIC);
  sqlite3_bind_blob (token, 4, record->secret_sha256, SR_TOKEN_HASH_BYTES, SQLITE_STATIC);
  sqlite3_bind_int64 (token, 5, record->created_at);
  return sr_store_step_done (store, token, doing, error);
}

gboolean
sr_store_token_insert (SrStore *store, const SrTokenRecord *record, GError **error)
{
  return sr_store_in_transaction (store, insert_rows, record, error);
}

/* A row of "SELECT id, owner_uid, name, created_at, last_used". */
static SrTokenRecord *
read_record (sqlite3_stmt *stmt)
{
  SrTokenRecord *record = g_new0 (SrTokenRecord, 1);
  record->id = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  record->owner_uid = (guint32) sqlite3_column_int64 (stmt, 1);
  record->name = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  record->created_at = sqlite3_column_int64 (stmt, 3);
  record->last_used = sqlite3_column_int64 (stmt, 4); /* NULL reads as 0 */
  return record;
}

GPtrArray *
sr_store_token_list (SrStore *store, guint32 owner_uid, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store,
                            "SELECT id, owner_uid, name, created_at, last_used FROM tokens "
                            "WHERE owner_uid = ?1 ORDER BY created_at, id",
                            error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, owner_uid);

  g_autoptr (GPtrArray) tokens
      = g_ptr_array_new_with_free_func ((GDestroyNotify) sr_token_record_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (tokens, read_record (stmt));
  if (rc != SQLITE_DONE) {
    sr_store_fail (store, error, _ ("list tokens"));
    return NULL;
  }
  return g_steal_pointer (&tokens);
}

gboolean
sr_store_token_count_owned (SrStore *store, guint32 owner_uid, guint64 *count, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store, "SELECT count(*) FROM tokens WHERE owner_uid = ?1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, owner_uid);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return sr_store_fail (store, error, _ ("count tokens"));
  *count = (guint64) sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

SrTokenRecord *
sr_store_token_lookup (SrStore *store, const char *id, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store,
                            "SELECT id, owner_uid, name, created_at, last_used, secret_sha256 "
                            "FROM tokens WHERE id = ?1",
                            error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);

  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    return NULL;
  if (rc != SQLITE_ROW) {
    sr_store_fail (store, error, _ ("read a token"));
    return NULL;
  }
  SrTokenRecord *record = read_record (stmt);
  /* The table's CHECK holds the length; a short blob would leave the rest zero. */
  const void *hash = sqlite3_column_blob (stmt, 5);
  int length = sqlite3_column_bytes (stmt, 5);
  if (hash != NULL)
    memcpy (record->secret_sha256, hash, MIN ((gsize) length, sizeof record->secret_sha256));
  return record;
}

gboolean
sr_store_token_delete (SrStore *store, const char *id, guint32 owner_uid, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store, "DELETE FROM tokens WHERE id = ?1 AND owner_uid = ?2", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, owner_uid);
  if (!sr_store_step_done (store, stmt, _ ("revoke a token"), error))
    return FALSE;
  if (sqlite3_changes (sr_store_db (store)) > 0)
    return TRUE;
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND, _ ("No token '%s'"), id);
  return FALSE;
}

gboolean
sr_store_token_touch (SrStore *store, const char *id, gint64 now, gboolean *done, GError **error)
{
  *done = FALSE;
  if (!sr_store_try_lock_writes (store))
    return TRUE;
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store, "UPDATE tokens SET last_used = ?2 WHERE id = ?1", error);
  gboolean ok = stmt != NULL;
  if (ok) {
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, now);
    ok = sr_store_step_done (store, stmt, _ ("note when a token was used"), error);
  }
  sr_store_unlock_writes (store);
  *done = ok;
  return ok;
}
