/* Unit tests for index/: HNSW add, search, remove, growth, recall, files and damage. */
#include "index/vector-index.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "common/errors.h"
#include "embed/embedder.h"
#include "index/hnsw-shim.h"

#define DIMS 32

typedef struct {
  char *dir;
  char *path;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("sr-index-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "session.hnsw", NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    g_autofree char *file = g_build_filename (f->dir, name, NULL);
    g_unlink (file);
  }
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

static void
normalise (float *v, guint dims)
{
  double norm = 0.0;
  for (guint i = 0; i < dims; i++)
    norm += (double) v[i] * v[i];
  for (guint i = 0; i < dims; i++)
    v[i] = (float) (v[i] / sqrt (norm));
}

static double
gaussian (GRand *rand)
{
  double u = g_rand_double_range (rand, 1e-12, 1.0), v = g_rand_double (rand);
  return sqrt (-2.0 * log (u)) * cos (2.0 * G_PI * v);
}

/* Unit vectors near one of @n_clusters random centres, like embeddings of texts on a
 * handful of topics; with one cluster per vector they are plain random directions. */
static float *
make_vectors (guint n, guint dims, guint n_clusters, double spread, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  g_autofree float *centres = g_new (float, (gsize) n_clusters *dims);
  float *vectors = g_new (float, (gsize) n *dims);

  for (gsize i = 0; i < (gsize) n_clusters * dims; i++)
    centres[i] = (float) gaussian (rand);
  for (guint c = 0; c < n_clusters; c++)
    normalise (centres + (gsize) c * dims, dims);
  for (guint i = 0; i < n; i++) {
    const float *centre = centres + (gsize) (i % n_clusters) * dims;
    float *v = vectors + (gsize) i * dims;
    for (guint d = 0; d < dims; d++)
      v[d] = centre[d] + (float) (spread * gaussian (rand) / sqrt (dims));
    normalise (v, dims);
  }
  return vectors;
}

static SrVectorIndex *
build (const float *vectors, guint n, guint dims, guint64 capacity)
{
  g_autoptr (GError) error = NULL;
  SrVectorIndex *index = sr_vector_index_new (dims, capacity, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < n; i++) {
    g_assert_true (sr_vector_index_add (index, i, vectors + (gsize) i * dims, &error));
    g_assert_no_error (error);
  }
  return index;
}

static guint
search (SrVectorIndex *index, const float *query, guint k, guint64 *labels, float *distances)
{
  g_autoptr (GError) error = NULL;
  guint n = sr_vector_index_search (index, query, k, labels, distances, &error);
  g_assert_no_error (error);
  return n;
}

static void
test_add_search (void)
{
  g_autofree float *vectors = make_vectors (500, DIMS, 500, 0.0, 1);
  g_autoptr (SrVectorIndex) index = build (vectors, 500, DIMS, 0);
  guint64 labels[5];
  float distances[5];

  g_assert_cmpuint (sr_vector_index_count (index), ==, 500);
  g_assert_cmpuint (sr_vector_index_dimensions (index), ==, DIMS);
  g_assert_cmpuint (sr_vector_index_memory (index), >, 500 * DIMS * sizeof (float));
  for (guint i = 0; i < 500; i++) {
    g_assert_cmpuint (search (index, vectors + i * DIMS, 5, labels, distances), ==, 5);
    g_assert_cmpuint (labels[0], ==, i);
    g_assert_cmpfloat_with_epsilon (distances[0], 0.0, 1e-5);
    for (guint j = 1; j < 5; j++)
      g_assert_cmpfloat (distances[j - 1], <=, distances[j]);
  }
  /* Distances are cosine distances: the opposite direction is at 2. */
  g_autoptr (SrVectorIndex) pair = sr_vector_index_new (DIMS, 0, NULL);
  float opposite[DIMS];
  for (guint d = 0; d < DIMS; d++)
    opposite[d] = -vectors[d];
  g_assert_true (sr_vector_index_add (pair, 1, vectors, NULL));
  g_assert_true (sr_vector_index_add (pair, 2, opposite, NULL));
  g_assert_cmpuint (search (pair, vectors, 5, labels, distances), ==, 2);
  g_assert_cmpuint (labels[0], ==, 1);
  g_assert_cmpuint (labels[1], ==, 2);
  g_assert_cmpfloat_with_epsilon (distances[1], 2.0, 1e-5);
}

static void
test_remove (void)
{
  g_autofree float *vectors = make_vectors (300, DIMS, 300, 0.0, 2);
  g_autoptr (SrVectorIndex) index = build (vectors, 300, DIMS, 0);
  g_autoptr (GError) error = NULL;
  guint64 labels[10];

  for (guint i = 0; i < 300; i += 3)
    g_assert_true (sr_vector_index_remove (index, i, &error));
  g_assert_cmpuint (sr_vector_index_count (index), ==, 200);
  /* Repeated and unknown removals are no-ops. */
  g_assert_true (sr_vector_index_remove (index, 0, &error));
  g_assert_true (sr_vector_index_remove (index, 123456, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sr_vector_index_count (index), ==, 200);

  for (guint i = 0; i < 300; i++) {
    guint n = search (index, vectors + i * DIMS, 10, labels, NULL);
    g_assert_cmpuint (n, ==, 10);
    for (guint j = 0; j < n; j++)
      g_assert_cmpuint (labels[j] % 3, !=, 0);
    if (i % 3 != 0)
      g_assert_cmpuint (labels[0], ==, i);
  }
}

static void
test_replace_and_reuse (void)
{
  g_autofree float *vectors = make_vectors (400, DIMS, 400, 0.0, 3);
  g_autoptr (SrVectorIndex) index = build (vectors, 200, DIMS, 0);
  g_autoptr (GError) error = NULL;
  guint64 labels[3];

  /* Same label, new vector: replaced in place. */
  g_assert_true (sr_vector_index_add (index, 7, vectors + 300 * DIMS, &error));
  g_assert_cmpuint (sr_vector_index_count (index), ==, 200);
  g_assert_cmpuint (sr_vector_index_slots (index), ==, 200);
  search (index, vectors + 300 * DIMS, 3, labels, NULL);
  g_assert_cmpuint (labels[0], ==, 7);
  search (index, vectors + 7 * DIMS, 3, labels, NULL);
  g_assert_cmpuint (labels[0], !=, 7);

  /* Removed slots are taken by new labels instead of growing. */
  for (guint i = 0; i < 50; i++)
    g_assert_true (sr_vector_index_remove (index, i, &error));
  for (guint i = 0; i < 50; i++)
    g_assert_true (sr_vector_index_add (index, 1000 + i, vectors + (250 + i) * DIMS, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sr_vector_index_slots (index), ==, 200);
  g_assert_cmpuint (sr_vector_index_count (index), ==, 200);
  for (guint i = 0; i < 50; i++) {
    search (index, vectors + (250 + i) * DIMS, 3, labels, NULL);
    g_assert_cmpuint (labels[0], ==, 1000 + i);
  }

  /* A removed label can come back. */
  g_assert_true (sr_vector_index_remove (index, 150, &error));
  g_assert_true (sr_vector_index_add (index, 150, vectors + 150 * DIMS, &error));
  search (index, vectors + 150 * DIMS, 3, labels, NULL);
  g_assert_cmpuint (labels[0], ==, 150);
  g_assert_cmpuint (sr_vector_index_count (index), ==, 200);
}

static void
test_grow (void)
{
  g_autofree float *vectors = make_vectors (5000, DIMS, 5000, 0.0, 4);
  g_autoptr (SrVectorIndex) index = build (vectors, 5000, DIMS, 10);
  guint64 labels[1];

  g_assert_cmpuint (sr_vector_index_count (index), ==, 5000);
  for (guint i = 0; i < 5000; i += 7) {
    search (index, vectors + i * DIMS, 1, labels, NULL);
    g_assert_cmpuint (labels[0], ==, i);
  }
}

static void
test_empty_index (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrVectorIndex) index = sr_vector_index_new (DIMS, 0, &error);
  g_autofree float *vectors = make_vectors (2, DIMS, 2, 0.0, 5);
  guint64 labels[10];
  float distances[10];

  g_assert_no_error (error);
  g_assert_cmpuint (sr_vector_index_count (index), ==, 0);
  g_assert_cmpuint (search (index, vectors, 10, labels, distances), ==, 0);
  g_assert_cmpuint (search (index, vectors, 0, NULL, NULL), ==, 0);

  /* Everything removed: still no results and no error. */
  g_assert_true (sr_vector_index_add (index, 1, vectors, &error));
  g_assert_true (sr_vector_index_add (index, 2, vectors + DIMS, &error));
  g_assert_true (sr_vector_index_remove (index, 1, &error));
  g_assert_true (sr_vector_index_remove (index, 2, &error));
  g_assert_cmpuint (search (index, vectors, 10, labels, distances), ==, 0);

  g_autoptr (SrVectorIndex) fresh = sr_vector_index_new (DIMS, 0, &error);
  g_assert_true (sr_vector_index_save (fresh, f->path, &error));
  g_assert_no_error (error);
  g_autoptr (SrVectorIndex) loaded = sr_vector_index_load (f->path, DIMS, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sr_vector_index_count (loaded), ==, 0);
  g_assert_cmpuint (search (loaded, vectors, 10, labels, distances), ==, 0);
  g_assert_true (sr_vector_index_add (loaded, 9, vectors, &error));
  g_assert_cmpuint (search (loaded, vectors, 10, labels, distances), ==, 1);
}

static void
test_rejects_bad_vectors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrVectorIndex) index = sr_vector_index_new (DIMS, 0, &error);
  float v[DIMS] = { 0 };
  guint64 labels[1];

  v[3] = NAN;
  g_assert_false (sr_vector_index_add (index, 1, v, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_clear_error (&error);
  v[3] = INFINITY;
  g_assert_cmpuint (sr_vector_index_search (index, v, 1, labels, NULL, &error), ==, 0);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_clear_error (&error);
  g_assert_null (sr_vector_index_new (0, 10, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
}

/* Exact k nearest by inner product, for the recall measurement. */
static void
brute_force (const float *vectors, guint n, guint dims, const float *query, guint k,
             guint64 *labels)
{
  g_autofree float *best = g_new (float, k);
  guint found = 0;
  for (guint i = 0; i < n; i++) {
    float ip = 0.0f;
    for (guint d = 0; d < dims; d++)
      ip += vectors[(gsize) i * dims + d] * query[d];
    if (found == k && ip <= best[k - 1])
      continue;
    guint at = found < k ? found++ : k - 1;
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
recall_of (const float *vectors, const float *queries, guint n, guint n_queries, guint dims)
{
  const guint k = 10;
  g_autoptr (SrVectorIndex) index = build (vectors, n, dims, n);
  guint hits = 0;

  for (guint q = 0; q < n_queries; q++) {
    guint64 exact[10], approx[10];
    brute_force (vectors, n, dims, queries + (gsize) q * dims, k, exact);
    g_assert_cmpuint (search (index, queries + (gsize) q * dims, k, approx, NULL), ==, k);
    for (guint i = 0; i < k; i++)
      for (guint j = 0; j < k; j++)
        hits += approx[i] == exact[j];
  }
  return (double) hits / (n_queries * k);
}

/* Sanitizer builds run ten times slower; they check memory, not recall at scale. */
#ifndef RECALL_N
#define RECALL_N 20000
#endif
#define RECALL_QUERIES 200

/* Pseudo-words from syllables, drawn with a skewed (Zipf-like) frequency and a topic each
 * text leans to: the vectors are what the builtin embedder makes of text-like input. */
static char *
make_text (GRand *rand, char **vocabulary, guint n_words)
{
  g_autoptr (GString) text = g_string_new (NULL);
  guint topic = (guint) g_rand_int_range (rand, 0, 50);
  guint length = (guint) g_rand_int_range (rand, 20, 120);

  for (guint i = 0; i < length; i++) {
    double u = g_rand_double_range (rand, 1e-9, 1.0);
    guint rank = (guint) (pow (n_words, u)) - 1;
    if (g_rand_boolean (rand))
      rank = (topic * 97 + rank) % n_words;
    g_string_append_printf (text, "%s ", vocabulary[rank]);
  }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static float *
embed_texts (SrEmbedder *embedder, GRand *rand, char **vocabulary, guint n_words, guint n)
{
  float *vectors = g_new (float, (gsize) n * embedder->dimensions);
  for (guint i = 0; i < n; i++) {
    g_autofree char *text = make_text (rand, vocabulary, n_words);
    const char *texts[] = { text };
    g_assert_true (sr_embedder_embed (embedder, texts, 1,
                                      vectors + (gsize) i * embedder->dimensions, NULL, NULL));
  }
  return vectors;
}

static void
test_recall (void)
{
  static const char *const syllables[] = { "ka", "lo", "mi", "ne", "ru", "sa", "ti",  "vo",
                                           "de", "fu", "ga", "hi", "jo", "pe", "qui", "ze" };
  const guint n_words = 5000;
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (0);
  g_autoptr (GRand) rand = g_rand_new_with_seed (12);
  g_auto (GStrv) vocabulary = g_new0 (char *, n_words + 1);

  for (guint w = 0; w < n_words; w++) {
    GString *word = g_string_new (NULL);
    for (guint x = w + 1, n = 0; x > 0 || n < 2; x /= G_N_ELEMENTS (syllables), n++)
      g_string_append (word, syllables[x % G_N_ELEMENTS (syllables)]);
    vocabulary[w] = g_string_free (word, FALSE);
  }
  g_autofree float *vectors = embed_texts (embedder, rand, vocabulary, n_words, RECALL_N);
  g_autofree float *queries = embed_texts (embedder, rand, vocabulary, n_words, RECALL_QUERIES);
  double r = recall_of (vectors, queries, RECALL_N, RECALL_QUERIES, embedder->dimensions);
  g_test_message ("recall@10, 20,000 builtin embeddings of generated texts: %.3f", r);
  g_assert_cmpfloat (r, >=, 0.95);
}

static void
test_recall_random (void)
{
  /* Uniformly random directions are the hardest case for any graph index: no structure to
   * follow, and the ten nearest are barely nearer than the rest. Text embeddings (above)
   * are what matters; this bar, below what is measured, only catches a broken graph. */
  g_autofree float *uniform = make_vectors (RECALL_N, 384, RECALL_N, 0.0, 8);
  g_autofree float *uniform_q = make_vectors (RECALL_QUERIES, 384, RECALL_QUERIES, 0.0, 9);
  double u = recall_of (uniform, uniform_q, RECALL_N, RECALL_QUERIES, 384);
  g_test_message ("recall@10, 20,000 uniform random vectors of 384 dimensions: %.3f", u);
  g_assert_cmpfloat (u, >=, 0.40);
}

static void
assert_same_results (SrVectorIndex *a, SrVectorIndex *b, const float *queries, guint n)
{
  for (guint q = 0; q < n; q++) {
    guint64 la[10], lb[10];
    float da[10], db[10];
    guint na = search (a, queries + q * DIMS, 10, la, da);
    g_assert_cmpuint (search (b, queries + q * DIMS, 10, lb, db), ==, na);
    g_assert_cmpmem (la, na * sizeof *la, lb, na * sizeof *lb);
    g_assert_cmpmem (da, na * sizeof *da, db, na * sizeof *db);
  }
}

static void
test_save_load (Fixture *f, gconstpointer data)
{
  g_autofree float *vectors = make_vectors (3000, DIMS, 30, 1.0, 7);
  g_autofree float *queries = make_vectors (100, DIMS, 30, 1.0, 8);
  g_autoptr (SrVectorIndex) index = build (vectors, 2000, DIMS, 0);
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < 2000; i += 5)
    g_assert_true (sr_vector_index_remove (index, i, &error));
  g_assert_true (sr_vector_index_save (index, f->path, &error));
  g_assert_no_error (error);
  /* Saving again replaces the file and leaves no temporary behind. */
  g_assert_true (sr_vector_index_save (index, f->path, &error));
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  g_assert_cmpstr (g_dir_read_name (dir), ==, "session.hnsw");
  g_assert_null (g_dir_read_name (dir));

  g_autoptr (SrVectorIndex) loaded = sr_vector_index_load (f->path, DIMS, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sr_vector_index_count (loaded), ==, 1600);
  g_assert_cmpuint (sr_vector_index_slots (loaded), ==, 2000);
  assert_same_results (index, loaded, queries, 100);

  /* Both go on the same way: removed slots are reused after loading too. */
  for (guint i = 2000; i < 3000; i++) {
    g_assert_true (sr_vector_index_add (index, i, vectors + i * DIMS, &error));
    g_assert_true (sr_vector_index_add (loaded, i, vectors + i * DIMS, &error));
  }
  g_assert_cmpuint (sr_vector_index_slots (loaded), ==, 2600);
  assert_same_results (index, loaded, queries, 100);
}

static void
expect_load_error (const char *path, guint dims, gint code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrVectorIndex) index = sr_vector_index_load (path, dims, &error);
  g_assert_null (index);
  g_assert_error (error, SMARTRAG_ERROR, code);
  g_test_message ("%s", error->message);
}

static void
test_bad_files (Fixture *f, gconstpointer data)
{
  g_autofree float *vectors = make_vectors (300, DIMS, 10, 1.0, 9);
  g_autoptr (SrVectorIndex) index = build (vectors, 300, DIMS, 0);
  g_autoptr (GError) error = NULL;
  g_autofree char *good = NULL;
  gsize size;

  expect_load_error (f->path, DIMS, SMARTRAG_ERROR_NOT_FOUND);
  g_assert_true (sr_vector_index_save (index, f->path, &error));
  g_assert_true (g_file_get_contents (f->path, &good, &size, &error));
  expect_load_error (f->path, DIMS + 1, SMARTRAG_ERROR_FAILED);

  g_assert_true (g_file_set_contents (f->path, "", 0, &error));
  expect_load_error (f->path, DIMS, SMARTRAG_ERROR_FAILED);
  g_assert_true (g_file_set_contents (f->path, "# just some text\nhello\n", -1, &error));
  expect_load_error (f->path, DIMS, SMARTRAG_ERROR_FAILED);

  /* Truncated anywhere, with a byte too many. */
  gsize cuts[] = { 1, 8, 63, 64, 65, 100, size / 2, size - 1 };
  for (guint i = 0; i < G_N_ELEMENTS (cuts); i++) {
    g_assert_true (g_file_set_contents (f->path, good, (gssize) cuts[i], &error));
    expect_load_error (f->path, DIMS, SMARTRAG_ERROR_FAILED);
  }
  g_autofree char *longer = g_malloc (size + 1);
  memcpy (longer, good, size);
  longer[size] = 0;
  g_assert_true (g_file_set_contents (f->path, longer, (gssize) size + 1, &error));
  expect_load_error (f->path, DIMS, SMARTRAG_ERROR_FAILED);

  /* One flipped bit anywhere: header or payload. */
  g_autofree char *flipped = g_memdup2 (good, size);
  for (gsize at = 0; at < size; at += (at < 128 ? 1 : 997)) {
    flipped[at] ^= (char) (1 << (at % 8));
    g_assert_true (g_file_set_contents (f->path, flipped, (gssize) size, &error));
    g_autoptr (SrVectorIndex) loaded = sr_vector_index_load (f->path, DIMS, &error);
    g_assert_null (loaded);
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
    g_clear_error (&error);
    flipped[at] = good[at];
  }
  g_assert_no_error (error);

  /* The original still loads. */
  g_assert_true (g_file_set_contents (f->path, good, (gssize) size, &error));
  g_autoptr (SrVectorIndex) loaded = sr_vector_index_load (f->path, DIMS, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sr_vector_index_count (loaded), ==, 300);
}

static gboolean
collect (const void *data, gsize length, gpointer user_data, GError **error)
{
  g_byte_array_append (user_data, data, (guint) length);
  return TRUE;
}

/* Behind the checksum: a payload with damage the checksum would have caught must still
 * never crash the parser, nor give an index whose search reads out of bounds. */
static void
test_damaged_payload (void)
{
  g_autofree float *vectors = make_vectors (400, DIMS, 10, 1.0, 10);
  g_autoptr (SrVectorIndex) index = build (vectors, 400, DIMS, 0);
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  guint64 live, slots;
  guint rejected = 0, accepted = 0;

  g_assert_true (sr_vector_index_write_payload (index, collect, bytes, &live, &slots, &error));
  g_assert_cmpuint (live, ==, 400);
  g_assert_cmpuint (slots, ==, 400);
  g_autoptr (SrVectorIndex) same
      = sr_vector_index_read_payload (DIMS, bytes->data, bytes->len, &error);
  g_assert_no_error (error);
  assert_same_results (index, same, vectors, 50);

  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  for (guint round = 0; round < 3000; round++) {
    g_autofree guint8 *copy = g_memdup2 (bytes->data, bytes->len);
    /* Mostly small integers in sizes, counts and links: set a byte to a random value. */
    guint at = round < 200 ? round : (guint) g_rand_int_range (rand, 0, (gint32) bytes->len);
    copy[at] = (guint8) g_rand_int_range (rand, 0, 256);
    g_autoptr (SrVectorIndex) damaged
        = sr_vector_index_read_payload (DIMS, copy, bytes->len, &error);
    if (damaged == NULL) {
      g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
      g_clear_error (&error);
      rejected++;
      continue;
    }
    accepted++;
    guint64 labels[10];
    for (guint q = 0; q < 5; q++)
      sr_vector_index_search (damaged, vectors + q * DIMS, 10, labels, NULL, NULL);
    g_assert_true (sr_vector_index_add (damaged, 100000 + round, vectors, NULL));
  }
  g_test_message ("%u damaged payloads rejected, %u accepted and searched safely", rejected,
                  accepted);
  g_assert_cmpuint (rejected, >, 0);
  /* Cut short anywhere. */
  for (guint cut = 0; cut < bytes->len; cut += 211) {
    g_assert_null (sr_vector_index_read_payload (DIMS, bytes->data, cut, &error));
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
    g_clear_error (&error);
  }
}

static void
test_save_errors (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrVectorIndex) index = sr_vector_index_new (DIMS, 0, &error);
  g_autofree char *missing = g_build_filename (f->dir, "no-such-dir", "x.hnsw", NULL);

  g_assert_false (sr_vector_index_save (index, missing, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "no-such-dir"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vector-index/add-search", test_add_search);
  g_test_add_func ("/vector-index/remove", test_remove);
  g_test_add_func ("/vector-index/replace-and-reuse", test_replace_and_reuse);
  g_test_add_func ("/vector-index/grow", test_grow);
  g_test_add ("/vector-index/empty", Fixture, NULL, fixture_set_up, test_empty_index,
              fixture_tear_down);
  g_test_add_func ("/vector-index/rejects-bad-vectors", test_rejects_bad_vectors);
  g_test_add_func ("/vector-index/recall", test_recall);
  g_test_add_func ("/vector-index/recall-random", test_recall_random);
  g_test_add ("/vector-index/save-load", Fixture, NULL, fixture_set_up, test_save_load,
              fixture_tear_down);
  g_test_add ("/vector-index/bad-files", Fixture, NULL, fixture_set_up, test_bad_files,
              fixture_tear_down);
  g_test_add_func ("/vector-index/damaged-payload", test_damaged_payload);
  g_test_add ("/vector-index/save-errors", Fixture, NULL, fixture_set_up, test_save_errors,
              fixture_tear_down);
  return g_test_run ();
}
