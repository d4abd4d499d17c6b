/* Unit tests for the chunker: sizes, overlap, boundaries, Unicode, limits and speed. */
#include "ingest/chunker.h"
#include "ingest/readers.h"

#include <string.h>

#include "common/errors.h"

static SrExtracted *
document_of (const char *const *texts, const char *const *headings)
{
  SrExtracted *document = sr_extracted_new (SR_FORMAT_TEXT);
  for (guint i = 0; texts[i] != NULL; i++)
    g_ptr_array_add (document->sections,
                     sr_section_new (texts[i], i + 1, headings != NULL ? headings[i] : ""));
  return document;
}

static GPtrArray *
chunk_ok (const SrExtracted *document, guint target, guint overlap)
{
  SrChunkOptions options = { target, overlap, 0 };
  g_autoptr (GError) error = NULL;
  GPtrArray *chunks = sr_chunk_document (document, &options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (chunks);
  for (guint i = 0; i < chunks->len; i++) {
    SrChunk *chunk = chunks->pdata[i];
    g_assert_cmpuint (chunk->ordinal, ==, i);
    g_assert_true (g_utf8_validate (chunk->text, -1, NULL));
    g_assert_cmpint (g_utf8_strlen (chunk->text, -1), <=, target);
    g_assert_cmpint (g_utf8_strlen (chunk->text, -1), >, 0);
    g_assert_false (g_unichar_isspace (g_utf8_get_char (chunk->text)));
  }
  return chunks;
}

static char *
sentences (guint count)
{
  GString *text = g_string_new (NULL);
  for (guint i = 0; i < count; i++) {
    g_string_append_printf (text, "Sentence %u talks about topic %u.", i, i % 7);
    g_string_append (text, i % 9 == 8 ? "\n\n" : " ");
  }
  return g_string_free (text, FALSE);
}

static void
test_sizes_and_overlap (void)
{
  g_autofree char *text = sentences (400);
  const char *texts[] = { text, NULL };
  g_autoptr (SrExtracted) document = document_of (texts, NULL);
  g_autoptr (GPtrArray) chunks = chunk_ok (document, 300, 60);
  g_assert_cmpuint (chunks->len, >, 30);
  for (guint i = 0; i + 1 < chunks->len; i++) {
    SrChunk *chunk = chunks->pdata[i];
    SrChunk *next = chunks->pdata[i + 1];
    /* Cut at the earliest after half the window, so never tiny. */
    g_assert_cmpint (g_utf8_strlen (chunk->text, -1), >=, 300 / 4);
    /* The next chunk repeats a whole sentence or more from the end of this one. */
    g_autofree char *head = g_strndup (next->text, 15);
    g_assert_nonnull (strstr (chunk->text, head));
    g_assert_true (g_str_has_prefix (next->text, "Sentence "));
    g_assert_true (g_str_has_suffix (chunk->text, "."));
  }
}

static void
test_paragraph_preferred (void)
{
  /* Two paragraphs that fit together split where the paragraph ends, not mid-sentence. */
  g_autoptr (GString) text = g_string_new (NULL);
  for (guint i = 0; i < 12; i++)
    g_string_append (text, "Alpha beta gamma. ");
  g_string_append (text, "\n\n");
  for (guint i = 0; i < 12; i++)
    g_string_append (text, "Delta epsilon zeta. ");
  const char *texts[] = { text->str, NULL };
  g_autoptr (SrExtracted) document = document_of (texts, NULL);
  g_autoptr (GPtrArray) chunks = chunk_ok (document, 300, 0);
  g_assert_cmpuint (chunks->len, ==, 2);
  g_assert_null (strstr (((SrChunk *) chunks->pdata[0])->text, "Delta"));
  g_assert_null (strstr (((SrChunk *) chunks->pdata[1])->text, "Alpha"));
}

static void
test_sections_kept_apart (void)
{
  g_autofree char *long_text = sentences (60);
  const char *texts[] = { "Short one.", long_text, "   \n\n  ", "Last words.", NULL };
  const char *headings[] = { "A", "A > B", "C", "D", NULL };
  g_autoptr (SrExtracted) document = document_of (texts, headings);
  g_autoptr (GPtrArray) chunks = chunk_ok (document, 500, 100);
  SrChunk *first = chunks->pdata[0];
  SrChunk *last = chunks->pdata[chunks->len - 1];
  g_assert_cmpstr (first->text, ==, "Short one.");
  g_assert_cmpstr (first->heading, ==, "A");
  g_assert_cmpuint (first->page, ==, 1);
  g_assert_cmpstr (last->text, ==, "Last words.");
  g_assert_cmpstr (last->heading, ==, "D");
  g_assert_cmpuint (last->page, ==, 4);
  for (guint i = 1; i + 1 < chunks->len; i++) {
    SrChunk *chunk = chunks->pdata[i];
    g_assert_cmpstr (chunk->heading, ==, "A > B");
    g_assert_cmpuint (chunk->page, ==, 2);
    g_assert_null (strstr (chunk->text, "Short"));
  }
}

static void
test_cjk (void)
{
  g_autoptr (GString) text = g_string_new (NULL);
  for (guint i = 0; i < 200; i++)
    g_string_append (text, i % 2 ? "これは日本語の文です。" : "我们在测试中文句子！");
  const char *texts[] = { text->str, NULL };
  g_autoptr (SrExtracted) document = document_of (texts, NULL);
  g_autoptr (GPtrArray) chunks = chunk_ok (document, 100, 20);
  g_assert_cmpuint (chunks->len, >, 20);
  for (guint i = 0; i + 1 < chunks->len; i++) {
    const char *chunk = ((SrChunk *) chunks->pdata[i])->text;
    g_assert_true (g_str_has_suffix (chunk, "。") || g_str_has_suffix (chunk, "！"));
    const char *next = ((SrChunk *) chunks->pdata[i + 1])->text;
    g_assert_true (g_str_has_prefix (next, "これ") || g_str_has_prefix (next, "我们"));
  }
}

static void
test_single_long_word (void)
{
  g_autoptr (GString) text = g_string_new (NULL);
  for (guint i = 0; i < 50000; i++)
    g_string_append (text, i % 3 ? "é" : "ß");
  const char *texts[] = { text->str, NULL };
  g_autoptr (SrExtracted) document = document_of (texts, NULL);
  g_autoptr (GPtrArray) chunks = chunk_ok (document, 1000, 150);
  /* Hard cuts: every chunk but the last is full, and the overlap is exact. */
  g_assert_cmpuint (chunks->len, ==, (50000 - 150 + 849) / 850);
  glong covered = 0;
  for (guint i = 0; i < chunks->len; i++) {
    glong length = g_utf8_strlen (((SrChunk *) chunks->pdata[i])->text, -1);
    if (i + 1 < chunks->len)
      g_assert_cmpint (length, ==, 1000);
    covered += length - (i > 0 ? 150 : 0);
  }
  g_assert_cmpint (covered, ==, 50000);
}

static void
test_empty_and_limits (void)
{
  g_autoptr (SrExtracted) empty = sr_extracted_new (SR_FORMAT_TEXT);
  g_autoptr (GPtrArray) none = chunk_ok (empty, 1000, 150);
  g_assert_cmpuint (none->len, ==, 0);

  g_autofree char *text = sentences (400);
  const char *texts[] = { text, NULL };
  g_autoptr (SrExtracted) document = document_of (texts, NULL);
  SrChunkOptions few = { 200, 20, 5 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) chunks = sr_chunk_document (document, &few, &error);
  g_assert_null (chunks);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE);
  g_clear_error (&error);

  SrChunkOptions bad = { 100, 100, 0 };
  g_assert_null (sr_chunk_document (document, &bad, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  /* NULL options: the defaults. */
  g_autoptr (GPtrArray) defaults = sr_chunk_document (document, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < defaults->len; i++)
    g_assert_cmpint (g_utf8_strlen (((SrChunk *) defaults->pdata[i])->text, -1), <=, 1000);
}

static void
test_throughput (void)
{
  g_autoptr (GString) raw = g_string_new (NULL);
  g_autoptr (GRand) rand = g_rand_new_with_seed (3);
  static const char *const words[]
      = { "index", "über", "document", "search", "naïve", "chunk", "vector", "the", "a", "system" };
  while (raw->len < 8 << 20) {
    g_string_append (raw, words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
    guint r = g_rand_int_range (rand, 0, 100);
    g_string_append (raw, r < 6 ? ". " : r < 7 ? ".\n\n" : " ");
  }
  SrExtractLimits limits = { 0, 0, 0 };
  gint64 start = g_get_monotonic_time ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) document
      = sr_read_document (SR_FORMAT_TEXT, (const guint8 *) raw->str, raw->len, &limits, &error);
  g_assert_no_error (error);
  gint64 read_done = g_get_monotonic_time ();
  g_autoptr (GPtrArray) chunks = sr_chunk_document (document, NULL, &error);
  g_assert_no_error (error);
  gint64 chunk_done = g_get_monotonic_time ();

  double mb = raw->len / 1e6;
  double read_rate = mb / ((read_done - start + 1) / 1e6);
  double chunk_rate = mb / ((chunk_done - read_done + 1) / 1e6);
  g_test_message ("%.1f MB of text: reading %.0f MB/s, chunking %.0f MB/s into %u chunks", mb,
                  read_rate, chunk_rate, chunks->len);
  g_assert_cmpuint (chunks->len, >, raw->len / 1000);
  /* Far below what it does unsanitised; a quadratic slip would land well under it. */
  g_assert_cmpfloat (chunk_rate, >, 2.0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/chunker/sizes-and-overlap", test_sizes_and_overlap);
  g_test_add_func ("/chunker/paragraph-preferred", test_paragraph_preferred);
  g_test_add_func ("/chunker/sections-kept-apart", test_sections_kept_apart);
  g_test_add_func ("/chunker/cjk", test_cjk);
  g_test_add_func ("/chunker/single-long-word", test_single_long_word);
  g_test_add_func ("/chunker/empty-and-limits", test_empty_and_limits);
  g_test_add_func ("/chunker/throughput", test_throughput);
  return g_test_run ();
}
