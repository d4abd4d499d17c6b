/* Unit tests for asking (src/service/queries.c), with a generator the test drives by hand. */
#include "common/errors.h"
#include "service/queries.h"
#include "service/sessions.h"
#include "store/messages.h"
#include "unit-helpers.h"

static const SrCaller alice = { 1000, FALSE, ":1.10" };
static const SrCaller alice_again = { 1000, FALSE, ":1.12" };
static const SrCaller bob = { 1001, FALSE, ":1.11" };

static const SrLimits limits = {
  .max_title_bytes = 512,
  .max_context_bytes = 65536,
  .max_text_bytes = 1 << 20,
};

/* One answer the scripted generator was asked for; the test says each token and the end. */
typedef struct {
  char *question;
  guint n_sources;
  guint n_history;
  char *history_roles; /* "ua" for a question and an answer */
  SrTokenFunc token;
  SrGenerateDone done;
  gpointer user_data;
  GCancellable *cancellable;
  gulong cancelled_handler;
  guint cancelled_idle;
  gboolean ended;
} Job;

typedef struct {
  SrGenerator parent;
  GPtrArray *jobs; /* Job*, in the order asked */
} Scripted;

static void
job_free (gpointer data)
{
  Job *job = data;
  g_cancellable_disconnect (job->cancellable, job->cancelled_handler);
  g_clear_handle_id (&job->cancelled_idle, g_source_remove);
  g_free (job->question);
  g_free (job->history_roles);
  g_clear_object (&job->cancellable);
  g_free (job);
}

static void
job_end (Job *job, const GError *error)
{
  g_assert_false (job->ended);
  job->ended = TRUE;
  SrGenerateStats stats = { "scripted-1", 7, 3 };
  job->done (&stats, error, job->user_data);
}

/* A generator stops at once when cancelled, as the real ones must. */
static gboolean
on_cancelled_idle (gpointer data)
{
  Job *job = data;
  job->cancelled_idle = 0;
  if (!job->ended) {
    g_autoptr (GError) error
        = g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED, "stopped");
    job_end (job, error);
  }
  return G_SOURCE_REMOVE;
}

static void
on_cancelled (GCancellable *cancellable, gpointer data)
{
  Job *job = data;
  /* GCancellable calls this with its lock held: the end comes from the loop. */
  job->cancelled_idle = g_idle_add (on_cancelled_idle, job);
}

static void
scripted_generate (SrGenerator *self, const SrGenerateRequest *request, GCancellable *cancellable,
                   SrTokenFunc token, SrGenerateDone done, gpointer user_data)
{
  Scripted *scripted = (Scripted *) self;
  Job *job = g_new0 (Job, 1);
  job->question = g_strdup (request->question);
  job->n_sources = request->n_sources;
  job->n_history = request->n_history;
  GString *roles = g_string_new (NULL);
  for (guint i = 0; i < request->n_history; i++)
    g_string_append_c (roles, request->history[i].role[0]);
  job->history_roles = g_string_free (roles, FALSE);
  job->token = token;
  job->done = done;
  job->user_data = user_data;
  job->cancellable = g_object_ref (cancellable);
  job->cancelled_handler
      = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), job, NULL);
  g_ptr_array_add (scripted->jobs, job);
}

static void
scripted_free (SrGenerator *self)
{
  g_ptr_array_unref (((Scripted *) self)->jobs);
  g_free (self);
}

static const SrGeneratorClass scripted_class = { "scripted", scripted_generate, scripted_free };

/* What a listener heard, in order: "S" sources, "T:text", "F:answer", "E:code:answer". */
typedef struct {
  GPtrArray *events;
  char *query_id;
  gboolean ended;
  gboolean destroyed;
} Heard;

typedef struct {
  char *dir;
  SrService *service;
  Scripted *generator; /* owned by the service */
  char *session;
  char *bob_session;
  Heard heard[8];
  guint n_heard;
} Fixture;

static void
on_sources (const char *query_id, GPtrArray *hits, gpointer user_data)
{
  Heard *heard = user_data;
  g_assert_cmpstr (query_id, ==, heard->query_id);
  g_ptr_array_add (heard->events, g_strdup ("S"));
}

static void
on_token (const char *query_id, const char *text, gpointer user_data)
{
  Heard *heard = user_data;
  g_ptr_array_add (heard->events, g_strdup_printf ("T:%s", text));
}

static void
on_finished (const char *query_id, const char *answer, GPtrArray *hits, const SrAnswerStats *stats,
             gpointer user_data)
{
  Heard *heard = user_data;
  g_assert_false (heard->ended);
  heard->ended = TRUE;
  g_assert_cmpstr (stats->backend, ==, "scripted");
  g_assert_cmpstr (stats->model, ==, "scripted-1");
  g_assert_cmpuint (stats->answer_tokens, ==, 3);
  g_assert_cmpfloat (stats->total_ms, >=, stats->ttft_ms);
  g_ptr_array_add (heard->events, g_strdup_printf ("F:%s", answer));
}

static void
on_failed (const char *query_id, const GError *error, const char *answer, gpointer user_data)
{
  Heard *heard = user_data;
  g_assert_false (heard->ended);
  heard->ended = TRUE;
  g_ptr_array_add (heard->events, g_strdup_printf ("E:%d:%s", smartrag_error_code (error), answer));
}

static void
on_destroy (gpointer user_data)
{
  Heard *heard = user_data;
  g_assert_false (heard->destroyed);
  heard->destroyed = TRUE;
}

static const SrAskListener listener = { on_sources, on_token, on_finished, on_failed };

static void
start (Fixture *f, const SrQueryLimits *query_limits)
{
  f->dir = sr_test_make_tmpdir ();
  f->service = sr_test_service_with_session (f->dir, &limits, &alice, &f->session);
  g_autoptr (GError) error = NULL;
  SrSessionSpec spec = SR_SESSION_SPEC_INIT;
  g_autoptr (SrSessionRecord) s = sr_sessions_create (f->service, &bob, &spec, &error);
  g_assert_no_error (error);
  f->bob_session = g_strdup (s->id);
  SrPipelineConfig pipeline = {
    .helper_path = SR_EXTRACT_HELPER,
    .chunking = SR_CHUNK_OPTIONS_DEFAULT,
    .embedder = sr_embedder_builtin_new (0),
  };
  sr_service_start_documents (f->service, &pipeline, 1);
  f->generator = g_new0 (Scripted, 1);
  f->generator->parent.klass = &scripted_class;
  f->generator->parent.model = g_strdup ("scripted-1");
  f->generator->jobs = g_ptr_array_new_with_free_func (job_free);
  sr_service_start_queries (f->service, &f->generator->parent, query_limits);
}

static void
set_up (Fixture *f, gconstpointer data)
{
  const SrQueryLimits query_limits = { 16 << 10, 2, 1, 4 };
  start (f, data != NULL ? data : &query_limits);
}

static void settle (Fixture *f);

static void
tear_down (Fixture *f, gconstpointer data)
{
  settle (f);
  g_clear_pointer (&f->service, sr_service_free);
  for (guint i = 0; i < f->n_heard; i++) {
    g_ptr_array_unref (f->heard[i].events);
    g_free (f->heard[i].query_id);
  }
  sr_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->session);
  g_free (f->bob_session);
}

static SrQueries *
queries (Fixture *f)
{
  return sr_service_queries (f->service);
}

/* Asks as @caller and returns what its listener will hear. */
static Heard *
ask (Fixture *f, const SrCaller *caller, const char *session, const char *question,
     gboolean history)
{
  g_autoptr (GError) error = NULL;
  Heard *heard = &f->heard[f->n_heard++];
  heard->events = g_ptr_array_new_with_free_func (g_free);
  SrAskOptions options = SR_ASK_OPTIONS_INIT;
  options.history = history;
  heard->query_id = sr_queries_ask (queries (f), caller, session, question, &options, &listener,
                                    heard, on_destroy, &error);
  g_assert_no_error (error);
  g_assert_nonnull (heard->query_id);
  return heard;
}

static void
iterate_until (gboolean (*done) (Fixture *f, gpointer data), Fixture *f, gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (!done (f, data)) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_main_context_iteration (NULL, TRUE);
  }
}

static gboolean
is_idle (Fixture *f, gpointer data)
{
  return sr_service_work_in_flight (f->service) == 0;
}

/* Every query stopped and every search back before the service goes: a search that came
 * back later would reach the next test's loop with this test's service and listeners. */
static void
settle (Fixture *f)
{
  if (f->service == NULL || queries (f) == NULL)
    return;
  const SrCaller *callers[] = { &alice, &alice_again, &bob };
  for (guint i = 0; i < G_N_ELEMENTS (callers); i++)
    sr_queries_cancel_peer (queries (f), callers[i]->peer);
  /* Polled: the last count of a search may drop on its worker thread, which wakes no
   * loop. */
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (!is_idle (f, NULL)) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  }
}

static gboolean
has_jobs (Fixture *f, gpointer n)
{
  return f->generator->jobs->len >= GPOINTER_TO_UINT (n);
}

static gboolean
has_ended (Fixture *f, gpointer heard)
{
  return ((Heard *) heard)->ended && ((Heard *) heard)->destroyed;
}

static gboolean
has_sources (Fixture *f, gpointer heard)
{
  return ((Heard *) heard)->events->len > 0;
}

static Job *
wait_job (Fixture *f, guint i)
{
  iterate_until (has_jobs, f, GUINT_TO_POINTER (i + 1));
  return f->generator->jobs->pdata[i];
}

static char *
joined (Heard *heard)
{
  g_ptr_array_add (heard->events, NULL);
  char *text = g_strjoinv (" | ", (char **) heard->events->pdata);
  g_ptr_array_set_size (heard->events, heard->events->len - 1);
  return text;
}

static GPtrArray *
messages (Fixture *f, const char *session)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *list = sr_store_messages_list (sr_service_store (f->service), session, 0, 100, &error);
  g_assert_no_error (error);
  return list;
}

static const SrMessageRecord *
message (GPtrArray *list, guint i)
{
  g_assert_cmpuint (i, <, list->len);
  return list->pdata[i];
}

static void
test_streams_in_order (Fixture *f, gconstpointer data)
{
  Heard *heard = ask (f, &alice, f->session, "What is in the box?", TRUE);
  Job *job = wait_job (f, 0);
  g_assert_cmpstr (job->question, ==, "What is in the box?");
  g_assert_cmpuint (job->n_history, ==, 0);
  job->token ("A ", job->user_data);
  job->token ("red ", job->user_data);
  job->token ("ball.", job->user_data);
  job_end (job, NULL);
  iterate_until (has_ended, f, heard);
  g_autofree char *events = joined (heard);
  g_assert_cmpstr (events, ==, "S | T:A  | T:red  | T:ball. | F:A red ball.");
  g_assert_cmpuint (sr_queries_running (queries (f)), ==, 0);

  g_autoptr (GPtrArray) stored = messages (f, f->session);
  g_assert_cmpuint (stored->len, ==, 2);
  g_assert_cmpstr (message (stored, 0)->role, ==, "user");
  g_assert_cmpstr (message (stored, 0)->content, ==, "What is in the box?");
  g_assert_cmpstr (message (stored, 0)->query_id, ==, heard->query_id);
  g_assert_cmpstr (message (stored, 1)->role, ==, "assistant");
  g_assert_cmpstr (message (stored, 1)->content, ==, "A red ball.");
  g_assert_cmpstr (message (stored, 1)->state, ==, "complete");
  g_assert_cmpstr (message (stored, 1)->backend, ==, "scripted");
  g_assert_cmpstr (message (stored, 1)->model, ==, "scripted-1");
  g_assert_cmpstr (message (stored, 1)->sources_json, ==, "[]");
  g_assert_cmpuint (message (stored, 1)->prompt_tokens, ==, 7);

  /* The next question carries the conversation, unless told not to. */
  Heard *second = ask (f, &alice, f->session, "And its colour?", TRUE);
  Job *next = wait_job (f, 1);
  g_assert_cmpuint (next->n_history, ==, 2);
  g_assert_cmpstr (next->history_roles, ==, "ua");
  job_end (next, NULL);
  iterate_until (has_ended, f, second);
  Heard *third = ask (f, &alice, f->session, "Alone?", FALSE);
  Job *alone = wait_job (f, 2);
  g_assert_cmpuint (alone->n_history, ==, 0);
  job_end (alone, NULL);
  iterate_until (has_ended, f, third);
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Heard *heard = ask (f, &alice, f->session, "Long question?", TRUE);
  Job *job = wait_job (f, 0);
  job->token ("Half ", job->user_data);

  /* Only the asker's user may cancel, and only in the query's session. */
  g_assert_false (sr_queries_cancel (queries (f), &bob, f->bob_session, heard->query_id, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (sr_queries_cancel (queries (f), &bob, f->session, heard->query_id, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT);
  g_clear_error (&error);

  g_assert_true (sr_queries_cancel (queries (f), &alice, f->session, heard->query_id, &error));
  g_assert_no_error (error);
  /* Failed at once, before the generator even noticed. */
  g_assert_true (heard->ended);
  g_autofree char *expected = g_strdup_printf ("T:Half  | E:%d:Half ", SMARTRAG_ERROR_CANCELLED);
  g_autofree char *events = joined (heard);
  g_assert_true (g_str_has_suffix (events, expected));
  g_assert_true (g_cancellable_is_cancelled (job->cancellable));
  /* A token the generator sends before it stops is dropped. */
  job->token ("more", job->user_data);
  iterate_until (has_ended, f, heard);
  g_assert_true (job->ended);
  g_autofree char *after = joined (heard);
  g_assert_cmpstr (after, ==, events);

  g_assert_false (sr_queries_cancel (queries (f), &alice, f->session, heard->query_id, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND);

  g_autoptr (GPtrArray) stored = messages (f, f->session);
  g_assert_cmpuint (stored->len, ==, 2);
  g_assert_cmpstr (message (stored, 1)->content, ==, "Half ");
  g_assert_cmpstr (message (stored, 1)->state, ==, "incomplete");
  g_assert_cmpstr (message (stored, 1)->error, ==, "The question was cancelled");
}

static void
test_cancel_before_generation (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Heard *heard = ask (f, &alice, f->session, "Quick?", TRUE);
  /* Retrieval has not come back: the loop has not run. */
  g_assert_true (sr_queries_cancel (queries (f), &alice, f->session, heard->query_id, &error));
  g_assert_no_error (error);
  iterate_until (has_ended, f, heard);
  g_autofree char *events = joined (heard);
  g_autofree char *expected = g_strdup_printf ("E:%d:", SMARTRAG_ERROR_CANCELLED);
  g_assert_cmpstr (events, ==, expected);
  /* The search result that comes back later starts nothing. */
  for (guint i = 0; i < 50; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (f->generator->jobs->len, ==, 0);
  g_autoptr (GPtrArray) stored = messages (f, f->session);
  g_assert_cmpuint (stored->len, ==, 2);
  g_assert_cmpstr (message (stored, 1)->state, ==, "failed");
}

static void
test_busy_per_user (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  /* Each question's sources are found before the next is asked: searches run on worker
   * threads, and the order in which they end is the order in which answers wait. */
  Heard *one = ask (f, &alice, f->session, "One?", TRUE);
  iterate_until (has_sources, f, one);
  Heard *two = ask (f, &alice_again, f->session, "Two?", TRUE);
  iterate_until (has_sources, f, two);
  SrAskOptions options = SR_ASK_OPTIONS_INIT;
  g_autofree char *refused = sr_queries_ask (queries (f), &alice, f->session, "Three?", &options,
                                             &listener, NULL, NULL, &error);
  g_assert_null (refused);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, "2 of yours are still being answered"));
  g_clear_error (&error);
  /* Another user is not held up by alice's questions. */
  Heard *bobs = ask (f, &bob, f->bob_session, "Bob's?", TRUE);
  iterate_until (has_sources, f, bobs);
  g_assert_cmpuint (sr_queries_running (queries (f)), ==, 3);

  /* One generation at a time (max_generations 1), oldest first. */
  Job *first = wait_job (f, 0);
  for (guint i = 0; i < 50; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (f->generator->jobs->len, ==, 1);
  g_assert_cmpstr (first->question, ==, "One?");
  job_end (first, NULL);
  iterate_until (has_ended, f, one);
  Job *second = wait_job (f, 1);
  g_assert_cmpstr (second->question, ==, "Two?");

  /* Room again for alice. */
  ask (f, &alice, f->session, "Four?", TRUE);
  g_assert_cmpuint (sr_queries_running (queries (f)), ==, 3);
}

static void
test_asker_leaves (Fixture *f, gconstpointer data)
{
  Heard *mine = ask (f, &alice, f->session, "Mine?", TRUE);
  Heard *twin = ask (f, &alice_again, f->session, "Twin's?", TRUE);
  wait_job (f, 0);
  sr_queries_cancel_peer (queries (f), alice.peer);
  g_assert_true (mine->ended);
  g_assert_false (twin->ended);
  g_autofree char *events = joined (mine);
  g_autofree char *expected = g_strdup_printf ("E:%d:", SMARTRAG_ERROR_CANCELLED);
  g_assert_true (g_str_has_suffix (events, expected));
  g_assert_cmpuint (sr_queries_running (queries (f)), ==, 1);
}

static void
test_refused_questions (Fixture *f, gconstpointer data)
{
  struct {
    const char *session;
    const char *question;
    guint k;
    const char *backend;
    double temperature;
    SmartragError code;
  } cases[] = {
    { f->session, "", 5, NULL, -1, SMARTRAG_ERROR_INVALID_ARGS },
    { f->session, " \t\n", 5, NULL, -1, SMARTRAG_ERROR_INVALID_ARGS },
    { f->session, "\xff\xfe", 5, NULL, -1, SMARTRAG_ERROR_INVALID_ARGS },
    { f->session, "ok?", 0, NULL, -1, SMARTRAG_ERROR_INVALID_ARGS },
    { f->session, "ok?", 101, NULL, -1, SMARTRAG_ERROR_INVALID_ARGS },
    { f->session, "ok?", 5, "ollama", -1, SMARTRAG_ERROR_INVALID_ARGS },
    { f->session, "ok?", 5, NULL, 2.5, SMARTRAG_ERROR_INVALID_ARGS },
    { f->session, "ok?", 5, NULL, -0.5, SMARTRAG_ERROR_INVALID_ARGS },
    { f->bob_session, "ok?", 5, NULL, -1, SMARTRAG_ERROR_UNKNOWN_OBJECT },
  };
  g_autofree char *huge = g_strnfill ((16 << 10) + 1, 'a');
  for (guint i = 0; i <= G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    SrAskOptions options = SR_ASK_OPTIONS_INIT;
    const char *session = f->session, *question = huge;
    SmartragError code = SMARTRAG_ERROR_TOO_LARGE;
    if (i < G_N_ELEMENTS (cases)) {
      session = cases[i].session;
      question = cases[i].question;
      options.k = cases[i].k;
      options.backend = cases[i].backend;
      options.temperature = cases[i].temperature;
      code = cases[i].code;
    }
    g_autofree char *id = sr_queries_ask (queries (f), &alice, session, question, &options,
                                          &listener, NULL, NULL, &error);
    g_assert_null (id);
    g_assert_error (error, SMARTRAG_ERROR, (gint) code);
  }
  g_autoptr (GPtrArray) stored = messages (f, f->session);
  g_assert_cmpuint (stored->len, ==, 0);
  g_assert_cmpuint (sr_queries_running (queries (f)), ==, 0);
}

static void
test_stop_keeps_partial_answers (Fixture *f, gconstpointer data)
{
  Heard *heard = ask (f, &alice, f->session, "Unfinished?", TRUE);
  Job *job = wait_job (f, 0);
  job->token ("So far", job->user_data);
  g_clear_pointer (&f->service, sr_service_free);
  g_assert_true (heard->destroyed);

  g_autoptr (GError) error = NULL;
  g_autoptr (SrStore) store = sr_store_open (f->dir, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) stored = sr_store_messages_list (store, f->session, 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (stored->len, ==, 2);
  g_assert_cmpstr (message (stored, 1)->content, ==, "So far");
  g_assert_cmpstr (message (stored, 1)->state, ==, "incomplete");
  g_assert_cmpstr (message (stored, 1)->error, ==, "The daemon stopped");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/queries/streams-in-order", Fixture, NULL, set_up, test_streams_in_order, tear_down);
  g_test_add ("/queries/cancel", Fixture, NULL, set_up, test_cancel, tear_down);
  g_test_add ("/queries/cancel-before-generation", Fixture, NULL, set_up,
              test_cancel_before_generation, tear_down);
  g_test_add ("/queries/busy-per-user", Fixture, NULL, set_up, test_busy_per_user, tear_down);
  g_test_add ("/queries/asker-leaves", Fixture, NULL, set_up, test_asker_leaves, tear_down);
  g_test_add ("/queries/refused-questions", Fixture, NULL, set_up, test_refused_questions,
              tear_down);
  g_test_add ("/queries/stop-keeps-partial-answers", Fixture, NULL, set_up,
              test_stop_keeps_partial_answers, tear_down);
  return g_test_run ();
}
