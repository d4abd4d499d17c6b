/* Classes of characters, and of whole texts, that every part reading text agrees on. */
#include "common/unichar.h"

gboolean
sr_unichar_is_mark (gunichar c)
{
  switch (g_unichar_type (c)) {
  case G_UNICODE_NON_SPACING_MARK:
  case G_UNICODE_SPACING_MARK:
  case G_UNICODE_ENCLOSING_MARK:
    return TRUE;
  default:
    return FALSE;
  }
}

gboolean
sr_unichar_is_ideograph (gunichar c)
{
  return c >= 0x2E80 && g_unichar_break_type (c) == G_UNICODE_BREAK_IDEOGRAPHIC;
}

gboolean
sr_unichar_ends_sentence_wide (gunichar c)
{
  return c == 0x3002 || c == 0xFF01 || c == 0xFF0E || c == 0xFF1F || c == 0xFF61;
}

gboolean
sr_unichar_ends_sentence (gunichar c)
{
  switch (c) {
  case '.':
  case '!':
  case '?':
  case 0x2026: /* … */
  case 0x203C: /* ‼ */
  case 0x2047: /* ⁇ */
  case 0x2048: /* ⁈ */
  case 0x2049: /* ⁉ */
  case 0x061F: /* Arabic question mark */
  case 0x06D4: /* Arabic full stop */
  case 0x0964: /* Devanagari danda */
  case 0x0965: /* double danda */
  case 0x1362: /* Ethiopic full stop */
    return TRUE;
  default:
    return sr_unichar_ends_sentence_wide (c);
  }
}

gboolean
sr_unichar_closes (gunichar c)
{
  if (c == '"' || c == '\'')
    return TRUE;
  GUnicodeType type = g_unichar_type (c);
  return type == G_UNICODE_CLOSE_PUNCTUATION || type == G_UNICODE_FINAL_PUNCTUATION;
}

gboolean
sr_unichar_breaks_line (gunichar c)
{
  GUnicodeType type = g_unichar_type (c);
  return g_unichar_iscntrl (c) || type == G_UNICODE_LINE_SEPARATOR
         || type == G_UNICODE_PARAGRAPH_SEPARATOR;
}

const char *
sr_text_find_line_break (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (sr_unichar_breaks_line (g_utf8_get_char (p)))
      return p;
  return NULL;
}

gboolean
sr_text_is_blank (const char *text)
{
  for (; *text != '\0'; text++)
    if (!g_ascii_isspace (*text))
      return FALSE;
  return TRUE;
}
