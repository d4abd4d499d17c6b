/* Unit tests for the ingestion workers (src/service/ingestion.c). */
#include "common/errors.h"
#include "service/documents.h"
#include "service/ingestion.h"
#include "store/documents.h"
#include "unit-helpers.h"

static const SrCaller alice = { 1000, FALSE, ":1.10" };

static const SrLimits limits = {
  .max_title_bytes = 512,
  .max_context_bytes = 65536,
  .max_file_bytes = 64 * 1024,
  .max_text_bytes = 64 * 1024,
  .upload_idle_timeout_ms = 1000,
};

typedef struct {
  GThread *thread; /* where every DocumentChanged was told */
  guint told;
  guint ready;
  gboolean elsewhere;
} Listened;

static void
on_changed (const SrDocumentRecord *document, const char *adder, gpointer user_data)
{
  Listened *l = user_data;
  l->told++;
  if (g_thread_self () != l->thread)
    l->elsewhere = TRUE;
  if (g_str_equal (document->state, "ready"))
    l->ready++;
}

static void
on_added (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;
  *out = g_object_ref (result);
}

static char *
add_text (SrService *service, const char *session, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  sr_documents_add_text_async (service, &alice, session, "", text, on_added, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_autoptr (SrDocumentRecord) doc = sr_documents_add_finish (result, &error);
  g_assert_no_error (error);
  return g_strdup (doc->id);
}

static gboolean
is_ready (SrService *service, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrDocumentRecord) doc = sr_store_document_get (sr_service_store (service), id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (doc->state, !=, "failed");
  return g_str_equal (doc->state, "ready");
}

/* Workers finish documents while no thread runs the main loop, as when a start resumes
 * them: what they tell must wait for the loop, on its thread. Told at once on the worker,
 * it used the main thread's database connection alongside it, which could damage what
 * that connection read. */
static void
test_results_wait_for_the_loop (void)
{
  g_autofree char *dir = sr_test_make_tmpdir ();
  g_autofree char *session = NULL;
  SrService *service = sr_test_service_with_session (dir, &limits, &alice, &session);
  enum { DOCUMENTS = 6 };
  /* g_autofree on an array would free its first element only. */
  char *ids[DOCUMENTS] = { 0 };
  for (guint i = 0; i < DOCUMENTS; i++) {
    g_autofree char *text = g_strdup_printf ("Document %u is about the number %u.", i, i * 7);
    ids[i] = add_text (service, session, text);
  }

  SrPipelineConfig pipeline = {
    .helper_path = SR_EXTRACT_HELPER,
    .chunking = SR_CHUNK_OPTIONS_DEFAULT,
    .embedder = sr_embedder_builtin_new (0),
  };
  sr_sandbox_limits_init (&pipeline.sandbox);
  sr_service_start_documents (service, &pipeline, 3);
  Listened listened = { .thread = g_thread_self () };
  sr_service_add_document_listener (service, on_changed, &listened);

  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  for (guint i = 0; i < DOCUMENTS; i++) {
    while (!is_ready (service, ids[i])) {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (5000);
    }
  }
  g_assert_cmpuint (listened.told, ==, 0);

  while (listened.ready < DOCUMENTS) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_main_context_iteration (NULL, TRUE);
  }
  g_assert_false (listened.elsewhere);
  for (guint i = 0; i < DOCUMENTS; i++)
    g_free (ids[i]);
  sr_service_free (service);
  sr_test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ingestion/results-wait-for-the-loop", test_results_wait_for_the_loop);
  return g_test_run ();
}
