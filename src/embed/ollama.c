/* The Ollama embedder: POST /api/embed with a batch of texts, "embeddings" back in order. */
#include "embed/remote.h"

#include <glib/gi18n.h>

/* Ollama cuts a text longer than the model's context instead of failing the whole batch;
 * a chunk is about 1,000 characters, far below any embedding model's context. */
static void
ollama_request_extra (JsonBuilder *builder)
{
  json_builder_set_member_name (builder, "truncate");
  json_builder_add_boolean_value (builder, TRUE);
}

static GPtrArray *
ollama_vectors (JsonNode *answer, guint n_texts, char **problem)
{
  JsonObject *object = JSON_NODE_HOLDS_OBJECT (answer) ? json_node_get_object (answer) : NULL;
  JsonNode *embeddings = object != NULL ? json_object_get_member (object, "embeddings") : NULL;
  if (embeddings == NULL || !JSON_NODE_HOLDS_ARRAY (embeddings)) {
    *problem = g_strdup (_ ("no \"embeddings\" list"));
    return NULL;
  }
  JsonArray *list = json_node_get_array (embeddings);
  g_autoptr (GPtrArray) rows = g_ptr_array_new ();
  for (guint i = 0; i < json_array_get_length (list); i++) {
    JsonNode *row = json_array_get_element (list, i);
    if (!JSON_NODE_HOLDS_ARRAY (row)) {
      *problem = g_strdup (_ ("an embedding that is not a list of numbers"));
      return NULL;
    }
    g_ptr_array_add (rows, json_node_get_array (row));
  }
  return g_steal_pointer (&rows);
}

static char *
ollama_http_error (const SrRemote *self, const SrRemoteFailure *f)
{
  const char *url = self->parent.url;
  /* Ollama's own 404 is JSON and means the model; a plain "404 page not found" means
   * that whatever answered has no /api/embed. */
  if (f->status == SOUP_STATUS_NOT_FOUND && f->json)
    return g_strdup_printf (_ ("Model '%s' not found on %s — run 'ollama pull %s'"), self->name,
                            url, self->name);
  if (f->status == SOUP_STATUS_NOT_FOUND)
    return g_strdup_printf (_ ("%s/api/embed does not exist (HTTP 404) — is [embedding] "
                               "ollama_url the address of Ollama?"),
                            url);
  return g_strdup_printf (_ ("Ollama at %s could not embed with model '%s' (HTTP %u): %s"), url,
                          self->name, f->status,
                          f->detail != NULL ? f->detail : soup_status_get_phrase (f->status));
}

static char *
ollama_describe (const SrRemote *self, const SrRemoteFailure *f)
{
  const char *url = self->parent.url;
  switch (f->problem) {
  case SR_REMOTE_REFUSED:
    return g_strdup_printf (_ ("Cannot reach Ollama at %s: connection refused — is 'ollama "
                               "serve' running?"),
                            url);
  case SR_REMOTE_UNREACHABLE:
    return g_strdup_printf (_ ("Cannot reach Ollama at %s: %s — is 'ollama serve' running, and "
                               "is [embedding] ollama_url right?"),
                            url, f->detail);
  case SR_REMOTE_TIMED_OUT:
    return g_strdup_printf (_ ("Ollama at %s did not answer within %u s; it may still be loading "
                               "the model — raise [embedding] timeout if it is only slow"),
                            url, self->timeout);
  case SR_REMOTE_HTTP:
    return ollama_http_error (self, f);
  case SR_REMOTE_MALFORMED:
    return g_strdup_printf (_ ("Ollama at %s gave an answer SmartRAG cannot use (%s) — is "
                               "[embedding] ollama_url the address of Ollama?"),
                            url, f->detail);
  case SR_REMOTE_COUNT:
    return g_strdup_printf (_ ("Ollama at %s gave %u vectors for %u texts"), url, f->got,
                            f->expected);
  case SR_REMOTE_DIMENSIONS:
    return g_strdup_printf (_ ("Ollama at %s gave vectors of %u dimensions for model '%s', which "
                               "gave %u before; restart smartragd if the model changed"),
                            url, f->got, self->name, f->expected);
  }
  g_assert_not_reached ();
}

static const SrRemoteClass ollama_class = {
  .parent = SR_REMOTE_EMBEDDER_CLASS ("ollama"),
  .path = "/api/embed",
  .request_extra = ollama_request_extra,
  .vectors = ollama_vectors,
  .describe = ollama_describe,
};

SrEmbedder *
sr_embedder_ollama_new (const SrServerEmbedderOptions *options)
{
  return sr_remote_new (&ollama_class, options);
}
