/* Writing JSON replies as text, exactly: numbers as they are, stored JSON copied verbatim. */
#include "http/json-writer.h"

#include <math.h>

void
sr_json_writer_init (SrJsonWriter *writer)
{
  *writer = (SrJsonWriter){ .out = g_string_new (NULL) };
  writer->first[0] = TRUE;
}

char *
sr_json_writer_finish (SrJsonWriter *writer, gsize *length)
{
  g_assert (writer->depth == 0);
  g_string_append_c (writer->out, '\n');
  if (length != NULL)
    *length = writer->out->len;
  char *text = g_string_free (g_steal_pointer (&writer->out), FALSE);
  sr_json_writer_init (writer);
  return text;
}

void
sr_json_writer_clear (SrJsonWriter *writer)
{
  if (writer->out != NULL)
    g_string_free (g_steal_pointer (&writer->out), TRUE);
}

/* The comma between values: none after a key, none before the first value of a level. */
static void
separate (SrJsonWriter *writer)
{
  if (writer->after_key) {
    writer->after_key = FALSE;
    return;
  }
  if (!writer->first[writer->depth])
    g_string_append_c (writer->out, ',');
  writer->first[writer->depth] = FALSE;
}

static void
open_level (SrJsonWriter *writer, char bracket)
{
  separate (writer);
  g_assert (writer->depth < SR_JSON_WRITER_MAX_DEPTH);
  g_string_append_c (writer->out, bracket);
  writer->first[++writer->depth] = TRUE;
}

static void
close_level (SrJsonWriter *writer, char bracket)
{
  g_assert (writer->depth > 0 && !writer->after_key);
  writer->depth--;
  g_string_append_c (writer->out, bracket);
}

void
sr_json_writer_begin_object (SrJsonWriter *writer)
{
  open_level (writer, '{');
}

void
sr_json_writer_end_object (SrJsonWriter *writer)
{
  close_level (writer, '}');
}

void
sr_json_writer_begin_array (SrJsonWriter *writer)
{
  open_level (writer, '[');
}

void
sr_json_writer_end_array (SrJsonWriter *writer)
{
  close_level (writer, ']');
}

static void
append_string (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const char *p = text; *p != '\0'; p++) {
    guchar c = (guchar) *p;
    if (c == '"' || c == '\\')
      g_string_append_printf (out, "\\%c", c);
    else if (c == '\n')
      g_string_append (out, "\\n");
    else if (c == '\t')
      g_string_append (out, "\\t");
    else if (c < 0x20)
      g_string_append_printf (out, "\\u%04x", c);
    else
      g_string_append_c (out, (char) c);
  }
  g_string_append_c (out, '"');
}

void
sr_json_writer_key (SrJsonWriter *writer, const char *name)
{
  g_assert (!writer->after_key);
  separate (writer);
  append_string (writer->out, name);
  g_string_append_c (writer->out, ':');
  writer->after_key = TRUE;
}

void
sr_json_writer_string (SrJsonWriter *writer, const char *text)
{
  separate (writer);
  if (g_utf8_validate (text, -1, NULL)) {
    append_string (writer->out, text);
    return;
  }
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  append_string (writer->out, valid);
}

void
sr_json_writer_int (SrJsonWriter *writer, gint64 value)
{
  separate (writer);
  g_string_append_printf (writer->out, "%" G_GINT64_FORMAT, value);
}

void
sr_json_writer_uint (SrJsonWriter *writer, guint64 value)
{
  separate (writer);
  g_string_append_printf (writer->out, "%" G_GUINT64_FORMAT, value);
}

void
sr_json_writer_double (SrJsonWriter *writer, double value)
{
  if (!isfinite (value)) {
    sr_json_writer_null (writer);
    return;
  }
  /* The shortest form that reads back as the same number: 0.1, not 0.10000000000000001. */
  static const char *const formats[] = { "%.15g", "%.16g", "%.17g" };
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  for (guint i = 0; i < G_N_ELEMENTS (formats); i++) {
    g_ascii_formatd (buffer, sizeof buffer, formats[i], value);
    if (g_ascii_strtod (buffer, NULL) == value)
      break;
  }
  separate (writer);
  g_string_append (writer->out, buffer);
}

void
sr_json_writer_boolean (SrJsonWriter *writer, gboolean value)
{
  separate (writer);
  g_string_append (writer->out, value ? "true" : "false");
}

void
sr_json_writer_null (SrJsonWriter *writer)
{
  separate (writer);
  g_string_append (writer->out, "null");
}

void
sr_json_writer_raw (SrJsonWriter *writer, const char *json)
{
  separate (writer);
  g_string_append (writer->out, json);
}

static void
write_dictionary (SrJsonWriter *writer, GVariant *value)
{
  sr_json_writer_begin_object (writer);
  for (gsize i = 0, n = g_variant_n_children (value); i < n; i++) {
    g_autoptr (GVariant) entry = g_variant_get_child_value (value, i);
    g_autoptr (GVariant) key = g_variant_get_child_value (entry, 0);
    g_autoptr (GVariant) member = g_variant_get_child_value (entry, 1);
    sr_json_writer_key (writer, g_variant_get_string (key, NULL));
    sr_json_writer_variant (writer, member);
  }
  sr_json_writer_end_object (writer);
}

static void
write_container (SrJsonWriter *writer, GVariant *value)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE ("a{s*}"))) {
    write_dictionary (writer, value);
    return;
  }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT)) {
    g_autoptr (GVariant) inner = g_variant_get_variant (value);
    sr_json_writer_variant (writer, inner);
    return;
  }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_MAYBE)) {
    g_autoptr (GVariant) inner = g_variant_get_maybe (value);
    if (inner != NULL)
      sr_json_writer_variant (writer, inner);
    else
      sr_json_writer_null (writer);
    return;
  }
  sr_json_writer_begin_array (writer);
  for (gsize i = 0, n = g_variant_n_children (value); i < n; i++) {
    g_autoptr (GVariant) child = g_variant_get_child_value (value, i);
    sr_json_writer_variant (writer, child);
  }
  sr_json_writer_end_array (writer);
}

static gboolean
write_number (SrJsonWriter *writer, GVariant *value)
{
  switch (g_variant_classify (value)) {
  case G_VARIANT_CLASS_BYTE:
    sr_json_writer_uint (writer, g_variant_get_byte (value));
    break;
  case G_VARIANT_CLASS_INT16:
    sr_json_writer_int (writer, g_variant_get_int16 (value));
    break;
  case G_VARIANT_CLASS_UINT16:
    sr_json_writer_uint (writer, g_variant_get_uint16 (value));
    break;
  case G_VARIANT_CLASS_INT32:
    sr_json_writer_int (writer, g_variant_get_int32 (value));
    break;
  case G_VARIANT_CLASS_UINT32:
    sr_json_writer_uint (writer, g_variant_get_uint32 (value));
    break;
  case G_VARIANT_CLASS_INT64:
    sr_json_writer_int (writer, g_variant_get_int64 (value));
    break;
  case G_VARIANT_CLASS_UINT64:
    sr_json_writer_uint (writer, g_variant_get_uint64 (value));
    break;
  case G_VARIANT_CLASS_DOUBLE:
    sr_json_writer_double (writer, g_variant_get_double (value));
    break;
  default:
    return FALSE;
  }
  return TRUE;
}

void
sr_json_writer_variant (SrJsonWriter *writer, GVariant *value)
{
  if (write_number (writer, value))
    return;
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    sr_json_writer_boolean (writer, g_variant_get_boolean (value));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
           || g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH)
           || g_variant_is_of_type (value, G_VARIANT_TYPE_SIGNATURE))
    sr_json_writer_string (writer, g_variant_get_string (value, NULL));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_HANDLE))
    sr_json_writer_null (writer);
  else
    write_container (writer, value);
}

void
sr_json_writer_member_string (SrJsonWriter *writer, const char *name, const char *text)
{
  sr_json_writer_key (writer, name);
  sr_json_writer_string (writer, text);
}

void
sr_json_writer_member_int (SrJsonWriter *writer, const char *name, gint64 value)
{
  sr_json_writer_key (writer, name);
  sr_json_writer_int (writer, value);
}

void
sr_json_writer_member_uint (SrJsonWriter *writer, const char *name, guint64 value)
{
  sr_json_writer_key (writer, name);
  sr_json_writer_uint (writer, value);
}

void
sr_json_writer_member_raw (SrJsonWriter *writer, const char *name, const char *json)
{
  sr_json_writer_key (writer, name);
  sr_json_writer_raw (writer, json);
}
