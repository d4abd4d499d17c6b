/* Each session's vector index: loaded on first use, caught up or rebuilt from SQLite. */
#pragma once

#include <glib.h>

#include "index/vector-index.h"
#include "service/service.h"
#include "store/store.h"

G_BEGIN_DECLS

/* Indexes hold vectors of @model with @dimensions (0: those of the first vectors added or
 * searched for), in <state>/index/<session>.hnsw. A thread of their own inserts vectors
 * into the graphs and writes changed ones to disk. Files written for another model are
 * removed here: the graphs are rebuilt from the vectors SQLite holds for this one. */
SrIndexes *sr_indexes_new (SrService *service, const char *model, guint dimensions);
/* Stops the thread and saves what changed. */
void sr_indexes_free (SrIndexes *indexes);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrIndexes, sr_indexes_free)

/* The labels (chunk ids) of the session's @n vectors nearest to @query (of @dimensions
 * floats: none are found for a query of another width), nearest first; returns how many.
 * Runs on any thread, with @db a connection that thread may use. The
 * first search of a session loads its graph, and compares it with SQLite, the source of
 * truth: a missing, damaged or outdated file is caught up or rebuilt, in the background,
 * while vectors not yet in the graph are compared with the query one by one. Labels of
 * chunks removed a moment ago may still come back: the store filters them. */
guint sr_indexes_search (SrIndexes *indexes, SrStore *db, const char *session_id,
                         const float *query, guint dimensions, guint n, gint64 *labels,
                         GError **error);

/* On the main loop: a ready document's (or re-embedded chunks') vectors, for its session's
 * graph if loaded (one not loaded takes them from SQLite when it is); ignored when their
 * width is not the graphs'. */
void sr_indexes_add (SrIndexes *indexes, const char *session_id, const GArray *ids,
                     const float *vectors, guint dimensions);
void sr_indexes_remove (SrIndexes *indexes, const char *session_id, const GArray *ids);
/* Drops a deleted session's index, file included. */
void sr_indexes_forget (SrIndexes *indexes, const char *session_id);

/* How long a graph stays in memory unsearched once it is saved and has nothing waiting
 * (15 minutes unless changed). */
void sr_indexes_set_unload_after (SrIndexes *indexes, gint64 unused_us);

typedef struct {
  guint loaded;    /* sessions whose graph is in memory */
  guint64 vectors; /* in those graphs */
  guint64 waiting; /* changes not in a graph yet: vectors (searched one by one meanwhile)
                    * and removals */
  guint64 memory;  /* bytes, graphs and waiting vectors */
} SrIndexStats;

void sr_indexes_stats (SrIndexes *indexes, SrIndexStats *stats);

G_END_DECLS
