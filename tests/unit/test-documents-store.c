/* Unit tests for the document and file rows (src/store/documents.c). */
#include <math.h>

#include "common/errors.h"
#include "store/chunks.h"
#include "store/documents.h"
#include "store/sessions.h"
#include "unit-helpers.h"

#define SESSION       "0123456789abcdef0123456789abcdef"
#define OTHER_SESSION "fedcba9876543210fedcba9876543210"
#define DOC_A         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DOC_B         "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DOC_C         "cccccccccccccccccccccccccccccccc"
#define SHA_X         "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA_Y         "2222222222222222222222222222222222222222222222222222222222222222"

typedef struct {
  char *dir;
  SrStore *store;
} Fixture;

static void
add_session (Fixture *f, const char *id)
{
  g_autoptr (GError) error = NULL;
  SrSessionRecord s = { (char *) id, 1000, (char *) "", (char *) "{}", 1, 1, -1, 0, 0 };
  g_assert_true (sr_store_session_insert (f->store, &s, &error));
  g_assert_no_error (error);
}

static void
set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = sr_test_make_tmpdir ();
  f->store = sr_store_open (f->dir, &error);
  g_assert_no_error (error);
  add_session (f, SESSION);
  add_session (f, OTHER_SESSION);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  sr_store_close (f->store);
  sr_test_remove_tree (f->dir);
  g_free (f->dir);
}

static void
add_document (Fixture *f, const char *id, const char *session, const char *sha, gint64 at)
{
  g_autoptr (GError) error = NULL;
  SrDocumentRecord r = {
    .id = (char *) id,
    .session_id = (char *) session,
    .file_sha256 = (char *) sha,
    .size = 42,
    .filename = (char *) "report.pdf",
    .created_at = at,
  };
  g_assert_true (sr_store_document_insert (f->store, &r, &error));
  g_assert_no_error (error);
}

static guint32
document_count (Fixture *f, const char *session)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) s = sr_store_session_get (f->store, session, &error);
  g_assert_no_error (error);
  return s->document_count;
}

static void
test_insert_and_get (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  add_document (f, DOC_A, SESSION, SHA_X, 100);

  g_autoptr (SrDocumentRecord) r = sr_store_document_get (f->store, DOC_A, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->session_id, ==, SESSION);
  g_assert_cmpstr (r->file_sha256, ==, SHA_X);
  g_assert_cmpuint (r->size, ==, 42);
  g_assert_cmpstr (r->filename, ==, "report.pdf");
  g_assert_cmpstr (r->title, ==, "");
  g_assert_cmpstr (r->format, ==, "");
  g_assert_cmpstr (r->state, ==, "stored");
  g_assert_cmpfloat (r->progress, ==, 0.0);
  g_assert_cmpint (r->created_at, ==, 100);
  g_assert_cmpint (r->updated_at, ==, 100);
  g_assert_cmpuint (document_count (f, SESSION), ==, 1);

  g_autoptr (SrDocumentRecord) none = sr_store_document_get (f->store, DOC_B, &error);
  g_assert_null (none);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND);
}

static void
test_list_by_session (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  add_document (f, DOC_B, SESSION, SHA_X, 200);
  add_document (f, DOC_A, SESSION, SHA_Y, 100);
  add_document (f, DOC_C, OTHER_SESSION, SHA_X, 50);

  g_autoptr (GPtrArray) mine = sr_store_document_list (f->store, SESSION, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mine->len, ==, 2);
  g_assert_cmpstr (((SrDocumentRecord *) mine->pdata[0])->id, ==, DOC_A);
  g_assert_cmpstr (((SrDocumentRecord *) mine->pdata[1])->id, ==, DOC_B);
}

static void
test_state_and_unfinished (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  add_document (f, DOC_A, SESSION, SHA_X, 100);
  add_document (f, DOC_B, SESSION, SHA_X, 200);
  add_document (f, DOC_C, SESSION, SHA_X, 300);

  g_assert_true (sr_store_document_set_state (f->store, DOC_A, "ready", 1.0, NULL, 400, &error));
  g_assert_true (sr_store_document_set_state (f->store, DOC_B, "failed", 0.5, "The PDF is damaged",
                                              401, &error));
  g_assert_true (sr_store_document_set_state (f->store, DOC_C, "parsing", 0.1, NULL, 402, &error));
  g_assert_no_error (error);

  g_autoptr (SrDocumentRecord) b = sr_store_document_get (f->store, DOC_B, &error);
  g_assert_cmpstr (b->state, ==, "failed");
  g_assert_cmpstr (b->message, ==, "The PDF is damaged");
  g_assert_cmpint (b->updated_at, ==, 401);

  g_autoptr (GPtrArray) unfinished = sr_store_document_list_unfinished (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (unfinished->len, ==, 1);
  g_assert_cmpstr (((SrDocumentRecord *) unfinished->pdata[0])->id, ==, DOC_C);

  /* The schema refuses states outside the contract. */
  g_assert_false (sr_store_document_set_state (f->store, DOC_A, "done", 1.0, NULL, 5, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_false (sr_store_document_set_state (f->store, DOC_B "0", "ready", 1, NULL, 5, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND);
}

/* The bytes go only with the last document that uses them. */
static void
test_delete_and_orphans (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  add_document (f, DOC_A, SESSION, SHA_X, 100);
  add_document (f, DOC_B, SESSION, SHA_X, 200);
  add_document (f, DOC_C, OTHER_SESSION, SHA_Y, 300);

  g_autofree char *orphan = NULL;
  g_assert_true (sr_store_document_delete (f->store, DOC_A, &orphan, &error));
  g_assert_no_error (error);
  g_assert_null (orphan);
  g_assert_cmpuint (document_count (f, SESSION), ==, 1);

  g_assert_true (sr_store_document_delete (f->store, DOC_B, &orphan, &error));
  g_assert_cmpstr (orphan, ==, SHA_X);
  g_assert_cmpuint (document_count (f, SESSION), ==, 0);

  g_autofree char *again = NULL;
  g_assert_false (sr_store_document_delete (f->store, DOC_B, &again, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A removed session leaves its files behind until they are collected. */
  g_assert_true (sr_store_session_delete (f->store, OTHER_SESSION, &error));
  g_autoptr (GPtrArray) gone = sr_store_files_collect_orphans (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (gone->len, ==, 1);
  g_assert_cmpstr (gone->pdata[0], ==, SHA_Y);
  g_autoptr (GPtrArray) none = sr_store_files_collect_orphans (f->store, &error);
  g_assert_cmpuint (none->len, ==, 0);
}

static const SrChunkRow menu_chunks[] = {
  { 0, "Caf\xc3\xa9 du Nord opens at eight in the morning.", 1, "Opening hours" },
  { 1, "It is closed on Mondays and public holidays.", 2, "Opening hours" },
  { 2, "The soup of the day costs four euros.", 2, "Prices" },
};

static void
store_menu (Fixture *f, const char *doc, const char *session, GArray *ids)
{
  g_autoptr (GError) error = NULL;
  float vectors[3 * 4] = { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0 };
  g_assert_true (sr_store_chunks_replace (f->store, doc, session, menu_chunks, 3, vectors, 4,
                                          "builtin-4", 500, ids, &error));
  g_assert_no_error (error);
}

static void
test_chunks_replace (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  add_document (f, DOC_A, SESSION, SHA_X, 100);

  store_menu (f, DOC_A, SESSION, ids);
  g_assert_cmpuint (ids->len, ==, 3);
  g_autoptr (SrDocumentRecord) r = sr_store_document_get (f->store, DOC_A, &error);
  g_assert_cmpstr (r->state, ==, "ready");
  g_assert_cmpuint (r->chunk_count, ==, 3);
  g_assert_cmpfloat (r->progress, ==, 1.0);

  /* Doing it again (a resumed document) replaces, never duplicates. */
  g_array_set_size (ids, 0);
  store_menu (f, DOC_A, SESSION, ids);
  g_autoptr (GPtrArray) hits
      = sr_store_chunks_search_text (f->store, SESSION, "mondays", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);

  /* An unknown document stores nothing. */
  g_assert_false (sr_store_chunks_replace (f->store, DOC_B, SESSION, menu_chunks, 3, NULL, 0, NULL,
                                           1, NULL, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED); /* foreign key */
}

static void
test_chunks_search_text (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  add_document (f, DOC_A, SESSION, SHA_X, 100);
  add_document (f, DOC_C, OTHER_SESSION, SHA_X, 100);
  store_menu (f, DOC_A, SESSION, NULL);
  store_menu (f, DOC_C, OTHER_SESSION, NULL);

  /* Diacritics fold, every hit says where it is, and only this session's chunks come. */
  g_autoptr (GPtrArray) hits = sr_store_chunks_search_text (f->store, SESSION, "cafe", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);
  SrChunkHit *hit = hits->pdata[0];
  g_assert_cmpstr (hit->document_id, ==, DOC_A);
  g_assert_cmpstr (hit->filename, ==, "report.pdf");
  g_assert_cmpuint (hit->ordinal, ==, 0);
  g_assert_cmpuint (hit->page, ==, 1);
  g_assert_cmpstr (hit->heading, ==, "Opening hours");
  g_assert_cmpfloat (hit->score, >, 0);

  /* Any word matches, better matches first. */
  g_autoptr (GPtrArray) two
      = sr_store_chunks_search_text (f->store, SESSION, "soup costs Mondays", 10, &error);
  g_assert_cmpuint (two->len, ==, 2);
  g_assert_cmpuint (((SrChunkHit *) two->pdata[0])->ordinal, ==, 2);

  /* Nothing typed is FTS5 syntax. */
  const char *odd[] = { "\"", "NEAR(", "a AND", "*", "heading:x", "-", "\"\"\"", "" };
  for (guint i = 0; i < G_N_ELEMENTS (odd); i++) {
    g_autoptr (GPtrArray) none
        = sr_store_chunks_search_text (f->store, SESSION, odd[i], 10, &error);
    g_assert_no_error (error);
    g_assert_nonnull (none);
  }
}

/* Stores @n chunks whose text @make_text writes from their ordinal. */
static void
store_generated (Fixture *f, const char *doc, const char *session, guint n,
                 char *(*make_text) (guint ordinal))
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autofree SrChunkRow *rows = g_new0 (SrChunkRow, n);
  for (guint i = 0; i < n; i++) {
    g_ptr_array_add (texts, make_text (i));
    rows[i] = (SrChunkRow){ i, texts->pdata[i], 0, "" };
  }
  g_assert_true (
      sr_store_chunks_replace (f->store, doc, session, rows, n, NULL, 0, NULL, 1, NULL, &error));
  g_assert_no_error (error);
}

static char *
filler_text (guint ordinal)
{
  return g_strdup_printf ("the minutes of the meeting number %u", ordinal);
}

static char *
strong_match_text (guint ordinal)
{
  return g_strdup_printf ("lighthouse lighthouse lighthouse %u", ordinal);
}

/* Every fifth chunk of the session's own document names the lighthouse, at lengths that
 * give each a different score. */
static char *
weak_match_text (guint ordinal)
{
  if (ordinal % 5 != 0 || ordinal >= 5 * 8)
    return filler_text (ordinal);
  GString *text = g_string_new ("the lighthouse");
  for (guint i = 0; i < ordinal / 5; i++)
    g_string_append (text, " of the coast");
  return g_string_free (text, FALSE);
}

static void
assert_all_in (GPtrArray *hits, const char *document_id)
{
  for (guint i = 0; i < hits->len; i++)
    g_assert_cmpstr (((SrChunkHit *) hits->pdata[i])->document_id, ==, document_id);
}

/* Another session's chunks match better and are more numerous: they must neither come
 * back nor push this session's own matches out of the result. */
static void
test_chunks_search_session_isolation (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  add_document (f, DOC_C, OTHER_SESSION, SHA_X, 100);
  add_document (f, DOC_A, SESSION, SHA_X, 101);
  store_generated (f, DOC_C, OTHER_SESSION, 600, strong_match_text);
  store_generated (f, DOC_A, SESSION, 600, weak_match_text);

  g_autoptr (GPtrArray) hits
      = sr_store_chunks_search_text (f->store, SESSION, "lighthouse", 5, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 5);
  assert_all_in (hits, DOC_A);
  /* Shorter chunks first: BM25's length normalisation. */
  for (guint i = 0; i < hits->len; i++)
    g_assert_cmpuint (((SrChunkHit *) hits->pdata[i])->ordinal, ==, 5 * i);

  g_autoptr (GPtrArray) theirs
      = sr_store_chunks_search_text (f->store, OTHER_SESSION, "lighthouse", 5, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (theirs->len, ==, 5);
  assert_all_in (theirs, DOC_C);
}

/* The ids FTS5's own bm25() ranks first for @match, ties by text: the reference. */
static GArray *
reference_ranking (Fixture *f, const char *match, guint limit)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (sr_store_db (f->store),
                                       "SELECT c.id FROM chunks_fts JOIN chunks c"
                                       " ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH ?1"
                                       " ORDER BY bm25(chunks_fts), c.text, c.id LIMIT ?2",
                                       -1, &stmt, NULL),
                   ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, match, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 2, limit);
  while (sqlite3_step (stmt) == SQLITE_ROW) {
    gint64 id = sqlite3_column_int64 (stmt, 0);
    g_array_append_val (ids, id);
  }
  sqlite3_finalize (stmt);
  return g_steal_pointer (&ids);
}

/* "the" is in every chunk: leaving it out must give what BM25 gives with it, the chunks
 * that name the lighthouse in the same order, and nothing that matches "the" alone. */
static void
test_chunks_search_common_words (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  add_document (f, DOC_A, SESSION, SHA_X, 100);
  store_generated (f, DOC_A, SESSION, 1000, weak_match_text);

  g_autoptr (GPtrArray) hits
      = sr_store_chunks_search_text (f->store, SESSION, "The lighthouse of THE", 20, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) expected = reference_ranking (f, "\"the\" OR \"lighthouse\" OR \"of\"", 8);
  g_assert_cmpuint (hits->len, ==, 8);
  for (guint i = 0; i < hits->len; i++)
    g_assert_cmpint (((SrChunkHit *) hits->pdata[i])->id, ==, g_array_index (expected, gint64, i));

  /* Common words alone still find something. */
  g_autoptr (GPtrArray) common
      = sr_store_chunks_search_text (f->store, SESSION, "the of", 20, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (common->len, ==, 20);
}

static char *
tied_text (guint ordinal)
{
  /* Written in falling order, so that row ids and text order disagree. */
  return g_strdup_printf ("beacon w%03u", 999 - ordinal);
}

/* Equal scores are ordered by text, whatever the row ids and wherever the cut falls. */
static void
test_chunks_search_ties (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  add_document (f, DOC_A, SESSION, SHA_X, 100);
  store_generated (f, DOC_A, SESSION, 100, tied_text);

  g_autoptr (GPtrArray) hits = sr_store_chunks_search_text (f->store, SESSION, "beacon", 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 3);
  g_assert_cmpstr (((SrChunkHit *) hits->pdata[0])->text, ==, "beacon w900");
  g_assert_cmpstr (((SrChunkHit *) hits->pdata[1])->text, ==, "beacon w901");
  g_assert_cmpstr (((SrChunkHit *) hits->pdata[2])->text, ==, "beacon w902");
}

/* Words drawn with weight 1 / (rank + 10): frequent ones in about a quarter of the
 * chunks, rare ones in a handful, none in half (where FTS5's IDF would turn negative). */
static const char *
zipf_word (GRand *rand, GPtrArray *vocabulary)
{
  static double total = 0;
  if (total == 0)
    for (guint r = 0; r < vocabulary->len; r++)
      total += 1.0 / (r + 10);
  double x = g_rand_double (rand) * total;
  for (guint r = 0; r < vocabulary->len; r++)
    if ((x -= 1.0 / (r + 10)) <= 0)
      return vocabulary->pdata[r];
  return vocabulary->pdata[vocabulary->len - 1];
}

static void
store_random (Fixture *f, GRand *rand, GPtrArray *vocabulary, const char *doc, const char *session,
              guint n)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autofree SrChunkRow *rows = g_new0 (SrChunkRow, n);
  for (guint i = 0; i < n; i++) {
    GString *text = g_string_new (zipf_word (rand, vocabulary));
    for (gint w = g_rand_int_range (rand, 3, 14); w > 0; w--)
      g_string_append_printf (text, " %s", zipf_word (rand, vocabulary));
    g_ptr_array_add (texts, g_string_free (text, FALSE));
    rows[i] = (SrChunkRow){ i, texts->pdata[i], 0, "" };
  }
  g_assert_true (
      sr_store_chunks_replace (f->store, doc, session, rows, n, NULL, 0, NULL, 1, NULL, &error));
  g_assert_no_error (error);
}

/* The reference: FTS5's own bm25() over every chunk of the session matching @match. */
static GArray *
reference_scores (Fixture *f, const char *match, guint k)
{
  g_autoptr (GArray) expected = g_array_new (FALSE, FALSE, sizeof (double));
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (sr_store_db (f->store),
                                       "SELECT -bm25(chunks_fts) FROM chunks_fts JOIN chunks c"
                                       " ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH ?1"
                                       " AND c.session_id = ?2 ORDER BY 1 DESC LIMIT ?3",
                                       -1, &stmt, NULL),
                   ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, match, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, SESSION, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 3, (int) k);
  while (sqlite3_step (stmt) == SQLITE_ROW) {
    double score = sqlite3_column_double (stmt, 0);
    g_array_append_val (expected, score);
  }
  sqlite3_finalize (stmt);
  return g_steal_pointer (&expected);
}

/* Random queries of one to five words, some in no chunk, each checked against the
 * reference: the same scores, and only chunks of the session. */
static void
check_random_queries (Fixture *f, SrStore *connection, GRand *rand, GPtrArray *vocabulary, guint n)
{
  for (guint q = 0; q < n; q++) {
    g_autoptr (GError) error = NULL;
    guint k = (guint) g_rand_int_range (rand, 1, 12);
    g_autoptr (GString) query = g_string_new (NULL);
    g_autoptr (GString) match = g_string_new (NULL);
    for (gint w = g_rand_int_range (rand, 1, 6); w > 0; w--) {
      const char *word = g_rand_int_range (rand, 0, 20) == 0
                             ? "absent"
                             : vocabulary->pdata[g_rand_int_range (rand, 0, vocabulary->len)];
      g_autofree char *phrase = g_strdup_printf ("\"%s\"", word);
      g_string_append_printf (query, "%s%s", query->len > 0 ? " " : "", word);
      /* Search takes each word once; FTS5 would count a phrase given twice twice. */
      if (strstr (match->str, phrase) == NULL)
        g_string_append_printf (match, "%s%s", match->len > 0 ? " OR " : "", phrase);
    }
    g_autoptr (GPtrArray) hits
        = sr_store_chunks_search_text (connection, SESSION, query->str, k, &error);
    g_assert_no_error (error);
    g_autoptr (GArray) expected = reference_scores (f, match->str, k);

    g_assert_cmpuint (hits->len, ==, expected->len);
    for (guint i = 0; i < hits->len; i++) {
      SrChunkHit *hit = hits->pdata[i];
      double want = g_array_index (expected, double, i);
      if (fabs (hit->score - want) > 1e-9 * MAX (1.0, fabs (want)))
        g_error ("query '%s', k %u: hit %u scores %.12g, FTS5's bm25() %.12g", query->str, k, i,
                 hit->score, want);
      g_assert_cmpstr (hit->document_id, !=, DOC_C);
    }
  }
}

/* Search reads the chunks of a query's rarest word first and stops before the common
 * words' long lists once they cannot change the result; it keeps the words' chunk counts
 * while the database is unchanged. Against FTS5's bm25() over every matching chunk the
 * result must be the same, also after another connection added chunks. */
static void
test_chunks_search_matches_exhaustive (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autoptr (GPtrArray) vocabulary = g_ptr_array_new_with_free_func (g_free);
  for (guint r = 0; r < 400; r++)
    g_ptr_array_add (vocabulary, g_strdup_printf ("w%ux", r));
  add_document (f, DOC_A, SESSION, SHA_X, 100);
  add_document (f, DOC_C, OTHER_SESSION, SHA_X, 101);
  store_random (f, rand, vocabulary, DOC_A, SESSION, 1500);
  store_random (f, rand, vocabulary, DOC_C, OTHER_SESSION, 1500);

  g_autoptr (SrStoreLease) connection = sr_store_acquire (f->store, &error);
  g_assert_no_error (error);
  check_random_queries (f, connection, rand, vocabulary, 150);
  add_document (f, DOC_B, SESSION, SHA_Y, 102);
  store_random (f, rand, vocabulary, DOC_B, SESSION, 1500);
  check_random_queries (f, connection, rand, vocabulary, 150);
}

/* Merging the index's segments changes no result, and ends. */
static void
test_chunks_compact (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  g_autoptr (GPtrArray) vocabulary = g_ptr_array_new_with_free_func (g_free);
  for (guint r = 0; r < 300; r++)
    g_ptr_array_add (vocabulary, g_strdup_printf ("w%ux", r));
  /* A transaction per document, a segment each. */
  for (guint d = 0; d < 40; d++) {
    g_autofree char *id = g_strdup_printf ("%032x", d + 1);
    add_document (f, id, SESSION, SHA_X, 100 + d);
    store_random (f, rand, vocabulary, id, SESSION, 100);
  }
  const char *queries[] = { "w3x", "w17x w250x", "w1x w2x w299x", "w120x w7x" };
  g_autoptr (GPtrArray) before
      = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  for (guint q = 0; q < G_N_ELEMENTS (queries); q++) {
    g_ptr_array_add (before,
                     sr_store_chunks_search_text (f->store, SESSION, queries[q], 8, &error));
    g_assert_no_error (error);
  }

  gboolean done = FALSE;
  guint steps = 0;
  while (!done) {
    g_assert_true (sr_store_chunks_compact_step (f->store, &done, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (++steps, <, 1000);
  }
  g_assert_cmpuint (steps, >, 1);
  g_test_message ("%u steps", steps);
  g_assert_true (sr_store_chunks_compact_step (f->store, &done, &error));
  g_assert_true (done);

  for (guint q = 0; q < G_N_ELEMENTS (queries); q++) {
    g_autoptr (GPtrArray) after
        = sr_store_chunks_search_text (f->store, SESSION, queries[q], 8, &error);
    g_assert_no_error (error);
    GPtrArray *was = before->pdata[q];
    g_assert_cmpuint (after->len, ==, was->len);
    for (guint i = 0; i < after->len; i++) {
      g_assert_cmpint (((SrChunkHit *) after->pdata[i])->id, ==,
                       ((SrChunkHit *) was->pdata[i])->id);
      g_assert_cmpfloat (((SrChunkHit *) after->pdata[i])->score, ==,
                         ((SrChunkHit *) was->pdata[i])->score);
    }
  }
}

static gboolean
count_vector (gint64 id, const float *vector, guint dimensions, gpointer user_data)
{
  guint *n = user_data;
  g_assert_cmpuint (dimensions, ==, 4);
  g_assert_cmpfloat (vector[0] + vector[1] + vector[2] + vector[3], ==, 1.0f);
  (*n)++;
  return TRUE;
}

static void
test_chunks_vectors_and_cascade (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  guint n = 0;
  add_document (f, DOC_A, SESSION, SHA_X, 100);
  store_menu (f, DOC_A, SESSION, NULL);

  g_assert_true (
      sr_store_chunks_foreach_vector (f->store, SESSION, "builtin-4", count_vector, &n, &error));
  g_assert_cmpuint (n, ==, 3);
  n = 0;
  g_assert_true (
      sr_store_chunks_foreach_vector (f->store, SESSION, "other-model", count_vector, &n, &error));
  g_assert_cmpuint (n, ==, 0);

  g_autofree char *orphan = NULL;
  g_assert_true (sr_store_document_delete (f->store, DOC_A, &orphan, &error));
  g_autoptr (GPtrArray) hits = sr_store_chunks_search_text (f->store, SESSION, "cafe", 10, &error);
  g_assert_cmpuint (hits->len, ==, 0);
}

/* A big document stored on a worker thread: the writes of the main loop, a statement on
 * its own and a transaction, go in between its chunks instead of waiting for all of them
 * (a whole 8 MB text used to hold every other write back for seconds). */
#define BIG_DOCUMENT_CHUNKS 30000

typedef struct {
  SrStore *connection;
  SrChunkRow *rows;
  gint done;
  GError *error;
} BigReplace;

static gpointer
replace_big (gpointer data)
{
  BigReplace *r = data;
  sr_store_chunks_replace (r->connection, DOC_A, SESSION, r->rows, BIG_DOCUMENT_CHUNKS, NULL, 0,
                           NULL, 1, NULL, &r->error);
  g_atomic_int_set (&r->done, 1);
  return NULL;
}

static void
test_chunks_replace_lets_writes_in (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autofree SrChunkRow *rows = g_new0 (SrChunkRow, BIG_DOCUMENT_CHUNKS);
  for (guint i = 0; i < BIG_DOCUMENT_CHUNKS; i++) {
    g_ptr_array_add (texts, filler_text (i));
    rows[i] = (SrChunkRow){ i, texts->pdata[i], 0, "" };
  }
  add_document (f, DOC_A, SESSION, SHA_X, 1);
  BigReplace r = { .connection = sr_store_acquire (f->store, &error), .rows = rows };
  g_assert_no_error (error);

  GThread *thread = g_thread_new ("replace", replace_big, &r);
  /* The worker is inside its transaction by then: 30,000 chunks take far longer. */
  g_usleep (20000);
  g_assert_cmpint (g_atomic_int_get (&r.done), ==, 0);
  /* A statement outside a transaction, then a transaction, as the main loop writes. */
  g_assert_true (sr_store_session_touch (f->store, SESSION, 2, &error));
  g_assert_no_error (error);
  g_assert_true (sr_store_begin (f->store, &error));
  g_assert_true (sr_store_session_touch (f->store, SESSION, 3, &error));
  g_assert_true (sr_store_commit (f->store, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_atomic_int_get (&r.done), ==, 0);

  g_thread_join (thread);
  g_assert_no_error (r.error);
  sr_store_release (r.connection);
  g_autoptr (SrDocumentRecord) doc = sr_store_document_get (f->store, DOC_A, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (doc->state, ==, "ready");
  g_assert_cmpuint (doc->chunk_count, ==, BIG_DOCUMENT_CHUNKS);
  g_autoptr (SrSessionRecord) session = sr_store_session_get (f->store, SESSION, &error);
  g_assert_cmpint (session->last_active, ==, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, set_up, func, tear_down)
  ADD ("/documents-store/insert-and-get", test_insert_and_get);
  ADD ("/documents-store/list-by-session", test_list_by_session);
  ADD ("/documents-store/state-and-unfinished", test_state_and_unfinished);
  ADD ("/documents-store/delete-and-orphans", test_delete_and_orphans);
  ADD ("/documents-store/chunks/replace", test_chunks_replace);
  ADD ("/documents-store/chunks/replace-lets-writes-in", test_chunks_replace_lets_writes_in);
  ADD ("/documents-store/chunks/search-text", test_chunks_search_text);
  ADD ("/documents-store/chunks/search-session-isolation", test_chunks_search_session_isolation);
  ADD ("/documents-store/chunks/search-common-words", test_chunks_search_common_words);
  ADD ("/documents-store/chunks/search-ties", test_chunks_search_ties);
  ADD ("/documents-store/chunks/search-matches-exhaustive", test_chunks_search_matches_exhaustive);
  ADD ("/documents-store/chunks/compact", test_chunks_compact);
  ADD ("/documents-store/chunks/vectors-and-cascade", test_chunks_vectors_and_cascade);
  return g_test_run ();
}
