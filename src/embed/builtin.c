/* The builtin embedder: signed feature hashing of words and character n-grams. */
#include "embed/embedder.h"

#include <math.h>
#include <string.h>

/* Part of the stored model name: bump it whenever a change here moves any vector, so that
 * stored vectors are noticed as stale and re-embedded. */
#define BUILTIN_MODEL "builtin-v2"

/* Fixed, so that the same text gives the same vector on every run and machine. */
#define HASH_SEED  G_GUINT64_CONSTANT (0x5eed5a7a46c0ffee)
#define FNV_OFFSET G_GUINT64_CONSTANT (0xcbf29ce484222325)
#define FNV_PRIME  G_GUINT64_CONSTANT (0x100000001b3)

/* Stand-ins for the start and end of a word, so that "ing" at a word's end and inside
 * one are different n-grams. They are control characters, which never occur in a word. */
#define WORD_START ((gunichar) 0x02)
#define WORD_END   ((gunichar) 0x03)

#define MIN_GRAM 3
#define MAX_GRAM 5

/* The low two bits of a feature's hash say its kind; bit 2 is its sign.
 *
 * There are no word pairs: a pair matches only where a question repeats the passage's
 * wording in the same order, and in practice the pairs two texts share are runs of
 * function words ("how to", "of the"), which pull unrelated chunks closer. Exact wording
 * is what BM25 already finds; in hybrid search the vectors earn their place with what it
 * misses, which is other forms of the same word. */
enum { KIND_WORD, KIND_GRAM = 2, KIND_MASK = 3 };
#define SIGN_BIT    (G_GUINT64_CONSTANT (1) << 2)
#define INDEX_SHIFT 3

/* A word has one unigram but about three n-grams per letter: a lower n-gram weight keeps
 * the words from being drowned, while n-grams still carry misspellings and inflections
 * ("tomato", "tomatoes"; "boil", "boiling") close together. Half, not less: those shared
 * stems are most of what the vectors add to BM25's exact words. */
static const float kind_weight[] = { [KIND_WORD] = 1.0f, [KIND_GRAM] = 0.5f };

/* Words shorter than this weigh less, in proportion to their length. The most frequent
 * words of a language are short ones (Zipf's law of abbreviation holds across languages)
 * and are mostly function words ("the", "is", "how", "der", "et", "de"). Without a
 * document frequency over the whole index, which an embedder of one text at a time cannot
 * know, length is the one language-neutral hint of how little a word says. Short content
 * words ("tax", "git") keep most of their weight, and BM25 still matches them exactly. */
#define FULL_WEIGHT_LETTERS 4

typedef struct {
  gsize start;  /* into the code point buffer, at the WORD_START marker */
  gsize length; /* code points, markers included */
} Word;

typedef struct {
  guint64 hash;
  float weight; /* of the word it came from */
} Feature;

typedef struct {
  guint64 hash;  /* 0 for an empty slot */
  guint32 count; /* occurrences of the feature */
  float weight;  /* sum of their word weights */
} Slot;

/* Buffers reused for every text of one call; each call has its own, so calls on several
 * threads share nothing that changes. */
typedef struct {
  GArray *chars;    /* gunichar */
  GArray *words;    /* Word */
  GArray *features; /* Feature */
  GArray *table;    /* Slot: the features counted by open addressing */
} Scratch;

static guint64
mix64 (guint64 h)
{
  /* MurmurHash3's finaliser: spreads FNV's weak low bits over the whole word. */
  h ^= h >> 33;
  h *= G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
  h ^= h >> 33;
  h *= G_GUINT64_CONSTANT (0xc4ceb9fe1a85ec53);
  h ^= h >> 33;
  return h;
}

static guint64
hash_chars (const gunichar *chars, gsize n, guint64 kind)
{
  guint64 h = FNV_OFFSET ^ HASH_SEED ^ kind;
  for (gsize i = 0; i < n; i++) {
    h ^= chars[i];
    h *= FNV_PRIME;
  }
  return h;
}

static guint64
feature (guint64 h, guint64 kind)
{
  return (mix64 (h) & ~(guint64) KIND_MASK) | kind;
}

static gboolean
is_mark (gunichar c)
{
  switch (g_unichar_type (c)) {
  case G_UNICODE_NON_SPACING_MARK:
  case G_UNICODE_SPACING_MARK:
  case G_UNICODE_ENCLOSING_MARK:
    return TRUE;
  default:
    return FALSE;
  }
}

static void
end_word (Scratch *s, gsize start)
{
  gsize length = s->chars->len - start;
  if (length == 1) {
    g_array_set_size (s->chars, start); /* a lone WORD_START: no letters followed */
    return;
  }
  gunichar end = WORD_END;
  g_array_append_val (s->chars, end);
  Word word = { start, length + 1 };
  g_array_append_val (s->words, word);
}

/* Case-folded, compatibility-decomposed words with their accents dropped, so that "Café",
 * "CAFE" and "café" are one word. Marks are skipped inside a word rather than ending it. */
static gboolean
is_ascii (const char *text)
{
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    if (*p >= 0x80)
      return FALSE;
  return TRUE;
}

/* Folding and decomposing ASCII changes nothing but case; skipping GLib's general path
 * for it more than doubles the speed on English text, with identical results. */
static void
split_ascii_words (Scratch *s, const char *text)
{
  gboolean in_word = FALSE;
  gsize start = 0;

  for (const char *p = text; *p != '\0'; p++) {
    if (!g_ascii_isalnum (*p)) {
      if (in_word)
        end_word (s, start);
      in_word = FALSE;
      continue;
    }
    if (!in_word) {
      gunichar marker = WORD_START;
      start = s->chars->len;
      g_array_append_val (s->chars, marker);
      in_word = TRUE;
    }
    gunichar c = (gunichar) g_ascii_tolower (*p);
    g_array_append_val (s->chars, c);
  }
  if (in_word)
    end_word (s, start);
}

static void
split_words (Scratch *s, const char *text)
{
  g_array_set_size (s->chars, 0);
  g_array_set_size (s->words, 0);
  if (is_ascii (text)) {
    split_ascii_words (s, text);
    return;
  }

  g_autofree char *folded = g_utf8_casefold (text, -1);
  g_autofree char *decomposed = g_utf8_normalize (folded, -1, G_NORMALIZE_NFKD);
  gboolean in_word = FALSE;
  gsize start = 0;

  for (const char *p = decomposed; *p != '\0'; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (is_mark (c))
      continue;
    if (!g_unichar_isalnum (c)) {
      if (in_word)
        end_word (s, start);
      in_word = FALSE;
      continue;
    }
    if (!in_word) {
      gunichar marker = WORD_START;
      start = s->chars->len;
      g_array_append_val (s->chars, marker);
      in_word = TRUE;
    }
    g_array_append_val (s->chars, c);
  }
  if (in_word)
    end_word (s, start);
}

static float
word_weight (gsize letters)
{
  return letters >= FULL_WEIGHT_LETTERS ? 1.0f : (float) letters / FULL_WEIGHT_LETTERS;
}

static void
collect_features (Scratch *s)
{
  const gunichar *chars = (const gunichar *) s->chars->data;

  g_array_set_size (s->features, 0);
  for (guint w = 0; w < s->words->len; w++) {
    const Word *word = &g_array_index (s->words, Word, w);
    const gunichar *padded = chars + word->start;
    /* The n-grams of a short word weigh as little as the word: they are mostly the word
     * itself with its start and end markers. */
    float weight = word_weight (word->length - 2);
    Feature f
        = { feature (hash_chars (padded + 1, word->length - 2, KIND_WORD), KIND_WORD), weight };
    g_array_append_val (s->features, f);
    for (gsize n = MIN_GRAM; n <= MAX_GRAM && n <= word->length; n++) {
      for (gsize i = 0; i + n <= word->length; i++) {
        f.hash = feature (hash_chars (padded + i, n, KIND_GRAM), KIND_GRAM);
        g_array_append_val (s->features, f);
      }
    }
  }
}

/* Term frequencies by open addressing on the feature hashes, which are already well
 * mixed; 0 marks an empty slot (a feature hash of 0 is folded to 1: a harmless collision). */
static void
count_features (Scratch *s, guint dimensions, float *vector)
{
  const Feature *f = (const Feature *) s->features->data;
  guint n = s->features->len;
  gsize size = 64;

  while (size < 2 * (gsize) n)
    size *= 2;
  g_array_set_size (s->table, (guint) size);
  Slot *table = (Slot *) s->table->data;
  memset (table, 0, size * sizeof *table);
  for (guint i = 0; i < n; i++) {
    guint64 key = f[i].hash != 0 ? f[i].hash : 1;
    gsize at = (gsize) (key >> INDEX_SHIFT) & (size - 1);
    while (table[at].hash != 0 && table[at].hash != key)
      at = (at + 1) & (size - 1);
    table[at].hash = key;
    table[at].count++;
    table[at].weight += f[i].weight;
  }
  for (gsize at = 0; at < size; at++) {
    const Slot *slot = &table[at];
    if (slot->hash == 0)
      continue;
    /* Sublinear: the tenth "the" adds less than the first. An n-gram shared by words of
     * several lengths takes their mean weight. */
    float weight = kind_weight[slot->hash & KIND_MASK] * (slot->weight / (float) slot->count)
                   * (1.0f + logf ((float) slot->count));
    guint index = (guint) ((slot->hash >> INDEX_SHIFT) % dimensions);
    vector[index] += (slot->hash & SIGN_BIT) ? -weight : weight;
  }
}

static void
project (Scratch *s, guint dimensions, float *vector)
{
  double norm = 0.0;

  memset (vector, 0, sizeof (float) * dimensions);
  count_features (s, dimensions, vector);
  for (guint d = 0; d < dimensions; d++)
    norm += (double) vector[d] * vector[d];
  /* No words (empty text, only punctuation): the zero vector. Every cosine with it is 0,
   * which is the truth; any unit vector would make all such texts look identical. */
  if (norm == 0.0)
    return;
  float scale = (float) (1.0 / sqrt (norm));
  for (guint d = 0; d < dimensions; d++)
    vector[d] *= scale;
}

static gboolean
builtin_embed (SrEmbedder *self, const char *const *texts, guint n_texts, float *vectors,
               GError **error)
{
  g_autoptr (GArray) chars = g_array_sized_new (FALSE, FALSE, sizeof (gunichar), 2048);
  g_autoptr (GArray) words = g_array_sized_new (FALSE, FALSE, sizeof (Word), 256);
  g_autoptr (GArray) features = g_array_sized_new (FALSE, FALSE, sizeof (Feature), 4096);
  g_autoptr (GArray) table = g_array_new (FALSE, FALSE, sizeof (Slot));
  Scratch s = { chars, words, features, table };

  for (guint i = 0; i < n_texts; i++) {
    split_words (&s, texts[i]);
    collect_features (&s);
    project (&s, self->dimensions, vectors + (gsize) i * self->dimensions);
  }
  return TRUE;
}

static void
builtin_free (SrEmbedder *self)
{
  g_free (self);
}

static const SrEmbedderClass builtin_class = {
  .name = "builtin",
  .embed = builtin_embed,
  .free = builtin_free,
};

SrEmbedder *
sr_embedder_builtin_new (guint dimensions)
{
  if (dimensions == 0)
    dimensions = SR_EMBEDDER_BUILTIN_DEFAULT_DIMENSIONS;
  g_return_val_if_fail (dimensions <= SR_EMBEDDER_MAX_DIMENSIONS, NULL);

  SrEmbedder *embedder = g_new0 (SrEmbedder, 1);
  embedder->klass = &builtin_class;
  embedder->dimensions = dimensions;
  embedder->model = g_strdup (BUILTIN_MODEL);
  return embedder;
}
