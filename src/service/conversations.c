/* Conversation operations: reading, searching and exporting a session's messages. */
#include "service/conversations.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "common/durations.h"
#include "common/errors.h"
#include "common/unichar.h"
#include "service/conversation-export.h"
#include "service/sessions.h"

void
sr_message_source_free (SrMessageSource *source)
{
  if (source == NULL)
    return;
  g_free (source->document_id);
  g_free (source->filename);
  g_free (source->heading);
  g_free (source->text);
  g_free (source);
}

/* A member of @type, or NULL: stored sources are read, never trusted to be well typed. */
static JsonNode *
member_of_type (JsonObject *object, const char *name, GType type)
{
  JsonNode *node = json_object_get_member (object, name);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return NULL;
  GType found = json_node_get_value_type (node);
  gboolean number = type == G_TYPE_DOUBLE && found == G_TYPE_INT64;
  return found == type || number ? node : NULL;
}

static char *
member_string (JsonObject *object, const char *name)
{
  JsonNode *node = member_of_type (object, name, G_TYPE_STRING);
  return g_strdup (node != NULL ? json_node_get_string (node) : "");
}

static guint
member_count (JsonObject *object, const char *name)
{
  JsonNode *node = member_of_type (object, name, G_TYPE_INT64);
  return node != NULL ? (guint) CLAMP (json_node_get_int (node), 0, G_MAXUINT) : 0;
}

static double
member_double (JsonObject *object, const char *name)
{
  JsonNode *node = member_of_type (object, name, G_TYPE_DOUBLE);
  return node != NULL ? json_node_get_double (node) : 0;
}

GPtrArray *
sr_conversations_parse_sources (const char *sources_json)
{
  GPtrArray *sources = g_ptr_array_new_with_free_func ((GDestroyNotify) sr_message_source_free);
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (sources_json == NULL || !json_parser_load_from_data (parser, sources_json, -1, NULL))
    return sources;
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    return sources;

  JsonArray *array = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (array); i++) {
    JsonNode *element = json_array_get_element (array, i);
    if (!JSON_NODE_HOLDS_OBJECT (element))
      continue;
    JsonObject *object = json_node_get_object (element);
    SrMessageSource *source = g_new0 (SrMessageSource, 1);
    source->document_id = member_string (object, "document_id");
    source->filename = member_string (object, "filename");
    source->chunk = member_count (object, "chunk");
    source->page = member_count (object, "page");
    source->heading = member_string (object, "heading");
    source->text = member_string (object, "text");
    source->score = member_double (object, "score");
    g_ptr_array_add (sources, source);
  }
  return sources;
}

static gboolean
check_limit (guint *limit, GError **error)
{
  if (*limit == 0)
    *limit = SR_CONVERSATIONS_DEFAULT_LIMIT;
  if (*limit <= SR_CONVERSATIONS_MAX_LIMIT)
    return TRUE;
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
               _ ("Invalid limit: expected 1 to %d messages, or 0 for %d"),
               SR_CONVERSATIONS_MAX_LIMIT, SR_CONVERSATIONS_DEFAULT_LIMIT);
  return FALSE;
}

static gboolean
check_search_text (const char *text, GError **error)
{
  if (!g_utf8_validate (text, -1, NULL)) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Invalid search text: not valid UTF-8"));
    return FALSE;
  }
  if (strlen (text) > SR_CONVERSATIONS_MAX_SEARCH_BYTES) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("Invalid search text: longer than %d bytes"),
                 SR_CONVERSATIONS_MAX_SEARCH_BYTES);
    return FALSE;
  }
  if (sr_text_is_blank (text)) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Invalid search text: it is empty"));
    return FALSE;
  }
  return TRUE;
}

GPtrArray *
sr_conversations_get_messages (SrService *service, const SrCaller *caller, const char *session_id,
                               guint offset, guint limit, GError **error)
{
  if (!sr_sessions_check_access (service, caller, session_id, error)
      || !check_limit (&limit, error))
    return NULL;
  return sr_store_messages_list (sr_service_store (service), session_id, offset, limit, error);
}

GPtrArray *
sr_conversations_search (SrService *service, const SrCaller *caller, const char *session_id,
                         const char *text, guint limit, GError **error)
{
  if (!sr_sessions_check_access (service, caller, session_id, error)
      || !check_search_text (text, error) || !check_limit (&limit, error))
    return NULL;
  return sr_store_messages_search (sr_service_store (service), session_id, text, limit, error);
}

/* Reads the session and its whole conversation through @db in one snapshot, so that an
 * answer written meanwhile is in the export whole or not at all, then renders them. */
static GBytes *
render_in (SrStore *db, const SrCaller *caller, const char *session_id, SrExportFormat format,
           GError **error)
{
  g_autoptr (SrSessionRecord) session = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  gboolean started = FALSE;

  if (!sr_store_begin_read (db, &started, error))
    return NULL;
  /* Again here: on a worker, the session may have gone since the call was checked. */
  if (sr_sessions_check_access_in (db, caller, session_id, error)
      && (session = sr_store_session_get (db, session_id, error)) != NULL)
    messages = sr_store_messages_list (db, session_id, 0, G_MAXUINT, error);
  sr_store_end_read (db, started);
  if (messages == NULL)
    return NULL;
  return sr_export_render (format, session, messages, sr_now_us ());
}

GBytes *
sr_conversations_render (SrService *service, const SrCaller *caller, const char *session_id,
                         const char *format, GError **error)
{
  SrExportFormat parsed;
  if (!sr_sessions_check_access (service, caller, session_id, error)
      || !sr_export_parse_format (format, &parsed, error))
    return NULL;
  return render_in (sr_service_store (service), caller, session_id, parsed, error);
}

static gboolean
check_export (SrService *service, const SrCaller *caller, const char *session_id,
              const char *format, int fd, SrExportFormat *parsed, GError **error)
{
  return sr_sessions_check_access (service, caller, session_id, error)
         && sr_export_parse_format (format, parsed, error) && sr_export_check_fd (fd, error);
}

gboolean
sr_conversations_export (SrService *service, const SrCaller *caller, const char *session_id,
                         const char *format, int fd, GError **error)
{
  SrExportFormat parsed;
  if (!check_export (service, caller, session_id, format, fd, &parsed, error))
    return FALSE;
  g_autoptr (GBytes) bytes
      = render_in (sr_service_store (service), caller, session_id, parsed, error);
  if (bytes == NULL)
    return FALSE;
  return sr_export_write (fd, bytes, sr_service_limits (service)->upload_idle_timeout_ms, error);
}

typedef struct {
  SrService *service;
  SrCaller caller;
  char *peer;
  char *session_id;
  SrExportFormat format;
  int fd; /* our own duplicate */
} ExportJob;

static void
export_job_free (gpointer data)
{
  ExportJob *job = data;
  sr_service_work_end_later (job->service);
  if (job->fd >= 0)
    close (job->fd);
  g_free (job->peer);
  g_free (job->session_id);
  g_free (job);
}

/* On a worker thread: a client's pipe may take the export slowly. */
static void
run_export (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  ExportJob *job = data;
  GError *error = NULL;
  g_autoptr (GBytes) bytes = NULL;

  SrStore *db = sr_store_acquire (sr_service_store (job->service), &error);
  if (db != NULL) {
    bytes = render_in (db, &job->caller, job->session_id, job->format, &error);
    /* Given back before the write, which waits on the client, not on the database. */
    sr_store_release (db);
  }
  guint idle_ms = sr_service_limits (job->service)->upload_idle_timeout_ms;
  gboolean written = bytes != NULL && sr_export_write (job->fd, bytes, idle_ms, &error);
  /* The reader sees the end of the export once every copy of ours is closed. */
  close (job->fd);
  job->fd = -1;
  if (written)
    g_info ("Conversation of session %s exported (%" G_GSIZE_FORMAT " bytes) for %s",
            job->session_id, g_bytes_get_size (bytes), job->peer);
  sr_service_thread_end (job->service);
  if (written)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
sr_conversations_export_async (SrService *service, const SrCaller *caller, const char *session_id,
                               const char *format, int fd, GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, sr_conversations_export_async);
  GError *error = NULL;
  SrExportFormat parsed;

  if (!check_export (service, caller, session_id, format, fd, &parsed, &error)) {
    g_task_return_error (task, error);
    return;
  }
  /* Our own descriptor: the caller's goes away with its message. */
  int own = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  if (own < 0) {
    g_task_return_new_error (task, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                             _ ("Invalid fd: %s"), g_strerror (errno));
    return;
  }
  ExportJob *job = g_new0 (ExportJob, 1);
  job->service = service;
  job->caller = *caller;
  job->peer = g_strdup (caller->peer);
  job->caller.peer = job->peer;
  job->session_id = g_strdup (session_id);
  job->format = parsed;
  job->fd = own;
  /* Counted as work under way: the database stays open until the thread is done. */
  sr_service_work_begin (service);
  sr_service_thread_begin (service);
  g_task_set_task_data (task, job, export_job_free);
  g_task_run_in_thread (task, run_export);
}

gboolean
sr_conversations_export_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
