/* Each session's vector index: loaded on first use, caught up or rebuilt from SQLite. */
#include "service/indexes.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "store/chunks.h"

typedef struct {
  SrVectorIndex *index;
  gboolean dirty;
} Entry;

struct SrIndexes {
  SrService *service;
  char *model;
  guint dimensions;
  char *dir;
  GHashTable *entries; /* session id → Entry */
};

static void
entry_free (gpointer data)
{
  Entry *entry = data;
  sr_vector_index_free (entry->index);
  g_free (entry);
}

SrIndexes *
sr_indexes_new (SrService *service, const char *model, guint dimensions)
{
  SrIndexes *indexes = g_new0 (SrIndexes, 1);
  indexes->service = service;
  indexes->model = g_strdup (model);
  indexes->dimensions = dimensions;
  indexes->dir = g_build_filename (sr_service_state_dir (service), "index", NULL);
  indexes->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, entry_free);
  return indexes;
}

void
sr_indexes_free (SrIndexes *indexes)
{
  if (indexes == NULL)
    return;
  sr_indexes_save (indexes);
  g_hash_table_unref (indexes->entries);
  g_free (indexes->model);
  g_free (indexes->dir);
  g_free (indexes);
}

static char *
index_path (SrIndexes *indexes, const char *session_id)
{
  g_autofree char *name = g_strconcat (session_id, ".hnsw", NULL);
  return g_build_filename (indexes->dir, name, NULL);
}

static gboolean
add_from_store (gint64 id, const float *vector, guint dimensions, gpointer user_data)
{
  SrVectorIndex *index = user_data;
  return sr_vector_index_add (index, (guint64) id, vector, NULL);
}

static SrVectorIndex *
rebuild (SrIndexes *indexes, const char *session_id, guint64 expected, GError **error)
{
  g_autoptr (SrVectorIndex) index
      = sr_vector_index_new (indexes->dimensions, MAX (expected, 16), error);
  if (index == NULL)
    return NULL;
  if (!sr_store_chunks_foreach_vector (sr_service_store (indexes->service), session_id,
                                       indexes->model, add_from_store, index, error))
    return NULL;
  g_info ("Rebuilt the vector index of session %s from the database (%" G_GUINT64_FORMAT
          " vectors)",
          session_id, sr_vector_index_count (index));
  return g_steal_pointer (&index);
}

SrVectorIndex *
sr_indexes_get (SrIndexes *indexes, const char *session_id, GError **error)
{
  Entry *entry = g_hash_table_lookup (indexes->entries, session_id);
  if (entry != NULL)
    return entry->index;

  guint64 expected = 0;
  if (!sr_store_chunks_count_vectors (sr_service_store (indexes->service), session_id,
                                      indexes->model, &expected, error))
    return NULL;

  g_autofree char *path = index_path (indexes, session_id);
  g_autoptr (GError) load_error = NULL;
  g_autoptr (SrVectorIndex) index = NULL;
  gboolean dirty = FALSE;
  if (g_file_test (path, G_FILE_TEST_EXISTS)) {
    index = sr_vector_index_load (path, indexes->dimensions, &load_error);
    if (index == NULL)
      g_warning ("Vector index %s is unusable (%s); rebuilding it", path, load_error->message);
    else if (sr_vector_index_count (index) != expected)
      g_clear_pointer (&index, sr_vector_index_free);
  }
  if (index == NULL) {
    index = rebuild (indexes, session_id, expected, error);
    if (index == NULL)
      return NULL;
    dirty = TRUE;
  }
  entry = g_new0 (Entry, 1);
  entry->index = g_steal_pointer (&index);
  entry->dirty = dirty;
  g_hash_table_insert (indexes->entries, g_strdup (session_id), entry);
  return entry->index;
}

void
sr_indexes_add (SrIndexes *indexes, const char *session_id, const GArray *ids, const float *vectors,
                guint dimensions)
{
  Entry *entry = g_hash_table_lookup (indexes->entries, session_id);
  if (entry == NULL || dimensions != indexes->dimensions)
    return;
  for (guint i = 0; i < ids->len; i++) {
    g_autoptr (GError) error = NULL;
    guint64 label = (guint64) g_array_index (ids, gint64, i);
    if (!sr_vector_index_add (entry->index, label, vectors + (gsize) i * dimensions, &error)) {
      /* The index is derived: drop it and let the next search rebuild it. */
      g_warning ("Vector index of session %s: %s; it will be rebuilt", session_id, error->message);
      g_hash_table_remove (indexes->entries, session_id);
      return;
    }
  }
  entry->dirty = TRUE;
}

void
sr_indexes_remove (SrIndexes *indexes, const char *session_id, const GArray *ids)
{
  Entry *entry = g_hash_table_lookup (indexes->entries, session_id);
  if (entry == NULL)
    return;
  for (guint i = 0; i < ids->len; i++)
    sr_vector_index_remove (entry->index, (guint64) g_array_index (ids, gint64, i), NULL);
  entry->dirty = TRUE;
}

void
sr_indexes_forget (SrIndexes *indexes, const char *session_id)
{
  g_autofree char *path = index_path (indexes, session_id);
  g_hash_table_remove (indexes->entries, session_id);
  if (g_unlink (path) != 0 && errno != ENOENT)
    g_warning ("Cannot remove %s: %s", path, g_strerror (errno));
}

guint
sr_indexes_save (SrIndexes *indexes)
{
  GHashTableIter iter;
  const char *session_id;
  Entry *entry;
  guint saved = 0;

  g_hash_table_iter_init (&iter, indexes->entries);
  while (g_hash_table_iter_next (&iter, (gpointer *) &session_id, (gpointer *) &entry)) {
    if (!entry->dirty)
      continue;
    if (g_mkdir_with_parents (indexes->dir, 0700) != 0) {
      g_warning ("Cannot create %s: %s", indexes->dir, g_strerror (errno));
      return saved;
    }
    g_autofree char *path = index_path (indexes, session_id);
    g_autoptr (GError) error = NULL;
    /* Not fatal: the index is rebuilt from SQLite at the next load. */
    if (!sr_vector_index_save (entry->index, path, &error)) {
      g_warning ("%s", error->message);
      continue;
    }
    entry->dirty = FALSE;
    saved++;
  }
  return saved;
}
