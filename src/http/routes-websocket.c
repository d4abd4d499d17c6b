/* GET /ws/query/{session_id}: questions and their answers over a WebSocket, one at a time. */
#include "http/routes.h"

#include <glib/gi18n.h>

#include "common/errors.h"
#include "http/answer-stream.h"
#include "service/sessions.h"

static const char *const question_fields[] = {
  "type", "query", "k", "history", "backend", "model", "temperature", "max_tokens", NULL,
};
static const char *const cancel_fields[] = { "type", NULL };

/* One client's socket, from the upgrade until it closes. */
typedef struct {
  SoupWebsocketConnection *connection;
  SrAnswerStream *stream; /* NULL once the socket is ending */
  char *session_id;
} Client;

static void
client_free (Client *client)
{
  g_signal_handlers_disconnect_by_data (client->connection, client);
  g_clear_pointer (&client->stream, sr_answer_stream_close);
  g_object_unref (client->connection);
  g_free (client->session_id);
  g_free (client);
}

/* Sends the JSON object @writer holds, unless the socket is closing. */
static void
send_json (Client *client, SrJsonWriter *writer)
{
  g_autofree char *json = sr_json_writer_finish (writer, NULL);
  if (soup_websocket_connection_get_state (client->connection) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  g_strchomp (json);
  soup_websocket_connection_send_text (client->connection, json);
}

/* {"type": "error", …}; with the query id when the error ended that question, without when
 * it is about the message just received (a running question goes on). */
static void
send_error (Client *client, const char *query_id, const GError *error)
{
  g_auto (SrJsonWriter) writer = { NULL };
  sr_json_writer_init (&writer);
  sr_json_writer_begin_object (&writer);
  sr_json_writer_member_string (&writer, "type", "error");
  sr_json_writer_member_string (&writer, "error",
                                smartrag_error_slug (smartrag_error_code (error)));
  sr_json_writer_member_string (&writer, "message", error->message);
  if (query_id != NULL)
    sr_json_writer_member_string (&writer, "query_id", query_id);
  sr_json_writer_end_object (&writer);
  send_json (client, &writer);
}

static void
on_sources (const char *query_id, GPtrArray *hits, gpointer user_data)
{
  g_auto (SrJsonWriter) writer = { NULL };
  sr_json_writer_init (&writer);
  sr_json_writer_begin_object (&writer);
  sr_json_writer_member_string (&writer, "type", "sources");
  sr_json_writer_member_string (&writer, "query_id", query_id);
  sr_json_writer_key (&writer, "sources");
  sr_answer_write_sources (&writer, hits);
  sr_json_writer_end_object (&writer);
  send_json (user_data, &writer);
}

static void
on_token (const char *query_id, const char *text, gpointer user_data)
{
  g_auto (SrJsonWriter) writer = { NULL };
  sr_json_writer_init (&writer);
  sr_json_writer_begin_object (&writer);
  sr_json_writer_member_string (&writer, "type", "chunk");
  sr_json_writer_member_string (&writer, "content", text);
  sr_json_writer_end_object (&writer);
  send_json (user_data, &writer);
}

static void
on_finished (const char *query_id, const char *answer, GPtrArray *hits, const SrAnswerStats *stats,
             gpointer user_data)
{
  g_auto (SrJsonWriter) writer = { NULL };
  sr_json_writer_init (&writer);
  sr_json_writer_begin_object (&writer);
  sr_json_writer_member_string (&writer, "type", "done");
  sr_json_writer_member_string (&writer, "query_id", query_id);
  sr_answer_write_stats (&writer, stats);
  sr_json_writer_end_object (&writer);
  send_json (user_data, &writer);
}

static void
on_failed (const char *query_id, const GError *error, gpointer user_data)
{
  send_error (user_data, query_id, error);
}

/* A revoked token closes the socket as a breach of policy; a stopping daemon as going
 * away. The socket's own "closed" frees the client later, but a stopping daemon runs no
 * loop that would tell it. */
static void
on_ended (const char *query_id, const GError *error, gpointer user_data)
{
  Client *client = user_data;
  gboolean stopping = g_error_matches (error, SMARTRAG_ERROR, SMARTRAG_ERROR_SHUTTING_DOWN);
  send_error (client, query_id, error);
  g_clear_pointer (&client->stream, sr_answer_stream_close);
  if (soup_websocket_connection_get_state (client->connection) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (client->connection,
                                     stopping ? SOUP_WEBSOCKET_CLOSE_GOING_AWAY
                                              : SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                     error->message);
  if (stopping)
    client_free (client);
}

static gboolean
ask (Client *client, SrJsonBody *body, GError **error)
{
  g_auto (SrAnswerRequest) request = { NULL };
  if (!sr_answer_request_read (&request, body, question_fields, _ ("a question message"), error))
    return FALSE;
  request.session_id = g_strdup (client->session_id);
  return sr_answer_stream_ask (client->stream, &request, error);
}

static gboolean
cancel (Client *client, SrJsonBody *body, GError **error)
{
  return sr_json_body_check_fields (body, cancel_fields, _ ("a cancel message"), error)
         && sr_answer_stream_cancel (client->stream, error);
}

static gboolean
handle (Client *client, gint type, GBytes *message, GError **error)
{
  g_autofree char *kind = NULL;
  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Messages are text: JSON objects such as {\"query\": \"…\"}"));
  g_autoptr (SrJsonBody) body = sr_json_body_parse (message, error);
  if (body == NULL || !sr_json_body_get_string (body, "type", &kind, error))
    return FALSE;
  if (kind == NULL || g_str_equal (kind, "query"))
    return ask (client, body, error);
  if (g_str_equal (kind, "cancel"))
    return cancel (client, body, error);
  g_autofree char *shown = g_utf8_substring (kind, 0, MIN (g_utf8_strlen (kind, -1), 64));
  return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS,
                       _ ("Unknown message type '%s'; expected query or cancel"), shown);
}

/* A message that cannot be taken is answered, and the socket stays open. */
static void
on_message (SoupWebsocketConnection *connection, gint type, GBytes *message, gpointer user_data)
{
  Client *client = user_data;
  g_autoptr (GError) error = NULL;
  if (client->stream != NULL && !handle (client, type, message, &error))
    send_error (client, NULL, error);
}

/* Closed by either side, cleanly or not: a question still running is cancelled. */
static void
on_closed (SoupWebsocketConnection *connection, gpointer user_data)
{
  client_free (user_data);
}

static void
on_error (SoupWebsocketConnection *connection, GError *error, gpointer user_data)
{
  g_debug ("WebSocket of a client: %s", error->message);
}

static void
upgraded (SrHttpRequest *request, SoupWebsocketConnection *connection, gpointer user_data)
{
  static const SrAnswerSink sink = { on_sources, on_token, on_finished, on_failed, on_ended };
  Client *client = g_new0 (Client, 1);
  client->connection = g_object_ref (connection);
  client->session_id = g_strdup (user_data);
  client->stream = sr_answer_stream_new (request, &sink, client);
  g_signal_connect (connection, "message", G_CALLBACK (on_message), client);
  g_signal_connect (connection, "closed", G_CALLBACK (on_closed), client);
  g_signal_connect (connection, "error", G_CALLBACK (on_error), client);
}

/* The session is checked before the upgrade, so a stranger's gets the same plain 404 as
 * over the other routes. */
static void
open_socket (SrHttpRequest *request)
{
  const char *session_id = sr_http_request_param (request, "session_id");
  g_autoptr (GError) error = NULL;
  if (!sr_sessions_check_access (sr_http_request_service (request),
                                 sr_http_request_caller (request), session_id, &error)) {
    sr_http_reply_error (request, error);
    return;
  }
  sr_http_request_accept_websocket (request, upgraded, g_strdup (session_id), g_free);
}

const SrHttpRoute sr_http_websocket_routes[] = {
  { "GET", "/ws/query/{session_id}", open_socket, SR_HTTP_ROUTE_WEBSOCKET },
  SR_HTTP_ROUTES_END,
};
