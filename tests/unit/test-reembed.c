/* Unit tests for service/embedding.c: re-embedding, and waiting for a server that is down. */
/* The server is tests/fakes/fake_embed.py. */
#include <string.h>

#include "common/errors.h"
#include "fake-embed.h"
#include "service/documents.h"
#include "service/embedding.h"
#include "service/health.h"
#include "service/indexes.h"
#include "service/ingestion.h"
#include "service/search.h"
#include "store/chunks.h"
#include "unit-helpers.h"

#define DIMS     32
#define MODEL    "fake-embed"
#define MODEL_ID "ollama:" MODEL
#define WAIT_US  (60 * G_USEC_PER_SEC)

static const SrCaller alice = { 1000, FALSE, ":1.10" };

static const SrLimits limits = {
  .max_title_bytes = 512,
  .max_context_bytes = 65536,
  .max_file_bytes = 1024 * 1024,
  .max_text_bytes = 1024 * 1024,
  .upload_idle_timeout_ms = 1000,
};

/* Expected ones (a server that does not answer) are counted, not fatal. */
static guint warnings;

static GLogWriterOutput
count_warnings (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  if (level & G_LOG_LEVEL_WARNING) {
    warnings++;
    return g_log_writer_default (G_LOG_LEVEL_MESSAGE, fields, n_fields, data);
  }
  return g_log_writer_default (level, fields, n_fields, data);
}

typedef struct {
  char *dir;
  SrService *service;
  char *session;
  SrFakeEmbed *fake;
} Fixture;

static void
set_up (Fixture *f, gconstpointer data)
{
  const char *args[] = { "--dimensions", G_STRINGIFY (DIMS), NULL };
  f->dir = sr_test_make_tmpdir ();
  f->service = sr_test_service_with_session (f->dir, &limits, &alice, &f->session);
  f->fake = sr_fake_embed_start (args);
  warnings = 0;
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->service, sr_service_free);
  g_clear_pointer (&f->fake, sr_fake_embed_stop);
  sr_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->session);
}

static SrEmbedder *
ollama_at (const char *url, guint timeout)
{
  SrServerEmbedderOptions options
      = { .url = url, .model = MODEL, .batch_size = 4, .timeout = timeout };
  return sr_embedder_ollama_new (&options);
}

static void
start_documents (Fixture *f, SrEmbedder *embedder)
{
  SrPipelineConfig pipeline = {
    .helper_path = SR_EXTRACT_HELPER,
    .chunking = SR_CHUNK_OPTIONS_DEFAULT,
    .embedder = embedder,
  };
  sr_sandbox_limits_init (&pipeline.sandbox);
  sr_service_start_documents (f->service, &pipeline, 2);
}

/* A service on the same database, as after a restart. */
static void
restart (Fixture *f, SrEmbedder *embedder)
{
  g_autoptr (GError) error = NULL;
  g_clear_pointer (&f->service, sr_service_free);
  SrStore *store = sr_store_open (f->dir, &error);
  g_assert_no_error (error);
  f->service = sr_service_new (store, f->dir, &limits);
  start_documents (f, embedder);
}

static void
iterate_until (gboolean (*done) (Fixture *f, gconstpointer data), Fixture *f, gconstpointer data)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_US;
  while (!done (f, data)) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_main_context_iteration (NULL, FALSE);
    g_usleep (2000);
  }
}

static void
on_added (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static char *
add_text (Fixture *f, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  sr_documents_add_text_async (f->service, &alice, f->session, "", text, on_added, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_autoptr (SrDocumentRecord) doc = sr_documents_add_finish (result, &error);
  g_assert_no_error (error);
  return g_strdup (doc->id);
}

static SrDocumentRecord *
document (Fixture *f, const char *id)
{
  g_autoptr (GError) error = NULL;
  SrDocumentRecord *doc = sr_store_document_get (sr_service_store (f->service), id, &error);
  g_assert_no_error (error);
  return doc;
}

static gboolean
is_ready (Fixture *f, gconstpointer id)
{
  g_autoptr (SrDocumentRecord) doc = document (f, id);
  g_assert_cmpstr (doc->state, !=, "failed");
  return g_str_equal (doc->state, "ready");
}

static gboolean
has_failed (Fixture *f, gconstpointer id)
{
  g_autoptr (SrDocumentRecord) doc = document (f, id);
  g_assert_cmpstr (doc->state, !=, "ready");
  return g_str_equal (doc->state, "failed");
}

static gboolean
is_waiting (Fixture *f, gconstpointer id)
{
  return sr_ingestion_waiting (sr_service_ingestion (f->service)) > 0;
}

static gboolean
reembedding_done (Fixture *f, gconstpointer data)
{
  SrEmbeddingStats stats;
  sr_embedding_stats (sr_service_embedding (f->service), &stats);
  return stats.counted && stats.left == 0;
}

static gboolean
server_known (Fixture *f, gconstpointer data)
{
  g_auto (SrEmbedderStatus) status = { 0 };
  sr_embedder_get_status (sr_service_embedder (f->service), &status);
  return status.state != SR_EMBEDDER_UNKNOWN;
}

static guint64
chunks_of_model (Fixture *f, const char *model)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      sr_service_store (f->service),
      "SELECT count(*) FROM chunks WHERE embedding_model IS ?1 AND length(embedding) = ?2", &error);
  g_assert_no_error (error);
  sqlite3_bind_text (stmt, 1, model, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, (gint64) DIMS * sizeof (float));
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  return (guint64) sqlite3_column_int64 (stmt, 0);
}

static guint64
all_chunks (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  guint64 other = 0;
  /* Every chunk holds another model's vector than this name's. */
  g_assert_true (
      sr_store_chunks_count_stale (sr_service_store (f->service), "no model", &other, &error));
  g_assert_no_error (error);
  return other;
}

/* A text of @paragraphs (about 60 characters each), in words the fake hashes apart. */
static char *
long_text (const char *topic, guint paragraphs)
{
  g_autoptr (GString) text = g_string_new (NULL);
  for (guint i = 0; i < paragraphs; i++)
    g_string_append_printf (text, "Paragraph %u about %s covers %s number %u in plain words.\n\n",
                            i, topic, topic, i * 13);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* Documents made with the builtin embedder, one of them @paragraphs long; the ids of
 * those that became ready. */
static GPtrArray *
fill_with_builtin (Fixture *f, guint paragraphs)
{
  start_documents (f, sr_embedder_builtin_new (0));
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *gardens = long_text ("gardens", paragraphs);
  g_ptr_array_add (ids, add_text (f, gardens));
  g_ptr_array_add (ids, add_text (f, "The lighthouse keeper polishes the great lens at dusk."));
  g_ptr_array_add (ids, add_text (f, "Sourdough needs flour, water, salt and a patient baker."));
  for (guint i = 0; i < ids->len; i++)
    iterate_until (is_ready, f, ids->pdata[i]);
  return ids;
}

static gint64
chunk_id_of (Fixture *f, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (sqlite3_stmt) stmt = sr_store_statement (
      sr_service_store (f->service), "SELECT id FROM chunks WHERE text = ?1", &error);
  g_assert_no_error (error);
  sqlite3_bind_text (stmt, 1, text, -1, SQLITE_STATIC);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  return sqlite3_column_int64 (stmt, 0);
}

/* The nearest chunk to @text's vector is @text's chunk: the graph holds the new vectors. */
static void
assert_found_by_vector (Fixture *f, const char *text)
{
  g_autoptr (GError) error = NULL;
  SrEmbedder *embedder = sr_service_embedder (f->service);
  float query[DIMS];
  const char *texts[] = { text };
  g_assert_true (sr_embedder_embed (embedder, texts, 1, query, NULL, &error));
  g_assert_no_error (error);
  gint64 labels[3];
  guint n = sr_indexes_search (sr_service_indexes (f->service), sr_service_store (f->service),
                               f->session, query, DIMS, G_N_ELEMENTS (labels), labels, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, >, 0);
  g_assert_cmpint (labels[0], ==, chunk_id_of (f, text));
}

static GPtrArray *
search (Fixture *f, const char *text)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *hits
      = sr_search (f->service, sr_service_indexes (f->service), sr_service_embedder (f->service),
                   &alice, f->session, text, 3, SR_SEARCH_HYBRID, &error);
  g_assert_no_error (error);
  return hits;
}

/* The embedder changes from builtin to a server's model: every chunk is embedded again in
 * the background, the new vectors are stored and searched, and the graph files of the
 * old model are gone. */
static void
test_builtin_to_server (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) ids = fill_with_builtin (f, 60);
  guint64 total = all_chunks (f);
  g_assert_cmpuint (total, >, 4);
  /* A search saves a graph of the builtin model's vectors. */
  g_autoptr (GPtrArray) before = search (f, "lighthouse lens");
  g_assert_cmpuint (before->len, >, 0);

  restart (f, ollama_at (f->fake->url, 5));
  iterate_until (reembedding_done, f, NULL);
  SrEmbeddingStats stats;
  sr_embedding_stats (sr_service_embedding (f->service), &stats);
  g_assert_cmpuint (stats.done, ==, total);
  g_assert_cmpuint (stats.skipped, ==, 0);
  g_assert_cmpuint (chunks_of_model (f, MODEL_ID), ==, total);
  guint64 stale = 1;
  g_autoptr (GError) error = NULL;
  g_assert_true (
      sr_store_chunks_count_stale (sr_service_store (f->service), MODEL_ID, &stale, &error));
  g_assert_cmpuint (stale, ==, 0);

  /* Handed to the graphs from the main loop. */
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  assert_found_by_vector (f, "The lighthouse keeper polishes the great lens at dusk.");
  assert_found_by_vector (f, "Sourdough needs flour, water, salt and a patient baker.");
  /* No word of it is in any document: only the vectors find anything. */
  g_autoptr (GPtrArray) hits = search (f, "zebra");
  g_assert_cmpuint (hits->len, >, 0);

  /* Nothing left for the next start. */
  restart (f, ollama_at (f->fake->url, 5));
  iterate_until (reembedding_done, f, NULL);
  sr_embedding_stats (sr_service_embedding (f->service), &stats);
  g_assert_cmpuint (stats.done, ==, 0);
  g_assert_cmpuint (warnings, ==, 0);
}

/* SQLite is the work list: a stop half-way loses nothing, and the next start goes on. */
static void
test_resumes_after_stop (Fixture *f, gconstpointer data)
{
  /* More chunks than one round of the thread takes, which is stored at once. */
  g_autoptr (GPtrArray) ids = fill_with_builtin (f, 1500);
  guint64 total = all_chunks (f);
  sr_fake_embed_control (f->fake, "{\"delay\": 0.2}");
  restart (f, ollama_at (f->fake->url, 5));
  gint64 deadline = g_get_monotonic_time () + WAIT_US;
  while (chunks_of_model (f, MODEL_ID) == 0) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (10000);
  }
  g_clear_pointer (&f->service, sr_service_free);

  sr_fake_embed_control (f->fake, "{\"reset\": true}");
  restart (f, ollama_at (f->fake->url, 5));
  guint64 before = chunks_of_model (f, MODEL_ID);
  g_assert_cmpuint (before, >, 0);
  g_assert_cmpuint (before, <, total);
  iterate_until (reembedding_done, f, NULL);
  SrEmbeddingStats stats;
  sr_embedding_stats (sr_service_embedding (f->service), &stats);
  g_assert_cmpuint (stats.done, ==, total - before);
  g_assert_cmpuint (chunks_of_model (f, MODEL_ID), ==, total);
}

/* A chunk the server refuses while it answers others keeps its old vector, and the rest
 * are embedded all the same. */
static void
test_refused_chunk_skipped (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) ids = fill_with_builtin (f, 60);
  guint64 total = all_chunks (f);
  sr_fake_embed_control (f->fake, "{\"refuse\": \"lighthouse\"}");
  restart (f, ollama_at (f->fake->url, 5));
  iterate_until (reembedding_done, f, NULL);
  SrEmbeddingStats stats;
  sr_embedding_stats (sr_service_embedding (f->service), &stats);
  g_assert_cmpuint (stats.skipped, ==, 1);
  g_assert_cmpuint (stats.done, ==, total - 1);
  g_assert_cmpuint (chunks_of_model (f, MODEL_ID), ==, total - 1);
  g_assert_cmpuint (warnings, ==, 1);
}

/* The same model name now gives narrower vectors: the stored ones are embedded again. */
static void
test_width_changed (Fixture *f, gconstpointer data)
{
  start_documents (f, ollama_at (f->fake->url, 5));
  g_autofree char *id = add_text (f, "Tides follow the moon, twice a day.");
  iterate_until (is_ready, f, id);
  g_assert_cmpuint (chunks_of_model (f, MODEL_ID), ==, 1);

  const char *args[] = { "--dimensions", "16", NULL };
  g_clear_pointer (&f->service, sr_service_free);
  g_clear_pointer (&f->fake, sr_fake_embed_stop);
  f->fake = sr_fake_embed_start (args);
  restart (f, ollama_at (f->fake->url, 5));
  iterate_until (reembedding_done, f, NULL);
  SrEmbeddingStats stats;
  sr_embedding_stats (sr_service_embedding (f->service), &stats);
  g_assert_cmpuint (stats.done, ==, 1);
  g_assert_cmpuint (sr_embedder_dimensions (sr_service_embedder (f->service)), ==, 16);
  g_assert_cmpuint (warnings, ==, 1);
}

static SrHealthStatus
embedding_health (Fixture *f, const char **message, guint *waiting)
{
  g_autoptr (GVariant) components = NULL;
  sr_health_check (f->service, &components);
  g_autoptr (GVariant) embedding
      = g_variant_lookup_value (components, "embedding", G_VARIANT_TYPE_VARDICT);
  const char *status = NULL;
  g_assert_true (g_variant_lookup (embedding, "status", "&s", &status));
  static char kept[1024];
  const char *said = NULL;
  g_assert_true (g_variant_lookup (embedding, "message", "&s", &said));
  g_strlcpy (kept, said, sizeof kept);
  *message = kept;
  g_assert_true (g_variant_lookup (embedding, "documents_waiting", "u", waiting));
  return g_str_equal (status, "ok")         ? SR_HEALTH_OK
         : g_str_equal (status, "degraded") ? SR_HEALTH_DEGRADED
                                            : SR_HEALTH_FAILING;
}

/* A document added while the server does not answer is not lost: it waits, saying why,
 * a restart in between keeps it, and it is indexed once the server is back. Searches
 * meanwhile find the other documents by their words, without waiting for the server. */
static void
test_document_waits_for_server (Fixture *f, gconstpointer data)
{
  guint port = f->fake->port;
  g_autofree char *url = g_strdup (f->fake->url);
  start_documents (f, ollama_at (url, 5));
  g_autofree char *first = add_text (f, "Ferries cross the fjord every hour.");
  iterate_until (is_ready, f, first);
  g_clear_pointer (&f->fake, sr_fake_embed_stop);

  g_autofree char *id = add_text (f, "Glaciers carve valleys over thousands of years.");
  iterate_until (is_waiting, f, NULL);
  g_autoptr (SrDocumentRecord) waiting = document (f, id);
  g_assert_cmpstr (waiting->state, ==, "indexing");
  g_autofree char *expected
      = g_strdup_printf ("Waiting for the embedding server: Cannot reach Ollama at %s: "
                         "connection refused — is 'ollama serve' running?",
                         url);
  g_assert_cmpstr (waiting->message, ==, expected);

  const char *message = NULL;
  guint n_waiting = 0;
  g_assert_cmpint (embedding_health (f, &message, &n_waiting), ==, SR_HEALTH_DEGRADED);
  g_assert_cmpuint (n_waiting, ==, 1);
  g_assert_nonnull (strstr (message, url));
  g_assert_nonnull (strstr (message, "1 document(s) wait for the server"));
  g_autoptr (GPtrArray) ferries = search (f, "fjord ferries");
  g_assert_cmpuint (ferries->len, ==, 1);

  /* Unfinished in the database: the next start takes it up again. */
  restart (f, ollama_at (url, 5));
  iterate_until (is_waiting, f, NULL);

  const char *args[] = { "--dimensions", G_STRINGIFY (DIMS), NULL };
  f->fake = sr_fake_embed_start_on (port, args);
  iterate_until (is_ready, f, id);
  g_autoptr (GPtrArray) found = search (f, "glaciers");
  g_assert_cmpuint (found->len, >, 0);
  g_assert_cmpuint (sr_ingestion_waiting (sr_service_ingestion (f->service)), ==, 0);
  g_assert_cmpint (embedding_health (f, &message, &n_waiting), ==, SR_HEALTH_OK);
  g_assert_cmpuint (n_waiting, ==, 0);
  g_assert_cmpuint (warnings, >=, 1);
}

/* A server that answers others but refuses this document's text: waiting would not help,
 * the document fails with the server's words. */
static void
test_refused_document_fails (Fixture *f, gconstpointer data)
{
  start_documents (f, ollama_at (f->fake->url, 5));
  iterate_until (server_known, f, NULL);
  sr_fake_embed_control (f->fake, "{\"refuse\": \"volcano\"}");
  g_autofree char *id = add_text (f, "The volcano slept for a thousand years.");
  iterate_until (has_failed, f, id);
  g_autoptr (SrDocumentRecord) doc = document (f, id);
  g_autofree char *expected
      = g_strdup_printf ("Ollama at %s could not embed with model '%s' (HTTP 400): the input "
                         "cannot be embedded",
                         f->fake->url, MODEL);
  g_assert_cmpstr (doc->message, ==, expected);
  g_assert_cmpuint (sr_ingestion_waiting (sr_service_ingestion (f->service)), ==, 0);
}

/* The server fails the document's call and answers the probe after it: it may just have
 * come back (it was starting, or restarted in between). The document is tried once more
 * instead of failing. */
static void
test_document_survives_one_failed_call (Fixture *f, gconstpointer data)
{
  start_documents (f, ollama_at (f->fake->url, 5));
  iterate_until (server_known, f, NULL);
  sr_fake_embed_control (f->fake, "{\"fail\": {\"status\": 503, \"times\": 1}}");
  g_autofree char *id = add_text (f, "Glaciers carve valleys over thousands of years.");
  iterate_until (is_ready, f, id);
  g_assert_cmpuint (sr_ingestion_waiting (sr_service_ingestion (f->service)), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_log_set_writer_func (count_warnings, NULL, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, set_up, func, tear_down)
  ADD ("/reembed/builtin-to-server", test_builtin_to_server);
  ADD ("/reembed/resumes-after-stop", test_resumes_after_stop);
  ADD ("/reembed/refused-chunk-skipped", test_refused_chunk_skipped);
  ADD ("/reembed/width-changed", test_width_changed);
  ADD ("/reembed/document-waits-for-server", test_document_waits_for_server);
  ADD ("/reembed/refused-document-fails", test_refused_document_fails);
  ADD ("/reembed/document-survives-one-failed-call", test_document_survives_one_failed_call);
#undef ADD
  return g_test_run ();
}
