/* Rows of the messages table: a session's conversation, with full-text search. */
#include "store/messages.h"

#include <glib/gi18n.h>

#include "common/errors.h"
#include "store/fts.h"

#define MESSAGE_COLUMNS                                                                            \
  "m.id, m.session_id, m.query_id, m.role, m.content, m.sources_json, m.state, m.error,"           \
  " m.backend, m.model, m.ttft_ms, m.total_ms, m.prompt_tokens, m.answer_tokens, m.created_at"

void
sr_message_record_free (SrMessageRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->session_id);
  g_free (record->query_id);
  g_free (record->role);
  g_free (record->content);
  g_free (record->sources_json);
  g_free (record->state);
  g_free (record->error);
  g_free (record->backend);
  g_free (record->model);
  g_free (record);
}

static char *
column_text (sqlite3_stmt *stmt, int column)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, column));
}

static SrMessageRecord *
record_from_row (sqlite3_stmt *stmt)
{
  SrMessageRecord *r = g_new0 (SrMessageRecord, 1);
  r->id = sqlite3_column_int64 (stmt, 0);
  r->session_id = column_text (stmt, 1);
  r->query_id = column_text (stmt, 2);
  r->role = column_text (stmt, 3);
  r->content = column_text (stmt, 4);
  r->sources_json = column_text (stmt, 5);
  r->state = column_text (stmt, 6);
  r->error = column_text (stmt, 7);
  r->backend = column_text (stmt, 8);
  r->model = column_text (stmt, 9);
  r->ttft_ms = sqlite3_column_double (stmt, 10);
  r->total_ms = sqlite3_column_double (stmt, 11);
  r->prompt_tokens = (guint32) sqlite3_column_int64 (stmt, 12);
  r->answer_tokens = (guint32) sqlite3_column_int64 (stmt, 13);
  r->created_at = sqlite3_column_int64 (stmt, 14);
  return r;
}

static void
bind_text_or (sqlite3_stmt *stmt, int index, const char *text, const char *fallback)
{
  sqlite3_bind_text (stmt, index, text != NULL ? text : fallback, -1, SQLITE_STATIC);
}

gboolean
sr_store_message_insert (SrStore *store, const SrMessageRecord *record, gint64 *id, GError **error)
{
  /* One statement: the row, its full-text entry and the session's count (triggers) are
   * written together, alone or inside the caller's transaction. */
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store,
      "INSERT INTO messages (session_id, query_id, role, content, sources_json, state, error,"
      " backend, model, ttft_ms, total_ms, prompt_tokens, answer_tokens, created_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING id",
      error);
  if (stmt == NULL)
    return FALSE;
  bind_text_or (stmt, 1, record->session_id, "");
  bind_text_or (stmt, 2, record->query_id, "");
  bind_text_or (stmt, 3, record->role, "");
  bind_text_or (stmt, 4, record->content, "");
  bind_text_or (stmt, 5, record->sources_json, "[]");
  bind_text_or (stmt, 6, record->state, "complete");
  bind_text_or (stmt, 7, record->error, "");
  bind_text_or (stmt, 8, record->backend, "");
  bind_text_or (stmt, 9, record->model, "");
  sqlite3_bind_double (stmt, 10, record->ttft_ms);
  sqlite3_bind_double (stmt, 11, record->total_ms);
  sqlite3_bind_int64 (stmt, 12, record->prompt_tokens);
  sqlite3_bind_int64 (stmt, 13, record->answer_tokens);
  sqlite3_bind_int64 (stmt, 14, record->created_at);

  if (sqlite3_step (stmt) != SQLITE_ROW) {
    /* The session went while its answer was being written: say so, not that a
     * constraint failed. */
    if (sqlite3_extended_errcode (sr_store_db (store)) == SQLITE_CONSTRAINT_FOREIGNKEY) {
      g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND, _ ("No session '%s'"),
                   record->session_id);
      return FALSE;
    }
    return sr_store_fail (store, error, _ ("store a message"));
  }
  gint64 new_id = sqlite3_column_int64 (stmt, 0);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return sr_store_fail (store, error, _ ("store a message"));
  if (id != NULL)
    *id = new_id;
  return TRUE;
}

static GPtrArray *
collect_records (SrStore *store, sqlite3_stmt *stmt, const char *doing, GError **error)
{
  g_autoptr (GPtrArray) all
      = g_ptr_array_new_with_free_func ((GDestroyNotify) sr_message_record_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (all, record_from_row (stmt));
  if (rc != SQLITE_DONE) {
    sr_store_fail (store, error, doing);
    return NULL;
  }
  return g_steal_pointer (&all);
}

GPtrArray *
sr_store_messages_list (SrStore *store, const char *session_id, guint offset, guint limit,
                        GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store,
                            "SELECT " MESSAGE_COLUMNS " FROM messages m WHERE m.session_id = ?1"
                            " ORDER BY m.id LIMIT ?3 OFFSET ?2",
                            error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, session_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, offset);
  sqlite3_bind_int64 (stmt, 3, limit);
  return collect_records (store, stmt, _ ("read a conversation"), error);
}

GPtrArray *
sr_store_messages_recent (SrStore *store, const char *session_id, guint limit, GError **error)
{
  /* Newest first through the index, then turned back into the conversation's order. */
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (store,
                                                      "SELECT * FROM (SELECT " MESSAGE_COLUMNS
                                                      " FROM messages m WHERE m.session_id = ?1"
                                                      " ORDER BY m.id DESC LIMIT ?2) ORDER BY id",
                                                      error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, session_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, limit);
  return collect_records (store, stmt, _ ("read a conversation"), error);
}

/* session_id:"<id>" AND content:("a" OR "b" …): the words only count in the text, and
 * only the session's part of their lists is read. NULL when @text has no word. */
static char *
match_expression (const char *session_id, const char *text)
{
  g_autoptr (GPtrArray) phrases = sr_store_fts_phrases (text);
  if (phrases->len == 0)
    return NULL;
  g_autofree char *session_phrase = sr_store_fts_quote (session_id);
  GString *match = g_string_new (NULL);
  g_string_append_printf (match, "session_id : %s AND content : (", session_phrase);
  for (guint i = 0; i < phrases->len; i++)
    g_string_append_printf (match, "%s%s", i > 0 ? " OR " : "", (char *) phrases->pdata[i]);
  g_string_append (match, ")");
  return g_string_free (match, FALSE);
}

GPtrArray *
sr_store_messages_search (SrStore *store, const char *session_id, const char *text, guint limit,
                          GError **error)
{
  g_autofree char *match = match_expression (session_id, text);
  if (match == NULL || limit == 0)
    return g_ptr_array_new_with_free_func ((GDestroyNotify) sr_message_record_free);

  /* The full-text table drives the join; the row's own session_id is the guarantee that
   * no other session's message comes back, whatever the index holds. */
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store,
                            "SELECT " MESSAGE_COLUMNS " FROM messages_fts CROSS JOIN messages m"
                            " ON m.id = messages_fts.rowid"
                            " WHERE messages_fts MATCH ?1 AND m.session_id = ?2"
                            " ORDER BY bm25(messages_fts, 1.0, 0.0), m.id LIMIT ?3",
                            error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, match, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, session_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, limit);
  return collect_records (store, stmt, _ ("search a conversation"), error);
}
