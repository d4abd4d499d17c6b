/* Format detection and the readers that turn file bytes into an SrExtracted. */
#pragma once

#include <glib.h>

#include "ingest/extracted.h"

G_BEGIN_DECLS

/* Content first (magic bytes, zip member names, markup), the file name second. */
SrFormat sr_format_detect (const guint8 *data, gsize length, const char *filename);

/* Reads @data as @format. Errors are SMARTRAG_ERROR: UNSUPPORTED_FORMAT (naming the
 * supported formats), INVALID_ARGS for a damaged file (saying what is wrong in words a
 * person can act on), TOO_LARGE when a limit is passed. Never aborts on bad input. */
SrExtracted *sr_read_document (SrFormat format, const guint8 *data, gsize length,
                               const SrExtractLimits *limits, GError **error);

G_END_DECLS
