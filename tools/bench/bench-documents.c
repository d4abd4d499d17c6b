/* Documents benchmark: ingest, bus latency meanwhile, and Search against FTS5, as JSON. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-common.h"
#include "bench-corpus.h"
#include "bench-store-floor.h"

#define READY_TIMEOUT_US (60 * G_USEC_PER_SEC)
#define STOP_TIMEOUT_US  (120 * G_USEC_PER_SEC) /* a stop saves the vector index */

#define WARMUP_QUERIES 20

/* The targets. */
#define TARGET_INGEST_MB_S        10.0
#define TARGET_HEALTH_P99_MS      5.0
#define TARGET_SEARCH_P95_MS      10.0
#define TARGET_SEARCH_AT_CHUNK    100000
#define TARGET_SEARCH_P95_1M_MS   25.0
#define TARGET_SEARCH_AT_1M_CHUNK 1000000

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

typedef struct {
  BenchDaemon d;

  /* parameters */
  char *build_type;
  char *tmp_parent;
  int ingest_mb;
  int document_kb;
  int fill_document_kb;
  int queries;
  int questions;
  GArray *sizes;        /* guint64: the larger session sizes, in chunks, rising */
  gint64 rebuild_up_to; /* no first Search without the index file above this size */
  int seed;
  gboolean keep;

  /* resources, all released by bench_cleanup */
  char *state_dir;
  Corpus corpus; /* the session, and what it holds so far */
} Bench;

/* FTS5 alone, run by the benchmark on its own read-only connection: the statement the
 * daemon once searched with (BM25 over every match, joined and sorted), cut at k. It stays
 * the yardstick the daemon's own ranking is compared with. */
typedef struct {
  sqlite3 *db;
  sqlite3_stmt *stmt;
} FullText;

static void
full_text_clear (FullText *f)
{
  g_clear_pointer (&f->stmt, sqlite3_finalize);
  g_clear_pointer (&f->db, sqlite3_close);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FullText, full_text_clear)

static gboolean
full_text_open (Bench *b, FullText *f, GError **error)
{
  g_autofree char *path = g_build_filename (b->state_dir, DATABASE_FILENAME, NULL);
  int rc = sqlite3_open_v2 (path, &f->db, SQLITE_OPEN_READONLY, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (
        f->db,
        "SELECT c.id, c.document_id, d.filename, c.ordinal, coalesce(c.page, 0), c.heading,"
        " c.text, bm25(chunks_fts) AS rank"
        " FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid"
        " JOIN documents d ON d.id = c.document_id"
        " WHERE chunks_fts MATCH ?1 AND c.session_id = ?2"
        " ORDER BY rank, c.text, c.id LIMIT ?3",
        -1, &f->stmt, NULL);
  if (rc != SQLITE_OK)
    return fail (error, "cannot query %s: %s", path,
                 f->db ? sqlite3_errmsg (f->db) : sqlite3_errstr (rc));
  return TRUE;
}

/* Each folded word quoted, joined by OR, as the daemon once built it. */
static char *
fts_query (const char *text)
{
  GString *query = g_string_new (NULL);
  g_auto (GStrv) words = g_str_tokenize_and_fold (text, NULL, NULL);
  for (guint i = 0; words[i] != NULL; i++) {
    g_auto (GStrv) parts = g_strsplit (words[i], "\"", -1);
    g_autofree char *escaped = g_strjoinv ("\"\"", parts);
    g_string_append_printf (query, "%s\"%s\"", query->len ? " OR " : "", escaped);
  }
  return g_string_free (query, FALSE);
}

static gboolean
full_text_search (Bench *b, FullText *f, const char *text, double *ms, guint *hits, GError **error)
{
  gint64 start = now_ns ();
  g_autofree char *match = fts_query (text);
  int rc;

  sqlite3_reset (f->stmt);
  sqlite3_bind_text (f->stmt, 1, match, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (f->stmt, 2, b->corpus.session_id, -1, SQLITE_STATIC);
  sqlite3_bind_int (f->stmt, 3, SEARCH_K);
  *hits = 0;
  while ((rc = sqlite3_step (f->stmt)) == SQLITE_ROW) {
    /* Read what a hit carries, as the daemon does. */
    for (int c = 0; c < 8; c++)
      (void) sqlite3_column_text (f->stmt, c);
    (*hits)++;
  }
  *ms = (double) (now_ns () - start) / 1e6;
  if (rc != SQLITE_DONE)
    return fail (error, "full-text query for '%s': %s", text, sqlite3_errmsg (f->db));
  return TRUE;
}

typedef enum {
  RUN_SEARCH,
  RUN_FULL_TEXT,
  RUN_PING,
  N_RUNS,
} RunKind;

static const char *const run_names[N_RUNS] = {
  [RUN_SEARCH] = "search_hybrid_over_bus",
  [RUN_FULL_TEXT] = "fts5_only_in_process",
  [RUN_PING] = "ping_baseline",
};

typedef struct {
  GArray *ms[N_RUNS];
  guint64 hits[N_RUNS];
  guint empty[N_RUNS]; /* queries that found nothing */
} QueryRun;

static void
query_run_init (QueryRun *q)
{
  for (int k = 0; k < N_RUNS; k++)
    q->ms[k] = g_array_new (FALSE, FALSE, sizeof (double));
}

static void
query_run_clear (QueryRun *q)
{
  for (int k = 0; k < N_RUNS; k++)
    g_clear_pointer (&q->ms[k], g_array_unref);
}

static gboolean
run_one (Bench *b, FullText *f, RunKind kind, const char *text, QueryRun *out, GError **error)
{
  double ms = 0;
  guint hits = 0;
  gboolean ok = FALSE;

  switch (kind) {
  case RUN_SEARCH:
    ok = search (b->d.client, b->corpus.session_path, text, CALL_TIMEOUT_US, &ms, &hits, error);
    break;
  case RUN_FULL_TEXT:
    ok = full_text_search (b, f, text, &ms, &hits, error);
    break;
  case RUN_PING:
    ok = ping (b->d.client, &ms, error);
    hits = 1;
    break;
  case N_RUNS:
    g_assert_not_reached ();
  }
  if (!ok || out == NULL)
    return ok;
  g_array_append_val (out->ms[kind], ms);
  out->hits[kind] += hits;
  if (hits == 0)
    out->empty[kind]++;
  return TRUE;
}

/* Hybrid Search, the FTS5 baseline and Ping take turns in rotating order for each query,
 * so that all three see the same machine at the same moment. */
static gboolean
measure_queries (Bench *b, FullText *f, GPtrArray *queries, QueryRun *out, GError **error)
{
  for (guint i = 0; i < MIN (WARMUP_QUERIES, queries->len); i++)
    for (int k = 0; k < N_RUNS; k++)
      if (!run_one (b, f, k, queries->pdata[i], NULL, error))
        return FALSE;
  for (guint i = 0; i < queries->len; i++) {
    if (!check_interrupted (error))
      return FALSE;
    for (int j = 0; j < N_RUNS; j++)
      if (!run_one (b, f, (i + j) % N_RUNS, queries->pdata[i], out, error))
        return FALSE;
  }
  return TRUE;
}

/* ---- one session size ---- */

typedef struct {
  double search_ms;
  guint hits;
  double probe_max_ms; /* the slowest Ping or GetHealth answered while this Search ran */
  guint probes;
  double graph_ready_s; /* from the Search until the graph held every vector */
} FirstSearch;

typedef struct {
  guint64 documents;
  guint64 chunks;
  guint64 index_file_bytes;
  guint64 rss_before_kb;     /* restarted daemon, nothing searched yet */
  guint64 rss_after_load_kb; /* after the first Search loaded the saved index */
  guint64 graph_bytes;       /* the daemon's own count for the loaded graph */
  double backlog_s;          /* after the ingest, until the graph held every vector */
  FirstSearch load;
  FirstSearch rebuild;
  gboolean rebuilt; /* rebuild was measured */
  QueryRun keywords;
  QueryRun questions;
} SizeResult;

static void
size_result_clear (SizeResult *s)
{
  query_run_clear (&s->keywords);
  query_run_clear (&s->questions);
}

/* The first Search of a session loads its vector index (or starts rebuilding it) on a
 * worker thread; a prober alongside shows whether anyone else waits meanwhile. */
static gboolean
first_search (Bench *b, const char *text, FirstSearch *out, GError **error)
{
  g_auto (Prober) prober = { 0 };
  prober_start (&prober, b->d.bus_address, SLOW_CALL_TIMEOUT_US);
  /* Let the prober connect and settle into its rhythm before the Search starts. */
  g_usleep (50 * 1000);
  gboolean ok = search (b->d.client, b->corpus.session_path, text, SLOW_CALL_TIMEOUT_US,
                        &out->search_ms, &out->hits, error);
  g_usleep (20 * 1000);
  if (!prober_stop (&prober, ok ? error : NULL) || !ok)
    return FALSE;
  /* A stall delays whichever call is in flight, Ping or GetHealth: take the slower. */
  g_array_sort (prober.health_ms, compare_doubles);
  g_array_sort (prober.ping_ms, compare_doubles);
  out->probe_max_ms = MAX (g_array_index (prober.health_ms, double, prober.health_ms->len - 1),
                           g_array_index (prober.ping_ms, double, prober.ping_ms->len - 1));
  out->probes = prober.health_ms->len;
  return TRUE;
}

static char *
index_file (Bench *b)
{
  g_autofree char *name = g_strconcat (b->corpus.session_id, ".hnsw", NULL);
  return g_build_filename (b->state_dir, "index", name, NULL);
}

/* At the session's current size: the saved index's size, the first Search from it and
 * the memory it takes, every query, then the first Search after losing the file. */
static gboolean
measure_size (Bench *b, GPtrArray *keywords, GPtrArray *questions, SizeResult *out, GError **error)
{
  g_autofree char *path = index_file (b);
  GStatBuf st;

  out->documents = b->corpus.documents;
  out->chunks = b->corpus.chunks;
  progress ("%" G_GUINT64_FORMAT " chunks: waiting for the vector graph to take them all",
            b->corpus.chunks);
  if (!wait_graph_ready (&b->d, &out->backlog_s, error))
    return FALSE;
  /* A stop saves the index: what a restart finds. */
  if (!stop_daemon (&b->d, error))
    return FALSE;
  if (g_stat (path, &st) != 0)
    return fail (error, "the daemon saved no vector index at %s: %s", path, g_strerror (errno));
  out->index_file_bytes = (guint64) st.st_size;

  progress ("%" G_GUINT64_FORMAT " chunks: first Search from the saved index", b->corpus.chunks);
  if (!start_daemon (&b->d, b->state_dir, NULL, error))
    return FALSE;
  settle ();
  if (!read_rss_kb (b->d.daemon_pid, &out->rss_before_kb, error)
      || !first_search (b, keywords->pdata[0], &out->load, error)
      || !wait_graph_ready (&b->d, &out->load.graph_ready_s, error))
    return FALSE;
  settle ();
  if (!read_rss_kb (b->d.daemon_pid, &out->rss_after_load_kb, error)
      || !read_index_figure (&b->d, "memory_bytes", &out->graph_bytes, error))
    return FALSE;

  progress ("%" G_GUINT64_FORMAT " chunks: %u keyword queries and %u questions", b->corpus.chunks,
            keywords->len, questions->len);
  g_auto (FullText) full_text = { 0 };
  if (!full_text_open (b, &full_text, error)
      || !measure_queries (b, &full_text, keywords, &out->keywords, error)
      || !measure_queries (b, &full_text, questions, &out->questions, error))
    return FALSE;
  full_text_clear (&full_text);

  if (b->corpus.chunks > (guint64) b->rebuild_up_to)
    return TRUE;
  out->rebuilt = TRUE;
  progress ("%" G_GUINT64_FORMAT " chunks: first Search without the index file", b->corpus.chunks);
  if (!stop_daemon (&b->d, error))
    return FALSE;
  if (g_unlink (path) != 0)
    return fail (error, "cannot remove %s: %s", path, g_strerror (errno));
  return start_daemon (&b->d, b->state_dir, NULL, error)
         && first_search (b, keywords->pdata[0], &out->rebuild, error)
         && wait_graph_ready (&b->d, &out->rebuild.graph_ready_s, error);
}

/* ---- the report ---- */

/* Each larger size, and the fill that grew the session to it. */
typedef struct {
  IngestResult fill;
  SizeResult size;
} Larger;

typedef struct {
  IngestResult ingest;
  StoreFloor floor; /* the same documents' chunks written by SQLite alone */
  SizeResult small;
  Larger *larger; /* n_larger of them */
  guint n_larger;
} Results;

static void
results_init (Results *r, guint n_larger)
{
  query_run_init (&r->small.keywords);
  query_run_init (&r->small.questions);
  r->larger = g_new0 (Larger, n_larger);
  r->n_larger = n_larger;
  for (guint i = 0; i < n_larger; i++) {
    query_run_init (&r->larger[i].size.keywords);
    query_run_init (&r->larger[i].size.questions);
  }
}

static void
results_clear (Results *r)
{
  ingest_result_clear (&r->ingest);
  size_result_clear (&r->small);
  for (guint i = 0; i < r->n_larger; i++) {
    ingest_result_clear (&r->larger[i].fill);
    size_result_clear (&r->larger[i].size);
  }
  g_free (r->larger);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Results, results_clear)

static void
add_ingest (Json *json, const char *name, const char *state, IngestResult *r)
{
  guint slow = 0;
  for (guint i = 0; i < r->health_ms->len; i++)
    slow += g_array_index (r->health_ms, double, i) >= TARGET_HEALTH_P99_MS;

  json_begin_object (json, name);
  add_string (json, "state", state);
  add_int (json, "documents", r->documents);
  add_int (json, "text_bytes", (gint64) r->bytes);
  add_number (json, "seconds", r->seconds);
  add_number (json, "mb_per_second", r->bytes / 1e6 / r->seconds);
  add_int (json, "session_chunks_after", (gint64) r->chunks_after);
  json_begin_object (json, "latency_ms_meanwhile");
  add_latency (json, "ping_baseline", r->ping_ms, TRUE);
  add_latency (json, "get_health", r->health_ms, TRUE);
  add_latency (json, "add_text", r->add_ms, TRUE);
  json_end_object (json);
  add_int (json, "get_health_at_or_over_5ms", slow);
  add_int (json, "get_health_not_ok", r->health_not_ok);
  json_end_object (json);
}

static void
add_first_search (Json *json, const char *name, FirstSearch *f)
{
  json_begin_object (json, name);
  add_number (json, "search_ms", f->search_ms);
  add_int (json, "hits", f->hits);
  add_number (json, "probe_max_ms_meanwhile", f->probe_max_ms);
  add_int (json, "probes_meanwhile", f->probes);
  add_number (json, "graph_complete_after_s", f->graph_ready_s);
  json_end_object (json);
}

static void
add_query_run (Json *json, const char *name, const char *what, QueryRun *q)
{
  json_begin_object (json, name);
  add_string (json, "queries", what);
  for (int k = 0; k < N_RUNS; k++) {
    json_begin_object (json, run_names[k]);
    add_latency (json, "latency_ms", q->ms[k], TRUE);
    if (k != RUN_PING) {
      add_number (json, "hits_mean", (double) q->hits[k] / MAX (q->ms[k]->len, 1));
      add_int (json, "queries_without_hits", q->empty[k]);
    }
    json_end_object (json);
  }
  json_end_object (json);
}

static void
add_size (Json *json, SizeResult *s)
{
  g_autofree char *name = g_strdup_printf ("chunks_%" G_GUINT64_FORMAT, s->chunks);
  json_begin_object (json, name);
  add_int (json, "documents", (gint64) s->documents);
  add_int (json, "chunks", (gint64) s->chunks);
  add_number (json, "graph_backlog_after_ingest_s", s->backlog_s);
  add_int (json, "index_file_bytes", (gint64) s->index_file_bytes);
  add_number (json, "index_file_mb", s->index_file_bytes / 1048576.0);
  add_int (json, "rss_kb_before_first_search", (gint64) s->rss_before_kb);
  add_int (json, "rss_kb_after_index_loaded", (gint64) s->rss_after_load_kb);
  add_number (json, "index_rss_growth_mb",
              ((double) s->rss_after_load_kb - (double) s->rss_before_kb) / 1024.0);
  add_number (json, "graph_mb_reported_by_daemon", s->graph_bytes / 1048576.0);
  json_begin_object (json, "first_search");
  add_first_search (json, "from_saved_index", &s->load);
  if (s->rebuilt)
    add_first_search (json, "rebuilt_from_database", &s->rebuild);
  else
    add_string (json, "rebuilt_from_database", "not measured at this size (--rebuild-up-to)");
  json_end_object (json);
  add_query_run (json, "keywords", "two to four content words", &s->keywords);
  add_query_run (json, "questions", "'what is the X of the Y'", &s->questions);
  json_end_object (json);
}

static void
add_memory (Json *json, SizeResult *s)
{
  double scale = 100000.0 / (double) MAX (s->chunks, 1);
  json_begin_object (json, "index_memory_per_100k_chunks");
  add_int (json, "measured_at_chunks", (gint64) s->chunks);
  add_number (json, "rss_growth_mb",
              ((double) s->rss_after_load_kb - (double) s->rss_before_kb) / 1024.0 * scale);
  add_number (json, "index_file_mb", s->index_file_bytes / 1048576.0 * scale);
  /* The resident growth also counts the database pages the first Search mapped. */
  add_number (json, "graph_mb_reported_by_daemon", s->graph_bytes / 1048576.0 * scale);
  json_end_object (json);
}

/* What one SQLite writer takes for the ingest's chunks: with every write behind one lock,
 * no ingest of these documents can be faster. */
static void
add_store_floor (Json *json, Results *r)
{
  StoreFloor *f = &r->floor;
  json_begin_object (json, "store_floor_baseline");
  add_string (json, "what",
              "the ingest's chunks, vectors and full-text index written again by SQLite alone, "
              "one transaction per document, one thread, same schema and settings");
  add_int (json, "documents", f->documents);
  add_int (json, "chunks", (gint64) f->chunks);
  add_int (json, "chunk_text_bytes", (gint64) f->text_bytes);
  add_number (json, "seconds", f->seconds);
  /* Over the documents' own bytes, as ingest.mb_per_second is. */
  add_number (json, "mb_per_second", f->seconds > 0 ? r->ingest.bytes / 1e6 / f->seconds : 0);
  json_end_object (json);
}

/* The smallest size measured with at least @chunks, or NULL. */
static SizeResult *
size_at_least (Results *r, guint64 chunks)
{
  for (guint i = 0; i < r->n_larger; i++)
    if (r->larger[i].size.chunks >= chunks)
      return &r->larger[i].size;
  return NULL;
}

static gboolean
add_search_target (Json *json, Results *r, const char *name, guint64 chunks, double limit)
{
  SizeResult *s = size_at_least (r, chunks);
  g_autofree char *as = g_strdup_printf (
      "keywords search_hybrid_over_bus p95 at the first size of at least %" G_GUINT64_FORMAT
      " chunks",
      chunks);
  return add_target (json, name, as, s != NULL,
                     s != NULL ? percentile_of (s->keywords.ms[RUN_SEARCH], 0.95) : 0, limit, FALSE,
                     "ms");
}

static void
add_targets (Json *json, Results *r)
{
  gboolean all = TRUE;
  double health_p99 = percentile_of (r->ingest.health_ms, 0.99);
  for (guint i = 0; i < r->n_larger; i++)
    health_p99 = MAX (health_p99, percentile_of (r->larger[i].fill.health_ms, 0.99));

  json_begin_object (json, "targets");
  all &= add_target (json, "ingest_throughput", "ingest.mb_per_second", TRUE,
                     r->ingest.bytes / 1e6 / r->ingest.seconds, TARGET_INGEST_MB_S, TRUE, "MB/s");
  all &= add_target (json, "get_health_p99_while_ingesting",
                     "worst get_health p99 of ingest and fills", TRUE, health_p99,
                     TARGET_HEALTH_P99_MS, FALSE, "ms");
  all &= add_search_target (json, r, "search_p95_at_100k_chunks", TARGET_SEARCH_AT_CHUNK,
                            TARGET_SEARCH_P95_MS);
  all &= add_search_target (json, r, "search_p95_at_1m_chunks", TARGET_SEARCH_AT_1M_CHUNK,
                            TARGET_SEARCH_P95_1M_MS);
  json_end_object (json);
  add_bool (json, "all_targets_pass", all);
}

static void
add_daemon (Json *json, Bench *b)
{
  json_begin_object (json, "daemon");
  add_daemon_identity (json, &b->d, b->build_type);
  add_string (json, "config", "every key default (builtin embedder)");
  add_int (json, "unclean_exits", b->d.unclean_exits);
  json_end_object (json);
}

static void
add_parameters (Json *json, Bench *b)
{
  json_begin_object (json, "parameters");
  add_int (json, "ingest_mb", b->ingest_mb);
  add_int (json, "document_kb", b->document_kb);
  add_int (json, "fill_document_kb", b->fill_document_kb);
  json_begin_array (json, "sizes");
  for (guint i = 0; i < b->sizes->len; i++)
    add_int (json, NULL, (gint64) g_array_index (b->sizes, guint64, i));
  json_end_array (json);
  add_int (json, "rebuild_up_to", b->rebuild_up_to);
  add_int (json, "queries", b->queries);
  add_int (json, "questions", b->questions);
  add_int (json, "warmup_queries", WARMUP_QUERIES);
  add_int (json, "k", SEARCH_K);
  add_int (json, "add_window", ADD_WINDOW);
  add_number (json, "probe_interval_ms", PROBE_INTERVAL_US / 1000.0);
  add_int (json, "vocabulary", VOCABULARY);
  add_int (json, "seed", b->seed);
  json_end_object (json);
}

static char *
report (Bench *b, Results *r)
{
  Json writer = { g_string_new (NULL), 0, TRUE };
  Json *json = &writer;

  json_begin_object (json, NULL);
  add_string (json, "benchmark", "documents");
  add_machine (json, &b->d);
  add_daemon (json, b);
  add_parameters (json, b);
  add_ingest (json, "ingest", "the session's vector index loaded (one Search on the empty session)",
              &r->ingest);
  add_store_floor (json, r);
  json_begin_object (json, "fills");
  for (guint i = 0; i < r->n_larger; i++) {
    g_autofree char *name
        = g_strdup_printf ("to_%" G_GUINT64_FORMAT "_chunks", r->larger[i].size.chunks);
    add_ingest (json, name, "the same session grown to this size, index loaded",
                &r->larger[i].fill);
  }
  json_end_object (json);
  json_begin_object (json, "sizes");
  add_size (json, &r->small);
  for (guint i = 0; i < r->n_larger; i++)
    add_size (json, &r->larger[i].size);
  json_end_object (json);
  SizeResult *for_memory = size_at_least (r, TARGET_SEARCH_AT_CHUNK);
  add_memory (json, for_memory != NULL ? for_memory : &r->small);
  add_targets (json, r);
  json_end_object (json);

  g_string_append_c (json->out, '\n');
  return g_string_free (json->out, FALSE);
}

/* ---- the run ---- */

static gboolean
prepare (Bench *b, GError **error)
{
  /* An empty file: the defaults are measured, and no configuration of this machine leaks in. */
  if (!bench_daemon_prepare (&b->d, b->tmp_parent, "", error))
    return FALSE;
  b->state_dir = g_build_filename (b->d.dir, "state", NULL);
  corpus_init (&b->corpus, &b->d, b->seed);
  return TRUE;
}

static GPtrArray *
generate_queries (Corpus *c, guint n, char *(*generate) (Corpus *) )
{
  GPtrArray *queries = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (queries, generate (c));
  return queries;
}

static gboolean
run (Bench *b, Results *r, GError **error)
{
  double ms;
  guint hits;

  if (!prepare (b, error))
    return FALSE;
  g_autoptr (GPtrArray) keywords = generate_queries (&b->corpus, b->queries, generate_keywords);
  g_autoptr (GPtrArray) questions = generate_queries (&b->corpus, b->questions, generate_question);
  if (!start_daemon (&b->d, b->state_dir, NULL, error) || !read_version (&b->d, error)
      || !create_session (&b->corpus, "Documents benchmark", error))
    return FALSE;
  /* A session in use has its index loaded, so that each ready document also goes to
   * its graph while others call: the daemon's busiest case. */
  if (!search (b->d.client, b->corpus.session_path, keywords->pdata[0], CALL_TIMEOUT_US, &ms, &hits,
               error))
    return FALSE;

  progress ("ingesting %d MB in documents of %d kB", b->ingest_mb, b->document_kb);
  if (!measure_ingest (&b->corpus, (guint64) b->ingest_mb * 1000000, (gsize) b->document_kb * 1000,
                       &r->ingest, error)
      || !measure_size (b, keywords, questions, &r->small, error))
    return FALSE;

  for (guint i = 0; i < r->n_larger; i++) {
    guint64 target = g_array_index (b->sizes, guint64, i);
    if (target <= b->corpus.chunks)
      return fail (error,
                   "--sizes: %" G_GUINT64_FORMAT " chunks is not more than the session "
                   "already has (%" G_GUINT64_FORMAT ")",
                   target, b->corpus.chunks);
    guint64 more = text_for_chunks (&b->corpus, target);
    progress ("filling the session to %" G_GUINT64_FORMAT " chunks (%" G_GUINT64_FORMAT
              " MB more text)",
              target, more / 1000000);
    if (!measure_ingest (&b->corpus, more, (gsize) b->fill_document_kb * 1000, &r->larger[i].fill,
                         error)
        || !measure_size (b, keywords, questions, &r->larger[i].size, error))
      return FALSE;
  }
  if (!stop_daemon (&b->d, error))
    return FALSE;
  progress ("the store floor: the ingest's chunks written again by SQLite alone");
  g_autofree char *database = g_build_filename (b->state_dir, DATABASE_FILENAME, NULL);
  return bench_store_floor (database, b->d.dir, r->ingest.documents, &r->floor, error);
}

static void
bench_cleanup (Bench *b)
{
  bench_daemon_clear (&b->d, b->keep);
  g_free (b->state_dir);
  corpus_clear (&b->corpus);
  g_clear_pointer (&b->sizes, g_array_unref);
}

/* "100000,1000000": sizes in chunks, each larger than the one before. */
static gboolean
parse_sizes (Bench *b, const char *text, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  b->sizes = g_array_new (FALSE, FALSE, sizeof (guint64));
  for (guint i = 0; parts[i] != NULL; i++) {
    guint64 size = 0;
    if (*parts[i] == '\0' && parts[1] == NULL)
      break; /* "": no larger size */
    if (!g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 1, G_MAXINT32, &size, NULL)
        || (b->sizes->len > 0 && size <= g_array_index (b->sizes, guint64, b->sizes->len - 1)))
      return fail (error, "--sizes: '%s' is not a rising list of chunk counts", text);
    g_array_append_val (b->sizes, size);
  }
  return TRUE;
}

static gboolean
parse_arguments (Bench *b, int *argc, char ***argv, GError **error)
{
  g_autofree char *sizes = NULL;
  g_auto (BenchDaemonArgs) args = { 0 };
  const GOptionEntry entries[] = {
    BENCH_OPTION_DAEMON (&args),
    BENCH_OPTION_EXTRACT_HELPER (&args),
    BENCH_OPTION_DBUS_DAEMON (&args),
    BENCH_OPTION_BUILD_TYPE (&args),
    { "ingest-mb", 0, 0, G_OPTION_ARG_INT, &b->ingest_mb,
      "Megabytes of text in the measured ingest (default 8)", "N" },
    { "document-kb", 0, 0, G_OPTION_ARG_INT, &b->document_kb,
      "Kilobytes per document in the measured ingest (default 200)", "N" },
    { "fill-document-kb", 0, 0, G_OPTION_ARG_INT, &b->fill_document_kb,
      "Kilobytes per document when filling to the larger size (default 1000)", "N" },
    { "sizes", 0, 0, G_OPTION_ARG_STRING, &sizes,
      "The larger session sizes, in chunks, comma-separated; empty skips them (default "
      "100000)",
      "LIST" },
    { "rebuild-up-to", 0, 0, G_OPTION_ARG_INT64, &b->rebuild_up_to,
      "Measure the first Search without the index file only at sizes up to N chunks "
      "(default 200000: a rebuild takes minutes per million)",
      "N" },
    { "queries", 0, 0, G_OPTION_ARG_INT, &b->queries, "Keyword queries per size (default 500)",
      "N" },
    { "questions", 0, 0, G_OPTION_ARG_INT, &b->questions,
      "Question-like queries per size (default 100)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &b->seed, "Seed of the generated text (default 1)", "N" },
    { "keep", 0, 0, G_OPTION_ARG_NONE, &b->keep,
      "Keep the temporary directory with the daemon's log and state", NULL },
    G_OPTION_ENTRY_NULL,
  };
  if (!bench_parse_options (entries,
                            "Measures smartragd's ingest throughput, its bus latency while "
                            "ingesting and Search latency against FTS5\non a private bus, "
                            "and prints one JSON document.",
                            argc, argv, error))
    return FALSE;
  if (b->ingest_mb < 1 || b->document_kb < 1 || b->fill_document_kb < 1 || b->queries < 1
      || b->questions < 1 || b->rebuild_up_to < 0)
    return fail (error, "sizes and query counts must be at least 1, --rebuild-up-to at least 0");
  if (!parse_sizes (b, sizes != NULL ? sizes : "100000", error))
    return FALSE;

  return bench_daemon_resolve (&b->d, &args, *argc, *argv, SMARTRAGD_PATH, SMARTRAG_EXTRACT_PATH,
                               SMARTRAGD_BUILD_TYPE, &b->build_type, error);
}

int
main (int argc, char **argv)
{
  g_set_prgname ("bench-documents");
  Bench bench = {
    .ingest_mb = 8,
    .document_kb = 200,
    .fill_document_kb = 1000,
    .rebuild_up_to = 200000,
    .queries = 500,
    .questions = 100,
    .seed = 1,
    .tmp_parent = (char *) g_get_tmp_dir (),
    .d = BENCH_DAEMON_INIT (READY_TIMEOUT_US, STOP_TIMEOUT_US),
  };
  g_auto (Results) results = { 0 };
  g_autoptr (GError) error = NULL;

  if (!parse_arguments (&bench, &argc, &argv, &error)) {
    g_printerr ("%s: %s\n", g_get_prgname (), error->message);
    return 2;
  }
  install_signal_handlers ();
  results_init (&results, bench.sizes->len);

  bench.d.load_before = load_average ();
  gboolean ok = run (&bench, &results, &error);
  bench.d.load_after = load_average ();
  g_autofree char *json = ok ? report (&bench, &results) : NULL;
  bench_cleanup (&bench);
  g_free (bench.build_type);

  if (!ok) {
    g_printerr ("%s: %s\n", g_get_prgname (), error->message);
    return 1;
  }
  fputs (json, stdout);
  return 0;
}
