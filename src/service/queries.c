/* Asking questions: retrieval, generation and the stored conversation, streamed to the asker. */
#include "service/queries.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <json-glib/json-glib.h>

#include "common/durations.h"
#include "common/errors.h"
#include "common/unichar.h"
#include "common/ids.h"
#include "service/metrics.h"
#include "service/search.h"
#include "service/sessions.h"
#include "store/chunks.h"
#include "store/messages.h"
#include "store/sessions.h"

#define MAX_MODEL_BYTES   256
#define MAX_ANSWER_TOKENS 65536

typedef enum {
  STAGE_RETRIEVING,
  STAGE_WAITING, /* for a generation slot */
  STAGE_GENERATING,
  STAGE_DONE,
} Stage;

typedef struct {
  gint refs;
  SrQueries *queries;
  Stage stage;
  char *id;
  char *session_id;
  char *peer;
  guint32 uid;
  char *question;
  SrAskOptions options; /* its strings are owned */
  SrAskListener listener;
  gpointer user_data;
  GDestroyNotify destroy;
  GCancellable *cancellable;
  gint64 started;     /* monotonic µs */
  gint64 first_token; /* monotonic µs; 0 until the first */
  GString *answer;
  GPtrArray *hits;        /* SrChunkHit*, the sources */
  GPtrArray *history;     /* SrMessageRecord*, oldest first */
  SrGenerator *generator; /* the one the options chose; the queries' own */
  guint generator_tokens;
} Query;

struct SrQueries {
  SrService *service;
  SrGenerator *generator; /* the configured one */
  GPtrArray *others;      /* SrGenerator*: more that Ask's option backend may name */
  SrQueryLimits limits;
  GHashTable *running;  /* id → Query* (one reference) */
  GHashTable *per_user; /* uid → number running */
  GQueue waiting;       /* Query*, for a generation slot, oldest first */
  /* Query* the generator has not called back yet, a stopped one included: it holds a
   * generation slot until then. */
  GHashTable *generating;
};

static Query *
query_ref (Query *query)
{
  query->refs++;
  return query;
}

static void
query_unref (Query *query)
{
  if (--query->refs > 0)
    return;
  if (query->destroy != NULL)
    query->destroy (query->user_data);
  g_free (query->id);
  g_free (query->session_id);
  g_free (query->peer);
  g_free (query->question);
  g_free ((char *) query->options.backend);
  g_free ((char *) query->options.model);
  g_clear_object (&query->cancellable);
  g_string_free (query->answer, TRUE);
  g_clear_pointer (&query->hits, g_ptr_array_unref);
  g_clear_pointer (&query->history, g_ptr_array_unref);
  g_free (query);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Query, query_unref)

static double
ms_since (gint64 start, gint64 end)
{
  return (double) (end - start) / 1000.0;
}

/* The sources as the conversation keeps them: what a search hit says. */
static char *
sources_json (GPtrArray *hits)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_array (builder);
  for (guint i = 0; hits != NULL && i < hits->len; i++) {
    const SrChunkHit *hit = hits->pdata[i];
    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "document_id");
    json_builder_add_string_value (builder, hit->document_id);
    json_builder_set_member_name (builder, "filename");
    json_builder_add_string_value (builder, hit->filename);
    json_builder_set_member_name (builder, "chunk");
    json_builder_add_int_value (builder, hit->ordinal);
    if (hit->page > 0) {
      json_builder_set_member_name (builder, "page");
      json_builder_add_int_value (builder, hit->page);
    }
    json_builder_set_member_name (builder, "heading");
    json_builder_add_string_value (builder, hit->heading);
    json_builder_set_member_name (builder, "text");
    json_builder_add_string_value (builder, hit->text);
    json_builder_set_member_name (builder, "score");
    json_builder_add_double_value (builder, hit->score);
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

static void
store_message (Query *query, const SrMessageRecord *message)
{
  g_autoptr (GError) error = NULL;
  gint64 id;
  /* A session deleted while its question was answered takes its messages with it. */
  if (!sr_store_message_insert (sr_service_store (query->queries->service), message, &id, &error)) {
    g_debug ("Cannot store a message of query %s: %s", query->id, error->message);
    return;
  }
  static const char *const changed[] = { "MessageCount", NULL };
  sr_service_session_changed (query->queries->service, query->session_id, changed);
}

static void
store_answer (Query *query, const char *state, const GError *error, const SrAnswerStats *stats)
{
  g_autofree char *sources = sources_json (query->hits);
  SrMessageRecord message = {
    .session_id = query->session_id,
    .query_id = query->id,
    .role = (char *) "assistant",
    .content = query->answer->str,
    .sources_json = sources,
    .state = (char *) state,
    .error = (char *) (error != NULL ? error->message : ""),
    .backend = (char *) stats->backend,
    .model = (char *) stats->model,
    .ttft_ms = stats->ttft_ms,
    .total_ms = stats->total_ms,
    .prompt_tokens = stats->prompt_tokens,
    .answer_tokens = stats->answer_tokens,
    .created_at = sr_now_us (),
  };
  store_message (query, &message);
}

/* Takes the query out of the running ones; the caller holds a reference of its own. */
static void
query_retire (Query *query)
{
  SrQueries *queries = query->queries;
  query->stage = STAGE_DONE;
  g_queue_remove (&queries->waiting, query);
  guint count
      = GPOINTER_TO_UINT (g_hash_table_lookup (queries->per_user, GUINT_TO_POINTER (query->uid)));
  if (count <= 1)
    g_hash_table_remove (queries->per_user, GUINT_TO_POINTER (query->uid));
  else
    g_hash_table_insert (queries->per_user, GUINT_TO_POINTER (query->uid),
                         GUINT_TO_POINTER (count - 1));
  g_hash_table_remove (queries->running, query->id);
  sr_service_work_end (queries->service);
}

static void
fill_stats (Query *query, SrAnswerStats *stats, const SrGenerateStats *generated)
{
  gint64 now = g_get_monotonic_time ();
  stats->backend = generated != NULL && generated->backend != NULL ? generated->backend
                                                                   : query->generator->klass->name;
  stats->model
      = generated != NULL && generated->model != NULL ? generated->model : query->generator->model;
  stats->ttft_ms = query->first_token > 0 ? ms_since (query->started, query->first_token) : 0;
  stats->total_ms = ms_since (query->started, now);
  stats->prompt_tokens = generated != NULL ? generated->prompt_tokens : 0;
  stats->answer_tokens = generated != NULL ? generated->answer_tokens : query->generator_tokens;
}

static void
count_query (Query *query, const SrAnswerStats *stats, SrQueryOutcome outcome)
{
  double first_token = query->first_token > 0 ? stats->ttft_ms / 1000.0 : -1.0;
  sr_metrics_observe_query (sr_service_metrics (query->queries->service), stats->backend, outcome,
                            stats->total_ms / 1000.0, first_token);
}

/* Ends the query with @error; what was answered so far is kept as incomplete, with what
 * the generator said of it (@generated, NULL when it has not ended). */
static void
query_fail (Query *query, const GError *error, const SrGenerateStats *generated)
{
  if (query->stage == STAGE_DONE)
    return;
  SrAnswerStats stats;
  fill_stats (query, &stats, generated);
  gboolean said_some = query->answer->len > 0;
  store_answer (query, said_some ? "incomplete" : "failed", error, &stats);
  /* The conversation keeps what was said; metrics also tell a person's cancel apart. */
  if (g_error_matches (error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED))
    count_query (query, &stats, SR_QUERY_CANCELLED);
  else
    count_query (query, &stats, said_some ? SR_QUERY_INCOMPLETE : SR_QUERY_FAILED);
  g_autoptr (Query) hold = query_ref (query);
  query_retire (query);
  if (query->listener.failed != NULL)
    query->listener.failed (query->id, error, query->answer->str, query->user_data);
  g_info ("Query %s of uid %u stopped: %s", query->id, query->uid, error->message);
}

static void
query_finish (Query *query, const SrGenerateStats *generated)
{
  SrAnswerStats stats;
  fill_stats (query, &stats, generated);
  store_answer (query, "complete", NULL, &stats);
  count_query (query, &stats, SR_QUERY_COMPLETE);
  g_autoptr (Query) hold = query_ref (query);
  query_retire (query);
  if (query->listener.finished != NULL)
    query->listener.finished (query->id, query->answer->str, query->hits, &stats, query->user_data);
  g_debug ("Query %s answered in %.1f ms (first token after %.1f ms)", query->id, stats.total_ms,
           stats.ttft_ms);
}

static void pump (SrQueries *queries);

static void
on_token (const char *text, gpointer user_data)
{
  Query *query = user_data;
  if (query->stage != STAGE_GENERATING || *text == '\0')
    return;
  if (query->first_token == 0)
    query->first_token = g_get_monotonic_time ();
  query->generator_tokens++;
  g_string_append (query->answer, text);
  if (query->listener.token != NULL)
    query->listener.token (query->id, text, query->user_data);
}

static void
on_generated (const SrGenerateStats *stats, const GError *error, gpointer user_data)
{
  g_autoptr (Query) query = user_data;
  SrQueries *queries = query->queries;
  g_hash_table_remove (queries->generating, query);
  if (query->stage == STAGE_GENERATING) {
    if (error != NULL)
      query_fail (query, error, stats);
    else
      query_finish (query, stats);
  }
  pump (queries);
}

static void
generate (Query *query)
{
  SrQueries *queries = query->queries;
  guint n_sources = query->hits->len;
  g_autofree SrPromptSource *sources = g_new0 (SrPromptSource, MAX (n_sources, 1));
  for (guint i = 0; i < n_sources; i++) {
    const SrChunkHit *hit = query->hits->pdata[i];
    sources[i] = (SrPromptSource){ i + 1, hit->filename, (guint) MAX (hit->page, 0), hit->heading,
                                   hit->text };
  }
  guint n_history = query->history->len;
  g_autofree SrChatTurn *history = g_new0 (SrChatTurn, MAX (n_history, 1));
  for (guint i = 0; i < n_history; i++) {
    const SrMessageRecord *message = query->history->pdata[i];
    history[i] = (SrChatTurn){ message->role, message->content };
  }
  SrGenerateRequest request = {
    .question = query->question,
    .sources = sources,
    .n_sources = n_sources,
    .history = history,
    .n_history = n_history,
    .model = query->options.model,
    .temperature = query->options.temperature,
    .max_tokens = query->options.max_tokens,
  };
  query->stage = STAGE_GENERATING;
  g_hash_table_add (queries->generating, query);
  sr_generator_generate (query->generator, &request, query->cancellable, on_token, on_generated,
                         query_ref (query));
}

/* Starts waiting answers, oldest first, while generation slots are free. */
static void
pump (SrQueries *queries)
{
  while (g_hash_table_size (queries->generating) < queries->limits.max_generations) {
    Query *query = g_queue_pop_head (&queries->waiting);
    if (query == NULL)
      return;
    generate (query);
  }
}

static gint
by_arrival (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const Query *x = a, *y = b;
  return x->started < y->started ? -1 : x->started > y->started;
}

static void
on_retrieved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Query) query = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) hits = sr_search_finish (result, &error);

  if (query->stage != STAGE_RETRIEVING)
    return;
  if (hits == NULL) {
    query_fail (query, error, NULL);
    return;
  }
  query->hits = g_steal_pointer (&hits);
  if (query->listener.sources != NULL)
    query->listener.sources (query->id, query->hits, query->user_data);
  if (query->stage != STAGE_RETRIEVING)
    return;
  query->stage = STAGE_WAITING;
  /* Retrievals end in any order; the answers start in the order they were asked. */
  g_queue_insert_sorted (&query->queries->waiting, query, by_arrival, NULL);
  pump (query->queries);
}

/* The generator answering to @name: the configured one, or one it holds ("builtin" inside
 * "auto"), or one added beside it. */
static SrGenerator *
generator_named (SrQueries *queries, const char *name)
{
  SrGenerator *found = sr_generator_part (queries->generator, name);
  for (guint i = 0; found == NULL && i < queries->others->len; i++)
    found = sr_generator_part (queries->others->pdata[i], name);
  return found;
}

/* "auto, builtin, ollama": what Ask's option backend may say here. */
static char *
backend_names (SrQueries *queries)
{
  static const char *const candidates[] = { "builtin", "ollama", "openai" };
  GString *names = g_string_new ("auto");
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (generator_named (queries, candidates[i]) != NULL)
      g_string_append_printf (names, ", %s", candidates[i]);
  return g_string_free (names, FALSE);
}

/* "auto" or nothing: the configured generator, whatever chooses it. */
static gboolean
choose_generator (SrQueries *queries, const char *backend, SrGenerator **chosen, GError **error)
{
  if (backend == NULL || *backend == '\0' || g_str_equal (backend, "auto")) {
    *chosen = queries->generator;
    return TRUE;
  }
  *chosen = generator_named (queries, backend);
  if (*chosen != NULL)
    return TRUE;
  g_autofree char *names = backend_names (queries);
  return sr_error_set (
      error, SMARTRAG_ERROR_INVALID_ARGS,
      _ ("Invalid backend '%s': expected one of %s (what this daemon is configured "
         "with)"),
      backend, names);
}

static gboolean
check_options (SrQueries *queries, const char *question, const SrAskOptions *options,
               SrGenerator **generator, GError **error)
{
  if (!g_utf8_validate (question, -1, NULL))
    return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Invalid question: it is not UTF-8"));
  if (strlen (question) > queries->limits.max_question_bytes)
    return sr_error_set (error, SMARTRAG_ERROR_TOO_LARGE,
                         _ ("Invalid question: expected UTF-8 of at most %" PRIu64 " bytes"),
                         queries->limits.max_question_bytes);
  if (sr_text_is_blank (question))
    return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS, _ ("Invalid question: it is empty"));
  if (options->k < 1 || options->k > SR_SEARCH_MAX_K)
    return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Invalid k: expected 1 to %d sources"), SR_SEARCH_MAX_K);
  if (!choose_generator (queries, options->backend, generator, error))
    return FALSE;
  if (options->model != NULL
      && (!g_utf8_validate (options->model, -1, NULL) || strlen (options->model) > MAX_MODEL_BYTES))
    return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Invalid model: expected UTF-8 of at most %d bytes"), MAX_MODEL_BYTES);
  if (options->temperature > 2.0 || (options->temperature < 0 && options->temperature != -1.0))
    return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Invalid temperature: expected 0 to 2"));
  if (options->max_tokens > MAX_ANSWER_TOKENS)
    return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Invalid max_tokens: expected at most %d"), MAX_ANSWER_TOKENS);
  return TRUE;
}

static gboolean
check_room (SrQueries *queries, const SrCaller *caller, GError **error)
{
  guint mine
      = GPOINTER_TO_UINT (g_hash_table_lookup (queries->per_user, GUINT_TO_POINTER (caller->uid)));
  if (queries->limits.max_per_user == 0 || mine < queries->limits.max_per_user)
    return TRUE;
  return sr_error_set (error, SMARTRAG_ERROR_BUSY,
                       g_dngettext (GETTEXT_PACKAGE,
                                    "Too many questions at once: %u of yours is still being "
                                    "answered; wait for it or cancel it",
                                    "Too many questions at once: %u of yours are still being "
                                    "answered; wait for one or cancel it",
                                    mine),
                       mine);
}

/* The text retrieval is given: the question, cut at a character boundary to what a
 * search takes. */
static char *
retrieval_text (const char *question)
{
  if (strlen (question) <= SR_SEARCH_MAX_QUERY_BYTES)
    return g_strdup (question);
  const char *end = g_utf8_find_prev_char (question, question + SR_SEARCH_MAX_QUERY_BYTES + 1);
  return g_strndup (question, (gsize) (end - question));
}

static Query *
query_new (SrQueries *queries, const SrCaller *caller, const char *session_id, const char *question,
           const SrAskOptions *options)
{
  Query *query = g_new0 (Query, 1);
  query->refs = 1;
  query->queries = queries;
  query->id = sr_id_new ();
  query->session_id = g_strdup (session_id);
  query->peer = g_strdup (caller->peer);
  query->uid = caller->uid;
  query->question = g_strdup (question);
  query->options = *options;
  query->options.backend = g_strdup (options->backend);
  query->options.model
      = options->model != NULL && *options->model != '\0' ? g_strdup (options->model) : NULL;
  query->cancellable = g_cancellable_new ();
  query->started = g_get_monotonic_time ();
  query->answer = g_string_new (NULL);
  return query;
}

char *
sr_queries_ask (SrQueries *queries, const SrCaller *caller, const char *session_id,
                const char *question, const SrAskOptions *options, const SrAskListener *listener,
                gpointer user_data, GDestroyNotify destroy, GError **error)
{
  SrService *service = queries->service;
  SrGenerator *generator = NULL;
  if (!sr_service_accepting (service, error)
      || !sr_sessions_check_access (service, caller, session_id, error)
      || !check_options (queries, question, options, &generator, error)
      || !check_room (queries, caller, error))
    return NULL;

  SrStore *store = sr_service_store (service);
  guint n_history = options->history ? queries->limits.history_messages : 0;
  g_autoptr (GPtrArray) history
      = n_history > 0 ? sr_store_messages_recent (store, session_id, n_history, error)
                      : g_ptr_array_new ();
  if (history == NULL)
    return NULL;

  g_autoptr (Query) query = query_new (queries, caller, session_id, question, options);
  query->generator = generator;
  SrMessageRecord asked = {
    .session_id = query->session_id,
    .query_id = query->id,
    .role = (char *) "user",
    .content = query->question,
    .sources_json = (char *) "[]",
    .state = (char *) "complete",
    .error = (char *) "",
    .backend = (char *) "",
    .model = (char *) "",
    .created_at = sr_now_us (),
  };
  gint64 message_id;
  if (!sr_store_message_insert (store, &asked, &message_id, error))
    return NULL;
  sr_store_session_touch (store, session_id, asked.created_at, NULL);
  static const char *const changed[] = { "MessageCount", "LastActive", NULL };
  sr_service_session_changed (service, session_id, changed);

  query->history = g_steal_pointer (&history);
  query->listener = *listener;
  query->user_data = user_data;
  query->destroy = destroy;
  guint mine
      = GPOINTER_TO_UINT (g_hash_table_lookup (queries->per_user, GUINT_TO_POINTER (caller->uid)));
  g_hash_table_insert (queries->per_user, GUINT_TO_POINTER (caller->uid),
                       GUINT_TO_POINTER (mine + 1));
  g_hash_table_insert (queries->running, query->id, query_ref (query));
  /* Counted as work under way: a stop lets the answer finish, within its deadline. */
  sr_service_work_begin (service);

  g_autofree char *text = retrieval_text (question);
  sr_search_async (service, caller, session_id, text, options->k, SR_SEARCH_HYBRID, on_retrieved,
                   query_ref (query));
  g_info ("Query %s of uid %u in session %s", query->id, caller->uid, session_id);
  return g_strdup (query->id);
}

static void
stop (Query *query, SmartragError code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (SMARTRAG_ERROR, code, message);
  g_cancellable_cancel (query->cancellable);
  query_fail (query, error, NULL);
}

gboolean
sr_queries_cancel (SrQueries *queries, const SrCaller *caller, const char *session_id,
                   const char *query_id, GError **error)
{
  if (!sr_sessions_check_access (queries->service, caller, session_id, error))
    return FALSE;
  Query *query = g_hash_table_lookup (queries->running, query_id);
  if (query == NULL || g_strcmp0 (query->session_id, session_id) != 0
      || !sr_caller_may_access (caller, query->uid))
    return sr_error_set (error, SMARTRAG_ERROR_NOT_FOUND,
                         _ ("No query %s is running in this session; it may have finished"),
                         query_id);
  stop (query, SMARTRAG_ERROR_CANCELLED, _ ("The question was cancelled"));
  return TRUE;
}

void
sr_queries_cancel_peer (SrQueries *queries, const char *peer)
{
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func ((GDestroyNotify) query_unref);
  GHashTableIter iter;
  Query *query;
  g_hash_table_iter_init (&iter, queries->running);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &query))
    if (g_strcmp0 (query->peer, peer) == 0)
      g_ptr_array_add (gone, query_ref (query));
  for (guint i = 0; i < gone->len; i++)
    stop (gone->pdata[i], SMARTRAG_ERROR_CANCELLED, _ ("The asker left before the answer ended"));
}

void
sr_queries_cancel_all (SrQueries *queries, const char *reason)
{
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func ((GDestroyNotify) query_unref);
  GHashTableIter iter;
  Query *query;
  g_hash_table_iter_init (&iter, queries->running);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &query))
    g_ptr_array_add (gone, query_ref (query));
  for (guint i = 0; i < gone->len; i++)
    stop (gone->pdata[i], SMARTRAG_ERROR_CANCELLED, reason);
}

guint
sr_queries_running (SrQueries *queries)
{
  return g_hash_table_size (queries->running);
}

const char *
sr_queries_backend (SrQueries *queries)
{
  return queries->generator->klass->name;
}

SrGenerator *
sr_queries_generator (SrQueries *queries)
{
  return queries->generator;
}

void
sr_queries_set_limits (SrQueries *queries, const SrQueryLimits *limits)
{
  queries->limits = *limits;
  queries->limits.max_generations = MAX (queries->limits.max_generations, 1);
  /* More generation slots take waiting answers at once; fewer let running ones finish. */
  pump (queries);
}

void
sr_queries_add_generator (SrQueries *queries, SrGenerator *generator)
{
  g_ptr_array_add (queries->others, generator);
}

SrQueries *
sr_queries_new (SrService *service, SrGenerator *generator, const SrQueryLimits *limits)
{
  SrQueries *queries = g_new0 (SrQueries, 1);
  queries->service = service;
  queries->generator = generator;
  queries->others = g_ptr_array_new_with_free_func ((GDestroyNotify) sr_generator_free);
  queries->limits = *limits;
  queries->limits.max_generations = MAX (queries->limits.max_generations, 1);
  queries->running
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) query_unref);
  queries->per_user = g_hash_table_new (g_direct_hash, g_direct_equal);
  queries->generating = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_queue_init (&queries->waiting);
  return queries;
}

void
sr_queries_free (SrQueries *queries)
{
  if (queries == NULL)
    return;
  g_autoptr (GPtrArray) left = g_ptr_array_new_with_free_func ((GDestroyNotify) query_unref);
  GHashTableIter iter;
  Query *query;
  g_hash_table_iter_init (&iter, queries->running);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &query))
    g_ptr_array_add (left, query_ref (query));
  for (guint i = 0; i < left->len; i++) {
    query = left->pdata[i];
    /* The faces that listened have gone before the service. */
    memset (&query->listener, 0, sizeof query->listener);
    stop (query, SMARTRAG_ERROR_SHUTTING_DOWN, _ ("The daemon stopped"));
  }
  /* They end what they still generate, so every query they hold comes back here first. */
  g_ptr_array_unref (queries->others);
  sr_generator_free (queries->generator);
  g_warn_if_fail (g_hash_table_size (queries->generating) == 0);
  g_hash_table_unref (queries->generating);
  g_hash_table_unref (queries->running);
  g_hash_table_unref (queries->per_user);
  g_free (queries);
}
