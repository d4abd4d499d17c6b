/* Unit tests for the chunker: sizes, overlap, boundaries, Unicode, limits, output and speed. */
#include "ingest/chunker.h"
#include "ingest/readers.h"

#include <string.h>

#include "common/errors.h"
#include "varied-text.h"

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

/* Pinned output: each case's chunks under several sizes, digested. Chunks are stored and
 * their vectors depend on them, so a change that moves any chunk must be deliberate; when
 * one is, print the new digests with --verbose and pin them. */

static void
add_section (SrExtracted *document, const GString *text, guint page, const char *heading)
{
  g_ptr_array_add (document->sections, sr_section_new (text->str, page, heading));
}

static void
add_prose_section (SrExtracted *document, SrTestRandom *random, const SrTestScript *script,
                   gsize bytes, gboolean with_ends, guint page, const char *heading)
{
  g_autoptr (GString) text = g_string_new (NULL);
  sr_test_append_prose (text, random, script, bytes, with_ends);
  add_section (document, text, page, heading);
}

static void
build_ascii (SrExtracted *document, SrTestRandom *random)
{
  add_prose_section (document, random, &sr_test_ascii, 60000, TRUE, 0, "");
}

static void
build_markdown (SrExtracted *document, SrTestRandom *random)
{
  static const char *const headings[]
      = { "Guide", "Guide > Install", "Guide > Install > Debian",  "Guide > Use",
          "",      "Reference > API", "Reference > API > embed()", "Ünïcödé > 見出し",
          NULL };
  static const char *const blocks[] = {
    "- first item\n- second item\n  - nested item\n\n",
    "```\nint main (void) { return 0; }\n```\n\n",
    "| key | value |\n|-----|-------|\n| a   | 1.5   |\n\n",
    "1. Install it.\n2. Run it!\n3. Done?\n\n",
    "> A quoted line. Another one.\n\n",
    "**Bold** and _emphasis_ and `code.` here\n",
    NULL,
  };
  for (guint i = 0; headings[i] != NULL; i++) {
    g_autoptr (GString) text = g_string_new (NULL);
    guint parts = 1 + sr_test_random_below (random, 6);
    for (guint p = 0; p < parts; p++) {
      sr_test_append_prose (text, random, &sr_test_ascii, sr_test_random_below (random, 3000),
                            TRUE);
      g_string_append (text, "\n\n");
      g_string_append (text, sr_test_random_pick (random, blocks));
    }
    add_section (document, text, 0, headings[i]);
  }
}

static void
build_accents (SrExtracted *document, SrTestRandom *random)
{
  add_prose_section (document, random, &sr_test_latin, 20000, TRUE, 1, "Première");
  add_prose_section (document, random, &sr_test_latin, 20000, TRUE, 2, "Zweite");
  add_prose_section (document, random, &sr_test_latin, 20000, TRUE, 3, "Третья");
}

static void
build_combining (SrExtracted *document, SrTestRandom *random)
{
  add_prose_section (document, random, &sr_test_combining, 20000, TRUE, 0, "");
}

static void
build_cjk (SrExtracted *document, SrTestRandom *random)
{
  add_prose_section (document, random, &sr_test_cjk, 30000, TRUE, 1, "第一章");
  add_prose_section (document, random, &sr_test_cjk, 10000, FALSE, 2, "第二章");
}

static void
build_rtl (SrExtracted *document, SrTestRandom *random)
{
  add_prose_section (document, random, &sr_test_rtl, 30000, TRUE, 0, "مقدمة");
}

static void
build_emoji (SrExtracted *document, SrTestRandom *random)
{
  add_prose_section (document, random, &sr_test_emoji, 20000, TRUE, 0, "🙂");
}

static void
build_long_words (SrExtracted *document, SrTestRandom *random)
{
  static const struct {
    const char *unit;
    guint count;
  } words[] = {
    { "abc", 5000 }, { "é", 3000 }, { "😀", 1500 }, { "👩\u200d💻", 400 }, { "a\u0301", 2000 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (words); i++) {
    g_autoptr (GString) text = g_string_new (NULL);
    sr_test_append_long_word (text, words[i].unit, words[i].count);
    add_section (document, text, i, "");
  }
  g_autoptr (GString) text = g_string_new (NULL);
  sr_test_append_prose (text, random, &sr_test_ascii, 2000, TRUE);
  sr_test_append_long_word (text, "xy", 1500);
  g_string_append (text, " ");
  sr_test_append_prose (text, random, &sr_test_ascii, 2000, TRUE);
  sr_test_append_long_word (text, "z", 900);
  add_section (document, text, 9, "after");
}

static void
build_blank (SrExtracted *document, SrTestRandom *random)
{
  static const char *const texts[]
      = { "", " ", "\n\n\n", "\t \n \u00a0\u3000 \u2028 \r\n", "x", "", " \f ", "\v", NULL };
  for (guint i = 0; texts[i] != NULL; i++)
    g_ptr_array_add (document->sections, sr_section_new (texts[i], i, i % 2 ? "blank" : ""));
}

static void
build_short_paragraphs (SrExtracted *document, SrTestRandom *random)
{
  g_autoptr (GString) text = g_string_new (NULL);
  for (guint i = 0; i < 4000; i++) {
    guint words = 1 + sr_test_random_below (random, 3);
    for (guint w = 0; w < words; w++)
      g_string_append_printf (text, "%s%s", w > 0 ? " " : "",
                              sr_test_random_pick (random, sr_test_ascii_words));
    if (sr_test_random_below (random, 2))
      g_string_append (text, sr_test_random_pick (random, sr_test_ascii_terminators));
    g_string_append (text, sr_test_random_below (random, 4) ? "\n\n" : "\n\n\n");
  }
  add_section (document, text, 0, "");
}

static void
build_no_sentence_end (SrExtracted *document, SrTestRandom *random)
{
  add_prose_section (document, random, &sr_test_ascii, 30000, FALSE, 0, "");
  add_prose_section (document, random, &sr_test_latin, 10000, FALSE, 0, "");
  add_prose_section (document, random, &sr_test_cjk, 10000, FALSE, 0, "");
}

static void
build_mixed (SrExtracted *document, SrTestRandom *random)
{
  for (guint i = 0; i < 4; i++) {
    g_autoptr (GString) text = g_string_new (NULL);
    sr_test_append_mixed (text, random, 5000 + sr_test_random_below (random, 20000));
    add_section (document, text, i, i % 2 ? "mixed" : "");
  }
}

static const SrChunkOptions digest_options[] = {
  { 1000, 150, 0 }, { 300, 60, 0 }, { 100, 20, 0 }, { 64, 0, 0 },
  { 7, 3, 0 },      { 1, 0, 0 },    { 40, 39, 0 },  { 100, 20, 5 },
};

static char *
chunks_digest (const SrExtracted *document)
{
  g_autoptr (GChecksum) digest = g_checksum_new (G_CHECKSUM_SHA256);
  for (guint o = 0; o < G_N_ELEMENTS (digest_options); o++) {
    const SrChunkOptions *options = &digest_options[o];
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) chunks = sr_chunk_document (document, options, &error);
    sr_test_digest_uint (digest, options->target_chars);
    sr_test_digest_uint (digest, options->overlap_chars);
    sr_test_digest_uint (digest, options->max_chunks);
    if (chunks == NULL) {
      g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE);
      sr_test_digest_string (digest, "too large");
      continue;
    }
    sr_test_digest_uint (digest, chunks->len);
    for (guint i = 0; i < chunks->len; i++) {
      const SrChunk *chunk = chunks->pdata[i];
      sr_test_digest_uint (digest, chunk->ordinal);
      sr_test_digest_uint (digest, chunk->page);
      sr_test_digest_string (digest, chunk->heading);
      sr_test_digest_string (digest, chunk->text);
    }
  }
  return g_strdup (g_checksum_get_string (digest));
}

static void
test_digests (void)
{
  static const struct {
    const char *name;
    void (*build) (SrExtracted *document, SrTestRandom *random);
    const char *sha256;
  } cases[] = {
    { "ascii", build_ascii, "968985e7f21626a1ca9cd7150da4a1d23fe0da0f48033fc3afc4edbaf8426c56" },
    { "markdown", build_markdown,
      "5e2934e2356dc9fbbff1cb4ce6658d85250ebe72cf838cf1bedaf1575599fbf9" },
    { "accents", build_accents,
      "bd3b672859092265f084444014b51559235fef720c18e8a786c766ec638dc473" },
    { "combining", build_combining,
      "5fd9e9917d1fabecd995d030e9d69fc2ed631c5cab26ad59083ded10c81ae125" },
    { "cjk", build_cjk, "0c7fc366f9c09e37a70b36ad15a23eee5375a16fcef9c5da71d9e0a9838f7f26" },
    { "rtl", build_rtl, "03b0f29194472fe1372064d81f8b3078d41326843353e559dff430aac487ad70" },
    { "emoji", build_emoji, "e20af5e90424175fee84d0a9d75ca5b4e31b8549f2f89e6642c272911a171616" },
    { "long-words", build_long_words,
      "b584043aa2aff9542d667bc30aa9405fe8b09b8064dee7587fe15eeb97c946e0" },
    { "blank", build_blank, "51c3077d27712766e8e16b5ce3d6d0f6da8c89d845aae8c762475bfdd9e7371c" },
    { "short-paragraphs", build_short_paragraphs,
      "20cc5e5d23de811932aaa86b1de411254748978972e9657c6cd03ee39f1dfe9b" },
    { "no-sentence-end", build_no_sentence_end,
      "d391674456b01019cf7841de85bc31ded7a5ec4baaaf589063b755f0dc62cb84" },
    { "mixed", build_mixed, "f3f01756364d1e3ec61f33be08c095c737431097d9f015976b17cf0301695b6f" },
  };
  guint failed = 0;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    SrTestRandom random = { i + 1 };
    g_autoptr (SrExtracted) document = sr_extracted_new (SR_FORMAT_TEXT);
    cases[i].build (document, &random);
    g_autofree char *sha256 = chunks_digest (document);
    g_test_message ("%s %s", cases[i].name, sha256);
    failed += g_strcmp0 (sha256, cases[i].sha256) != 0;
  }
  g_assert_cmpuint (failed, ==, 0);
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
  g_test_add_func ("/chunker/digests", test_digests);
  g_test_add_func ("/chunker/throughput", test_throughput);
  return g_test_run ();
}
