/* Vector benchmark: chunker and builtin embedder throughput, HNSW build, search and memory. */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "embed/embedder.h"
#include "index/vector-index.h"
#include "ingest/chunker.h"
#include "ingest/readers.h"

#define CHUNK_CHARS     1000 /* what the chunker aims at */
#define EMBED_TEXTS     5000
#define SEARCH_QUERIES  1000
#define BRUTE_QUERIES   200
#define K               10
#define VOCABULARY      20000
#define CHUNK_DOCUMENTS 40
#define DOCUMENT_BYTES  200000 /* what bench-documents sends */

/* The targets for the parts measured here. */
#define TARGET_EMBED_PER_S        5000.0
#define TARGET_CHUNK_MB_PER_S     100.0
#define TARGET_SEARCH_P95_100K_MS 10.0
#define TARGET_SEARCH_P95_1M_MS   25.0

typedef struct {
  GRand *rand;
  char **words;
} Corpus;

static const char *const latin_syllables[]
    = { "ka", "lo",  "mi", "ne",  "ru",  "sa",  "ti", "vo",  "de",  "fu", "ga", "hi", "jo",
        "pe", "qui", "ze", "bra", "cto", "ist", "um", "ent", "ion", "ar", "os", NULL };

/* Accents, Cyrillic, Greek and CJK among plain syllables: text that takes the Unicode
 * paths rather than the ASCII ones. */
static const char *const multilingual_syllables[]
    = { "ka",  "lé", "mü", "ne",  "ßa", "ño", "ти", "во", "де", "λα", "γι", "語", "本",
        "ist", "ça", "ør", "ent", "ký", "ён", "os", "ζω", "文", "ła", "ür", NULL };

/* Pseudo-words drawn with a Zipf-like skew and a topic per text, so that vectors have the
 * structure of real text rather than of noise. */
static Corpus *
corpus_new_from (guint32 seed, const char *const *syllables)
{
  guint n_syllables = g_strv_length ((char **) syllables);
  Corpus *c = g_new0 (Corpus, 1);
  c->rand = g_rand_new_with_seed (seed);
  c->words = g_new0 (char *, VOCABULARY + 1);
  for (guint w = 0; w < VOCABULARY; w++) {
    GString *word = g_string_new (NULL);
    for (guint x = w + 1, n = 0; x > 0 || n < 2; x /= n_syllables, n++)
      g_string_append (word, syllables[x % n_syllables]);
    c->words[w] = g_string_free (word, FALSE);
  }
  return c;
}

static Corpus *
corpus_new (guint32 seed)
{
  return corpus_new_from (seed, latin_syllables);
}

static void
corpus_free (Corpus *c)
{
  g_rand_free (c->rand);
  g_strfreev (c->words);
  g_free (c);
}

static const char *
corpus_word (Corpus *c)
{
  double u = g_rand_double_range (c->rand, 1e-9, 1.0);
  return c->words[(guint) pow (VOCABULARY, u) - 1];
}

/* A document as bench-documents makes them: sentences of 6 to 18 words, some with a
 * comma, in paragraphs of 3 to 7 sentences. */
static char *
corpus_document (Corpus *c, gsize bytes)
{
  GString *text = g_string_sized_new (bytes + 256);
  while (text->len < bytes) {
    guint sentences = (guint) g_rand_int_range (c->rand, 3, 8);
    for (guint s = 0; s < sentences; s++) {
      guint words = (guint) g_rand_int_range (c->rand, 6, 19);
      for (guint w = 0; w < words; w++) {
        const char *word = corpus_word (c);
        if (w == 0) {
          g_string_append_unichar (text, g_unichar_toupper (g_utf8_get_char (word)));
          g_string_append (text, g_utf8_next_char (word));
        } else {
          g_string_append (text, word);
        }
        if (w + 1 < words)
          g_string_append (text, g_rand_int_range (c->rand, 0, 10) == 0 ? ", " : " ");
      }
      g_string_append (text, g_rand_int_range (c->rand, 0, 10) == 0 ? "? " : ". ");
    }
    g_string_truncate (text, text->len - 1);
    g_string_append (text, "\n\n");
  }
  return g_string_free (text, FALSE);
}

static char *
corpus_text (Corpus *c)
{
  GString *text = g_string_sized_new (CHUNK_CHARS + 32);
  guint topic = (guint) g_rand_int_range (c->rand, 0, 500);
  while (text->len < CHUNK_CHARS) {
    double u = g_rand_double_range (c->rand, 1e-9, 1.0);
    guint rank = (guint) pow (VOCABULARY, u) - 1;
    if (g_rand_boolean (c->rand))
      rank = (topic * 131 + rank) % VOCABULARY;
    g_string_append (text, c->words[rank]);
    g_string_append_c (text, g_rand_int_range (c->rand, 0, 12) == 0 ? '.' : ' ');
    g_string_append_c (text, ' ');
  }
  return g_string_free (text, FALSE);
}

static float *
embed_corpus (SrEmbedder *embedder, Corpus *c, guint n, double *seconds)
{
  float *vectors = g_new (float, (gsize) n * embedder->dimensions);
  double busy = 0.0;
  for (guint i = 0; i < n; i++) {
    g_autofree char *text = corpus_text (c);
    const char *texts[] = { text };
    gint64 start = g_get_monotonic_time ();
    if (!sr_embedder_embed (embedder, texts, 1, vectors + (gsize) i * embedder->dimensions, NULL,
                            NULL))
      g_error ("embedding failed");
    busy += (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  }
  if (seconds != NULL)
    *seconds = busy;
  return vectors;
}

static guint64
rss_bytes (void)
{
  g_autofree char *status = NULL;
  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  const char *line = strstr (status, "VmRSS:");
  return line == NULL ? 0 : g_ascii_strtoull (line + 6, NULL, 10) * 1024;
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static void
add_percentiles (JsonBuilder *b, double *ms, guint n)
{
  qsort (ms, n, sizeof *ms, compare_double);
  json_builder_set_member_name (b, "p50_ms");
  json_builder_add_double_value (b, ms[n / 2]);
  json_builder_set_member_name (b, "p95_ms");
  json_builder_add_double_value (b, ms[(guint) (n * 0.95)]);
  json_builder_set_member_name (b, "p99_ms");
  json_builder_add_double_value (b, ms[(guint) (n * 0.99)]);
}

static void
member_double (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, value);
}

static void
member_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

/* CPU time of this thread: other work on the machine does not count against the code. */
static double
thread_cpu_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Chunks CHUNK_DOCUMENTS plain-text documents read as the daemon reads an uploaded file;
 * only the chunker is timed. Returns the throughput in CPU time. */
static double
bench_chunker_on (JsonBuilder *b, const char *name, const char *const *syllables)
{
  Corpus *c = corpus_new_from (3, syllables);
  g_autoptr (GPtrArray) documents
      = g_ptr_array_new_with_free_func ((GDestroyNotify) sr_extracted_free);
  SrExtractLimits limits = { 0, 0, 0 };
  gsize bytes = 0;

  for (guint i = 0; i < CHUNK_DOCUMENTS; i++) {
    g_autofree char *text = corpus_document (c, DOCUMENT_BYTES);
    bytes += strlen (text);
    SrExtracted *document
        = sr_read_document (SR_FORMAT_TEXT, (const guint8 *) text, strlen (text), &limits, NULL);
    if (document == NULL)
      g_error ("reading a generated document failed");
    g_ptr_array_add (documents, document);
  }
  corpus_free (c);

  guint chunks = 0;
  gint64 start = g_get_monotonic_time ();
  double cpu_start = thread_cpu_seconds ();
  for (guint i = 0; i < documents->len; i++) {
    g_autoptr (GPtrArray) result = sr_chunk_document (documents->pdata[i], NULL, NULL);
    if (result == NULL)
      g_error ("chunking failed");
    chunks += result->len;
  }
  double cpu = thread_cpu_seconds () - cpu_start;
  double seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;

  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  member_int (b, "documents", CHUNK_DOCUMENTS);
  member_int (b, "text_bytes", (gint64) bytes);
  member_int (b, "chunks", chunks);
  member_double (b, "seconds", seconds);
  member_double (b, "cpu_seconds", cpu);
  member_double (b, "mb_per_s_one_core", bytes / seconds / 1e6);
  member_double (b, "mb_per_s_cpu", bytes / cpu / 1e6);
  json_builder_end_object (b);
  fprintf (stderr, "chunker, %s: %.1f MB/s of CPU time\n", name, bytes / cpu / 1e6);
  return bytes / cpu / 1e6;
}

static gboolean
bench_chunker (JsonBuilder *b)
{
  json_builder_set_member_name (b, "chunker");
  json_builder_begin_object (b);
  member_int (b, "document_bytes", DOCUMENT_BYTES);
  double rate = bench_chunker_on (b, "plain_text", latin_syllables);
  bench_chunker_on (b, "multilingual", multilingual_syllables);
  member_double (b, "target_mb_per_s", TARGET_CHUNK_MB_PER_S);
  json_builder_set_member_name (b, "target_pass");
  json_builder_add_boolean_value (b, rate >= TARGET_CHUNK_MB_PER_S);
  json_builder_end_object (b);
  return rate >= TARGET_CHUNK_MB_PER_S;
}

static gboolean
bench_embedder (JsonBuilder *b, SrEmbedder *embedder)
{
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  Corpus *c = corpus_new (1);
  gsize bytes = 0;

  for (guint i = 0; i < EMBED_TEXTS; i++) {
    char *text = corpus_text (c);
    bytes += strlen (text);
    g_ptr_array_add (texts, text);
  }
  corpus_free (c);
  g_autofree float *vectors = g_new (float, (gsize) EMBED_TEXTS * embedder->dimensions);
  gint64 start = g_get_monotonic_time ();
  double cpu_start = thread_cpu_seconds ();
  if (!sr_embedder_embed (embedder, (const char *const *) texts->pdata, EMBED_TEXTS, vectors, NULL,
                          NULL))
    return FALSE;
  double cpu = thread_cpu_seconds () - cpu_start;
  double seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  double per_s = EMBED_TEXTS / seconds;

  json_builder_set_member_name (b, "builtin_embedder");
  json_builder_begin_object (b);
  member_int (b, "dimensions", embedder->dimensions);
  member_int (b, "texts", EMBED_TEXTS);
  member_int (b, "chars_per_text", CHUNK_CHARS);
  member_double (b, "texts_per_s_one_core", per_s);
  member_double (b, "mb_per_s_one_core", bytes / seconds / 1e6);
  member_double (b, "cpu_seconds", cpu);
  member_double (b, "mb_per_s_cpu", bytes / cpu / 1e6);
  member_double (b, "target_texts_per_s", TARGET_EMBED_PER_S);
  json_builder_set_member_name (b, "target_pass");
  json_builder_add_boolean_value (b, per_s > TARGET_EMBED_PER_S);
  json_builder_end_object (b);
  fprintf (stderr, "embedder: %.0f texts/s, %.1f MB/s of CPU time\n", per_s, bytes / cpu / 1e6);
  return per_s > TARGET_EMBED_PER_S;
}

/* Exact top-k by a full scan: what the index saves us from. */
static void
brute_force (const float *vectors, guint n, guint dims, const float *query, guint64 *labels)
{
  float best[K];
  guint found = 0;
  for (guint i = 0; i < n; i++) {
    const float *v = vectors + (gsize) i * dims;
    float ip = 0.0f;
    for (guint d = 0; d < dims; d++)
      ip += v[d] * query[d];
    if (found == K && ip <= best[K - 1])
      continue;
    guint at = found < K ? found++ : K - 1;
    while (at > 0 && best[at - 1] < ip) {
      best[at] = best[at - 1];
      labels[at] = labels[at - 1];
      at--;
    }
    best[at] = ip;
    labels[at] = i;
  }
}

static double
bench_brute_force (JsonBuilder *b, const float *vectors, guint n, guint dims, const float *queries,
                   guint64 *exact)
{
  g_autofree double *ms = g_new (double, BRUTE_QUERIES);
  for (guint q = 0; q < BRUTE_QUERIES; q++) {
    gint64 start = g_get_monotonic_time ();
    brute_force (vectors, n, dims, queries + (gsize) q * dims, exact + (gsize) q * K);
    ms[q] = (double) (g_get_monotonic_time () - start) / 1000.0;
  }
  json_builder_set_member_name (b, "brute_force_search");
  json_builder_begin_object (b);
  member_int (b, "queries", BRUTE_QUERIES);
  add_percentiles (b, ms, BRUTE_QUERIES);
  json_builder_end_object (b);
  return ms[(guint) (BRUTE_QUERIES * 0.95)];
}

static gboolean
bench_index (JsonBuilder *b, SrEmbedder *embedder, guint n, double target_p95_ms,
             gboolean with_brute_force)
{
  guint dims = embedder->dimensions;
  g_autoptr (GError) error = NULL;
  Corpus *c = corpus_new (2);
  double embed_seconds;

  fprintf (stderr, "index %u: embedding...\n", n);
  g_autofree float *vectors = embed_corpus (embedder, c, n, &embed_seconds);
  g_autofree float *queries = embed_corpus (embedder, c, SEARCH_QUERIES, NULL);
  corpus_free (c);

  guint64 rss_before = rss_bytes ();
  gint64 start = g_get_monotonic_time ();
  g_autoptr (SrVectorIndex) index = sr_vector_index_new (dims, n, &error);
  fprintf (stderr, "index %u: building...\n", n);
  for (guint i = 0; i < n && index != NULL; i++)
    if (!sr_vector_index_add (index, i, vectors + (gsize) i * dims, &error))
      break;
  if (error != NULL) {
    fprintf (stderr, "%s\n", error->message);
    return FALSE;
  }
  double build_s = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  guint64 rss_growth = rss_bytes () - rss_before;

  g_autofree double *ms = g_new (double, SEARCH_QUERIES);
  g_autofree guint64 *found = g_new (guint64, (gsize) SEARCH_QUERIES * K);
  for (guint q = 0; q < SEARCH_QUERIES; q++) {
    start = g_get_monotonic_time ();
    sr_vector_index_search (index, queries + (gsize) q * dims, K, found + (gsize) q * K, NULL,
                            NULL);
    ms[q] = (double) (g_get_monotonic_time () - start) / 1000.0;
  }

  g_autofree char *dir = g_dir_make_tmp ("bench-vectors-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "index.hnsw", NULL);
  start = g_get_monotonic_time ();
  gboolean saved = sr_vector_index_save (index, path, &error);
  double save_s = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  start = g_get_monotonic_time ();
  g_autoptr (SrVectorIndex) loaded = saved ? sr_vector_index_load (path, dims, &error) : NULL;
  double load_s = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  GStatBuf st = { 0 };
  g_stat (path, &st);
  g_unlink (path);
  g_rmdir (dir);
  if (loaded == NULL) {
    fprintf (stderr, "%s\n", error->message);
    return FALSE;
  }

  json_builder_begin_object (b);
  member_int (b, "vectors", n);
  member_int (b, "dimensions", dims);
  member_double (b, "embed_s", embed_seconds);
  member_double (b, "build_s", build_s);
  member_double (b, "build_vectors_per_s", n / build_s);
  member_int (b, "index_memory_bytes", (gint64) sr_vector_index_memory (index));
  member_double (b, "index_memory_mb_per_100k",
                 sr_vector_index_memory (index) / 1e6 * 100000.0 / n);
  member_double (b, "rss_growth_mb_per_100k", rss_growth / 1e6 * 100000.0 / n);
  member_int (b, "file_bytes", (gint64) st.st_size);
  member_double (b, "save_s", save_s);
  member_double (b, "load_s", load_s);
  json_builder_set_member_name (b, "hnsw_search");
  json_builder_begin_object (b);
  member_int (b, "queries", SEARCH_QUERIES);
  member_int (b, "k", K);
  add_percentiles (b, ms, SEARCH_QUERIES); /* sorts @ms */
  double p95 = ms[(guint) (SEARCH_QUERIES * 0.95)];
  member_double (b, "target_p95_ms", target_p95_ms);
  json_builder_set_member_name (b, "target_pass");
  json_builder_add_boolean_value (b, p95 < target_p95_ms);
  json_builder_end_object (b);

  if (with_brute_force) {
    g_autofree guint64 *exact = g_new (guint64, (gsize) BRUTE_QUERIES * K);
    fprintf (stderr, "index %u: brute force...\n", n);
    bench_brute_force (b, vectors, n, dims, queries, exact);
    guint hits = 0;
    for (guint q = 0; q < BRUTE_QUERIES; q++)
      for (guint i = 0; i < K; i++)
        for (guint j = 0; j < K; j++)
          hits += found[q * K + i] == exact[q * K + j];
    member_double (b, "recall_at_10", (double) hits / (BRUTE_QUERIES * K));
  }
  json_builder_end_object (b);
  fprintf (stderr, "index %u: build %.1f s, search p95 %.3f ms\n", n, build_s, p95);
  return p95 < target_p95_ms;
}

int
main (int argc, char **argv)
{
  gboolean million = FALSE;
  gboolean no_index = FALSE;
  GOptionEntry entries[] = {
    { "million", 0, 0, G_OPTION_ARG_NONE, &million,
      "Also build and search 1,000,000 vectors (minutes, several GB of memory)", NULL },
    { "no-index", 0, 0, G_OPTION_ARG_NONE, &no_index,
      "Measure only the chunker and the embedder (seconds instead of minutes)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;

  g_option_context_set_summary (context, "Measures the chunker, the builtin embedder and the HNSW "
                                         "index; prints one JSON document.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    fprintf (stderr, "%s\n", error->message);
    return 2;
  }

  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (0);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "benchmark");
  json_builder_add_string_value (b, "vectors");
  json_builder_set_member_name (b, "cpus");
  json_builder_add_int_value (b, g_get_num_processors ());

  gboolean pass = bench_chunker (b);
  pass = bench_embedder (b, embedder) && pass;
  json_builder_set_member_name (b, "index");
  json_builder_begin_array (b);
  if (!no_index)
    pass = bench_index (b, embedder, 100000, TARGET_SEARCH_P95_100K_MS, TRUE) && pass;
  if (million)
    pass = bench_index (b, embedder, 1000000, TARGET_SEARCH_P95_1M_MS, FALSE) && pass;
  json_builder_end_array (b);
  json_builder_set_member_name (b, "all_targets_pass");
  json_builder_add_boolean_value (b, pass);
  json_builder_end_object (b);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *json = json_to_string (root, TRUE);
  printf ("%s\n", json);
  return 0;
}
