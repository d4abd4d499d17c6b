/* Unit tests for rag/prompt: the messages a chat model gets, and the history budget. */
#include "rag/prompt.h"

#include <string.h>

static const SrPromptSource sources[] = {
  { 1, "guide.pdf", 4, "Bridges > Colours", "The bridge was painted green in 2004.\n" },
  { 2, "notes.txt", 0, "", "Nothing about bridges." },
  { 3, NULL, 0, NULL, "A source without a name." },
};

static SrGenerateRequest
request_with (const SrChatTurn *history, guint n_history)
{
  return (SrGenerateRequest){
    .question = "What colour is the bridge?",
    .sources = sources,
    .n_sources = G_N_ELEMENTS (sources),
    .history = history,
    .n_history = n_history,
    .temperature = -1.0,
  };
}

static const SrChatMessage *
message_at (GPtrArray *messages, guint i)
{
  g_assert_cmpuint (i, <, messages->len);
  return messages->pdata[i];
}

static void
test_estimate (void)
{
  g_assert_cmpuint (sr_prompt_estimate_tokens (""), ==, 0);
  g_assert_cmpuint (sr_prompt_estimate_tokens ("abcd"), ==, 1);
  g_assert_cmpuint (sr_prompt_estimate_tokens ("abcde"), ==, 2);
  /* Characters, not bytes: eight bytes of UTF-8 are four characters. */
  g_assert_cmpuint (sr_prompt_estimate_tokens ("äöüß"), ==, 1);
}

static void
test_system_first (void)
{
  SrGenerateRequest request = request_with (NULL, 0);
  g_autoptr (GPtrArray) messages = sr_prompt_build (&request, 1000);

  g_assert_cmpuint (messages->len, ==, 2);
  const SrChatMessage *system = message_at (messages, 0);
  g_assert_cmpstr (system->role, ==, "system");
  /* What the instructions must say. */
  g_assert_nonnull (strstr (system->content, "only the numbered sources"));
  g_assert_nonnull (strstr (system->content, "[1]"));
  g_assert_nonnull (strstr (system->content, "language of the question"));
  g_assert_nonnull (strstr (system->content, "do not contain the answer, say so"));
  g_assert_cmpstr (message_at (messages, 1)->role, ==, "user");
}

static void
test_sources_numbered (void)
{
  SrGenerateRequest request = request_with (NULL, 0);
  g_autoptr (GPtrArray) messages = sr_prompt_build (&request, 1000);

  g_assert_cmpstr (message_at (messages, 1)->content, ==,
                   "Sources:\n\n"
                   "[1] guide.pdf, page 4 — Bridges > Colours\n"
                   "The bridge was painted green in 2004.\n\n"
                   "[2] notes.txt\n"
                   "Nothing about bridges.\n\n"
                   "[3] untitled\n"
                   "A source without a name.\n\n"
                   "Question: What colour is the bridge?");
}

static void
test_no_sources (void)
{
  SrGenerateRequest request = request_with (NULL, 0);
  request.sources = NULL;
  request.n_sources = 0;
  g_autoptr (GPtrArray) messages = sr_prompt_build (&request, 1000);

  g_assert_cmpstr (message_at (messages, 1)->content, ==,
                   "No sources were found for this question.\n\n"
                   "Question: What colour is the bridge?");
}

static const SrChatTurn history[] = {
  { "user", "Where is the bridge?" },                    /* 5 tokens */
  { "assistant", "Over the river [1]." },                /* 5 */
  { "user", "How long is it?" },                         /* 4 */
  { "assistant", "About two hundred metres long [1]." }, /* 9 */
};

static void
assert_history (GPtrArray *messages, guint first)
{
  g_assert_cmpuint (messages->len, ==, 2 + G_N_ELEMENTS (history) - first);
  for (guint i = first; i < G_N_ELEMENTS (history); i++) {
    const SrChatMessage *message = message_at (messages, 1 + i - first);
    g_assert_cmpstr (message->role, ==, history[i].role);
    g_assert_cmpstr (message->content, ==, history[i].content);
  }
  g_assert_true (g_str_has_prefix (message_at (messages, messages->len - 1)->content, "Sources:"));
}

static void
test_history_fits (void)
{
  SrGenerateRequest request = request_with (history, G_N_ELEMENTS (history));
  g_autoptr (GPtrArray) messages = sr_prompt_build (&request, 23);
  assert_history (messages, 0);
}

/* The oldest go first; a conversation never opens with an answer. */
static void
test_history_oldest_dropped (void)
{
  SrGenerateRequest request = request_with (history, G_N_ELEMENTS (history));
  for (guint budget = 0; budget <= 30; budget++) {
    g_autoptr (GPtrArray) messages = sr_prompt_build (&request, budget);
    guint first = budget >= 23 ? 0 : budget >= 13 ? 2 : 4;
    g_test_message ("budget %u", budget);
    assert_history (messages, first);
  }
}

static void
test_history_left_out (void)
{
  const SrChatTurn odd[] = {
    { "user", "First?" },  { "tool", "a tool's output" }, { "assistant", "First [1]." },
    { "user", "Second?" }, { "assistant", " \n" }, /* failed before its first word */
  };
  SrGenerateRequest request = request_with (odd, G_N_ELEMENTS (odd));
  g_autoptr (GPtrArray) messages = sr_prompt_build (&request, 1000);

  g_assert_cmpuint (messages->len, ==, 5);
  g_assert_cmpstr (message_at (messages, 1)->content, ==, "First?");
  g_assert_cmpstr (message_at (messages, 2)->content, ==, "First [1].");
  g_assert_cmpstr (message_at (messages, 3)->content, ==, "Second?");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prompt/estimate", test_estimate);
  g_test_add_func ("/prompt/system-first", test_system_first);
  g_test_add_func ("/prompt/sources-numbered", test_sources_numbered);
  g_test_add_func ("/prompt/no-sources", test_no_sources);
  g_test_add_func ("/prompt/history/fits", test_history_fits);
  g_test_add_func ("/prompt/history/oldest-dropped", test_history_oldest_dropped);
  g_test_add_func ("/prompt/history/left-out", test_history_left_out);
  return g_test_run ();
}
