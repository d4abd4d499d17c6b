/* The framed stream that smartrag-extract writes and the daemon reads back. */
#pragma once

#include <glib.h>

#include "ingest/extracted.h"

G_BEGIN_DECLS

/* A stream is the magic, then records: tag byte, 32-bit little-endian payload length,
 * payload. Valid streams are  MAGIC [F] ( [T] S* | E ) Z  and nothing may follow Z.
 *   F  format (u32), sent before parsing so that a crash can name the parser
 *   T  title (UTF-8)         S  section: u32 page, u32 heading length, heading, text
 *   E  error: u32 SMARTRAG_ERROR code, message (UTF-8)
 *   Z  end of stream, empty */
#define SR_PROTOCOL_MAGIC     "SRX1"
#define SR_PROTOCOL_MAGIC_LEN 4

/* Error messages are cut to this size, so that a reader for the error record can be
 * budgeted on top of the output limit. */
#define SR_PROTOCOL_MAX_MESSAGE 4096
/* Magic, F, E with the longest message, and Z. */
#define SR_PROTOCOL_ERROR_OVERHEAD (SR_PROTOCOL_MAGIC_LEN + 3 * 5 + 4 + 4 + SR_PROTOCOL_MAX_MESSAGE)

/* The stream opening: magic and F record. */
void sr_protocol_append_start (GByteArray *out, SrFormat format);
/* T and S records and Z for a finished extraction. */
void sr_protocol_append_result (GByteArray *out, const SrExtracted *extracted);
/* E and Z records for a failed one; foreign error domains are sent as FAILED. */
void sr_protocol_append_error (GByteArray *out, const GError *error);

/* The format from a stream's F record, or SR_FORMAT_UNKNOWN; works on a cut stream. */
SrFormat sr_protocol_peek_format (const guint8 *data, gsize length);

/* Rebuilds the result. An error record comes back as its SMARTRAG_ERROR code and message;
 * a stream that breaks the rules above is FAILED, saying what was wrong. */
SrExtracted *sr_protocol_decode (const guint8 *data, gsize length, GError **error);

G_END_DECLS
