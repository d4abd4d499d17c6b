/* Full-text search of a session's chunks: BM25 over FTS5, in passes that spare common words. */
#include "store/chunks.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "common/errors.h"
#include "store/fts.h"
#include "store/optimize.h"

/* BM25 as FTS5's bm25() computes it, so scores and their order are the same. */
#define BM25_K1 1.2
#define BM25_B  0.75

/* How many chunks hold a word, as the IDF needs: counting a common word reads its whole
 * list, which costs more than the rest of a search. The counts are kept with the
 * connection for as long as the database is unchanged. */
#define DF_CACHE_KEY "sr-chunks-document-frequency"
#define DF_CACHE_MAX 8192

#define RANKING_POINTER "sr_chunks_ranking"

/* A word of the query. */
typedef struct {
  char *phrase;   /* as FTS5 reads it: quoted, quotes doubled */
  guint position; /* among the words searched, in the query's order */
  gint64 chunks;  /* holding it, in every session: what its IDF says */
} Term;

static void
term_clear (gpointer data)
{
  g_free (((Term *) data)->phrase);
}

/* Each distinct word of @text, as sr_store_fts_phrases() makes it safe for FTS5. */
static GArray *
terms_from_text (const char *text)
{
  g_autoptr (GArray) terms = g_array_new (FALSE, TRUE, sizeof (Term));
  g_array_set_clear_func (terms, term_clear);
  g_autoptr (GPtrArray) phrases = sr_store_fts_phrases (text);

  for (guint i = 0; i < phrases->len; i++) {
    Term term = { g_strdup (phrases->pdata[i]), 0, 0 };
    g_array_append_val (terms, term);
  }
  return g_steal_pointer (&terms);
}

/* "a" OR "b" OR …, over terms [@from, @to). */
static void
append_any (GString *match, const GArray *terms, guint from, guint to)
{
  for (guint i = from; i < to; i++)
    g_string_append_printf (match, "%s%s", i > from ? " OR " : "",
                            g_array_index (terms, Term, i).phrase);
}

static int
compare_rarest_first (gconstpointer a, gconstpointer b)
{
  const Term *x = a, *y = b;
  if (x->chunks != y->chunks)
    return x->chunks < y->chunks ? -1 : 1;
  return (x->position > y->position) - (x->position < y->position);
}

typedef struct {
  gint64 version;     /* of the chunks' words (chunk_words) the counts are for */
  GHashTable *counts; /* phrase → chunks holding it, as a pointer-sized integer */
} DfCache;

static void
df_cache_free (gpointer data)
{
  DfCache *cache = data;
  g_hash_table_unref (cache->counts);
  g_free (cache);
}

/* The version of the chunks' words: triggers raise it with every chunk added, removed or
 * rewritten, and nothing else does, so counts outlive merges of the full-text index. */
static gboolean
words_version (SrStore *store, gint64 *version, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store, "SELECT version FROM chunk_words WHERE id = 1", error);
  if (stmt == NULL)
    return FALSE;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return sr_store_fail (store, error, _ ("search the documents"));
  *version = sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

static DfCache *
df_cache_of (SrStore *store, GError **error)
{
  gint64 version = 0;
  if (!words_version (store, &version, error))
    return NULL;
  DfCache *cache = sr_store_get_data (store, DF_CACHE_KEY);
  if (cache == NULL) {
    cache = g_new0 (DfCache, 1);
    cache->counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    sr_store_set_data_full (store, DF_CACHE_KEY, cache, df_cache_free);
  }
  if (cache->version != version || g_hash_table_size (cache->counts) >= DF_CACHE_MAX) {
    g_hash_table_remove_all (cache->counts);
    cache->version = version;
  }
  return cache;
}

/* A count, from @cache when it has it: the chunks holding the term whose phrase is @key,
 * or with "" all chunks. */
static gboolean
count_chunks (SrStore *store, DfCache *cache, const char *key, gint64 *count, GError **error)
{
  gpointer known;
  if (cache != NULL && g_hash_table_lookup_extended (cache->counts, key, NULL, &known)) {
    *count = (gint64) GPOINTER_TO_SIZE (known);
    return TRUE;
  }
  g_autoptr (sqlite3_stmt) stmt
      = *key == '\0' ? sr_store_statement (store, "SELECT count(*) FROM chunks", error)
                     : sr_store_statement (
                         store, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1", error);
  if (stmt == NULL)
    return FALSE;
  if (*key != '\0')
    sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return sr_store_fail (store, error, _ ("search the documents"));
  *count = sqlite3_column_int64 (stmt, 0);
  if (cache != NULL)
    g_hash_table_insert (cache->counts, g_strdup (key), GSIZE_TO_POINTER ((gsize) *count));
  return TRUE;
}

/* A word in half the chunks or more has an IDF of zero or less: next to a word that
 * counts it adds nothing to any score (see ranking_prepare), so it is not searched at
 * all, which spares reading its long list. Words that all are that common are kept. */
static void
drop_common_terms (GArray *terms, gint64 rows)
{
  gboolean informative = FALSE;
  for (guint t = 0; t < terms->len; t++)
    informative |= 2 * g_array_index (terms, Term, t).chunks < rows;
  /* Backwards, so that removing keeps the indexes of what is still to be looked at. */
  for (guint t = terms->len; informative && t-- > 0;)
    if (2 * g_array_index (terms, Term, t).chunks >= rows)
      g_array_remove_index (terms, t);
}

typedef struct {
  double score;
  gint64 id;
} Candidate;

/* What the ranking function keeps between the rows of one query: the BM25 constants and
 * the best candidates so far, with every tie of the last.
 *
 * The chunks are visited in passes, one per term, rarest first (MaxScore): pass i reads
 * the chunks holding term i and none of the rarer ones. A chunk holding none of terms
 * 0…i-1 scores at most the sum of the best that terms i… can give, so once that sum is
 * under the current threshold, no chunk left unread can be a result, and the passes stop
 * before the long lists of the common words are read. */
typedef struct {
  SrStore *store;
  const char *session_id;
  guint limit;
  const GArray *terms; /* Term, rarest first */
  guint pass;          /* the chunks read hold terms[pass] and none before it */
  gboolean prepared;
  double avgdl;
  double *idf; /* by Term.position, so scores add up in the query's order */
  double *tf;  /* by Term.position */
  GArray *candidates;
  guint pruned_len;    /* candidates->len after the last pruning */
  double threshold;    /* a chunk scoring less cannot be in the result; -1 until known */
  gboolean need_score; /* only chunks with a word that counts are results */
  int rc;              /* the first SQLite error met */
} Ranking;

static guint
term_position (const Ranking *r, guint index)
{
  return g_array_index (r->terms, Term, index).position;
}

/* On the first chunk read. */
static int
ranking_prepare (Ranking *r, const Fts5ExtensionApi *api, Fts5Context *fts)
{
  sqlite3_int64 n_rows = 0, n_tokens = 0;
  int rc = api->xRowCount (fts, &n_rows);
  if (rc == SQLITE_OK)
    rc = api->xColumnTotalSize (fts, -1, &n_tokens);
  if (rc != SQLITE_OK)
    return rc;
  r->avgdl = (double) n_tokens / (double) n_rows;
  gboolean informative = FALSE;
  for (guint t = 0; t < r->terms->len; t++) {
    gint64 hits = g_array_index (r->terms, Term, t).chunks;
    double idf = log ((n_rows - hits + 0.5) / (hits + 0.5));
    r->idf[term_position (r, t)] = idf <= 0.0 ? 1e-6 : idf;
    informative |= idf > 0.0;
  }
  /* Next to a word that counts, one in half the chunks or more counts for nothing: its
   * chunks that hold no other word are no results, and its own pass is never read. */
  for (guint p = 0; p < r->terms->len && informative; p++)
    if (r->idf[p] == 1e-6)
      r->idf[p] = 0;
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

/* Whether the passes from @pass on can still find a result. */
static gboolean
ranking_may_find (const Ranking *r, guint pass)
{
  if (!r->prepared)
    return TRUE;
  double best = 0;
  for (guint t = pass; t < r->terms->len; t++)
    best += r->idf[term_position (r, t)] * (BM25_K1 + 1.0);
  if (r->need_score && best <= 0)
    return FALSE;
  return r->threshold < 0 || best >= r->threshold;
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
 * reading their length, their exact score and their session. */
static int
rank_row (Ranking *r, const Fts5ExtensionApi *api, Fts5Context *fts)
{
  int rc = SQLITE_OK;
  if (!r->prepared && (rc = ranking_prepare (r, api, fts)) != SQLITE_OK)
    return rc;

  guint n = r->terms->len;
  double longest = 0;
  memset (r->tf, 0, n * sizeof *r->tf);
  /* The pass's query names terms[pass…] first, in that order. */
  for (guint t = r->pass; t < n; t++) {
    Fts5PhraseIter iter;
    int column, offset;
    double *tf = &r->tf[term_position (r, t)];
    if ((rc = api->xPhraseFirst (fts, (int) (t - r->pass), &iter, &column, &offset)) != SQLITE_OK)
      return rc;
    for (; column >= 0; api->xPhraseNext (fts, &iter, &column, &offset))
      (*tf)++;
    longest = MAX (longest, *tf);
  }
  if (r->threshold >= 0) {
    double bound = 0;
    for (guint p = 0; p < n; p++)
      if (r->tf[p] > 0)
        bound += bm25_term (r->idf[p], r->tf[p], longest, r->avgdl);
    if (bound < r->threshold)
      return SQLITE_OK;
  }

  int length = 0;
  if ((rc = api->xColumnSize (fts, -1, &length)) != SQLITE_OK)
    return rc;
  Candidate c = { 0, api->xRowid (fts) };
  for (guint p = 0; p < n; p++)
    c.score += bm25_term (r->idf[p], r->tf[p], length, r->avgdl);
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
         && api->xCreateFunction (api, "sr_rank_chunk", NULL, rank_chunk, NULL) == SQLITE_OK;
}

gboolean
sr_store_chunks_compact_step (SrStore *store, gboolean *done, GError **error)
{
  return sr_store_fts_merge_step (store, "chunks_fts", done, error);
}

/* Pass @pass's query: the chunks holding terms[pass] and no rarer term. Every term that
 * can be in them is named, so that the ranking sees its occurrences; the rarer ones, in
 * none of them, only under NOT. */
static char *
pass_match (const GArray *terms, guint pass)
{
  GString *match = g_string_new ("(");
  append_any (match, terms, pass, terms->len);
  g_string_append_printf (match, ") AND (%s", g_array_index (terms, Term, pass).phrase);
  if (pass > 0) {
    g_string_append (match, " NOT (");
    append_any (match, terms, 0, pass);
    g_string_append (match, ")");
  }
  g_string_append (match, ")");
  return g_string_free (match, FALSE);
}

static gboolean
rank_chunks (SrStore *store, Ranking *r, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      store, "SELECT sr_rank_chunk(chunks_fts, ?2) FROM chunks_fts WHERE chunks_fts MATCH ?1",
      error);
  if (stmt == NULL)
    return FALSE;
  for (r->pass = 0; r->pass < r->terms->len && ranking_may_find (r, r->pass); r->pass++) {
    g_autofree char *match = pass_match (r->terms, r->pass);
    sqlite3_bind_text (stmt, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_pointer (stmt, 2, r, RANKING_POINTER, NULL);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
      ;
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE)
      return sr_store_fail (store, error, _ ("search the documents"));
    ranking_prune (r);
  }
  return TRUE;
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

/* The candidates' rows, best first, with their scores. */
static GPtrArray *
hits_of (SrStore *store, const char *session_id, GArray *candidates, guint limit, GError **error)
{
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

static GPtrArray *
search_snapshot (SrStore *store, const char *session_id, GArray *terms, guint limit,
                 gboolean own_snapshot, GError **error)
{
  /* Inside a caller's transaction, counts are not kept: it may yet roll back. */
  DfCache *cache = NULL;
  if (own_snapshot && (cache = df_cache_of (store, error)) == NULL)
    return NULL;
  gint64 rows = 0;
  if (!count_chunks (store, cache, "", &rows, error))
    return NULL;
  for (guint t = 0; t < terms->len; t++) {
    Term *term = &g_array_index (terms, Term, t);
    if (!count_chunks (store, cache, term->phrase, &term->chunks, error))
      return NULL;
  }
  drop_common_terms (terms, rows);
  for (guint t = 0; t < terms->len; t++)
    g_array_index (terms, Term, t).position = t;
  g_array_sort (terms, compare_rarest_first);

  g_autoptr (GArray) candidates = g_array_new (FALSE, FALSE, sizeof (Candidate));
  g_autofree double *idf = g_new0 (double, terms->len);
  g_autofree double *tf = g_new0 (double, terms->len);
  Ranking r = {
    .store = store,
    .session_id = session_id,
    .limit = limit,
    .terms = terms,
    .idf = idf,
    .tf = tf,
    .candidates = candidates,
    .threshold = -1,
    .rc = SQLITE_OK,
  };
  if (!rank_chunks (store, &r, error))
    return NULL;
  return hits_of (store, session_id, candidates, limit, error);
}

GPtrArray *
sr_store_chunks_search_text (SrStore *store, const char *session_id, const char *query, guint limit,
                             GError **error)
{
  g_autoptr (GArray) terms = terms_from_text (query);
  if (terms->len == 0 || limit == 0)
    return g_ptr_array_new_with_free_func ((GDestroyNotify) sr_chunk_hit_free);
  /* The passes and the counts they rely on must all see the same chunks. */
  gboolean started = FALSE;
  if (!sr_store_begin_read (store, &started, error))
    return NULL;
  GPtrArray *hits = search_snapshot (store, session_id, terms, limit, started, error);
  sr_store_end_read (store, started);
  return hits;
}
