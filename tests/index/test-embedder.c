/* Unit tests for embed/: the builtin embedder's vectors and the interface's checks. */
#include "embed/embedder.h"

#include <math.h>
#include <string.h>

#include "common/errors.h"

#define DIMS SR_EMBEDDER_BUILTIN_DEFAULT_DIMENSIONS

static float *
embed_one (SrEmbedder *embedder, const char *text)
{
  g_autoptr (GError) error = NULL;
  float *vector = g_new (float, embedder->dimensions);
  const char *texts[] = { text };

  g_assert_true (sr_embedder_embed (embedder, texts, 1, vector, &error));
  g_assert_no_error (error);
  return vector;
}

static double
dot (const float *a, const float *b, guint n)
{
  double sum = 0.0;
  for (guint i = 0; i < n; i++)
    sum += (double) a[i] * b[i];
  return sum;
}

static void
test_defaults (void)
{
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (0);

  g_assert_cmpuint (embedder->dimensions, ==, 384);
  g_assert_cmpstr (embedder->klass->name, ==, "builtin");
  g_assert_nonnull (embedder->model);
  g_assert_cmpstr (embedder->model, !=, "");
}

static void
test_deterministic (void)
{
  const char *text = "Hybrid retrieval fuses BM25 with vector search; rankings are fused.";
  g_autoptr (SrEmbedder) one = sr_embedder_builtin_new (DIMS);
  g_autoptr (SrEmbedder) two = sr_embedder_builtin_new (DIMS);
  g_autofree float *a = embed_one (one, text);
  g_autofree float *b = embed_one (one, text);
  g_autofree float *c = embed_one (two, text);

  g_assert_cmpmem (a, DIMS * sizeof (float), b, DIMS * sizeof (float));
  g_assert_cmpmem (a, DIMS * sizeof (float), c, DIMS * sizeof (float));

  /* Pinned values: if this fails, vectors changed and BUILTIN_MODEL must be bumped so
   * that stored vectors are re-embedded. */
  double fingerprint = 0.0;
  guint nonzero = 0;
  for (guint i = 0; i < DIMS; i++) {
    fingerprint += a[i] * (double) (i + 1);
    nonzero += a[i] != 0.0f;
  }
  g_test_message ("fingerprint %.6f, %u non-zero components", fingerprint, nonzero);
  g_assert_cmpfloat_with_epsilon (fingerprint, 244.4358, 1e-3);
  g_assert_cmpuint (nonzero, ==, 111);
}

static void
test_unit_length (void)
{
  static const char *const texts[] = {
    "a",
    "Hello, world!",
    "the the the the the the the the",
    "Ein längerer deutscher Satz über Straßenbahnen und Größenordnungen.",
    "東京は日本の首都です。",
    "x1 y2 z3 42 3.14159 2024-01-01",
  };
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (DIMS);

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++) {
    g_autofree float *v = embed_one (embedder, texts[i]);
    g_test_message ("text %u", i);
    g_assert_cmpfloat_with_epsilon (dot (v, v, DIMS), 1.0, 1e-5);
  }
}

static void
test_similar_closer (void)
{
  static const struct {
    const char *text, *similar, *unrelated;
  } cases[] = {
    { "The cat sat on the mat in the kitchen.", "A cat was sitting on a mat in our kitchen.",
      "Quarterly revenue grew by four percent in Europe." },
    { "How do I reset my password?", "Resetting a forgotten password: step by step.",
      "The river flooded the valley after heavy rain." },
    { "indexing documents for search", "the document index searches quickly",
      "bananas are yellow fruit" },
  };
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (DIMS);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree float *a = embed_one (embedder, cases[i].text);
    g_autofree float *b = embed_one (embedder, cases[i].similar);
    g_autofree float *c = embed_one (embedder, cases[i].unrelated);
    double near = dot (a, b, DIMS), far = dot (a, c, DIMS);
    g_test_message ("case %u: similar %.3f, unrelated %.3f", i, near, far);
    g_assert_cmpfloat (near, >, far + 0.2);
  }
}

static void
test_folding (void)
{
  static const char *const same[][3] = {
    { "Café crème", "cafe creme", "CAFÉ CRÈME" },
    { "naïve résumé", "naive resume", "NAÏVE RÉSUMÉ" },
    { "Straße", "STRASSE", "strasse" },
    { "ﬁle", "file", "FILE" }, /* a ligature decomposes */
  };
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (DIMS);

  for (guint i = 0; i < G_N_ELEMENTS (same); i++) {
    g_autofree float *a = embed_one (embedder, same[i][0]);
    g_autofree float *b = embed_one (embedder, same[i][1]);
    g_autofree float *c = embed_one (embedder, same[i][2]);
    g_test_message ("case %u", i);
    g_assert_cmpmem (a, DIMS * sizeof (float), b, DIMS * sizeof (float));
    g_assert_cmpmem (a, DIMS * sizeof (float), c, DIMS * sizeof (float));
  }
  /* Folding must not merge different words. */
  g_autofree float *x = embed_one (embedder, "cafe");
  g_autofree float *y = embed_one (embedder, "cave");
  g_assert_cmpfloat (dot (x, y, DIMS), <, 0.9);
}

static void
test_empty (void)
{
  static const char *const texts[] = { "", "   ", ",.;:!? -- ...", "\n\t\n" };
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (DIMS);

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++) {
    g_autofree float *v = embed_one (embedder, texts[i]);
    for (guint d = 0; d < DIMS; d++)
      g_assert_true (v[d] == 0.0f);
  }
  /* Nothing asked, nothing written. */
  float untouched = 42.0f;
  g_assert_true (sr_embedder_embed (embedder, NULL, 0, &untouched, NULL));
  g_assert_cmpfloat (untouched, ==, 42.0f);
}

static void
test_batch_matches_single (void)
{
  const char *texts[] = { "first text", "", "third, with more words in it" };
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (64);
  g_autoptr (GError) error = NULL;
  float batch[3 * 64];

  g_assert_true (sr_embedder_embed (embedder, texts, 3, batch, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 3; i++) {
    g_autofree float *single = embed_one (embedder, texts[i]);
    g_assert_cmpmem (batch + i * 64, 64 * sizeof (float), single, 64 * sizeof (float));
  }
}

static void
test_rejects_bad_text (void)
{
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (DIMS);
  float vectors[2 * DIMS];
  const char *invalid[] = { "fine", "bad \xff\xfe bytes" };
  const char *missing[] = { "fine", NULL };
  g_autoptr (GError) error = NULL;

  g_assert_false (sr_embedder_embed (embedder, invalid, 2, vectors, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_nonnull (strstr (error->message, "2 of 2"));
  g_clear_error (&error);
  g_assert_false (sr_embedder_embed (embedder, missing, 2, vectors, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
}

#define N_THREAD_TEXTS 64

typedef struct {
  SrEmbedder *embedder;
  char **texts;
  float *out;
} ThreadJob;

static gpointer
embed_thread (gpointer data)
{
  ThreadJob *job = data;
  for (guint round = 0; round < 5; round++) {
    g_autoptr (GError) error = NULL;
    g_assert_true (sr_embedder_embed (job->embedder, (const char *const *) job->texts,
                                      N_THREAD_TEXTS, job->out, &error));
    g_assert_no_error (error);
  }
  return NULL;
}

static void
test_threads (void)
{
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (DIMS);
  g_auto (GStrv) texts = g_new0 (char *, N_THREAD_TEXTS + 1);
  gsize size = (gsize) N_THREAD_TEXTS * DIMS;
  g_autofree float *expected = g_new (float, size);
  ThreadJob jobs[4];
  GThread *threads[4];

  for (guint i = 0; i < N_THREAD_TEXTS; i++)
    texts[i]
        = g_strdup_printf ("Text number %u talks about topic %u and café %u", i, i % 7, i * 31);
  g_assert_true (
      sr_embedder_embed (embedder, (const char *const *) texts, N_THREAD_TEXTS, expected, NULL));
  for (guint t = 0; t < 4; t++) {
    jobs[t] = (ThreadJob){ embedder, texts, g_new (float, size) };
    threads[t] = g_thread_new ("embed", embed_thread, &jobs[t]);
  }
  for (guint t = 0; t < 4; t++) {
    g_thread_join (threads[t]);
    g_assert_cmpmem (jobs[t].out, size * sizeof (float), expected, size * sizeof (float));
    g_free (jobs[t].out);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/embedder/defaults", test_defaults);
  g_test_add_func ("/embedder/deterministic", test_deterministic);
  g_test_add_func ("/embedder/unit-length", test_unit_length);
  g_test_add_func ("/embedder/similar-closer", test_similar_closer);
  g_test_add_func ("/embedder/folding", test_folding);
  g_test_add_func ("/embedder/empty", test_empty);
  g_test_add_func ("/embedder/batch-matches-single", test_batch_matches_single);
  g_test_add_func ("/embedder/rejects-bad-text", test_rejects_bad_text);
  g_test_add_func ("/embedder/threads", test_threads);
  return g_test_run ();
}
