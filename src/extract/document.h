/* Reading one document in the helper: from stdin, confined, to a framed reply on stdout. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *filename; /* only to tell the format */
  guint64 max_file_bytes;
  guint64 max_memory_bytes;
  guint cpu_seconds;
  guint64 max_output_bytes;
  guint64 max_decompressed_bytes;
  guint max_pages;
  gboolean detect_only;
  gboolean typed_text; /* sr_format_detect_typed(): text from AddText, never binary */
  const char *fault;   /* test builds only; NULL otherwise */
} SrExtractJob;

/* Reads the input whole, confines this process for good, parses and writes the reply.
 * The same path for a helper started on its own and for a fork server's child. Returns
 * the exit status. */
int sr_extract_document (const SrExtractJob *job);

G_END_DECLS
