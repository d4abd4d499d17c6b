/* The embedder's background work: re-embedding chunks of another model, watching its server. */
#pragma once

#include <glib.h>

#include "embed/embedder.h"
#include "service/service.h"

G_BEGIN_DECLS

/* Starts a thread (at maintenance priority) that
 * - asks a server embedder's server once at start, which teaches the dimensions and tells
 *   health whether it answers;
 * - while the server does not answer (whoever's call found out), asks it again after a
 *   growing pause, 1 s to 1 min, and once it answers queues the documents that wait for
 *   it (sr_ingestion_retry_waiting());
 * - embeds again, in batches, every chunk whose vector came from another model than
 *   @embedder's, stores the new vectors and hands them to the session indexes. SQLite says
 *   what is left (the chunks whose embedding_model differs), so a stop loses nothing and a
 *   start carries on. A chunk the server refuses while it answers others keeps its old
 *   vector until the next start, and is found by its words meanwhile.
 * The service's ingestion and indexes must exist and outlive it. */
SrEmbedding *sr_embedding_new (SrService *service, SrEmbedder *embedder);
/* Stops the thread (a request under way is cancelled) and hands on what it finished. */
void sr_embedding_free (SrEmbedding *embedding);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrEmbedding, sr_embedding_free)

typedef struct {
  gboolean counted; /* the chunks to embed again have been counted */
  guint64 left;     /* chunks still holding another model's vector (or none) */
  guint64 done;     /* embedded again in this run */
  guint64 skipped;  /* refused by a server that answered others: left as they are */
} SrEmbeddingStats;

/* Any thread; never waits for the server. */
void sr_embedding_stats (SrEmbedding *embedding, SrEmbeddingStats *stats);

G_END_DECLS
