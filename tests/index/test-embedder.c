/* Unit tests for embed/: the builtin embedder's vectors and the interface's checks. */
#include "embed/embedder.h"

#include <math.h>
#include <string.h>

#include "common/errors.h"
#include "varied-text.h"

#define DIMS SR_EMBEDDER_BUILTIN_DEFAULT_DIMENSIONS

static float *
embed_one (SrEmbedder *embedder, const char *text)
{
  g_autoptr (GError) error = NULL;
  float *vector = g_new (float, embedder->dimensions);
  const char *texts[] = { text };

  g_assert_true (sr_embedder_embed (embedder, texts, 1, vector, NULL, &error));
  g_assert_no_error (error);
  return vector;
}

static double
dot (const float *a, const float *b, guint n)
{
  double sum = 0.0;
  for (guint i = 0; i < n; i++)
    sum += (double) a[i] * b[i];
  return sum;
}

static void
test_defaults (void)
{
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (0);

  g_assert_cmpuint (embedder->dimensions, ==, 384);
  g_assert_cmpstr (embedder->klass->name, ==, "builtin");
  g_assert_nonnull (embedder->model);
  g_assert_cmpstr (embedder->model, !=, "");
}

static void
test_deterministic (void)
{
  const char *text = "Hybrid retrieval fuses BM25 with vector search; rankings are fused.";
  g_autoptr (SrEmbedder) one = sr_embedder_builtin_new (DIMS);
  g_autoptr (SrEmbedder) two = sr_embedder_builtin_new (DIMS);
  g_autofree float *a = embed_one (one, text);
  g_autofree float *b = embed_one (one, text);
  g_autofree float *c = embed_one (two, text);

  g_assert_cmpmem (a, DIMS * sizeof (float), b, DIMS * sizeof (float));
  g_assert_cmpmem (a, DIMS * sizeof (float), c, DIMS * sizeof (float));

  /* Pinned values: if this fails, vectors changed and BUILTIN_MODEL must be bumped so
   * that stored vectors are re-embedded. */
  double fingerprint = 0.0;
  guint nonzero = 0;
  for (guint i = 0; i < DIMS; i++) {
    fingerprint += a[i] * (double) (i + 1);
    nonzero += a[i] != 0.0f;
  }
  g_test_message ("fingerprint %.6f, %u non-zero components", fingerprint, nonzero);
  g_assert_cmpfloat_with_epsilon (fingerprint, 244.4358, 1e-3);
  g_assert_cmpuint (nonzero, ==, 111);
}

static void
test_unit_length (void)
{
  static const char *const texts[] = {
    "a",
    "Hello, world!",
    "the the the the the the the the",
    "Ein längerer deutscher Satz über Straßenbahnen und Größenordnungen.",
    "東京は日本の首都です。",
    "x1 y2 z3 42 3.14159 2024-01-01",
  };
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (DIMS);

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++) {
    g_autofree float *v = embed_one (embedder, texts[i]);
    g_test_message ("text %u", i);
    g_assert_cmpfloat_with_epsilon (dot (v, v, DIMS), 1.0, 1e-5);
  }
}

static void
test_similar_closer (void)
{
  static const struct {
    const char *text, *similar, *unrelated;
  } cases[] = {
    { "The cat sat on the mat in the kitchen.", "A cat was sitting on a mat in our kitchen.",
      "Quarterly revenue grew by four percent in Europe." },
    { "How do I reset my password?", "Resetting a forgotten password: step by step.",
      "The river flooded the valley after heavy rain." },
    { "indexing documents for search", "the document index searches quickly",
      "bananas are yellow fruit" },
  };
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (DIMS);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree float *a = embed_one (embedder, cases[i].text);
    g_autofree float *b = embed_one (embedder, cases[i].similar);
    g_autofree float *c = embed_one (embedder, cases[i].unrelated);
    double near = dot (a, b, DIMS), far = dot (a, c, DIMS);
    g_test_message ("case %u: similar %.3f, unrelated %.3f", i, near, far);
    g_assert_cmpfloat (near, >, far + 0.2);
  }
}

static void
test_folding (void)
{
  static const char *const same[][3] = {
    { "Café crème", "cafe creme", "CAFÉ CRÈME" },
    { "naïve résumé", "naive resume", "NAÏVE RÉSUMÉ" },
    { "Straße", "STRASSE", "strasse" },
    { "ﬁle", "file", "FILE" }, /* a ligature decomposes */
  };
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (DIMS);

  for (guint i = 0; i < G_N_ELEMENTS (same); i++) {
    g_autofree float *a = embed_one (embedder, same[i][0]);
    g_autofree float *b = embed_one (embedder, same[i][1]);
    g_autofree float *c = embed_one (embedder, same[i][2]);
    g_test_message ("case %u", i);
    g_assert_cmpmem (a, DIMS * sizeof (float), b, DIMS * sizeof (float));
    g_assert_cmpmem (a, DIMS * sizeof (float), c, DIMS * sizeof (float));
  }
  /* Folding must not merge different words. */
  g_autofree float *x = embed_one (embedder, "cafe");
  g_autofree float *y = embed_one (embedder, "cave");
  g_assert_cmpfloat (dot (x, y, DIMS), <, 0.9);
}

static void
test_empty (void)
{
  static const char *const texts[] = { "", "   ", ",.;:!? -- ...", "\n\t\n" };
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (DIMS);

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++) {
    g_autofree float *v = embed_one (embedder, texts[i]);
    for (guint d = 0; d < DIMS; d++)
      g_assert_true (v[d] == 0.0f);
  }
  /* Nothing asked, nothing written. */
  float untouched = 42.0f;
  g_assert_true (sr_embedder_embed (embedder, NULL, 0, &untouched, NULL, NULL));
  g_assert_cmpfloat (untouched, ==, 42.0f);
}

static void
test_batch_matches_single (void)
{
  const char *texts[] = { "first text", "", "third, with more words in it" };
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (64);
  g_autoptr (GError) error = NULL;
  float batch[3 * 64];

  g_assert_true (sr_embedder_embed (embedder, texts, 3, batch, NULL, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 3; i++) {
    g_autofree float *single = embed_one (embedder, texts[i]);
    g_assert_cmpmem (batch + i * 64, 64 * sizeof (float), single, 64 * sizeof (float));
  }
}

static void
test_rejects_bad_text (void)
{
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (DIMS);
  float vectors[2 * DIMS];
  const char *invalid[] = { "fine", "bad \xff\xfe bytes" };
  const char *missing[] = { "fine", NULL };
  g_autoptr (GError) error = NULL;

  g_assert_false (sr_embedder_embed (embedder, invalid, 2, vectors, NULL, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_nonnull (strstr (error->message, "2 of 2"));
  g_clear_error (&error);
  g_assert_false (sr_embedder_embed (embedder, missing, 2, vectors, NULL, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
}

/* Pinned output: the vectors of varied texts, digested bit for bit. Stored vectors carry
 * the model name, so any change here must come with a new BUILTIN_MODEL; when one does,
 * print the new digests with --verbose and pin them. */

static void
add_text (GPtrArray *texts, GString *text)
{
  g_ptr_array_add (texts, g_string_free (text, FALSE));
}

/* Short texts at the edges: words of one to six letters, the word markers themselves,
 * folding that changes the length, texts without a single word. */
static void
build_specials (GPtrArray *texts, SrTestRandom *random)
{
  /* clang-format off */
  static const char *const specials[] = {
    "", " ", "a", "ab", "abc", "abcd", "abcde", "abcdef", "A", "Ab", "é", "éé", "ß", "ﬁ", "İ",
    "ǅ", "\x02" "abc\x03", "abc\x02" "def", "\x01\x02\x03", "a b c d e", "x1 y2", "_", "a_b",
    "don't", "ÀÉÎÕÜ", "ｆｕｌｌ", "𝐁𝐨𝐥𝐝", "1️⃣", "Ⅻ", "한국어", "ﷺ", "\u0301", "a\u0301", "\u0301a",
    "中", "日本語", "😀", "the the the the", "Ǆ ǅ ǆ", "ΌΣΟΣ όσος", "ŉ", "ﬃ",
  };
  /* clang-format on */
  for (guint i = 0; i < G_N_ELEMENTS (specials); i++)
    g_ptr_array_add (texts, g_strdup (specials[i]));

  GString *repeated = g_string_new (NULL);
  for (guint i = 0; i < 300; i++)
    g_string_append (repeated, "word ");
  add_text (texts, repeated);
  static const struct {
    const char *unit;
    guint count;
  } long_words[] = { { "x", 20000 }, { "é", 10000 }, { "😀", 3000 }, { "a\u0301", 2000 } };
  for (guint i = 0; i < G_N_ELEMENTS (long_words); i++) {
    GString *text = g_string_new (NULL);
    sr_test_append_long_word (text, long_words[i].unit, long_words[i].count);
    add_text (texts, text);
  }
  /* The same prose as plain ASCII and with one letter beyond it, which takes the general
   * path: the two vectors differ by that word alone. */
  GString *ascii = g_string_new (NULL);
  sr_test_append_prose (ascii, random, &sr_test_ascii, 1000, TRUE);
  GString *nearly = g_string_new (ascii->str);
  g_string_append (nearly, " é");
  add_text (texts, ascii);
  add_text (texts, nearly);
}

static void
build_script (GPtrArray *texts, SrTestRandom *random, const SrTestScript *script)
{
  for (guint i = 0; i < 12; i++) {
    GString *text = g_string_new (NULL);
    sr_test_append_prose (text, random, script, sr_test_random_below (random, 3000),
                          sr_test_random_below (random, 4) != 0);
    add_text (texts, text);
  }
}

static void
build_ascii (GPtrArray *texts, SrTestRandom *random)
{
  build_script (texts, random, &sr_test_ascii);
}

static void
build_latin (GPtrArray *texts, SrTestRandom *random)
{
  build_script (texts, random, &sr_test_latin);
}

static void
build_combining (GPtrArray *texts, SrTestRandom *random)
{
  build_script (texts, random, &sr_test_combining);
}

static void
build_cjk (GPtrArray *texts, SrTestRandom *random)
{
  build_script (texts, random, &sr_test_cjk);
}

static void
build_rtl (GPtrArray *texts, SrTestRandom *random)
{
  build_script (texts, random, &sr_test_rtl);
}

static void
build_emoji (GPtrArray *texts, SrTestRandom *random)
{
  build_script (texts, random, &sr_test_emoji);
}

static void
build_odd (GPtrArray *texts, SrTestRandom *random)
{
  build_script (texts, random, &sr_test_odd);
}

static void
build_mixed (GPtrArray *texts, SrTestRandom *random)
{
  for (guint i = 0; i < 16; i++) {
    GString *text = g_string_new (NULL);
    sr_test_append_mixed (text, random, sr_test_random_below (random, 4000));
    add_text (texts, text);
  }
}

/* Large texts between small ones: the counting table grows and shrinks between texts. */
static void
build_large (GPtrArray *texts, SrTestRandom *random)
{
  GString *mixed = g_string_new (NULL);
  sr_test_append_mixed (mixed, random, 200000);
  add_text (texts, mixed);
  g_ptr_array_add (texts, g_strdup ("small after large"));
  GString *ascii = g_string_new (NULL);
  sr_test_append_prose (ascii, random, &sr_test_ascii, 100000, TRUE);
  add_text (texts, ascii);
  g_ptr_array_add (texts, g_strdup (""));
  g_ptr_array_add (texts, g_strdup ("Größe"));

  /* Thousands of distinct features crowd the table and each dimension, so that the order
   * in which they are counted and summed shows in the last bits of the vectors. */
  static const char *const ascii_letters[]
      = { "a", "b", "c", "d", "e", "f", "g", "h", "i", "k", "l", "m", "n", "o",
          "p", "r", "s", "t", "u", "w", "y", "z", "A", "Q", "X", "0", "7", NULL };
  static const char *const other_letters[]
      = { "a", "e", "o", "n",  "é",  "ß",  "ø", "ł", "İ", "ж", "λ",
          "ǅ", "ﬁ", "á", "日", "ア", "한", "م", "ँ",  "𝐁", NULL };
  GString *ascii_words = g_string_new (NULL);
  sr_test_append_random_words (ascii_words, random, ascii_letters, 60000);
  add_text (texts, ascii_words);
  GString *other_words = g_string_new (NULL);
  sr_test_append_random_words (other_words, random, other_letters, 60000);
  add_text (texts, other_words);
  for (guint i = 0; i < 8; i++) {
    GString *text = g_string_new (NULL);
    sr_test_append_random_words (text, random, i % 2 ? other_letters : ascii_letters,
                                 500 + sr_test_random_below (random, 3000));
    add_text (texts, text);
  }
}

static void
digest_vectors (GChecksum *digest, const float *vectors, gsize n)
{
  for (gsize i = 0; i < n; i++) {
    guint32 bits;
    memcpy (&bits, &vectors[i], sizeof bits);
    bits = GUINT32_TO_LE (bits);
    g_checksum_update (digest, (const guchar *) &bits, sizeof bits);
  }
}

/* Embeds @texts as one batch at several widths; each text alone must give the same. */
static char *
vectors_digest (GPtrArray *texts)
{
  static const guint dimensions[] = { DIMS, 100, 7, 3, 2 };
  const char *const *strings = (const char *const *) texts->pdata;
  g_autoptr (GChecksum) digest = g_checksum_new (G_CHECKSUM_SHA256);

  for (guint d = 0; d < G_N_ELEMENTS (dimensions); d++) {
    g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (dimensions[d]);
    gsize width = dimensions[d];
    g_autofree float *batch = g_new (float, texts->len *width);
    g_autoptr (GError) error = NULL;
    g_assert_true (sr_embedder_embed (embedder, strings, texts->len, batch, NULL, &error));
    g_assert_no_error (error);
    sr_test_digest_uint (digest, width);
    sr_test_digest_uint (digest, texts->len);
    digest_vectors (digest, batch, texts->len * width);
    for (guint i = 0; i < texts->len && d == 0; i++) {
      g_autofree float *single = embed_one (embedder, strings[i]);
      g_assert_cmpmem (single, width * sizeof (float), batch + i * width, width * sizeof (float));
    }
  }
  return g_strdup (g_checksum_get_string (digest));
}

static void
test_digests (void)
{
  static const struct {
    const char *name;
    void (*build) (GPtrArray *texts, SrTestRandom *random);
    const char *sha256;
  } cases[] = {
    { "specials", build_specials,
      "a72a3b2919b4af2f7afe4cc320e742067e1d2d08601d413b548fb22526a29470" },
    { "ascii", build_ascii, "be12d740b4ccb19b5806eab627bce7bcef4717d260d97e9b9f16e23f4aaf13cc" },
    { "latin", build_latin, "58b05e58f0e0cb30753fe14a18055692f22d3f80a08c463bc65cc2dbe961446a" },
    { "combining", build_combining,
      "72d84efbd94a51763a92254af04bc30bf5420d9362173c486556f29ac61d96ad" },
    { "cjk", build_cjk, "d5f77e0cc690bdeb5d9964591082b7eb4d2429610eedd7da4fecb979dd2bfec5" },
    { "rtl", build_rtl, "0080be114598542304fcb6365671ddca3f66622368ae049760897e17dfb70e93" },
    { "emoji", build_emoji, "7af7a11803c0c6d2042066d598d00cd6774eed06654a75761bb6b1d2bccac573" },
    { "odd", build_odd, "3dd7f9bf8633e00760ce6f8867add66df4c2b1eeb024f79df0bc9b0935d9f69a" },
    { "mixed", build_mixed, "c621412a3bef092e8cb2e7c2517e425f006cde36cee43a880ac7cf69b6a3c863" },
    { "large", build_large, "516e288b8d5d1d230236dbfd28a183660ee1534ab508b896121fe3c7c7c9f01d" },
  };
  guint failed = 0;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    SrTestRandom random = { 100 + i };
    g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
    cases[i].build (texts, &random);
    g_autofree char *sha256 = vectors_digest (texts);
    g_test_message ("%s %s", cases[i].name, sha256);
    failed += g_strcmp0 (sha256, cases[i].sha256) != 0;
  }
  g_assert_cmpuint (failed, ==, 0);
}

static gboolean
is_mark (gunichar c)
{
  GUnicodeType type = g_unichar_type (c);
  return type == G_UNICODE_NON_SPACING_MARK || type == G_UNICODE_SPACING_MARK
         || type == G_UNICODE_ENCLOSING_MARK;
}

/* What the embedder makes of @text before it splits words: case-folded, decomposed, no
 * marks. */
static void
append_folded (GArray *out, const char *text, gssize length)
{
  g_autofree char *folded = g_utf8_casefold (text, length);
  g_autofree char *decomposed = g_utf8_normalize (folded, -1, G_NORMALIZE_NFKD);
  for (const char *p = decomposed; *p != '\0'; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (!is_mark (c))
      g_array_append_val (out, c);
  }
}

/* The embedder folds each character once and looks it up. That gives what folding whole
 * texts gave only because GLib folds character by character and decomposing a text is
 * decomposing each of its characters, but for the reordering of combining marks, which
 * are all dropped: every character with a combining class is a mark. Should GLib's
 * Unicode data ever break that, this fails before any stored vector moves. */
static void
test_folding_by_character (void)
{
  for (gunichar c = 1; c <= 0x10FFFF; c++) {
    if (c >= 0xD800 && c < 0xE000)
      continue;
    if (g_unichar_combining_class (c) != 0 && !is_mark (c))
      g_test_fail_printf ("U+%04X has a combining class but is no mark", c);
  }

  SrTestRandom random = { 7 };
  for (guint i = 0; i < 200; i++) {
    g_autoptr (GString) text = g_string_new (NULL);
    sr_test_append_mixed (text, &random, sr_test_random_below (&random, 400));
    g_autoptr (GArray) whole = g_array_new (FALSE, FALSE, sizeof (gunichar));
    g_autoptr (GArray) by_character = g_array_new (FALSE, FALSE, sizeof (gunichar));
    append_folded (whole, text->str, -1);
    for (const char *p = text->str; *p != '\0'; p = g_utf8_next_char (p))
      append_folded (by_character, p, g_utf8_next_char (p) - p);
    g_assert_cmpmem (whole->data, whole->len * sizeof (gunichar), by_character->data,
                     by_character->len * sizeof (gunichar));
  }
}

#define N_THREAD_TEXTS 64

typedef struct {
  SrEmbedder *embedder;
  char **texts;
  float *out;
} ThreadJob;

static gpointer
embed_thread (gpointer data)
{
  ThreadJob *job = data;
  for (guint round = 0; round < 5; round++) {
    g_autoptr (GError) error = NULL;
    g_assert_true (sr_embedder_embed (job->embedder, (const char *const *) job->texts,
                                      N_THREAD_TEXTS, job->out, NULL, &error));
    g_assert_no_error (error);
  }
  return NULL;
}

static void
test_threads (void)
{
  g_autoptr (SrEmbedder) embedder = sr_embedder_builtin_new (DIMS);
  g_auto (GStrv) texts = g_new0 (char *, N_THREAD_TEXTS + 1);
  gsize size = (gsize) N_THREAD_TEXTS * DIMS;
  g_autofree float *expected = g_new (float, size);
  ThreadJob jobs[4];
  GThread *threads[4];

  for (guint i = 0; i < N_THREAD_TEXTS; i++)
    texts[i]
        = g_strdup_printf ("Text number %u talks about topic %u and café %u", i, i % 7, i * 31);
  g_assert_true (sr_embedder_embed (embedder, (const char *const *) texts, N_THREAD_TEXTS, expected,
                                    NULL, NULL));
  for (guint t = 0; t < 4; t++) {
    jobs[t] = (ThreadJob){ embedder, texts, g_new (float, size) };
    threads[t] = g_thread_new ("embed", embed_thread, &jobs[t]);
  }
  for (guint t = 0; t < 4; t++) {
    g_thread_join (threads[t]);
    g_assert_cmpmem (jobs[t].out, size * sizeof (float), expected, size * sizeof (float));
    g_free (jobs[t].out);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/embedder/defaults", test_defaults);
  g_test_add_func ("/embedder/deterministic", test_deterministic);
  g_test_add_func ("/embedder/unit-length", test_unit_length);
  g_test_add_func ("/embedder/similar-closer", test_similar_closer);
  g_test_add_func ("/embedder/folding", test_folding);
  g_test_add_func ("/embedder/empty", test_empty);
  g_test_add_func ("/embedder/batch-matches-single", test_batch_matches_single);
  g_test_add_func ("/embedder/rejects-bad-text", test_rejects_bad_text);
  g_test_add_func ("/embedder/threads", test_threads);
  g_test_add_func ("/embedder/digests", test_digests);
  g_test_add_func ("/embedder/folding-by-character", test_folding_by_character);
  return g_test_run ();
}
