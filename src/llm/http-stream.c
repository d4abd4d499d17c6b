/* Streaming HTTP for the model-server generators: POST JSON, read the answer line by line. */
#include "build-config.h"

#include "llm/http-stream.h"

#include <glib/gi18n.h>
#include <libsoup/soup.h>
#include <string.h>

#include "common/errors.h"

/* Error bodies are short; one past this is not an error message worth keeping. */
#define MAX_ERROR_BODY (64 * 1024)
/* A model list or similar answer read whole. */
#define MAX_WHOLE_BODY (1024 * 1024)
/* No line of NDJSON or SSE that a chat server sends comes near this. */
#define MAX_LINE (1024 * 1024)
/* After the last line, the rest of the body (its end, usually nothing) is read this long
 * so that the connection can be used again. */
#define DRAIN_MS 1000
/* Generations of several users and a probe may run at once against one local server. */
#define MAX_CONNECTIONS 32
#define IDLE_SECONDS    60

struct SrHttpClient {
  SrHttpServer server; /* its strings are owned */
  char *name;
  SoupSession *session;
  GMainContext *context;
  GHashTable *streams; /* SrHttpStream* not freed yet */
};

typedef enum {
  TIMER_CONNECT,
  TIMER_FIRST_TOKEN,
  TIMER_TOTAL,
  TIMER_DRAIN,
  N_TIMERS,
} Timer;

struct SrHttpStream {
  gint refs;
  SrHttpClient *client; /* NULL once the client is gone */
  SoupSession *session;
  SoupMessage *message;
  GCancellable *io; /* ours: every read and the send go through it */
  GSource *cancel_source;
  GSource *timers[N_TIMERS];
  guint timer_ms[N_TIMERS];
  GDataInputStream *lines;
  GString *body; /* a non-2xx body, or a whole body */
  guint status;
  gboolean ended;    /* @end has been called */
  gboolean draining; /* after the last line, reading to the end of the body */
  GError *failure;   /* why the stream could not start */
  SrHttpLineFunc line;
  SrHttpEndFunc end;
  gpointer user_data;
  GDestroyNotify destroy;
};

static SrHttpStream *
stream_ref (SrHttpStream *stream)
{
  stream->refs++;
  return stream;
}

static void
destroy_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static void
stream_unref (SrHttpStream *stream)
{
  if (--stream->refs > 0)
    return;
  destroy_source (&stream->cancel_source);
  for (guint i = 0; i < N_TIMERS; i++)
    destroy_source (&stream->timers[i]);
  if (stream->client != NULL)
    g_hash_table_remove (stream->client->streams, stream);
  if (stream->message != NULL)
    g_signal_handlers_disconnect_by_data (stream->message, stream);
  g_clear_object (&stream->message);
  g_clear_object (&stream->lines);
  g_clear_object (&stream->io);
  g_clear_object (&stream->session);
  if (stream->body != NULL)
    g_string_free (stream->body, TRUE);
  g_clear_error (&stream->failure);
  if (stream->destroy != NULL)
    stream->destroy (stream->user_data);
  g_free (stream);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrHttpStream, stream_unref)

/* "5 s", "300 ms" */
static char *
format_ms (guint ms)
{
  /* TRANSLATORS: a time limit in seconds, as in "sent no answer within 60 s" */
  if (ms % 1000 == 0)
    return g_strdup_printf (_ ("%u s"), ms / 1000);
  /* TRANSLATORS: a time limit in milliseconds */
  return g_strdup_printf (_ ("%u ms"), ms);
}

static void
stop_timer (SrHttpStream *stream, Timer timer)
{
  destroy_source (&stream->timers[timer]);
}

static void
finish (SrHttpStream *stream, const SrHttpOutcome *outcome)
{
  if (stream->ended)
    return;
  stream->ended = TRUE;
  destroy_source (&stream->cancel_source);
  for (guint i = 0; i < N_TIMERS; i++)
    destroy_source (&stream->timers[i]);
  /* Whatever is pending returns, cancelled, and only drops its reference. */
  if (!stream->draining)
    g_cancellable_cancel (stream->io);
  SrHttpEndFunc end = stream->end;
  stream->end = NULL;
  if (end != NULL)
    end (outcome, stream->user_data);
  /* The reference the stream keeps on itself while it runs; what is still pending holds
   * its own. */
  stream_unref (stream);
}

static void
finish_error (SrHttpStream *stream, const GError *error)
{
  SrHttpOutcome outcome = { error, stream->status, NULL, FALSE };
  finish (stream, &outcome);
}

static void
finish_body (SrHttpStream *stream, gboolean ended_early)
{
  SrHttpOutcome outcome
      = { NULL, stream->status, stream->body != NULL ? stream->body->str : NULL, ended_early };
  finish (stream, &outcome);
}

static gboolean
on_timer (gpointer data, Timer timer)
{
  SrHttpStream *stream = data;
  SrHttpClient *client = stream->client;
  g_autofree char *limit = format_ms (stream->timer_ms[timer]);

  g_clear_pointer (&stream->timers[timer], g_source_unref);
  if (timer == TIMER_DRAIN) {
    g_cancellable_cancel (stream->io);
    return G_SOURCE_REMOVE;
  }
  const char *name = client != NULL ? client->name : "";
  g_autoptr (GError) failure = NULL;
  switch (timer) {
  case TIMER_CONNECT:
    failure = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                           _ ("Cannot reach %s: no connection within %s "
                              "([generation] connect_timeout)"),
                           name, limit);
    break;
  case TIMER_FIRST_TOKEN:
    failure = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                           _ ("%s sent no answer within %s ([generation] "
                              "first_token_timeout); the model may still be loading, "
                              "or be too large for this machine"),
                           name, limit);
    break;
  default:
    failure
        = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                       _ ("%s did not finish within %s ([generation] total_timeout)"), name, limit);
    break;
  }
  /* Ended here rather than when the cancelled call returns: a stalled server must not
   * decide when the answer ends. */
  finish_error (stream, failure);
  return G_SOURCE_REMOVE;
}

static gboolean
on_connect_timer (gpointer data)
{
  return on_timer (data, TIMER_CONNECT);
}

static gboolean
on_first_token_timer (gpointer data)
{
  return on_timer (data, TIMER_FIRST_TOKEN);
}

static gboolean
on_total_timer (gpointer data)
{
  return on_timer (data, TIMER_TOTAL);
}

static gboolean
on_drain_timer (gpointer data)
{
  return on_timer (data, TIMER_DRAIN);
}

static void
start_timer (SrHttpStream *stream, Timer timer, guint ms, GSourceFunc func, GMainContext *context)
{
  if (ms == 0)
    return;
  stream->timer_ms[timer] = ms;
  stream->timers[timer] = g_timeout_source_new (ms);
  /* The stream outlives its timers: they go when it ends. */
  g_source_set_callback (stream->timers[timer], func, stream, NULL);
  g_source_set_static_name (stream->timers[timer], "[smartrag] model server timeout");
  g_source_attach (stream->timers[timer], context);
}

static gboolean
on_cancelled (GCancellable *cancellable, gpointer data)
{
  SrHttpStream *stream = data;
  g_autoptr (GError) error = g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED,
                                                  _ ("The answer was cancelled"));
  finish_error (stream, error);
  return G_SOURCE_REMOVE;
}

/* A failed connection or read, worded with the server and what to check. */
static GError *
transport_error (SrHttpStream *stream, const GError *error)
{
  SrHttpClient *client = stream->client;
  const char *name = client != NULL ? client->name : "";

  const char *hint = client != NULL ? client->server.unreachable_hint : "";

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    return g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                        _ ("Cannot reach %s: connection refused — %s"), name, hint);
  if (error->domain == G_RESOLVER_ERROR)
    return g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                        _ ("Cannot reach %s: its host name does not resolve (%s)"), name,
                        error->message);
  if (error->domain == G_TLS_ERROR)
    return g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                        _ ("Cannot talk to %s over TLS: %s"), name, error->message);
  if (stream->status == 0)
    return g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                        _ ("Cannot reach %s: %s — %s"), name, error->message, hint);
  return g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                      _ ("The connection to %s broke during the answer: %s"), name, error->message);
}

/* A call that returned with @error while the stream was still running. */
static void
fail_transport (SrHttpStream *stream, const GError *error)
{
  if (stream->ended)
    return;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    /* Whatever cancels io ends the stream first; this is only a safety net. */
    g_autoptr (GError) cancelled = g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED,
                                                        _ ("The answer was cancelled"));
    finish_error (stream, cancelled);
    return;
  }
  g_autoptr (GError) worded = transport_error (stream, error);
  finish_error (stream, worded);
}

static void read_next (SrHttpStream *stream);

static gboolean
is_success (guint status)
{
  return status >= 200 && status < 300;
}

/* What a 2xx line means to the caller; FALSE when the stream has ended. */
static gboolean
take_line (SrHttpStream *stream, const char *line, gsize length)
{
  g_autoptr (GError) error = NULL;

  if (length > MAX_LINE) {
    error = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                         _ ("%s sent a line of more than %u bytes; is it a model server?"),
                         stream->client != NULL ? stream->client->name : "", MAX_LINE);
    finish_error (stream, error);
    return FALSE;
  }
  switch (stream->line (line, length, stream->user_data, &error)) {
  case SR_HTTP_LINE_MORE:
    return !stream->ended;
  case SR_HTTP_LINE_END:
    /* The rest of the body is read in the background so that the connection can serve
     * the next request; the answer ends now. */
    stream->draining = TRUE;
    finish_body (stream, FALSE);
    if (stream->client != NULL)
      start_timer (stream, TIMER_DRAIN, DRAIN_MS, on_drain_timer, stream->client->context);
    return TRUE;
  case SR_HTTP_LINE_FAILED:
    finish_error (stream, error);
    return FALSE;
  }
  g_assert_not_reached ();
}

/* Keeps what a body says for the end: an error message, or a whole answer. */
static gboolean
keep_body (SrHttpStream *stream, const char *line, gsize length)
{
  gsize limit
      = stream->line == NULL && is_success (stream->status) ? MAX_WHOLE_BODY : MAX_ERROR_BODY;
  if (stream->body == NULL)
    stream->body = g_string_new (NULL);
  else
    g_string_append_c (stream->body, '\n');
  g_string_append_len (stream->body, line, (gssize) MIN (length, limit));
  if (stream->body->len < limit)
    return TRUE;
  g_string_truncate (stream->body, limit);
  finish_body (stream, FALSE);
  return FALSE;
}

static void
on_line (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (SrHttpStream) stream = data;
  g_autoptr (GError) error = NULL;
  gsize length = 0;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source),
                                                                result, &length, &error);

  if (stream->ended && !stream->draining)
    return;
  if (line == NULL) {
    /* The end of the body, or a failed read; a drain only stops. */
    if (stream->draining)
      return;
    if (error != NULL)
      fail_transport (stream, error);
    else
      finish_body (stream, stream->line != NULL && is_success (stream->status));
    return;
  }
  if (length > 0 && line[length - 1] == '\r')
    line[--length] = '\0';

  gboolean more = TRUE;
  if (stream->draining)
    more = TRUE;
  else if (stream->line == NULL || !is_success (stream->status))
    more = keep_body (stream, line, length);
  else
    more = take_line (stream, line, length);
  if (more)
    read_next (stream);
}

static void
read_next (SrHttpStream *stream)
{
  g_data_input_stream_read_line_async (stream->lines, G_PRIORITY_DEFAULT, stream->io, on_line,
                                       stream_ref (stream));
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (SrHttpStream) stream = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) body = soup_session_send_finish (SOUP_SESSION (source), result, &error);

  if (stream->ended)
    return;
  if (body == NULL) {
    fail_transport (stream, error);
    return;
  }
  stop_timer (stream, TIMER_CONNECT);
  stream->status = soup_message_get_status (stream->message);
  stream->lines = g_data_input_stream_new (body);
  g_data_input_stream_set_newline_type (stream->lines, G_DATA_STREAM_NEWLINE_TYPE_LF);
  read_next (stream);
}

/* The request is on its way: the connection stands. */
static void
on_wrote_headers (SoupMessage *message, gpointer data)
{
  stop_timer (data, TIMER_CONNECT);
}

static gboolean
on_start_failed (gpointer data)
{
  SrHttpStream *stream = data;
  g_autoptr (GError) failure = g_steal_pointer (&stream->failure);
  finish_error (stream, failure);
  return G_SOURCE_REMOVE;
}

static SoupMessage *
build_message (SrHttpClient *client, const SrHttpRequest *request)
{
  g_autofree char *uri = g_strconcat (client->server.url, request->path, NULL);
  SoupMessage *message = soup_message_new (request->body != NULL ? "POST" : "GET", uri);
  if (message == NULL)
    return NULL;
  SoupMessageHeaders *headers = soup_message_get_request_headers (message);
  if (request->api_key != NULL) {
    g_autofree char *authorization = g_strconcat ("Bearer ", request->api_key, NULL);
    soup_message_headers_replace (headers, "Authorization", authorization);
  }
  if (request->body != NULL) {
    gsize length = 0;
    char *json = json_to_string (request->body, FALSE);
    length = strlen (json);
    g_autoptr (GBytes) bytes = g_bytes_new_take (json, length);
    soup_message_set_request_body_from_bytes (message, "application/json", bytes);
    /* libsoup sends a POST on a fresh connection unless it may send it twice (should a
     * kept connection turn out closed). Asking a model again has no effect but the answer:
     * the connection a previous answer used can serve the next. */
    soup_message_add_flags (message, SOUP_MESSAGE_IDEMPOTENT);
  }
  return message;
}

SrHttpStream *
sr_http_stream_start (SrHttpClient *client, const SrHttpRequest *request, GCancellable *cancellable,
                      SrHttpLineFunc line, SrHttpEndFunc end, gpointer user_data,
                      GDestroyNotify destroy)
{
  SrHttpStream *stream = g_new0 (SrHttpStream, 1);
  stream->refs = 1; /* the client's, until the stream ends */
  stream->client = client;
  stream->session = g_object_ref (client->session);
  stream->io = g_cancellable_new ();
  stream->line = line;
  stream->end = end;
  stream->user_data = user_data;
  stream->destroy = destroy;
  g_hash_table_add (client->streams, stream);

  stream->message = build_message (client, request);
  if (stream->message == NULL) {
    stream->failure = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
                                   _ ("%s: '%s%s' is not a valid URL"), client->name,
                                   client->server.url, request->path);
    g_autoptr (GSource) idle = g_idle_source_new ();
    g_source_set_callback (idle, on_start_failed, stream, NULL);
    g_source_attach (idle, client->context);
    stream->timers[TIMER_TOTAL] = g_steal_pointer (&idle);
    return stream;
  }

  if (cancellable != NULL) {
    stream->cancel_source = g_cancellable_source_new (cancellable);
    g_source_set_callback (stream->cancel_source, G_SOURCE_FUNC (on_cancelled), stream, NULL);
    g_source_set_static_name (stream->cancel_source, "[smartrag] model server cancel");
    g_source_attach (stream->cancel_source, client->context);
  }
  start_timer (stream, TIMER_CONNECT, client->server.connect_timeout_ms, on_connect_timer,
               client->context);
  if (line != NULL)
    start_timer (stream, TIMER_FIRST_TOKEN, client->server.first_token_timeout_ms,
                 on_first_token_timer, client->context);
  start_timer (stream, TIMER_TOTAL,
               request->timeout_ms > 0 ? request->timeout_ms : client->server.total_timeout_ms,
               on_total_timer, client->context);
  g_signal_connect (stream->message, "wrote-headers", G_CALLBACK (on_wrote_headers), stream);
  soup_session_send_async (client->session, stream->message, G_PRIORITY_DEFAULT, stream->io,
                           on_sent, stream_ref (stream));
  return stream;
}

void
sr_http_stream_first_token (SrHttpStream *stream)
{
  stop_timer (stream, TIMER_FIRST_TOKEN);
}

SrHttpClient *
sr_http_client_new (const SrHttpServer *server)
{
  SrHttpClient *client = g_new0 (SrHttpClient, 1);
  client->server = *server;
  client->server.kind = g_strdup (server->kind);
  client->server.url = g_strdup (server->url);
  client->server.unreachable_hint = g_strdup (server->unreachable_hint);
  /* TRANSLATORS: a model server and its address: "Ollama at http://127.0.0.1:11434" */
  client->name = g_strdup_printf (_ ("%s at %s"), server->kind, server->url);
  client->context = g_main_context_ref_thread_default ();
  /* No I/O timeout of libsoup's own: a model may think for a while between tokens, and
   * the stream's timers bound each phase instead. */
  client->session = soup_session_new_with_options (
      "user-agent", "smartrag/" PACKAGE_VERSION, "timeout", 0, "idle-timeout", IDLE_SECONDS,
      "max-conns", MAX_CONNECTIONS, "max-conns-per-host", MAX_CONNECTIONS, NULL);
  client->streams = g_hash_table_new (g_direct_hash, g_direct_equal);
  return client;
}

void
sr_http_client_free (SrHttpClient *client)
{
  if (client == NULL)
    return;
  g_autoptr (GPtrArray) streams = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, client->streams);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (streams, key);
  for (guint i = 0; i < streams->len; i++) {
    SrHttpStream *stream = streams->pdata[i];
    stream->client = NULL;
    stream->end = NULL;
    g_cancellable_cancel (stream->io);
    if (!stream->ended) {
      stream->ended = TRUE;
      stream_unref (stream); /* the reference it kept until its end */
    }
  }
  g_hash_table_unref (client->streams);
  soup_session_abort (client->session);
  g_object_unref (client->session);
  g_main_context_unref (client->context);
  g_free (client->name);
  g_free ((char *) client->server.kind);
  g_free ((char *) client->server.url);
  g_free ((char *) client->server.unreachable_hint);
  g_free (client);
}

const SrHttpServer *
sr_http_client_server (SrHttpClient *client)
{
  return &client->server;
}

const char *
sr_http_client_name (SrHttpClient *client)
{
  return client->name;
}
