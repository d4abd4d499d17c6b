/* POST /api/v1/query and /query/stream: a question answered as one JSON reply or as SSE. */
#include "http/routes.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <sys/socket.h>

#include "common/errors.h"
#include "http/answer-stream.h"
#include "http/http-private.h"

#define QUERY_PATH "/api/v1/query"
#define STATE_KEY  "sr-http-answer"
/* A comment line this often keeps proxies and clients from taking a model that is still
 * loading for a dead connection. */
#define KEEPALIVE_SECONDS 15

static const char *const ask_fields[] = {
  "session_id", "query", "k", "history", "backend", "model", "temperature", "max_tokens", NULL,
};

/* One answer on its way to a client, kept on its message. */
typedef struct {
  SrHttpRequest *request;
  SoupServerMessage *message; /* the owner of this state */
  SrAnswerStream *stream;     /* NULL once the answer is told or the client went */
  gboolean events;            /* a stream of events, else one reply */
  gboolean replied;           /* the last byte of the reply is given to libsoup */
  GSource *hangup;
  guint keepalive;
} Answer;

static void
stop_watching (Answer *answer)
{
  if (answer->hangup != NULL) {
    g_source_destroy (answer->hangup);
    g_clear_pointer (&answer->hangup, g_source_unref);
  }
  g_clear_handle_id (&answer->keepalive, g_source_remove);
}

static void
close_stream (Answer *answer)
{
  g_clear_pointer (&answer->stream, sr_answer_stream_close);
}

static void
answer_free (gpointer data)
{
  Answer *answer = data;
  stop_watching (answer);
  close_stream (answer);
  g_free (answer);
}

/* The reply is complete: libsoup writes the rest and the request is done. */
static void
finish_reply (Answer *answer)
{
  stop_watching (answer);
  close_stream (answer);
  answer->replied = TRUE;
  if (answer->events)
    soup_message_body_complete (soup_server_message_get_response_body (answer->message));
  soup_server_message_unpause (answer->message);
}

/* libsoup notices a client that went only when it writes to it, which may be a minute
 * away while a model loads; the end of the connection is seen at once here. Only the
 * end counts: bytes the client sends on are a next request, libsoup's business. */
static gboolean
on_client_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Answer *answer = user_data;
  char byte;
  gssize n = recv (g_socket_get_fd (socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&answer->hangup, g_source_unref);
  if (n > 0 || answer->replied)
    return G_SOURCE_REMOVE;
  g_debug ("An HTTP client left before its answer ended");
  close_stream (answer);
  /* Nobody reads it; it only lets libsoup finish the message. */
  if (!answer->events) {
    g_autoptr (GError) error = g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED,
                                                    _ ("The client left before the answer ended"));
    sr_http_reply_error (answer->request, error);
  }
  finish_reply (answer);
  return G_SOURCE_REMOVE;
}

static void
watch_client (Answer *answer)
{
  GSocket *socket = sr_http_message_socket (answer->message);
  if (socket == NULL)
    return;
  answer->hangup = g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (answer->hangup, G_SOURCE_FUNC (on_client_readable), answer, NULL);
  g_source_attach (answer->hangup, NULL);
}

/* A reply that ended before the answer did (the connection broke while writing). */
static void
on_message_finished (SoupServerMessage *message, gpointer user_data)
{
  Answer *answer = user_data;
  stop_watching (answer);
  close_stream (answer);
}

/* The question of the body, named in errors for the route it came to. */
static gboolean
read_question (SrHttpRequest *request, SrAnswerRequest *ask)
{
  g_autoptr (SrJsonBody) body = sr_http_request_json (request);
  g_autoptr (GError) error = NULL;
  if (body == NULL)
    return FALSE;
  const SrHttpRoute *route = request->match.route;
  g_autofree char *what = g_strdup_printf ("%s %s", route->method, route->pattern);
  if (sr_answer_request_read (ask, body, ask_fields, what, &error))
    return TRUE;
  sr_http_reply_error (request, error);
  return FALSE;
}

/* Starts the answer; NULL after replying with the error that prevented it. */
static Answer *
start_answer (SrHttpRequest *request, const SrAnswerSink *sink, gboolean events)
{
  g_auto (SrAnswerRequest) ask = { NULL };
  g_autoptr (GError) error = NULL;
  if (!read_question (request, &ask))
    return NULL;

  Answer *answer = g_new0 (Answer, 1);
  answer->request = request;
  answer->message = sr_http_request_message (request);
  answer->events = events;
  answer->stream = sr_answer_stream_new (request, sink, answer);
  if (!sr_answer_stream_ask (answer->stream, &ask, &error)) {
    answer_free (answer);
    sr_http_reply_error (request, error);
    return NULL;
  }
  g_object_set_data_full (G_OBJECT (answer->message), STATE_KEY, answer, answer_free);
  g_signal_connect (answer->message, "finished", G_CALLBACK (on_message_finished), answer);
  watch_client (answer);
  return answer;
}

/* POST /api/v1/query: one reply once the answer is complete. */

static void
reply_answer (const char *query_id, const char *text, GPtrArray *hits, const SrAnswerStats *stats,
              gpointer user_data)
{
  Answer *answer = user_data;
  g_auto (SrJsonWriter) writer = { NULL };
  sr_json_writer_init (&writer);
  sr_json_writer_begin_object (&writer);
  sr_json_writer_member_string (&writer, "answer", text);
  sr_json_writer_key (&writer, "sources");
  sr_answer_write_sources (&writer, hits);
  sr_json_writer_member_string (&writer, "query_id", query_id);
  sr_json_writer_key (&writer, "timings");
  sr_json_writer_begin_object (&writer);
  sr_answer_write_stats (&writer, stats);
  sr_json_writer_end_object (&writer);
  sr_json_writer_end_object (&writer);
  sr_http_reply_json (answer->request, SOUP_STATUS_OK, &writer);
  finish_reply (answer);
}

static void
reply_failure (const char *query_id, const GError *error, gpointer user_data)
{
  Answer *answer = user_data;
  sr_http_reply_error (answer->request, error);
  finish_reply (answer);
}

static void
ask (SrHttpRequest *request)
{
  static const SrAnswerSink sink = { NULL, NULL, reply_answer, reply_failure, reply_failure };
  /* Nothing is written until the answer is complete. */
  if (start_answer (request, &sink, FALSE) != NULL)
    soup_server_message_pause (sr_http_request_message (request));
}

/* POST /api/v1/query/stream: server-sent events, each written as it comes. */

static gboolean keep_alive (gpointer user_data);

static void
send_text (Answer *answer, const char *text, gsize length)
{
  if (answer->replied)
    return;
  soup_message_body_append (soup_server_message_get_response_body (answer->message),
                            SOUP_MEMORY_COPY, text, length);
  soup_server_message_unpause (answer->message);
  /* Counted from the last thing written. */
  g_clear_handle_id (&answer->keepalive, g_source_remove);
  answer->keepalive = g_timeout_add_seconds (KEEPALIVE_SECONDS, keep_alive, answer);
}

static gboolean
keep_alive (gpointer user_data)
{
  Answer *answer = user_data;
  static const char comment[] = ": keep-alive\n\n";
  answer->keepalive = 0;
  send_text (answer, comment, sizeof comment - 1);
  return G_SOURCE_REMOVE;
}

/* "event: NAME", "data: JSON" and a blank line; the JSON is on one line, as the writer
 * escapes every line break inside strings. */
static void
send_event (Answer *answer, const char *name, SrJsonWriter *writer)
{
  gsize length;
  g_autofree char *json = sr_json_writer_finish (writer, &length);
  g_autofree char *event
      = g_strdup_printf ("event: %s\ndata: %.*s\n\n", name, (int) length - 1, json);
  send_text (answer, event, strlen (event));
}

static void
send_sources (const char *query_id, GPtrArray *hits, gpointer user_data)
{
  g_auto (SrJsonWriter) writer = { NULL };
  sr_json_writer_init (&writer);
  sr_json_writer_begin_object (&writer);
  sr_json_writer_member_string (&writer, "query_id", query_id);
  sr_json_writer_key (&writer, "sources");
  sr_answer_write_sources (&writer, hits);
  sr_json_writer_end_object (&writer);
  send_event (user_data, "sources", &writer);
}

static void
send_token (const char *query_id, const char *text, gpointer user_data)
{
  g_auto (SrJsonWriter) writer = { NULL };
  sr_json_writer_init (&writer);
  sr_json_writer_begin_object (&writer);
  sr_json_writer_member_string (&writer, "text", text);
  sr_json_writer_end_object (&writer);
  send_event (user_data, "token", &writer);
}

static void
send_done (const char *query_id, const char *text, GPtrArray *hits, const SrAnswerStats *stats,
           gpointer user_data)
{
  g_auto (SrJsonWriter) writer = { NULL };
  sr_json_writer_init (&writer);
  sr_json_writer_begin_object (&writer);
  sr_json_writer_member_string (&writer, "query_id", query_id);
  sr_answer_write_stats (&writer, stats);
  sr_json_writer_end_object (&writer);
  send_event (user_data, "done", &writer);
  finish_reply (user_data);
}

static void
send_error (const char *query_id, const GError *error, gpointer user_data)
{
  g_auto (SrJsonWriter) writer = { NULL };
  sr_json_writer_init (&writer);
  sr_json_writer_begin_object (&writer);
  sr_json_writer_member_string (&writer, "error",
                                smartrag_error_slug (smartrag_error_code (error)));
  sr_json_writer_member_string (&writer, "message", error->message);
  if (query_id != NULL)
    sr_json_writer_member_string (&writer, "query_id", query_id);
  sr_json_writer_end_object (&writer);
  send_event (user_data, "error", &writer);
  finish_reply (user_data);
}

static void
ask_stream (SrHttpRequest *request)
{
  static const SrAnswerSink sink = { send_sources, send_token, send_done, send_error, send_error };
  Answer *answer = start_answer (request, &sink, TRUE);
  if (answer == NULL)
    return;
  SoupServerMessage *message = sr_http_request_message (request);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (message);
  sr_http_reply_empty (request, SOUP_STATUS_OK);
  soup_message_headers_set_content_type (headers, "text/event-stream", NULL);
  /* Each event leaves as it is made, never held back to fill a buffer. */
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_headers_replace (headers, "X-Accel-Buffering", "no");
  soup_message_body_set_accumulate (soup_server_message_get_response_body (message), FALSE);
  answer->keepalive = g_timeout_add_seconds (KEEPALIVE_SECONDS, keep_alive, answer);
}

const SrHttpRoute sr_http_query_routes[] = {
  { "POST", QUERY_PATH, ask, SR_HTTP_ROUTE_JSON_BODY },
  { "POST", QUERY_PATH "/stream", ask_stream, SR_HTTP_ROUTE_JSON_BODY },
  SR_HTTP_ROUTES_END,
};
