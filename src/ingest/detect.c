/* Format detection (content first, the name second) and the dispatch to the readers. */
#include "ingest/readers.h"

#include <glib/gi18n.h>
#include <string.h>

#include "common/errors.h"
#include "ingest/read-private.h"

/* Enough to see a doctype, <html> or the first headings without reading a whole file. */
#define SNIFF_BYTES     1024
#define TEXT_SAMPLE     (64 * 1024)
#define MAX_ZIP_ENTRIES 256
#define MAX_MIMETYPE    256

static gboolean
has_suffix (const char *filename, const char *const *suffixes)
{
  if (filename == NULL)
    return FALSE;
  g_autofree char *lower = g_ascii_strdown (filename, -1);
  for (; *suffixes != NULL; suffixes++)
    if (g_str_has_suffix (lower, *suffixes))
      return TRUE;
  return FALSE;
}

static gboolean
contains_ci (const guint8 *data, gsize length, const char *needle)
{
  gsize n = strlen (needle);
  for (gsize i = 0; i + n <= length; i++)
    if (g_ascii_strncasecmp ((const char *) data + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

static const guint8 *
skip_bom_and_space (const guint8 *data, gsize *length)
{
  if (*length >= 3 && memcmp (data, "\xef\xbb\xbf", 3) == 0)
    data += 3, *length -= 3;
  while (*length > 0 && g_ascii_isspace (*data))
    data++, (*length)--;
  return data;
}

static gboolean
looks_like_html (const guint8 *data, gsize length)
{
  data = skip_bom_and_space (data, &length);
  length = MIN (length, SNIFF_BYTES);
  if (length == 0 || data[0] != '<')
    return FALSE;
  return contains_ci (data, length, "<!doctype html") || contains_ci (data, length, "<html");
}

static gboolean
has_member (GPtrArray *names, const char *name)
{
  for (guint i = 0; i < names->len; i++)
    if (g_str_equal (names->pdata[i], name))
      return TRUE;
  return FALSE;
}

static SrFormat
detect_zip (const guint8 *data, gsize length)
{
  g_autoptr (GPtrArray) names = sr_zip_list (data, length, MAX_ZIP_ENTRIES);
  if (names == NULL)
    return SR_FORMAT_UNKNOWN;
  if (has_member (names, "word/document.xml"))
    return SR_FORMAT_DOCX;

  static const char *const mimetype_only[] = { "mimetype", NULL };
  guint64 inflated = 0;
  g_autoptr (GHashTable) members
      = sr_zip_read_members (data, length, mimetype_only, MAX_MIMETYPE, &inflated, NULL);
  GBytes *bytes = members != NULL ? g_hash_table_lookup (members, "mimetype") : NULL;
  if (bytes == NULL)
    return SR_FORMAT_UNKNOWN;
  gsize size = 0;
  const char *mimetype = g_bytes_get_data (bytes, &size);
  g_autofree char *clean = g_strstrip (g_strndup (mimetype, size));
  if (g_str_equal (clean, "application/vnd.oasis.opendocument.text"))
    return SR_FORMAT_ODT;
  if (g_str_equal (clean, "application/epub+zip"))
    return SR_FORMAT_EPUB;
  return SR_FORMAT_UNKNOWN;
}

static gboolean
is_atx_heading (const char *line, const char *end)
{
  gsize hashes = 0;
  while (line + hashes < end && line[hashes] == '#')
    hashes++;
  return hashes >= 1 && hashes <= 6 && line + hashes + 1 < end && line[hashes] == ' '
         && !g_ascii_isspace (line[hashes + 1]);
}

/* Two "# Heading" lines, or one that opens the text: a "notes.txt" written in Markdown. */
static gboolean
has_markdown_headings (const guint8 *data, gsize length)
{
  const char *text = (const char *) data;
  const char *end = text + MIN (length, TEXT_SAMPLE);
  guint headings = 0;
  gboolean first = TRUE;

  for (const char *line = text; line < end;) {
    const char *nl = memchr (line, '\n', end - line);
    const char *line_end = nl != NULL ? nl : end;
    if (is_atx_heading (line, line_end) && (first || ++headings >= 2))
      return TRUE;
    if (line_end > line && !g_ascii_isspace (*line))
      first = FALSE;
    line = nl != NULL ? nl + 1 : end;
  }
  return FALSE;
}

/* The head is one byte longer than the text sample, so that a character cut in two at
 * the sample's end is told from a broken one exactly as in the whole file. */
G_STATIC_ASSERT (SR_FORMAT_HEAD_BYTES > TEXT_SAMPLE + 4);
G_STATIC_ASSERT (SR_FORMAT_HEAD_BYTES > SNIFF_BYTES);

static gboolean
is_zip (const guint8 *data, gsize length)
{
  return length >= 4 && memcmp (data, "PK\x03\x04", 4) == 0;
}

/* The formats that are text: HTML, Markdown or plain. */
static SrFormat
detect_text (const guint8 *data, gsize length, const char *filename)
{
  static const char *const markdown_names[] = { ".md", ".markdown", ".mkd", NULL };
  static const char *const html_names[] = { ".html", ".htm", ".xhtml", NULL };
  static const char *const text_names[] = { ".txt", ".text", NULL };

  if (looks_like_html (data, length))
    return SR_FORMAT_HTML;
  if (!sr_text_plausible (data, length, TEXT_SAMPLE))
    return SR_FORMAT_UNKNOWN;
  if (has_suffix (filename, markdown_names))
    return SR_FORMAT_MARKDOWN;
  gsize rest = length;
  const guint8 *start = skip_bom_and_space (data, &rest);
  if (has_suffix (filename, html_names) && rest > 0 && start[0] == '<')
    return SR_FORMAT_HTML;
  if ((filename == NULL || has_suffix (filename, text_names))
      && has_markdown_headings (start, rest))
    return SR_FORMAT_MARKDOWN;
  return SR_FORMAT_TEXT;
}

/* Everything but a look inside zip archives, which the caller does when it may. */
static SrFormat
detect_leading (const guint8 *data, gsize length, const char *filename)
{
  /* The PDF header may follow some junk, which readers accept. */
  for (gsize i = 0; i + 5 <= MIN (length, SNIFF_BYTES); i++)
    if (memcmp (data + i, "%PDF-", 5) == 0)
      return SR_FORMAT_PDF;
  return detect_text (data, length, filename);
}

SrFormat
sr_format_detect_typed (const guint8 *data, gsize length, const char *filename)
{
  return detect_text (data, length, filename);
}

SrFormat
sr_format_detect (const guint8 *data, gsize length, const char *filename)
{
  if (is_zip (data, length))
    return detect_zip (data, length);
  return detect_leading (data, length, filename);
}

SrFormat
sr_format_detect_head (const guint8 *head, gsize length, const char *filename,
                       gboolean *zip_archive)
{
  *zip_archive = is_zip (head, length);
  if (*zip_archive)
    return SR_FORMAT_UNKNOWN;
  return detect_leading (head, MIN (length, SR_FORMAT_HEAD_BYTES), filename);
}

typedef struct {
  const char *magic;
  gsize magic_length;
  const char *kind; /* N_() */
} Magic;

/* What people most often add by mistake, so the refusal can say what the file is. */
static const Magic known_kinds[] = {
  { "\x89PNG\r\n\x1a\n", 8, N_ ("a PNG image") },
  { "\xff\xd8\xff", 3, N_ ("a JPEG image") },
  { "GIF8", 4, N_ ("a GIF image") },
  { "\x7f\x45LF", 4, N_ ("a program (ELF)") },
  { "MZ", 2, N_ ("a Windows program") },
  { "\x1f\x8b", 2, N_ ("a gzip archive") },
  { "BZh", 3, N_ ("a bzip2 archive") },
  { "\xfd\x37zXZ\0", 6, N_ ("an xz archive") },
  { "\x28\xb5\x2f\xfd", 4, N_ ("a zstd archive") },
  { "7z\xbc\xaf\x27\x1c", 6, N_ ("a 7-Zip archive") },
  { "Rar!\x1a\x07", 6, N_ ("a RAR archive") },
  { "PK\x03\x04", 4, N_ ("a zip archive that is not a DOCX, ODT or EPUB document") },
  { "SQLite format 3", 16, N_ ("an SQLite database") },
  { "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, N_ ("an old Microsoft Office file (DOC, XLS or PPT)") },
};

static const Magic other_encodings[] = {
  /* UTF-32 first: its little-endian mark starts like UTF-16's. */
  { "\xff\xfe\0\0", 4, "UTF-32" },
  { "\0\0\xfe\xff", 4, "UTF-32" },
  { "\xff\xfe", 2, "UTF-16" },
  { "\xfe\xff", 2, "UTF-16" },
};

static const Magic *
find_magic (const Magic *table, gsize n, const guint8 *head, gsize length)
{
  for (gsize i = 0; i < n; i++)
    if (length >= table[i].magic_length
        && memcmp (head, table[i].magic, table[i].magic_length) == 0)
      return &table[i];
  return NULL;
}

void
sr_format_set_unsupported (GError **error, const guint8 *head, gsize length)
{
  const Magic *encoding
      = find_magic (other_encodings, G_N_ELEMENTS (other_encodings), head, length);
  if (encoding != NULL) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT,
                 _ ("The file is text in %s, which is not supported; convert it to UTF-8 and "
                    "add it again (supported formats are %s)"),
                 encoding->kind, sr_format_supported_list ());
    return;
  }
  const Magic *kind = find_magic (known_kinds, G_N_ELEMENTS (known_kinds), head, length);
  if (kind != NULL) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT,
                 _ ("The file is %s, which is not supported; supported formats are %s"),
                 _ (kind->kind), sr_format_supported_list ());
    return;
  }
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT,
               _ ("The file's type is not supported or it is not a document; supported "
                  "formats are %s"),
               sr_format_supported_list ());
}

SrExtracted *
sr_read_document (SrFormat format, const guint8 *data, gsize length, const SrExtractLimits *limits,
                  GError **error)
{
  if (length == 0) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("The file is empty: there is nothing to read"));
    return NULL;
  }
  switch (format) {
  case SR_FORMAT_TEXT:
    return sr_read_text (data, length, limits, error);
  case SR_FORMAT_MARKDOWN:
    return sr_read_markdown (data, length, limits, error);
  case SR_FORMAT_HTML:
    return sr_read_html (data, length, limits, error);
  case SR_FORMAT_PDF:
    return sr_read_pdf (data, length, limits, error);
  case SR_FORMAT_DOCX:
    return sr_read_docx (data, length, limits, error);
  case SR_FORMAT_ODT:
    return sr_read_odt (data, length, limits, error);
  case SR_FORMAT_EPUB:
    return sr_read_epub (data, length, limits, error);
  case SR_FORMAT_UNKNOWN:
  default:
    sr_format_set_unsupported (error, data, length);
    return NULL;
  }
}
