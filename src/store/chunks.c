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
              const char *model, gint64 now, GArray *ids, GError **error)
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
                       error))
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

gboolean
sr_store_chunks_replace (SrStore *store, const char *document_id, const char *session_id,
                         const SrChunkRow *chunks, guint n_chunks, const float *vectors,
                         guint dimensions, const char *model, gint64 now, GArray *ids,
                         GError **error)
{
  if (!sr_store_begin (store, error))
    return FALSE;
  if (!replace_rows (store, document_id, session_id, chunks, n_chunks, vectors, dimensions, model,
                     now, ids, error)) {
    sr_store_rollback (store);
    if (ids != NULL)
      g_array_set_size (ids, 0);
    return FALSE;
  }
  return sr_store_commit (store, error);
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

/* BM25 as FTS5's bm25() computes it, so scores and their order are the same. */
#define BM25_K1 1.2
#define BM25_B  0.75

/* A word in more than this share of all chunks gets an IDF that FTS5 rounds to zero:
 * it adds nothing to any score, but matching it would make every chunk a candidate. */
#define COMMON_SHARE 0.5
/* The share is estimated on windows of consecutive chunks spread over the table, so
 * that finding it costs the same whatever the table holds. */
#define SAMPLE_WINDOWS 16
#define SAMPLE_WIDTH   32
/* With fewer chunks than this sampled, every word is searched: scoring all is cheap. */
#define SAMPLE_MIN 256

#define RANKING_POINTER "sr_chunks_ranking"
#define COUNTS_POINTER  "sr_chunks_phrase_counts"

/* Each distinct word of @text as an FTS5 string: quotes are doubled, so nothing the user
 * types is read as FTS5 syntax. */
static GPtrArray *
phrases_from_text (const char *text)
{
  g_autoptr (GPtrArray) phrases = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) words = g_str_tokenize_and_fold (text, NULL, NULL);

  for (guint i = 0; words[i] != NULL; i++) {
    g_auto (GStrv) parts = g_strsplit (words[i], "\"", -1);
    g_autofree char *escaped = g_strjoinv ("\"\"", parts);
    char *phrase = g_strdup_printf ("\"%s\"", escaped);
    if (g_ptr_array_find_with_equal_func (phrases, phrase, g_str_equal, NULL))
      g_free (phrase);
    else
      g_ptr_array_add (phrases, phrase);
  }
  return g_steal_pointer (&phrases);
}

/* The FTS5 auxiliary function that counts, for each phrase of the query, the chunks
 * holding it: one pass over a window answers for every word at once. */
static void
count_phrases (const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int n_args,
               sqlite3_value **args)
{
  gint64 *found = n_args == 1 ? sqlite3_value_pointer (args[0], COUNTS_POINTER) : NULL;
  sqlite3_result_null (ctx);
  if (found == NULL) {
    sqlite3_result_error (ctx, "sr_count_phrases() needs its counts", -1);
    return;
  }
  for (int i = 0; i < api->xPhraseCount (fts); i++) {
    Fts5PhraseIter iter;
    int column = -1, offset;
    int rc = api->xPhraseFirst (fts, i, &iter, &column, &offset);
    if (rc != SQLITE_OK) {
      sqlite3_result_error_code (ctx, rc);
      return;
    }
    if (column >= 0)
      found[i]++;
  }
}

/* Takes out of @phrases the words found in most chunks (keeping at least one): scoring
 * every chunk that holds "the" costs far more than the whole rest of a search. */
static gboolean
drop_common_phrases (SrStore *store, GPtrArray *phrases, GError **error)
{
  const char *doing = _ ("search the documents");
  g_autoptr (sqlite3_stmt) span = sr_store_statement (
      store, "SELECT (SELECT min(id) FROM chunks), (SELECT max(id) FROM chunks)", error);
  if (span == NULL)
    return FALSE;
  if (sqlite3_step (span) != SQLITE_ROW)
    return sr_store_fail (store, error, doing);
  gint64 first = sqlite3_column_int64 (span, 0), last = sqlite3_column_int64 (span, 1);
  if (last - first + 1 < SAMPLE_WINDOWS * SAMPLE_WIDTH)
    return TRUE;

  g_ptr_array_add (phrases, NULL);
  g_autofree char *match = g_strjoinv (" OR ", (char **) phrases->pdata);
  g_ptr_array_set_size (phrases, phrases->len - 1);
  g_autoptr (sqlite3_stmt) rows
      = sr_store_statement (store, "SELECT count(*) FROM chunks WHERE id BETWEEN ?1 AND ?2", error);
  g_autoptr (sqlite3_stmt) hits
      = sr_store_statement (store,
                            "SELECT sr_count_phrases(chunks_fts, ?4) FROM chunks_fts"
                            " WHERE chunks_fts MATCH ?1 AND rowid BETWEEN ?2 AND ?3",
                            error);
  if (rows == NULL || hits == NULL)
    return FALSE;
  gint64 sampled = 0;
  g_autofree gint64 *found = g_new0 (gint64, phrases->len);
  for (guint w = 0; w < SAMPLE_WINDOWS; w++) {
    gint64 low = first + (last - first + 1 - SAMPLE_WIDTH) * w / (SAMPLE_WINDOWS - 1);
    sqlite3_bind_int64 (rows, 1, low);
    sqlite3_bind_int64 (rows, 2, low + SAMPLE_WIDTH - 1);
    if (sqlite3_step (rows) != SQLITE_ROW)
      return sr_store_fail (store, error, doing);
    sampled += sqlite3_column_int64 (rows, 0);
    sqlite3_reset (rows);

    sqlite3_bind_text (hits, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (hits, 2, low);
    sqlite3_bind_int64 (hits, 3, low + SAMPLE_WIDTH - 1);
    sqlite3_bind_pointer (hits, 4, found, COUNTS_POINTER, NULL);
    int rc;
    while ((rc = sqlite3_step (hits)) == SQLITE_ROW)
      ;
    sqlite3_reset (hits);
    if (rc != SQLITE_DONE)
      return sr_store_fail (store, error, doing);
  }
  if (sampled < SAMPLE_MIN)
    return TRUE;

  guint rarest = 0;
  for (guint p = 1; p < phrases->len; p++)
    if (found[p] < found[rarest])
      rarest = p;
  /* Backwards, so that removing keeps the indexes of what is still to be looked at. */
  for (guint p = phrases->len; p-- > 0;)
    if (p != rarest && found[p] > sampled * COMMON_SHARE)
      g_ptr_array_remove_index (phrases, p);
  return TRUE;
}

typedef struct {
  double score;
  gint64 id;
} Candidate;

/* What the ranking function keeps between the rows of one query: the BM25 constants and
 * the best candidates so far, with every tie of the last. */
typedef struct {
  SrStore *store;
  const char *session_id;
  guint limit;
  gboolean prepared;
  double avgdl;
  double *idf;
  double *tf;
  GArray *candidates;
  guint pruned_len;    /* candidates->len after the last pruning */
  double threshold;    /* a chunk scoring less cannot be in the result; -1 until known */
  gboolean need_score; /* only chunks with a word that counts are results */
  int rc;              /* the first SQLite error met */
} Ranking;

static int
count_phrase_row (const Fts5ExtensionApi *api, Fts5Context *fts, void *user_data)
{
  (*(gint64 *) user_data)++;
  return SQLITE_OK;
}

static int
ranking_prepare (Ranking *r, const Fts5ExtensionApi *api, Fts5Context *fts)
{
  sqlite3_int64 n_rows = 0, n_tokens = 0;
  int n = api->xPhraseCount (fts);
  int rc = api->xRowCount (fts, &n_rows);
  if (rc == SQLITE_OK)
    rc = api->xColumnTotalSize (fts, -1, &n_tokens);
  if (rc != SQLITE_OK)
    return rc;
  r->avgdl = (double) n_tokens / (double) n_rows;
  r->idf = g_new0 (double, n);
  r->tf = g_new0 (double, n);
  gboolean informative = FALSE;
  for (int i = 0; i < n; i++) {
    gint64 hits = 0;
    if ((rc = api->xQueryPhrase (fts, i, &hits, count_phrase_row)) != SQLITE_OK)
      return rc;
    double idf = log ((n_rows - hits + 0.5) / (hits + 0.5));
    r->idf[i] = idf <= 0.0 ? 1e-6 : idf;
    informative |= idf > 0.0;
  }
  /* Next to a word that counts, one in most chunks counts for nothing, exactly as if
   * drop_common_phrases had taken it out: the result must not depend on whether the
   * sample caught it. */
  for (int i = 0; i < n && informative; i++)
    if (r->idf[i] == 1e-6)
      r->idf[i] = 0;
  r->need_score = informative;
  r->prepared = TRUE;
  return SQLITE_OK;
}

static int
compare_candidates (gconstpointer a, gconstpointer b)
{
  const Candidate *x = a, *y = b;
  return (x->score < y->score) - (x->score > y->score);
}

/* Keeps the best @limit candidates and all that tie with the last of them. */
static void
ranking_prune (Ranking *r)
{
  g_array_sort (r->candidates, compare_candidates);
  if (r->candidates->len >= r->limit) {
    r->threshold = g_array_index (r->candidates, Candidate, r->limit - 1).score;
    guint keep = r->limit;
    while (keep < r->candidates->len
           && g_array_index (r->candidates, Candidate, keep).score >= r->threshold)
      keep++;
    g_array_set_size (r->candidates, keep);
  }
  r->pruned_len = r->candidates->len;
}

static int
in_session (Ranking *r, gint64 id, gboolean *found)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      r->store, "SELECT 1 FROM chunks WHERE id = ?1 AND session_id = ?2", NULL);
  if (stmt == NULL)
    return SQLITE_ERROR;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_text (stmt, 2, r->session_id, -1, SQLITE_STATIC);
  int rc = sqlite3_step (stmt);
  *found = rc == SQLITE_ROW;
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static double
bm25_term (double idf, double tf, double length, double avgdl)
{
  return idf * ((tf * (BM25_K1 + 1.0)) / (tf + BM25_K1 * (1 - BM25_B + BM25_B * length / avgdl)));
}

/* A chunk's BM25 can be bounded from its term frequencies alone (its length is at least
 * the largest of them); only chunks whose bound reaches the current threshold pay for
 * reading their length, their exact score and their session. That is what keeps words
 * found in many chunks cheap. */
static int
rank_row (Ranking *r, const Fts5ExtensionApi *api, Fts5Context *fts)
{
  int rc = SQLITE_OK;
  if (!r->prepared && (rc = ranking_prepare (r, api, fts)) != SQLITE_OK)
    return rc;

  int n = api->xPhraseCount (fts);
  double longest = 0;
  for (int i = 0; i < n; i++) {
    Fts5PhraseIter iter;
    int column, offset;
    r->tf[i] = 0;
    if ((rc = api->xPhraseFirst (fts, i, &iter, &column, &offset)) != SQLITE_OK)
      return rc;
    for (; column >= 0; api->xPhraseNext (fts, &iter, &column, &offset))
      r->tf[i]++;
    longest = MAX (longest, r->tf[i]);
  }
  if (r->threshold >= 0) {
    double bound = 0;
    for (int i = 0; i < n; i++)
      if (r->tf[i] > 0)
        bound += bm25_term (r->idf[i], r->tf[i], longest, r->avgdl);
    if (bound < r->threshold)
      return SQLITE_OK;
  }

  int length = 0;
  if ((rc = api->xColumnSize (fts, -1, &length)) != SQLITE_OK)
    return rc;
  Candidate c = { 0, api->xRowid (fts) };
  for (int i = 0; i < n; i++)
    c.score += bm25_term (r->idf[i], r->tf[i], length, r->avgdl);
  if (c.score < r->threshold || (r->need_score && c.score <= 0))
    return SQLITE_OK;
  gboolean mine = FALSE;
  if ((rc = in_session (r, c.id, &mine)) != SQLITE_OK || !mine)
    return rc;
  g_array_append_val (r->candidates, c);
  if (r->candidates->len >= 2 * MAX (r->limit, r->pruned_len))
    ranking_prune (r);
  return SQLITE_OK;
}

/* The FTS5 auxiliary function run on every matching chunk: it returns nothing, the
 * candidates gather in the Ranking passed as its argument. */
static void
rank_chunk (const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int n_args,
            sqlite3_value **args)
{
  Ranking *r = n_args == 1 ? sqlite3_value_pointer (args[0], RANKING_POINTER) : NULL;
  sqlite3_result_null (ctx);
  if (r == NULL) {
    sqlite3_result_error (ctx, "sr_rank_chunk() needs its ranking", -1);
    return;
  }
  if (r->rc == SQLITE_OK)
    r->rc = rank_row (r, api, fts);
  if (r->rc != SQLITE_OK)
    sqlite3_result_error_code (ctx, r->rc);
}

gboolean
sr_store_chunks_register_functions (sqlite3 *db)
{
  fts5_api *api = NULL;
  sqlite3_stmt *stmt = NULL;
  if (sqlite3_prepare_v2 (db, "SELECT fts5(?1)", -1, &stmt, NULL) != SQLITE_OK)
    return FALSE;
  sqlite3_bind_pointer (stmt, 1, &api, "fts5_api_ptr", NULL);
  sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  return api != NULL
         && api->xCreateFunction (api, "sr_rank_chunk", NULL, rank_chunk, NULL) == SQLITE_OK
         && api->xCreateFunction (api, "sr_count_phrases", NULL, count_phrases, NULL) == SQLITE_OK;
}

static int
compare_hits (gconstpointer a, gconstpointer b)
{
  const SrChunkHit *x = *(SrChunkHit *const *) a, *y = *(SrChunkHit *const *) b;
  if (x->score != y->score)
    return x->score > y->score ? -1 : 1;
  int by_text = strcmp (x->text, y->text);
  if (by_text != 0)
    return by_text;
  return (x->id > y->id) - (x->id < y->id);
}

GPtrArray *
sr_store_chunks_search_text (SrStore *store, const char *session_id, const char *query, guint limit,
                             GError **error)
{
  g_autoptr (GPtrArray) phrases = phrases_from_text (query);
  if (phrases->len == 0 || limit == 0)
    return g_ptr_array_new_with_free_func ((GDestroyNotify) sr_chunk_hit_free);
  if (!drop_common_phrases (store, phrases, error))
    return NULL;
  g_ptr_array_add (phrases, NULL);
  g_autofree char *match = g_strjoinv (" OR ", (char **) phrases->pdata);

  g_autoptr (GArray) candidates = g_array_new (FALSE, FALSE, sizeof (Candidate));
  Ranking r = {
    .store = store,
    .session_id = session_id,
    .limit = limit,
    .candidates = candidates,
    .threshold = -1,
    .rc = SQLITE_OK,
  };
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store, "SELECT sr_rank_chunk(chunks_fts, ?2) FROM chunks_fts WHERE chunks_fts MATCH ?1",
      error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, match, -1, SQLITE_STATIC);
  sqlite3_bind_pointer (stmt, 2, &r, RANKING_POINTER, NULL);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    ;
  sqlite3_reset (stmt);
  g_free (r.idf);
  g_free (r.tf);
  if (rc != SQLITE_DONE) {
    sr_store_fail (store, error, _ ("search the documents"));
    return NULL;
  }
  ranking_prune (&r);

  /* Ties are broken by content, not by row id: ids differ between a rebuilt database and
   * the original, results must not. */
  g_autofree gint64 *ids = g_new (gint64, MAX (candidates->len, 1));
  for (guint i = 0; i < candidates->len; i++)
    ids[i] = g_array_index (candidates, Candidate, i).id;
  g_autoptr (GPtrArray) hits = sr_store_chunks_get (store, session_id, ids, candidates->len, error);
  if (hits == NULL)
    return NULL;
  /* In the order of @ids, less any chunk removed meanwhile. */
  for (guint i = 0, j = 0; i < hits->len; i++) {
    SrChunkHit *hit = hits->pdata[i];
    while (g_array_index (candidates, Candidate, j).id != hit->id)
      j++;
    hit->score = g_array_index (candidates, Candidate, j).score;
  }
  g_ptr_array_sort (hits, compare_hits);
  if (hits->len > limit)
    g_ptr_array_set_size (hits, limit);
  return g_steal_pointer (&hits);
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
