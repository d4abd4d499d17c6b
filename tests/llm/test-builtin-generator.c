/* Unit tests for llm/: the builtin extractive generator's answers, streaming and checks. */
#include "llm/generator.h"

#include <string.h>

#include "common/errors.h"
#include "varied-text.h"

#define NO_ANSWER "The documents in this session do not answer this question."

/* One generation, watched: every callback checks the streaming rules as it comes. */
typedef struct {
  GMainContext *context;
  GPtrArray *tokens;
  GString *text;
  gboolean generating; /* inside sr_generator_generate(): no callback may run then */
  guint done_calls;
  GError *error;
  char *model;
  SrGenerateStats stats;
  GCancellable *cancel_at_first; /* cancelled by the first token */
} Run;

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->context, g_main_context_unref);
  g_clear_pointer (&run->tokens, g_ptr_array_unref);
  if (run->text != NULL)
    g_string_free (g_steal_pointer (&run->text), TRUE);
  g_clear_error (&run->error);
  g_clear_pointer (&run->model, g_free);
  g_clear_object (&run->cancel_at_first);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

static void
on_token (const char *text, gpointer user_data)
{
  Run *run = user_data;

  g_assert_false (run->generating);
  g_assert_cmpuint (run->done_calls, ==, 0);
  g_assert_true (g_main_context_is_owner (run->context));
  g_assert_nonnull (text);
  g_assert_cmpstr (text, !=, "");
  g_assert_true (g_utf8_validate (text, -1, NULL));
  g_ptr_array_add (run->tokens, g_strdup (text));
  g_string_append (run->text, text);
  if (run->cancel_at_first != NULL && run->tokens->len == 1)
    g_cancellable_cancel (run->cancel_at_first);
}

static void
on_done (const SrGenerateStats *stats, const GError *error, gpointer user_data)
{
  Run *run = user_data;

  g_assert_false (run->generating);
  g_assert_true (g_main_context_is_owner (run->context));
  run->done_calls++;
  g_assert_cmpuint (run->done_calls, ==, 1);
  run->stats = *stats;
  run->model = g_strdup (stats->model);
  run->stats.model = run->model;
  run->error = error != NULL ? g_error_copy (error) : NULL;
}

/* Starts @request on a context of the run's own, made thread-default, as a caller's
 * worker thread or the daemon's main loop would be. */
static void
run_start (Run *run, SrGenerator *generator, const SrGenerateRequest *request,
           GCancellable *cancellable)
{
  run->context = g_main_context_new ();
  run->tokens = g_ptr_array_new_with_free_func (g_free);
  run->text = g_string_new (NULL);
  g_main_context_push_thread_default (run->context);
  run->generating = TRUE;
  sr_generator_generate (generator, request, cancellable, on_token, on_done, run);
  run->generating = FALSE;
}

/* Iterates until done, one token at most per iteration; then checks how the tokens cut
 * the answer: each a word and the spaces after it. */
static void
run_finish (Run *run)
{
  while (run->done_calls == 0) {
    guint before = run->tokens->len;
    g_main_context_iteration (run->context, TRUE);
    g_assert_cmpuint (run->tokens->len - before, <=, 1);
  }
  /* Nothing more comes after done. */
  while (g_main_context_iteration (run->context, FALSE))
    ;
  g_assert_cmpuint (run->done_calls, ==, 1);
  g_main_context_pop_thread_default (run->context);

  g_assert_cmpuint (run->stats.answer_tokens, ==, run->tokens->len);
  for (guint i = 0; i < run->tokens->len; i++) {
    const char *token = run->tokens->pdata[i];
    gsize length = strlen (token);
    gsize word = 0;
    while (word < length && !g_ascii_isspace (token[word]))
      word++;
    g_assert_cmpuint (word, >, 0);
    for (gsize j = word; j < length; j++)
      g_assert_true (g_ascii_isspace (token[j]));
    if (i + 1 < run->tokens->len)
      g_assert_cmpuint (word, <, length);
  }
}

static void
run_generate (Run *run, SrGenerator *generator, const SrGenerateRequest *request,
              GCancellable *cancellable)
{
  run_start (run, generator, request, cancellable);
  run_finish (run);
}

/* The answer to @question from @texts, numbered from 1; a complete one is required. */
static char *
answer_with (SrGenerator *generator, const char *question, const char *const *texts)
{
  guint n = texts != NULL ? g_strv_length ((char **) texts) : 0;
  g_autofree SrPromptSource *sources = g_new0 (SrPromptSource, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    sources[i] = (SrPromptSource){ i + 1, "notes.txt", 0, "", texts[i] };
  SrGenerateRequest request = {
    .question = question, .sources = n > 0 ? sources : NULL, .n_sources = n, .temperature = -1.0
  };
  g_auto (Run) run = { 0 };

  run_generate (&run, generator, &request, NULL);
  g_assert_no_error (run.error);
  g_assert_cmpstr (run.model, ==, "extractive");
  g_assert_false (strchr (run.text->str, '\n'));
  return g_string_free (g_steal_pointer (&run.text), FALSE);
}

static char *
answer (const char *question, const char *const *texts)
{
  g_autoptr (SrGenerator) generator = sr_generator_builtin_new ();
  return answer_with (generator, question, texts);
}

static guint
count (const char *haystack, const char *needle)
{
  guint n = 0;
  for (const char *p = haystack; (p = strstr (p, needle)) != NULL; p += strlen (needle))
    n++;
  return n;
}

static const char *const museum[]
    = { "The museum is located in the old town. It was founded in 1885 by the city council. Guided "
        "tours take about an hour.",
        "Tickets cost twelve euros for adults. The museum opens at nine o'clock on weekdays and at "
        "ten on Sundays. Children under six enter free.",
        "The café on the ground floor serves coffee and cake. It closes an hour after the museum. "
        "Free wifi is available.",
        NULL };

static void
test_defaults (void)
{
  g_autoptr (SrGenerator) generator = sr_generator_builtin_new ();

  g_assert_cmpstr (generator->klass->name, ==, "builtin");
  g_assert_cmpstr (generator->model, ==, "extractive");
}

static void
test_cites_source (void)
{
  g_autofree char *text = answer ("When does the museum open on Sundays?", museum);

  g_assert_cmpstr (text, ==,
                   "The museum opens at nine o'clock on weekdays and at ten on Sundays. [2]");
}

/* Each sentence of the answer, citations taken out, is one of @sentences, whole. */
static void
assert_whole_sentences (const char *text, const char *const *sentences)
{
  g_autoptr (GRegex) citation = g_regex_new (" \\[[0-9]+\\]", 0, 0, NULL);
  g_autofree char *plain = g_regex_replace_literal (citation, text, -1, 0, "", 0, NULL);
  const char *p = plain;

  while (*p != '\0') {
    const char *found = NULL;
    for (guint i = 0; sentences[i] != NULL && found == NULL; i++)
      if (g_str_has_prefix (p, sentences[i]))
        found = sentences[i];
    if (found == NULL)
      g_error ("Not a whole sentence of the sources at: %s", p);
    p += strlen (found);
    if (*p == ' ')
      p++;
  }
}

static void
test_whole_sentences (void)
{
  /* Double spaces, a line break inside a sentence, abbreviations and a decimal point. */
  const char *const texts[] = {
    "Backups run every night at two o'clock.  They are kept for 30 days, e.g. the backup\nof "
    "March 3 is deleted on April 2.",
    "The version 2.5 release added encryption of backups with AES-256.\n\nRestoring a backup "
    "takes about ten\n   minutes (approx. one minute per gigabyte). Ask the administrator if a "
    "backup is missing!",
    NULL
  };
  const char *const sentences[]
      = { "Backups run every night at two o'clock.",
          "They are kept for 30 days, e.g. the backup of March 3 is deleted on April 2.",
          "The version 2.5 release added encryption of backups with AES-256.",
          "Restoring a backup takes about ten minutes (approx. one minute per gigabyte).",
          "Ask the administrator if a backup is missing!",
          NULL };
  g_autofree char *text
      = answer ("How many days are backups kept, and how long does restoring take?", texts);

  assert_whole_sentences (text, sentences);
  g_assert_nonnull (strstr (text, sentences[1]));
  g_assert_nonnull (strstr (text, sentences[3]));
}

static void
test_no_answer_unrelated (void)
{
  g_autofree char *text = answer ("Which planet has the most moons?", museum);

  g_assert_cmpstr (text, ==, NO_ANSWER);
}

static void
test_no_answer_no_sources (void)
{
  g_autofree char *text = answer ("When does the museum open on Sundays?", NULL);
  g_autofree char *only_common_words = answer ("What is it and where?", museum);

  g_assert_cmpstr (text, ==, NO_ANSWER);
  g_assert_cmpstr (only_common_words, ==, NO_ANSWER);
}

static void
test_folding (void)
{
  const char *const accented[]
      = { "The bakery sells bread and rolls.", "Our CAFÉ serves breakfast until eleven.", NULL };
  const char *const plain[]
      = { "The bakery sells bread and rolls.", "The cafe opens early in the morning.", NULL };
  /* Decomposed: "e" and a combining acute accent. */
  const char *const decomposed[] = { "Une tasse au cafe\u0301 du coin.", NULL };
  g_autofree char *a = answer ("Until when does the cafe serve breakfast?", accented);
  g_autofree char *b = answer ("CAFÉ?", plain);
  g_autofree char *c = answer ("Café", decomposed);

  g_assert_cmpstr (a, ==, "Our CAFÉ serves breakfast until eleven. [2]");
  g_assert_cmpstr (b, ==, "The cafe opens early in the morning. [2]");
  g_assert_cmpstr (c, ==, "Une tasse au cafe\u0301 du coin. [1]");
}

static void
test_streaming (void)
{
  g_autoptr (SrGenerator) generator = sr_generator_builtin_new ();
  SrPromptSource sources[] = {
    { 1, "a.txt", 0, NULL, "The museum opens at nine." },
  };
  SrGenerateRequest request = { "When does the museum open?", sources, 1 };
  g_auto (Run) run = { 0 };

  run_start (&run, generator, &request, NULL);
  g_assert_cmpuint (run.tokens->len, ==, 0);
  g_assert_cmpuint (run.done_calls, ==, 0);
  g_assert_true (g_main_context_iteration (run.context, FALSE));
  g_assert_cmpuint (run.tokens->len, ==, 1);
  g_assert_cmpstr (run.tokens->pdata[0], ==, "The ");
  run_finish (&run);

  g_assert_no_error (run.error);
  const char *expected[] = { "The ", "museum ", "opens ", "at ", "nine. ", "[1]" };
  g_assert_cmpuint (run.tokens->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpstr (run.tokens->pdata[i], ==, expected[i]);
  g_assert_cmpstr (run.text->str, ==, "The museum opens at nine. [1]");
  /* Words read: five of the question, five of the source. */
  g_assert_cmpuint (run.stats.prompt_tokens, ==, 10);
  g_assert_cmpuint (run.stats.answer_tokens, ==, 6);
}

static void
test_cancel_after_first (void)
{
  g_autoptr (SrGenerator) generator = sr_generator_builtin_new ();
  g_autofree SrPromptSource *sources = g_new0 (SrPromptSource, 3);
  for (guint i = 0; i < 3; i++)
    sources[i] = (SrPromptSource){ i + 1, "museum.txt", 0, NULL, museum[i] };
  SrGenerateRequest request = { "When does the museum open on Sundays?", sources, 3 };
  g_auto (Run) run = { 0 };

  run.cancel_at_first = g_cancellable_new ();
  run_generate (&run, generator, &request, run.cancel_at_first);
  g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED);
  g_assert_cmpuint (run.tokens->len, ==, 1);
  g_assert_cmpstr (run.text->str, ==, "The ");
  g_assert_cmpuint (run.stats.answer_tokens, ==, 1);
}

static void
test_cancel_before (void)
{
  g_autoptr (SrGenerator) generator = sr_generator_builtin_new ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  SrPromptSource sources[] = { { 1, "a.txt", 0, NULL, "The museum opens at nine." } };
  SrGenerateRequest request = { "When does the museum open?", sources, 1 };
  g_auto (Run) run = { 0 };

  g_cancellable_cancel (cancellable);
  run_generate (&run, generator, &request, cancellable);
  g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED);
  g_assert_cmpuint (run.tokens->len, ==, 0);
}

static void
test_deterministic (void)
{
  /* Ties everywhere: the same sentence scores alike wherever it is. */
  const char *const texts[] = {
    "Port 8080 is used by the proxy. Port 8080 must be open.",
    "Port 8080 is used by the proxy. The proxy logs to syslog.",
    "Port 8080 must be open. Port 8080 is used by the proxy.",
    NULL,
  };
  const char *question = "Which port does the proxy use?";
  g_autoptr (SrGenerator) one = sr_generator_builtin_new ();
  g_autoptr (SrGenerator) two = sr_generator_builtin_new ();
  g_autofree char *a = answer_with (one, question, texts);
  g_autofree char *b = answer_with (one, question, texts);
  g_autofree char *c = answer_with (two, question, texts);

  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, ==, c);
  /* The repeated sentence is given once. */
  g_assert_cmpuint (count (a, "Port 8080 is used by the proxy."), ==, 1);
  g_assert_true (g_str_has_prefix (a, "Port 8080 is used by the proxy."));
}

static void
test_overlapping_sources (void)
{
  /* Adjacent chunks repeat the end of the one before, in part. */
  const char *const texts[] = {
    "The filter is cleaned weekly. The pump must be serviced every six months by a technician.",
    "serviced every six months by a technician. Spare parts are kept in the basement.",
    NULL,
  };
  g_autofree char *text = answer ("How often must the pump be serviced?", texts);

  g_assert_cmpstr (text, ==, "The pump must be serviced every six months by a technician. [1]");
}

static void
test_long_source (void)
{
  const char *needle = "The emergency generator starts within fifteen seconds.";
  SrTestRandom random = { 42 };
  g_autoptr (GString) text = g_string_new (NULL);
  sr_test_append_mixed (text, &random, 50 * 1024);
  g_string_append_printf (text, "\n\n%s\n\n", needle);
  sr_test_append_mixed (text, &random, 50 * 1024);
  const char *const texts[] = { text->str, NULL };

  g_autofree char *found = answer ("How fast does the emergency generator start?", texts);
  g_assert_nonnull (strstr (found, needle));
  g_assert_nonnull (strstr (found, "[1]"));

  /* 100 kB that never ends a sentence: still an answer of bounded length. */
  g_autoptr (GString) endless = g_string_new (NULL);
  sr_test_append_prose (endless, &random, &sr_test_ascii, 100 * 1024, FALSE);
  const char *const endless_texts[] = { endless->str, NULL };
  g_autofree char *bounded = answer ("What about retrieval and vectors?", endless_texts);
  g_assert_cmpstr (bounded, !=, NO_ANSWER);
  g_assert_cmpint (g_utf8_strlen (bounded, -1), <=, 600 + 4);
}

static void
test_german (void)
{
  const char *const texts[] = {
    "Die Bibliothek befindet sich im Rathaus. Sie wurde 1950 gegründet.",
    "Die Öffnungszeiten der Bibliothek sind montags bis freitags von 9 bis 18 Uhr. Am Samstag "
    "bleibt sie geschlossen.",
    "Die Straße vor dem Rathaus ist wegen Bauarbeiten gesperrt.",
    NULL,
  };
  g_autofree char *saturday = answer ("Wann hat die Bibliothek am Samstag geöffnet?", texts);
  g_autofree char *hours = answer ("Welche ÖFFNUNGSZEITEN hat die Bibliothek?", texts);
  g_autofree char *street = answer ("Welche Strasse ist gesperrt?", texts);

  /* The sentence before the answer comes along from its passage; the other passage's
   * sentence that shares only "Bibliothek" does not. */
  g_assert_cmpstr (saturday, ==,
                   "Die Öffnungszeiten der Bibliothek sind montags bis freitags von 9 bis 18 "
                   "Uhr. Am Samstag bleibt sie geschlossen. [2]");
  g_assert_cmpstr (hours, ==,
                   "Die Öffnungszeiten der Bibliothek sind montags bis freitags von 9 bis 18 "
                   "Uhr. [2]");
  g_assert_cmpstr (street, ==, "Die Straße vor dem Rathaus ist wegen Bauarbeiten gesperrt. [3]");
}

static void
test_request_copied (void)
{
  g_autoptr (SrGenerator) generator = sr_generator_builtin_new ();
  SrPromptSource *sources = g_new0 (SrPromptSource, 1);
  sources[0] = (SrPromptSource){ 1, g_strdup ("a.txt"), 0, g_strdup (""),
                                 g_strdup ("The museum opens at nine.") };
  SrGenerateRequest *request = g_new0 (SrGenerateRequest, 1);
  request->question = g_strdup ("When does the museum open?");
  request->sources = sources;
  request->n_sources = 1;
  g_auto (Run) run = { 0 };

  run_start (&run, generator, request, NULL);
  g_free ((char *) sources[0].filename);
  g_free ((char *) sources[0].heading);
  g_free ((char *) sources[0].text);
  g_free (sources);
  g_free ((char *) request->question);
  g_free (request);
  run_finish (&run);

  g_assert_no_error (run.error);
  g_assert_cmpstr (run.text->str, ==, "The museum opens at nine. [1]");
}

/* Freeing the generator ends what it still gives, cancelled, before free returns: nothing
 * may wait for a loop that will not run again. */
static void
test_free_ends_answers (void)
{
  SrGenerator *generator = sr_generator_builtin_new ();
  SrPromptSource source = { 1, "a.txt", 0, "", "The museum opens at nine. It closes at six." };
  SrGenerateRequest request
      = { .question = "When does the museum open?", .sources = &source, .n_sources = 1 };
  g_auto (Run) run = { 0 };

  run_start (&run, generator, &request, NULL);
  g_main_context_iteration (run.context, TRUE);
  g_assert_cmpuint (run.tokens->len, ==, 1);
  sr_generator_free (generator);
  g_assert_cmpuint (run.done_calls, ==, 1);
  g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED);
  /* Its source is gone with it. */
  g_assert_false (g_main_context_iteration (run.context, FALSE));
  g_main_context_pop_thread_default (run.context);
}

static void
test_max_tokens (void)
{
  g_autoptr (SrGenerator) generator = sr_generator_builtin_new ();
  SrPromptSource sources[] = { { 1, "a.txt", 0, NULL, "The museum opens at nine." } };
  SrGenerateRequest request = { "When does the museum open?", sources, 1, .max_tokens = 3 };
  g_auto (Run) run = { 0 };

  run_generate (&run, generator, &request, NULL);
  g_assert_no_error (run.error);
  g_assert_cmpstr (run.text->str, ==, "The museum opens ");
}

static void
test_invalid_request (void)
{
  g_autoptr (SrGenerator) generator = sr_generator_builtin_new ();
  SrPromptSource sources[] = { { 1, "a.txt", 0, NULL, "Bad \xff byte." } };
  SrGenerateRequest bad_source = { "Which byte?", sources, 1 };
  SrGenerateRequest no_question = { NULL, NULL, 0 };
  SrGenerateRequest missing_sources = { "Which byte?", NULL, 2 };
  const SrGenerateRequest *requests[] = { &bad_source, &no_question, &missing_sources };

  for (guint i = 0; i < G_N_ELEMENTS (requests); i++) {
    g_auto (Run) run = { 0 };
    run_generate (&run, generator, requests[i], NULL);
    g_assert_error (run.error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
    g_assert_cmpuint (run.tokens->len, ==, 0);
    g_assert_cmpstr (run.model, ==, "extractive");
  }
}

/* Text in many scripts with odd separators: answers are valid UTF-8 (checked by every
 * token), single-line, and cut into tokens as everywhere else. */
static void
test_mixed_scripts (void)
{
  g_autoptr (SrGenerator) generator = sr_generator_builtin_new ();
  const char *const questions[]
      = { "Where is the café in Москва?", "東京 index",       "résumé x²",
          "retrieval of vectors",         "ﬁnancial STRASSE", "مرحبا كتاب" };

  for (guint seed = 1; seed <= 30; seed++) {
    SrTestRandom random = { seed };
    g_autoptr (GString) one = g_string_new (NULL);
    g_autoptr (GString) two = g_string_new (NULL);
    sr_test_append_mixed (one, &random, 2000);
    sr_test_append_mixed (two, &random, 2000);
    const char *const texts[] = { one->str, two->str, NULL };
    const char *question = questions[seed % G_N_ELEMENTS (questions)];
    g_autofree char *text = answer_with (generator, question, texts);
    g_assert_cmpstr (text, !=, "");
    g_assert_cmpint (g_utf8_strlen (text, -1), <=, 600 + 2 * 4);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/llm/builtin/defaults", test_defaults);
  g_test_add_func ("/llm/builtin/cites-source", test_cites_source);
  g_test_add_func ("/llm/builtin/whole-sentences", test_whole_sentences);
  g_test_add_func ("/llm/builtin/no-answer/unrelated", test_no_answer_unrelated);
  g_test_add_func ("/llm/builtin/no-answer/no-sources", test_no_answer_no_sources);
  g_test_add_func ("/llm/builtin/folding", test_folding);
  g_test_add_func ("/llm/builtin/streaming", test_streaming);
  g_test_add_func ("/llm/builtin/cancel/after-first-token", test_cancel_after_first);
  g_test_add_func ("/llm/builtin/cancel/before-start", test_cancel_before);
  g_test_add_func ("/llm/builtin/deterministic", test_deterministic);
  g_test_add_func ("/llm/builtin/overlapping-sources", test_overlapping_sources);
  g_test_add_func ("/llm/builtin/long-source", test_long_source);
  g_test_add_func ("/llm/builtin/german", test_german);
  g_test_add_func ("/llm/builtin/request-copied", test_request_copied);
  g_test_add_func ("/llm/builtin/free-ends-answers", test_free_ends_answers);
  g_test_add_func ("/llm/builtin/max-tokens", test_max_tokens);
  g_test_add_func ("/llm/generator/invalid-request", test_invalid_request);
  g_test_add_func ("/llm/builtin/mixed-scripts", test_mixed_scripts);
  return g_test_run ();
}
