/* Each session's vector index: loaded on first use, caught up from SQLite, fed by a thread. */
#include "service/indexes.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "common/background.h"
#include "store/chunks.h"

/* A changed index is written once nothing new arrived for this long, and at least this
 * often while changes keep coming, so that a restart after a crash has little to catch
 * up on. Writing takes the index's lock: not after every document. */
#define SAVE_WHEN_QUIET_US (10 * G_USEC_PER_SEC)
#define SAVE_AT_LEAST_US   (5 * 60 * G_USEC_PER_SEC)
/* A graph nobody searched for this long, saved and with nothing waiting, leaves memory;
 * the next search loads it again. */
#define UNLOAD_UNUSED_US (15 * 60 * G_USEC_PER_SEC)
/* Vectors inserted in one turn before the thread looks for removals and other sessions. */
#define INSERTS_PER_TURN 64

/* Vectors of one document not yet in the graph. Searches compare the query with them
 * directly, so a document is found by meaning from the moment it is ready, whatever the
 * graph's backlog. Immutable once made, except for the flags and the progress mark. */
typedef struct {
  guint n;
  guint dimensions;
  gint64 *labels;
  float *vectors;
  gint *removed;  /* atomic: set when the chunk goes away while it waits */
  guint inserted; /* atomic: the first @inserted are in the graph */
} Batch;

typedef struct {
  char *session_id;
  char *path;
  SrVectorIndex *index; /* NULL until loaded */
  GPtrArray *batches;   /* Batch, oldest first */
  GArray *removals;     /* gint64: labels to take out of the graph */
  gboolean loading;
  gboolean forgotten;
  gboolean dirty;
  gint64 changed_at;
  gint64 saved_at;
  gint64 used_at; /* the last search */
  /* What the graph holds, as of the thread's last change to it: health must not wait
   * for the graph's lock. */
  guint64 vectors;
  guint64 memory;
} Entry;

struct SrIndexes {
  SrService *service;
  char *model;
  guint dimensions;
  char *dir;
  GMutex lock; /* guards the entries and everything in them but the graphs */
  GCond changed;
  GHashTable *entries; /* session id → Entry (rc box) */
  GPtrArray *doomed;   /* index files of deleted sessions, removed by the thread */
  GThread *thread;
  gint stopping; /* atomic */
  gint64 unload_after_us;
  gboolean noted; /* the directory's note names our model; changed by the index thread */
};

static void
batch_clear (gpointer data)
{
  Batch *batch = data;
  g_free (batch->labels);
  g_free (batch->vectors);
  g_free (batch->removed);
}

static Batch *
batch_new (guint n, guint dimensions)
{
  Batch *batch = g_atomic_rc_box_new0 (Batch);
  batch->n = n;
  batch->dimensions = dimensions;
  batch->labels = g_new (gint64, MAX (n, 1));
  batch->vectors = g_new (float, (gsize) MAX (n, 1) * dimensions);
  batch->removed = g_new0 (gint, MAX (n, 1));
  return batch;
}

static void
batch_unref (gpointer batch)
{
  g_atomic_rc_box_release_full (batch, batch_clear);
}

static void
entry_clear (gpointer data)
{
  Entry *entry = data;
  g_free (entry->session_id);
  g_free (entry->path);
  g_clear_pointer (&entry->index, sr_vector_index_free);
  g_ptr_array_unref (entry->batches);
  g_array_unref (entry->removals);
}

static void
entry_unref (gpointer entry)
{
  g_atomic_rc_box_release_full (entry, entry_clear);
}

static char *
index_path (SrIndexes *indexes, const char *session_id)
{
  g_autofree char *name = g_strconcat (session_id, ".hnsw", NULL);
  return g_build_filename (indexes->dir, name, NULL);
}

/* Called with the lock held. */
static Entry *
entry_get (SrIndexes *indexes, const char *session_id)
{
  Entry *entry = g_hash_table_lookup (indexes->entries, session_id);
  if (entry != NULL)
    return entry;
  entry = g_atomic_rc_box_new0 (Entry);
  entry->session_id = g_strdup (session_id);
  entry->path = index_path (indexes, session_id);
  entry->batches = g_ptr_array_new_with_free_func (batch_unref);
  entry->removals = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_hash_table_insert (indexes->entries, entry->session_id, entry);
  return entry;
}

/* ---- loading and catching up ---- */

typedef struct {
  GArray *labels;     /* gint64: stored vectors missing from the graph */
  GArray *vectors;    /* float */
  GHashTable *wanted; /* of the labels to read in a full scan; NULL: every one */
  guint dimensions;
} CatchUp;

static gboolean
catch_up_vector (gint64 id, const float *vector, guint dimensions, gpointer user_data)
{
  CatchUp *c = user_data;
  if (c->wanted != NULL && !g_hash_table_contains (c->wanted, &id))
    return TRUE;
  /* Stored when the server's model gave vectors of another length: the re-embedding
   * thread replaces them, and until then they are searched by their words alone. */
  if (dimensions != c->dimensions)
    return TRUE;
  g_array_append_val (c->labels, id);
  g_array_append_vals (c->vectors, vector, dimensions);
  return TRUE;
}

/* The stored ids the graph lacks; the graph's labels SQLite no longer has are taken out
 * of it (it is not shared yet, so no search ever sees them). */
static GArray *
compare_with_store (SrVectorIndex *index, GArray *stored, guint *stale)
{
  GArray *missing = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) labels = sr_vector_index_labels (index);
  g_autoptr (GHashTable) in_graph = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint i = 0; i < labels->len; i++)
    g_hash_table_add (in_graph, &g_array_index (labels, gint64, i));
  g_autoptr (GHashTable) in_store = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint i = 0; i < stored->len; i++) {
    gint64 *id = &g_array_index (stored, gint64, i);
    g_hash_table_add (in_store, id);
    if (!g_hash_table_contains (in_graph, id))
      g_array_append_val (missing, *id);
  }
  *stale = 0;
  for (guint i = 0; i < labels->len; i++) {
    gint64 label = g_array_index (labels, gint64, i);
    if (!g_hash_table_contains (in_store, &label)
        && sr_vector_index_remove (index, (guint64) label, NULL))
      (*stale)++;
  }
  return missing;
}

/* Reads the vectors of @ids: one by one when they are few, in one pass over the session
 * when they are most of it. */
static gboolean
read_vectors (SrIndexes *indexes, SrStore *db, const char *session_id, GArray *ids, guint stored,
              CatchUp *c, GError **error)
{
  if (ids->len == 0)
    return TRUE;
  if (ids->len < stored / 4)
    return sr_store_chunks_foreach_vector_of (db, session_id, indexes->model,
                                              (const gint64 *) ids->data, ids->len, catch_up_vector,
                                              c, error);
  g_autoptr (GHashTable) wanted = NULL;
  if (ids->len < stored) {
    wanted = g_hash_table_new (g_int64_hash, g_int64_equal);
    for (guint i = 0; i < ids->len; i++)
      g_hash_table_add (wanted, &g_array_index (ids, gint64, i));
  }
  c->wanted = wanted;
  gboolean ok
      = sr_store_chunks_foreach_vector (db, session_id, indexes->model, catch_up_vector, c, error);
  c->wanted = NULL;
  return ok;
}

/* Reads the saved graph, or starts an empty one, and catches it up with SQLite, the
 * source of truth: what it lacks comes back in @missing, to be inserted. */
static SrVectorIndex *
load (SrIndexes *indexes, SrStore *db, Entry *entry, Batch **missing, gboolean *changed,
      GError **error)
{
  g_autoptr (GError) load_error = NULL;
  g_autoptr (SrVectorIndex) index = NULL;
  if (g_file_test (entry->path, G_FILE_TEST_EXISTS)) {
    index = sr_vector_index_load (entry->path, indexes->dimensions, &load_error);
    if (index == NULL)
      g_warning ("Vector index %s is unusable (%s); rebuilding it", entry->path,
                 load_error->message);
  }
  if (index == NULL && (index = sr_vector_index_new (indexes->dimensions, 0, error)) == NULL)
    return NULL;

  g_autoptr (GArray) stored
      = sr_store_chunks_vector_ids (db, entry->session_id, indexes->model, error);
  if (stored == NULL)
    return NULL;
  guint stale = 0;
  g_autoptr (GArray) absent = compare_with_store (index, stored, &stale);
  g_autoptr (GArray) labels = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) vectors = g_array_new (FALSE, FALSE, sizeof (float));
  CatchUp c = { labels, vectors, NULL, indexes->dimensions };
  if (!read_vectors (indexes, db, entry->session_id, absent, stored->len, &c, error))
    return NULL;

  *missing = batch_new (labels->len, indexes->dimensions);
  if (labels->len > 0) {
    memcpy ((*missing)->labels, labels->data, labels->len * sizeof (gint64));
    memcpy ((*missing)->vectors, vectors->data, vectors->len * sizeof (float));
  }
  if (labels->len > 0 || stale > 0)
    g_info ("Vector index of session %s: %u vector(s) to add, %u removed", entry->session_id,
            labels->len, stale);
  *changed = labels->len > 0 || stale > 0;
  return g_steal_pointer (&index);
}

static GHashTable *
label_set_of (const GArray *ids)
{
  GHashTable *set = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint i = 0; i < ids->len; i++)
    g_hash_table_add (set, &g_array_index (ids, gint64, i));
  return set;
}

/* Flags the vectors of @batch whose labels are in @gone (borrowing gint64s), so that
 * they are neither searched nor inserted. */
static void
mark_removed (Batch *batch, GHashTable *gone)
{
  if (g_hash_table_size (gone) == 0)
    return;
  for (guint i = 0; i < batch->n; i++)
    if (g_hash_table_contains (gone, &batch->labels[i]))
      g_atomic_int_set (&batch->removed[i], 1);
}

/* Makes sure @entry has its graph, loading it on this thread (a search's) unless
 * another thread does. Called and returns with the lock held. */
static gboolean
ensure_loaded (SrIndexes *indexes, SrStore *db, Entry *entry, GError **error)
{
  while (entry->loading)
    g_cond_wait (&indexes->changed, &indexes->lock);
  if (entry->index != NULL)
    return TRUE;

  entry->loading = TRUE;
  g_mutex_unlock (&indexes->lock);
  Batch *missing = NULL;
  gboolean changed = FALSE;
  SrVectorIndex *index = load (indexes, db, entry, &missing, &changed, error);
  guint64 vectors = index != NULL ? sr_vector_index_count (index) : 0;
  guint64 memory = index != NULL ? sr_vector_index_memory (index) : 0;
  g_mutex_lock (&indexes->lock);

  entry->loading = FALSE;
  g_cond_broadcast (&indexes->changed);
  if (index == NULL)
    return FALSE;
  entry->index = index;
  /* The database may have been read before a removal made while loading. */
  g_autoptr (GHashTable) gone = label_set_of (entry->removals);
  mark_removed (missing, gone);
  /* Before what arrived while loading, which may come again in it: the later copy wins. */
  g_ptr_array_insert (entry->batches, 0, missing);
  entry->dirty = changed;
  entry->changed_at = entry->saved_at = g_get_monotonic_time ();
  entry->vectors = vectors;
  entry->memory = memory;
  return TRUE;
}

/* ---- searching ---- */

typedef struct {
  gint64 label;
  float distance;
} Neighbour;

static gint
compare_neighbours (gconstpointer a, gconstpointer b)
{
  const Neighbour *x = a, *y = b;
  if (x->distance != y->distance)
    return x->distance < y->distance ? -1 : 1;
  return x->label < y->label ? -1 : x->label > y->label;
}

static float
dot (const float *a, const float *b, guint n)
{
  /* Independent sums keep several multiplications in flight. */
  float s[4] = { 0, 0, 0, 0 };
  guint i = 0;
  for (; i + 4 <= n; i += 4) {
    s[0] += a[i] * b[i];
    s[1] += a[i + 1] * b[i + 1];
    s[2] += a[i + 2] * b[i + 2];
    s[3] += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++)
    s[0] += a[i] * b[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

/* Keeps the @n nearest in @best, sorted; the graph's distance is 1 − dot product. */
/* From @from on: what the graph may not have held when it was searched. */
static void
scan_batch (const Batch *batch, guint from, const float *query, guint n, GArray *best)
{
  for (guint i = from; i < batch->n; i++) {
    if (g_atomic_int_get (&batch->removed[i]))
      continue;
    Neighbour c
        = { batch->labels[i],
            1.0f - dot (query, batch->vectors + (gsize) i * batch->dimensions, batch->dimensions) };
    if (best->len == n && compare_neighbours (&c, &g_array_index (best, Neighbour, n - 1)) >= 0)
      continue;
    guint at = best->len;
    while (at > 0 && compare_neighbours (&c, &g_array_index (best, Neighbour, at - 1)) < 0)
      at--;
    g_array_insert_val (best, at, c);
    if (best->len > n)
      g_array_set_size (best, n);
  }
}

/* Called with the lock held: the first vectors fix the width of every graph. */
static gboolean
adopt_dimensions (SrIndexes *indexes, guint dimensions)
{
  if (indexes->dimensions == 0)
    indexes->dimensions = dimensions;
  return dimensions == indexes->dimensions;
}

guint
sr_indexes_search (SrIndexes *indexes, SrStore *db, const char *session_id, const float *query,
                   guint dimensions, guint n, gint64 *labels, GError **error)
{
  g_mutex_lock (&indexes->lock);
  if (!adopt_dimensions (indexes, dimensions)) {
    g_mutex_unlock (&indexes->lock);
    return 0;
  }
  Entry *entry = g_atomic_rc_box_acquire (entry_get (indexes, session_id));
  entry->used_at = g_get_monotonic_time ();
  if (!ensure_loaded (indexes, db, entry, error)) {
    g_mutex_unlock (&indexes->lock);
    entry_unref (entry);
    return 0;
  }
  g_autoptr (GPtrArray) batches = g_ptr_array_new_full (entry->batches->len, batch_unref);
  /* Where each batch stood before the graph is searched: a vector inserted between the
   * search of the graph and the scan of its batch would be missed by both. */
  g_autofree guint *from = g_new (guint, MAX (entry->batches->len, 1));
  for (guint i = 0; i < entry->batches->len; i++) {
    Batch *batch = entry->batches->pdata[i];
    g_ptr_array_add (batches, g_atomic_rc_box_acquire (batch));
    from[i] = (guint) g_atomic_int_get (&batch->inserted);
  }
  g_mutex_unlock (&indexes->lock);

  g_autoptr (GArray) found = g_array_sized_new (FALSE, FALSE, sizeof (Neighbour), 2 * n);
  g_autofree guint64 *graph_labels = g_new (guint64, n);
  g_autofree float *graph_distances = g_new (float, n);
  GError *local = NULL;
  guint in_graph
      = sr_vector_index_search (entry->index, query, n, graph_labels, graph_distances, &local);
  entry_unref (entry);
  if (local != NULL) {
    g_propagate_error (error, local);
    return 0;
  }
  for (guint i = 0; i < in_graph; i++) {
    Neighbour c = { (gint64) graph_labels[i], graph_distances[i] };
    g_array_append_val (found, c);
  }
  g_autoptr (GArray) waiting = g_array_sized_new (FALSE, FALSE, sizeof (Neighbour), n + 1);
  for (guint i = 0; i < batches->len; i++)
    scan_batch (batches->pdata[i], from[i], query, n, waiting);
  g_array_append_vals (found, waiting->data, waiting->len);
  g_array_sort (found, compare_neighbours);

  /* A vector being inserted is in both the graph and its batch. */
  g_autoptr (GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);
  guint count = 0;
  for (guint i = 0; i < found->len && count < n; i++) {
    Neighbour *c = &g_array_index (found, Neighbour, i);
    if (g_hash_table_add (seen, &c->label))
      labels[count++] = c->label;
  }
  return count;
}

/* ---- changes from the main loop ---- */

void
sr_indexes_add (SrIndexes *indexes, const char *session_id, const GArray *ids, const float *vectors,
                guint dimensions)
{
  if (ids->len == 0)
    return;
  Batch *batch = batch_new (ids->len, dimensions);
  memcpy (batch->labels, ids->data, ids->len * sizeof (gint64));
  memcpy (batch->vectors, vectors, (gsize) ids->len * dimensions * sizeof (float));

  g_mutex_lock (&indexes->lock);
  Entry *entry = adopt_dimensions (indexes, dimensions)
                     ? g_hash_table_lookup (indexes->entries, session_id)
                     : NULL;
  /* A graph not loaded yet reads these from SQLite when it is; one being loaded may read
   * them too, and adding a label twice only replaces its vector. */
  if (entry != NULL && (entry->index != NULL || entry->loading)) {
    g_ptr_array_add (entry->batches, g_steal_pointer (&batch));
    g_cond_broadcast (&indexes->changed);
  }
  g_mutex_unlock (&indexes->lock);
  g_clear_pointer (&batch, batch_unref);
}

void
sr_indexes_remove (SrIndexes *indexes, const char *session_id, const GArray *ids)
{
  g_autoptr (GHashTable) gone = label_set_of (ids);
  g_mutex_lock (&indexes->lock);
  Entry *entry = g_hash_table_lookup (indexes->entries, session_id);
  if (entry != NULL) {
    for (guint b = 0; b < entry->batches->len; b++)
      mark_removed (entry->batches->pdata[b], gone);
    /* The graph is changed on the index thread only: an insertion or a save may hold it
     * for a while. Until then the store, which no longer has the chunks, filters them. */
    g_array_append_vals (entry->removals, ids->data, ids->len);
    g_cond_broadcast (&indexes->changed);
  }
  g_mutex_unlock (&indexes->lock);
}

void
sr_indexes_forget (SrIndexes *indexes, const char *session_id)
{
  g_mutex_lock (&indexes->lock);
  Entry *entry = g_hash_table_lookup (indexes->entries, session_id);
  if (entry != NULL)
    entry->forgotten = TRUE;
  g_hash_table_remove (indexes->entries, session_id);
  /* By the thread, which is the only one to write index files: a save under way cannot
   * bring the file back after it was removed. */
  g_ptr_array_add (indexes->doomed, index_path (indexes, session_id));
  g_cond_broadcast (&indexes->changed);
  g_mutex_unlock (&indexes->lock);
}

/* ---- whose vectors the files hold ---- */

/* Whose vectors the files in the directory hold. */
#define MODEL_NOTE "model"

static void
remove_graph_files (SrIndexes *indexes)
{
  g_autoptr (GDir) dir = g_dir_open (indexes->dir, 0, NULL);
  const char *name;
  guint removed = 0;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    if (!g_str_has_suffix (name, ".hnsw"))
      continue;
    g_autofree char *path = g_build_filename (indexes->dir, name, NULL);
    if (g_unlink (path) == 0)
      removed++;
    else if (errno != ENOENT)
      g_warning ("Cannot remove %s: %s", path, g_strerror (errno));
  }
  if (removed > 0)
    g_info ("Removed %u vector index file(s) of another embedding model; each is rebuilt for %s "
            "from the database when its session is next searched",
            removed, indexes->model);
}

static char *
note_path (SrIndexes *indexes)
{
  return g_build_filename (indexes->dir, MODEL_NOTE, NULL);
}

/* A graph's labels are chunk ids, and once chunks are embedded again with another model
 * the same ids stand for other vectors: loading the old graph would keep the old ones.
 * So the directory notes whose vectors its files hold, and the files of another model go.
 * Files without a note come from before notes were kept, and are not trusted either. */
static void
check_model (SrIndexes *indexes)
{
  g_autofree char *note = note_path (indexes);
  g_autofree char *recorded = NULL;
  if (g_file_get_contents (note, &recorded, NULL, NULL) && g_str_equal (recorded, indexes->model)) {
    indexes->noted = TRUE;
    return;
  }
  remove_graph_files (indexes);
  if (recorded != NULL && g_unlink (note) != 0 && errno != ENOENT)
    g_warning ("Cannot remove %s: %s", note, g_strerror (errno));
}

/* Written before the first graph, on the index thread: a directory that was never
 * written to stays as it was. */
static gboolean
write_note (SrIndexes *indexes)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *note = note_path (indexes);
  if (!g_file_set_contents_full (note, indexes->model, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                 &error)) {
    g_warning ("%s", error->message);
    return FALSE;
  }
  indexes->noted = TRUE;
  return TRUE;
}

/* ---- the index thread ---- */

static gboolean
save (SrIndexes *indexes, Entry *entry)
{
  g_autoptr (GError) error = NULL;
  if (g_mkdir_with_parents (indexes->dir, 0700) != 0) {
    g_warning ("Cannot create %s: %s", indexes->dir, g_strerror (errno));
    return FALSE;
  }
  /* Without the note, a later start could not tell whose vectors the file holds. */
  if (!indexes->noted && !write_note (indexes))
    return FALSE;
  /* Not fatal: what the file lacks is caught up from SQLite at the next load. */
  if (!sr_vector_index_save (entry->index, entry->path, &error)) {
    g_warning ("%s", error->message);
    return FALSE;
  }
  return TRUE;
}

static void
remove_doomed (SrIndexes *indexes, GPtrArray *doomed)
{
  for (guint i = 0; i < doomed->len; i++)
    if (g_unlink (doomed->pdata[i]) != 0 && errno != ENOENT)
      g_warning ("Cannot remove %s: %s", (char *) doomed->pdata[i], g_strerror (errno));
}

/* Called with the lock held. */
static GArray *
take_removals (Entry *entry)
{
  GArray *removals = g_steal_pointer (&entry->removals);
  entry->removals = g_array_new (FALSE, FALSE, sizeof (gint64));
  return removals;
}

static void
apply_removals (Entry *entry, GArray *removals)
{
  for (guint i = 0; i < removals->len; i++)
    sr_vector_index_remove (entry->index, (guint64) g_array_index (removals, gint64, i), NULL);
}

/* Inserts some of the first batch's vectors into the graph. Called with the lock held,
 * which it drops while the graph is changed. */
static void
insert_some (SrIndexes *indexes, Entry *entry)
{
  Batch *batch = g_atomic_rc_box_acquire (entry->batches->pdata[0]);
  g_autoptr (GArray) removals = take_removals (entry);
  g_mutex_unlock (&indexes->lock);

  apply_removals (entry, removals);
  guint end = MIN (batch->inserted + INSERTS_PER_TURN, batch->n);
  for (guint i = batch->inserted; i < end; i++) {
    if (g_atomic_int_get (&batch->removed[i]))
      continue;
    g_autoptr (GError) error = NULL;
    guint64 label = (guint64) batch->labels[i];
    if (!sr_vector_index_add (entry->index, label, batch->vectors + (gsize) i * batch->dimensions,
                              &error))
      g_warning ("Vector index of session %s: %s", entry->session_id, error->message);
    /* Removed while it was being inserted: the removal found nothing to take out. */
    else if (g_atomic_int_get (&batch->removed[i]))
      sr_vector_index_remove (entry->index, label, NULL);
  }

  guint64 vectors = sr_vector_index_count (entry->index);
  /* Counting the memory walks every vector: once per batch. */
  guint64 memory = end == batch->n ? sr_vector_index_memory (entry->index) : entry->memory;
  g_mutex_lock (&indexes->lock);
  /* With the counts, so that the stats never show a backlog gone and the graph short. */
  g_atomic_int_set (&batch->inserted, end);
  entry->vectors = vectors;
  entry->memory = memory;
  if (end == batch->n && entry->batches->len > 0 && entry->batches->pdata[0] == batch)
    g_ptr_array_remove_index (entry->batches, 0);
  entry->dirty = TRUE;
  entry->changed_at = g_get_monotonic_time ();
  batch_unref (batch);
}

static gboolean
has_work (Entry *entry)
{
  return entry->index != NULL && (entry->batches->len > 0 || entry->removals->len > 0);
}

static gboolean
wants_save (Entry *entry, gint64 now)
{
  return entry->index != NULL && entry->dirty && !entry->forgotten
         && (now - entry->changed_at >= SAVE_WHEN_QUIET_US
             || now - entry->saved_at >= SAVE_AT_LEAST_US);
}

/* One piece of work, with the lock held; FALSE when there was none. Sessions take turns:
 * the entry served goes to the back of the table's order by being looked at last. */
static gboolean
work_once (SrIndexes *indexes, guint *turn)
{
  g_autoptr (GPtrArray) entries = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, indexes->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (entries, value);
  gint64 now = g_get_monotonic_time ();

  for (guint k = 0; k < entries->len; k++) {
    Entry *entry = entries->pdata[(*turn + k) % entries->len];
    if (!has_work (entry))
      continue;
    *turn = (*turn + k + 1) % entries->len;
    g_atomic_rc_box_acquire (entry);
    if (entry->batches->len > 0) {
      insert_some (indexes, entry);
    } else {
      g_autoptr (GArray) removals = take_removals (entry);
      g_mutex_unlock (&indexes->lock);
      apply_removals (entry, removals);
      g_mutex_lock (&indexes->lock);
      entry->dirty = TRUE;
      entry->changed_at = g_get_monotonic_time ();
    }
    entry_unref (entry);
    return TRUE;
  }
  for (guint k = 0; k < entries->len; k++) {
    Entry *entry = entries->pdata[k];
    if (!wants_save (entry, now))
      continue;
    g_atomic_rc_box_acquire (entry);
    entry->dirty = FALSE;
    g_mutex_unlock (&indexes->lock);
    gboolean saved = save (indexes, entry);
    g_mutex_lock (&indexes->lock);
    entry->saved_at = g_get_monotonic_time ();
    entry->dirty |= !saved;
    entry_unref (entry);
    return TRUE;
  }
  for (guint k = 0; k < entries->len; k++) {
    Entry *entry = entries->pdata[k];
    if (entry->index == NULL || entry->loading || entry->dirty || has_work (entry)
        || now - entry->used_at < indexes->unload_after_us)
      continue;
    /* A search under way holds its own reference. */
    g_info ("Vector index of session %s unused for a while: unloaded", entry->session_id);
    g_hash_table_remove (indexes->entries, entry->session_id);
    return TRUE;
  }
  if (indexes->doomed->len > 0) {
    g_autoptr (GPtrArray) doomed = g_steal_pointer (&indexes->doomed);
    indexes->doomed = g_ptr_array_new_with_free_func (g_free);
    g_mutex_unlock (&indexes->lock);
    remove_doomed (indexes, doomed);
    g_mutex_lock (&indexes->lock);
    return TRUE;
  }
  return FALSE;
}

static gpointer
index_thread (gpointer data)
{
  SrIndexes *indexes = data;
  guint turn = 0;

  /* Vectors waiting for the graph are searched anyway: documents becoming ready first. */
  sr_background_thread_enter (SR_NICENESS_MAINTENANCE);
  g_mutex_lock (&indexes->lock);
  while (!g_atomic_int_get (&indexes->stopping)) {
    if (work_once (indexes, &turn))
      continue;
    /* Woken by new work; the timeout lets quiet indexes reach their save. */
    g_cond_wait_until (&indexes->changed, &indexes->lock, g_get_monotonic_time () + G_USEC_PER_SEC);
  }
  g_mutex_unlock (&indexes->lock);
  return NULL;
}

/* ---- life ---- */

SrIndexes *
sr_indexes_new (SrService *service, const char *model, guint dimensions)
{
  SrIndexes *indexes = g_new0 (SrIndexes, 1);
  indexes->service = service;
  indexes->model = g_strdup (model);
  indexes->dimensions = dimensions;
  indexes->dir = g_build_filename (sr_service_state_dir (service), "index", NULL);
  g_mutex_init (&indexes->lock);
  g_cond_init (&indexes->changed);
  indexes->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, entry_unref);
  indexes->doomed = g_ptr_array_new_with_free_func (g_free);
  indexes->unload_after_us = UNLOAD_UNUSED_US;
  check_model (indexes);
  indexes->thread = g_thread_new ("sr-index", index_thread, indexes);
  return indexes;
}

void
sr_indexes_free (SrIndexes *indexes)
{
  if (indexes == NULL)
    return;
  g_mutex_lock (&indexes->lock);
  g_atomic_int_set (&indexes->stopping, 1);
  g_cond_broadcast (&indexes->changed);
  g_mutex_unlock (&indexes->lock);
  g_thread_join (indexes->thread);

  /* What the graphs hold is kept; vectors still waiting are caught up at the next load. */
  GHashTableIter iter;
  Entry *entry;
  g_hash_table_iter_init (&iter, indexes->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (entry->index != NULL && entry->dirty)
      save (indexes, entry);
  remove_doomed (indexes, indexes->doomed);

  g_hash_table_unref (indexes->entries);
  g_ptr_array_unref (indexes->doomed);
  g_cond_clear (&indexes->changed);
  g_mutex_clear (&indexes->lock);
  g_free (indexes->model);
  g_free (indexes->dir);
  g_free (indexes);
}

void
sr_indexes_set_unload_after (SrIndexes *indexes, gint64 unused_us)
{
  g_mutex_lock (&indexes->lock);
  indexes->unload_after_us = unused_us;
  g_cond_broadcast (&indexes->changed);
  g_mutex_unlock (&indexes->lock);
}

void
sr_indexes_stats (SrIndexes *indexes, SrIndexStats *stats)
{
  memset (stats, 0, sizeof *stats);
  g_mutex_lock (&indexes->lock);
  GHashTableIter iter;
  Entry *entry;
  g_hash_table_iter_init (&iter, indexes->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry)) {
    if (entry->index == NULL)
      continue;
    stats->loaded++;
    stats->vectors += entry->vectors;
    stats->memory += entry->memory;
    stats->waiting += entry->removals->len;
    for (guint i = 0; i < entry->batches->len; i++) {
      Batch *batch = entry->batches->pdata[i];
      stats->waiting += batch->n - g_atomic_int_get (&batch->inserted);
      stats->memory += (guint64) batch->n * (batch->dimensions * sizeof (float) + 12);
    }
  }
  g_mutex_unlock (&indexes->lock);
}
