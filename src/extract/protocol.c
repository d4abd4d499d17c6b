/* Writing and strictly reading the helper's framed output stream. */
#include "extract/protocol.h"

#include <glib/gi18n.h>
#include <string.h>

#include "common/errors.h"

#define HEADER_LEN 5 /* tag and length */

static void
append_u32 (GByteArray *out, guint32 value)
{
  guint32 le = GUINT32_TO_LE (value);
  g_byte_array_append (out, (const guint8 *) &le, sizeof le);
}

static void
append_header (GByteArray *out, char tag, gsize length)
{
  guint8 t = (guint8) tag;
  g_byte_array_append (out, &t, 1);
  append_u32 (out, (guint32) length);
}

void
sr_protocol_append_start (GByteArray *out, SrFormat format)
{
  g_byte_array_append (out, (const guint8 *) SR_PROTOCOL_MAGIC, SR_PROTOCOL_MAGIC_LEN);
  append_header (out, 'F', 4);
  append_u32 (out, format);
}

void
sr_protocol_append_result (GByteArray *out, const SrExtracted *extracted)
{
  if (extracted->title != NULL) {
    gsize len = strlen (extracted->title);
    append_header (out, 'T', len);
    g_byte_array_append (out, (const guint8 *) extracted->title, len);
  }
  for (guint i = 0; i < extracted->sections->len; i++) {
    const SrSection *section = g_ptr_array_index (extracted->sections, i);
    const char *heading = section->heading != NULL ? section->heading : "";
    gsize heading_len = strlen (heading);
    gsize text_len = strlen (section->text);
    append_header (out, 'S', 8 + heading_len + text_len);
    append_u32 (out, section->page);
    append_u32 (out, (guint32) heading_len);
    g_byte_array_append (out, (const guint8 *) heading, heading_len);
    g_byte_array_append (out, (const guint8 *) section->text, text_len);
  }
  append_header (out, 'Z', 0);
}

/* Cuts at a character boundary so that the reader's UTF-8 check still passes. */
static gsize
message_length (const char *message)
{
  gsize len = strlen (message);
  if (len <= SR_PROTOCOL_MAX_MESSAGE)
    return len;
  const char *end = g_utf8_find_prev_char (message, message + SR_PROTOCOL_MAX_MESSAGE + 1);
  return end != NULL ? (gsize) (end - message) : 0;
}

void
sr_protocol_append_error (GByteArray *out, const GError *error)
{
  const char *message = g_utf8_validate (error->message, -1, NULL)
                            ? error->message
                            : _ ("The document reader failed with an unreadable message");
  gsize len = message_length (message);
  append_header (out, 'E', 4 + len);
  append_u32 (out, smartrag_error_code (error));
  g_byte_array_append (out, (const guint8 *) message, len);
  append_header (out, 'Z', 0);
}

typedef struct {
  const guint8 *data;
  gsize length;
  gsize pos;
} Reader;

typedef struct {
  char tag;
  const guint8 *payload;
  guint32 length;
} Record;

static guint32
read_u32 (const guint8 *p)
{
  guint32 le;
  memcpy (&le, p, sizeof le);
  return GUINT32_FROM_LE (le);
}

static gboolean
malformed (GError **error, const char *what)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
               _ ("The extraction helper sent malformed output (%s); this is a bug in "
                  "SmartRAG, please report it"),
               what);
  return FALSE;
}

static gboolean
next_record (Reader *reader, Record *record, GError **error)
{
  if (reader->length - reader->pos < HEADER_LEN)
    return malformed (error, _ ("the stream ends in the middle"));
  const guint8 *p = reader->data + reader->pos;
  guint32 len = read_u32 (p + 1);
  if (len > reader->length - reader->pos - HEADER_LEN)
    return malformed (error, _ ("a record is longer than the stream"));
  record->tag = (char) p[0];
  record->payload = p + HEADER_LEN;
  record->length = len;
  reader->pos += HEADER_LEN + len;
  return TRUE;
}

/* Strings become C strings, so an embedded NUL would silently cut text. */
static char *
take_string (const guint8 *data, gsize length, GError **error)
{
  if (memchr (data, '\0', length) != NULL || !g_utf8_validate ((const char *) data, length, NULL)) {
    malformed (error, _ ("text is not valid UTF-8"));
    return NULL;
  }
  return g_strndup ((const char *) data, length);
}

static gboolean
decode_error_record (const Record *record, GError **error)
{
  if (record->length < 4)
    return malformed (error, _ ("an error record is too short"));
  guint32 code = read_u32 (record->payload);
  if (code >= SMARTRAG_ERROR_N_CODES)
    return malformed (error, _ ("an error record has an unknown code"));
  g_autofree char *message = take_string (record->payload + 4, record->length - 4, error);
  if (message == NULL)
    return FALSE;
  g_set_error_literal (error, SMARTRAG_ERROR, code, message);
  return FALSE;
}

static gboolean
decode_section (const Record *record, SrExtracted *extracted, GError **error)
{
  if (record->length < 8)
    return malformed (error, _ ("a section record is too short"));
  guint32 page = read_u32 (record->payload);
  guint32 heading_len = read_u32 (record->payload + 4);
  if (heading_len > record->length - 8)
    return malformed (error, _ ("a section heading is longer than its record"));
  g_autofree char *heading = take_string (record->payload + 8, heading_len, error);
  if (heading == NULL)
    return FALSE;
  g_autofree char *text
      = take_string (record->payload + 8 + heading_len, record->length - 8 - heading_len, error);
  if (text == NULL)
    return FALSE;
  g_ptr_array_add (extracted->sections, sr_section_new (text, page, heading));
  return TRUE;
}

static gboolean
decode_format (const Record *record, SrFormat *format, GError **error)
{
  if (record->length != 4)
    return malformed (error, _ ("the format record has the wrong size"));
  guint32 value = read_u32 (record->payload);
  if (value > SR_FORMAT_EPUB)
    return malformed (error, _ ("the format is unknown"));
  *format = value;
  return TRUE;
}

static gboolean
open_stream (Reader *reader, GError **error)
{
  if (reader->length < SR_PROTOCOL_MAGIC_LEN
      || memcmp (reader->data, SR_PROTOCOL_MAGIC, SR_PROTOCOL_MAGIC_LEN) != 0)
    return malformed (error, _ ("it does not start with the expected header"));
  reader->pos = SR_PROTOCOL_MAGIC_LEN;
  return TRUE;
}

SrFormat
sr_protocol_peek_format (const guint8 *data, gsize length)
{
  Reader reader = { data, length, 0 };
  Record record;
  SrFormat format = SR_FORMAT_UNKNOWN;

  if (!open_stream (&reader, NULL) || !next_record (&reader, &record, NULL) || record.tag != 'F')
    return SR_FORMAT_UNKNOWN;
  if (!decode_format (&record, &format, NULL))
    return SR_FORMAT_UNKNOWN;
  return format;
}

/* Reads T and S records up to Z; the caller has consumed F. */
static gboolean
decode_body (Reader *reader, SrExtracted *extracted, GError **error)
{
  Record record;
  gboolean first = TRUE;

  for (;; first = FALSE) {
    if (!next_record (reader, &record, error))
      return FALSE;
    switch (record.tag) {
    case 'Z':
      if (record.length != 0)
        return malformed (error, _ ("the end record is not empty"));
      if (reader->pos != reader->length)
        return malformed (error, _ ("data follows the end record"));
      return TRUE;
    case 'E':
      if (!first)
        return malformed (error, _ ("an error record follows results"));
      return decode_error_record (&record, error);
    case 'T':
      if (!first)
        return malformed (error, _ ("the title record is out of place"));
      extracted->title = take_string (record.payload, record.length, error);
      if (extracted->title == NULL)
        return FALSE;
      break;
    case 'S':
      if (!decode_section (&record, extracted, error))
        return FALSE;
      break;
    default:
      return malformed (error, _ ("a record has an unknown type"));
    }
  }
}

SrExtracted *
sr_protocol_decode (const guint8 *data, gsize length, GError **error)
{
  Reader reader = { data, length, 0 };
  Record record;
  SrFormat format = SR_FORMAT_UNKNOWN;

  if (!open_stream (&reader, error))
    return NULL;
  gsize start = reader.pos;
  if (!next_record (&reader, &record, error))
    return NULL;
  if (record.tag == 'F') {
    if (!decode_format (&record, &format, error))
      return NULL;
  } else {
    reader.pos = start;
  }

  g_autoptr (SrExtracted) extracted = sr_extracted_new (format);
  if (!decode_body (&reader, extracted, error))
    return NULL;
  if (format == SR_FORMAT_UNKNOWN) {
    malformed (error, _ ("a result has no format record"));
    return NULL;
  }
  return g_steal_pointer (&extracted);
}
