/* The builtin embedder: signed feature hashing of words and character n-grams. */
#include "embed/embedder.h"

#include <math.h>
#include <string.h>

#include "common/unichar.h"

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

/* Feature counts below this take 1 + log(count) from a table filled once per call: logf()
 * for every distinct feature of every text cost more than hashing it. */
#define LOG_WEIGHTS 64

/* In a folded character's tokens: what ends a word (anything but a letter or a digit). */
#define FOLD_BREAK G_MAXUINT32

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

/* What one character becomes once case-folded and compatibility-decomposed, without its
 * marks: code points of letters and digits, FOLD_BREAK for anything else. */
typedef struct {
  gunichar c; /* 0 for an empty entry: NUL never occurs in a text */
  guint32 start;
  guint32 length;
} Folded;

/* Buffers reused for every text of one call; each call has its own, so calls on several
 * threads share nothing that changes. */
typedef struct {
  gunichar *chars; /* the words, each between WORD_START and WORD_END */
  gsize n_chars, chars_size;
  Word *words;
  gsize n_words, words_size;
  Feature *features;
  gsize features_size;
  /* The features counted by open addressing. Slots are emptied as they are read, so that
   * no text pays for clearing the whole table; used has one bit per slot in use. */
  Slot *table;
  guint64 *used;
  gsize table_size;
  Folded *folded; /* the non-ASCII characters met so far, by open addressing */
  gsize folded_size, n_folded;
  GArray *tokens; /* gunichar: what they became */
  float log_weights[LOG_WEIGHTS];
} Scratch;

/* Where a feature lands in a vector of @dimensions: (hash >> INDEX_SHIFT) % dimensions.
 * A 64-bit division for every distinct feature of every text showed in profiles, so where
 * the compiler has 128-bit integers the remainder is computed directly from the dividend
 * times a 128-bit inverse of the divisor ("faster remainder by direct computation"),
 * which gives the same remainder for every 64-bit dividend. */
typedef struct {
  guint64 divisor;
#ifdef __SIZEOF_INT128__
  unsigned __int128 inverse; /* ceil (2^128 / divisor); 0 for 1, whose remainder is 0 */
#endif
} Reducer;

static Reducer
reducer_new (guint dimensions)
{
  Reducer r = { dimensions };
#ifdef __SIZEOF_INT128__
  r.inverse = ~(unsigned __int128) 0 / dimensions + 1;
#endif
  return r;
}

static inline guint
reduce (const Reducer *r, guint64 hash)
{
  guint64 n = hash >> INDEX_SHIFT;
#ifdef __SIZEOF_INT128__
  unsigned __int128 fraction = r->inverse * n;
  unsigned __int128 low = ((fraction & G_MAXUINT64) * r->divisor) >> 64;
  unsigned __int128 high = (fraction >> 64) * r->divisor;
  return (guint) ((low + high) >> 64);
#else
  return (guint) (n % r->divisor);
#endif
}

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

static inline guint64
hash_start (guint64 kind)
{
  return FNV_OFFSET ^ HASH_SEED ^ kind;
}

/* FNV-1a extends a hash by one character: the hash of "abcd" is that of "abc" and a step
 * of 'd', which lets a 4-gram and a 5-gram start from the 3-gram at the same place. */
static inline guint64
hash_step (guint64 h, gunichar c)
{
  return (h ^ c) * FNV_PRIME;
}

static guint64
feature (guint64 h, guint64 kind)
{
  return (mix64 (h) & ~(guint64) KIND_MASK) | kind;
}

static void *
grow (void *buffer, gsize *size, gsize needed, gsize element)
{
  if (needed <= *size)
    return buffer;
  gsize size_now = MAX (*size, 256);
  while (size_now < needed)
    size_now *= 2;
  *size = size_now;
  return g_realloc_n (buffer, size_now, element);
}

static inline void
reserve_chars (Scratch *s, gsize extra)
{
  if (G_UNLIKELY (s->n_chars + extra > s->chars_size))
    s->chars = grow (s->chars, &s->chars_size, s->n_chars + extra, sizeof *s->chars);
}

/* Splitting into words: a letter or digit starts a word or adds to it, anything else ends
 * one. *@word is where the current word starts, NO_WORD between words. Callers reserve
 * room for two code points per call. */
#define NO_WORD G_MAXSIZE

static inline void
add_letter (Scratch *s, gsize *word, gunichar c)
{
  if (*word == NO_WORD) {
    *word = s->n_chars;
    s->chars[s->n_chars++] = WORD_START;
  }
  s->chars[s->n_chars++] = c;
}

static void
end_word (Scratch *s, gsize *word)
{
  if (*word == NO_WORD)
    return;
  s->chars[s->n_chars++] = WORD_END;
  if (G_UNLIKELY (s->n_words == s->words_size))
    s->words = grow (s->words, &s->words_size, s->n_words + 1, sizeof *s->words);
  s->words[s->n_words++] = (Word){ *word, s->n_chars - *word };
  *word = NO_WORD;
}

/* g_ascii_tolower(), which is a call for every letter otherwise. */
static inline gunichar
ascii_lower (guchar c)
{
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static gboolean
is_ascii (const char *text, gsize *length)
{
  const guchar *p = (const guchar *) text;
  for (; *p != '\0'; p++)
    if (*p >= 0x80)
      return FALSE;
  *length = (gsize) (p - (const guchar *) text);
  return TRUE;
}

/* Folding and decomposing ASCII changes nothing but case; skipping GLib's general path
 * for it more than doubles the speed on English text, with identical results. */
static void
split_ascii_words (Scratch *s, const char *text, gsize length)
{
  const guchar *p = (const guchar *) text;

  /* At most a letter and a marker per byte, and the last word's end. */
  reserve_chars (s, 2 * length + 1);
  for (;;) {
    while (*p != '\0' && !g_ascii_isalnum (*p))
      p++;
    if (*p == '\0')
      return;
    gsize word = s->n_chars;
    s->chars[s->n_chars++] = WORD_START;
    while (g_ascii_isalnum (*p))
      s->chars[s->n_chars++] = ascii_lower (*p++);
    end_word (s, &word);
  }
}

/* Folding works character by character (g_utf8_casefold() maps each on its own) and so
 * does decomposing, but for the canonical reordering of combining marks, which are all
 * dropped here. So each character is folded once per call and then looked up: asking
 * GLib for whole texts was most of the time spent on any text that is not pure ASCII. */
static void
fold_into_tokens (Scratch *s, gunichar c, Folded *entry)
{
  char utf8[8];
  gint length = g_unichar_to_utf8 (c, utf8);
  g_autofree char *folded = g_utf8_casefold (utf8, length);
  g_autofree char *decomposed = g_utf8_normalize (folded, -1, G_NORMALIZE_NFKD);

  entry->c = c;
  entry->start = s->tokens->len;
  for (const char *p = decomposed; *p != '\0'; p = g_utf8_next_char (p)) {
    gunichar d = g_utf8_get_char (p);
    if (sr_unichar_is_mark (d))
      continue;
    gunichar token = g_unichar_isalnum (d) ? d : FOLD_BREAK;
    g_array_append_val (s->tokens, token);
  }
  entry->length = s->tokens->len - entry->start;
}

static void
grow_folded (Scratch *s)
{
  gsize old_size = s->folded_size;
  Folded *old = s->folded;

  s->folded_size = MAX (old_size * 2, 256);
  s->folded = g_new0 (Folded, s->folded_size);
  for (gsize i = 0; i < old_size; i++) {
    if (old[i].c == 0)
      continue;
    gsize at = old[i].c & (s->folded_size - 1);
    while (s->folded[at].c != 0)
      at = (at + 1) & (s->folded_size - 1);
    s->folded[at] = old[i];
  }
  g_free (old);
}

static const Folded *
fold (Scratch *s, gunichar c)
{
  if (2 * (s->n_folded + 1) > s->folded_size)
    grow_folded (s);
  gsize at = c & (s->folded_size - 1);
  while (s->folded[at].c != 0 && s->folded[at].c != c)
    at = (at + 1) & (s->folded_size - 1);
  if (s->folded[at].c == 0) {
    fold_into_tokens (s, c, &s->folded[at]);
    s->n_folded++;
  }
  return &s->folded[at];
}

/* ASCII takes the same shortcut as in split_ascii_words(); every other character is looked
 * up in the folded ones. */
static void
split_unicode_words (Scratch *s, const char *text)
{
  gsize word = NO_WORD;

  for (const char *p = text; *p != '\0';) {
    guchar byte = (guchar) *p;
    if (byte < 0x80) {
      reserve_chars (s, 2);
      if (g_ascii_isalnum (byte))
        add_letter (s, &word, ascii_lower (byte));
      else
        end_word (s, &word);
      p++;
      continue;
    }
    const Folded *folded = fold (s, g_utf8_get_char (p));
    const gunichar *tokens = &g_array_index (s->tokens, gunichar, folded->start);
    reserve_chars (s, 2 * (gsize) folded->length);
    for (guint i = 0; i < folded->length; i++) {
      if (tokens[i] == FOLD_BREAK)
        end_word (s, &word);
      else
        add_letter (s, &word, tokens[i]);
    }
    p = g_utf8_next_char (p);
  }
  reserve_chars (s, 1);
  end_word (s, &word);
}

/* Case-folded, compatibility-decomposed words with their accents dropped, so that "Café",
 * "CAFE" and "café" are one word. Marks are skipped inside a word rather than ending it. */
static void
split_words (Scratch *s, const char *text)
{
  gsize length;

  s->n_chars = 0;
  s->n_words = 0;
  if (is_ascii (text, &length))
    split_ascii_words (s, text, length);
  else
    split_unicode_words (s, text);
}

static float
word_weight (gsize letters)
{
  return letters >= FULL_WEIGHT_LETTERS ? 1.0f : (float) letters / FULL_WEIGHT_LETTERS;
}

/* How many features the words make: the table's size depends on it, and the order in
 * which features land in the table depends on its size. */
static gsize
count_all (const Scratch *s)
{
  gsize n = 0;
  for (gsize w = 0; w < s->n_words; w++) {
    gsize length = s->words[w].length;
    n++;
    for (gsize gram = MIN_GRAM; gram <= MAX_GRAM && gram <= length; gram++)
      n += length - gram + 1;
  }
  return n;
}

/* A table of at least 64 slots and twice as many as there are features, all empty. */
static gsize
prepare_table (Scratch *s, gsize n_features)
{
  gsize size = 64;
  while (size < 2 * n_features)
    size *= 2;
  if (size > s->table_size) {
    g_free (s->table);
    g_free (s->used);
    s->table = g_new0 (Slot, size);
    s->used = g_new0 (guint64, size / 64);
    s->table_size = size;
  }
  return size;
}

/* Term frequencies by open addressing on the feature hashes, which are already well
 * mixed; 0 marks an empty slot (a feature hash of 0 is folded to 1: a harmless collision). */
static inline void
count_feature (Scratch *s, gsize size, guint64 hash, float weight)
{
  guint64 key = hash != 0 ? hash : 1;
  gsize at = (gsize) (key >> INDEX_SHIFT) & (size - 1);
  Slot *table = s->table;

  for (;;) {
    /* Stops at the feature or an empty slot, in one branch: as two, the test for the
     * feature is a coin toss the processor mispredicts, which cost half the time here. */
    guint64 found = table[at].hash;
    if (MIN (found ^ key, found) == 0)
      break;
    at = (at + 1) & (size - 1);
  }
  /* Written whether the slot was new or not: whether a feature is new is a coin toss the
   * processor mispredicts, rewriting the same key and bit is not. */
  table[at].hash = key;
  s->used[at / 64] |= G_GUINT64_CONSTANT (1) << (at % 64);
  table[at].count++;
  table[at].weight += weight;
}

/* A word's features in the order that fixes where each lands in the table: the word, then
 * its 3-grams, 4-grams and 5-grams from left to right. Returns where the next word's go. */
static Feature *
word_features (const gunichar *padded, gsize length, Feature *out)
{
  /* The n-grams of a short word weigh as little as the word: they are mostly the word
   * itself with its start and end markers. */
  float weight = word_weight (length - 2);
  guint64 h = hash_start (KIND_WORD);
  for (gsize i = 1; i + 1 < length; i++)
    h = hash_step (h, padded[i]);
  *out++ = (Feature){ feature (h, KIND_WORD), weight };

  gsize n3 = length - 2;
  gsize n4 = length >= 4 ? length - 3 : 0;
  Feature *grams3 = out;
  Feature *grams4 = grams3 + n3;
  Feature *grams5 = grams4 + n4;
  for (gsize i = 0; i < n3; i++) {
    h = hash_start (KIND_GRAM);
    h = hash_step (h, padded[i]);
    h = hash_step (h, padded[i + 1]);
    h = hash_step (h, padded[i + 2]);
    grams3[i] = (Feature){ feature (h, KIND_GRAM), weight };
    if (i + 4 > length)
      continue;
    h = hash_step (h, padded[i + 3]);
    grams4[i] = (Feature){ feature (h, KIND_GRAM), weight };
    if (i + 5 <= length)
      grams5[i] = (Feature){ feature (hash_step (h, padded[i + 4]), KIND_GRAM), weight };
  }
  return grams5 + (length >= 5 ? length - 4 : 0);
}

static void
collect_features (Scratch *s, gsize n_features)
{
  if (n_features > s->features_size)
    s->features = grow (s->features, &s->features_size, n_features, sizeof *s->features);
  Feature *out = s->features;
  for (gsize w = 0; w < s->n_words; w++)
    out = word_features (s->chars + s->words[w].start, s->words[w].length, out);
  g_assert ((gsize) (out - s->features) == n_features);
}

static void
count_features (Scratch *s, gsize size, gsize n_features)
{
  const Feature *f = s->features;
  for (gsize i = 0; i < n_features; i++)
    count_feature (s, size, f[i].hash, f[i].weight);
}

static const float signs[] = { 1.0f, -1.0f };

/* Adds each counted feature to the vector in the order of the table's slots, which fixes
 * the float sums to the last bit, and empties the table on the way. */
static void
add_counted (Scratch *s, gsize size, const Reducer *dimensions, float *vector)
{
  for (gsize block = 0; block < size / 64; block++) {
    guint64 bits = s->used[block];
    s->used[block] = 0;
    while (bits != 0) {
      Slot *slot = &s->table[block * 64 + (gsize) __builtin_ctzll (bits)];
      bits &= bits - 1;
      /* Sublinear: the tenth "the" adds less than the first. An n-gram shared by words of
       * several lengths takes their mean weight. */
      float log_weight = slot->count < LOG_WEIGHTS ? s->log_weights[slot->count]
                                                   : 1.0f + logf ((float) slot->count);
      float weight
          = kind_weight[slot->hash & KIND_MASK] * (slot->weight / (float) slot->count) * log_weight;
      guint index = reduce (dimensions, slot->hash);
      /* Times -1 rather than a branch on the sign, which is as unpredictable: the same bits
       * as negating. */
      vector[index] += weight * signs[(slot->hash & SIGN_BIT) != 0];
      *slot = (Slot){ 0 };
    }
  }
}

static void
project (Scratch *s, guint dimensions, float *vector)
{
  double norm = 0.0;

  memset (vector, 0, sizeof (float) * dimensions);
  gsize n_features = count_all (s);
  gsize size = prepare_table (s, n_features);
  collect_features (s, n_features);
  count_features (s, size, n_features);
  Reducer reducer = reducer_new (dimensions);
  add_counted (s, size, &reducer, vector);
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

static void
scratch_clear (Scratch *s)
{
  g_free (s->chars);
  g_free (s->words);
  g_free (s->features);
  g_free (s->table);
  g_free (s->used);
  g_free (s->folded);
  g_clear_pointer (&s->tokens, g_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Scratch, scratch_clear)

static gboolean
builtin_embed (SrEmbedder *self, const char *const *texts, guint n_texts, float *vectors,
               GCancellable *cancellable, GError **error)
{
  g_auto (Scratch) s = { 0 };

  s.tokens = g_array_new (FALSE, FALSE, sizeof (gunichar));
  for (guint count = 1; count < LOG_WEIGHTS; count++)
    s.log_weights[count] = 1.0f + logf ((float) count);
  for (guint i = 0; i < n_texts; i++) {
    split_words (&s, texts[i]);
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
  sr_embedder_init (embedder, &builtin_class, BUILTIN_MODEL, NULL, dimensions);
  return embedder;
}
