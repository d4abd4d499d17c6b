/* Shared by the chunker and embedder tests: reproducible text in many scripts and shapes. */
#pragma once

#include <glib.h>
#include <string.h>

G_BEGIN_DECLS

/* splitmix64 rather than GRand: the texts, and so the digests pinned on them, must not
 * depend on how a GLib release draws its numbers. */
typedef struct {
  guint64 state;
} SrTestRandom;

static inline guint32
sr_test_random_below (SrTestRandom *random, guint32 n)
{
  guint64 z = (random->state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  z ^= z >> 31;
  return (guint32) ((z >> 11) % n);
}

static inline const char *
sr_test_random_pick (SrTestRandom *random, const char *const *list)
{
  guint n = g_strv_length ((char **) list);
  return list[sr_test_random_below (random, n)];
}

/* How prose in one script looks: its words, how sentences end, what may close them, what
 * separates words. The rarer pools give the odd cases their turn. */
typedef struct {
  const char *const *words;
  const char *const *terminators; /* NULL: sentences never end */
  const char *const *closers;
  const char *const *separators;
} SrTestScript;

/* The word tables are data laid out by hand, not code. */
/* clang-format off */
static const char *const sr_test_ascii_words[] = {
  "the", "of", "a", "I", "x", "to", "index", "Search", "DOCUMENT", "chunk", "vectors", "don't",
  "e-mail", "3.14", "2024", "C++", "foo_bar", "v2", "retrieval", "Tokyo", "ok", "x86_64", "HNSW",
  "mid-word", "abc", "abcd", "abcde", "Mr.", "e.g.", "U.S.A.", "internationalization",
  "http://example.org/a?b=1", NULL
};
static const char *const sr_test_ascii_terminators[] = { ".", ".", ".", "!", "?", "?!", "...", NULL };
static const char *const sr_test_ascii_closers[] = { "\"", "'", ")", "]", "\"'", NULL };
static const char *const sr_test_ascii_separators[] = {
  " ", " ", " ", " ", " ", ", ", "  ", "\t", "\n", "; ", " - ", ": ", NULL
};

static const char *const sr_test_latin_words[] = {
  "café", "naïve", "Straße", "GRÖSSE", "façade", "résumé", "Ångström", "İstanbul", "ǅemal",
  "œuvre", "ﬁnancial", "Ⅻ", "x²", "ｆｕｌｌ", "𝐁𝐨𝐥𝐝", "Σίσυφος", "ΌΣΟΣ", "Москва", "ёлка", "Łódź",
  "Ærø", "ñandú", "Việt", "ĳssel", "µs", "ﬀ", "ǈ", "ŉ", "der", "und", NULL
};
static const char *const sr_test_latin_terminators[] = {
  ".", "!", "?", "…", "‼", "⁇", "⁈", "⁉", NULL
};
static const char *const sr_test_latin_closers[] = { "»", "”", "’", "›", ")", "\"", NULL };
static const char *const sr_test_latin_separators[] = {
  " ", " ", " ", " ", "\u00a0", " – ", ", ", "\u2009", NULL
};

/* Decomposed accents and stacks of marks, which folding drops inside a word. */
static const char *const sr_test_combining_words[] = {
  "cafe\u0301", "nai\u0308ve", "e\u0301\u0302\u0323", "Z\u0337\u0322\u034ea\u0334l\u0336g\u0335o",
  "\u0301\u0301start", "a\u20dd", "n\u0303", "A\u030a", "\u0915\u094d\u0937", "o\u0308\u0304",
  "plain", NULL
};

static const char *const sr_test_cjk_words[] = {
  "東京", "日本語の文", "我们在测试", "中文句子", "カタカナ", "ｶﾀｶﾅ", "〇", "한국어", "문장입니다",
  "漢字", "ひらがな", "㈱", "〜", "ＡＢＣ", "１２３", "⼀⼆", "⺌", NULL
};
static const char *const sr_test_cjk_terminators[] = { "。", "！", "？", "．", "｡", "。", NULL };
static const char *const sr_test_cjk_closers[] = { "」", "』", "）", "】", NULL };
static const char *const sr_test_cjk_separators[] = { "", "", "", "、", "\u3000", " ", NULL };

static const char *const sr_test_rtl_words[] = {
  "مرحبا", "السَّلَامُ", "عَلَيْكُمْ", "٣٤٥", "كتاب", "שָׁלוֹם", "עברית", "नमस्ते", "हिन्दी", "ภาษาไทย",
  "ሰላም", "ﷺ", NULL
};
static const char *const sr_test_rtl_terminators[] = { "؟", "۔", "।", "॥", "።", ".", NULL };
static const char *const sr_test_rtl_closers[] = { "»", ")", NULL };
static const char *const sr_test_rtl_separators[] = { " ", " ", " ", "، ", "\u200f ", NULL };

static const char *const sr_test_emoji_words[] = {
  "😀", "👩\u200d💻", "👍🏽", "🇩🇪", "❤️", "🧪", "ok👌", "🏳️\u200d🌈", "1️⃣", "word", "™", NULL
};
static const char *const sr_test_emoji_separators[] = { " ", "", " ", "\u200b", NULL };

/* Characters a reader may let through: controls (two are the embedder's own word
 * markers), odd spaces and separators. */
static const char *const sr_test_odd_separators[] = {
  "\x01", "\x02", "\x03", "\v", "\x1c", "\x1f", "\x7f", "\r\n", "\r", "\f", "\xc2\x85",
  "\u2028", "\u2029", "\ufeff", "\u00ad", "\u3000", NULL
};
/* clang-format on */

static const SrTestScript sr_test_ascii = { sr_test_ascii_words, sr_test_ascii_terminators,
                                            sr_test_ascii_closers, sr_test_ascii_separators };
static const SrTestScript sr_test_latin = { sr_test_latin_words, sr_test_latin_terminators,
                                            sr_test_latin_closers, sr_test_latin_separators };
static const SrTestScript sr_test_combining = { sr_test_combining_words, sr_test_latin_terminators,
                                                sr_test_latin_closers, sr_test_ascii_separators };
static const SrTestScript sr_test_cjk
    = { sr_test_cjk_words, sr_test_cjk_terminators, sr_test_cjk_closers, sr_test_cjk_separators };
static const SrTestScript sr_test_rtl
    = { sr_test_rtl_words, sr_test_rtl_terminators, sr_test_rtl_closers, sr_test_rtl_separators };
static const SrTestScript sr_test_emoji = { sr_test_emoji_words, sr_test_ascii_terminators,
                                            sr_test_ascii_closers, sr_test_emoji_separators };
static const SrTestScript sr_test_odd = { sr_test_ascii_words, sr_test_ascii_terminators,
                                          sr_test_ascii_closers, sr_test_odd_separators };

static inline void
sr_test_append_sentence (GString *out, SrTestRandom *random, const SrTestScript *script,
                         gboolean with_end)
{
  guint words = 1 + sr_test_random_below (random, 24);
  for (guint w = 0; w < words; w++) {
    if (w > 0)
      g_string_append (out, sr_test_random_pick (random, script->separators));
    g_string_append (out, sr_test_random_pick (random, script->words));
  }
  if (!with_end || script->terminators == NULL)
    return;
  g_string_append (out, sr_test_random_pick (random, script->terminators));
  if (sr_test_random_below (random, 5) == 0)
    g_string_append (out, sr_test_random_pick (random, script->closers));
}

/* About @bytes of prose: sentences, now and then a paragraph break or a single newline.
 * Without @with_ends no sentence ever ends. */
static inline void
sr_test_append_prose (GString *out, SrTestRandom *random, const SrTestScript *script, gsize bytes,
                      gboolean with_ends)
{
  gsize goal = out->len + bytes;
  while (out->len < goal) {
    sr_test_append_sentence (out, random, script, with_ends);
    guint r = sr_test_random_below (random, 20);
    g_string_append (out, r < 3 ? "\n\n" : r < 4 ? "\n" : r < 5 ? "\n\n\n" : " ");
  }
}

/* Prose whose every sentence may be in another script, with odd separators among them. */
static inline void
sr_test_append_mixed (GString *out, SrTestRandom *random, gsize bytes)
{
  const SrTestScript *const scripts[]
      = { &sr_test_ascii, &sr_test_latin, &sr_test_combining, &sr_test_cjk,
          &sr_test_rtl,   &sr_test_emoji, &sr_test_odd };
  gsize goal = out->len + bytes;
  while (out->len < goal) {
    const SrTestScript *script = scripts[sr_test_random_below (random, G_N_ELEMENTS (scripts))];
    sr_test_append_sentence (out, random, script, sr_test_random_below (random, 6) != 0);
    guint r = sr_test_random_below (random, 12);
    g_string_append (out, r < 2   ? "\n\n"
                          : r < 3 ? "\n"
                          : r < 4 ? sr_test_random_pick (random, sr_test_odd_separators)
                          : r < 5 ? ""
                                  : " ");
  }
}

/* About @bytes of made-up words of 1 to 12 letters drawn from @letters: a vocabulary that
 * hardly repeats, unlike prose drawn from the small tables above. */
static inline void
sr_test_append_random_words (GString *out, SrTestRandom *random, const char *const *letters,
                             gsize bytes)
{
  gsize goal = out->len + bytes;
  while (out->len < goal) {
    guint length = 1 + sr_test_random_below (random, 12);
    for (guint i = 0; i < length; i++)
      g_string_append (out, sr_test_random_pick (random, letters));
    g_string_append (out, sr_test_random_below (random, 10) ? " " : ". ");
  }
}

/* One word of @count repetitions of @unit. */
static inline void
sr_test_append_long_word (GString *out, const char *unit, guint count)
{
  for (guint i = 0; i < count; i++)
    g_string_append (out, unit);
}

/* A digest as lowercase hex: fed with lengths before contents, so that no two different
 * sequences of fields feed the same bytes. */
static inline void
sr_test_digest_bytes (GChecksum *digest, const void *data, gsize length)
{
  guint64 size = GUINT64_TO_LE ((guint64) length);
  g_checksum_update (digest, (const guchar *) &size, sizeof size);
  g_checksum_update (digest, data, length);
}

static inline void
sr_test_digest_string (GChecksum *digest, const char *text)
{
  sr_test_digest_bytes (digest, text, strlen (text));
}

static inline void
sr_test_digest_uint (GChecksum *digest, guint64 value)
{
  guint64 le = GUINT64_TO_LE (value);
  g_checksum_update (digest, (const guchar *) &le, sizeof le);
}

G_END_DECLS
