/* Retrieval quality: recall@5 and MRR of BM25 alone and of hybrid search on a fixed set. */
#include <string.h>

#include "common/errors.h"
#include "common/ids.h"
#include "service/indexes.h"
#include "service/search.h"
#include "service/sessions.h"
#include "store/chunks.h"
#include "unit-helpers.h"

#define EVAL_FILE "retrieval-eval.txt"
#define EVAL_K    5
/* Far below what either ranker reaches; failing it means the search is broken, not weak. */
#define RECALL_FLOOR 0.3

static const SrCaller alice = { 1000, FALSE, ":1.10" };

static const SrLimits limits = {
  .max_title_bytes = 512,
  .max_context_bytes = 65536,
};

typedef struct {
  char *label; /* the passage id for a passage, the answering passage's id for a question */
  char *text;
} Entry;

static void
entry_free (gpointer data)
{
  Entry *entry = data;
  g_free (entry->label);
  g_free (entry->text);
  g_free (entry);
}

typedef struct {
  char *dir;
  SrService *service;
  SrEmbedder *embedder;
  SrIndexes *indexes;
  char *session;
  GPtrArray *passages;             /* Entry */
  GPtrArray *questions;            /* Entry */
  GHashTable *passage_of_document; /* document id → passage id (borrowed from passages) */
} Fixture;

/* "<kind> <label>: <text>" */
static gboolean
parse_line (const char *line, Fixture *f, GError **error)
{
  const char *colon = strstr (line, ": ");
  g_autofree char *kind_and_label = colon ? g_strndup (line, colon - line) : NULL;
  g_auto (GStrv) head = kind_and_label ? g_strsplit (kind_and_label, " ", -1) : NULL;
  g_autofree char *text = colon ? g_strstrip (g_strdup (colon + 2)) : NULL;
  if (head == NULL || g_strv_length (head) != 2 || *head[1] == '\0' || *text == '\0') {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 "expected '<passage|question> <id>: <text>', got '%s'", line);
    return FALSE;
  }
  GPtrArray *into = g_str_equal (head[0], "passage")    ? f->passages
                    : g_str_equal (head[0], "question") ? f->questions
                                                        : NULL;
  if (into == NULL) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS, "unknown entry kind '%s'",
                 head[0]);
    return FALSE;
  }
  Entry *entry = g_new0 (Entry, 1);
  entry->label = g_strdup (head[1]);
  entry->text = g_steal_pointer (&text);
  g_ptr_array_add (into, entry);
  return TRUE;
}

static void
load_eval_set (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, EVAL_FILE, NULL);
  g_autofree char *contents = NULL;
  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);

  g_auto (GStrv) lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    g_strstrip (lines[i]);
    if (lines[i][0] == '\0' || lines[i][0] == '#')
      continue;
    parse_line (lines[i], f, &error);
    g_assert_no_error (error);
  }
}

/* Every question points at exactly one passage that exists, and ids are unique. */
static void
check_eval_set (Fixture *f)
{
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < f->passages->len; i++) {
    Entry *p = f->passages->pdata[i];
    if (!g_hash_table_add (ids, p->label))
      g_error ("%s: passage '%s' is defined twice", EVAL_FILE, p->label);
  }
  for (guint i = 0; i < f->questions->len; i++) {
    Entry *q = f->questions->pdata[i];
    if (!g_hash_table_contains (ids, q->label))
      g_error ("%s: question '%s' names no passage '%s'", EVAL_FILE, q->text, q->label);
  }
  g_assert_cmpuint (f->passages->len, >=, 30);
  g_assert_cmpuint (f->questions->len, >=, 30);
}

/* Stores each passage as a ready document of one embedded chunk, as ingestion would. */
static void
store_passages (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  SrStore *store = sr_service_store (f->service);
  guint n = f->passages->len, dims = f->embedder->dimensions;
  g_autofree const char **texts = g_new0 (const char *, n);
  for (guint i = 0; i < n; i++)
    texts[i] = ((Entry *) f->passages->pdata[i])->text;
  g_autofree float *vectors = g_new0 (float, (gsize) n *dims);
  g_assert_true (sr_embedder_embed (f->embedder, texts, n, vectors, NULL, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < n; i++) {
    Entry *p = f->passages->pdata[i];
    g_autofree char *id = sr_id_new ();
    g_autofree char *sha = g_compute_checksum_for_string (G_CHECKSUM_SHA256, p->text, -1);
    g_autofree char *filename = g_strconcat (p->label, ".txt", NULL);
    SrDocumentRecord doc = {
      .id = id,
      .session_id = f->session,
      .file_sha256 = sha,
      .size = strlen (p->text),
      .filename = filename,
      .created_at = g_get_real_time (),
    };
    g_assert_true (sr_store_document_insert (store, &doc, &error));
    g_assert_no_error (error);
    SrChunkRow chunk = { 0, p->text, 0, "" };
    g_assert_true (sr_store_chunks_replace (store, id, f->session, &chunk, 1,
                                            vectors + (gsize) i * dims, dims, f->embedder->model,
                                            g_get_real_time (), NULL, &error));
    g_assert_no_error (error);
    g_hash_table_insert (f->passage_of_document, g_steal_pointer (&id), p->label);
  }
}

static void
set_up (Fixture *f, gconstpointer data)
{
  f->passages = g_ptr_array_new_with_free_func (entry_free);
  f->questions = g_ptr_array_new_with_free_func (entry_free);
  f->passage_of_document = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  load_eval_set (f);
  check_eval_set (f);

  f->dir = sr_test_make_tmpdir ();
  f->service = sr_test_service_with_session (f->dir, &limits, &alice, &f->session);
  f->embedder = sr_embedder_builtin_new (0);
  store_passages (f);
  /* Created after the chunks are stored, so the session's index is built from SQLite on
   * first use, as after a restart. */
  f->indexes = sr_indexes_new (f->service, f->embedder->model, f->embedder->dimensions);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  sr_indexes_free (f->indexes);
  sr_embedder_free (f->embedder);
  sr_service_free (f->service);
  sr_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->session);
  g_hash_table_unref (f->passage_of_document);
  g_ptr_array_unref (f->questions);
  g_ptr_array_unref (f->passages);
}

/* 1-based rank of @passage among the hits for @text, 0 when it is not among them. */
static guint
rank_of (Fixture *f, const char *text, const char *passage, SrSearchMode mode)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) hits = sr_search (f->service, f->indexes, f->embedder, &alice, f->session,
                                          text, EVAL_K, mode, &error);
  g_assert_no_error (error);
  g_assert_nonnull (hits);
  g_assert_cmpuint (hits->len, <=, EVAL_K);
  for (guint i = 0; i < hits->len; i++) {
    SrChunkHit *hit = hits->pdata[i];
    const char *label = g_hash_table_lookup (f->passage_of_document, hit->document_id);
    g_assert_nonnull (label);
    if (g_str_equal (label, passage))
      return i + 1;
  }
  return 0;
}

/* The harness itself: a passage's own text must find that passage first, in both modes,
 * or the figures below would measure a broken setup. */
static void
test_passages_find_themselves (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < f->passages->len; i++) {
    Entry *p = f->passages->pdata[i];
    g_assert_cmpuint (rank_of (f, p->text, p->label, SR_SEARCH_TEXT_ONLY), ==, 1);
    g_assert_cmpuint (rank_of (f, p->text, p->label, SR_SEARCH_HYBRID), ==, 1);
  }
}

typedef struct {
  double recall; /* share of questions whose passage is among the first EVAL_K hits */
  double mrr;    /* mean of 1/rank, 0 for a miss */
} Scores;

static void
test_hybrid_recall (Fixture *f, gconstpointer data)
{
  Scores bm25 = { 0, 0 }, hybrid = { 0, 0 };
  guint n = f->questions->len;
  for (guint i = 0; i < n; i++) {
    Entry *q = f->questions->pdata[i];
    guint text_rank = rank_of (f, q->text, q->label, SR_SEARCH_TEXT_ONLY);
    guint hybrid_rank = rank_of (f, q->text, q->label, SR_SEARCH_HYBRID);
    bm25.recall += text_rank > 0;
    bm25.mrr += text_rank > 0 ? 1.0 / text_rank : 0;
    hybrid.recall += hybrid_rank > 0;
    hybrid.mrr += hybrid_rank > 0 ? 1.0 / hybrid_rank : 0;
    /* Where the rankers disagree is what is worth reading when the figures move. */
    if (text_rank != hybrid_rank)
      g_test_message ("rank bm25 %u, hybrid %u (0 = not in top %d): [%s] %s", text_rank,
                      hybrid_rank, EVAL_K, q->label, q->text);
  }
  bm25.recall /= n, bm25.mrr /= n, hybrid.recall /= n, hybrid.mrr /= n;

  g_test_message ("%u questions over %u passages", n, f->passages->len);
  g_test_message ("recall@%d: bm25 %.2f, hybrid %.2f; MRR@%d: bm25 %.2f, hybrid %.2f", EVAL_K,
                  bm25.recall, hybrid.recall, EVAL_K, bm25.mrr, hybrid.mrr);

  g_assert_cmpfloat (bm25.recall, >, RECALL_FLOOR);
  g_assert_cmpfloat (hybrid.recall, >, RECALL_FLOOR);
  /* The bar: adding the vectors must not lose answers that BM25 alone finds. */
  if (hybrid.recall < bm25.recall)
    g_test_fail_printf ("hybrid recall@%u (%.2f) is below BM25's (%.2f)", EVAL_K, hybrid.recall,
                        bm25.recall);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/retrieval/passages-find-themselves", Fixture, NULL, set_up,
              test_passages_find_themselves, tear_down);
  g_test_add ("/retrieval/hybrid-recall", Fixture, NULL, set_up, test_hybrid_recall, tear_down);
  return g_test_run ();
}
