/* /api/v1/sessions: create, list, read, change and delete the caller's sessions. */
#include "http/routes.h"

#include "service/sessions.h"

#define SESSIONS_PATH "/api/v1/sessions"

static const char *const create_fields[] = { "title", "context", "expire_after", NULL };
static const char *const change_fields[] = { "title", "context", NULL };

static void
write_session (SrJsonWriter *writer, const SrSessionRecord *session)
{
  g_autofree char *created = sr_http_format_time (session->created_at);
  g_autofree char *active = sr_http_format_time (session->last_active);

  sr_json_writer_begin_object (writer);
  sr_json_writer_member_string (writer, "session_id", session->id);
  sr_json_writer_member_string (writer, "title", session->title);
  /* Stored in the compact form SQLite's parser checked: JSON as it is. */
  sr_json_writer_member_raw (writer, "context", session->context);
  sr_json_writer_member_string (writer, "created_at", created);
  sr_json_writer_member_string (writer, "last_active", active);
  sr_json_writer_member_uint (writer, "message_count", session->message_count);
  sr_json_writer_member_uint (writer, "document_count", session->document_count);
  sr_json_writer_end_object (writer);
}

static void
reply_session (SrHttpRequest *request, guint status, const SrSessionRecord *session)
{
  g_auto (SrJsonWriter) writer = { NULL };
  sr_json_writer_init (&writer);
  write_session (&writer, session);
  sr_http_reply_json (request, status, &writer);
}

static void
create_session (SrHttpRequest *request)
{
  g_autoptr (SrJsonBody) body = sr_http_request_json (request);
  g_autoptr (GError) error = NULL;
  g_autofree char *title = NULL;
  g_autofree char *context = NULL;
  SrSessionSpec spec = SR_SESSION_SPEC_INIT;

  if (body == NULL)
    return;
  if (!sr_json_body_check_fields (body, create_fields, "POST " SESSIONS_PATH, &error)
      || !sr_json_body_get_string (body, "title", &title, &error)
      || !sr_json_body_get_object (body, "context", &context, &error)
      || !sr_json_body_get_seconds (body, "expire_after", &spec.expire_after, &error)) {
    sr_http_reply_error (request, error);
    return;
  }
  spec.title = title;
  spec.context = context;
  g_autoptr (SrSessionRecord) session = sr_sessions_create (
      sr_http_request_service (request), sr_http_request_caller (request), &spec, &error);
  if (session == NULL) {
    sr_http_reply_error (request, error);
    return;
  }
  g_autofree char *location = g_strdup_printf (SESSIONS_PATH "/%s", session->id);
  soup_message_headers_replace (
      soup_server_message_get_response_headers (sr_http_request_message (request)), "Location",
      location);
  reply_session (request, SOUP_STATUS_CREATED, session);
}

static void
list_sessions (SrHttpRequest *request)
{
  SrService *service = sr_http_request_service (request);
  const SrCaller *caller = sr_http_request_caller (request);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) ids = sr_sessions_list (service, caller, &error);
  g_auto (SrJsonWriter) writer = { NULL };

  if (ids == NULL) {
    sr_http_reply_error (request, error);
    return;
  }
  sr_json_writer_init (&writer);
  sr_json_writer_begin_object (&writer);
  sr_json_writer_key (&writer, "sessions");
  sr_json_writer_begin_array (&writer);
  for (guint i = 0; i < ids->len; i++) {
    g_autoptr (SrSessionRecord) session = sr_sessions_get (service, caller, ids->pdata[i], &error);
    if (session == NULL) {
      sr_http_reply_error (request, error);
      return;
    }
    write_session (&writer, session);
  }
  sr_json_writer_end_array (&writer);
  sr_json_writer_end_object (&writer);
  sr_http_reply_json (request, SOUP_STATUS_OK, &writer);
}

static void
get_session (SrHttpRequest *request)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) session
      = sr_sessions_get (sr_http_request_service (request), sr_http_request_caller (request),
                         sr_http_request_param (request, "id"), &error);
  if (session == NULL)
    sr_http_reply_error (request, error);
  else
    reply_session (request, SOUP_STATUS_OK, session);
}

/* Both values are checked before either is stored, so that a bad one changes nothing. */
static gboolean
check_change (SrService *service, const char *title, const char *context, GError **error)
{
  g_autofree char *canonical = NULL;
  if (title != NULL && !sr_sessions_check_title (service, title, error))
    return FALSE;
  if (context != NULL && (canonical = sr_sessions_check_context (service, context, error)) == NULL)
    return FALSE;
  return TRUE;
}

static SrSessionRecord *
apply_change (SrHttpRequest *request, const char *title, const char *context, GError **error)
{
  SrService *service = sr_http_request_service (request);
  const SrCaller *caller = sr_http_request_caller (request);
  const char *id = sr_http_request_param (request, "id");
  const char *changed[4] = { NULL };
  guint n = 0;
  g_autoptr (SrSessionRecord) session = NULL;

  if (!sr_sessions_check_access (service, caller, id, error)
      || !check_change (service, title, context, error))
    return NULL;
  if (title == NULL && context == NULL)
    return sr_sessions_get (service, caller, id, error);
  if (title != NULL
      && (session = sr_sessions_set_title (service, caller, id, title, error)) == NULL)
    return NULL;
  if (title != NULL)
    changed[n++] = "Title";
  if (context != NULL) {
    g_clear_pointer (&session, sr_session_record_free);
    if ((session = sr_sessions_set_context (service, caller, id, context, error)) == NULL)
      return NULL;
    changed[n++] = "Context";
  }
  changed[n] = "LastActive";
  /* Clients of the bus see the change as they see one made there. */
  sr_service_session_changed (service, id, changed);
  return g_steal_pointer (&session);
}

static void
change_session (SrHttpRequest *request)
{
  g_autoptr (SrJsonBody) body = sr_http_request_json (request);
  g_autoptr (GError) error = NULL;
  g_autofree char *title = NULL;
  g_autofree char *context = NULL;

  if (body == NULL)
    return;
  if (!sr_json_body_check_fields (body, change_fields, "PATCH " SESSIONS_PATH "/{id}", &error)
      || !sr_json_body_get_string (body, "title", &title, &error)
      || !sr_json_body_get_object (body, "context", &context, &error)) {
    sr_http_reply_error (request, error);
    return;
  }
  g_autoptr (SrSessionRecord) session = apply_change (request, title, context, &error);
  if (session == NULL)
    sr_http_reply_error (request, error);
  else
    reply_session (request, SOUP_STATUS_OK, session);
}

static void
delete_session (SrHttpRequest *request)
{
  g_autoptr (GError) error = NULL;
  if (sr_sessions_delete (sr_http_request_service (request), sr_http_request_caller (request),
                          sr_http_request_param (request, "id"), &error))
    sr_http_reply_empty (request, SOUP_STATUS_NO_CONTENT);
  else
    sr_http_reply_error (request, error);
}

const SrHttpRoute sr_http_session_routes[] = {
  { "POST", SESSIONS_PATH, create_session, SR_HTTP_ROUTE_JSON_BODY },
  { "GET", SESSIONS_PATH, list_sessions },
  { "GET", SESSIONS_PATH "/{id}", get_session },
  { "PATCH", SESSIONS_PATH "/{id}", change_session, SR_HTTP_ROUTE_JSON_BODY },
  { "DELETE", SESSIONS_PATH "/{id}", delete_session },
  SR_HTTP_ROUTES_END,
};
