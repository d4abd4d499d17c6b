/* Document operations: durable adding from a file descriptor or text, listing, removal. */
#define _GNU_SOURCE
#include "service/documents.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/durations.h"
#include "common/errors.h"
#include "common/ids.h"
#include "ingest/readers.h"
#include "ingest/sandbox.h"
#include "service/indexes.h"
#include "service/ingestion.h"
#include "service/sessions.h"
#include "store/chunks.h"
#include "store/files.h"

#define MAX_FILENAME_BYTES 255
/* Telling a zip's format reads a few names and one tiny member; a helper that takes longer
 * is left to fail the document later rather than hold up the caller. */
#define DETECT_TIMEOUT_SECONDS 10

static gboolean
invalid (GError **error, const char *message)
{
  g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS, message);
  return FALSE;
}

char *
sr_documents_clean_filename (const char *filename, GError **error)
{
  if (!g_utf8_validate (filename, -1, NULL)) {
    invalid (error, _ ("Invalid filename: not valid UTF-8"));
    return NULL;
  }
  /* Both separators: a name typed on another system arrives with backslashes. */
  const char *base = filename;
  for (const char *p = filename; *p != '\0'; p++)
    if (*p == '/' || *p == '\\')
      base = p + 1;
  if (*base == '\0' || g_str_equal (base, ".") || g_str_equal (base, "..")) {
    invalid (error, _ ("Invalid filename: it names no file; give the file's name, such as "
                       "report.pdf"));
    return NULL;
  }
  if (strlen (base) > MAX_FILENAME_BYTES) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("Invalid filename: longer than %d bytes"), MAX_FILENAME_BYTES);
    return NULL;
  }
  for (const char *p = base; *p != '\0'; p = g_utf8_next_char (p)) {
    if (g_unichar_iscntrl (g_utf8_get_char (p))) {
      invalid (error, _ ("Invalid filename: it contains a control character"));
      return NULL;
    }
  }
  return g_strdup (base);
}

typedef struct {
  SrService *service;
  SrCaller caller;
  char *peer;
  char *session_id;
  char *filename;
  char *title;
  int fd;
  gboolean is_text; /* from AddText */
  guint64 max_bytes;
  SrStoredFile stored;
} AddJob;

static void
add_job_free (gpointer data)
{
  AddJob *job = data;
  if (job->fd >= 0)
    close (job->fd);
  g_free (job->peer);
  g_free (job->session_id);
  g_free (job->filename);
  g_free (job->title);
  g_free (job);
}

/* What only the members of a zip archive tell is read in the sandbox, never here. When the
 * reader cannot answer, the upload is taken: parsing it later fails the document with the
 * reason, as for any other file. */
static gboolean
zip_is_readable (AddJob *job, int fd)
{
  const SrSandboxLimits *configured = NULL;
  const char *helper = sr_service_extract_helper (job->service, &configured);
  if (helper == NULL)
    return TRUE;
  SrSandboxLimits limits = *configured;
  limits.wall_timeout_seconds = MIN (limits.wall_timeout_seconds, DETECT_TIMEOUT_SECONDS);
  SrFormat format = SR_FORMAT_UNKNOWN;
  g_autoptr (GError) error = NULL;
  if (!sr_sandbox_detect (helper, fd, job->filename, &limits, NULL, &format, &error)) {
    g_debug ("Cannot tell the format of %s before storing it: %s", job->filename, error->message);
    return TRUE;
  }
  return format != SR_FORMAT_UNKNOWN;
}

/* Refuses, before anything is kept, what no reader would take. */
static gboolean
check_format (int fd, const guint8 *head, gsize length, gpointer user_data, GError **error)
{
  AddJob *job = user_data;
  gboolean zip_archive = FALSE;
  SrFormat format = sr_format_detect_head (head, length, job->filename, &zip_archive);
  if (zip_archive ? zip_is_readable (job, fd) : format != SR_FORMAT_UNKNOWN)
    return TRUE;
  if (job->is_text) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT,
                 _ ("The text cannot be read as a document: it holds too many control "
                    "characters or binary data; supported formats are %s"),
                 sr_format_supported_list ());
    return FALSE;
  }
  sr_format_set_unsupported (error, head, length);
  return FALSE;
}

/* On the worker, once the bytes are durable: the row, on the worker's own connection, so
 * that the main loop never waits for another writer. */
static SrDocumentRecord *
insert_row (AddJob *job, GError **error)
{
  g_autoptr (SrStoreLease) db = sr_store_acquire (sr_service_store (job->service), error);
  if (db == NULL)
    return NULL;
  /* The session may have gone, or changed hands, while the bytes arrived. */
  if (!sr_sessions_check_access_in (db, &job->caller, job->session_id, error))
    return NULL;

  g_autoptr (SrDocumentRecord) doc = g_new0 (SrDocumentRecord, 1);
  doc->id = sr_id_new ();
  doc->session_id = g_strdup (job->session_id);
  doc->file_sha256 = g_strdup (job->stored.sha256);
  doc->size = job->stored.size;
  doc->filename = g_strdup (job->filename);
  doc->title = g_strdup (job->title ? job->title : "");
  /* Text given as text is read as text: a note that starts with "%PDF-" is no PDF. */
  doc->format = g_strdup (job->is_text ? "text" : "");
  doc->state = g_strdup ("stored");
  doc->message = g_strdup ("");
  doc->created_at = doc->updated_at = sr_now_us ();
  g_autoptr (GError) local = NULL;
  if (!sr_store_document_insert (db, doc, &local)) {
    /* Deleted since the check: say so, not that a constraint failed. */
    if (sr_sessions_check_access_in (db, &job->caller, job->session_id, error))
      g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  sr_store_lock_writes (db);
  sr_store_session_touch (db, job->session_id, doc->created_at, NULL);
  sr_store_unlock_writes (db);
  return g_steal_pointer (&doc);
}

/* Runs on a worker thread: the client's descriptor may be slow, the disk too. */
static void
store_bytes (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  AddJob *job = data;
  GError *error = NULL;
  guint idle_ms = sr_service_limits (job->service)->upload_idle_timeout_ms;
  SrFilesCheck check = { SR_FORMAT_HEAD_BYTES, check_format, job };

  SrDocumentRecord *doc = NULL;
  if (!sr_files_put_fd_checked (sr_service_files_dir (job->service), job->fd, job->max_bytes,
                                idle_ms, &check, &job->stored, &error)) {
    if (g_error_matches (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT))
      g_info ("Refused %s in session %s from %s: %s", job->filename, job->session_id, job->peer,
              error->message);
  } else {
    doc = insert_row (job, &error);
  }
  sr_service_thread_end (job->service);
  if (doc == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, doc, (GDestroyNotify) sr_document_record_free);
}

/* Back on the main loop: the bytes are durable and the row committed. */
static void
record_document (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) outer = user_data;
  AddJob *job = g_task_get_task_data (outer);
  SrService *service = job->service;
  GError *error = NULL;

  sr_service_work_end (service);
  g_autoptr (SrDocumentRecord) doc = g_task_propagate_pointer (G_TASK (result), &error);
  if (doc == NULL) {
    g_task_return_error (outer, error);
    return;
  }
  if (sr_service_ingestion (service) != NULL)
    sr_ingestion_enqueue (sr_service_ingestion (service), doc, job->caller.uid, job->peer);
  static const char *const changed[] = { "DocumentCount", "LastActive", NULL };
  sr_service_session_changed (service, job->session_id, changed);
  g_info ("Document %s (%s, %" PRIu64 " bytes%s) stored in session %s by %s", doc->id,
          doc->filename, doc->size, job->stored.existed ? ", already known" : "", job->session_id,
          job->peer);
  g_task_return_pointer (outer, g_steal_pointer (&doc), (GDestroyNotify) sr_document_record_free);
}

/* Checks what can be checked at once, then hands @job's descriptor to a worker. Takes
 * ownership of @job. */
static void
start_add (AddJob *job, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) outer = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (outer, start_add);
  g_task_set_task_data (outer, job, add_job_free);
  GError *error = NULL;

  if (!sr_sessions_check_access (job->service, &job->caller, job->session_id, &error)) {
    g_task_return_error (outer, error);
    return;
  }
  sr_service_work_begin (job->service);
  sr_service_thread_begin (job->service);
  g_autoptr (GTask) inner = g_task_new (NULL, NULL, record_document, g_object_ref (outer));
  g_task_set_task_data (inner, job, NULL);
  g_task_run_in_thread (inner, store_bytes);
}

static AddJob *
new_job (SrService *service, const SrCaller *caller, const char *session_id)
{
  AddJob *job = g_new0 (AddJob, 1);
  job->service = service;
  job->caller = *caller;
  job->peer = g_strdup (caller->peer);
  job->caller.peer = job->peer;
  job->session_id = g_strdup (session_id);
  job->fd = -1;
  return job;
}

static void
report_error (GAsyncReadyCallback callback, gpointer user_data, GError *error)
{
  g_task_report_error (NULL, callback, user_data, start_add, error);
}

void
sr_documents_add_fd_async (SrService *service, const SrCaller *caller, const char *session_id,
                           int fd, const char *filename, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  GError *error = NULL;
  g_autofree char *clean = sr_documents_clean_filename (filename, &error);
  if (clean == NULL) {
    report_error (callback, user_data, error);
    return;
  }
  /* Our own descriptor: the caller's goes away with its message. */
  int own = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  if (own < 0) {
    report_error (callback, user_data,
                  g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                               _ ("Cannot use the file descriptor: %s"), g_strerror (errno)));
    return;
  }
  AddJob *job = new_job (service, caller, session_id);
  job->fd = own;
  job->filename = g_steal_pointer (&clean);
  job->max_bytes = sr_service_limits (service)->max_file_bytes;
  start_add (job, callback, user_data);
}

/* The text as a sealed in-memory file, so text and files share one durable path. */
static int
text_to_fd (const char *text, gsize length, GError **error)
{
  int fd = memfd_create ("smartrag-text", MFD_CLOEXEC);
  if (fd < 0 || write (fd, text, length) != (gssize) length || lseek (fd, 0, SEEK_SET) != 0) {
    int saved = errno;
    if (fd >= 0)
      close (fd);
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot keep the text in memory for storing: %s"), g_strerror (saved));
    return -1;
  }
  return fd;
}

void
sr_documents_add_text_async (SrService *service, const SrCaller *caller, const char *session_id,
                             const char *title, const char *text, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  const SrLimits *limits = sr_service_limits (service);
  gsize length = strlen (text);
  GError *error = NULL;

  if (!sr_sessions_check_title (service, title, &error)) {
    report_error (callback, user_data, error);
    return;
  }
  if (length > limits->max_text_bytes) {
    report_error (callback, user_data,
                  g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE,
                               _ ("The text is longer than the limit of %" PRIu64
                                  " bytes ([limits] max_text_size); add it as a file"),
                               limits->max_text_bytes));
    return;
  }
  if (!g_utf8_validate (text, (gssize) length, NULL)) {
    report_error (callback, user_data,
                  g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                                       _ ("Invalid text: not valid UTF-8")));
    return;
  }
  int fd = text_to_fd (text, length, &error);
  if (fd < 0) {
    report_error (callback, user_data, error);
    return;
  }
  AddJob *job = new_job (service, caller, session_id);
  job->fd = fd;
  job->is_text = TRUE;
  job->title = g_strdup (title);
  job->filename = g_strdup (*title != '\0' ? title : "text");
  job->max_bytes = limits->max_text_bytes;
  start_add (job, callback, user_data);
}

SrDocumentRecord *
sr_documents_add_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

GPtrArray *
sr_documents_list (SrService *service, const SrCaller *caller, const char *session_id,
                   GError **error)
{
  if (!sr_sessions_check_access (service, caller, session_id, error))
    return NULL;
  return sr_store_document_list (sr_service_store (service), session_id, error);
}

SrDocumentRecord *
sr_documents_get (SrService *service, const SrCaller *caller, const char *session_id,
                  const char *document_id, GError **error)
{
  if (!sr_sessions_check_access (service, caller, session_id, error))
    return NULL;
  if (!sr_id_is_valid (document_id)) {
    invalid (error, _ ("Invalid document id: expected 32 lowercase hexadecimal characters"));
    return NULL;
  }
  g_autoptr (SrDocumentRecord) doc
      = sr_store_document_get (sr_service_store (service), document_id, error);
  /* A document of another session reads as absent here, whoever owns that session. */
  if (doc != NULL && !g_str_equal (doc->session_id, session_id)) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND, _ ("No document '%s'"),
                 document_id);
    return NULL;
  }
  return g_steal_pointer (&doc);
}

gboolean
sr_documents_remove (SrService *service, const SrCaller *caller, const char *session_id,
                     const char *document_id, GError **error)
{
  g_autoptr (SrDocumentRecord) doc
      = sr_documents_get (service, caller, session_id, document_id, error);
  if (doc == NULL)
    return FALSE;
  g_autoptr (GArray) chunk_ids
      = sr_store_chunks_ids_of_document (sr_service_store (service), document_id, error);
  if (chunk_ids == NULL)
    return FALSE;
  g_autofree char *orphan = NULL;
  if (!sr_store_document_delete (sr_service_store (service), document_id, &orphan, error))
    return FALSE;
  /* After the commit: the worst a crash here leaves is bytes without a row, which a later
   * sweep removes, never a row without its bytes. */
  if (sr_service_indexes (service) != NULL)
    sr_indexes_remove (sr_service_indexes (service), session_id, chunk_ids);
  if (orphan != NULL)
    sr_service_remove_file (service, orphan);
  static const char *const changed[] = { "DocumentCount", NULL };
  sr_service_session_changed (service, session_id, changed);
  g_info ("Document %s removed from session %s by %s", document_id, session_id, caller->peer);
  return TRUE;
}

static gboolean
unknown_document (const char *document_id, GError **error)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT,
               _ ("Document '%s' does not exist or you may not access it"), document_id);
  return FALSE;
}

SrDocumentRecord *
sr_documents_get_any (SrService *service, const SrCaller *caller, const char *document_id,
                      GError **error)
{
  g_autoptr (GError) local = NULL;
  guint32 owner;

  if (!sr_id_is_valid (document_id)) {
    invalid (error, _ ("Invalid document id: expected 32 lowercase hexadecimal characters"));
    return NULL;
  }
  g_autoptr (SrDocumentRecord) doc
      = sr_store_document_get (sr_service_store (service), document_id, &local);
  if (doc == NULL && !g_error_matches (local, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND)) {
    g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  g_clear_error (&local);
  /* Absent, in a session that is gone, or someone else's: one answer for all three. */
  if (doc == NULL || !sr_sessions_exists (service, doc->session_id, &owner, &local)
      || !sr_caller_may_access (caller, owner)) {
    if (local != NULL)
      g_propagate_error (error, g_steal_pointer (&local));
    else
      unknown_document (document_id, error);
    return NULL;
  }
  return g_steal_pointer (&doc);
}

gboolean
sr_documents_remove_any (SrService *service, const SrCaller *caller, const char *document_id,
                         GError **error)
{
  g_autoptr (SrDocumentRecord) doc = sr_documents_get_any (service, caller, document_id, error);
  if (doc == NULL)
    return FALSE;
  g_autoptr (GError) local = NULL;
  if (sr_documents_remove (service, caller, doc->session_id, document_id, &local))
    return TRUE;
  /* Removed, or its session deleted, since it was read: gone, as for any unknown id. */
  if (g_error_matches (local, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND)
      || g_error_matches (local, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT))
    return unknown_document (document_id, error);
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

int
sr_documents_open_upload (SrService *service, GError **error)
{
  return sr_files_open_unnamed (sr_service_files_dir (service), error);
}
