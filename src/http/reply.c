/* HTTP replies: JSON bodies, errors as {"error","message"} with the one table's statuses. */
#include "http/http-private.h"

#include <string.h>

#define JSON_TYPE "application/json; charset=utf-8"
/* Seconds a client told BUSY waits before asking again: about what an answer takes. */
#define BUSY_RETRY_AFTER "5"

static void
set_common_headers (SoupServerMessage *message)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (message);
  /* Replies hold one user's data: no cache along the way may keep them. */
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
}

const char *
sr_http_message_path (SoupServerMessage *message)
{
  GUri *uri = soup_server_message_get_uri (message);
  return uri != NULL ? g_uri_get_path (uri) : "?";
}

void
sr_http_message_reply_json (SoupServerMessage *message, guint status, char *json, gsize length)
{
  set_common_headers (message);
  soup_server_message_set_status (message, status, NULL);
  soup_server_message_set_response (message, JSON_TYPE, SOUP_MEMORY_TAKE, json, length);
}

void
sr_http_message_reply_error (SoupServerMessage *message, const GError *error)
{
  SmartragError code = smartrag_error_code (error);
  g_auto (SrJsonWriter) writer = { NULL };
  sr_json_writer_init (&writer);
  sr_json_writer_begin_object (&writer);
  sr_json_writer_member_string (&writer, "error", smartrag_error_slug (code));
  sr_json_writer_member_string (&writer, "message", error->message);
  sr_json_writer_end_object (&writer);

  SoupMessageHeaders *headers = soup_server_message_get_response_headers (message);
  if (code == SMARTRAG_ERROR_UNAUTHENTICATED)
    soup_message_headers_replace (headers, "WWW-Authenticate", "Bearer realm=\"smartrag\"");
  if (code == SMARTRAG_ERROR_BUSY && soup_message_headers_get_one (headers, "Retry-After") == NULL)
    soup_message_headers_replace (headers, "Retry-After", BUSY_RETRY_AFTER);
  if (code == SMARTRAG_ERROR_FAILED)
    g_warning ("HTTP %s %s failed: %s", soup_server_message_get_method (message),
               sr_http_message_path (message), error->message);
  gsize length;
  char *json = sr_json_writer_finish (&writer, &length);
  sr_http_message_reply_json (message, smartrag_error_http_status (code), json, length);
}

void
sr_http_message_reply_code (SoupServerMessage *message, SmartragError code, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *text = g_strdup_vprintf (format, args);
  va_end (args);
  g_autoptr (GError) error = g_error_new_literal (SMARTRAG_ERROR, code, text);
  sr_http_message_reply_error (message, error);
}

void
sr_http_reply_json (SrHttpRequest *request, guint status, SrJsonWriter *writer)
{
  gsize length;
  char *json = sr_json_writer_finish (writer, &length);
  sr_http_message_reply_json (request->message, status, json, length);
}

void
sr_http_reply_json_bytes (SrHttpRequest *request, guint status, GBytes *json)
{
  set_common_headers (request->message);
  soup_message_headers_replace (soup_server_message_get_response_headers (request->message),
                                "Content-Type", JSON_TYPE);
  soup_server_message_set_status (request->message, status, NULL);
  soup_message_body_append_bytes (soup_server_message_get_response_body (request->message), json);
}

void
sr_http_reply_error (SrHttpRequest *request, const GError *error)
{
  sr_http_message_reply_error (request->message, error);
}

void
sr_http_reply_text (SrHttpRequest *request, guint status, const char *content_type, char *text)
{
  set_common_headers (request->message);
  soup_server_message_set_status (request->message, status, NULL);
  soup_server_message_set_response (request->message, content_type, SOUP_MEMORY_TAKE, text,
                                    strlen (text));
}

void
sr_http_reply_empty (SrHttpRequest *request, guint status)
{
  set_common_headers (request->message);
  soup_server_message_set_status (request->message, status, NULL);
}

char *
sr_http_format_time (gint64 us)
{
  g_autoptr (GDateTime) second = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  g_autoptr (GDateTime) time
      = second != NULL ? g_date_time_add (second, us % G_USEC_PER_SEC) : NULL;
  if (time == NULL)
    return g_strdup ("1970-01-01T00:00:00.000000Z");
  return g_date_time_format (time, "%Y-%m-%dT%H:%M:%S.%fZ");
}
