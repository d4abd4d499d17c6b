/* The chunker: sections into chunks of about target_chars, cut at the best boundary near. */
#define _GNU_SOURCE /* memrchr */
#include "ingest/chunker.h"

#include <glib/gi18n.h>
#include <string.h>

#include "common/errors.h"
#include "common/unichar.h"

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

/* The kinds of character the chunker asks about. */
enum {
  CLASS_SPACE = 1 << 0,        /* g_unichar_isspace() */
  CLASS_SENTENCE_END = 1 << 1, /* sr_unichar_ends_sentence() */
  CLASS_CLOSER = 1 << 2,       /* sr_unichar_closes() */
  CLASS_IDEOGRAPH = 1 << 3,    /* sr_unichar_is_ideograph() */
};
/* A character of none of these kinds cannot be a cut, so windows skip it at once. */
#define CLASS_CUTS (CLASS_SPACE | CLASS_SENTENCE_END | CLASS_IDEOGRAPH)

static guint8
classify (gunichar c)
{
  return (g_unichar_isspace (c) ? CLASS_SPACE : 0)
         | (sr_unichar_ends_sentence (c) ? CLASS_SENTENCE_END : 0)
         | (sr_unichar_closes (c) ? CLASS_CLOSER : 0)
         | (sr_unichar_is_ideograph (c) ? CLASS_IDEOGRAPH : 0);
}

/* GLib's answers for the Basic Multilingual Plane, asked once per process (under a
 * millisecond) instead of several times for every character of every window, which was
 * most of the chunker's time. The table holds nothing but those answers, so the chunks
 * stay exactly what asking each time gave. */
static guint8 bmp_classes[0x10000];

static void
ensure_classes (void)
{
  static gsize ready = 0;
  if (!g_once_init_enter (&ready))
    return;
  for (gunichar c = 0; c < G_N_ELEMENTS (bmp_classes); c++)
    bmp_classes[c] = classify (c);
  g_once_init_leave (&ready, 1);
}

static inline guint8
class_of (gunichar c)
{
  return c < G_N_ELEMENTS (bmp_classes) ? bmp_classes[c] : classify (c);
}

static inline gboolean
is_space (gunichar c)
{
  return (class_of (c) & CLASS_SPACE) != 0;
}

static inline gboolean
is_closer (gunichar c)
{
  return (class_of (c) & CLASS_CLOSER) != 0;
}

static inline gboolean
is_ideograph (gunichar c)
{
  return (class_of (c) & CLASS_IDEOGRAPH) != 0;
}

/* The character at *@p, moving *@p past it. Sections are validated before they are
 * chunked, so this decodes without the checks g_utf8_get_char() makes. */
static inline gunichar
next_char (const char **p)
{
  const guchar *s = (const guchar *) *p;
  if (s[0] < 0x80) {
    *p += 1;
    return s[0];
  }
  if (s[0] < 0xE0) {
    *p += 2;
    return (gunichar) (s[0] & 0x1F) << 6 | (s[1] & 0x3F);
  }
  if (s[0] < 0xF0) {
    *p += 3;
    return (gunichar) (s[0] & 0x0F) << 12 | (gunichar) (s[1] & 0x3F) << 6 | (s[2] & 0x3F);
  }
  *p += 4;
  return (gunichar) (s[0] & 0x07) << 18 | (gunichar) (s[1] & 0x3F) << 12
         | (gunichar) (s[2] & 0x3F) << 6 | (s[3] & 0x3F);
}

static inline gunichar
char_at (const char *p)
{
  return next_char (&p);
}

/* Where the character before @p starts. */
static inline const char *
prev_char (const char *p)
{
  do
    p--;
  while (((guchar) *p & 0xC0) == 0x80);
  return p;
}

/* After the sentence ending at @p (just past its terminator): the end of the sentence with
 * its closing quotes, or NULL when @p is no sentence end. *@closers counts the quotes. */
static const char *
sentence_end_after (gunichar terminator, const char *p, const char *end, guint *closers)
{
  *closers = 0;
  while (p < end && is_closer (char_at (p))) {
    next_char (&p);
    (*closers)++;
  }
  if (p == end || sr_unichar_ends_sentence_wide (terminator) || is_space (char_at (p)))
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
    const char *next = p;
    gunichar c = next_char (&next);
    guint8 class = class_of (c);
    if ((class & CLASS_CUTS) == 0) {
      p = next;
      n++;
      continue;
    }
    gboolean past_half = n >= target / 2;
    if (c == '\n' && next < end && *next == '\n' && past_half)
      cuts->paragraph = p - start;
    else if ((class & (CLASS_SPACE | CLASS_IDEOGRAPH)) && n >= target / 4 && p > start)
      cuts->word = p - start;
    guint closers = 0;
    const char *after = (class & CLASS_SENTENCE_END) && past_half
                            ? sentence_end_after (c, next, end, &closers)
                            : NULL;
    if (after != NULL && n + 1 + closers <= target)
      cuts->sentence = after - start;
    p = next;
    n++;
  }
  return p;
}

/* Eight bytes at a time: it is asked of every window. */
static gboolean
is_all_ascii (const char *p, gsize length)
{
  gsize i = 0;
  for (; i + sizeof (guint64) <= length; i += sizeof (guint64)) {
    guint64 bytes;
    memcpy (&bytes, p + i, sizeof bytes);
    if (bytes & G_GUINT64_CONSTANT (0x8080808080808080))
      return FALSE;
  }
  for (; i < length; i++)
    if ((guchar) p[i] >= 0x80)
      return FALSE;
  return TRUE;
}

/* What scan_window() finds, for the window of most text: all ASCII, and not the last of
 * its section. A character is then a byte, so the last cut of a kind is the first one met
 * going back from the window's end, and the kinds can be looked for one after the other
 * in the order chunk_section() prefers them; walking forward weighed every space on the
 * way, which was most of the chunker's time. Fills only the cut that will be taken (with
 * no paragraph cut, no space was taken for one, so any space may be the word cut); NULL
 * when the window is not of that kind. */
static const char *
scan_ascii_window (const char *start, const char *end, guint target, Cuts *cuts)
{
  if ((gsize) (end - start) <= target || !is_all_ascii (start, target))
    return NULL;

  const char *window_end = start + target;
  const char *half = start + target / 2;
  *cuts = (Cuts){ -1, -1, -1 };
  for (const char *p = window_end; (p = memrchr (half, '\n', p - half)) != NULL;) {
    if (p + 1 < end && p[1] == '\n') {
      cuts->paragraph = p - start;
      return window_end;
    }
  }
  for (const char *p = window_end; p > half;) {
    p--;
    if (!(bmp_classes[(guchar) *p] & CLASS_SENTENCE_END))
      continue;
    guint closers = 0;
    const char *after = sentence_end_after ((guchar) *p, p + 1, end, &closers);
    if (after != NULL && (gsize) (p - start) + 1 + closers <= target) {
      cuts->sentence = after - start;
      return window_end;
    }
  }
  for (const char *p = window_end; p > start + MAX (target / 4, 1);) {
    p--;
    if (bmp_classes[(guchar) *p] & CLASS_SPACE) {
      cuts->word = p - start;
      return window_end;
    }
  }
  return window_end;
}

static const char *
skip_space (const char *p, const char *end)
{
  while (p < end) {
    const char *next = p;
    if (!is_space (next_char (&next)))
      break;
    p = next;
  }
  return p;
}

static gboolean
emit (Chunking *chunking, const char *start, const char *stop, GError **error)
{
  start = skip_space (start, stop);
  while (stop > start) {
    const char *prev = prev_char (stop);
    if (!is_space (char_at (prev)))
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
    tail = prev_char (tail);

  const char *word = NULL;
  gunichar last = 0; /* the last character that was neither space nor closing quote */
  gboolean after_space = FALSE;
  gboolean after_newline = FALSE;
  for (const char *p = tail, *next = tail; p < cut; p = next) {
    gunichar c = next_char (&next);
    if (is_space (c)) {
      after_space = TRUE;
      after_newline |= c == '\n';
      continue;
    }
    if (p > tail) {
      if ((after_space && (after_newline || sr_unichar_ends_sentence (last)))
          || sr_unichar_ends_sentence_wide (last))
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
    const char *window_end = scan_ascii_window (start, end, target, &cuts);
    if (window_end == NULL)
      window_end = scan_window (start, end, target, &cuts);
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
  ensure_classes ();

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
