/* The builtin generator: answers with the sources' sentences that best match the question. */
#include "llm/generator.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "common/errors.h"
#include "common/unichar.h"

#define BUILTIN_MODEL "extractive"

/* The answer: at most this many sentences, and no more quoted characters than this once
 * it has its first. No sentence is longer (see SENTENCE_MAX_CHARS), so the first fits. */
#define ANSWER_MAX_SENTENCES 4
#define ANSWER_MAX_CHARS     600
/* Text that runs this long without a sentence end (a table, a list without full stops) is
 * cut at its last line break or space, so that one such run cannot be the whole answer. */
#define SENTENCE_MAX_CHARS ANSWER_MAX_CHARS

/* Sentences after the first must score at least this share of the best: a sentence that
 * answers is not padded with sentences that merely share a word with the question. A
 * sentence from a passage not yet quoted must score higher: next to an answer, a weaker
 * match is likely about the same thing; in another passage it is as likely not. */
#define SAME_SOURCE_FLOOR  0.5
#define OTHER_SOURCE_FLOOR 0.75
/* Each question word a sentence contains beyond the first raises its score by this share:
 * a sentence with "museum", "open" and "Sunday" beats three that have one each. */
#define COVERAGE_BONUS 0.25
/* Source n raises its sentences' scores by RANK_BONUS / n: retrieval ranked it, which
 * breaks near ties without letting rank outweigh the words. */
#define RANK_BONUS 0.2
/* A sentence of this many words has its score halved: long sentences match question words
 * by chance, and they take up the answer. */
#define LONG_SENTENCE_WORDS 60.0
/* One bit per question word in a guint64; words after these are not looked for. */
#define MAX_QUESTION_WORDS 64
/* Words of at least STEM_MIN_CHARS match forms that extend them by up to STEM_MAX_EXTRA
 * characters ("open", "opens", "opening"; "Kaffee", "Kaffees"): a stemmer's reach in
 * most languages that inflect at the end, without a stemmer for each. */
#define STEM_MIN_CHARS 4
#define STEM_MAX_EXTRA 3

/* Words that say nothing of what a question is about, folded as question words are. Short
 * on purpose: rarity across the sources (the IDF) already weighs common words down, and
 * every word here is one a question can no longer be about. */
/* clang-format off */
static const char *const stop_words[] = {
  /* English */
  "about", "all", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "can",
  "could", "did", "do", "does", "for", "from", "had", "has", "have", "how", "if", "in", "into",
  "is", "it", "its", "me", "my", "of", "on", "or", "our", "should", "so", "some", "than",
  "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "to",
  "was", "we", "were", "what", "when", "where", "which", "who", "whom", "whose", "why", "will",
  "with", "would", "you", "your",
  /* German */
  "aber", "als", "am", "auch", "auf", "aus", "bei", "bis", "das", "dass", "dem", "den", "der",
  "des", "die", "du", "durch", "ein", "eine", "einem", "einen", "einer", "eines", "er", "es",
  "fur", "gibt", "ich", "ihr", "im", "ist", "kann", "mit", "nach", "nicht", "noch", "oder",
  "sich", "sie", "sind", "uber", "um", "und", "von", "vor", "wann", "warum", "welche",
  "welcher", "welches", "wer", "werden", "wie", "wird", "wo", "zu", "zum", "zur",
  /* French */
  "au", "aux", "avec", "ce", "ces", "comment", "dans", "de", "des", "du", "elle", "en", "est",
  "et", "il", "ils", "je", "la", "le", "les", "leur", "mais", "nous", "ou", "par", "pas",
  "pour", "pourquoi", "quand", "que", "quel", "quelle", "qui", "quoi", "sa", "se", "ses",
  "sont", "sur", "un", "une", "vous",
  /* Spanish */
  "al", "como", "con", "cual", "cuando", "del", "donde", "el", "las", "lo", "los", "para",
  "por", "porque", "quien", "su", "sus", "una",
};
/* clang-format on */

/* The question's informative words, folded. */
typedef struct {
  char *words[MAX_QUESTION_WORDS];
  guint chars[MAX_QUESTION_WORDS];
  double idf[MAX_QUESTION_WORDS];
  guint n;
} Question;

typedef struct {
  const char *start, *end; /* in the source's text, without surrounding space */
  guint source;            /* index in the request */
  guint position;          /* in the order of all sentences of the request */
  guint n_words;
  guint64 matched; /* the question words it contains, one bit each */
  double score;
} Sentence;

static void
question_clear (Question *question)
{
  for (guint i = 0; i < question->n; i++)
    g_free (question->words[i]);
  question->n = 0;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Question, question_clear)

/* The next word in [*@p, @end): a run of letters and digits with the marks inside it, or
 * one ideograph. Moves *@p past it; FALSE when there is none. */
static gboolean
next_word (const char **p, const char *end, const char **word, const char **word_end)
{
  const char *s = *p;
  while (s < end) {
    if ((guchar) *s < 0x80 ? g_ascii_isalnum (*s) : g_unichar_isalnum (g_utf8_get_char (s)))
      break;
    s = g_utf8_next_char (s);
  }
  if (s == end)
    return FALSE;
  *word = s;
  gunichar first = g_utf8_get_char (s);
  s = g_utf8_next_char (s);
  if (!sr_unichar_is_ideograph (first)) {
    while (s < end) {
      if ((guchar) *s < 0x80) {
        if (!g_ascii_isalnum (*s))
          break;
      } else {
        gunichar c = g_utf8_get_char (s);
        if (sr_unichar_is_ideograph (c) || !(g_unichar_isalnum (c) || sr_unichar_is_mark (c)))
          break;
      }
      s = g_utf8_next_char (s);
    }
  }
  *word_end = *p = s;
  return TRUE;
}

/* The word case-folded and compatibility-decomposed without its marks, so that "Café",
 * "CAFE" and "café" are one word, into @out; returns its length in characters. ASCII, most
 * words of most text, takes a shortcut with the same result. */
static guint
fold_word (const char *word, const char *end, GString *out)
{
  g_string_truncate (out, 0);
  const char *p = word;
  while (p < end && (guchar) *p < 0x80)
    p++;
  if (p == end) {
    for (p = word; p < end; p++)
      g_string_append_c (out, g_ascii_tolower (*p));
    return (guint) (end - word);
  }

  g_autofree char *folded = g_utf8_casefold (word, end - word);
  g_autofree char *decomposed = g_utf8_normalize (folded, -1, G_NORMALIZE_NFKD);
  guint chars = 0;
  for (p = decomposed; *p != '\0'; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (sr_unichar_is_mark (c))
      continue;
    g_string_append_unichar (out, c);
    chars++;
  }
  return chars;
}

static gboolean
is_stop_word (const char *word)
{
  for (gsize i = 0; i < G_N_ELEMENTS (stop_words); i++)
    if (strcmp (word, stop_words[i]) == 0)
      return TRUE;
  return FALSE;
}

/* Same word, or one extends the other by a likely inflection (see STEM_MIN_CHARS). */
static gboolean
words_match (const char *a, guint a_chars, const char *b, guint b_chars)
{
  if (a_chars > b_chars)
    return words_match (b, b_chars, a, a_chars);
  if (a_chars == b_chars)
    return strcmp (a, b) == 0;
  return a_chars >= STEM_MIN_CHARS && b_chars - a_chars <= STEM_MAX_EXTRA
         && strncmp (a, b, strlen (a)) == 0;
}

/* Fills @question with the distinct informative words of @text; returns how many words
 * @text has in all. */
static guint
read_question (const char *text, Question *question, GString *folded)
{
  const char *end = text + strlen (text);
  const char *word, *word_end;
  guint n_words = 0;

  for (const char *p = text; next_word (&p, end, &word, &word_end);) {
    n_words++;
    guint chars = fold_word (word, word_end, folded);
    /* One Latin letter or digit says nothing ("a", "I", "x"); one ideograph may. */
    if ((chars == 1 && (guchar) folded->str[0] < 0x80) || is_stop_word (folded->str))
      continue;
    gboolean seen = FALSE;
    for (guint i = 0; i < question->n && !seen; i++)
      seen = strcmp (question->words[i], folded->str) == 0;
    if (seen || question->n == MAX_QUESTION_WORDS)
      continue;
    question->chars[question->n] = chars;
    question->words[question->n++] = g_strdup (folded->str);
  }
  return n_words;
}

/* Controls (form feeds and the like from PDFs) separate words as spaces do. */
static gboolean
is_space (gunichar c)
{
  return g_unichar_isspace (c) || g_unichar_type (c) == G_UNICODE_CONTROL;
}

static const char *
skip_space (const char *p)
{
  while (*p != '\0' && is_space (g_utf8_get_char (p)))
    p = g_utf8_next_char (p);
  return p;
}

/* Just past a sentence that ends with @terminator at @p (its closing quotes and brackets
 * included), or NULL when it does not end there: a full stop inside a number or a name
 * ("3.5", "example.org"), or one before a lower-case word ("e.g. this", "approx. ten"). */
static const char *
after_terminator (gunichar terminator, const char *p)
{
  while (*p != '\0' && sr_unichar_closes (g_utf8_get_char (p)))
    p = g_utf8_next_char (p);
  if (*p == '\0' || sr_unichar_ends_sentence_wide (terminator))
    return p;
  if (!is_space (g_utf8_get_char (p)))
    return NULL;
  if (terminator == '.' && g_unichar_islower (g_utf8_get_char (skip_space (p))))
    return NULL;
  return p;
}

/* A line with nothing on it after @p, a paragraph break: headings and list items end
 * there even without a full stop. */
static gboolean
is_blank_line (const char *p)
{
  while (*p == ' ' || *p == '\t' || *p == '\r')
    p++;
  return *p == '\n';
}

/* Where the sentence that starts at @start ends. A single line break does not end one:
 * extracted text (PDF above all) breaks lines inside sentences. */
static const char *
sentence_end (const char *start)
{
  const char *line_break = NULL, *space = NULL;
  guint chars = 0;
  const char *p = start;

  for (; *p != '\0'; chars++) {
    if (chars == SENTENCE_MAX_CHARS)
      return line_break != NULL ? line_break : space != NULL ? space : p;
    gunichar c = g_utf8_get_char (p);
    const char *next = g_utf8_next_char (p);
    if (sr_unichar_ends_sentence (c)) {
      const char *after = after_terminator (c, next);
      if (after != NULL)
        return after;
    } else if (c == '\n') {
      if (is_blank_line (next))
        return p;
      line_break = p;
    } else if (is_space (c)) {
      space = p;
    }
    p = next;
  }
  return p;
}

/* The words of @sentence that match question words: sets its matched bits and counts. */
static void
match_words (Sentence *sentence, const Question *question, GString *folded)
{
  const char *word, *word_end;

  for (const char *p = sentence->start; next_word (&p, sentence->end, &word, &word_end);) {
    sentence->n_words++;
    guint chars = fold_word (word, word_end, folded);
    for (guint i = 0; i < question->n; i++)
      if (words_match (folded->str, chars, question->words[i], question->chars[i]))
        sentence->matched |= G_GUINT64_CONSTANT (1) << i;
  }
}

/* Appends the sentences of source @index to @sentences; returns how many words it has. */
static guint
read_source (const char *text, guint index, const Question *question, GArray *sentences,
             GString *folded)
{
  guint n_words = 0;

  for (const char *start = skip_space (text); *start != '\0';) {
    const char *end = sentence_end (start);
    const char *next = skip_space (end);
    while (end > start && is_space (g_utf8_get_char (g_utf8_prev_char (end))))
      end = g_utf8_prev_char (end);
    Sentence sentence = { start, end, index, sentences->len, 0, 0, 0.0 };
    match_words (&sentence, question, folded);
    n_words += sentence.n_words;
    g_array_append_val (sentences, sentence);
    start = next;
  }
  return n_words;
}

/* IDF over sentences rather than sources: a handful of sources says little about how
 * rare a word is, their sentences say more. BM25's form, which stays above zero for a word
 * in every sentence. */
static void
weigh_question_words (Question *question, const GArray *sentences)
{
  for (guint i = 0; i < question->n; i++) {
    guint df = 0;
    for (guint s = 0; s < sentences->len; s++)
      df += (g_array_index (sentences, Sentence, s).matched >> i) & 1;
    question->idf[i] = log (1.0 + (sentences->len - df + 0.5) / (df + 0.5));
  }
}

static double
score (const Sentence *sentence, const Question *question)
{
  double sum = 0.0;
  guint matched = 0;

  for (guint i = 0; i < question->n; i++) {
    if ((sentence->matched >> i) & 1) {
      sum += question->idf[i];
      matched++;
    }
  }
  if (matched == 0)
    return 0.0;
  return sum * (1.0 + COVERAGE_BONUS * (matched - 1)) * (1.0 + RANK_BONUS / (sentence->source + 1))
         / (1.0 + sentence->n_words / LONG_SENTENCE_WORDS);
}

/* Best first; equal scores in text order, so that the answer never depends on how the
 * sort happens to order ties. */
static gint
by_score (gconstpointer a, gconstpointer b)
{
  const Sentence *x = a, *y = b;
  if (x->score != y->score)
    return x->score > y->score ? -1 : 1;
  return x->position < y->position ? -1 : x->position > y->position;
}

/* Appends the sentence with every run of spaces and line breaks made one space. */
static void
append_collapsed (GString *out, const Sentence *sentence)
{
  gboolean in_space = FALSE;

  for (const char *p = sentence->start; p < sentence->end; p = g_utf8_next_char (p)) {
    if (is_space (g_utf8_get_char (p))) {
      in_space = TRUE;
      continue;
    }
    if (in_space)
      g_string_append_c (out, ' ');
    in_space = FALSE;
    g_string_append_len (out, p, g_utf8_next_char (p) - p);
  }
}

/* The same text, or the one inside the other: retrieved chunks overlap, so a sentence (or
 * the part of it a chunk begins with) often comes twice. */
static gboolean
repeats (const char *text, char *const *picked_texts, guint n_picked)
{
  for (guint i = 0; i < n_picked; i++)
    if (strstr (picked_texts[i], text) != NULL || strstr (text, picked_texts[i]) != NULL)
      return TRUE;
  return FALSE;
}

static gboolean
quotes_source (const Sentence **picked, guint n_picked, guint source)
{
  for (guint i = 0; i < n_picked; i++)
    if (picked[i]->source == source)
      return TRUE;
  return FALSE;
}

/* Chooses from @sorted (best first) into @picked; returns how many. */
static guint
pick (const GArray *sorted, const Sentence **picked)
{
  char *texts[ANSWER_MAX_SENTENCES] = { NULL };
  guint n = 0;
  glong chars = 0;

  for (guint s = 0; s < sorted->len && n < ANSWER_MAX_SENTENCES; s++) {
    const Sentence *sentence = &g_array_index (sorted, Sentence, s);
    if (sentence->score <= 0.0 || (n > 0 && sentence->score < SAME_SOURCE_FLOOR * picked[0]->score))
      break;
    if (n > 0 && sentence->score < OTHER_SOURCE_FLOOR * picked[0]->score
        && !quotes_source (picked, n, sentence->source))
      continue;
    g_autoptr (GString) text = g_string_new (NULL);
    append_collapsed (text, sentence);
    glong length = g_utf8_strlen (text->str, text->len);
    if ((n > 0 && chars + 1 + length > ANSWER_MAX_CHARS) || repeats (text->str, texts, n))
      continue;
    chars += length + (n > 0);
    texts[n] = g_string_free (g_steal_pointer (&text), FALSE);
    picked[n++] = sentence;
  }
  for (guint i = 0; i < n; i++)
    g_free (texts[i]);
  return n;
}

/* The picked sentences grouped by source, each group followed by its citation. Groups come
 * in the order of their best sentence, so the answer opens with what answers best; within
 * a group sentences keep the source's order, since a sentence often leans on the one
 * before ("It opens at ten") and one citation then covers them all. */
static void
write_answer (GString *answer, const Sentence **picked, guint n_picked,
              const SrGenerateRequest *request)
{
  for (guint g = 0; g < n_picked; g++) {
    guint source = picked[g]->source;
    if (quotes_source (picked, g, source))
      continue; /* written with the group of an earlier, better sentence */
    const Sentence *group[ANSWER_MAX_SENTENCES];
    guint n_group = 0;
    for (guint i = g; i < n_picked; i++) {
      if (picked[i]->source != source)
        continue;
      guint at = n_group++;
      for (; at > 0 && group[at - 1]->position > picked[i]->position; at--)
        group[at] = group[at - 1];
      group[at] = picked[i];
    }
    for (guint i = 0; i < n_group; i++) {
      if (answer->len > 0)
        g_string_append_c (answer, ' ');
      append_collapsed (answer, group[i]);
    }
    g_string_append_printf (answer, " [%u]", request->sources[source].number);
  }
}

/* The whole answer; *@prompt_tokens counts the words read, the question's and the
 * sources'. The conversation history is not read: an extractive answer can only quote. */
static char *
compose_answer (const SrGenerateRequest *request, guint *prompt_tokens)
{
  g_auto (Question) question = { 0 };
  g_autoptr (GString) folded = g_string_new (NULL);
  g_autoptr (GArray) sentences = g_array_new (FALSE, FALSE, sizeof (Sentence));

  *prompt_tokens = read_question (request->question, &question, folded);
  for (guint i = 0; i < request->n_sources; i++)
    *prompt_tokens += read_source (request->sources[i].text, i, &question, sentences, folded);
  weigh_question_words (&question, sentences);
  for (guint s = 0; s < sentences->len; s++) {
    Sentence *sentence = &g_array_index (sentences, Sentence, s);
    sentence->score = score (sentence, &question);
  }
  g_array_sort (sentences, by_score);

  const Sentence *picked[ANSWER_MAX_SENTENCES];
  guint n_picked = pick (sentences, picked);
  if (n_picked == 0)
    return g_strdup (_ ("The documents in this session do not answer this question."));
  GString *answer = g_string_sized_new (ANSWER_MAX_CHARS + 64);
  write_answer (answer, picked, n_picked, request);
  return g_string_free (answer, FALSE);
}

/* One answer being given, a token per main loop iteration. */
typedef struct {
  char *answer;
  gsize length;
  gsize offset;     /* where the next token starts */
  char *token_text; /* the token being given, on its own */
  guint max_tokens; /* 0: no limit */
  SrGenerateStats stats;
  GCancellable *cancellable;
  SrTokenFunc token;
  SrGenerateDone done;
  gpointer user_data;
  struct Builtin *owner;
  GSource *source; /* gives the tokens; owns the job */
} Job;

typedef struct Builtin {
  SrGenerator parent;
  GHashTable *running; /* Job* */
} Builtin;

static void
job_free (gpointer data)
{
  Job *job = data;
  g_hash_table_remove (job->owner->running, job);
  g_free (job->answer);
  g_free (job->token_text);
  g_clear_object (&job->cancellable);
  g_free (job);
}

/* Where the token at @offset ends: a word and the spaces after it, as a language model's
 * tokens carry their spacing. The answer's spaces are ASCII (see append_collapsed), and no
 * byte of a multi-byte character is, so a token never splits a character. */
static gsize
token_end (const char *answer, gsize offset)
{
  while (answer[offset] != '\0' && !g_ascii_isspace (answer[offset]))
    offset++;
  while (g_ascii_isspace (answer[offset]))
    offset++;
  return offset;
}

static void
job_cancelled (Job *job)
{
  g_autoptr (GError) error = g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED,
                                                  _ ("The answer was cancelled"));
  job->done (&job->stats, error, job->user_data);
}

static gboolean
give_token (gpointer data)
{
  Job *job = data;

  if (g_cancellable_is_cancelled (job->cancellable)) {
    job_cancelled (job);
    return G_SOURCE_REMOVE;
  }
  if (job->offset < job->length) {
    gsize end = token_end (job->answer, job->offset);
    memcpy (job->token_text, job->answer + job->offset, end - job->offset);
    job->token_text[end - job->offset] = '\0';
    job->offset = end;
    job->stats.answer_tokens++;
    job->token (job->token_text, job->user_data);
  }
  gboolean limited = job->max_tokens > 0 && job->stats.answer_tokens >= job->max_tokens;
  if (job->offset < job->length && !limited)
    return G_SOURCE_CONTINUE;
  /* In the same iteration as the last token: the answer is complete, and a cancel that
   * comes after it has nothing left to stop. */
  job->done (&job->stats, NULL, job->user_data);
  return G_SOURCE_REMOVE;
}

/* The answer is composed before this returns, in microseconds for a few sources, so
 * nothing of @request is kept and the caller may free it at once. */
static void
builtin_generate (SrGenerator *self, const SrGenerateRequest *request, GCancellable *cancellable,
                  SrTokenFunc token, SrGenerateDone done, gpointer user_data)
{
  Builtin *builtin = (Builtin *) self;
  Job *job = g_new0 (Job, 1);
  job->owner = builtin;
  job->answer = compose_answer (request, &job->stats.prompt_tokens);
  job->length = strlen (job->answer);
  job->token_text = g_malloc (job->length + 1);
  job->max_tokens = request->max_tokens;
  job->stats.model = BUILTIN_MODEL;
  job->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  job->token = token;
  job->done = done;
  job->user_data = user_data;

  /* Default priority rather than idle: an idle source waits while anything else is ready,
   * so steady work elsewhere (ingestion progress) would stall the answer. At this priority
   * each iteration gives one token and still dispatches everything else that is ready,
   * a cancel included. */
  g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();
  g_autoptr (GSource) source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, give_token, job, job_free);
  g_source_set_static_name (source, "[smartrag] extractive answer");
  job->source = source;
  g_hash_table_add (builtin->running, job);
  g_source_attach (source, context);
}

/* Answers still being given end now, cancelled, as the interface asks: their callers
 * hear of it rather than waiting for a loop that may not run again. */
static void
builtin_free (SrGenerator *self)
{
  Builtin *builtin = (Builtin *) self;
  /* Destroying a source frees its job, which leaves the table: walk a copy. */
  g_autoptr (GList) running = g_hash_table_get_keys (builtin->running);
  for (GList *l = running; l != NULL; l = l->next) {
    Job *job = l->data;
    job_cancelled (job);
    g_source_destroy (job->source);
  }
  g_hash_table_unref (builtin->running);
  g_free (builtin);
}

static const SrGeneratorClass builtin_class = {
  .name = "builtin",
  .generate = builtin_generate,
  .free = builtin_free,
};

SrGenerator *
sr_generator_builtin_new (void)
{
  Builtin *builtin = g_new0 (Builtin, 1);
  builtin->parent.klass = &builtin_class;
  builtin->parent.model = g_strdup (BUILTIN_MODEL);
  builtin->running = g_hash_table_new (NULL, NULL);
  return &builtin->parent;
}
