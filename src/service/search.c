/* Hybrid retrieval: full-text (BM25) and vector search of one session, fused by rank. */
#include "service/search.h"

#include <glib/gi18n.h>

#include "common/errors.h"
#include "common/unichar.h"
#include "rag/fusion.h"
#include "service/sessions.h"
#include "store/chunks.h"

/* Each list is cut deeper than k: fusion rewards chunks both lists hold, which needs
 * some depth to see. */
#define CANDIDATES_PER_K 4

static gboolean
check_query (const char *text, guint k, GError **error)
{
  if (k < 1 || k > SR_SEARCH_MAX_K) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("Invalid k: expected 1 to %d results"), SR_SEARCH_MAX_K);
    return FALSE;
  }
  if (!g_utf8_validate (text, -1, NULL) || strlen (text) > SR_SEARCH_MAX_QUERY_BYTES) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("Invalid search text: expected UTF-8 of at most %d bytes"),
                 SR_SEARCH_MAX_QUERY_BYTES);
    return FALSE;
  }
  if (sr_text_is_blank (text)) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Invalid search text: it is empty"));
    return FALSE;
  }
  return TRUE;
}

static GArray *
ids_of (GPtrArray *hits)
{
  GArray *ids = g_array_sized_new (FALSE, FALSE, sizeof (gint64), hits->len);
  for (guint i = 0; i < hits->len; i++)
    g_array_append_val (ids, ((SrChunkHit *) hits->pdata[i])->id);
  return ids;
}

/* The session's nearest chunks to @text, as chunk ids, nearest first. An empty list when
 * the embedding server is known to be down or does not answer: the words still find
 * chunks, and health says what is wrong. */
static GArray *
vector_candidates (SrStore *db, SrIndexes *indexes, SrEmbedder *embedder, const char *session_id,
                   const char *text, guint n, GError **error)
{
  GArray *ids = g_array_sized_new (FALSE, FALSE, sizeof (gint64), n);
  g_auto (SrEmbedderStatus) status = { 0 };
  sr_embedder_get_status (embedder, &status);
  /* Asking a server that did not answer the last call would hold up every search for as
   * long as it takes to fail; the embedding thread notices when it is back. */
  if (status.state == SR_EMBEDDER_UNAVAILABLE)
    return ids;

  g_autoptr (GError) local = NULL;
  guint dimensions = sr_embedder_ensure_dimensions (embedder, NULL, &local);
  g_autofree float *query = dimensions > 0 ? g_new0 (float, dimensions) : NULL;
  const char *texts[] = { text };
  if (dimensions == 0 || !sr_embedder_embed (embedder, texts, 1, query, NULL, &local)) {
    if (!g_error_matches (local, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE)) {
      g_array_unref (ids);
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
    g_debug ("Searching by words alone: %s", local->message);
    return ids;
  }

  g_array_set_size (ids, n);
  guint found = sr_indexes_search (indexes, db, session_id, query, dimensions, n,
                                   (gint64 *) ids->data, &local);
  if (local != NULL) {
    g_array_unref (ids);
    g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  g_array_set_size (ids, found);
  return ids;
}

/* The search proper, on whichever thread owns @db; access and arguments are checked. */
static GPtrArray *
search_checked (SrStore *db, SrIndexes *indexes, SrEmbedder *embedder, const char *session_id,
                const char *text, guint k, SrSearchMode mode, GError **error)
{
  guint depth = k * CANDIDATES_PER_K;
  g_autoptr (GPtrArray) text_hits
      = sr_store_chunks_search_text (db, session_id, text, depth, error);
  if (text_hits == NULL)
    return NULL;
  g_autoptr (GArray) text_ids = ids_of (text_hits);
  g_autoptr (GArray) vector_ids
      = mode == SR_SEARCH_HYBRID
            ? vector_candidates (db, indexes, embedder, session_id, text, depth, error)
            : g_array_new (FALSE, FALSE, sizeof (gint64));
  if (vector_ids == NULL)
    return NULL;

  SrRanking rankings[] = {
    { (const gint64 *) text_ids->data, text_ids->len },
    { (const gint64 *) vector_ids->data, vector_ids->len },
  };
  /* Hashed features are no semantic model: their list refines BM25's, it does not
   * outvote it. */
  double text_weight
      = g_str_equal (embedder->klass->name, "builtin") ? SR_RRF_BUILTIN_TEXT_WEIGHT : 1.0;
  const double weights[] = { text_weight, 1.0 };
  g_autoptr (GArray) fused
      = sr_rank_fuse_weighted (rankings, weights, G_N_ELEMENTS (rankings), SR_RRF_K, k);
  g_autofree gint64 *best = g_new0 (gint64, MAX (fused->len, 1));
  for (guint i = 0; i < fused->len; i++)
    best[i] = g_array_index (fused, SrFused, i).id;

  /* The session filter in the store is the guarantee that no other session's chunk can
   * come back, whatever an index file holds. */
  g_autoptr (GPtrArray) hits = sr_store_chunks_get (db, session_id, best, fused->len, error);
  if (hits == NULL)
    return NULL;
  for (guint i = 0, j = 0; i < hits->len; i++) {
    SrChunkHit *hit = hits->pdata[i];
    while (j < fused->len && g_array_index (fused, SrFused, j).id != hit->id)
      j++;
    if (j < fused->len)
      hit->score = g_array_index (fused, SrFused, j).score;
  }
  return g_steal_pointer (&hits);
}

GPtrArray *
sr_search (SrService *service, SrIndexes *indexes, SrEmbedder *embedder, const SrCaller *caller,
           const char *session_id, const char *text, guint k, SrSearchMode mode, GError **error)
{
  if (!sr_sessions_check_access (service, caller, session_id, error)
      || !check_query (text, k, error))
    return NULL;
  return search_checked (sr_service_store (service), indexes, embedder, session_id, text, k, mode,
                         error);
}

typedef struct {
  SrService *service;
  char *session_id;
  char *text;
  guint k;
  SrSearchMode mode;
} SearchJob;

static void
search_job_free (gpointer data)
{
  SearchJob *job = data;
  sr_service_work_end_later (job->service);
  g_free (job->session_id);
  g_free (job->text);
  g_free (job);
}

static void
run_search (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  SearchJob *job = data;
  GError *error = NULL;
  g_autoptr (SrStoreLease) db = sr_store_acquire (sr_service_store (job->service), &error);
  GPtrArray *hits = db == NULL
                        ? NULL
                        : search_checked (db, sr_service_indexes (job->service),
                                          sr_service_embedder (job->service), job->session_id,
                                          job->text, job->k, job->mode, &error);
  g_clear_pointer (&db, sr_store_release);
  sr_service_thread_end (job->service);
  if (hits == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, hits, (GDestroyNotify) g_ptr_array_unref);
}

void
sr_search_async (SrService *service, const SrCaller *caller, const char *session_id,
                 const char *text, guint k, SrSearchMode mode, GAsyncReadyCallback callback,
                 gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, sr_search_async);
  GError *error = NULL;

  if (!sr_sessions_check_access (service, caller, session_id, &error)
      || !check_query (text, k, &error)) {
    g_task_return_error (task, error);
    return;
  }
  SearchJob *job = g_new0 (SearchJob, 1);
  job->service = service;
  job->session_id = g_strdup (session_id);
  job->text = g_strdup (text);
  job->k = k;
  job->mode = mode;
  /* Counted as work under way: the database stays open until the thread is done. */
  sr_service_work_begin (service);
  sr_service_thread_begin (service);
  g_task_set_task_data (task, job, search_job_free);
  g_task_run_in_thread (task, run_search);
}

GPtrArray *
sr_search_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
