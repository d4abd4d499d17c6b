/* Unit tests for service/indexes.c: search before the graph has a vector, catch-up, removal. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "common/ids.h"
#include "service/indexes.h"
#include "service/sessions.h"
#include "store/chunks.h"
#include "unit-helpers.h"

#define MODEL      "test-vectors"
#define DIMENSIONS 16
#define PER_DOC    40
#define K          10
#define IDLE_US    (30 * G_USEC_PER_SEC)

static const SrCaller alice = { 1000, FALSE, ":1.10" };
static const SrLimits limits = { .max_title_bytes = 512, .max_context_bytes = 65536 };

static guint warnings;

typedef struct {
  char *dir;
  SrService *service;
  SrIndexes *indexes;
  char *session;
  GRand *rand;
} Fixture;

static void
random_unit (GRand *rand, float *v)
{
  double norm = 0;
  for (guint d = 0; d < DIMENSIONS; d++) {
    v[d] = (float) g_rand_double_range (rand, -1, 1);
    norm += v[d] * v[d];
  }
  for (guint d = 0; d < DIMENSIONS; d++)
    v[d] /= (float) sqrt (norm);
}

/* A ready document of PER_DOC chunks with random vectors; returns its chunk ids, and the
 * vectors in @vectors when not NULL. */
static GArray *
add_document (Fixture *f, char **document_id, float **vectors)
{
  g_autoptr (GError) error = NULL;
  SrStore *store = sr_service_store (f->service);
  g_autofree char *id = sr_id_new ();
  g_autofree char *sha = g_compute_checksum_for_string (G_CHECKSUM_SHA256, id, -1);
  SrDocumentRecord doc = {
    .id = id, .session_id = f->session, .file_sha256 = sha, .filename = "v.txt", .created_at = 1
  };
  g_assert_true (sr_store_document_insert (store, &doc, &error));
  g_assert_no_error (error);

  SrChunkRow rows[PER_DOC];
  g_autofree float *v = g_new (float, PER_DOC *DIMENSIONS);
  for (guint i = 0; i < PER_DOC; i++) {
    rows[i] = (SrChunkRow){ i, "text", 0, "" };
    random_unit (f->rand, v + i * DIMENSIONS);
  }
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_assert_true (sr_store_chunks_replace (store, id, f->session, rows, PER_DOC, v, DIMENSIONS,
                                          MODEL, 2, ids, &error));
  g_assert_no_error (error);
  if (document_id != NULL)
    *document_id = g_strdup (id);
  if (vectors != NULL)
    *vectors = g_steal_pointer (&v);
  return ids;
}

static void
set_up (Fixture *f, gconstpointer data)
{
  f->dir = sr_test_make_tmpdir ();
  f->service = sr_test_service_with_session (f->dir, &limits, &alice, &f->session);
  f->rand = g_rand_new_with_seed (7);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->indexes, sr_indexes_free);
  sr_service_free (f->service);
  sr_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->session);
  g_rand_free (f->rand);
}

typedef struct {
  gint64 id;
  float distance;
} Scored;

static gboolean
collect (gint64 id, const float *vector, guint dimensions, gpointer user_data)
{
  const float *query = ((gpointer *) user_data)[0];
  GArray *all = ((gpointer *) user_data)[1];
  float d = 0;
  for (guint i = 0; i < dimensions; i++)
    d += query[i] * vector[i];
  Scored s = { id, 1.0f - d };
  g_array_append_val (all, s);
  return TRUE;
}

static gint
by_distance (gconstpointer a, gconstpointer b)
{
  const Scored *x = a, *y = b;
  return x->distance < y->distance ? -1 : x->distance > y->distance;
}

/* The exact answer, from SQLite. */
static GArray *
nearest_stored (Fixture *f, const float *query)
{
  g_autoptr (GError) error = NULL;
  GArray *all = g_array_new (FALSE, FALSE, sizeof (Scored));
  gpointer data[] = { (gpointer) query, all };
  g_assert_true (sr_store_chunks_foreach_vector (sr_service_store (f->service), f->session, MODEL,
                                                 collect, data, &error));
  g_array_sort (all, by_distance);
  g_array_set_size (all, MIN (all->len, K));
  return all;
}

static guint
search (Fixture *f, const float *query, gint64 *labels)
{
  g_autoptr (GError) error = NULL;
  guint n = sr_indexes_search (f->indexes, sr_service_store (f->service), f->session, query,
                               DIMENSIONS, K, labels, &error);
  g_assert_no_error (error);
  return n;
}

/* The index agrees with an exhaustive search of what SQLite holds. */
static void
assert_exact (Fixture *f, guint queries)
{
  for (guint q = 0; q < queries; q++) {
    float query[DIMENSIONS];
    random_unit (f->rand, query);
    g_autoptr (GArray) expected = nearest_stored (f, query);
    gint64 labels[K];
    guint n = search (f, query, labels);
    g_assert_cmpuint (n, ==, expected->len);
    for (guint i = 0; i < n; i++)
      g_assert_cmpint (labels[i], ==, g_array_index (expected, Scored, i).id);
  }
}

static void
wait_idle (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + IDLE_US;
  SrIndexStats stats;
  for (;;) {
    sr_indexes_stats (f->indexes, &stats);
    if (stats.waiting == 0)
      return;
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (1000);
  }
}

static char *
index_file (Fixture *f)
{
  g_autofree char *name = g_strconcat (f->session, ".hnsw", NULL);
  return g_build_filename (f->dir, "index", name, NULL);
}

/* Loads the session's graph, lets it take every vector and stops, which saves it; returns
 * the file's path. */
static char *
build_and_save (Fixture *f)
{
  f->indexes = sr_indexes_new (f->service, MODEL, DIMENSIONS);
  assert_exact (f, 1);
  wait_idle (f);
  g_clear_pointer (&f->indexes, sr_indexes_free);
  char *path = index_file (f);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  return path;
}

/* Right after the first load every vector waits for the graph, and is found anyway. */
static void
test_search_while_building (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < 5; i++)
    g_array_unref (add_document (f, NULL, NULL));
  f->indexes = sr_indexes_new (f->service, MODEL, DIMENSIONS);
  assert_exact (f, 20);
  wait_idle (f);
  SrIndexStats stats;
  sr_indexes_stats (f->indexes, &stats);
  g_assert_cmpuint (stats.loaded, ==, 1);
  g_assert_cmpuint (stats.vectors, ==, 5 * PER_DOC);
  g_assert_cmpuint (stats.memory, >, 0);
  assert_exact (f, 20);
}

/* A document that becomes ready is searchable at once, and gone at once once removed. */
static void
test_add_and_remove_live (Fixture *f, gconstpointer data)
{
  g_array_unref (add_document (f, NULL, NULL));
  f->indexes = sr_indexes_new (f->service, MODEL, DIMENSIONS);
  assert_exact (f, 1);

  g_autofree char *doc = NULL;
  g_autofree float *vectors = NULL;
  g_autoptr (GArray) ids = add_document (f, &doc, &vectors);
  sr_indexes_add (f->indexes, f->session, ids, vectors, DIMENSIONS);
  gint64 labels[K];
  g_assert_cmpuint (search (f, vectors, labels), >, 0);
  g_assert_cmpint (labels[0], ==, g_array_index (ids, gint64, 0));

  g_autoptr (GError) error = NULL;
  g_autofree char *orphan = NULL;
  g_assert_true (sr_store_document_delete (sr_service_store (f->service), doc, &orphan, &error));
  sr_indexes_remove (f->indexes, f->session, ids);
  wait_idle (f);
  guint n = search (f, vectors, labels);
  for (guint i = 0; i < n; i++)
    for (guint j = 0; j < ids->len; j++)
      g_assert_cmpint (labels[i], !=, g_array_index (ids, gint64, j));
  assert_exact (f, 10);
}

/* A saved index that missed changes (a crash after SQLite committed) is caught up, not
 * rebuilt: vectors added since are inserted, removed ones taken out. */
static void
test_catch_up (Fixture *f, gconstpointer data)
{
  g_autofree char *first = NULL;
  g_autoptr (GArray) first_ids = add_document (f, &first, NULL);
  /* Enough that the one new document is read by its ids, not in a pass over them all. */
  for (guint i = 0; i < 4; i++)
    g_array_unref (add_document (f, NULL, NULL));
  g_autofree char *path = build_and_save (f);

  /* Changes the index never heard of. */
  g_autoptr (GError) error = NULL;
  g_autofree char *orphan = NULL;
  g_assert_true (sr_store_document_delete (sr_service_store (f->service), first, &orphan, &error));
  g_array_unref (add_document (f, NULL, NULL));

  f->indexes = sr_indexes_new (f->service, MODEL, DIMENSIONS);
  assert_exact (f, 20);
  SrIndexStats stats;
  sr_indexes_stats (f->indexes, &stats);
  /* Only the new document waits (and the removals), not all three. */
  g_assert_cmpuint (stats.waiting, <=, 2 * PER_DOC);
  wait_idle (f);
  sr_indexes_stats (f->indexes, &stats);
  g_assert_cmpuint (stats.vectors, ==, 5 * PER_DOC);
  assert_exact (f, 20);
}

/* A damaged file of the indexes' own model (files of another model, or of no known one,
 * are removed before they are ever read). */
static void
test_damaged_file_rebuilt (Fixture *f, gconstpointer data)
{
  g_array_unref (add_document (f, NULL, NULL));
  g_autofree char *path = build_and_save (f);
  sr_test_write_file (path, "not an index", -1);

  f->indexes = sr_indexes_new (f->service, MODEL, DIMENSIONS);
  warnings = 0;
  assert_exact (f, 10);
  g_assert_cmpuint (warnings, ==, 1);
  wait_idle (f);
  g_clear_pointer (&f->indexes, sr_indexes_free);

  /* The rebuilt graph was written back and loads without a warning. */
  f->indexes = sr_indexes_new (f->service, MODEL, DIMENSIONS);
  assert_exact (f, 10);
}

static void
test_forget_removes_file (Fixture *f, gconstpointer data)
{
  g_array_unref (add_document (f, NULL, NULL));
  g_autofree char *path = build_and_save (f);

  f->indexes = sr_indexes_new (f->service, MODEL, DIMENSIONS);
  assert_exact (f, 1);
  sr_indexes_forget (f->indexes, f->session);
  g_clear_pointer (&f->indexes, sr_indexes_free);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* Warnings are counted, not fatal: a damaged file is expected to be reported. */
static GLogWriterOutput
count_warnings (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  if (level & G_LOG_LEVEL_WARNING) {
    warnings++;
    return G_LOG_WRITER_HANDLED;
  }
  return g_log_writer_default (level, fields, n_fields, data);
}

/* A graph left alone leaves memory, and the next search brings it back. */
static void
test_unused_graph_unloaded (Fixture *f, gconstpointer data)
{
  g_array_unref (add_document (f, NULL, NULL));
  g_autofree char *path = build_and_save (f);
  f->indexes = sr_indexes_new (f->service, MODEL, DIMENSIONS);
  sr_indexes_set_unload_after (f->indexes, 0);
  assert_exact (f, 1);

  gint64 deadline = g_get_monotonic_time () + IDLE_US;
  SrIndexStats stats;
  do {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (10 * 1000);
    sr_indexes_stats (f->indexes, &stats);
  } while (stats.loaded > 0);
  assert_exact (f, 5);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_log_set_writer_func (count_warnings, NULL, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, set_up, func, tear_down)
  ADD ("/indexes/search-while-building", test_search_while_building);
  ADD ("/indexes/add-and-remove-live", test_add_and_remove_live);
  ADD ("/indexes/catch-up", test_catch_up);
  ADD ("/indexes/damaged-file-rebuilt", test_damaged_file_rebuilt);
  ADD ("/indexes/forget-removes-file", test_forget_removes_file);
  ADD ("/indexes/unused-graph-unloaded", test_unused_graph_unloaded);
  return g_test_run ();
}
