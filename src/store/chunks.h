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
 * or NULL) in one transaction, sets the document's chunk_count, state "ready" and
 * progress 1, so a document is either fully searchable or not at all. Running it again
 * after an interruption is safe. Returns the chunks' row ids (their vector labels) in
 * @ids when not NULL. */
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

/* The chunks with these ids (unknown ids are skipped), in the order of @ids. */
GPtrArray *sr_store_chunks_get (SrStore *store, const char *session_id, const gint64 *ids,
                                guint n_ids, GError **error);

/* The ids of a document's chunks, to take its vectors out of an index. */
GArray *sr_store_chunks_ids_of_document (SrStore *store, const char *document_id, GError **error);

G_END_DECLS
