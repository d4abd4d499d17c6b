/* Each session's vector index: loaded on first use, caught up or rebuilt from SQLite. */
#pragma once

#include <glib.h>

#include "index/vector-index.h"
#include "service/service.h"

G_BEGIN_DECLS

/* Indexes hold vectors of @model with @dimensions, in <state>/index/<session>.hnsw. */
SrIndexes *sr_indexes_new (SrService *service, const char *model, guint dimensions);
/* Saves what changed. */
void sr_indexes_free (SrIndexes *indexes);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrIndexes, sr_indexes_free)

/* The session's index (borrowed). A missing, damaged or outdated file (holding another
 * number of vectors than SQLite) is rebuilt from SQLite, the source of truth. */
SrVectorIndex *sr_indexes_get (SrIndexes *indexes, const char *session_id, GError **error);

/* Adds a document's vectors to its session's index, when that index is loaded; one that
 * is not loaded takes them from SQLite when it is. */
void sr_indexes_add (SrIndexes *indexes, const char *session_id, const GArray *ids,
                     const float *vectors, guint dimensions);
void sr_indexes_remove (SrIndexes *indexes, const char *session_id, const GArray *ids);
/* Drops a deleted session's index, file included. */
void sr_indexes_forget (SrIndexes *indexes, const char *session_id);

/* Writes every changed index atomically; returns how many were written. */
guint sr_indexes_save (SrIndexes *indexes);

G_END_DECLS
