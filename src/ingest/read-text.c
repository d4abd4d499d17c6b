/* Plain text: UTF-8, or Latin-1/Windows-1252 converted to UTF-8; paragraphs at blank lines. */
#include "ingest/read-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "common/errors.h"

static gboolean
is_control (guchar c)
{
  if (c == '\t' || c == '\n' || c == '\r' || c == '\f')
    return FALSE;
  return c < 0x20 || c == 0x7f;
}

/* Bytes that Windows-1252 leaves undefined: in "Latin-1" files they mean binary data. */
static gboolean
is_undefined_in_1252 (guchar c)
{
  return c == 0x81 || c == 0x8d || c == 0x8f || c == 0x90 || c == 0x9d;
}

gboolean
sr_text_plausible (const guint8 *data, gsize length, gsize sample)
{
  gsize n = (sample != 0 && sample < length) ? sample : length;
  gsize controls = 0;
  gsize undefined = 0;

  for (gsize i = 0; i < n; i++) {
    if (data[i] == 0)
      return FALSE;
    controls += is_control (data[i]);
    undefined += is_undefined_in_1252 (data[i]);
  }
  /* Real text has hardly any control characters; one in a hundred bytes is generous. */
  if (controls * 100 > n)
    return FALSE;
  const char *end = NULL;
  if (g_utf8_validate_len ((const char *) data, n, &end))
    return TRUE;
  /* A sample may cut the last character in two. */
  if (n < length && (gsize) ((const guint8 *) end - data) + 4 > n)
    return TRUE;
  return (controls + undefined) * 100 <= n;
}

/* "\r\n" and lone "\r" become "\n". */
static char *
normalise_newlines (const char *text, gsize length, gsize *out_length)
{
  if (memchr (text, '\r', length) == NULL) {
    *out_length = length;
    return g_strndup (text, length);
  }
  char *out = g_malloc (length + 1);
  gsize n = 0;
  for (gsize i = 0; i < length; i++) {
    if (text[i] != '\r') {
      out[n++] = text[i];
      continue;
    }
    out[n++] = '\n';
    if (i + 1 < length && text[i + 1] == '\n')
      i++;
  }
  out[n] = '\0';
  *out_length = n;
  return out;
}

char *
sr_text_decode (const guint8 *data, gsize length, gsize *out_length, GError **error)
{
  if (length >= 3 && memcmp (data, "\xef\xbb\xbf", 3) == 0)
    data += 3, length -= 3;

  if (!sr_text_plausible (data, length, 0)) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("The file is not text in UTF-8 or Latin-1: it holds binary data "
                            "or uses another encoding; convert it to UTF-8 and add it again"));
    return NULL;
  }
  if (g_utf8_validate_len ((const char *) data, length, NULL))
    return normalise_newlines ((const char *) data, length, out_length);

  gsize converted_length = 0;
  g_autofree char *converted = g_convert ((const char *) data, length, "UTF-8", "WINDOWS-1252",
                                          NULL, &converted_length, NULL);
  /* Latin-1 maps every byte, so this cannot fail where Windows-1252 did. */
  if (converted == NULL)
    converted = g_convert ((const char *) data, length, "UTF-8", "ISO-8859-1", NULL,
                           &converted_length, NULL);
  if (converted == NULL) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                         _ ("Cannot convert Latin-1 text: the system lacks the converter"));
    return NULL;
  }
  return normalise_newlines (converted, converted_length, out_length);
}

SrExtracted *
sr_read_text (const guint8 *data, gsize length, const SrExtractLimits *limits, GError **error)
{
  gsize text_length = 0;
  g_autofree char *text = sr_text_decode (data, length, &text_length, error);
  if (text == NULL)
    return NULL;

  g_autoptr (SrTextBuilder) builder = sr_text_builder_new (SR_FORMAT_TEXT, limits);
  sr_text_builder_plain (builder, text, text_length);
  return sr_text_builder_finish (builder, error);
}
