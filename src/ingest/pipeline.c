/* One document's way from stored bytes to chunks and vectors, run on a worker thread. */
#include "ingest/pipeline.h"

#include <glib/gi18n.h>

#include "common/errors.h"

/* Chunks embedded per call: large enough to amortise a backend round trip, small enough
 * to report progress and notice cancellation often. */
#define EMBED_BATCH 64

void
sr_ingested_free (SrIngested *ingested)
{
  if (ingested == NULL)
    return;
  g_free (ingested->title);
  g_clear_pointer (&ingested->chunks, g_ptr_array_unref);
  g_free (ingested->vectors);
  g_free (ingested);
}

static gboolean
embed_all (const SrPipelineConfig *config, SrIngested *ingested, SrPipelineProgress progress,
           gpointer user_data, GCancellable *cancellable, GError **error)
{
  GPtrArray *chunks = ingested->chunks;
  /* A server's first answer says how long its vectors are. */
  guint dims = sr_embedder_ensure_dimensions (config->embedder, cancellable, error);
  if (dims == 0)
    return FALSE;
  g_autofree const char **texts = g_new0 (const char *, EMBED_BATCH);

  ingested->dimensions = dims;
  ingested->vectors = g_new0 (float, (gsize) chunks->len *dims);
  for (guint start = 0; start < chunks->len; start += EMBED_BATCH) {
    if (g_cancellable_set_error_if_cancelled (cancellable, error))
      return FALSE;
    guint n = MIN (EMBED_BATCH, chunks->len - start);
    for (guint i = 0; i < n; i++)
      texts[i] = ((SrChunk *) chunks->pdata[start + i])->text;
    if (!sr_embedder_embed (config->embedder, texts, n, ingested->vectors + (gsize) start * dims,
                            cancellable, error))
      return FALSE;
    if (progress != NULL)
      progress ("indexing", 0.5 + 0.5 * (start + n) / chunks->len, user_data);
  }
  return TRUE;
}

SrIngested *
sr_pipeline_run (const SrPipelineConfig *config, int fd, const char *filename, gboolean typed_text,
                 SrPipelineProgress progress, gpointer user_data, GCancellable *cancellable,
                 GError **error)
{
  gint64 start = g_get_monotonic_time ();
  if (progress != NULL)
    progress ("parsing", 0.0, user_data);
  g_autoptr (SrExtracted) extracted
      = typed_text ? sr_sandbox_extract_typed (config->helper_path, fd, filename, &config->sandbox,
                                               cancellable, error)
                   : sr_sandbox_extract (config->helper_path, fd, filename, &config->sandbox,
                                         cancellable, error);
  if (extracted == NULL)
    return NULL;

  gint64 extracted_at = g_get_monotonic_time ();
  if (progress != NULL)
    progress ("indexing", 0.5, user_data);
  g_autoptr (GPtrArray) chunks = sr_chunk_document (extracted, &config->chunking, error);
  if (chunks == NULL)
    return NULL;
  if (chunks->len == 0) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("The file holds no text to search (%s); if it is a scan, convert it to text "
                    "first"),
                 sr_format_name (extracted->format));
    return NULL;
  }

  g_autoptr (SrIngested) ingested = g_new0 (SrIngested, 1);
  ingested->format = extracted->format;
  ingested->title = g_strdup (extracted->title);
  ingested->chunks = g_steal_pointer (&chunks);
  gint64 chunked_at = g_get_monotonic_time ();
  if (!embed_all (config, ingested, progress, user_data, cancellable, error))
    return NULL;
  ingested->extract_us = extracted_at - start;
  ingested->chunk_us = chunked_at - extracted_at;
  ingested->embed_us = g_get_monotonic_time () - chunked_at;
  return g_steal_pointer (&ingested);
}
