/* /api/v1/documents: upload files, add text, list, read and remove the caller's documents. */
#include "http/routes.h"

#include <glib/gi18n.h>

#include "common/errors.h"
#include "http/upload.h"
#include "http/url-query.h"
#include "service/documents.h"

#define DOCUMENTS_PATH "/api/v1/documents"
/* Room in an upload's body beside the file: boundaries, part headers and the session id. */
#define UPLOAD_FRAMING_BYTES (64 * 1024)
/* Room in a text's JSON body beside the text: the other fields. */
#define TEXT_FIELDS_BYTES (64 * 1024)

static const char *const text_fields[] = { "session_id", "title", "text", NULL };
static const char *const list_params[] = { "session_id", NULL };

static void
write_document (SrJsonWriter *writer, const SrDocumentRecord *doc)
{
  g_autofree char *created = sr_http_format_time (doc->created_at);
  g_autofree char *updated = sr_http_format_time (doc->updated_at);

  sr_json_writer_begin_object (writer);
  sr_json_writer_member_string (writer, "document_id", doc->id);
  sr_json_writer_member_string (writer, "session_id", doc->session_id);
  sr_json_writer_member_string (writer, "filename", doc->filename);
  sr_json_writer_member_string (writer, "title", doc->title);
  sr_json_writer_member_string (writer, "format", doc->format);
  sr_json_writer_member_string (writer, "state", doc->state);
  sr_json_writer_key (writer, "progress");
  sr_json_writer_double (writer, doc->progress);
  sr_json_writer_member_string (writer, "message", doc->message);
  sr_json_writer_member_uint (writer, "size", doc->size);
  sr_json_writer_member_uint (writer, "chunks", doc->chunk_count);
  sr_json_writer_member_string (writer, "created_at", created);
  sr_json_writer_member_string (writer, "updated_at", updated);
  sr_json_writer_end_object (writer);
}

static void
reply_document (SrHttpRequest *request, guint status, const SrDocumentRecord *doc)
{
  g_auto (SrJsonWriter) writer = { NULL };
  sr_json_writer_init (&writer);
  write_document (&writer, doc);
  sr_http_reply_json (request, status, &writer);
}

/* An added document waits for a request whose message is paused meanwhile. */
typedef struct {
  SrHttpRequest *request;
  SoupServerMessage *message; /* a reference: it keeps the request */
} Pending;

static gpointer
pending_new (SrHttpRequest *request)
{
  Pending *pending = g_new0 (Pending, 1);
  pending->request = request;
  pending->message = g_object_ref (sr_http_request_message (request));
  soup_server_message_pause (pending->message);
  return pending;
}

/* 202: the bytes are durable, reading and indexing them goes on; GET shows how far. */
static void
on_added (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pending *pending = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (SrDocumentRecord) doc = sr_documents_add_finish (result, &error);

  if (doc == NULL) {
    sr_http_reply_error (pending->request, error);
  } else {
    g_autofree char *location = g_strdup_printf (DOCUMENTS_PATH "/%s", doc->id);
    soup_message_headers_replace (soup_server_message_get_response_headers (pending->message),
                                  "Location", location);
    reply_document (pending->request, SOUP_STATUS_ACCEPTED, doc);
  }
  soup_server_message_unpause (pending->message);
  g_object_unref (pending->message);
  g_free (pending);
}

static guint64
upload_max_body (SrService *service)
{
  return sr_service_limits (service)->max_file_bytes + UPLOAD_FRAMING_BYTES;
}

static void
upload_begin (SrHttpRequest *request)
{
  SoupServerMessage *message = sr_http_request_message (request);
  GHashTable *params = NULL;
  const char *type = soup_message_headers_get_content_type (
      soup_server_message_get_request_headers (message), &params);
  g_autoptr (GError) error = NULL;

  SrHttpUpload *upload = sr_http_upload_new (
      sr_http_request_service (request), sr_http_request_caller (request), type, params, &error);
  g_clear_pointer (&params, g_hash_table_destroy);
  if (upload == NULL) {
    sr_http_reply_error (request, error);
    return;
  }
  sr_http_request_set_data (request, upload, (GDestroyNotify) sr_http_upload_free);
}

static void
upload_chunk (SrHttpRequest *request, GBytes *piece)
{
  SrHttpUpload *upload = sr_http_request_get_data (request);
  gsize length;
  const guint8 *data = g_bytes_get_data (piece, &length);
  g_autoptr (GError) error = NULL;

  if (upload == NULL || length == 0)
    return;
  if (!sr_http_upload_feed (upload, data, length, &error)) {
    sr_http_reply_error (request, error);
    sr_http_request_set_data (request, NULL, NULL);
  }
}

static void
upload_document (SrHttpRequest *request)
{
  SrHttpUpload *upload = sr_http_request_get_data (request);
  g_autoptr (GError) error = NULL;

  if (upload == NULL || !sr_http_upload_finish (upload, &error)) {
    if (error == NULL)
      g_set_error_literal (&error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                           _ ("The upload was not read"));
    sr_http_reply_error (request, error);
    return;
  }
  /* The service takes its own descriptor of the file, so the request may go first. */
  sr_documents_add_fd_async (sr_http_request_service (request), sr_http_request_caller (request),
                             sr_http_upload_session_id (upload), sr_http_upload_fd (upload),
                             sr_http_upload_filename (upload), on_added, pending_new (request));
}

static const SrHttpBodyReader upload_body = { upload_max_body, upload_begin, upload_chunk };

/* Every byte of text may take two in JSON ("\n", "\""). */
static guint64
text_max_body (SrService *service)
{
  return 2 * sr_service_limits (service)->max_text_bytes + TEXT_FIELDS_BYTES;
}

static const SrHttpBodyReader text_body = { text_max_body, NULL, NULL };

static void
add_text (SrHttpRequest *request)
{
  g_autoptr (SrJsonBody) body = sr_http_request_json (request);
  g_autoptr (GError) error = NULL;
  g_autofree char *session_id = NULL;
  g_autofree char *title = NULL;
  g_autofree char *text = NULL;

  if (body == NULL)
    return;
  if (!sr_json_body_check_fields (body, text_fields, "POST " DOCUMENTS_PATH "/text", &error)
      || !sr_json_body_get_string (body, "session_id", &session_id, &error)
      || !sr_json_body_get_string (body, "title", &title, &error)
      || !sr_json_body_get_string (body, "text", &text, &error)
      || !sr_json_body_require (body, "session_id", &error)
      || !sr_json_body_require (body, "text", &error)) {
    sr_http_reply_error (request, error);
    return;
  }
  sr_documents_add_text_async (sr_http_request_service (request), sr_http_request_caller (request),
                               session_id, title != NULL ? title : "", text, on_added,
                               pending_new (request));
}

/* The query's session_id, the one parameter taken. */
static char *
query_session_id (SrHttpRequest *request, GError **error)
{
  GUri *uri = soup_server_message_get_uri (sr_http_request_message (request));
  g_autoptr (GHashTable) params
      = sr_url_query_parse (g_uri_get_query (uri), list_params, "GET " DOCUMENTS_PATH, error);
  const char *session_id = params != NULL ? g_hash_table_lookup (params, "session_id") : NULL;

  if (params != NULL && session_id == NULL)
    sr_invalid_args (error,
                     _ ("Missing query parameter 'session_id': GET %s?session_id=<id> "
                        "lists the documents of one session"),
                     DOCUMENTS_PATH);
  return g_strdup (session_id);
}

static void
list_documents (SrHttpRequest *request)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *session_id = query_session_id (request, &error);
  g_autoptr (GPtrArray) docs
      = session_id == NULL
            ? NULL
            : sr_documents_list (sr_http_request_service (request),
                                 sr_http_request_caller (request), session_id, &error);
  g_auto (SrJsonWriter) writer = { NULL };

  if (docs == NULL) {
    sr_http_reply_error (request, error);
    return;
  }
  sr_json_writer_init (&writer);
  sr_json_writer_begin_object (&writer);
  sr_json_writer_key (&writer, "documents");
  sr_json_writer_begin_array (&writer);
  for (guint i = 0; i < docs->len; i++)
    write_document (&writer, docs->pdata[i]);
  sr_json_writer_end_array (&writer);
  sr_json_writer_end_object (&writer);
  sr_http_reply_json (request, SOUP_STATUS_OK, &writer);
}

static void
get_document (SrHttpRequest *request)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrDocumentRecord) doc
      = sr_documents_get_any (sr_http_request_service (request), sr_http_request_caller (request),
                              sr_http_request_param (request, "id"), &error);
  if (doc == NULL)
    sr_http_reply_error (request, error);
  else
    reply_document (request, SOUP_STATUS_OK, doc);
}

static void
remove_document (SrHttpRequest *request)
{
  g_autoptr (GError) error = NULL;
  if (sr_documents_remove_any (sr_http_request_service (request), sr_http_request_caller (request),
                               sr_http_request_param (request, "id"), &error))
    sr_http_reply_empty (request, SOUP_STATUS_NO_CONTENT);
  else
    sr_http_reply_error (request, error);
}

const SrHttpRoute sr_http_document_routes[] = {
  { "POST", DOCUMENTS_PATH "/upload", upload_document, 0, 0, &upload_body },
  { "POST", DOCUMENTS_PATH "/text", add_text, SR_HTTP_ROUTE_JSON_BODY, 0, &text_body },
  { "GET", DOCUMENTS_PATH, list_documents },
  { "GET", DOCUMENTS_PATH "/{id}", get_document },
  { "DELETE", DOCUMENTS_PATH "/{id}", remove_document },
  SR_HTTP_ROUTES_END,
};
