/* Unit tests for the Ollama and OpenAI embedders against tests/fakes/fake_embed.py. */
#include <math.h>
#include <string.h>

#include "common/errors.h"
#include "embed/embedder.h"
#include "fake-embed.h"

#define DIMS  16
#define MODEL "fake-embed"

typedef enum { OLLAMA, OPENAI } Backend;

typedef struct {
  SrFakeEmbed *fake;
  SrEmbedder *embedder;
} Fixture;

static SrEmbedder *
embedder_new (Backend backend, const char *url, const char *model, guint batch_size, guint timeout,
              const char *api_key)
{
  g_autofree char *v1 = g_strconcat (url, "/v1/", NULL);
  SrServerEmbedderOptions options = {
    .url = backend == OLLAMA ? url : v1,
    .model = model,
    .api_key = api_key,
    .batch_size = batch_size,
    .timeout = timeout,
  };
  return backend == OLLAMA ? sr_embedder_ollama_new (&options) : sr_embedder_openai_new (&options);
}

static void
set_up (Fixture *f, gconstpointer data)
{
  const char *args[] = { "--dimensions", G_STRINGIFY (DIMS), "--api-key", "s3cret", NULL };
  Backend backend = GPOINTER_TO_INT (data);
  f->fake = sr_fake_embed_start (args);
  f->embedder = embedder_new (backend, f->fake->url, MODEL, 3, 5, "s3cret");
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->embedder, sr_embedder_free);
  g_clear_pointer (&f->fake, sr_fake_embed_stop);
}

static void
assert_unit_or_zero (const float *v, guint n)
{
  double norm = 0;
  for (guint i = 0; i < n; i++)
    norm += (double) v[i] * v[i];
  if (norm != 0)
    g_assert_cmpfloat_with_epsilon (norm, 1.0, 1e-5);
}

static float *
embed_ok (SrEmbedder *embedder, const char *const *texts, guint n)
{
  g_autoptr (GError) error = NULL;
  guint dims = sr_embedder_ensure_dimensions (embedder, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (dims, ==, DIMS);
  float *vectors = g_new (float, (gsize) n *dims);
  g_assert_true (sr_embedder_embed (embedder, texts, n, vectors, NULL, &error));
  g_assert_no_error (error);
  return vectors;
}

/* Embedding fails with BACKEND_UNAVAILABLE and a message holding each of @parts. */
static char *
embed_fails (SrEmbedder *embedder, guint n, const char *const *parts)
{
  const char *texts[] = { "one text", "another", "a third", "and four" };
  g_assert_cmpuint (n, <=, G_N_ELEMENTS (texts));
  g_autoptr (GError) error = NULL;
  g_autofree float *vectors = g_new0 (float, (gsize) n *DIMS);
  if (sr_embedder_dimensions (embedder) == 0)
    sr_embedder_learn_dimensions (embedder, DIMS);
  g_assert_false (sr_embedder_embed (embedder, texts, n, vectors, NULL, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE);
  g_test_message ("%s", error->message);
  for (guint i = 0; parts[i] != NULL; i++)
    g_assert_nonnull (strstr (error->message, parts[i]));
  g_assert_null (strstr (error->message, "s3cret"));

  g_auto (SrEmbedderStatus) status = { 0 };
  sr_embedder_get_status (embedder, &status);
  g_assert_cmpint (status.state, ==, SR_EMBEDDER_UNAVAILABLE);
  g_assert_cmpstr (status.message, ==, error->message);
  g_assert_cmpint (status.checked_at, >, 0);
  return g_strdup (error->message);
}

static guint
count_requests (Fixture *f, guint *inputs, guint max)
{
  g_autoptr (JsonNode) node = sr_fake_embed_requests (f->fake);
  JsonArray *requests = json_node_get_array (node);
  guint n = json_array_get_length (requests);
  for (guint i = 0; i < n && i < max; i++)
    inputs[i] = (guint) json_object_get_int_member (json_array_get_object_element (requests, i),
                                                    "inputs");
  return n;
}

/* Seven texts in batches of three: three requests, each vector of unit length and the
 * same as its text embedded alone, so the batches kept the texts' order. */
static void
test_batches_in_order (Fixture *f, gconstpointer data)
{
  const char *texts[] = { "alpha beta", "gamma",        "delta epsilon zeta", "eta theta",
                          "iota",       "kappa lambda", "mu nu xi omicron" };
  guint n = G_N_ELEMENTS (texts);

  g_assert_cmpuint (sr_embedder_dimensions (f->embedder), ==, 0);
  g_autofree float *batch = embed_ok (f->embedder, texts, n);
  g_assert_cmpuint (sr_embedder_dimensions (f->embedder), ==, DIMS);
  guint inputs[8] = { 0 };
  /* The probe that taught the dimensions, then 3 + 3 + 1. */
  g_assert_cmpuint (count_requests (f, inputs, 8), ==, 4);
  g_assert_cmpuint (inputs[0], ==, 1);
  g_assert_cmpuint (inputs[1], ==, 3);
  g_assert_cmpuint (inputs[2], ==, 3);
  g_assert_cmpuint (inputs[3], ==, 1);

  for (guint i = 0; i < n; i++) {
    assert_unit_or_zero (batch + i * DIMS, DIMS);
    g_autofree float *alone = embed_ok (f->embedder, &texts[i], 1);
    g_assert_cmpmem (alone, DIMS * sizeof (float), batch + i * DIMS, DIMS * sizeof (float));
  }
  /* Different words, different vectors: the fake did not answer the same for all. */
  g_assert_true (memcmp (batch, batch + DIMS, DIMS * sizeof (float)) != 0);

  g_auto (SrEmbedderStatus) status = { 0 };
  sr_embedder_get_status (f->embedder, &status);
  g_assert_cmpint (status.state, ==, SR_EMBEDDER_AVAILABLE);
  g_assert_null (status.message);
}

static void
test_identity (Fixture *f, gconstpointer data)
{
  Backend backend = GPOINTER_TO_INT (data);
  g_assert_cmpstr (f->embedder->model, ==, backend == OLLAMA ? "ollama:" MODEL : "openai:" MODEL);
  g_assert_cmpstr (f->embedder->klass->name, ==, backend == OLLAMA ? "ollama" : "openai");
  /* The trailing '/' is gone, so messages and requests do not double it. */
  g_autofree char *expected
      = backend == OLLAMA ? g_strdup (f->fake->url) : g_strconcat (f->fake->url, "/v1", NULL);
  g_assert_cmpstr (f->embedder->url, ==, expected);

  g_auto (SrEmbedderStatus) status = { 0 };
  sr_embedder_get_status (f->embedder, &status);
  g_assert_cmpint (status.state, ==, SR_EMBEDDER_UNKNOWN);
  g_assert_cmpint (status.checked_at, ==, 0);
}

/* Ollama asks to truncate; OpenAI sends the key; each goes to its own path. */
static void
test_request_shape (Fixture *f, gconstpointer data)
{
  Backend backend = GPOINTER_TO_INT (data);
  const char *texts[] = { "hello" };
  g_autofree float *v = embed_ok (f->embedder, texts, 1);
  g_autoptr (JsonNode) node = sr_fake_embed_requests (f->fake);
  JsonObject *request = json_array_get_object_element (json_node_get_array (node), 0);
  g_assert_cmpstr (json_object_get_string_member (request, "model"), ==, MODEL);
  if (backend == OLLAMA) {
    g_assert_cmpstr (json_object_get_string_member (request, "path"), ==, "/api/embed");
    g_assert_true (json_object_get_boolean_member (request, "truncate"));
  } else {
    g_assert_cmpstr (json_object_get_string_member (request, "path"), ==, "/v1/embeddings");
    g_assert_cmpstr (json_object_get_string_member (request, "authorization"), ==, "Bearer s3cret");
  }
}

/* OpenAI-compatible servers may list the vectors in any order; "index" places them. */
static void
test_openai_order_by_index (Fixture *f, gconstpointer data)
{
  const char *texts[] = { "first words", "second words here", "third" };
  g_autofree float *in_order = embed_ok (f->embedder, texts, 3);
  sr_fake_embed_control (f->fake, "{\"shuffle\": true}");
  g_autofree float *shuffled = embed_ok (f->embedder, texts, 3);
  g_assert_cmpmem (in_order, 3 * DIMS * sizeof (float), shuffled, 3 * DIMS * sizeof (float));
}

static void
test_refused (Fixture *f, gconstpointer data)
{
  Backend backend = GPOINTER_TO_INT (data);
  g_autofree char *url = g_strdup (f->fake->url);
  g_clear_pointer (&f->fake, sr_fake_embed_stop);
  const char *ollama[] = { "Cannot reach Ollama at ", url, "connection refused",
                           "is 'ollama serve' running?", NULL };
  const char *openai[] = {
    "Cannot reach the embedding server at ", url, "/v1", "connection refused", "openai_url", NULL
  };
  g_autofree char *m = embed_fails (f->embedder, 1, backend == OLLAMA ? ollama : openai);

  g_autoptr (GError) error = NULL;
  g_assert_false (sr_embedder_probe (f->embedder, NULL, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE);
}

static void
test_model_not_found (Fixture *f, gconstpointer data)
{
  Backend backend = GPOINTER_TO_INT (data);
  g_autoptr (SrEmbedder) embedder
      = embedder_new (backend, f->fake->url, "nomic-embed-text", 0, 5, "s3cret");
  g_autoptr (GError) error = NULL;
  g_assert_cmpuint (sr_embedder_ensure_dimensions (embedder, NULL, &error), ==, 0);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE);
  g_autofree char *expected
      = backend == OLLAMA
            ? g_strdup_printf ("Model 'nomic-embed-text' not found on %s — run 'ollama pull "
                               "nomic-embed-text'",
                               f->fake->url)
            : g_strdup_printf ("The embedding server at %s/v1 does not know model "
                               "'nomic-embed-text' (The model `nomic-embed-text` does not "
                               "exist.) — check [embedding] openai_model",
                               f->fake->url);
  g_assert_cmpstr (error->message, ==, expected);
}

/* Whatever answered has no embedding endpoint: a plain 404. */
static void
test_wrong_path (Fixture *f, gconstpointer data)
{
  Backend backend = GPOINTER_TO_INT (data);
  g_autofree char *url = g_strconcat (f->fake->url, "/nothing", NULL);
  g_autoptr (SrEmbedder) embedder = embedder_new (backend, url, MODEL, 0, 5, NULL);
  const char *ollama[] = { "/nothing/api/embed does not exist (HTTP 404)", "ollama_url", NULL };
  const char *openai[]
      = { "/nothing/v1/embeddings does not exist (HTTP 404)", "ends in /v1", NULL };
  g_autofree char *m = embed_fails (embedder, 1, backend == OLLAMA ? ollama : openai);
}

static void
test_http_error (Fixture *f, gconstpointer data)
{
  sr_fake_embed_control (
      f->fake, "{\"fail\": {\"status\": 500, \"message\": \"out of memory\", \"times\": 1}}");
  const char *parts[]
      = { "could not embed with model 'fake-embed' (HTTP 500", "out of memory", NULL };
  g_autofree char *m = embed_fails (f->embedder, 2, parts);
  /* Once only: the next call is answered, and the status says so. */
  const char *texts[] = { "fine again" };
  g_autofree float *v = embed_ok (f->embedder, texts, 1);
  g_auto (SrEmbedderStatus) status = { 0 };
  sr_embedder_get_status (f->embedder, &status);
  g_assert_cmpint (status.state, ==, SR_EMBEDDER_AVAILABLE);
}

static void
test_openai_bad_key (Fixture *f, gconstpointer data)
{
  g_autoptr (SrEmbedder) embedder = embedder_new (OPENAI, f->fake->url, MODEL, 0, 5, "wrong");
  const char *parts[] = { "refused the request (HTTP 401: Incorrect API key provided.)",
                          "openai_api_key_file", NULL };
  g_autofree char *m = embed_fails (embedder, 1, parts);
  g_assert_null (strstr (m, "wrong"));
}

static void
test_wrong_dimensions (Fixture *f, gconstpointer data)
{
  const char *texts[] = { "learn the width" };
  g_autofree float *v = embed_ok (f->embedder, texts, 1);
  sr_fake_embed_control (f->fake, "{\"dimensions\": 12}");
  const char *parts[] = { "gave vectors of 12 dimensions for model 'fake-embed', which gave 16 "
                          "before",
                          NULL };
  g_autofree char *m = embed_fails (f->embedder, 2, parts);
  g_assert_cmpuint (sr_embedder_dimensions (f->embedder), ==, DIMS);
}

static void
test_wrong_count (Fixture *f, gconstpointer data)
{
  sr_fake_embed_control (f->fake, "{\"wrong_count\": 1}");
  const char *fewer[] = { "gave 2 vectors for 3 texts", NULL };
  g_autofree char *m1 = embed_fails (f->embedder, 3, fewer);
  sr_fake_embed_control (f->fake, "{\"wrong_count\": -2}");
  const char *more[] = { "gave 5 vectors for 3 texts", NULL };
  g_autofree char *m2 = embed_fails (f->embedder, 3, more);
}

static void
test_malformed (Fixture *f, gconstpointer data)
{
  Backend backend = GPOINTER_TO_INT (data);
  static const struct {
    const char *body;
    const char *ollama, *openai;
  } cases[] = {
    { "<html>gateway</html>", "not JSON", "not JSON" },
    { "[1, 2]", "no \\\"embeddings\\\" list", "no \\\"data\\\" list" },
    { "{\"embeddings\": [[1, \"x\"]], \"data\": [{\"index\": 0, \"embedding\": [1, \"x\"]}]}",
      "something other than numbers", "something other than numbers" },
    { "{\"embeddings\": [[]], \"data\": [{\"index\": 0, \"embedding\": []}]}", "an empty vector",
      "an empty vector" },
    { "{\"embeddings\": [5], \"data\": [{\"index\": 0}]}", "not a list of numbers",
      "without an \\\"embedding\\\" list" },
    { "{\"embeddings\": [[1e999]], \"data\": [{\"index\": 0, \"embedding\": [1e999]}]}",
      "too large", "too large" },
    { "{\"data\": [{\"index\": 3, \"embedding\": [1]}]}", NULL, "not numbered 0 to 0" },
    /* Finite as a double, not as a float. */
    { "{\"embeddings\": [[1e300]], \"data\": [{\"index\": 0, \"embedding\": [1e300]}]}",
      "too large", "too large" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    const char *expected = backend == OLLAMA ? cases[i].ollama : cases[i].openai;
    if (expected == NULL)
      continue;
    g_autoptr (JsonBuilder) builder = json_builder_new ();
    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "malformed");
    json_builder_add_string_value (builder, cases[i].body);
    json_builder_end_object (builder);
    g_autoptr (JsonNode) root = json_builder_get_root (builder);
    g_autofree char *control = json_to_string (root, FALSE);
    sr_fake_embed_control (f->fake, control);
    g_autofree char *unescaped = g_strcompress (expected);
    const char *parts[] = { "gave an answer SmartRAG cannot use", unescaped, NULL };
    g_autofree char *m = embed_fails (f->embedder, 1, parts);
  }
}

static void
test_timeout (Fixture *f, gconstpointer data)
{
  Backend backend = GPOINTER_TO_INT (data);
  g_autoptr (SrEmbedder) embedder = embedder_new (backend, f->fake->url, MODEL, 0, 1, "s3cret");
  sr_fake_embed_control (f->fake, "{\"delay\": 3}");
  const char *parts[] = { "did not answer within 1 s", "[embedding] timeout", NULL };
  gint64 start = g_get_monotonic_time ();
  g_autofree char *m = embed_fails (embedder, 1, parts);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
}

static void
test_hang_up (Fixture *f, gconstpointer data)
{
  Backend backend = GPOINTER_TO_INT (data);
  sr_fake_embed_control (f->fake, "{\"hang_up\": true}");
  const char *ollama[] = { "Cannot reach Ollama at ", NULL };
  const char *openai[] = { "Cannot reach the embedding server at ", NULL };
  g_autofree char *m = embed_fails (f->embedder, 1, backend == OLLAMA ? ollama : openai);
}

static gpointer
cancel_soon (gpointer data)
{
  g_usleep (200 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

/* A stop does not wait for a slow server: the request ends at once, as a cancellation,
 * which says nothing about the server. */
static void
test_cancelled (Fixture *f, gconstpointer data)
{
  const char *texts[] = { "slow" };
  g_autofree float *v = embed_ok (f->embedder, texts, 1);
  sr_fake_embed_control (f->fake, "{\"delay\": 3}");
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  GThread *thread = g_thread_new ("cancel", cancel_soon, cancellable);
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_assert_false (sr_embedder_embed (f->embedder, texts, 1, v, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_thread_join (thread);
  g_auto (SrEmbedderStatus) status = { 0 };
  sr_embedder_get_status (f->embedder, &status);
  g_assert_cmpint (status.state, ==, SR_EMBEDDER_AVAILABLE);
}

typedef struct {
  SrEmbedder *embedder;
  const float *expected;
  guint failures;
} ThreadJob;

#define THREAD_TEXTS 12

static const char *const thread_texts[THREAD_TEXTS]
    = { "red apple",  "green pear", "blue sky",     "black cat",  "white snow",  "grey stone",
        "yellow sun", "pink rose",  "orange fruit", "brown bear", "violet dusk", "gold coin" };

static gpointer
embed_in_thread (gpointer data)
{
  ThreadJob *job = data;
  float vectors[THREAD_TEXTS * DIMS];
  for (guint round = 0; round < 5; round++) {
    g_autoptr (GError) error = NULL;
    if (!sr_embedder_embed (job->embedder, thread_texts, THREAD_TEXTS, vectors, NULL, &error)
        || memcmp (vectors, job->expected, sizeof vectors) != 0)
      job->failures++;
  }
  return NULL;
}

/* One session, requests from several threads at once: every answer right. */
static void
test_threads (Fixture *f, gconstpointer data)
{
  g_autofree float *expected = embed_ok (f->embedder, thread_texts, THREAD_TEXTS);
  ThreadJob jobs[6];
  GThread *threads[G_N_ELEMENTS (jobs)];
  for (guint i = 0; i < G_N_ELEMENTS (jobs); i++) {
    jobs[i] = (ThreadJob){ f->embedder, expected, 0 };
    threads[i] = g_thread_new ("embed", embed_in_thread, &jobs[i]);
  }
  for (guint i = 0; i < G_N_ELEMENTS (jobs); i++) {
    g_thread_join (threads[i]);
    g_assert_cmpuint (jobs[i].failures, ==, 0);
  }
}

/* The interface's own checks run before any request. */
static void
test_invalid_text (Fixture *f, gconstpointer data)
{
  const char *texts[] = { "fine", "\xff\xfe" };
  float vectors[2 * DIMS];
  g_autoptr (GError) error = NULL;
  sr_embedder_learn_dimensions (f->embedder, DIMS);
  g_assert_false (sr_embedder_embed (f->embedder, texts, 2, vectors, NULL, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  guint inputs[1];
  g_assert_cmpuint (count_requests (f, inputs, 1), ==, 0);
  g_auto (SrEmbedderStatus) status = { 0 };
  sr_embedder_get_status (f->embedder, &status);
  g_assert_cmpint (status.state, ==, SR_EMBEDDER_UNKNOWN);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const struct {
    const char *name;
    void (*func) (Fixture *, gconstpointer);
    gboolean openai_only;
  } cases[] = {
    { "identity", test_identity },
    { "batches-in-order", test_batches_in_order },
    { "request-shape", test_request_shape },
    { "order-by-index", test_openai_order_by_index, TRUE },
    { "error/refused", test_refused },
    { "error/model-not-found", test_model_not_found },
    { "error/wrong-path", test_wrong_path },
    { "error/http", test_http_error },
    { "error/bad-key", test_openai_bad_key, TRUE },
    { "error/wrong-dimensions", test_wrong_dimensions },
    { "error/wrong-count", test_wrong_count },
    { "error/malformed", test_malformed },
    { "error/timeout", test_timeout },
    { "error/hang-up", test_hang_up },
    { "error/invalid-text", test_invalid_text },
    { "cancelled", test_cancelled },
    { "threads", test_threads },
  };
  static const char *const backends[] = { [OLLAMA] = "ollama", [OPENAI] = "openai" };
  for (guint b = 0; b < G_N_ELEMENTS (backends); b++) {
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
      if (cases[i].openai_only && b != OPENAI)
        continue;
      g_autofree char *path = g_strdup_printf ("/embed/%s/%s", backends[b], cases[i].name);
      g_test_add (path, Fixture, GINT_TO_POINTER (b), set_up, cases[i].func, tear_down);
    }
  }
  return g_test_run ();
}
