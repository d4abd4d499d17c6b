/* The ingestion queue: documents go from "stored" to "ready" or "failed" on worker threads. */
#include "service/ingestion.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <unistd.h>

#include "common/durations.h"
#include "common/errors.h"
#include "store/chunks.h"
#include "store/files.h"
#include "store/sessions.h"

/* Below the bus's priority: a backlog of finished documents must not hold back replies
 * to callers, which are answered between one document's results and the next. */
#define RESULT_PRIORITY G_PRIORITY_DEFAULT_IDLE

/* Progress is written and signalled in steps of this much, not for every batch. */
#define PROGRESS_STEP 0.05

struct SrIngestion {
  SrService *service;
  SrPipelineConfig config;
  char *helper_path;
  SrDocumentNotify notify;
  gpointer notify_data;
  GThreadPool *pool;
  GCancellable *cancellable;
  GMainContext *context;      /* where results go: the daemon's main loop */
  GHashTable *queued_per_uid; /* uid → jobs queued or running, for turns */
  guint64 sequence;
};

typedef struct {
  SrIngestion *ingestion;
  char *document_id;
  char *session_id;
  char *sha256;
  char *filename;
  char *adder;
  guint32 owner_uid;
  guint turn; /* how many of this user's jobs were ahead when it was queued */
  guint64 sequence;
  /* filled by the worker */
  SrIngested *result;
  GError *error;
  double reported; /* progress last sent, read and written on the worker only */
} Job;

static void
job_free (Job *job)
{
  g_free (job->document_id);
  g_free (job->session_id);
  g_free (job->sha256);
  g_free (job->filename);
  g_free (job->adder);
  g_clear_pointer (&job->result, sr_ingested_free);
  g_clear_error (&job->error);
  g_free (job);
}

/* Fewer turns first: a user with a hundred documents queued does not hold up another
 * user's one. Equal turns keep arrival order. */
static gint
compare_jobs (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const Job *x = a, *y = b;
  if (x->turn != y->turn)
    return x->turn < y->turn ? -1 : 1;
  return x->sequence < y->sequence ? -1 : x->sequence > y->sequence;
}

static void
notify_record (SrIngestion *ingestion, const char *document_id, const char *adder,
               const GArray *ids, const float *vectors, guint dimensions)
{
  g_autoptr (SrDocumentRecord) doc
      = sr_store_document_get (sr_service_store (ingestion->service), document_id, NULL);
  if (doc != NULL && ingestion->notify != NULL)
    ingestion->notify (doc, adder, ids, vectors, dimensions, ingestion->notify_data);
}

typedef struct {
  SrIngestion *ingestion;
  char *document_id;
  char *adder;
  char *state;
  double progress;
} Progress;

static gboolean
apply_progress (gpointer data)
{
  Progress *p = data;
  g_autoptr (GError) error = NULL;
  /* A document removed meanwhile simply has nothing to update. */
  if (sr_store_document_set_state (sr_service_store (p->ingestion->service), p->document_id,
                                   p->state, p->progress, NULL, sr_now_us (), &error))
    notify_record (p->ingestion, p->document_id, p->adder, NULL, NULL, 0);
  g_free (p->document_id);
  g_free (p->adder);
  g_free (p->state);
  g_free (p);
  return G_SOURCE_REMOVE;
}

/* From the worker: hands the change to the main loop, which owns the database. */
static void
on_progress (const char *state, double progress, gpointer user_data)
{
  Job *job = user_data;
  if (progress < 1.0 && progress - job->reported < PROGRESS_STEP && progress != 0.0
      && progress != 0.5)
    return;
  job->reported = progress;
  Progress *p = g_new0 (Progress, 1);
  p->ingestion = job->ingestion;
  p->document_id = g_strdup (job->document_id);
  p->adder = g_strdup (job->adder);
  p->state = g_strdup (state);
  p->progress = progress;
  g_main_context_invoke_full (job->ingestion->context, RESULT_PRIORITY, apply_progress, p, NULL);
}

static gboolean
store_result (SrIngestion *ingestion, Job *job, GArray *ids, GError **error)
{
  SrIngested *r = job->result;
  if (!sr_store_document_describe (sr_service_store (ingestion->service), job->document_id,
                                   sr_format_name (r->format), r->title, error))
    return FALSE;
  g_autofree SrChunkRow *rows = g_new0 (SrChunkRow, r->chunks->len);
  for (guint i = 0; i < r->chunks->len; i++) {
    SrChunk *c = r->chunks->pdata[i];
    rows[i] = (SrChunkRow){ c->ordinal, c->text, c->page, c->heading };
  }
  return sr_store_chunks_replace (sr_service_store (ingestion->service), job->document_id,
                                  job->session_id, rows, r->chunks->len, r->vectors, r->dimensions,
                                  ingestion->config.embedder->model, sr_now_us (), ids, error);
}

/* Back on the main loop with the worker's outcome. */
static gboolean
finish_job (gpointer data)
{
  Job *job = data;
  SrIngestion *ingestion = job->ingestion;
  SrStore *store = sr_service_store (ingestion->service);
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  guint *queued
      = g_hash_table_lookup (ingestion->queued_per_uid, GUINT_TO_POINTER (job->owner_uid));
  if (queued != NULL && --(*queued) == 0)
    g_hash_table_remove (ingestion->queued_per_uid, GUINT_TO_POINTER (job->owner_uid));

  if (g_error_matches (job->error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED)
      || g_error_matches (job->error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    /* Stopping: the document stays unfinished and resumes at the next start. */
  } else if (job->error == NULL && store_result (ingestion, job, ids, &error)) {
    g_info ("Document %s is ready: %u chunks", job->document_id, ids->len);
    notify_record (ingestion, job->document_id, job->adder, ids, job->result->vectors,
                   job->result->dimensions);
  } else {
    const GError *why = job->error != NULL ? job->error : error;
    g_info ("Document %s (%s) failed: %s", job->document_id, job->filename, why->message);
    if (sr_store_document_set_state (store, job->document_id, "failed", 1.0, why->message,
                                     sr_now_us (), NULL))
      notify_record (ingestion, job->document_id, job->adder, NULL, NULL, 0);
  }
  job_free (job);
  return G_SOURCE_REMOVE;
}

static void
run_job (gpointer data, gpointer user_data)
{
  Job *job = data;
  SrIngestion *ingestion = job->ingestion;
  g_autofree char *path = sr_files_path (sr_service_files_dir (ingestion->service), job->sha256);
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0) {
    int saved = errno;
    job->error
        = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                       _ ("The stored file %s cannot be read: %s"), path, g_strerror (saved));
  } else {
    job->result = sr_pipeline_run (&ingestion->config, fd, job->filename, on_progress, job,
                                   ingestion->cancellable, &job->error);
    close (fd);
  }
  g_main_context_invoke_full (ingestion->context, RESULT_PRIORITY, finish_job, job, NULL);
}

SrIngestion *
sr_ingestion_new (SrService *service, const SrPipelineConfig *config, guint workers,
                  SrDocumentNotify notify, gpointer user_data)
{
  SrIngestion *ingestion = g_new0 (SrIngestion, 1);
  ingestion->service = service;
  ingestion->config = *config;
  ingestion->helper_path = g_strdup (config->helper_path);
  ingestion->config.helper_path = ingestion->helper_path;
  ingestion->notify = notify;
  ingestion->notify_data = user_data;
  ingestion->cancellable = g_cancellable_new ();
  ingestion->context = g_main_context_ref_thread_default ();
  ingestion->queued_per_uid = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  ingestion->pool = g_thread_pool_new (run_job, ingestion, (gint) MAX (workers, 1), FALSE, NULL);
  g_thread_pool_set_sort_function (ingestion->pool, compare_jobs, NULL);
  return ingestion;
}

void
sr_ingestion_free (SrIngestion *ingestion)
{
  if (ingestion == NULL)
    return;
  g_cancellable_cancel (ingestion->cancellable);
  /* Queued jobs are dropped (they resume at the next start), running ones are waited for;
   * their results arrive as idles, handled here before the service goes away. */
  g_thread_pool_free (ingestion->pool, TRUE, TRUE);
  while (g_main_context_iteration (ingestion->context, FALSE))
    ;
  g_object_unref (ingestion->cancellable);
  g_main_context_unref (ingestion->context);
  g_hash_table_unref (ingestion->queued_per_uid);
  g_free (ingestion->helper_path);
  g_free (ingestion);
}

void
sr_ingestion_enqueue (SrIngestion *ingestion, const SrDocumentRecord *document, guint32 owner_uid,
                      const char *adder)
{
  guint *queued = g_hash_table_lookup (ingestion->queued_per_uid, GUINT_TO_POINTER (owner_uid));
  if (queued == NULL) {
    queued = g_new0 (guint, 1);
    g_hash_table_insert (ingestion->queued_per_uid, GUINT_TO_POINTER (owner_uid), queued);
  }

  Job *job = g_new0 (Job, 1);
  job->ingestion = ingestion;
  job->document_id = g_strdup (document->id);
  job->session_id = g_strdup (document->session_id);
  job->sha256 = g_strdup (document->file_sha256);
  job->filename = g_strdup (document->filename);
  job->adder = g_strdup (adder);
  job->owner_uid = owner_uid;
  job->turn = (*queued)++;
  job->sequence = ingestion->sequence++;
  g_thread_pool_push (ingestion->pool, job, NULL);
}

guint
sr_ingestion_resume (SrIngestion *ingestion, GError **error)
{
  SrStore *store = sr_service_store (ingestion->service);
  g_autoptr (GPtrArray) unfinished = sr_store_document_list_unfinished (store, error);
  if (unfinished == NULL)
    return 0;
  for (guint i = 0; i < unfinished->len; i++) {
    SrDocumentRecord *doc = unfinished->pdata[i];
    guint32 owner = 0;
    if (sr_store_session_owner (store, doc->session_id, &owner, NULL))
      sr_ingestion_enqueue (ingestion, doc, owner, NULL);
  }
  return unfinished->len;
}
