/* The operations' shared context: the store, the limits, and whether new work is taken. */
#pragma once

#include <glib.h>

#include "auth/caller.h"
#include "embed/embedder.h"
#include "llm/generator.h"
#include "ingest/pipeline.h"
#include "store/documents.h"
#include "store/store.h"

G_BEGIN_DECLS

typedef struct {
  guint64 max_title_bytes;
  guint64 max_context_bytes;
  guint64 max_sessions_per_user; /* 0: no limit */
  guint64 session_expiry;        /* seconds; 0 keeps sessions forever */
  guint64 max_file_bytes;        /* one uploaded file */
  guint64 max_text_bytes;        /* one AddText text */
  guint upload_idle_timeout_ms;  /* an upload that stalls this long fails */
  guint64 max_tokens_per_user;   /* API tokens one user may hold */
} SrLimits;

typedef struct SrService SrService;
typedef struct SrIndexes SrIndexes;
typedef struct SrIngestion SrIngestion;
typedef struct SrEmbedding SrEmbedding;
typedef struct SrQueries SrQueries;
typedef struct SrQueryLimits SrQueryLimits;
typedef struct SrHealthReport SrHealthReport;
typedef struct SrMetrics SrMetrics;

/* Told on the main loop whenever a document's state or progress changes; @adder is who
 * added it in this run (a bus name or HTTP peer), NULL for documents resumed at start. */
typedef void (*SrDocumentListener) (const SrDocumentRecord *document, const char *adder,
                                    gpointer user_data);

/* Told on the main loop when what a session's properties show changed without a call to
 * the session itself (a document or a message came or went), with the names of those
 * Session properties, NULL-terminated. */
typedef void (*SrSessionListener) (const char *session_id, const char *const *properties,
                                   gpointer user_data);

/* Told on the main loop when an API token has been revoked, so that a face can end what
 * was authenticated with it (a stream, a WebSocket); @owner_uid is the uid it acted as. */
typedef void (*SrTokenListener) (const char *token_id, guint32 owner_uid, gpointer user_data);

/* Takes ownership of @store; @state_dir is where health looks for free space. */
SrService *sr_service_new (SrStore *store, const char *state_dir, const SrLimits *limits);
void sr_service_free (SrService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrService, sr_service_free)

SrStore *sr_service_store (SrService *service);
/* What the service counts as it works, for /metrics (service/metrics.h). */
SrMetrics *sr_service_metrics (SrService *service);
/* The last health report, kept for sr_health_check_recent() (service/health.h). */
SrHealthReport *sr_service_health_report (SrService *service);
const SrLimits *sr_service_limits (SrService *service);
/* New limits for calls from now on (a reload); upload_idle_timeout_ms keeps its value. */
void sr_service_set_limits (SrService *service, const SrLimits *limits);
const char *sr_service_state_dir (SrService *service);
/* Where uploaded bytes are kept: <state>/files. */
const char *sr_service_files_dir (SrService *service);

/* Starts document processing: @config's embedder becomes the service's, @workers threads
 * ingest, documents a previous run left unfinished are queued again, and chunks embedded
 * with another model are embedded again in the background. */
void sr_service_start_documents (SrService *service, const SrPipelineConfig *config, guint workers);
/* Starts answering questions with @generator (taken). */
void sr_service_start_queries (SrService *service, SrGenerator *generator,
                               const SrQueryLimits *limits);
/* NULL until sr_service_start_queries(). */
SrQueries *sr_service_queries (SrService *service);
/* Drops what a removed session leaves outside the database: its index and unused files. */
void sr_service_forget_session (SrService *service, const char *session_id);
/* The document reader and its bounds, for looking into uploads; NULL until
 * sr_service_start_documents(). */
const char *sr_service_extract_helper (SrService *service, const SrSandboxLimits **limits);
/* NULL until sr_service_start_documents(). */
SrEmbedder *sr_service_embedder (SrService *service);
SrIndexes *sr_service_indexes (SrService *service);
SrIngestion *sr_service_ingestion (SrService *service);
/* The embedder's background work: re-embedding, watching its server. */
SrEmbedding *sr_service_embedding (SrService *service);
void sr_service_add_document_listener (SrService *service, SrDocumentListener listener,
                                       gpointer user_data);
void sr_service_add_session_listener (SrService *service, SrSessionListener listener,
                                      gpointer user_data);
/* Tells the session listeners; @properties as for SrSessionListener. */
void sr_service_session_changed (SrService *service, const char *session_id,
                                 const char *const *properties);
void sr_service_add_token_listener (SrService *service, SrTokenListener listener,
                                    gpointer user_data);
/* For a face that goes before the service. */
void sr_service_remove_token_listener (SrService *service, SrTokenListener listener,
                                       gpointer user_data);
/* Tells the token listeners; sr_tokens_revoke() calls it once the token is gone. */
void sr_service_token_revoked (SrService *service, const char *token_id, guint32 owner_uid);

/* After this, sr_service_accepting() refuses new work with SHUTTING_DOWN and @drained
 * runs (once, from the main loop) as soon as no work is in flight. */
void sr_service_stop_accepting (SrService *service, GSourceFunc drained, gpointer user_data);
gboolean sr_service_accepting (SrService *service, GError **error);

typedef enum {
  SR_MAINTENANCE_NONE,
  SR_MAINTENANCE_BACKUP,
  SR_MAINTENANCE_RESTORE,
  SR_MAINTENANCE_OPTIMIZE,
} SrMaintenance;

/* ACCESS_DENIED with @refusal unless the caller is an administrator. */
gboolean sr_service_check_admin (const SrCaller *caller, const char *refusal, GError **error);

/* One backup, restore or optimization at a time: BUSY saying which runs, or
 * SHUTTING_DOWN during a stop. The job counts as work in flight until
 * sr_service_maintenance_end(), so a stop waits for it. */
gboolean sr_service_maintenance_begin (SrService *service, SrMaintenance kind, GError **error);
void sr_service_maintenance_end (SrService *service);
/* How long such a job waits for the work in flight to end before it gives up. */
#define SR_SERVICE_QUIET_TIMEOUT_S 30

/* For a maintenance job that needs the database to itself: new work is refused with BUSY
 * and @reason, running questions are cancelled with it when @cancel (else they finish),
 * and @quiet runs (once, from an idle) as soon as no work other than the job is in flight.
 * Until sr_service_resume() or the job's end. */
void sr_service_pause (SrService *service, const char *reason, gboolean cancel, GSourceFunc quiet,
                       gpointer user_data);
void sr_service_resume (SrService *service);

/* Removes stored bytes no document uses any more; while a backup runs, once it ends. */
void sr_service_remove_file (SrService *service, const char *sha256);

/* Where backups go (an absolute path) and how many are kept. */
void sr_service_set_backups (SrService *service, const char *directory, guint keep);
const char *sr_service_backup_dir (SrService *service, guint *keep);
/* What the last backup of the database open now holds, for the next one; used by one
 * backup at a time. */
typedef struct SrBackupMemo SrBackupMemo;
SrBackupMemo *sr_service_backup_memo (SrService *service);

/* For a restore, with no work in flight: stops the document work (the indexes, the queue,
 * the re-embedding; their threads end), takes the store from the service (to be closed),
 * gives it a new one, and starts the document work again on it. */
void sr_service_stop_document_work (SrService *service);
SrStore *sr_service_steal_store (SrService *service);
void sr_service_set_store (SrService *service, SrStore *store);
void sr_service_start_document_work (SrService *service);

/* Brackets work that outlives the call that started it (a pending authorization,
 * a background job), so a stop waits for it. */
void sr_service_work_begin (SrService *service);
void sr_service_work_end (SrService *service);
guint sr_service_work_in_flight (SrService *service);
/* sr_service_work_end() from any thread: it happens on the service's loop. A GTask's data
 * may be freed on its worker thread, after its callback has run on the loop. */
void sr_service_work_end_later (SrService *service);

/* A worker thread that uses the service (its store, indexes, embedder) says so, from any
 * thread: sr_service_free() waits for the last to end, whatever the stop deadline did. */
void sr_service_thread_begin (SrService *service);
void sr_service_thread_end (SrService *service);

G_END_DECLS
