/* An approximate nearest-neighbour index (HNSW, cosine) over one session's vectors. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct SrVectorIndex SrVectorIndex;

/* Errors are SMARTRAG_ERROR_FAILED with a message (INVALID_ARGS for a vector holding NaN
 * or infinity); no C++ exception ever escapes. Every call takes the index's lock, so an
 * index may be shared between threads; searches of one index run one at a time. Vectors
 * must be of unit length (or zero): the distance is 1 − dot product. */
SrVectorIndex *sr_vector_index_new (guint dimensions, guint64 capacity, GError **error);
/* Loads a file written by sr_vector_index_save(); a damaged or foreign file is an error,
 * never a crash. An absent file is SMARTRAG_ERROR_NOT_FOUND, so that callers can tell a
 * first start from damage; either way the index is rebuilt from the stored vectors. */
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
/* Removing an absent or already removed label succeeds, so that catching up after a crash
 * can repeat removals. A removed vector's slot is reused by the next new label. */
gboolean sr_vector_index_remove (SrVectorIndex *index, guint64 label, GError **error);
/* Live vectors (removed ones not counted). */
guint64 sr_vector_index_count (SrVectorIndex *index);
guint sr_vector_index_dimensions (SrVectorIndex *index);
/* The live labels (guint64), in no particular order: to compare with the stored ones. */
GArray *sr_vector_index_labels (SrVectorIndex *index);
/* Bytes of memory the index holds, for reports. */
guint64 sr_vector_index_memory (SrVectorIndex *index);

/* The @k nearest labels, nearest first, with cosine distances (@distances may be NULL);
 * returns how many were found, 0 with @error set on failure. */
guint sr_vector_index_search (SrVectorIndex *index, const float *query, guint k, guint64 *labels,
                              float *distances, GError **error);

G_END_DECLS
