/* One document's way from stored bytes to chunks and vectors, run on a worker thread. */
#pragma once

#include <gio/gio.h>

#include "embed/embedder.h"
#include "ingest/chunker.h"
#include "ingest/sandbox.h"

G_BEGIN_DECLS

typedef struct {
  const char *helper_path; /* smartrag-extract */
  SrSandboxLimits sandbox;
  SrChunkOptions chunking;
  SrEmbedder *embedder; /* thread-safe, shared */
} SrPipelineConfig;

/* Called from the worker thread as the document moves on: "parsing" then "indexing",
 * with the share of the work done. */
typedef void (*SrPipelineProgress) (const char *state, double progress, gpointer user_data);

typedef struct {
  SrFormat format;
  char *title;       /* from the document's metadata, or NULL */
  GPtrArray *chunks; /* SrChunk*, in order */
  float *vectors;    /* chunks->len × dimensions, row i for chunk i */
  guint dimensions;
  /* Wall time of each step, in microseconds, for the log. */
  gint64 extract_us;
  gint64 chunk_us;
  gint64 embed_us;
} SrIngested;

void sr_ingested_free (SrIngested *ingested);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrIngested, sr_ingested_free)

/* Extracts the file behind @fd in the sandbox (as text a person typed with @typed_text,
 * see sr_sandbox_extract_typed()), chunks it and embeds every chunk. Blocks; errors are
 * those of the sandbox, the chunker and the embedder. */
SrIngested *sr_pipeline_run (const SrPipelineConfig *config, int fd, const char *filename,
                             gboolean typed_text, SrPipelineProgress progress, gpointer user_data,
                             GCancellable *cancellable, GError **error);

G_END_DECLS
