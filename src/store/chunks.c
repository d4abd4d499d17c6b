/* Rows of the chunks table: a document's text pieces, their vectors and full-text search. */
#include "store/chunks.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "common/errors.h"

void
sr_chunk_hit_free (SrChunkHit *hit)
{
  if (hit == NULL)
    return;
  g_free (hit->document_id);
  g_free (hit->filename);
  g_free (hit->heading);
  g_free (hit->text);
  g_free (hit);
}

static gboolean
insert_chunk (SrStore *store, sqlite3_stmt *stmt, const char *document_id, const char *session_id,
              const SrChunkRow *chunk, const float *vector, guint dimensions, const char *model,
              GArray *ids, GError **error)
{
  sqlite3_bind_text (stmt, 1, document_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, session_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, chunk->ordinal);
  if (chunk->page > 0)
    sqlite3_bind_int64 (stmt, 4, chunk->page);
  else
    sqlite3_bind_null (stmt, 4);
  sqlite3_bind_text (stmt, 5, chunk->heading ? chunk->heading : "", -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 6, chunk->text, -1, SQLITE_STATIC);
  if (vector != NULL) {
    sqlite3_bind_blob (stmt, 7, vector, (int) (dimensions * sizeof (float)), SQLITE_STATIC);
    sqlite3_bind_text (stmt, 8, model, -1, SQLITE_STATIC);
  } else {
    sqlite3_bind_null (stmt, 7);
    sqlite3_bind_null (stmt, 8);
  }
  int rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return sr_store_fail (store, error, _ ("store the document's chunks"));
  if (ids != NULL) {
    gint64 id = sqlite3_last_insert_rowid (sr_store_db (store));
    g_array_append_val (ids, id);
  }
  return TRUE;
}

static gboolean
replace_rows (SrStore *store, const char *document_id, const char *session_id,
              const SrChunkRow *chunks, guint n_chunks, const float *vectors, guint dimensions,
              const char *model, gint64 now, GArray *ids, gboolean *yielded, GError **error)
{
  const char *doing = _ ("store the document's chunks");
  g_autoptr (sqlite3_stmt) clear
      = sr_store_statement (store, "DELETE FROM chunks WHERE document_id = ?1", error);
  if (clear == NULL)
    return FALSE;
  sqlite3_bind_text (clear, 1, document_id, -1, SQLITE_STATIC);
  if (sqlite3_step (clear) != SQLITE_DONE)
    return sr_store_fail (store, error, doing);

  g_autoptr (sqlite3_stmt) insert = sr_store_statement (
      store,
      "INSERT INTO chunks (document_id, session_id, ordinal, page, heading, text, embedding,"
      " embedding_model) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
      error);
  if (insert == NULL)
    return FALSE;
  for (guint i = 0; i < n_chunks; i++)
    if (!insert_chunk (store, insert, document_id, session_id, &chunks[i],
                       vectors ? vectors + (gsize) i * dimensions : NULL, dimensions, model, ids,
                       error)
        || !sr_store_yield (store, yielded, error))
      return FALSE;

  g_autoptr (sqlite3_stmt) done = sr_store_statement (
      store,
      "UPDATE documents SET chunk_count = ?2, state = 'ready', progress = 1, message = '',"
      " updated_at = ?3 WHERE id = ?1",
      error);
  if (done == NULL)
    return FALSE;
  sqlite3_bind_text (done, 1, document_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (done, 2, n_chunks);
  sqlite3_bind_int64 (done, 3, now);
  if (sqlite3_step (done) != SQLITE_DONE)
    return sr_store_fail (store, error, doing);
  if (sqlite3_changes (sr_store_db (store)) == 0) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND, _ ("No document '%s'"),
                 document_id);
    return FALSE;
  }
  return TRUE;
}

static void
remove_rows (SrStore *store, const char *document_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (sqlite3_stmt) clear
      = sr_store_statement (store, "DELETE FROM chunks WHERE document_id = ?1", &error);
  if (clear == NULL || !sr_store_begin (store, &error))
    return;
  sqlite3_bind_text (clear, 1, document_id, -1, SQLITE_STATIC);
  if (sqlite3_step (clear) != SQLITE_DONE) {
    sr_store_rollback (store);
    return;
  }
  sr_store_commit (store, NULL);
}

gboolean
sr_store_chunks_replace (SrStore *store, const char *document_id, const char *session_id,
                         const SrChunkRow *chunks, guint n_chunks, const float *vectors,
                         guint dimensions, const char *model, gint64 now, GArray *ids,
                         GError **error)
{
  gboolean yielded = FALSE;
  if (!sr_store_begin (store, error))
    return FALSE;
  if (replace_rows (store, document_id, session_id, chunks, n_chunks, vectors, dimensions, model,
                    now, ids, &yielded, error)
      && sr_store_commit (store, error))
    return TRUE;
  sr_store_rollback (store);
  if (ids != NULL)
    g_array_set_size (ids, 0);
  /* What was committed before stays until the document is processed again; removed now,
   * the document is not half searchable meanwhile. A failure here changes nothing of that. */
  if (yielded)
    remove_rows (store, document_id);
  return FALSE;
}

static SrChunkHit *
hit_from_row (sqlite3_stmt *stmt)
{
  SrChunkHit *hit = g_new0 (SrChunkHit, 1);
  hit->id = sqlite3_column_int64 (stmt, 0);
  hit->document_id = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  hit->filename = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  hit->ordinal = (guint) sqlite3_column_int64 (stmt, 3);
  hit->page = (guint) sqlite3_column_int64 (stmt, 4);
  hit->heading = g_strdup ((const char *) sqlite3_column_text (stmt, 5));
  hit->text = g_strdup ((const char *) sqlite3_column_text (stmt, 6));
  hit->score = sqlite3_column_double (stmt, 7);
  return hit;
}

gboolean
sr_store_chunks_foreach_vector (SrStore *store, const char *session_id, const char *model,
                                SrChunkVectorFunc func, gpointer user_data, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store,
      "SELECT id, embedding FROM chunks WHERE session_id = ?1 AND embedding_model = ?2"
      " ORDER BY id",
      error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, session_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, model, -1, SQLITE_STATIC);

  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    int bytes = sqlite3_column_bytes (stmt, 1);
    const float *vector = sqlite3_column_blob (stmt, 1);
    if (bytes <= 0 || bytes % (int) sizeof (float) != 0)
      continue; /* not a vector: the chunk gets embedded again instead */
    if (!func (sqlite3_column_int64 (stmt, 0), vector, (guint) (bytes / sizeof (float)), user_data))
      return TRUE;
  }
  if (rc != SQLITE_DONE)
    return sr_store_fail (store, error, _ ("read the document vectors"));
  return TRUE;
}

/* The first column of every row of @stmt, bound and ready. */
static GArray *
collect_ids (SrStore *store, sqlite3_stmt *stmt, const char *doing, GError **error)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    gint64 id = sqlite3_column_int64 (stmt, 0);
    g_array_append_val (ids, id);
  }
  if (rc != SQLITE_DONE) {
    sr_store_fail (store, error, doing);
    return NULL;
  }
  return g_steal_pointer (&ids);
}

GArray *
sr_store_chunks_vector_ids (SrStore *store, const char *session_id, const char *model,
                            GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store, "SELECT id FROM chunks WHERE session_id = ?1 AND embedding_model = ?2 ORDER BY id",
      error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, session_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, model, -1, SQLITE_STATIC);
  return collect_ids (store, stmt, _ ("read the document vectors"), error);
}

gboolean
sr_store_chunks_foreach_vector_of (SrStore *store, const char *session_id, const char *model,
                                   const gint64 *ids, guint n_ids, SrChunkVectorFunc func,
                                   gpointer user_data, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store,
      "SELECT embedding FROM chunks WHERE id = ?1 AND session_id = ?2 AND embedding_model = ?3",
      error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 2, session_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, model, -1, SQLITE_STATIC);
  for (guint i = 0; i < n_ids; i++) {
    sqlite3_bind_int64 (stmt, 1, ids[i]);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW) {
      int bytes = sqlite3_column_bytes (stmt, 0);
      const float *vector = sqlite3_column_blob (stmt, 0);
      if (bytes > 0 && bytes % (int) sizeof (float) == 0
          && !func (ids[i], vector, (guint) (bytes / sizeof (float)), user_data))
        return TRUE;
    } else if (rc != SQLITE_DONE) {
      return sr_store_fail (store, error, _ ("read the document vectors"));
    }
    sqlite3_reset (stmt);
  }
  return TRUE;
}

GPtrArray *
sr_store_chunks_get (SrStore *store, const char *session_id, const gint64 *ids, guint n_ids,
                     GError **error)
{
  g_autoptr (GPtrArray) hits = g_ptr_array_new_with_free_func ((GDestroyNotify) sr_chunk_hit_free);
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store,
      "SELECT c.id, c.document_id, d.filename, c.ordinal, coalesce(c.page, 0), c.heading,"
      " c.text, 0 FROM chunks c JOIN documents d ON d.id = c.document_id"
      " WHERE c.id = ?1 AND c.session_id = ?2",
      error);
  if (stmt == NULL)
    return NULL;
  for (guint i = 0; i < n_ids; i++) {
    sqlite3_bind_int64 (stmt, 1, ids[i]);
    sqlite3_bind_text (stmt, 2, session_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW)
      g_ptr_array_add (hits, hit_from_row (stmt));
    else if (rc != SQLITE_DONE) {
      sr_store_fail (store, error, _ ("read the document chunks"));
      return NULL;
    }
    sqlite3_reset (stmt);
  }
  return g_steal_pointer (&hits);
}

GArray *
sr_store_chunks_ids_of_document (SrStore *store, const char *document_id, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store, "SELECT id FROM chunks WHERE document_id = ?1", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, document_id, -1, SQLITE_STATIC);
  return collect_ids (store, stmt, _ ("read the document chunks"), error);
}

gboolean
sr_store_chunks_count_stale (SrStore *store, const char *model, guint64 *count, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store, "SELECT count(*) FROM chunks WHERE embedding_model IS NOT ?1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, model, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return sr_store_fail (store, error, _ ("count the chunks to embed again"));
  *count = (guint64) sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

void
sr_stale_chunk_free (SrStaleChunk *chunk)
{
  if (chunk == NULL)
    return;
  g_free (chunk->session_id);
  g_free (chunk->text);
  g_free (chunk);
}

GPtrArray *
sr_store_chunks_list_stale (SrStore *store, const char *model, gint64 after, guint limit,
                            GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store,
      "SELECT id, session_id, text FROM chunks WHERE id > ?2 AND embedding_model IS NOT ?1"
      " ORDER BY id LIMIT ?3",
      error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, model, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, after);
  sqlite3_bind_int64 (stmt, 3, limit);

  g_autoptr (GPtrArray) chunks
      = g_ptr_array_new_with_free_func ((GDestroyNotify) sr_stale_chunk_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    SrStaleChunk *chunk = g_new0 (SrStaleChunk, 1);
    chunk->id = sqlite3_column_int64 (stmt, 0);
    chunk->session_id = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
    chunk->text = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
    g_ptr_array_add (chunks, chunk);
  }
  if (rc != SQLITE_DONE) {
    sr_store_fail (store, error, _ ("read the chunks to embed again"));
    return NULL;
  }
  return g_steal_pointer (&chunks);
}

static gboolean
set_vector_rows (SrStore *store, const char *model, const gint64 *ids, const float *vectors,
                 guint dimensions, guint n, gboolean *stored, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store,
                            "UPDATE chunks SET embedding = ?2, embedding_model = ?3"
                            " WHERE id = ?1 AND embedding_model IS NOT ?3",
                            error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 3, model, -1, SQLITE_STATIC);
  for (guint i = 0; i < n; i++) {
    sqlite3_bind_int64 (stmt, 1, ids[i]);
    sqlite3_bind_blob (stmt, 2, vectors + (gsize) i * dimensions,
                       (int) (dimensions * sizeof (float)), SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE)
      return sr_store_fail (store, error, _ ("store the chunks' new vectors"));
    stored[i] = sqlite3_changes (sr_store_db (store)) > 0;
  }
  return TRUE;
}

gboolean
sr_store_chunks_set_vectors (SrStore *store, const char *model, const gint64 *ids,
                             const float *vectors, guint dimensions, guint n, gboolean *stored,
                             GError **error)
{
  if (!sr_store_begin (store, error))
    return FALSE;
  if (!set_vector_rows (store, model, ids, vectors, dimensions, n, stored, error)) {
    sr_store_rollback (store);
    memset (stored, 0, sizeof (gboolean) * n);
    return FALSE;
  }
  return sr_store_commit (store, error);
}

gboolean
sr_store_chunks_vector_bytes (SrStore *store, const char *model, guint *bytes, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store, "SELECT length(embedding) FROM chunks WHERE embedding_model = ?1 LIMIT 1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, model, -1, SQLITE_STATIC);
  int rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return sr_store_fail (store, error, _ ("read the document vectors"));
  *bytes = rc == SQLITE_ROW ? (guint) sqlite3_column_int64 (stmt, 0) : 0;
  return TRUE;
}

gboolean
sr_store_chunks_forget_vectors (SrStore *store, const char *model, guint dimensions,
                                guint64 *forgotten, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store,
                            "UPDATE chunks SET embedding_model = NULL"
                            " WHERE embedding_model = ?1 AND length(embedding) IS NOT ?2",
                            error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, model, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, (gint64) dimensions * (gint64) sizeof (float));
  sr_store_lock_writes (store);
  int rc = sqlite3_step (stmt);
  *forgotten = (guint64) sqlite3_changes (sr_store_db (store));
  sr_store_unlock_writes (store);
  if (rc != SQLITE_DONE)
    return sr_store_fail (store, error, _ ("mark vectors of the wrong width"));
  return TRUE;
}
