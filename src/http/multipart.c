/* A multipart/form-data body (RFC 7578, framed as RFC 2046 says), parsed as it arrives. */
#include "http/multipart.h"

#include <glib/gi18n.h>
#include <string.h>

#include "common/errors.h"

typedef enum {
  STATE_PREAMBLE,       /* before the first boundary line: ignored */
  STATE_AFTER_BOUNDARY, /* a boundary came: "--", white space or CRLF follows */
  STATE_CLOSING,        /* the first "-" of the final boundary's "--" came */
  STATE_PADDING,        /* white space after a boundary (RFC 2046's transport padding) */
  STATE_LINE_FEED,      /* the CR that ends a boundary line came */
  STATE_HEADERS,
  STATE_CONTENT,
  STATE_EPILOGUE, /* after the final boundary: ignored */
  STATE_FAILED,
} State;

struct SrMultipart {
  State state;
  char *delimiter; /* CRLF "--" boundary, which ends the content before it */
  gsize delimiter_length;
  gsize matched; /* bytes of the delimiter seen last: held until they turn out not to be one */
  GString *headers;
  guint parts;
  SrMultipartLimits limits;
  SrMultipartCallbacks callbacks;
  gpointer user_data;
};

/* What a part's headers say. */
typedef struct {
  char *name;
  char *filename;
  char *content_type;
  gboolean has_disposition;
} Fields;

static void
fields_clear (Fields *fields)
{
  g_free (fields->name);
  g_free (fields->filename);
  g_free (fields->content_type);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Fields, fields_clear)

gboolean
sr_multipart_malformed (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS, _ ("Invalid multipart body: %s"),
               what);
  return FALSE;
}

gboolean
sr_multipart_boundary_is_valid (const char *boundary)
{
  static const char others[] = "'()+_,-./:=? ";
  gsize length = strlen (boundary);

  if (length == 0 || length > SR_MULTIPART_MAX_BOUNDARY || boundary[length - 1] == ' ')
    return FALSE;
  for (const char *p = boundary; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr (others, *p) == NULL)
      return FALSE;
  return TRUE;
}

SrMultipart *
sr_multipart_new (const char *boundary, const SrMultipartLimits *limits,
                  const SrMultipartCallbacks *callbacks, gpointer user_data)
{
  g_return_val_if_fail (sr_multipart_boundary_is_valid (boundary), NULL);
  SrMultipart *parser = g_new0 (SrMultipart, 1);
  parser->delimiter = g_strconcat ("\r\n--", boundary, NULL);
  parser->delimiter_length = strlen (parser->delimiter);
  /* The first boundary line may open the body: as if a line break came before it. */
  parser->matched = 2;
  parser->headers = g_string_new (NULL);
  parser->limits = *limits;
  parser->callbacks = *callbacks;
  parser->user_data = user_data;
  return parser;
}

void
sr_multipart_free (SrMultipart *parser)
{
  if (parser == NULL)
    return;
  g_free (parser->delimiter);
  g_string_free (parser->headers, TRUE);
  g_free (parser);
}

static gboolean
content (SrMultipart *parser, const guint8 *data, gsize length, GError **error)
{
  if (parser->state != STATE_CONTENT || length == 0)
    return TRUE;
  return parser->callbacks.data (data, length, parser->user_data, error);
}

static gboolean
delimiter_found (SrMultipart *parser, GError **error)
{
  gboolean in_part = parser->state == STATE_CONTENT;
  parser->matched = 0;
  parser->state = STATE_AFTER_BOUNDARY;
  return !in_part || parser->callbacks.end (parser->user_data, error);
}

/* Passes content on up to the delimiter, which may arrive split over several calls. Only
 * the delimiter's first byte is a CR, so when a partial match breaks, no other match can
 * have begun inside it: the held bytes are content, and the byte that broke it may start
 * a new one. */
static gboolean
scan (SrMultipart *parser, const guint8 *data, gsize length, gsize *used, GError **error)
{
  gsize i = 0, run = 0;

  while (i < length) {
    if (parser->matched == 0) {
      const guint8 *cr = memchr (data + i, '\r', length - i);
      if (cr == NULL) {
        i = length;
        break;
      }
      i = (gsize) (cr - data);
      if (!content (parser, data + run, i - run, error))
        return FALSE;
      parser->matched = 1;
      run = ++i;
    } else if (data[i] == (guint8) parser->delimiter[parser->matched]) {
      run = ++i;
      if (++parser->matched == parser->delimiter_length) {
        *used = i;
        return delimiter_found (parser, error);
      }
    } else {
      if (!content (parser, (const guint8 *) parser->delimiter, parser->matched, error))
        return FALSE;
      parser->matched = 0;
    }
  }
  *used = length;
  return content (parser, data + run, i - run, error);
}

static gboolean
start_part (SrMultipart *parser, GError **error)
{
  if (parser->parts == parser->limits.max_parts)
    return sr_multipart_malformed (error, _ ("it has more than %u parts"),
                                   parser->limits.max_parts);
  parser->parts++;
  g_string_truncate (parser->headers, 0);
  parser->state = STATE_HEADERS;
  return TRUE;
}

/* One byte of what ends a boundary line: "--" for the last, else white space and CRLF. */
static gboolean
boundary_end (SrMultipart *parser, guint8 byte, GError **error)
{
  State state = parser->state;

  if (state == STATE_AFTER_BOUNDARY && byte == '-') {
    parser->state = STATE_CLOSING;
    return TRUE;
  }
  if (state == STATE_CLOSING && byte == '-') {
    parser->state = STATE_EPILOGUE;
    return parser->parts > 0 || sr_multipart_malformed (error, _ ("it has no parts"));
  }
  if ((state == STATE_AFTER_BOUNDARY || state == STATE_PADDING) && (byte == ' ' || byte == '\t')) {
    parser->state = STATE_PADDING;
    return TRUE;
  }
  if ((state == STATE_AFTER_BOUNDARY || state == STATE_PADDING) && byte == '\r') {
    parser->state = STATE_LINE_FEED;
    return TRUE;
  }
  if (state == STATE_LINE_FEED && byte == '\n')
    return start_part (parser, error);
  return sr_multipart_malformed (error, _ ("a boundary line does not end with CRLF"));
}

/* A quoted-string's or token's value at *@p; *@p moves past it. As most servers do, a
 * backslash escapes only a quote or a backslash: others stay, as in "C:\Users\ann\a.txt",
 * which browsers send as it is. */
static char *
param_value (const char **p)
{
  const char *s = *p;
  GString *value = g_string_new (NULL);

  if (*s != '"') {
    while (*s != '\0' && *s != ';' && *s != ' ' && *s != '\t')
      g_string_append_c (value, *s++);
    *p = s;
    return g_string_free (value, FALSE);
  }
  for (s++; *s != '"'; s++) {
    if (*s == '\0') {
      *p = s;
      g_string_free (value, TRUE);
      return NULL;
    }
    if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
      s++;
    g_string_append_c (value, *s);
  }
  *p = s + 1;
  return g_string_free (value, FALSE);
}

static const char *
skip_space (const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* One "; key=value" parameter at *@p; name and filename go to @fields, others are ignored
 * (RFC 7578 forbids filename*). */
static gboolean
disposition_param (SrMultipart *parser, const char **p, Fields *fields, GError **error)
{
  const char *s = skip_space (*p + 1);
  const char *key = s;
  while (*s != '\0' && *s != '=' && *s != ';' && *s != ' ' && *s != '\t')
    s++;
  g_autofree char *name = g_strndup (key, (gsize) (s - key));
  if (*s != '=')
    return sr_multipart_malformed (
        error, _ ("the Content-Disposition header of part %u is malformed"), parser->parts);
  s++;
  g_autofree char *value = param_value (&s);
  *p = skip_space (s);
  if (value == NULL)
    return sr_multipart_malformed (
        error,
        _ ("the Content-Disposition header of part %u has an unterminated "
           "quoted string"),
        parser->parts);
  char **slot = g_ascii_strcasecmp (name, "name") == 0       ? &fields->name
                : g_ascii_strcasecmp (name, "filename") == 0 ? &fields->filename
                                                             : NULL;
  if (slot != NULL && *slot != NULL)
    return sr_multipart_malformed (
        error, _ ("the Content-Disposition header of part %u gives %s twice"), parser->parts, name);
  if (slot != NULL)
    *slot = g_steal_pointer (&value);
  return TRUE;
}

static gboolean
parse_disposition (SrMultipart *parser, const char *value, Fields *fields, GError **error)
{
  const char *p = value;
  while (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t')
    p++;
  if ((gsize) (p - value) != strlen ("form-data")
      || g_ascii_strncasecmp (value, "form-data", (gsize) (p - value)) != 0)
    return sr_multipart_malformed (error, _ ("the Content-Disposition of part %u is not form-data"),
                                   parser->parts);
  p = skip_space (p);
  while (*p == ';') {
    if (!disposition_param (parser, &p, fields, error))
      return FALSE;
  }
  if (*p != '\0')
    return sr_multipart_malformed (
        error, _ ("the Content-Disposition header of part %u is malformed"), parser->parts);
  if (fields->name == NULL || *fields->name == '\0')
    return sr_multipart_malformed (error, _ ("part %u has no name"), parser->parts);
  if (!g_utf8_validate (fields->name, -1, NULL))
    return sr_multipart_malformed (error, _ ("the name of part %u is not valid UTF-8"),
                                   parser->parts);
  return TRUE;
}

/* RFC 7578 deprecates transfer encodings: only those that leave the bytes alone are taken. */
static gboolean
check_encoding (SrMultipart *parser, const char *value, GError **error)
{
  static const char *const identity[] = { "binary", "8bit", "7bit" };
  for (guint i = 0; i < G_N_ELEMENTS (identity); i++)
    if (g_ascii_strcasecmp (value, identity[i]) == 0)
      return TRUE;
  return sr_multipart_malformed (
      error,
      _ ("part %u has a Content-Transfer-Encoding other than binary; send the "
         "file's bytes as they are"),
      parser->parts);
}

static gboolean
parse_header_line (SrMultipart *parser, const char *line, Fields *fields, GError **error)
{
  const char *colon = strchr (line, ':');
  const char *space = strpbrk (line, " \t");
  if (strchr (line, '\r') != NULL)
    return sr_multipart_malformed (error, _ ("a header line of part %u does not end with CRLF"),
                                   parser->parts);
  if (*line == ' ' || *line == '\t')
    return sr_multipart_malformed (error, _ ("a header of part %u is folded over two lines"),
                                   parser->parts);
  if (colon == NULL || colon == line || (space != NULL && space < colon))
    return sr_multipart_malformed (error, _ ("a header line of part %u is not 'Name: value'"),
                                   parser->parts);

  g_autofree char *name = g_strndup (line, (gsize) (colon - line));
  g_autofree char *value = g_strstrip (g_strdup (colon + 1));
  if (g_ascii_strcasecmp (name, "Content-Disposition") == 0) {
    if (fields->has_disposition)
      return sr_multipart_malformed (error, _ ("part %u has two Content-Disposition headers"),
                                     parser->parts);
    fields->has_disposition = TRUE;
    return parse_disposition (parser, value, fields, error);
  }
  if (g_ascii_strcasecmp (name, "Content-Type") == 0 && fields->content_type == NULL)
    fields->content_type = g_steal_pointer (&value);
  else if (g_ascii_strcasecmp (name, "Content-Transfer-Encoding") == 0)
    return check_encoding (parser, value, error);
  return TRUE;
}

/* The part's headers and the blank line after them are in. */
static gboolean
headers_done (SrMultipart *parser, GError **error)
{
  GString *headers = parser->headers;
  g_auto (Fields) fields = { NULL };

  if (memchr (headers->str, '\0', headers->len) != NULL)
    return sr_multipart_malformed (error, _ ("the headers of part %u hold a NUL byte"),
                                   parser->parts);
  /* Without the CRLF of the last line and that of the blank line. */
  g_autofree char *text = g_strndup (headers->str, headers->len > 2 ? headers->len - 4 : 0);
  g_auto (GStrv) lines = g_strsplit (text, "\r\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (!parse_header_line (parser, lines[i], &fields, error))
      return FALSE;
  if (!fields.has_disposition)
    return sr_multipart_malformed (error, _ ("part %u has no Content-Disposition header"),
                                   parser->parts);

  SrMultipartPart part = { parser->parts, fields.name, fields.filename, fields.content_type };
  parser->state = STATE_CONTENT;
  return parser->callbacks.begin (&part, parser->user_data, error);
}

static gboolean
take_headers (SrMultipart *parser, const guint8 *data, gsize length, gsize *used, GError **error)
{
  GString *headers = parser->headers;

  for (gsize i = 0; i < length; i++) {
    g_string_append_c (headers, (char) data[i]);
    if (headers->len > parser->limits.max_header_bytes)
      return sr_multipart_malformed (error, _ ("the headers of part %u are longer than %u bytes"),
                                     parser->parts, (guint) parser->limits.max_header_bytes);
    if (data[i] != '\n')
      continue;
    if (headers->len < 2 || headers->str[headers->len - 2] != '\r')
      return sr_multipart_malformed (error, _ ("a header line of part %u does not end with CRLF"),
                                     parser->parts);
    /* By length: a NUL byte in the headers must not hide their end. */
    if (headers->len == 2
        || (headers->len >= 4 && memcmp (headers->str + headers->len - 4, "\r\n\r\n", 4) == 0)) {
      *used = i + 1;
      return headers_done (parser, error);
    }
  }
  *used = length;
  return TRUE;
}

static gboolean
step (SrMultipart *parser, const guint8 *data, gsize length, gsize *used, GError **error)
{
  switch (parser->state) {
  case STATE_PREAMBLE:
  case STATE_CONTENT:
    return scan (parser, data, length, used, error);
  case STATE_HEADERS:
    return take_headers (parser, data, length, used, error);
  case STATE_EPILOGUE:
    *used = length;
    return TRUE;
  case STATE_AFTER_BOUNDARY:
  case STATE_CLOSING:
  case STATE_PADDING:
  case STATE_LINE_FEED:
    *used = 1;
    return boundary_end (parser, data[0], error);
  case STATE_FAILED:
    break;
  }
  g_assert_not_reached ();
}

gboolean
sr_multipart_feed (SrMultipart *parser, const guint8 *data, gsize length, GError **error)
{
  g_return_val_if_fail (parser->state != STATE_FAILED, FALSE);
  for (gsize at = 0; at < length;) {
    gsize used = 0;
    if (!step (parser, data + at, length - at, &used, error)) {
      parser->state = STATE_FAILED;
      return FALSE;
    }
    at += used;
  }
  return TRUE;
}

gboolean
sr_multipart_finish (SrMultipart *parser, GError **error)
{
  g_return_val_if_fail (parser->state != STATE_FAILED, FALSE);
  State state = parser->state;
  const char *boundary = parser->delimiter + 4;

  if (state == STATE_EPILOGUE)
    return TRUE;
  parser->state = STATE_FAILED;
  if (state == STATE_PREAMBLE)
    return sr_multipart_malformed (error, _ ("it holds no boundary line '--%s'"), boundary);
  return sr_multipart_malformed (error, _ ("it ends before the final boundary line '--%s--'"),
                                 boundary);
}
