/* The strict RFC 8259 check of a request body, which also finds where each field's value is. */
#include "http/json-scan.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "common/errors.h"

typedef struct {
  const char *text;
  const char *p;
  const char *end;
  guint max_depth;
  GError **error;
} Scan;

static gboolean
fail (Scan *s, const char *reason)
{
  g_set_error (s->error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
               _ ("Invalid JSON in the request body at byte %zu: %s"), (gsize) (s->p - s->text),
               reason);
  return FALSE;
}

static void
skip_space (Scan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static gboolean
peek (Scan *s, char c)
{
  return s->p < s->end && *s->p == c;
}

/* Four hex digits at @p, or -1. */
static gint
hex4 (const char *p, const char *end)
{
  if (end - p < 4)
    return -1;
  gint value = 0;
  for (int i = 0; i < 4; i++) {
    gint digit = g_ascii_xdigit_value (p[i]);
    if (digit < 0)
      return -1;
    value = value * 16 + digit;
  }
  return value;
}

/* A \u escape: U+0000 would cut the text short where C strings end, and a lone half of a
 * surrogate pair is no character at all. */
static gboolean
scan_unicode_escape (Scan *s)
{
  gint unit = hex4 (s->p + 2, s->end);
  if (unit < 0)
    return fail (s, _ ("\\u needs four hexadecimal digits"));
  if (unit == 0)
    return fail (s, _ ("\\u0000 is not allowed"));
  if (unit >= 0xdc00 && unit <= 0xdfff)
    return fail (s, _ ("a \\u escape is half of a surrogate pair"));
  if (unit < 0xd800 || unit > 0xdbff) {
    s->p += 6;
    return TRUE;
  }
  gint low
      = s->end - s->p >= 12 && s->p[6] == '\\' && s->p[7] == 'u' ? hex4 (s->p + 8, s->end) : -1;
  if (low < 0xdc00 || low > 0xdfff)
    return fail (s, _ ("a \\u escape is half of a surrogate pair"));
  s->p += 12;
  return TRUE;
}

static gboolean
scan_string (Scan *s)
{
  s->p++;
  while (s->p < s->end) {
    guchar c = (guchar) *s->p;
    if (c == '"') {
      s->p++;
      return TRUE;
    }
    if (c < 0x20)
      return fail (s, _ ("a control character in a string must be escaped"));
    if (c != '\\') {
      s->p++;
      continue;
    }
    if (s->end - s->p < 2)
      break;
    if (s->p[1] == 'u') {
      if (!scan_unicode_escape (s))
        return FALSE;
    } else if (strchr ("\"\\/bfnrt", s->p[1]) != NULL && s->p[1] != '\0') {
      s->p += 2;
    } else {
      return fail (s, _ ("unknown escape in a string"));
    }
  }
  return fail (s, _ ("a string is not closed"));
}

static gboolean
skip_digits (Scan *s)
{
  const char *start = s->p;
  while (s->p < s->end && g_ascii_isdigit (*s->p))
    s->p++;
  return s->p > start;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static gboolean
scan_number (Scan *s)
{
  if (peek (s, '-'))
    s->p++;
  if (peek (s, '0'))
    s->p++;
  else if (!skip_digits (s))
    return fail (s, _ ("expected a digit"));
  if (peek (s, '.')) {
    s->p++;
    if (!skip_digits (s))
      return fail (s, _ ("expected a digit after the decimal point"));
  }
  if (peek (s, 'e') || peek (s, 'E')) {
    s->p++;
    if (peek (s, '+') || peek (s, '-'))
      s->p++;
    if (!skip_digits (s))
      return fail (s, _ ("expected a digit in the exponent"));
  }
  return TRUE;
}

static gboolean
scan_word (Scan *s, const char *word)
{
  gsize length = strlen (word);
  if ((gsize) (s->end - s->p) < length || memcmp (s->p, word, length) != 0)
    return fail (s, _ ("expected a value"));
  s->p += length;
  return TRUE;
}

static gboolean scan_value (Scan *s, guint depth, SrJsonKind *kind);

/* The name of a member: the decoded text, when @members wants it. */
static gboolean
scan_name (Scan *s, char **name)
{
  if (!peek (s, '"'))
    return fail (s, _ ("expected a field name in double quotes"));
  const char *start = s->p;
  if (!scan_string (s))
    return FALSE;
  if (name == NULL)
    return TRUE;
  g_autofree char *token = g_strndup (start, (gsize) (s->p - start));
  g_autoptr (JsonNode) node = json_from_string (token, NULL);
  *name = g_strdup (node != NULL ? json_node_get_string (node) : "");
  return TRUE;
}

/* One member: name, colon, value; recorded in @members when it is not NULL. */
static gboolean
scan_member (Scan *s, guint depth, GPtrArray *members)
{
  g_autofree char *name = NULL;
  skip_space (s);
  if (!scan_name (s, members != NULL ? &name : NULL))
    return FALSE;
  skip_space (s);
  if (!peek (s, ':'))
    return fail (s, _ ("expected ':' after the field name"));
  s->p++;
  skip_space (s);
  const char *start = s->p;
  SrJsonKind kind;
  if (!scan_value (s, depth, &kind))
    return FALSE;
  if (members == NULL)
    return TRUE;
  SrJsonMember *member = g_new0 (SrJsonMember, 1);
  member->name = g_steal_pointer (&name);
  member->offset = (gsize) (start - s->text);
  member->length = (gsize) (s->p - start);
  member->kind = kind;
  g_ptr_array_add (members, member);
  return TRUE;
}

static gboolean
scan_object (Scan *s, guint depth, GPtrArray *members)
{
  s->p++;
  skip_space (s);
  if (peek (s, '}')) {
    s->p++;
    return TRUE;
  }
  for (;;) {
    if (!scan_member (s, depth, members))
      return FALSE;
    skip_space (s);
    if (peek (s, '}')) {
      s->p++;
      return TRUE;
    }
    if (!peek (s, ','))
      return fail (s, _ ("expected ',' or '}'"));
    s->p++;
  }
}

static gboolean
scan_array (Scan *s, guint depth)
{
  s->p++;
  skip_space (s);
  if (peek (s, ']')) {
    s->p++;
    return TRUE;
  }
  for (;;) {
    SrJsonKind kind;
    if (!scan_value (s, depth, &kind))
      return FALSE;
    skip_space (s);
    if (peek (s, ']')) {
      s->p++;
      return TRUE;
    }
    if (!peek (s, ','))
      return fail (s, _ ("expected ',' or ']'"));
    s->p++;
  }
}

static gboolean
scan_container (Scan *s, guint depth, SrJsonKind *kind)
{
  if (depth + 1 > s->max_depth) {
    g_autofree char *reason = g_strdup_printf (_ ("nested deeper than %u levels"), s->max_depth);
    return fail (s, reason);
  }
  *kind = peek (s, '{') ? SR_JSON_OBJECT : SR_JSON_ARRAY;
  return *kind == SR_JSON_OBJECT ? scan_object (s, depth + 1, NULL) : scan_array (s, depth + 1);
}

static gboolean
scan_value (Scan *s, guint depth, SrJsonKind *kind)
{
  skip_space (s);
  if (s->p >= s->end)
    return fail (s, _ ("expected a value"));
  switch (*s->p) {
  case '"':
    *kind = SR_JSON_STRING;
    return scan_string (s);
  case '{':
  case '[':
    return scan_container (s, depth, kind);
  case 't':
    *kind = SR_JSON_BOOLEAN;
    return scan_word (s, "true");
  case 'f':
    *kind = SR_JSON_BOOLEAN;
    return scan_word (s, "false");
  case 'n':
    *kind = SR_JSON_NULL;
    return scan_word (s, "null");
  default:
    *kind = SR_JSON_NUMBER;
    if (*s->p == '-' || g_ascii_isdigit (*s->p))
      return scan_number (s);
    return fail (s, _ ("expected a value"));
  }
}

static void
member_free (gpointer data)
{
  SrJsonMember *member = data;
  g_free (member->name);
  g_free (member);
}

/* Not an object at all: an error about the JSON if it is not even that. */
static gboolean
not_an_object (Scan *s)
{
  SrJsonKind kind;
  if (!scan_value (s, 0, &kind))
    return FALSE;
  g_set_error (s->error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
               _ ("The request body must be a JSON object, not %s"), sr_json_kind_name (kind));
  return FALSE;
}

GPtrArray *
sr_json_scan_object (const char *text, gsize length, guint max_depth, GError **error)
{
  Scan s = { text, text, text + length, max_depth, error };
  g_autoptr (GPtrArray) members = g_ptr_array_new_with_free_func (member_free);

  skip_space (&s);
  if (!peek (&s, '{')) {
    not_an_object (&s);
    return NULL;
  }
  if (!scan_object (&s, 1, members))
    return NULL;
  skip_space (&s);
  if (s.p < s.end) {
    fail (&s, _ ("expected the end of the body after the object"));
    return NULL;
  }
  return g_steal_pointer (&members);
}

const char *
sr_json_kind_name (SrJsonKind kind)
{
  switch (kind) {
  case SR_JSON_STRING:
    return _ ("a string");
  case SR_JSON_NUMBER:
    return _ ("a number");
  case SR_JSON_OBJECT:
    return _ ("an object");
  case SR_JSON_ARRAY:
    return _ ("an array");
  case SR_JSON_BOOLEAN:
    return _ ("a boolean");
  case SR_JSON_NULL:
    return _ ("null");
  }
  g_assert_not_reached ();
}
