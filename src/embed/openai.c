/* The OpenAI-compatible embedder: POST /embeddings, "data" back with each vector's index. */
#include "embed/remote.h"

#include <glib/gi18n.h>

/* The answer's "data", each vector at the place its "index" says (servers may list them
 * in any order); a server that leaves out the index lists them in order. */
static GPtrArray *
openai_vectors (JsonNode *answer, guint n_texts, char **problem)
{
  JsonObject *object = JSON_NODE_HOLDS_OBJECT (answer) ? json_node_get_object (answer) : NULL;
  JsonNode *data = object != NULL ? json_object_get_member (object, "data") : NULL;
  if (data == NULL || !JSON_NODE_HOLDS_ARRAY (data)) {
    *problem = g_strdup (_ ("no \"data\" list"));
    return NULL;
  }
  JsonArray *list = json_node_get_array (data);
  guint n = json_array_get_length (list);
  g_autoptr (GPtrArray) rows = g_ptr_array_new ();
  g_ptr_array_set_size (rows, n);
  for (guint i = 0; i < n; i++) {
    JsonNode *item = json_array_get_element (list, i);
    JsonObject *entry = JSON_NODE_HOLDS_OBJECT (item) ? json_node_get_object (item) : NULL;
    JsonNode *embedding = entry != NULL ? json_object_get_member (entry, "embedding") : NULL;
    if (embedding == NULL || !JSON_NODE_HOLDS_ARRAY (embedding)) {
      *problem = g_strdup (_ ("an item of \"data\" without an \"embedding\" list"));
      return NULL;
    }
    JsonNode *index = json_object_get_member (entry, "index");
    gint64 at = i;
    if (index != NULL && JSON_NODE_HOLDS_VALUE (index)
        && json_node_get_value_type (index) == G_TYPE_INT64)
      at = json_node_get_int (index);
    else if (index != NULL)
      at = -1;
    if (at < 0 || at >= (gint64) n || rows->pdata[at] != NULL) {
      *problem = g_strdup_printf (_ ("the items of \"data\" are not numbered 0 to %u"), n - 1);
      return NULL;
    }
    rows->pdata[at] = json_node_get_array (embedding);
  }
  return g_steal_pointer (&rows);
}

static char *
openai_http_error (const SrRemote *self, const SrRemoteFailure *f)
{
  const char *url = self->parent.url;
  const char *said = f->detail != NULL ? f->detail : soup_status_get_phrase (f->status);
  if (f->status == SOUP_STATUS_UNAUTHORIZED || f->status == SOUP_STATUS_FORBIDDEN)
    return g_strdup_printf (_ ("The embedding server at %s refused the request (HTTP %u: %s) — "
                               "check the key in [embedding] openai_api_key_file"),
                            url, f->status, said);
  /* A server's own 404 explains itself in JSON, and is about the model; a bare one means
   * that the address has no /embeddings. */
  if (f->status == SOUP_STATUS_NOT_FOUND && f->json)
    return g_strdup_printf (_ ("The embedding server at %s does not know model '%s' (%s) — check "
                               "[embedding] openai_model"),
                            url, self->name, said);
  if (f->status == SOUP_STATUS_NOT_FOUND)
    return g_strdup_printf (_ ("%s/embeddings does not exist (HTTP 404) — [embedding] "
                               "openai_url usually ends in /v1"),
                            url);
  return g_strdup_printf (_ ("The embedding server at %s could not embed with model '%s' (HTTP "
                             "%u): %s"),
                          url, self->name, f->status, said);
}

static char *
openai_describe (const SrRemote *self, const SrRemoteFailure *f)
{
  const char *url = self->parent.url;
  switch (f->problem) {
  case SR_REMOTE_REFUSED:
    return g_strdup_printf (_ ("Cannot reach the embedding server at %s: connection refused — is "
                               "it running, and is [embedding] openai_url right?"),
                            url);
  case SR_REMOTE_UNREACHABLE:
    return g_strdup_printf (_ ("Cannot reach the embedding server at %s: %s — is it running, and "
                               "is [embedding] openai_url right?"),
                            url, f->detail);
  case SR_REMOTE_TIMED_OUT:
    return g_strdup_printf (_ ("The embedding server at %s did not answer within %u s — raise "
                               "[embedding] timeout if it is only slow"),
                            url, self->timeout);
  case SR_REMOTE_HTTP:
    return openai_http_error (self, f);
  case SR_REMOTE_MALFORMED:
    return g_strdup_printf (_ ("The embedding server at %s gave an answer SmartRAG cannot use "
                               "(%s) — is [embedding] openai_url the address of an "
                               "OpenAI-compatible server?"),
                            url, f->detail);
  case SR_REMOTE_COUNT:
    return g_strdup_printf (_ ("The embedding server at %s gave %u vectors for %u texts"), url,
                            f->got, f->expected);
  case SR_REMOTE_DIMENSIONS:
    return g_strdup_printf (_ ("The embedding server at %s gave vectors of %u dimensions for "
                               "model '%s', which gave %u before; restart smartragd if the "
                               "model changed"),
                            url, f->got, self->name, f->expected);
  }
  g_assert_not_reached ();
}

static const SrRemoteClass openai_class = {
  .parent = SR_REMOTE_EMBEDDER_CLASS ("openai"),
  .path = "/embeddings",
  .vectors = openai_vectors,
  .describe = openai_describe,
};

SrEmbedder *
sr_embedder_openai_new (const SrServerEmbedderOptions *options)
{
  return sr_remote_new (&openai_class, options);
}
