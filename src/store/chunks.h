/* Rows of the chunks table: a document's text pieces, their vectors and full-text search. */
#pragma once

#include <glib.h>

#include "store/store.h"

G_BEGIN_DECLS

typedef struct {
  guint ordinal;
  const char *text;
  guint page; /* 0 when unknown */
  const char *heading;
} SrChunkRow;

/* Replaces every chunk of a document with @chunks (and @vectors: n × @dimensions floats,
 * or NULL), sets the document's chunk_count, state "ready" and progress 1. Another
 * thread that waits to write goes in between two chunks (sr_store_yield): a big document
 * never holds the main loop's writes up for long. So until the document is ready, a
 * search may find some of its chunks; on failure those are removed again. Running it
 * again after an interruption is safe. Returns the chunks' row ids (their vector labels)
 * in @ids when not NULL. */
gboolean sr_store_chunks_replace (SrStore *store, const char *document_id, const char *session_id,
                                  const SrChunkRow *chunks, guint n_chunks, const float *vectors,
                                  guint dimensions, const char *model, gint64 now, GArray *ids,
                                  GError **error);

typedef struct {
  gint64 id;
  char *document_id;
  char *filename;
  guint ordinal;
  guint page;
  char *heading;
  char *text;
  double score; /* BM25, higher is better */
} SrChunkHit;

void sr_chunk_hit_free (SrChunkHit *hit);

/* Full-text search of one session's chunks, best first by BM25, ties by text. @query is
 * free text: it is turned into an FTS5 query of its words (any of them), so no syntax
 * reaches FTS5; words found in most chunks are left out, as BM25 gives them no weight. */
GPtrArray *sr_store_chunks_search_text (SrStore *store, const char *session_id, const char *query,
                                        guint limit, GError **error);

/* One bounded step of merging the full-text index's segments into one, in a transaction
 * of its own: @done says that nothing was left to merge. Many small segments, as many
 * separate inserts leave, make every search read each word's list in each of them. */
gboolean sr_store_chunks_compact_step (SrStore *store, gboolean *done, GError **error);

/* Registers on @db the FTS5 function that search ranks with; the store does it on open. */
gboolean sr_store_chunks_register_functions (sqlite3 *db);

/* Calls @func for every embedded chunk of a session (to rebuild its vector index). */
typedef gboolean (*SrChunkVectorFunc) (gint64 id, const float *vector, guint dimensions,
                                       gpointer user_data);
gboolean sr_store_chunks_foreach_vector (SrStore *store, const char *session_id, const char *model,
                                         SrChunkVectorFunc func, gpointer user_data,
                                         GError **error);

/* The ids of a session's chunks with vectors from @model, in order: read from an index,
 * without touching the chunks themselves. */
GArray *sr_store_chunks_vector_ids (SrStore *store, const char *session_id, const char *model,
                                    GError **error);
/* Calls @func for each of these chunks that has a vector from @model in the session;
 * others are skipped. */
gboolean sr_store_chunks_foreach_vector_of (SrStore *store, const char *session_id,
                                            const char *model, const gint64 *ids, guint n_ids,
                                            SrChunkVectorFunc func, gpointer user_data,
                                            GError **error);

/* ---- embedding again with another model ---- */

/* How many chunks hold a vector of another model than @model, or none: the work of
 * re-embedding. Read from an index, without touching the chunks themselves. */
gboolean sr_store_chunks_count_stale (SrStore *store, const char *model, guint64 *count,
                                      GError **error);

typedef struct {
  gint64 id;
  char *session_id;
  char *text;
} SrStaleChunk;

void sr_stale_chunk_free (SrStaleChunk *chunk);

/* Up to @limit of those chunks with ids above @after, in id order: SQLite, not a list kept
 * in memory, says what is left, so the work resumes wherever a stop left it. */
GPtrArray *sr_store_chunks_list_stale (SrStore *store, const char *model, gint64 after, guint limit,
                                       GError **error);

/* Stores @vectors (n × @dimensions) of @model for the chunks @ids in one transaction.
 * A chunk that is gone, or that already has a vector of @model (its document was added
 * again meanwhile), is left alone; @stored[i] says whether chunk i was written. */
gboolean sr_store_chunks_set_vectors (SrStore *store, const char *model, const gint64 *ids,
                                      const float *vectors, guint dimensions, guint n,
                                      gboolean *stored, GError **error);

/* The length in bytes of one vector stored for @model (0 when none is), to tell whether
 * a server's model still gives vectors of the stored width. */
gboolean sr_store_chunks_vector_bytes (SrStore *store, const char *model, guint *bytes,
                                       GError **error);

/* Marks the vectors of @model that are not @dimensions wide as of no model, so that they
 * are embedded again; returns how many in @forgotten. */
gboolean sr_store_chunks_forget_vectors (SrStore *store, const char *model, guint dimensions,
                                         guint64 *forgotten, GError **error);

/* The chunks with these ids (unknown ids are skipped), in the order of @ids. */
GPtrArray *sr_store_chunks_get (SrStore *store, const char *session_id, const gint64 *ids,
                                guint n_ids, GError **error);

/* The ids of a document's chunks, to take its vectors out of an index. */
GArray *sr_store_chunks_ids_of_document (SrStore *store, const char *document_id, GError **error);

G_END_DECLS
