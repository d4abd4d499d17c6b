/* The ingestion queue: documents go from "stored" to "ready" or "failed" on worker threads. */
#pragma once

#include <glib.h>

#include "ingest/pipeline.h"
#include "service/service.h"
#include "store/documents.h"

G_BEGIN_DECLS

/* Called on the main loop whenever a document's state or progress changes, and with the
 * chunk ids and vectors once it is ready (NULL otherwise), so an index can take them. */
typedef void (*SrDocumentNotify) (const SrDocumentRecord *document, const char *adder,
                                  const GArray *chunk_ids, const float *vectors, guint dimensions,
                                  gpointer user_data);

/* @config is copied; its embedder is borrowed and must outlive the queue. */
SrIngestion *sr_ingestion_new (SrService *service, const SrPipelineConfig *config, guint workers,
                               SrDocumentNotify notify, gpointer user_data);
/* Cancels what runs (those documents resume at the next start) and waits for the
 * workers. */
void sr_ingestion_free (SrIngestion *ingestion);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrIngestion, sr_ingestion_free)

/* Queues a stored document. Documents of different users take turns. @adder (the bus
 * name or HTTP peer that added it, or NULL) is passed on with every change. */
void sr_ingestion_enqueue (SrIngestion *ingestion, const SrDocumentRecord *document,
                           guint32 owner_uid, const char *adder);

/* How many documents wait for the embedding server: it failed them, and failed a probe
 * right after (a document it refuses while it answers others fails instead). Such a
 * document stays "indexing", with a message naming the server, and is unfinished in the
 * database, so a restart queues it again too. Any thread. */
guint sr_ingestion_waiting (SrIngestion *ingestion);
/* On the main loop, once the server answers: queues the waiting documents again. */
void sr_ingestion_retry_waiting (SrIngestion *ingestion);

/* Queues every document a previous run left unfinished; returns how many. */
guint sr_ingestion_resume (SrIngestion *ingestion, GError **error);

G_END_DECLS
