/* Vector benchmark: builtin embedder throughput and HNSW build, search and memory, as JSON. */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed/embedder.h"
#include "index/vector-index.h"

#define CHUNK_CHARS    1000 /* what the chunker aims at */
#define EMBED_TEXTS    5000
#define SEARCH_QUERIES 1000
#define BRUTE_QUERIES  200
#define K              10
#define VOCABULARY     20000

/* The targets for the parts measured here. */
#define TARGET_EMBED_PER_S        5000.0
#define TARGET_SEARCH_P95_100K_MS 10.0
#define TARGET_SEARCH_P95_1M_MS   25.0

typedef struct {
  GRand *rand;
  char **words;
} Corpus;

/* Pseudo-words drawn with a Zipf-like skew and a topic per text, so that vectors have the
 * structure of real text rather than of noise. */
static Corpus *
corpus_new (guint32 seed)
{
  static const char *const syllables[]
      = { "ka", "lo", "mi",  "ne", "ru",  "sa",  "ti",  "vo", "de",  "fu",  "ga", "hi",
          "jo", "pe", "qui", "ze", "bra", "cto", "ist", "um", "ent", "ion", "ar", "os" };
  Corpus *c = g_new0 (Corpus, 1);
  c->rand = g_rand_new_with_seed (seed);
  c->words = g_new0 (char *, VOCABULARY + 1);
  for (guint w = 0; w < VOCABULARY; w++) {
    GString *word = g_string_new (NULL);
    for (guint x = w + 1, n = 0; x > 0 || n < 2; x /= G_N_ELEMENTS (syllables), n++)
      g_string_append (word, syllables[x % G_N_ELEMENTS (syllables)]);
    c->words[w] = g_string_free (word, FALSE);
  }
  return c;
}

static void
corpus_free (Corpus *c)
{
  g_rand_free (c->rand);
  g_strfreev (c->words);
  g_free (c);
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
    if (!sr_embedder_embed (embedder, texts, 1, vectors + (gsize) i * embedder->dimensions, NULL))
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
  if (!sr_embedder_embed (embedder, (const char *const *) texts->pdata, EMBED_TEXTS, vectors, NULL))
    return FALSE;
  double seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  double per_s = EMBED_TEXTS / seconds;

  json_builder_set_member_name (b, "builtin_embedder");
  json_builder_begin_object (b);
  member_int (b, "dimensions", embedder->dimensions);
  member_int (b, "texts", EMBED_TEXTS);
  member_int (b, "chars_per_text", CHUNK_CHARS);
  member_double (b, "texts_per_s_one_core", per_s);
  member_double (b, "mb_per_s_one_core", bytes / seconds / 1e6);
  member_double (b, "target_texts_per_s", TARGET_EMBED_PER_S);
  json_builder_set_member_name (b, "target_pass");
  json_builder_add_boolean_value (b, per_s > TARGET_EMBED_PER_S);
  json_builder_end_object (b);
  fprintf (stderr, "embedder: %.0f texts/s\n", per_s);
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
  GOptionEntry entries[] = {
    { "million", 0, 0, G_OPTION_ARG_NONE, &million,
      "Also build and search 1,000,000 vectors (minutes, several GB of memory)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;

  g_option_context_set_summary (context, "Measures the builtin embedder and the HNSW index; "
                                         "prints one JSON document.");
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

  gboolean pass = bench_embedder (b, embedder);
  json_builder_set_member_name (b, "index");
  json_builder_begin_array (b);
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
