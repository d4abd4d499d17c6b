/* Markdown: one section per heading with its heading path; code blocks kept as text. */
#include "ingest/read-private.h"

#include <string.h>

typedef struct {
  SrTextBuilder *builder;
  GString *para;
  guint para_lines;
  GString *code;
  char fence_char; /* '\0' outside a code fence */
  gsize fence_length;
} MarkdownState;

static void
flush_paragraph (MarkdownState *state)
{
  sr_text_builder_block (state->builder, state->para->str, state->para->len);
  g_string_truncate (state->para, 0);
  state->para_lines = 0;
}

/* Up to three spaces of indent are still the same block in CommonMark. */
static const char *
skip_indent (const char *line, const char *end)
{
  for (int i = 0; i < 3 && line < end && *line == ' '; i++)
    line++;
  return line;
}

static gsize
count_run (const char *p, const char *end, char c)
{
  gsize n = 0;
  while (p + n < end && p[n] == c)
    n++;
  return n;
}

static gboolean
only_char_then_space (const char *p, const char *end, char c)
{
  gsize n = count_run (p, end, c);
  if (n == 0)
    return FALSE;
  for (p += n; p < end; p++)
    if (!g_ascii_isspace (*p))
      return FALSE;
  return TRUE;
}

/* "## Title ##" → level 2, "Title"; 0 when the line is no ATX heading. */
static guint
atx_heading (const char *line, const char *end, char **text)
{
  const char *p = skip_indent (line, end);
  gsize level = count_run (p, end, '#');
  if (level == 0 || level > 6 || (p + level < end && p[level] != ' ' && p[level] != '\t'))
    return 0;
  const char *start = p + level;
  const char *stop = end;
  while (stop > start && g_ascii_isspace (stop[-1]))
    stop--;
  const char *hashes = stop;
  while (hashes > start && hashes[-1] == '#')
    hashes--;
  if (hashes == start || hashes[-1] == ' ' || hashes[-1] == '\t')
    stop = hashes;
  *text = g_strndup (start, stop - start);
  return (guint) level;
}

static gboolean
fence_line (MarkdownState *state, const char *line, const char *end)
{
  const char *p = skip_indent (line, end);
  if (state->fence_char != '\0') {
    if (count_run (p, end, state->fence_char) < state->fence_length)
      return FALSE;
    sr_text_builder_block (state->builder, state->code->str, state->code->len);
    g_string_truncate (state->code, 0);
    state->fence_char = '\0';
    return TRUE;
  }
  if (p >= end || (*p != '`' && *p != '~') || count_run (p, end, *p) < 3)
    return FALSE;
  flush_paragraph (state);
  state->fence_char = *p;
  state->fence_length = count_run (p, end, *p);
  return TRUE;
}

static void
markdown_line (MarkdownState *state, const char *line, const char *end)
{
  if (fence_line (state, line, end))
    return;
  if (state->fence_char != '\0') {
    g_string_append_len (state->code, line, end - line);
    g_string_append_c (state->code, '\n');
    return;
  }
  g_autofree char *heading = NULL;
  guint level = atx_heading (line, end, &heading);
  if (level > 0) {
    flush_paragraph (state);
    sr_text_builder_heading (state->builder, level, heading);
    return;
  }
  const char *p = skip_indent (line, end);
  gboolean underline_1 = only_char_then_space (p, end, '=');
  if (state->para_lines == 1 && (underline_1 || only_char_then_space (p, end, '-'))) {
    sr_text_builder_heading (state->builder, underline_1 ? 1 : 2, state->para->str);
    g_string_truncate (state->para, 0);
    state->para_lines = 0;
    return;
  }
  gboolean thematic_break
      = count_run (p, end, p < end ? *p : '-') >= 3
        && (only_char_then_space (p, end, '-') || only_char_then_space (p, end, '*')
            || only_char_then_space (p, end, '_'));
  if (p == end || only_char_then_space (p, end, ' ') || only_char_then_space (p, end, '\t')
      || thematic_break) {
    flush_paragraph (state);
    return;
  }
  if (state->para_lines++ > 0)
    g_string_append_c (state->para, '\n');
  g_string_append_len (state->para, line, end - line);
}

SrExtracted *
sr_read_markdown (const guint8 *data, gsize length, const SrExtractLimits *limits, GError **error)
{
  gsize text_length = 0;
  g_autofree char *text = sr_text_decode (data, length, &text_length, error);
  if (text == NULL)
    return NULL;

  g_autoptr (SrTextBuilder) builder = sr_text_builder_new (SR_FORMAT_MARKDOWN, limits);
  g_autoptr (GString) para = g_string_new (NULL);
  g_autoptr (GString) code = g_string_new (NULL);
  MarkdownState state = { .builder = builder, .para = para, .code = code };
  const char *end = text + text_length;

  for (const char *line = text; line < end && !sr_text_builder_failed (builder);) {
    const char *nl = memchr (line, '\n', end - line);
    const char *line_end = nl != NULL ? nl : end;
    markdown_line (&state, line, line_end);
    line = nl != NULL ? nl + 1 : end;
  }
  /* An unclosed fence runs to the end of the document, as in CommonMark. */
  sr_text_builder_block (builder, code->str, code->len);
  flush_paragraph (&state);
  return sr_text_builder_finish (builder, error);
}
