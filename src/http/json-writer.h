/* Writing JSON replies as text, exactly: numbers as they are, stored JSON copied verbatim. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Deeper replies are a bug of ours, caught by an assertion. */
#define SR_JSON_WRITER_MAX_DEPTH 32

typedef struct {
  GString *out;
  guint depth;
  gboolean after_key;
  gboolean first[SR_JSON_WRITER_MAX_DEPTH + 1]; /* nothing written yet at each level */
} SrJsonWriter;

void sr_json_writer_init (SrJsonWriter *writer);
/* The text written, with a final newline for people reading it with curl; the writer is
 * empty again afterwards. */
char *sr_json_writer_finish (SrJsonWriter *writer, gsize *length);
void sr_json_writer_clear (SrJsonWriter *writer);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SrJsonWriter, sr_json_writer_clear)

void sr_json_writer_begin_object (SrJsonWriter *writer);
void sr_json_writer_end_object (SrJsonWriter *writer);
void sr_json_writer_begin_array (SrJsonWriter *writer);
void sr_json_writer_end_array (SrJsonWriter *writer);
/* The name of the next member of the object being written. */
void sr_json_writer_key (SrJsonWriter *writer, const char *name);

/* Bytes of @text that are not UTF-8 become U+FFFD: the reply stays JSON. */
void sr_json_writer_string (SrJsonWriter *writer, const char *text);
void sr_json_writer_int (SrJsonWriter *writer, gint64 value);
void sr_json_writer_uint (SrJsonWriter *writer, guint64 value);
/* Non-finite numbers, which JSON cannot hold, become null. */
void sr_json_writer_double (SrJsonWriter *writer, double value);
void sr_json_writer_boolean (SrJsonWriter *writer, gboolean value);
void sr_json_writer_null (SrJsonWriter *writer);
/* @json, a JSON value the daemon has checked before (a stored context), as it is. */
void sr_json_writer_raw (SrJsonWriter *writer, const char *json);
/* Dictionaries (a{sv}, a{s*}) as objects, other arrays and tuples as arrays, variants
 * as what they hold, numbers, booleans and strings as such. */
void sr_json_writer_variant (SrJsonWriter *writer, GVariant *value);

/* A member: the key, then its value. */
void sr_json_writer_member_string (SrJsonWriter *writer, const char *name, const char *text);
void sr_json_writer_member_int (SrJsonWriter *writer, const char *name, gint64 value);
void sr_json_writer_member_uint (SrJsonWriter *writer, const char *name, guint64 value);
void sr_json_writer_member_raw (SrJsonWriter *writer, const char *name, const char *json);

G_END_DECLS
