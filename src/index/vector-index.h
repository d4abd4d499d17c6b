/* An approximate nearest-neighbour index (HNSW, cosine) over one session's vectors. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct SrVectorIndex SrVectorIndex;

/* Errors are SMARTRAG_ERROR_FAILED with a message; no C++ exception ever escapes. */
SrVectorIndex *sr_vector_index_new (guint dimensions, guint64 capacity, GError **error);
/* Loads a file written by sr_vector_index_save(); a damaged or foreign file is an error,
 * never a crash. */
SrVectorIndex *sr_vector_index_load (const char *path, guint dimensions, GError **error);
/* Writes to a temporary file, fsyncs it and renames it over @path: a crash leaves either
 * the old or the new index. */
gboolean sr_vector_index_save (SrVectorIndex *index, const char *path, GError **error);
void sr_vector_index_free (SrVectorIndex *index);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrVectorIndex, sr_vector_index_free)

/* @label is the chunk's rowid; adding an existing label replaces its vector. The index
 * grows as needed. */
gboolean sr_vector_index_add (SrVectorIndex *index, guint64 label, const float *vector,
                              GError **error);
gboolean sr_vector_index_remove (SrVectorIndex *index, guint64 label, GError **error);
guint64 sr_vector_index_count (SrVectorIndex *index);
/* Bytes of memory the index holds, for reports. */
guint64 sr_vector_index_memory (SrVectorIndex *index);

/* The @k nearest labels, nearest first, with cosine distances; returns how many found. */
guint sr_vector_index_search (SrVectorIndex *index, const float *query, guint k, guint64 *labels,
                              float *distances, GError **error);

G_END_DECLS
