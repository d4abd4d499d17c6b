/* Format detection and the readers that turn file bytes into an SrExtracted. */
#pragma once

#include <glib.h>

#include "ingest/extracted.h"

G_BEGIN_DECLS

/* Content first (magic bytes, zip member names, markup), the file name second. */
SrFormat sr_format_detect (const guint8 *data, gsize length, const char *filename);

/* For text a person typed or pasted (AddText): HTML, Markdown or plain text by the same
 * rules as sr_format_detect(), but never a binary format, whatever the text starts
 * with ("%PDF-", "PK"). */
SrFormat sr_format_detect_typed (const guint8 *data, gsize length, const char *filename);

/* How many leading bytes sr_format_detect_head() looks at. */
#define SR_FORMAT_HEAD_BYTES ((gsize) 64 * 1024 + 16)

/* Detection from the first SR_FORMAT_HEAD_BYTES of a file (or all of a shorter one), by
 * comparing bytes only: nothing is parsed, so it is safe on untrusted input outside the
 * sandbox. Whether the result is SR_FORMAT_UNKNOWN is what sr_format_detect() would say of
 * the whole file, except for zip archives: only their members tell, so *@zip_archive is set,
 * SR_FORMAT_UNKNOWN is returned, and the caller must run sr_format_detect() on all the
 * bytes (in the sandbox). */
SrFormat sr_format_detect_head (const guint8 *head, gsize length, const char *filename,
                                gboolean *zip_archive);

/* Sets UNSUPPORTED_FORMAT for a file that starts with @head, naming the supported formats
 * and, when its first bytes tell, what the file is (an image, a program, an archive, text
 * in UTF-16…). */
void sr_format_set_unsupported (GError **error, const guint8 *head, gsize length);

/* Reads @data as @format. Errors are SMARTRAG_ERROR: UNSUPPORTED_FORMAT (naming the
 * supported formats), INVALID_ARGS for a damaged file (saying what is wrong in words a
 * person can act on), TOO_LARGE when a limit is passed. Never aborts on bad input. */
SrExtracted *sr_read_document (SrFormat format, const guint8 *data, gsize length,
                               const SrExtractLimits *limits, GError **error);

G_END_DECLS
