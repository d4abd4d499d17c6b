/* The operations' shared context: the store, the limits, and whether new work is taken. */
#include "service/service.h"

#include <glib/gi18n.h>

#include "common/background.h"
#include "common/errors.h"
#include "ingest/sandbox.h"
#include "service/embedding.h"
#include "service/indexes.h"
#include "service/ingestion.h"
#include "service/health.h"
#include "service/metrics.h"
#include "service/queries.h"
#include "store/backup-memo.h"
#include "store/files.h"

struct SrService {
  SrStore *store;
  char *state_dir;
  char *files_dir;
  SrLimits limits;
  gboolean stopping;
  guint in_flight;
  GSourceFunc drained;
  gpointer drained_data;
  SrEmbedder *embedder;
  SrIndexes *indexes;
  SrIngestion *ingestion;
  SrEmbedding *embedding;
  SrQueries *queries;
  SrMetrics *metrics;
  SrHealthReport *health;
  GArray *listeners;         /* Listener */
  GArray *session_listeners; /* SessionListener */
  GArray *token_listeners;   /* TokenListener */
  GMutex threads_lock;
  GCond threads_done;
  guint threads;     /* worker threads using the service right now */
  char *helper_path; /* the document reader, once documents have started */
  SrSandboxLimits sandbox;
  SrPipelineConfig pipeline; /* to start the document work again after a restore */
  guint workers;
  SrMaintenance maintenance; /* the backup, restore or optimization under way */
  char *paused;              /* why new work is refused, while a maintenance job needs it */
  guint paused_own;          /* work in flight that belongs to the pause itself */
  GSourceFunc quiet;         /* told once nothing else is in flight */
  gpointer quiet_data;
  GHashTable *deferred_files; /* sha256s whose removal waits for a backup to end */
  char *backup_dir;
  guint backup_keep;
  SrBackupMemo *backup_memo; /* of the database open now: a restore starts a new one */
  GMainContext *context;     /* the loop the service lives on */
};

typedef struct {
  SrDocumentListener func;
  gpointer data;
} Listener;

typedef struct {
  SrSessionListener func;
  gpointer data;
} SessionListener;

typedef struct {
  SrTokenListener func;
  gpointer data;
} TokenListener;

SrService *
sr_service_new (SrStore *store, const char *state_dir, const SrLimits *limits)
{
  SrService *service = g_new0 (SrService, 1);
  service->store = store;
  service->state_dir = g_strdup (state_dir);
  service->files_dir = g_build_filename (state_dir, "files", NULL);
  service->limits = *limits;
  service->session_listeners = g_array_new (FALSE, FALSE, sizeof (SessionListener));
  service->token_listeners = g_array_new (FALSE, FALSE, sizeof (TokenListener));
  service->context = g_main_context_ref_thread_default ();
  service->metrics = sr_metrics_new ();
  service->health = sr_health_report_new ();
  service->deferred_files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_mutex_init (&service->threads_lock);
  g_cond_init (&service->threads_done);
  return service;
}

void
sr_service_free (SrService *service)
{
  if (service == NULL)
    return;
  /* The faces have gone before the service; what still ends here tells nobody. */
  g_array_set_size (service->session_listeners, 0);
  g_array_set_size (service->token_listeners, 0);
  if (service->listeners != NULL)
    g_array_set_size (service->listeners, 0);
  g_mutex_lock (&service->threads_lock);
  while (service->threads > 0)
    g_cond_wait (&service->threads_done, &service->threads_lock);
  g_mutex_unlock (&service->threads_lock);
  /* Answers still running are stored as incomplete while the database is open. */
  g_clear_pointer (&service->queries, sr_queries_free);
  /* Before the ingestion: what it posted feeds the ingestion and the indexes. */
  g_clear_pointer (&service->embedding, sr_embedding_free);
  /* Workers first: their last results still go to the indexes and the database. */
  g_clear_pointer (&service->ingestion, sr_ingestion_free);
  /* Nothing reads documents any more, neither workers nor uploads: the helper's fork
   * server can go, and is reaped rather than left to notice that the daemon has gone. */
  sr_sandbox_shutdown ();
  g_clear_pointer (&service->indexes, sr_indexes_free);
  g_clear_pointer (&service->embedder, sr_embedder_free);
  g_clear_pointer (&service->listeners, g_array_unref);
  g_clear_pointer (&service->session_listeners, g_array_unref);
  g_clear_pointer (&service->token_listeners, g_array_unref);
  sr_backup_memo_free (service->backup_memo);
  sr_store_close (service->store);
  /* Last: the queries and documents that ended above counted themselves. */
  sr_metrics_free (service->metrics);
  sr_health_report_free (service->health);
  g_mutex_clear (&service->threads_lock);
  g_cond_clear (&service->threads_done);
  g_free (service->state_dir);
  g_free (service->files_dir);
  g_free (service->helper_path);
  g_free (service->paused);
  g_free (service->backup_dir);
  g_hash_table_unref (service->deferred_files);
  g_main_context_unref (service->context);
  g_free (service);
}

SrStore *
sr_service_store (SrService *service)
{
  return service->store;
}

SrMetrics *
sr_service_metrics (SrService *service)
{
  return service->metrics;
}

SrHealthReport *
sr_service_health_report (SrService *service)
{
  return service->health;
}

static void
on_document_changed (const SrDocumentRecord *document, const char *adder, const GArray *chunk_ids,
                     const float *vectors, guint dimensions, gpointer user_data)
{
  SrService *service = user_data;
  if (chunk_ids != NULL)
    sr_indexes_add (service->indexes, document->session_id, chunk_ids, vectors, dimensions);
  for (guint i = 0; i < service->listeners->len; i++) {
    Listener *l = &g_array_index (service->listeners, Listener, i);
    l->func (document, adder, l->data);
  }
}

/* The document work that holds state derived from the database: the indexes, the queue
 * and the re-embedding, started at start and again after a restore. */
static void
start_document_work (SrService *service)
{
  g_autoptr (GError) error = NULL;
  service->indexes
      = sr_indexes_new (service, service->embedder->model, service->embedder->dimensions);
  service->ingestion = sr_ingestion_new (service, &service->pipeline, service->workers,
                                         on_document_changed, service);
  guint resumed = sr_ingestion_resume (service->ingestion, &error);
  if (error != NULL)
    g_warning ("Cannot resume unfinished documents: %s", error->message);
  else if (resumed > 0)
    g_info ("Resuming %u unfinished document(s)", resumed);
  service->embedding = sr_embedding_new (service, service->embedder);
}

void
sr_service_start_documents (SrService *service, const SrPipelineConfig *config, guint workers)
{
  service->embedder = config->embedder;
  service->helper_path = g_strdup (config->helper_path);
  service->sandbox = config->sandbox;
  service->pipeline = *config;
  service->pipeline.helper_path = service->helper_path;
  service->workers = workers;
  service->listeners = g_array_new (FALSE, FALSE, sizeof (Listener));
  start_document_work (service);
}

void
sr_service_stop_document_work (SrService *service)
{
  /* In the order sr_service_free() stops them, for the same reasons. */
  g_clear_pointer (&service->embedding, sr_embedding_free);
  g_clear_pointer (&service->ingestion, sr_ingestion_free);
  g_clear_pointer (&service->indexes, sr_indexes_free);
  g_mutex_lock (&service->threads_lock);
  while (service->threads > 0)
    g_cond_wait (&service->threads_done, &service->threads_lock);
  g_mutex_unlock (&service->threads_lock);
}

void
sr_service_start_document_work (SrService *service)
{
  if (service->embedder != NULL)
    start_document_work (service);
}

SrStore *
sr_service_steal_store (SrService *service)
{
  g_clear_pointer (&service->backup_memo, sr_backup_memo_free);
  return g_steal_pointer (&service->store);
}

void
sr_service_set_store (SrService *service, SrStore *store)
{
  g_return_if_fail (service->store == NULL);
  service->store = store;
}

void
sr_service_start_queries (SrService *service, SrGenerator *generator, const SrQueryLimits *limits)
{
  service->queries = sr_queries_new (service, generator, limits);
}

SrQueries *
sr_service_queries (SrService *service)
{
  return service->queries;
}

void
sr_service_forget_session (SrService *service, const char *session_id)
{
  g_autoptr (GError) error = NULL;
  if (service->indexes != NULL)
    sr_indexes_forget (service->indexes, session_id);
  /* The session's documents went with it; their bytes go once nothing else uses them. */
  g_autoptr (GPtrArray) orphans = sr_store_files_collect_orphans (service->store, &error);
  if (orphans == NULL) {
    g_warning ("Cannot collect unused files: %s", error->message);
    return;
  }
  for (guint i = 0; i < orphans->len; i++)
    sr_service_remove_file (service, orphans->pdata[i]);
}

void
sr_service_remove_file (SrService *service, const char *sha256)
{
  g_autoptr (GError) error = NULL;
  /* A backup copies the files its snapshot of the database names, after taking it. */
  if (service->maintenance == SR_MAINTENANCE_BACKUP) {
    g_hash_table_add (service->deferred_files, g_strdup (sha256));
    return;
  }
  if (!sr_files_remove (service->files_dir, sha256, &error))
    g_warning ("%s", error->message);
}

/* The removals a backup held back, unless the same bytes were stored again meanwhile. */
static void
remove_deferred_files (SrService *service)
{
  g_autoptr (GHashTable) deferred = g_steal_pointer (&service->deferred_files);
  service->deferred_files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  const char *sha256;
  g_hash_table_iter_init (&iter, deferred);
  while (g_hash_table_iter_next (&iter, (gpointer *) &sha256, NULL)) {
    g_autoptr (GError) error = NULL;
    gboolean stored = FALSE;
    if (!sr_store_file_stored (service->store, sha256, &stored, &error))
      g_warning ("%s", error->message);
    else if (!stored)
      sr_service_remove_file (service, sha256);
  }
}

const char *
sr_service_extract_helper (SrService *service, const SrSandboxLimits **limits)
{
  *limits = &service->sandbox;
  return service->helper_path;
}

SrEmbedder *
sr_service_embedder (SrService *service)
{
  return service->embedder;
}

SrIndexes *
sr_service_indexes (SrService *service)
{
  return service->indexes;
}

SrIngestion *
sr_service_ingestion (SrService *service)
{
  return service->ingestion;
}

SrEmbedding *
sr_service_embedding (SrService *service)
{
  return service->embedding;
}

void
sr_service_add_document_listener (SrService *service, SrDocumentListener listener,
                                  gpointer user_data)
{
  Listener l = { listener, user_data };
  g_array_append_val (service->listeners, l);
}

void
sr_service_add_session_listener (SrService *service, SrSessionListener listener, gpointer user_data)
{
  SessionListener l = { listener, user_data };
  g_array_append_val (service->session_listeners, l);
}

void
sr_service_session_changed (SrService *service, const char *session_id,
                            const char *const *properties)
{
  for (guint i = 0; i < service->session_listeners->len; i++) {
    SessionListener *l = &g_array_index (service->session_listeners, SessionListener, i);
    l->func (session_id, properties, l->data);
  }
}

void
sr_service_add_token_listener (SrService *service, SrTokenListener listener, gpointer user_data)
{
  TokenListener l = { listener, user_data };
  g_array_append_val (service->token_listeners, l);
}

void
sr_service_remove_token_listener (SrService *service, SrTokenListener listener, gpointer user_data)
{
  for (guint i = 0; i < service->token_listeners->len; i++) {
    TokenListener *l = &g_array_index (service->token_listeners, TokenListener, i);
    if (l->func == listener && l->data == user_data) {
      g_array_remove_index (service->token_listeners, i);
      return;
    }
  }
}

void
sr_service_token_revoked (SrService *service, const char *token_id, guint32 owner_uid)
{
  for (guint i = 0; i < service->token_listeners->len; i++) {
    TokenListener *l = &g_array_index (service->token_listeners, TokenListener, i);
    l->func (token_id, owner_uid, l->data);
  }
}

const char *
sr_service_files_dir (SrService *service)
{
  return service->files_dir;
}

const SrLimits *
sr_service_limits (SrService *service)
{
  return &service->limits;
}

void
sr_service_set_limits (SrService *service, const SrLimits *limits)
{
  /* Field by field, and upload_idle_timeout_ms not at all: worker threads read it while
   * they copy an upload, and the others are read on the main loop only. */
  service->limits.max_title_bytes = limits->max_title_bytes;
  service->limits.max_context_bytes = limits->max_context_bytes;
  service->limits.max_sessions_per_user = limits->max_sessions_per_user;
  service->limits.session_expiry = limits->session_expiry;
  service->limits.max_file_bytes = limits->max_file_bytes;
  service->limits.max_text_bytes = limits->max_text_bytes;
  service->limits.max_tokens_per_user = limits->max_tokens_per_user;
}

void
sr_service_set_backups (SrService *service, const char *directory, guint keep)
{
  g_free (service->backup_dir);
  service->backup_dir = g_strdup (directory);
  service->backup_keep = keep;
}

const char *
sr_service_backup_dir (SrService *service, guint *keep)
{
  *keep = service->backup_keep;
  return service->backup_dir;
}

SrBackupMemo *
sr_service_backup_memo (SrService *service)
{
  if (service->backup_memo == NULL)
    service->backup_memo = sr_backup_memo_new ();
  return service->backup_memo;
}

const char *
sr_service_state_dir (SrService *service)
{
  return service->state_dir;
}

static void
maybe_drained (SrService *service)
{
  if (service->paused != NULL && service->quiet != NULL
      && service->in_flight <= service->paused_own) {
    GSourceFunc quiet = g_steal_pointer (&service->quiet);
    g_idle_add (quiet, service->quiet_data);
  }
  if (!service->stopping || service->in_flight > 0 || service->drained == NULL)
    return;
  GSourceFunc drained = g_steal_pointer (&service->drained);
  /* From an idle so that the reply of the last piece of work is sent first. */
  g_idle_add (drained, service->drained_data);
}

void
sr_service_stop_accepting (SrService *service, GSourceFunc drained, gpointer user_data)
{
  service->stopping = TRUE;
  service->drained = drained;
  service->drained_data = user_data;
  maybe_drained (service);
}

gboolean
sr_service_accepting (SrService *service, GError **error)
{
  if (service->stopping) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_SHUTTING_DOWN,
                         _ ("SmartRAG is shutting down and takes no new requests; try again once "
                            "it has restarted"));
    return FALSE;
  }
  if (service->paused != NULL)
    return sr_error_set (error, SMARTRAG_ERROR_BUSY, "%s", service->paused);
  return TRUE;
}

gboolean
sr_service_check_admin (const SrCaller *caller, const char *refusal, GError **error)
{
  if (caller->admin)
    return TRUE;
  return sr_error_set (error, SMARTRAG_ERROR_ACCESS_DENIED, "%s", refusal);
}

static const char *
maintenance_busy_message (SrMaintenance kind)
{
  switch (kind) {
  case SR_MAINTENANCE_BACKUP:
    return _ ("A backup is being made; try again when it has finished");
  case SR_MAINTENANCE_RESTORE:
    return _ ("A backup is being restored; try again when it has finished");
  case SR_MAINTENANCE_OPTIMIZE:
  case SR_MAINTENANCE_NONE:
    break;
  }
  return _ ("The database is being optimized; try again when it has finished");
}

gboolean
sr_service_maintenance_begin (SrService *service, SrMaintenance kind, GError **error)
{
  if (!sr_service_accepting (service, error))
    return FALSE;
  if (service->maintenance != SR_MAINTENANCE_NONE)
    return sr_error_set (error, SMARTRAG_ERROR_BUSY, "%s",
                         maintenance_busy_message (service->maintenance));
  service->maintenance = kind;
  sr_service_work_begin (service);
  return TRUE;
}

void
sr_service_maintenance_end (SrService *service)
{
  g_return_if_fail (service->maintenance != SR_MAINTENANCE_NONE);
  SrMaintenance kind = service->maintenance;
  service->maintenance = SR_MAINTENANCE_NONE;
  if (service->paused != NULL)
    sr_service_resume (service);
  if (kind == SR_MAINTENANCE_BACKUP && service->store != NULL)
    remove_deferred_files (service);
  sr_service_work_end (service);
}

void
sr_service_pause (SrService *service, const char *reason, gboolean cancel, GSourceFunc quiet,
                  gpointer user_data)
{
  g_return_if_fail (service->maintenance != SR_MAINTENANCE_NONE && service->paused == NULL);
  service->paused = g_strdup (reason);
  service->paused_own = 1;
  service->quiet = quiet;
  service->quiet_data = user_data;
  if (cancel && service->queries != NULL)
    sr_queries_cancel_all (service->queries, reason);
  maybe_drained (service);
}

void
sr_service_resume (SrService *service)
{
  g_clear_pointer (&service->paused, g_free);
  service->quiet = NULL;
}

void
sr_service_work_begin (SrService *service)
{
  service->in_flight++;
}

void
sr_service_work_end (SrService *service)
{
  g_return_if_fail (service->in_flight > 0);
  service->in_flight--;
  maybe_drained (service);
}

static gboolean
end_work (gpointer data)
{
  sr_service_work_end (data);
  return G_SOURCE_REMOVE;
}

void
sr_service_work_end_later (SrService *service)
{
  sr_background_post (service->context, G_PRIORITY_DEFAULT, end_work, service);
}

guint
sr_service_work_in_flight (SrService *service)
{
  return service->in_flight;
}

void
sr_service_thread_begin (SrService *service)
{
  g_mutex_lock (&service->threads_lock);
  service->threads++;
  g_mutex_unlock (&service->threads_lock);
}

void
sr_service_thread_end (SrService *service)
{
  g_mutex_lock (&service->threads_lock);
  if (--service->threads == 0)
    g_cond_broadcast (&service->threads_done);
  g_mutex_unlock (&service->threads_lock);
}
