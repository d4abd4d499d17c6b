/* Splitting extracted text into overlapping chunks of about a thousand characters. */
#pragma once

#include <glib.h>

#include "ingest/extracted.h"

G_BEGIN_DECLS

typedef struct {
  guint target_chars;  /* about this many characters per chunk (default 1000) */
  guint overlap_chars; /* carried over from the end of the previous chunk (default 150) */
  guint max_chunks;    /* more fails the document with TOO_LARGE; 0 means no limit */
} SrChunkOptions;

#define SR_CHUNK_OPTIONS_DEFAULT                                                                   \
  {                                                                                                \
    1000, 150, 0                                                                                   \
  }

typedef struct {
  guint ordinal; /* 0-based position in the document */
  char *text;
  guint page; /* as in SrSection */
  char *heading;
} SrChunk;

void sr_chunk_free (SrChunk *chunk);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrChunk, sr_chunk_free)

/* Splits at headings (a chunk never spans two sections), then paragraphs, then sentences
 * (Unicode-aware), then words; never inside a UTF-8 character. */
GPtrArray *sr_chunk_document (const SrExtracted *document, const SrChunkOptions *options,
                              GError **error);

G_END_DECLS
