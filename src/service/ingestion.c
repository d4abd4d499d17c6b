/* The ingestion queue: documents go from "stored" to "ready" or "failed" on worker threads. */
#include "service/ingestion.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <unistd.h>

#include "common/background.h"
#include "common/durations.h"
#include "common/errors.h"
#include "service/metrics.h"
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
  gboolean compacting; /* a compaction job is queued or running */
  gint documents;      /* queued or running; atomic, compaction gives way to them */
  GHashTable *jobs;    /* Job: every job pushed and not finished, for those a stop drops */
  GPtrArray *waiting;  /* Job (owned by jobs): documents waiting for the embedding server */
  gint n_waiting;      /* atomic: waiting->len, for other threads */
};

typedef struct {
  SrIngestion *ingestion;
  char *document_id;
  char *session_id;
  char *sha256;
  char *filename;
  char *adder;
  guint32 owner_uid;
  guint64 size;         /* of the stored file */
  gboolean compact;     /* no document: merge the full-text index while the queue is empty */
  gboolean typed_text;  /* added with AddText: never a binary format */
  gboolean server_down; /* not run: the embedding server did not answer the last call */
  gboolean waiting;     /* to be queued again once the embedding server answers */
  guint refused;        /* times the server answered a probe but not this document */
  guint turn;           /* how many of this user's jobs were ahead when it was queued */
  guint64 sequence;
  /* filled by the worker */
  SrStore *db; /* the worker's connection while it runs the job */
  SrIngested *result;
  GArray *ids; /* gint64: the chunks' row ids, their vector labels */
  gboolean ready;
  gboolean failed; /* and marked so in the database */
  gint64 store_us;
  gint64 run_us; /* the worker's time on it, its last run if it waited */
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
  g_clear_pointer (&job->ids, g_array_unref);
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
} Changed;

static gboolean
announce_change (gpointer data)
{
  Changed *c = data;
  notify_record (c->ingestion, c->document_id, c->adder, NULL, NULL, 0);
  g_free (c->document_id);
  g_free (c->adder);
  g_free (c);
  return G_SOURCE_REMOVE;
}

/* The row is written here, on the worker; the main loop only reads it back to tell
 * the adder. */
static void
write_state (Job *job, const char *state, double progress, const char *message)
{
  sr_store_lock_writes (job->db);
  /* A document removed meanwhile simply has nothing to update. */
  gboolean written = sr_store_document_set_state (job->db, job->document_id, state, progress,
                                                  message, sr_now_us (), NULL);
  sr_store_unlock_writes (job->db);
  if (!written)
    return;
  Changed *c = g_new0 (Changed, 1);
  c->ingestion = job->ingestion;
  c->document_id = g_strdup (job->document_id);
  c->adder = g_strdup (job->adder);
  sr_background_post (job->ingestion->context, RESULT_PRIORITY, announce_change, c);
}

static void
on_progress (const char *state, double progress, gpointer user_data)
{
  Job *job = user_data;
  if (progress < 1.0 && progress - job->reported < PROGRESS_STEP && progress != 0.0
      && progress != 0.5)
    return;
  job->reported = progress;
  write_state (job, state, progress, NULL);
}

static gboolean
store_result (Job *job, GError **error)
{
  SrIngested *r = job->result;
  sr_store_lock_writes (job->db);
  gboolean described = sr_store_document_describe (job->db, job->document_id,
                                                   sr_format_name (r->format), r->title, error);
  sr_store_unlock_writes (job->db);
  if (!described)
    return FALSE;
  g_autofree SrChunkRow *rows = g_new0 (SrChunkRow, r->chunks->len);
  for (guint i = 0; i < r->chunks->len; i++) {
    SrChunk *c = r->chunks->pdata[i];
    rows[i] = (SrChunkRow){ c->ordinal, c->text, c->page, c->heading };
  }
  return sr_store_chunks_replace (job->db, job->document_id, job->session_id, rows, r->chunks->len,
                                  r->vectors, r->dimensions, job->ingestion->config.embedder->model,
                                  sr_now_us (), job->ids, error);
}

/* A document the embedding server did not take waits for the server when the server
 * answers no one; when it answers a probe a second time, this document's text is what it
 * refused, and waiting would not help. */
static gboolean
must_wait (Job *job)
{
  if (!g_error_matches (job->error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE))
    return FALSE;
  if (job->server_down)
    return TRUE;
  g_autoptr (GError) error = NULL;
  /* Stopped while probing: the document resumes at the next start all the same. */
  if (!sr_embedder_probe (job->ingestion->config.embedder, job->ingestion->cancellable, &error))
    return TRUE;
  /* The server may have come back between the document's call and the probe: once, the
   * document waits all the same, and is taken up again at once since the server answers. */
  return job->refused++ == 0;
}

/* On the worker, after the pipeline: the outcome goes into the database. */
static void
record_outcome (Job *job)
{
  g_autoptr (GError) error = NULL;

  if (g_error_matches (job->error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED)
      || g_error_matches (job->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* Stopping: the document stays unfinished and resumes at the next start. */
  if (must_wait (job)) {
    /* Unfinished as far as the database knows: a restart queues it again too. */
    g_autofree char *message
        = g_strdup_printf (_ ("Waiting for the embedding server: %s"), job->error->message);
    g_info ("Document %s (%s) waits for the embedding server", job->document_id, job->filename);
    write_state (job, "indexing", 0.5, message);
    job->waiting = TRUE;
    return;
  }
  gint64 start = g_get_monotonic_time ();
  if (job->error == NULL && store_result (job, &error)) {
    job->ready = TRUE;
    job->store_us = g_get_monotonic_time () - start;
    return;
  }
  if (job->error == NULL)
    job->error = g_steal_pointer (&error);
  g_info ("Document %s (%s) failed: %s", job->document_id, job->filename, job->error->message);
  g_array_set_size (job->ids, 0);
  write_state (job, "failed", 1.0, job->error->message);
  job->failed = TRUE;
}

/* Back on the main loop, once the outcome is in the database. */
static gboolean
finish_job (gpointer data)
{
  Job *job = data;
  SrIngestion *ingestion = job->ingestion;

  guint *queued
      = g_hash_table_lookup (ingestion->queued_per_uid, GUINT_TO_POINTER (job->owner_uid));
  if (queued != NULL && --(*queued) == 0)
    g_hash_table_remove (ingestion->queued_per_uid, GUINT_TO_POINTER (job->owner_uid));
  if (g_atomic_int_dec_and_test (&ingestion->documents) && !ingestion->compacting
      && !g_cancellable_is_cancelled (ingestion->cancellable)) {
    Job *compaction = g_new0 (Job, 1);
    compaction->ingestion = ingestion;
    compaction->compact = TRUE;
    compaction->sequence = ingestion->sequence++;
    ingestion->compacting = TRUE;
    g_hash_table_add (ingestion->jobs, compaction);
    g_thread_pool_push (ingestion->pool, compaction, NULL);
  }

  if (job->waiting && !g_cancellable_is_cancelled (ingestion->cancellable)) {
    g_ptr_array_add (ingestion->waiting, job);
    g_atomic_int_set (&ingestion->n_waiting, (gint) ingestion->waiting->len);
    return G_SOURCE_REMOVE;
  }
  /* Neither is a document a stop interrupted: it resumes at the next start. */
  if (job->ready || job->failed)
    sr_metrics_observe_ingest (sr_service_metrics (ingestion->service), job->ready, job->size,
                               job->ids->len, (double) job->run_us / G_USEC_PER_SEC);
  if (job->ready) {
    const SrIngested *r = job->result;
    g_info ("Document %s is ready: %u chunks (parsed in %" G_GINT64_FORMAT " ms, chunked in "
            "%" G_GINT64_FORMAT " ms, embedded in %" G_GINT64_FORMAT " ms, stored in "
            "%" G_GINT64_FORMAT " ms)",
            job->document_id, job->ids->len, r->extract_us / 1000, r->chunk_us / 1000,
            r->embed_us / 1000, job->store_us / 1000);
    notify_record (ingestion, job->document_id, job->adder, job->ids, job->result->vectors,
                   job->result->dimensions);
  }
  g_hash_table_remove (ingestion->jobs, job);
  return G_SOURCE_REMOVE;
}

/* Each document's words went into the full-text index as a segment of their own; a
 * search reads every segment, so once the queue is empty they are merged, a step at a
 * time, giving way as soon as a document is queued again. */
static void
compact (Job *job)
{
  SrIngestion *ingestion = job->ingestion;
  g_autoptr (GError) error = NULL;
  g_autoptr (SrStoreLease) db = sr_store_acquire (sr_service_store (ingestion->service), &error);
  gint64 start = g_get_monotonic_time ();
  guint steps = 0;
  gboolean done = db == NULL;
  while (!done && !g_cancellable_is_cancelled (ingestion->cancellable)
         && g_atomic_int_get (&ingestion->documents) == 0) {
    if (!sr_store_chunks_compact_step (db, &done, &error))
      break;
    steps++;
  }
  /* Unfinished only when a document came: it starts again once the queue is empty. */
  job->ready = done || error != NULL;
  if (error != NULL)
    g_warning ("Cannot compact the full-text index: %s", error->message);
  else if (steps > 1)
    g_debug ("Compacted the full-text index in %u step(s), %" G_GINT64_FORMAT " ms%s", steps,
             (g_get_monotonic_time () - start) / 1000, done ? "" : " (not finished)");
}

static gboolean
finish_compaction (gpointer data)
{
  Job *job = data;
  SrIngestion *ingestion = job->ingestion;
  /* The documents that interrupted it may all have finished meanwhile, without starting
   * another compaction while this one ran. */
  if (!job->ready && g_atomic_int_get (&ingestion->documents) == 0
      && !g_cancellable_is_cancelled (ingestion->cancellable)) {
    g_thread_pool_push (ingestion->pool, job, NULL);
    return G_SOURCE_REMOVE;
  }
  ingestion->compacting = FALSE;
  g_hash_table_remove (ingestion->jobs, job);
  return G_SOURCE_REMOVE;
}

/* Reading a document the embedder cannot take is wasted: while the server is known not to
 * answer, documents wait without being read. */
static gboolean
server_known_down (Job *job)
{
  g_auto (SrEmbedderStatus) status = { 0 };
  sr_embedder_get_status (job->ingestion->config.embedder, &status);
  if (status.state != SR_EMBEDDER_UNAVAILABLE)
    return FALSE;
  job->server_down = TRUE;
  job->error
      = g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE, status.message);
  return TRUE;
}

static void
run_pipeline (Job *job, const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int saved = errno;
    job->error
        = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                       _ ("The stored file %s cannot be read: %s"), path, g_strerror (saved));
    return;
  }
  job->result = sr_pipeline_run (&job->ingestion->config, fd, job->filename, job->typed_text,
                                 on_progress, job, job->ingestion->cancellable, &job->error);
  close (fd);
}

static void
run_job (gpointer data, gpointer user_data)
{
  Job *job = data;
  SrIngestion *ingestion = job->ingestion;
  sr_background_thread_enter (SR_NICENESS_INGESTION);
  if (job->compact) {
    compact (job);
    sr_background_post (ingestion->context, RESULT_PRIORITY, finish_compaction, job);
    return;
  }
  g_autofree char *path = sr_files_path (sr_service_files_dir (ingestion->service), job->sha256);
  gint64 start = g_get_monotonic_time ();
  g_autoptr (SrStoreLease) db
      = sr_store_acquire (sr_service_store (ingestion->service), &job->error);

  job->db = db;
  if (db != NULL && !server_known_down (job))
    run_pipeline (job, path);
  if (db != NULL)
    record_outcome (job);
  job->db = NULL;
  job->run_us = g_get_monotonic_time () - start;
  sr_background_post (ingestion->context, RESULT_PRIORITY, finish_job, job);
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
  ingestion->jobs = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) job_free, NULL);
  ingestion->waiting = g_ptr_array_new ();
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
  /* What is left was still queued, or waiting: the pool drops such jobs without a word. */
  g_ptr_array_unref (ingestion->waiting);
  g_hash_table_unref (ingestion->jobs);
  g_free (ingestion->helper_path);
  g_free (ingestion);
}

/* Pushes a job for a turn after the user's jobs already queued. */
static void
queue_job (SrIngestion *ingestion, Job *job)
{
  guint *queued
      = g_hash_table_lookup (ingestion->queued_per_uid, GUINT_TO_POINTER (job->owner_uid));
  if (queued == NULL) {
    queued = g_new0 (guint, 1);
    g_hash_table_insert (ingestion->queued_per_uid, GUINT_TO_POINTER (job->owner_uid), queued);
  }
  job->turn = (*queued)++;
  job->sequence = ingestion->sequence++;
  g_atomic_int_inc (&ingestion->documents);
  g_thread_pool_push (ingestion->pool, job, NULL);
}

void
sr_ingestion_enqueue (SrIngestion *ingestion, const SrDocumentRecord *document, guint32 owner_uid,
                      const char *adder)
{
  Job *job = g_new0 (Job, 1);
  job->ingestion = ingestion;
  job->document_id = g_strdup (document->id);
  job->session_id = g_strdup (document->session_id);
  job->sha256 = g_strdup (document->file_sha256);
  job->filename = g_strdup (document->filename);
  /* AddText stores "text" as the format it was given; a file has none until it is read. */
  job->typed_text = g_str_equal (document->format, "text")
                    || g_str_equal (document->format, "markdown")
                    || g_str_equal (document->format, "html");
  job->adder = g_strdup (adder);
  job->owner_uid = owner_uid;
  job->size = document->size;
  job->ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_hash_table_add (ingestion->jobs, job);
  queue_job (ingestion, job);
}

guint
sr_ingestion_waiting (SrIngestion *ingestion)
{
  return (guint) g_atomic_int_get (&ingestion->n_waiting);
}

void
sr_ingestion_retry_waiting (SrIngestion *ingestion)
{
  if (ingestion->waiting->len == 0 || g_cancellable_is_cancelled (ingestion->cancellable))
    return;
  g_autoptr (GPtrArray) waiting = g_steal_pointer (&ingestion->waiting);
  ingestion->waiting = g_ptr_array_new ();
  g_atomic_int_set (&ingestion->n_waiting, 0);
  g_info ("The embedding server answers: %u waiting document(s) queued again", waiting->len);
  for (guint i = 0; i < waiting->len; i++) {
    Job *job = waiting->pdata[i];
    job->waiting = job->server_down = FALSE;
    g_clear_error (&job->error);
    g_clear_pointer (&job->result, sr_ingested_free);
    g_array_set_size (job->ids, 0);
    job->reported = 0;
    queue_job (ingestion, job);
  }
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
