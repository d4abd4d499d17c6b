/* Hybrid retrieval: full-text (BM25) and vector search of one session, fused by rank. */
#pragma once

#include <glib.h>

#include "auth/caller.h"
#include "embed/embedder.h"
#include "service/indexes.h"
#include "service/service.h"

G_BEGIN_DECLS

#define SR_SEARCH_DEFAULT_K       5
#define SR_SEARCH_MAX_K           100
#define SR_SEARCH_MAX_QUERY_BYTES 4096

typedef enum {
  SR_SEARCH_HYBRID,
  SR_SEARCH_TEXT_ONLY, /* BM25 alone, the baseline retrieval quality is measured against */
} SrSearchMode;

/* The @k best chunks (SrChunkHit*, score = fused score, best first). Only the session's
 * own chunks can come back. */
GPtrArray *sr_search (SrService *service, SrIndexes *indexes, SrEmbedder *embedder,
                      const SrCaller *caller, const char *session_id, const char *text, guint k,
                      SrSearchMode mode, GError **error);

/* The same on a worker thread with a connection of its own, so that neither a large
 * session nor a graph being loaded holds up the main loop. Access and arguments are
 * checked before this returns; the result is a GPtrArray of SrChunkHit. */
void sr_search_async (SrService *service, const SrCaller *caller, const char *session_id,
                      const char *text, guint k, SrSearchMode mode, GAsyncReadyCallback callback,
                      gpointer user_data);
GPtrArray *sr_search_finish (GAsyncResult *result, GError **error);

G_END_DECLS
