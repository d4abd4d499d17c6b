/* The embedder's background work: re-embedding chunks of another model, watching its server. */
#include "service/embedding.h"

#include <string.h>

#include "common/background.h"
#include "common/errors.h"
#include "service/indexes.h"
#include "service/ingestion.h"
#include "store/chunks.h"

/* Chunks per round: one transaction, and a few requests of the embedder's batch size. */
#define BATCH 64
/* How often an idle thread looks at the server's state and at waiting documents. */
#define POLL_US G_USEC_PER_SEC
/* Pauses between attempts to reach a server that does not answer. */
#define RETRY_FIRST_US G_USEC_PER_SEC
#define RETRY_MAX_US   (60 * G_USEC_PER_SEC)
/* After a failure that is not the server's (the database): no point in trying at once. */
#define PAUSE_AFTER_FAULT_US (60 * G_USEC_PER_SEC)
/* Below the bus's priority, like the ingestion's results. */
#define RESULT_PRIORITY G_PRIORITY_DEFAULT_IDLE

struct SrEmbedding {
  SrService *service;
  SrEmbedder *embedder;
  GMainContext *context; /* the main loop's: the indexes and the ingestion are fed there */
  GCancellable *cancellable;
  GThread *thread;
  GMutex lock; /* guards what follows */
  GCond wake;
  gboolean stopping;
  SrEmbeddingStats stats;
  gint retry_posted; /* atomic: a retry of the waiting documents is on its way */
};

/* The thread's own state. */
typedef struct {
  gint64 after;        /* the last chunk id dealt with */
  gint64 single_until; /* one chunk per request up to this id: a batch the server refused */
  gboolean counted;
  gboolean finished;
  gint64 retry_at;    /* monotonic µs: when to ask the server again; 0 when it answers */
  gint64 retry_delay; /* the pause before that, doubled at each failure */
  gint64 pause_until; /* after a fault of the database */
} Work;

static gboolean
stopping (SrEmbedding *self)
{
  g_mutex_lock (&self->lock);
  gboolean stop = self->stopping;
  g_mutex_unlock (&self->lock);
  return stop;
}

/* Until the next look, or the stop; only the stop when nothing can change any more. */
static void
wait_a_while (SrEmbedding *self, gboolean until_stop)
{
  g_mutex_lock (&self->lock);
  if (!self->stopping && until_stop)
    g_cond_wait (&self->wake, &self->lock);
  else if (!self->stopping)
    g_cond_wait_until (&self->wake, &self->lock, g_get_monotonic_time () + POLL_US);
  g_mutex_unlock (&self->lock);
}

static void
pause_after_fault (Work *work, const char *doing, const GError *error)
{
  g_warning ("Cannot %s: %s; trying again in a minute", doing, error->message);
  work->pause_until = g_get_monotonic_time () + PAUSE_AFTER_FAULT_US;
}

/* ---- the server ---- */

/* Whether the server answers, as far as the last call knows, whoever made it. While it
 * does not, it is asked again after a growing pause; FALSE until it answers. */
static gboolean
server_answers (SrEmbedding *self, Work *work)
{
  g_auto (SrEmbedderStatus) status = { 0 };
  sr_embedder_get_status (self->embedder, &status);
  if (status.state != SR_EMBEDDER_UNAVAILABLE && sr_embedder_dimensions (self->embedder) > 0) {
    work->retry_at = work->retry_delay = 0;
    return TRUE;
  }
  gint64 now = g_get_monotonic_time ();
  if (work->retry_at > now)
    return FALSE;

  g_autoptr (GError) error = NULL;
  if (sr_embedder_probe (self->embedder, self->cancellable, &error)) {
    if (work->retry_delay > 0)
      g_message ("The embedding server %s answers again", self->embedder->url);
    work->retry_at = work->retry_delay = 0;
    return TRUE;
  }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return FALSE;
  /* Said once per outage; health has the latest word. */
  if (work->retry_delay == 0)
    g_warning ("%s; documents wait and chunks are not embedded again until it answers",
               error->message);
  work->retry_delay = CLAMP (work->retry_delay * 2, RETRY_FIRST_US, RETRY_MAX_US);
  work->retry_at = now + work->retry_delay;
  return FALSE;
}

static gboolean
retry_on_main (gpointer data)
{
  SrEmbedding *self = data;
  g_atomic_int_set (&self->retry_posted, 0);
  sr_ingestion_retry_waiting (sr_service_ingestion (self->service));
  return G_SOURCE_REMOVE;
}

/* The server answers: documents that waited for it go back to the queue. */
static void
retry_waiting_documents (SrEmbedding *self)
{
  if (sr_ingestion_waiting (sr_service_ingestion (self->service)) == 0
      || !g_atomic_int_compare_and_exchange (&self->retry_posted, 0, 1))
    return;
  sr_background_post (self->context, RESULT_PRIORITY, retry_on_main, self);
}

/* ---- counting ---- */

/* Vectors stored for the model that are not as wide as the server's now (the model was
 * replaced under the same name) would never be searched: they are embedded again too. */
static gboolean
forget_wrong_width (SrEmbedding *self, SrStore *db, GError **error)
{
  guint bytes = 0;
  guint dimensions = sr_embedder_dimensions (self->embedder);
  if (!sr_store_chunks_vector_bytes (db, self->embedder->model, &bytes, error))
    return FALSE;
  if (bytes == 0 || bytes == dimensions * sizeof (float))
    return TRUE;
  guint64 forgotten = 0;
  if (!sr_store_chunks_forget_vectors (db, self->embedder->model, dimensions, &forgotten, error))
    return FALSE;
  g_warning ("%" G_GUINT64_FORMAT " vector(s) stored for %s are not %u wide as its vectors now "
             "are: they are embedded again",
             forgotten, self->embedder->model, dimensions);
  return TRUE;
}

static void
count_stale (SrEmbedding *self, Work *work)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrStoreLease) db = sr_store_acquire (sr_service_store (self->service), &error);
  guint64 left = 0;
  if (db == NULL || !forget_wrong_width (self, db, &error)
      || !sr_store_chunks_count_stale (db, self->embedder->model, &left, &error)) {
    pause_after_fault (work, "count the chunks to embed again", error);
    return;
  }
  if (left > 0)
    g_info ("%" G_GUINT64_FORMAT " chunk(s) hold vectors of another model than %s: embedding "
            "them again in the background",
            left, self->embedder->model);
  work->counted = TRUE;
  work->finished = left == 0;
  g_mutex_lock (&self->lock);
  self->stats.counted = TRUE;
  self->stats.left = left;
  g_mutex_unlock (&self->lock);
}

/* ---- embedding again ---- */

typedef struct {
  char *session_id;
  GArray *ids;     /* gint64 */
  GArray *vectors; /* float */
  guint dimensions;
} Added;

static void
added_free (gpointer data)
{
  Added *added = data;
  g_free (added->session_id);
  g_array_unref (added->ids);
  g_array_unref (added->vectors);
  g_free (added);
}

typedef struct {
  SrEmbedding *self;
  GPtrArray *added; /* Added, one per session */
} Posted;

static gboolean
add_on_main (gpointer data)
{
  Posted *posted = data;
  SrIndexes *indexes = sr_service_indexes (posted->self->service);
  for (guint i = 0; i < posted->added->len; i++) {
    Added *added = posted->added->pdata[i];
    sr_indexes_add (indexes, added->session_id, added->ids, (const float *) added->vectors->data,
                    added->dimensions);
  }
  g_ptr_array_unref (posted->added);
  g_free (posted);
  return G_SOURCE_REMOVE;
}

/* The stored vectors go to their sessions' indexes from the main loop, like a ready
 * document's: posted right after the commit, they come before anything a later change to
 * the same chunks posts. */
static void
hand_to_indexes (SrEmbedding *self, GPtrArray *chunks, const float *vectors, guint dimensions,
                 const gboolean *stored)
{
  g_autoptr (GHashTable) by_session = g_hash_table_new (g_str_hash, g_str_equal);
  Posted *posted = g_new0 (Posted, 1);
  posted->self = self;
  posted->added = g_ptr_array_new_with_free_func (added_free);
  for (guint i = 0; i < chunks->len; i++) {
    if (!stored[i])
      continue;
    SrStaleChunk *chunk = chunks->pdata[i];
    Added *added = g_hash_table_lookup (by_session, chunk->session_id);
    if (added == NULL) {
      added = g_new0 (Added, 1);
      added->session_id = g_strdup (chunk->session_id);
      added->ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      added->vectors = g_array_new (FALSE, FALSE, sizeof (float));
      added->dimensions = dimensions;
      g_hash_table_insert (by_session, added->session_id, added);
      g_ptr_array_add (posted->added, added);
    }
    g_array_append_val (added->ids, chunk->id);
    g_array_append_vals (added->vectors, vectors + (gsize) i * dimensions, dimensions);
  }
  sr_background_post (self->context, RESULT_PRIORITY, add_on_main, posted);
}

static void
count_done (SrEmbedding *self, guint looked_at, guint stored, guint skipped)
{
  g_mutex_lock (&self->lock);
  self->stats.left -= MIN (self->stats.left, looked_at);
  self->stats.done += stored;
  self->stats.skipped += skipped;
  g_mutex_unlock (&self->lock);
}

/* The server refused @chunks. Down: wait for it. Up, and these texts are what it refuses:
 * take them one at a time, and pass over one it refuses alone. Returns whether to go on. */
static gboolean
embedding_failed (SrEmbedding *self, Work *work, GPtrArray *chunks, const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return FALSE;
  if (!g_error_matches (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE)) {
    pause_after_fault (work, "embed chunks again", error);
    return FALSE;
  }
  g_autoptr (GError) probe_error = NULL;
  if (!sr_embedder_probe (self->embedder, self->cancellable, &probe_error))
    return FALSE;
  SrStaleChunk *last = chunks->pdata[chunks->len - 1];
  if (chunks->len > 1) {
    work->single_until = last->id;
    return TRUE;
  }
  g_warning ("Chunk %" G_GINT64_FORMAT " cannot be embedded with %s, which answers other "
             "texts: %s; it keeps its old vector until the next start",
             last->id, self->embedder->model, error->message);
  work->after = last->id;
  count_done (self, 1, 0, 1);
  return TRUE;
}

static void
finish (SrEmbedding *self, Work *work)
{
  work->finished = TRUE;
  g_mutex_lock (&self->lock);
  self->stats.left = 0;
  SrEmbeddingStats stats = self->stats;
  g_mutex_unlock (&self->lock);
  if (stats.done > 0 || stats.skipped > 0)
    g_info ("Embedded %" G_GUINT64_FORMAT " chunk(s) again with %s (%" G_GUINT64_FORMAT
            " refused by the server)",
            stats.done, self->embedder->model, stats.skipped);
}

/* One batch; returns whether there is more to do at once. */
static gboolean
reembed_some (SrEmbedding *self, Work *work)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrStoreLease) db = sr_store_acquire (sr_service_store (self->service), &error);
  guint limit = work->after < work->single_until ? 1 : BATCH;
  g_autoptr (GPtrArray) chunks
      = db != NULL
            ? sr_store_chunks_list_stale (db, self->embedder->model, work->after, limit, &error)
            : NULL;
  if (chunks == NULL) {
    pause_after_fault (work, "read the chunks to embed again", error);
    return FALSE;
  }
  if (chunks->len == 0) {
    finish (self, work);
    return FALSE;
  }

  guint dimensions = sr_embedder_dimensions (self->embedder);
  g_autofree const char **texts = g_new (const char *, chunks->len);
  g_autofree gint64 *ids = g_new (gint64, chunks->len);
  for (guint i = 0; i < chunks->len; i++) {
    texts[i] = ((SrStaleChunk *) chunks->pdata[i])->text;
    ids[i] = ((SrStaleChunk *) chunks->pdata[i])->id;
  }
  g_autofree float *vectors = g_new (float, (gsize) chunks->len *dimensions);
  if (!sr_embedder_embed (self->embedder, texts, chunks->len, vectors, self->cancellable, &error))
    return embedding_failed (self, work, chunks, error);

  g_autofree gboolean *stored = g_new0 (gboolean, chunks->len);
  if (!sr_store_chunks_set_vectors (db, self->embedder->model, ids, vectors, dimensions,
                                    chunks->len, stored, &error)) {
    pause_after_fault (work, "store the chunks' new vectors", error);
    return FALSE;
  }
  hand_to_indexes (self, chunks, vectors, dimensions, stored);
  guint n_stored = 0;
  for (guint i = 0; i < chunks->len; i++)
    n_stored += stored[i] ? 1 : 0;
  work->after = ids[chunks->len - 1];
  count_done (self, chunks->len, n_stored, 0);
  return TRUE;
}

/* ---- the thread ---- */

/* One piece of work; FALSE when there is none for now. */
static gboolean
step (SrEmbedding *self, Work *work)
{
  if (work->pause_until > g_get_monotonic_time () || !server_answers (self, work))
    return FALSE;
  retry_waiting_documents (self);
  if (!work->counted) {
    count_stale (self, work);
    return work->counted;
  }
  if (work->finished)
    return FALSE;
  return reembed_some (self, work);
}

static gpointer
embedding_thread (gpointer data)
{
  SrEmbedding *self = data;
  Work work = { 0 };

  sr_background_thread_enter (SR_NICENESS_MAINTENANCE);
  while (!stopping (self)) {
    if (step (self, &work))
      continue;
    /* An embedder without a server is never unavailable and keeps no document waiting:
     * once its chunks are done, there is nothing left to look at. */
    wait_a_while (self, work.finished && self->embedder->url == NULL);
  }
  return NULL;
}

SrEmbedding *
sr_embedding_new (SrService *service, SrEmbedder *embedder)
{
  SrEmbedding *self = g_new0 (SrEmbedding, 1);
  self->service = service;
  self->embedder = embedder;
  self->context = g_main_context_ref_thread_default ();
  self->cancellable = g_cancellable_new ();
  g_mutex_init (&self->lock);
  g_cond_init (&self->wake);
  self->thread = g_thread_new ("sr-embedding", embedding_thread, self);
  return self;
}

void
sr_embedding_free (SrEmbedding *self)
{
  if (self == NULL)
    return;
  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  g_cond_broadcast (&self->wake);
  g_mutex_unlock (&self->lock);
  g_cancellable_cancel (self->cancellable);
  g_thread_join (self->thread);
  /* What the thread posted: stored vectors still reach the indexes. */
  while (g_main_context_iteration (self->context, FALSE))
    ;
  g_main_context_unref (self->context);
  g_object_unref (self->cancellable);
  g_cond_clear (&self->wake);
  g_mutex_clear (&self->lock);
  g_free (self);
}

void
sr_embedding_stats (SrEmbedding *self, SrEmbeddingStats *stats)
{
  g_mutex_lock (&self->lock);
  *stats = self->stats;
  g_mutex_unlock (&self->lock);
}
