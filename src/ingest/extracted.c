/* Extracted documents and the builder that readers use to fill them within their limits. */
#include "ingest/read-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "common/errors.h"

#define MAX_HEADING_LEVELS 9

const char *
sr_format_name (SrFormat format)
{
  switch (format) {
  case SR_FORMAT_TEXT:
    return "text";
  case SR_FORMAT_MARKDOWN:
    return "markdown";
  case SR_FORMAT_HTML:
    return "html";
  case SR_FORMAT_PDF:
    return "pdf";
  case SR_FORMAT_DOCX:
    return "docx";
  case SR_FORMAT_ODT:
    return "odt";
  case SR_FORMAT_EPUB:
    return "epub";
  case SR_FORMAT_UNKNOWN:
  default:
    return "unknown";
  }
}

const char *
sr_format_supported_list (void)
{
  return _ ("plain text (UTF-8 or Latin-1), Markdown, HTML, PDF, DOCX, ODT, EPUB");
}

SrSection *
sr_section_new (const char *text, guint page, const char *heading)
{
  SrSection *section = g_new0 (SrSection, 1);
  section->text = g_strdup (text);
  section->page = page;
  section->heading = g_strdup (heading != NULL ? heading : "");
  return section;
}

void
sr_section_free (SrSection *section)
{
  if (section == NULL)
    return;
  g_free (section->text);
  g_free (section->heading);
  g_free (section);
}

SrExtracted *
sr_extracted_new (SrFormat format)
{
  SrExtracted *extracted = g_new0 (SrExtracted, 1);
  extracted->format = format;
  extracted->sections = g_ptr_array_new_with_free_func ((GDestroyNotify) sr_section_free);
  return extracted;
}

void
sr_extracted_free (SrExtracted *extracted)
{
  if (extracted == NULL)
    return;
  g_free (extracted->title);
  g_ptr_array_unref (extracted->sections);
  g_free (extracted);
}

struct SrTextBuilder {
  SrExtracted *extracted;
  guint64 max_output;
  guint64 used;
  GString *text; /* the section being filled */
  guint page;
  char *levels[MAX_HEADING_LEVELS];
  gboolean in_paragraph;
  gboolean pending_space;
  GError *error;
};

SrTextBuilder *
sr_text_builder_new (SrFormat format, const SrExtractLimits *limits)
{
  SrTextBuilder *builder = g_new0 (SrTextBuilder, 1);
  builder->extracted = sr_extracted_new (format);
  builder->max_output = limits != NULL ? limits->max_output_bytes : 0;
  builder->text = g_string_new (NULL);
  return builder;
}

void
sr_text_builder_free (SrTextBuilder *builder)
{
  if (builder == NULL)
    return;
  sr_extracted_free (builder->extracted);
  g_string_free (builder->text, TRUE);
  for (guint i = 0; i < MAX_HEADING_LEVELS; i++)
    g_free (builder->levels[i]);
  g_clear_error (&builder->error);
  g_free (builder);
}

gboolean
sr_text_builder_failed (SrTextBuilder *builder)
{
  return builder->error != NULL;
}

/* Charges @n bytes of output; FALSE (and the sticky error) once past the limit. */
static gboolean
charge (SrTextBuilder *builder, gsize n)
{
  if (builder->error != NULL)
    return FALSE;
  builder->used += n;
  if (builder->max_output == 0 || builder->used <= builder->max_output)
    return TRUE;
  g_autofree char *limit = g_format_size_full (builder->max_output, G_FORMAT_SIZE_IEC_UNITS);
  g_set_error (&builder->error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE,
               _ ("The document holds more than %s of text, the limit for one document ([limits] "
                  "max_extracted_size); split it into smaller files or raise the limit"),
               limit);
  return FALSE;
}

static gboolean
is_space_byte (guchar c)
{
  /* Other C0 controls are noise in extracted text and count as space too. */
  return c <= ' ' || c == 0x7f;
}

/* Whitespace runs to single spaces, ends trimmed. */
static char *
collapse (const char *text)
{
  GString *out = g_string_new (NULL);
  gboolean space = FALSE;

  for (const guchar *p = (const guchar *) text; *p != '\0'; p++) {
    if (is_space_byte (*p)) {
      space = out->len > 0;
      continue;
    }
    if (space)
      g_string_append_c (out, ' ');
    space = FALSE;
    g_string_append_c (out, (char) *p);
  }
  return g_string_free (out, FALSE);
}

static char *
heading_path (SrTextBuilder *builder)
{
  GString *path = g_string_new (NULL);
  for (guint i = 0; i < MAX_HEADING_LEVELS; i++) {
    if (builder->levels[i] == NULL)
      continue;
    if (path->len > 0)
      g_string_append (path, " > ");
    g_string_append (path, builder->levels[i]);
  }
  return g_string_free (path, FALSE);
}

static void
flush_section (SrTextBuilder *builder)
{
  builder->in_paragraph = FALSE;
  builder->pending_space = FALSE;
  if (builder->text->len == 0)
    return;
  g_autofree char *path = heading_path (builder);
  g_ptr_array_add (builder->extracted->sections,
                   sr_section_new (builder->text->str, builder->page, path));
  g_string_truncate (builder->text, 0);
}

void
sr_text_builder_set_title (SrTextBuilder *builder, const char *title)
{
  if (builder->extracted->title != NULL || title == NULL)
    return;
  g_autofree char *clean = collapse (title);
  if (*clean == '\0' || !charge (builder, strlen (clean)))
    return;
  builder->extracted->title = g_steal_pointer (&clean);
}

void
sr_text_builder_set_page (SrTextBuilder *builder, guint page)
{
  flush_section (builder);
  builder->page = page;
}

void
sr_text_builder_heading (SrTextBuilder *builder, guint level, const char *text)
{
  g_autofree char *clean = collapse (text);
  if (*clean == '\0')
    return;
  level = CLAMP (level, 1, MAX_HEADING_LEVELS);
  if (!charge (builder, strlen (clean)))
    return;
  flush_section (builder);
  for (guint i = level - 1; i < MAX_HEADING_LEVELS; i++)
    g_clear_pointer (&builder->levels[i], g_free);
  builder->levels[level - 1] = g_steal_pointer (&clean);
}

static void
start_paragraph (SrTextBuilder *builder)
{
  if (builder->text->len > 0 && charge (builder, 2))
    g_string_append (builder->text, "\n\n");
  builder->in_paragraph = TRUE;
  builder->pending_space = FALSE;
}

void
sr_text_builder_inline (SrTextBuilder *builder, const char *text, gsize length)
{
  const char *end = text + length;
  const char *p = text;

  while (p < end && builder->error == NULL) {
    if (is_space_byte ((guchar) *p)) {
      builder->pending_space = builder->in_paragraph;
      p++;
      continue;
    }
    const char *run = p;
    while (p < end && !is_space_byte ((guchar) *p))
      p++;
    if (!builder->in_paragraph)
      start_paragraph (builder);
    else if (builder->pending_space && charge (builder, 1))
      g_string_append_c (builder->text, ' ');
    builder->pending_space = FALSE;
    if (charge (builder, p - run))
      g_string_append_len (builder->text, run, p - run);
  }
}

void
sr_text_builder_end_paragraph (SrTextBuilder *builder)
{
  builder->in_paragraph = FALSE;
  builder->pending_space = FALSE;
}

void
sr_text_builder_block (SrTextBuilder *builder, const char *text, gsize length)
{
  while (length > 0 && (text[0] == '\n' || text[0] == '\r'))
    text++, length--;
  while (length > 0 && g_ascii_isspace (text[length - 1]))
    length--;
  if (length == 0 || builder->error != NULL)
    return;
  start_paragraph (builder);
  if (charge (builder, length))
    g_string_append_len (builder->text, text, length);
  sr_text_builder_end_paragraph (builder);
}

static gboolean
line_is_blank (const char *line, const char *end)
{
  for (; line < end; line++)
    if (!g_ascii_isspace (*line))
      return FALSE;
  return TRUE;
}

void
sr_text_builder_plain (SrTextBuilder *builder, const char *text, gsize length)
{
  const char *end = text + length;
  const char *para = NULL;
  const char *para_end = NULL;

  for (const char *line = text; line < end && builder->error == NULL;) {
    const char *nl = memchr (line, '\n', end - line);
    const char *line_end = nl != NULL ? nl : end;
    if (line_is_blank (line, line_end)) {
      if (para != NULL)
        sr_text_builder_block (builder, para, para_end - para);
      para = NULL;
    } else {
      if (para == NULL)
        para = line;
      para_end = line_end;
    }
    line = nl != NULL ? nl + 1 : end;
  }
  if (para != NULL)
    sr_text_builder_block (builder, para, para_end - para);
}

SrExtracted *
sr_text_builder_finish (SrTextBuilder *builder, GError **error)
{
  flush_section (builder);
  if (builder->error != NULL) {
    g_propagate_error (error, g_steal_pointer (&builder->error));
    return NULL;
  }
  return g_steal_pointer (&builder->extracted);
}
