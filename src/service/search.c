/* Hybrid retrieval: full-text (BM25) and vector search of one session, fused by rank. */
#include "service/search.h"

#include <glib/gi18n.h>

#include "common/errors.h"
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
  g_autofree char *stripped = g_strstrip (g_strdup (text));
  if (*stripped == '\0') {
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

/* The session's nearest chunks to @text, as chunk ids, nearest first. */
static GArray *
vector_candidates (SrIndexes *indexes, SrEmbedder *embedder, const char *session_id,
                   const char *text, guint n, GError **error)
{
  SrVectorIndex *index = sr_indexes_get (indexes, session_id, error);
  if (index == NULL)
    return NULL;
  g_autofree float *query = g_new0 (float, embedder->dimensions);
  const char *texts[] = { text };
  if (!sr_embedder_embed (embedder, texts, 1, query, error))
    return NULL;

  g_autofree guint64 *labels = g_new0 (guint64, n);
  g_autofree float *distances = g_new0 (float, n);
  GError *local = NULL;
  guint found = sr_vector_index_search (index, query, n, labels, distances, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return NULL;
  }
  GArray *ids = g_array_sized_new (FALSE, FALSE, sizeof (gint64), found);
  for (guint i = 0; i < found; i++) {
    gint64 id = (gint64) labels[i];
    g_array_append_val (ids, id);
  }
  return ids;
}

GPtrArray *
sr_search (SrService *service, SrIndexes *indexes, SrEmbedder *embedder, const SrCaller *caller,
           const char *session_id, const char *text, guint k, SrSearchMode mode, GError **error)
{
  if (!sr_sessions_check_access (service, caller, session_id, error)
      || !check_query (text, k, error))
    return NULL;

  SrStore *store = sr_service_store (service);
  guint depth = k * CANDIDATES_PER_K;
  g_autoptr (GPtrArray) text_hits
      = sr_store_chunks_search_text (store, session_id, text, depth, error);
  if (text_hits == NULL)
    return NULL;
  g_autoptr (GArray) text_ids = ids_of (text_hits);
  g_autoptr (GArray) vector_ids
      = mode == SR_SEARCH_HYBRID
            ? vector_candidates (indexes, embedder, session_id, text, depth, error)
            : g_array_new (FALSE, FALSE, sizeof (gint64));
  if (vector_ids == NULL)
    return NULL;

  SrRanking rankings[] = {
    { (const gint64 *) text_ids->data, text_ids->len },
    { (const gint64 *) vector_ids->data, vector_ids->len },
  };
  g_autoptr (GArray) fused = sr_rank_fuse (rankings, G_N_ELEMENTS (rankings), SR_RRF_K, k);
  g_autofree gint64 *best = g_new0 (gint64, MAX (fused->len, 1));
  for (guint i = 0; i < fused->len; i++)
    best[i] = g_array_index (fused, SrFused, i).id;

  /* The session filter in the store is the guarantee that no other session's chunk can
   * come back, whatever an index file holds. */
  g_autoptr (GPtrArray) hits = sr_store_chunks_get (store, session_id, best, fused->len, error);
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
