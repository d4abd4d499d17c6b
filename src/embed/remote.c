/* What the embedders that ask a server share: one HTTP session, batches, checked answers. */
#include "build-config.h"

#include "embed/remote.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "common/errors.h"

#define DEFAULT_BATCH_SIZE 32
#define DEFAULT_TIMEOUT    60
/* Several ingestion workers, the re-embedding thread and searches share the session; the
 * default of two connections per host would queue a search behind two long batches. */
#define MAX_CONNECTIONS 8
/* A vector of SR_EMBEDDER_MAX_DIMENSIONS numbers is about 1.3 MiB of JSON: a longer
 * answer per text is no list of vectors, and is not read to its end. */
#define MAX_ANSWER_BYTES_PER_TEXT (2 << 20)
#define MAX_ERROR_BYTES           (64 << 10)
/* The server's words are quoted in messages: only their start. */
#define MAX_DETAIL_CHARS 200
/* What a probe embeds: short, so that it costs the server next to nothing. */
#define PROBE_TEXT "SmartRAG"

const char *
sr_remote_member_string (JsonObject *object, const char *member)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, member) : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static const SrRemoteClass *
remote_class (const SrRemote *self)
{
  return (const SrRemoteClass *) self->parent.klass;
}

static gboolean
fail (SrRemote *self, const SrRemoteFailure *failure, GError **error)
{
  g_autofree char *message = remote_class (self)->describe (self, failure);
  g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE, message);
  return FALSE;
}

static gboolean
fail_malformed (SrRemote *self, const char *detail, GError **error)
{
  SrRemoteFailure failure = { .problem = SR_REMOTE_MALFORMED, .detail = detail };
  return fail (self, &failure, error);
}

/* Takes @cause: a cancellation stays one, anything else becomes the backend's message. */
static gboolean
fail_transport (SrRemote *self, GError *cause, GError **error)
{
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_propagate_error (error, cause);
    return FALSE;
  }
  SrRemoteFailure failure = { .problem = SR_REMOTE_UNREACHABLE, .detail = cause->message };
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    failure.problem = SR_REMOTE_REFUSED;
  else if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    failure.problem = SR_REMOTE_TIMED_OUT;
  fail (self, &failure, error);
  g_error_free (cause);
  return FALSE;
}

static GBytes *
request_body (SrRemote *self, const char *const *texts, guint n_texts)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "model");
  json_builder_add_string_value (builder, self->name);
  json_builder_set_member_name (builder, "input");
  json_builder_begin_array (builder);
  for (guint i = 0; i < n_texts; i++)
    json_builder_add_string_value (builder, texts[i]);
  json_builder_end_array (builder);
  if (remote_class (self)->request_extra != NULL)
    remote_class (self)->request_extra (builder);
  json_builder_end_object (builder);

  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  json_generator_set_root (generator, root);
  gsize length = 0;
  char *data = json_generator_to_data (generator, &length);
  return g_bytes_new_take (data, length);
}

/* The body, up to @limit bytes; @whole says whether that was all of it. NULL when reading
 * failed. */
static GBytes *
read_body (GInputStream *stream, gsize limit, gboolean *whole, GCancellable *cancellable,
           GError **error)
{
  g_autoptr (GByteArray) body = g_byte_array_new ();
  *whole = TRUE;
  for (;;) {
    gsize before = body->len;
    g_byte_array_set_size (body, before + 65536);
    gssize n = g_input_stream_read (stream, body->data + before, 65536, cancellable, error);
    g_byte_array_set_size (body, before + MAX (n, 0));
    if (n < 0)
      return NULL;
    if (n == 0)
      break;
    if (body->len > limit) {
      g_byte_array_set_size (body, limit);
      *whole = FALSE;
      break;
    }
  }
  return g_byte_array_free_to_bytes (g_steal_pointer (&body));
}

/* One line of printable text at most MAX_DETAIL_CHARS long. */
static char *
shorten (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  g_autoptr (GString) out = g_string_new (NULL);
  for (const char *p = valid; *p != '\0' && g_utf8_strlen (out->str, -1) < MAX_DETAIL_CHARS;
       p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    g_string_append_unichar (out, g_unichar_iscntrl (c) ? ' ' : c);
  }
  g_strstrip (out->str);
  if (g_utf8_strlen (valid, -1) > MAX_DETAIL_CHARS)
    g_string_append (out, "…");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* What an error body says: Ollama's {"error": "…"}, OpenAI's {"error": {"message": "…"}},
 * {"message": "…"} or {"detail": "…"} of other servers, or the text itself. NULL when it
 * says nothing. */
static char *
error_text (GBytes *body, gboolean *json)
{
  gsize length = 0;
  const char *data = body != NULL ? g_bytes_get_data (body, &length) : NULL;
  if (length == 0)
    return NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (json_parser_load_from_data (parser, data, (gssize) length, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    JsonObject *object = json_node_get_object (json_parser_get_root (parser));
    JsonNode *error = json_object_get_member (object, "error");
    const char *said = sr_remote_member_string (object, "error");
    if (said == NULL && error != NULL && JSON_NODE_HOLDS_OBJECT (error))
      said = sr_remote_member_string (json_node_get_object (error), "message");
    if (said == NULL)
      said = sr_remote_member_string (object, "message");
    if (said == NULL)
      said = sr_remote_member_string (object, "detail");
    *json = said != NULL && *said != '\0';
    return said != NULL && *said != '\0' ? shorten (said) : NULL;
  }
  g_autofree char *text = g_strndup (data, length);
  g_strstrip (text);
  return *text != '\0' ? shorten (text) : NULL;
}

/* POSTs @texts and parses the answer; NULL with the backend's message on any failure. */
static JsonParser *
post (SrRemote *self, const char *const *texts, guint n_texts, GCancellable *cancellable,
      GError **error)
{
  g_autofree char *uri = g_strconcat (self->parent.url, remote_class (self)->path, NULL);
  g_autoptr (SoupMessage) message = soup_message_new (SOUP_METHOD_POST, uri);
  if (message == NULL) {
    fail_malformed (self, _ ("the address is not a URL"), error);
    return NULL;
  }
  g_autoptr (GBytes) request = request_body (self, texts, n_texts);
  soup_message_set_request_body_from_bytes (message, "application/json", request);
  if (self->authorization != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (message), "Authorization",
                                  self->authorization);

  GError *local = NULL;
  g_autoptr (GInputStream) stream = soup_session_send (self->session, message, cancellable, &local);
  if (stream == NULL) {
    fail_transport (self, local, error);
    return NULL;
  }
  guint status = soup_message_get_status (message);
  gboolean ok = SOUP_STATUS_IS_SUCCESSFUL (status);
  gboolean whole = TRUE;
  gsize limit = ok ? (gsize) n_texts * MAX_ANSWER_BYTES_PER_TEXT : MAX_ERROR_BYTES;
  g_autoptr (GBytes) body = read_body (stream, limit, &whole, cancellable, &local);
  if (body == NULL) {
    fail_transport (self, local, error);
    return NULL;
  }
  if (!ok) {
    gboolean json = FALSE;
    g_autofree char *said = error_text (body, &json);
    SrRemoteFailure failure
        = { .problem = SR_REMOTE_HTTP, .status = status, .detail = said, .json = json };
    fail (self, &failure, error);
    return NULL;
  }
  if (!whole) {
    g_autofree char *size = g_format_size (limit);
    g_autofree char *detail = g_strdup_printf (_ ("the answer is longer than %s"), size);
    fail_malformed (self, detail, error);
    return NULL;
  }

  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  gsize length = 0;
  const char *data = g_bytes_get_data (body, &length);
  if (!json_parser_load_from_data (parser, data, (gssize) length, &local)) {
    g_autofree char *detail = g_strdup_printf (_ ("not JSON: %s"), local->message);
    g_error_free (local);
    fail_malformed (self, detail, error);
    return NULL;
  }
  return g_steal_pointer (&parser);
}

/* The width every row shares, checked against the limits. */
static gboolean
common_width (SrRemote *self, GPtrArray *rows, guint *width, GError **error)
{
  *width = json_array_get_length (rows->pdata[0]);
  for (guint i = 0; i < rows->len; i++) {
    guint length = json_array_get_length (rows->pdata[i]);
    g_autofree char *detail = NULL;
    if (length == 0)
      detail = g_strdup (_ ("an empty vector"));
    else if (length > SR_EMBEDDER_MAX_DIMENSIONS)
      detail = g_strdup_printf (_ ("a vector of %u numbers, more than the %u SmartRAG takes"),
                                length, SR_EMBEDDER_MAX_DIMENSIONS);
    else if (length != *width)
      detail = g_strdup_printf (_ ("vectors of different lengths (%u and %u)"), *width, length);
    if (detail != NULL)
      return fail_malformed (self, detail, error);
  }
  return TRUE;
}

/* @row as floats of unit length (or zeros, which a server may give an empty text). */
static gboolean
read_vector (SrRemote *self, JsonArray *row, guint width, float *out, GError **error)
{
  double norm = 0;
  for (guint d = 0; d < width; d++) {
    JsonNode *node = json_array_get_element (row, d);
    GType type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;
    double value;
    if (type == G_TYPE_DOUBLE)
      value = json_node_get_double (node);
    else if (type == G_TYPE_INT64)
      value = (double) json_node_get_int (node);
    else
      return fail_malformed (self, _ ("a vector holds something other than numbers"), error);
    if (!isfinite (value) || fabs (value) > G_MAXFLOAT)
      return fail_malformed (self, _ ("a vector holds a number too large to use"), error);
    out[d] = (float) value;
    norm += value * value;
  }
  if (!isfinite (norm))
    return fail_malformed (self, _ ("a vector holds a number too large to use"), error);
  if (norm == 0)
    return TRUE;
  /* In double: for tiny numbers the scale itself may pass what a float holds. */
  double scale = 1.0 / sqrt (norm);
  for (guint d = 0; d < width; d++)
    out[d] = (float) (out[d] * scale);
  return TRUE;
}

/* One request for @texts; their vectors go to @out (n_texts × dimensions), or nowhere for
 * a probe. The first answer of a run teaches the dimensions; every later one must match. */
static gboolean
embed_batch (SrRemote *self, const char *const *texts, guint n_texts, float *out,
             GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonParser) parser = post (self, texts, n_texts, cancellable, error);
  if (parser == NULL)
    return FALSE;
  g_autofree char *problem = NULL;
  g_autoptr (GPtrArray) rows
      = remote_class (self)->vectors (json_parser_get_root (parser), n_texts, &problem);
  if (rows == NULL)
    return fail_malformed (self, problem, error);
  if (rows->len != n_texts) {
    SrRemoteFailure failure = { .problem = SR_REMOTE_COUNT, .got = rows->len, .expected = n_texts };
    return fail (self, &failure, error);
  }
  guint width = 0;
  if (!common_width (self, rows, &width, error))
    return FALSE;
  g_autofree float *vectors = g_new (float, (gsize) n_texts *width);
  for (guint i = 0; i < n_texts; i++)
    if (!read_vector (self, rows->pdata[i], width, vectors + (gsize) i * width, error))
      return FALSE;

  guint dimensions = sr_embedder_learn_dimensions (&self->parent, width);
  if (width != dimensions) {
    SrRemoteFailure failure
        = { .problem = SR_REMOTE_DIMENSIONS, .got = width, .expected = dimensions };
    return fail (self, &failure, error);
  }
  if (out != NULL)
    memcpy (out, vectors, sizeof (float) * n_texts * width);
  return TRUE;
}

gboolean
sr_remote_embed (SrEmbedder *embedder, const char *const *texts, guint n_texts, float *vectors,
                 GCancellable *cancellable, GError **error)
{
  SrRemote *self = (SrRemote *) embedder;
  guint dimensions = sr_embedder_dimensions (embedder);
  for (guint start = 0; start < n_texts; start += self->batch_size) {
    guint n = MIN (self->batch_size, n_texts - start);
    if (!embed_batch (self, texts + start, n, vectors + (gsize) start * dimensions, cancellable,
                      error))
      return FALSE;
  }
  return TRUE;
}

gboolean
sr_remote_probe (SrEmbedder *embedder, GCancellable *cancellable, GError **error)
{
  const char *texts[] = { PROBE_TEXT };
  return embed_batch ((SrRemote *) embedder, texts, 1, NULL, cancellable, error);
}

void
sr_remote_free (SrEmbedder *embedder)
{
  SrRemote *self = (SrRemote *) embedder;
  g_clear_object (&self->session);
  g_free (self->name);
  if (self->authorization != NULL)
    memset (self->authorization, 0, strlen (self->authorization));
  g_free (self->authorization);
  g_free (self);
}

SrEmbedder *
sr_remote_new (const SrRemoteClass *klass, const SrServerEmbedderOptions *options)
{
  g_return_val_if_fail (options->url != NULL && options->model != NULL, NULL);
  SrRemote *self = g_new0 (SrRemote, 1);
  g_autofree char *url = g_strdup (options->url);
  gsize length = strlen (url);
  while (length > 0 && url[length - 1] == '/')
    url[--length] = '\0';
  g_autofree char *model = g_strdup_printf ("%s:%s", klass->parent.name, options->model);
  sr_embedder_init (&self->parent, &klass->parent, model, url, 0);

  self->name = g_strdup (options->model);
  if (options->api_key != NULL && *options->api_key != '\0')
    self->authorization = g_strconcat ("Bearer ", options->api_key, NULL);
  self->batch_size = options->batch_size > 0 ? options->batch_size : DEFAULT_BATCH_SIZE;
  self->timeout = options->timeout > 0 ? options->timeout : DEFAULT_TIMEOUT;
  self->session = soup_session_new_with_options (
      "user-agent", "smartrag/" PACKAGE_VERSION, "timeout", self->timeout, "max-conns",
      MAX_CONNECTIONS, "max-conns-per-host", MAX_CONNECTIONS, NULL);
  return &self->parent;
}
