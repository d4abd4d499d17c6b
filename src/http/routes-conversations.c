/* A session's conversation over HTTP: its messages, a search in them, and its export. */
#include "http/routes.h"

#include "http/answer-stream.h"
#include "http/export-stream.h"
#include "http/url-query.h"
#include "service/conversations.h"

#define SESSION_PATH "/api/v1/sessions/{id}"

static const char *const page_params[] = { "offset", "limit", NULL };
static const char *const search_params[] = { "q", "limit", NULL };
static const char *const export_params[] = { "format", NULL };

/* The query string's parameters, or NULL after replying 400. */
static GHashTable *
read_params (SrHttpRequest *request, const char *const *allowed, const char *what)
{
  g_autoptr (GError) error = NULL;
  GUri *uri = soup_server_message_get_uri (sr_http_request_message (request));
  GHashTable *params = sr_url_query_parse (g_uri_get_query (uri), allowed, what, &error);
  if (params == NULL)
    sr_http_reply_error (request, error);
  return params;
}

static void
write_source (SrJsonWriter *writer, const SrMessageSource *source)
{
  sr_answer_write_source (writer, source->document_id, source->filename, source->chunk,
                          source->page, source->heading, source->text, source->score);
}

/* What only an answer has: its sources, who wrote it and how long it took. */
static void
write_answer_parts (SrJsonWriter *writer, const SrMessageRecord *message)
{
  g_autoptr (GPtrArray) sources = sr_conversations_parse_sources (message->sources_json);
  sr_json_writer_key (writer, "sources");
  sr_json_writer_begin_array (writer);
  for (guint i = 0; i < sources->len; i++)
    write_source (writer, sources->pdata[i]);
  sr_json_writer_end_array (writer);
  sr_json_writer_member_string (writer, "backend", message->backend);
  sr_json_writer_member_string (writer, "model", message->model);
  sr_json_writer_key (writer, "ttft_ms");
  sr_json_writer_double (writer, message->ttft_ms);
  sr_json_writer_key (writer, "total_ms");
  sr_json_writer_double (writer, message->total_ms);
  sr_json_writer_member_uint (writer, "prompt_tokens", message->prompt_tokens);
  sr_json_writer_member_uint (writer, "answer_tokens", message->answer_tokens);
}

/* A message with the keys GetMessages gives it over D-Bus; times in ISO 8601. */
static void
write_message (SrJsonWriter *writer, const SrMessageRecord *message)
{
  g_autofree char *created = sr_http_format_time (message->created_at);
  sr_json_writer_begin_object (writer);
  sr_json_writer_member_int (writer, "id", message->id);
  sr_json_writer_member_string (writer, "role", message->role);
  sr_json_writer_member_string (writer, "content", message->content);
  sr_json_writer_member_string (writer, "state", message->state);
  sr_json_writer_member_string (writer, "created_at", created);
  sr_json_writer_member_string (writer, "query_id", message->query_id);
  if (g_str_equal (message->role, "assistant"))
    write_answer_parts (writer, message);
  if (*message->error != '\0')
    sr_json_writer_member_string (writer, "error", message->error);
  sr_json_writer_end_object (writer);
}

static void
reply_messages (SrHttpRequest *request, GPtrArray *messages, const GError *error)
{
  g_auto (SrJsonWriter) writer = { NULL };
  if (messages == NULL) {
    sr_http_reply_error (request, error);
    return;
  }
  sr_json_writer_init (&writer);
  sr_json_writer_begin_object (&writer);
  sr_json_writer_key (&writer, "messages");
  sr_json_writer_begin_array (&writer);
  for (guint i = 0; i < messages->len; i++)
    write_message (&writer, messages->pdata[i]);
  sr_json_writer_end_array (&writer);
  sr_json_writer_end_object (&writer);
  sr_http_reply_json (request, SOUP_STATUS_OK, &writer);
}

static void
get_messages (SrHttpRequest *request)
{
  g_autoptr (GHashTable) params
      = read_params (request, page_params, "GET " SESSION_PATH "/messages");
  g_autoptr (GError) error = NULL;
  guint64 offset = 0;
  guint64 limit = 0;
  if (params == NULL)
    return;
  if (!sr_url_query_get_uint (params, "offset", G_MAXUINT, &offset, &error)
      || !sr_url_query_get_uint (params, "limit", G_MAXUINT, &limit, &error)) {
    sr_http_reply_error (request, error);
    return;
  }
  g_autoptr (GPtrArray) messages = sr_conversations_get_messages (
      sr_http_request_service (request), sr_http_request_caller (request),
      sr_http_request_param (request, "id"), (guint) offset, (guint) limit, &error);
  reply_messages (request, messages, error);
}

static void
search_messages (SrHttpRequest *request)
{
  g_autoptr (GHashTable) params
      = read_params (request, search_params, "GET " SESSION_PATH "/messages/search");
  g_autoptr (GError) error = NULL;
  guint64 limit = 0;
  if (params == NULL)
    return;
  if (!sr_url_query_get_uint (params, "limit", G_MAXUINT, &limit, &error)) {
    sr_http_reply_error (request, error);
    return;
  }
  /* Absent reads as empty, which the service refuses in its own words. */
  const char *text = g_hash_table_lookup (params, "q");
  g_autoptr (GPtrArray) messages = sr_conversations_search (
      sr_http_request_service (request), sr_http_request_caller (request),
      sr_http_request_param (request, "id"), text != NULL ? text : "", (guint) limit, &error);
  reply_messages (request, messages, error);
}

static void
export_conversation (SrHttpRequest *request)
{
  g_autoptr (GHashTable) params
      = read_params (request, export_params, "GET " SESSION_PATH "/export");
  if (params == NULL)
    return;
  const char *format = g_hash_table_lookup (params, "format");
  sr_http_export_conversation (request, format != NULL ? format : "json");
}

const SrHttpRoute sr_http_conversation_routes[] = {
  { "GET", SESSION_PATH "/messages", get_messages },
  { "GET", SESSION_PATH "/messages/search", search_messages },
  { "GET", SESSION_PATH "/export", export_conversation },
  SR_HTTP_ROUTES_END,
};
