/* The chunker: sections into chunks of about target_chars, cut at the best boundary near. */
#include "ingest/chunker.h"

#include <glib/gi18n.h>
#include <string.h>

#include "common/errors.h"

void
sr_chunk_free (SrChunk *chunk)
{
  if (chunk == NULL)
    return;
  g_free (chunk->text);
  g_free (chunk->heading);
  g_free (chunk);
}

typedef struct {
  const SrChunkOptions *options;
  const SrSection *section;
  GPtrArray *chunks;
} Chunking;

/* Where a window may be cut, as byte offsets from the section start; -1 when none. */
typedef struct {
  gssize paragraph;
  gssize sentence;
  gssize word;
} Cuts;

static gboolean
is_sentence_end (gunichar c)
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
  case 0x3002: /* 。 */
  case 0xFF01: /* ！ */
  case 0xFF0E: /* ． */
  case 0xFF1F: /* ？ */
  case 0xFF61: /* ｡ */
    return TRUE;
  default:
    return FALSE;
  }
}

/* CJK sentences end without a following space. */
static gboolean
is_wide_sentence_end (gunichar c)
{
  return c == 0x3002 || c == 0xFF01 || c == 0xFF1F || c == 0xFF61 || c == 0xFF0E;
}

/* Quotes and brackets that may close a sentence after its full stop. */
static gboolean
is_closer (gunichar c)
{
  if (c == '"' || c == '\'')
    return TRUE;
  GUnicodeType type = g_unichar_type (c);
  return type == G_UNICODE_CLOSE_PUNCTUATION || type == G_UNICODE_FINAL_PUNCTUATION;
}

/* A break before an ideograph is a word boundary in scripts written without spaces. */
static gboolean
is_ideograph (gunichar c)
{
  return c >= 0x2E80 && g_unichar_break_type (c) == G_UNICODE_BREAK_IDEOGRAPHIC;
}

/* After the sentence ending at @p (just past its terminator): the end of the sentence with
 * its closing quotes, or NULL when @p is no sentence end. *@closers counts the quotes. */
static const char *
sentence_end_after (gunichar terminator, const char *p, const char *end, guint *closers)
{
  *closers = 0;
  while (p < end && is_closer (g_utf8_get_char (p))) {
    p = g_utf8_next_char (p);
    (*closers)++;
  }
  if (p == end || is_wide_sentence_end (terminator) || g_unichar_isspace (g_utf8_get_char (p)))
    return p;
  return NULL;
}

/* Walks up to @target characters from @start; returns where the window ends and fills the
 * last cut of each kind that lies far enough in to make a chunk worth having. */
static const char *
scan_window (const char *start, const char *end, guint target, Cuts *cuts)
{
  const char *p = start;
  guint n = 0;

  *cuts = (Cuts){ -1, -1, -1 };
  while (n < target && p < end) {
    gunichar c = g_utf8_get_char (p);
    const char *next = g_utf8_next_char (p);
    gboolean past_half = n >= target / 2;
    if (c == '\n' && next < end && *next == '\n' && past_half)
      cuts->paragraph = p - start;
    else if ((g_unichar_isspace (c) || is_ideograph (c)) && n >= target / 4 && p > start)
      cuts->word = p - start;
    guint closers = 0;
    const char *after
        = is_sentence_end (c) && past_half ? sentence_end_after (c, next, end, &closers) : NULL;
    if (after != NULL && n + 1 + closers <= target)
      cuts->sentence = after - start;
    p = next;
    n++;
  }
  return p;
}

static const char *
skip_space (const char *p, const char *end)
{
  while (p < end && g_unichar_isspace (g_utf8_get_char (p)))
    p = g_utf8_next_char (p);
  return p;
}

static gboolean
emit (Chunking *chunking, const char *start, const char *stop, GError **error)
{
  start = skip_space (start, stop);
  while (stop > start) {
    const char *prev = g_utf8_prev_char (stop);
    if (!g_unichar_isspace (g_utf8_get_char (prev)))
      break;
    stop = prev;
  }
  if (stop == start)
    return TRUE;
  guint max = chunking->options->max_chunks;
  if (max != 0 && chunking->chunks->len >= max) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE,
                 _ ("The document makes more than %u chunks, the limit for one document ([limits] "
                    "max_chunks_per_document); split it into smaller files or raise the limit"),
                 max);
    return FALSE;
  }
  SrChunk *chunk = g_new0 (SrChunk, 1);
  chunk->ordinal = chunking->chunks->len;
  chunk->text = g_strndup (start, stop - start);
  chunk->page = chunking->section->page;
  chunk->heading = g_strdup (chunking->section->heading != NULL ? chunking->section->heading : "");
  g_ptr_array_add (chunking->chunks, chunk);
  return TRUE;
}

/* Where the next chunk starts so that it repeats up to overlap_chars of the previous one:
 * at the first sentence start in that tail, else the first word start, else mid-word. */
static const char *
overlap_start (const char *floor, const char *cut, guint overlap)
{
  const char *tail = cut;
  for (guint i = 0; i < overlap && tail > floor; i++)
    tail = g_utf8_prev_char (tail);

  const char *word = NULL;
  gunichar last = 0; /* the last character that was neither space nor closing quote */
  gboolean after_space = FALSE;
  gboolean after_newline = FALSE;
  for (const char *p = tail; p < cut; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (g_unichar_isspace (c)) {
      after_space = TRUE;
      after_newline |= c == '\n';
      continue;
    }
    if (p > tail) {
      if ((after_space && (after_newline || is_sentence_end (last))) || is_wide_sentence_end (last))
        return p;
      if (word == NULL && (after_space || is_ideograph (c)))
        word = p;
    }
    if (!is_closer (c))
      last = c;
    after_space = after_newline = FALSE;
  }
  return word != NULL ? word : tail;
}

static gboolean
chunk_section (Chunking *chunking, GError **error)
{
  const char *text = chunking->section->text;
  const char *end = text + strlen (text);
  guint target = chunking->options->target_chars;
  const char *start = skip_space (text, end);

  while (start < end) {
    Cuts cuts;
    const char *window_end = scan_window (start, end, target, &cuts);
    if (window_end == end)
      return emit (chunking, start, end, error);
    gssize cut = cuts.paragraph >= 0  ? cuts.paragraph
                 : cuts.sentence >= 0 ? cuts.sentence
                 : cuts.word >= 0     ? cuts.word
                                      : window_end - start;
    const char *stop = start + cut;
    if (!emit (chunking, start, stop, error))
      return FALSE;
    const char *next = overlap_start (start, stop, chunking->options->overlap_chars);
    next = skip_space (next, end);
    start = next > start ? next : skip_space (stop, end);
  }
  return TRUE;
}

static gboolean
check_options (const SrChunkOptions *options, GError **error)
{
  if (options->target_chars == 0 || options->overlap_chars >= options->target_chars) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("Invalid chunk sizes: the overlap (%u characters) must be smaller than the "
                    "chunk size (%u characters)"),
                 options->overlap_chars, options->target_chars);
    return FALSE;
  }
  return TRUE;
}

GPtrArray *
sr_chunk_document (const SrExtracted *document, const SrChunkOptions *options, GError **error)
{
  static const SrChunkOptions defaults = SR_CHUNK_OPTIONS_DEFAULT;
  if (options == NULL)
    options = &defaults;
  if (!check_options (options, error))
    return NULL;

  g_autoptr (GPtrArray) chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) sr_chunk_free);
  Chunking chunking = { options, NULL, chunks };
  for (guint i = 0; i < document->sections->len; i++) {
    chunking.section = document->sections->pdata[i];
    if (!g_utf8_validate (chunking.section->text, -1, NULL)) {
      g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                   _ ("Cannot chunk section %u of the document: its text is not valid UTF-8"),
                   i + 1);
      return NULL;
    }
    if (!chunk_section (&chunking, error))
      return NULL;
  }
  return g_steal_pointer (&chunks);
}
