/* An upload's multipart/form-data body, taken as it arrives: the file into an unnamed file. */
#include "http/upload.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "http/multipart.h"
#include "http/routes.h"
#include "service/documents.h"
#include "service/sessions.h"

/* Part headers are a line or two; more would be no upload of ours. */
#define MAX_HEADER_BYTES (8 * 1024)
#define MAX_PARTS        8
/* A session id is 32 characters; room for white space and mistakes to be reported. */
#define MAX_SESSION_BYTES 256

typedef enum {
  PART_NONE,
  PART_FILE,
  PART_SESSION,
} Part;

struct SrHttpUpload {
  SrService *service;
  const SrCaller *caller;
  SrMultipart *parser;
  Part current;
  int fd;         /* the file part's bytes; -1 until it begins, and after a failure */
  char *filename; /* checked */
  GString *session_id;
  gboolean failed;
};

static gboolean
begin_file (SrHttpUpload *upload, const SrMultipartPart *part, GError **error)
{
  if (upload->fd >= 0)
    return sr_multipart_malformed (error, _ ("part '%s' comes twice; upload one file at a time"),
                                   SR_HTTP_UPLOAD_FILE);
  if (part->filename == NULL)
    return sr_multipart_malformed (error, _ ("part '%s' has no filename"), SR_HTTP_UPLOAD_FILE);
  /* A name that is only a path ("../../etc/passwd") keeps its last element, as over D-Bus. */
  upload->filename = sr_documents_clean_filename (part->filename, error);
  if (upload->filename == NULL)
    return FALSE;
  upload->fd = sr_documents_open_upload (upload->service, error);
  if (upload->fd < 0)
    return FALSE;
  upload->current = PART_FILE;
  return TRUE;
}

static gboolean
begin_session (SrHttpUpload *upload, const SrMultipartPart *part, GError **error)
{
  if (upload->session_id != NULL)
    return sr_multipart_malformed (error, _ ("part '%s' comes twice"), SR_HTTP_UPLOAD_SESSION);
  if (part->filename != NULL)
    return sr_multipart_malformed (
        error, _ ("part '%s' is a file; send the session's id as a plain field"),
        SR_HTTP_UPLOAD_SESSION);
  upload->session_id = g_string_new (NULL);
  upload->current = PART_SESSION;
  return TRUE;
}

static gboolean
on_begin (const SrMultipartPart *part, gpointer user_data, GError **error)
{
  SrHttpUpload *upload = user_data;
  if (g_str_equal (part->name, SR_HTTP_UPLOAD_FILE))
    return begin_file (upload, part, error);
  if (g_str_equal (part->name, SR_HTTP_UPLOAD_SESSION))
    return begin_session (upload, part, error);

  g_autofree char *shown = sr_http_shown (part->name);
  return sr_multipart_malformed (error,
                                 _ ("unknown part '%s'; an upload takes the parts %s and %s"),
                                 shown, SR_HTTP_UPLOAD_FILE, SR_HTTP_UPLOAD_SESSION);
}

/* On the main loop, as the bytes come: a write into the page cache is as quick as the copy
 * libsoup made to hand them over, and keeps them out of memory. */
static gboolean
write_file (SrHttpUpload *upload, const guint8 *data, gsize length, GError **error)
{
  while (length > 0) {
    gssize n = write (upload->fd, data, length);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                   _ ("Cannot keep the uploaded file on the disk of the state directory: %s"),
                   g_strerror (errno));
      return FALSE;
    }
    data += n;
    length -= (gsize) n;
  }
  return TRUE;
}

static gboolean
on_data (const guint8 *data, gsize length, gpointer user_data, GError **error)
{
  SrHttpUpload *upload = user_data;
  if (upload->current == PART_FILE)
    return write_file (upload, data, length, error);
  if (upload->session_id->len + length > MAX_SESSION_BYTES)
    return sr_multipart_malformed (error, _ ("part '%s' is longer than %u bytes"),
                                   SR_HTTP_UPLOAD_SESSION, MAX_SESSION_BYTES);
  g_string_append_len (upload->session_id, (const char *) data, (gssize) length);
  return TRUE;
}

static gboolean
on_end (gpointer user_data, GError **error)
{
  SrHttpUpload *upload = user_data;
  Part ended = upload->current;
  upload->current = PART_NONE;
  if (ended != PART_SESSION)
    return TRUE;
  /* Known before the file, the session is checked before any of it is kept. */
  if (memchr (upload->session_id->str, '\0', upload->session_id->len) != NULL)
    return sr_multipart_malformed (error, _ ("part '%s' holds a NUL byte"), SR_HTTP_UPLOAD_SESSION);
  return sr_sessions_check_access (upload->service, upload->caller, upload->session_id->str, error);
}

static const SrMultipartCallbacks callbacks = { on_begin, on_data, on_end };

SrHttpUpload *
sr_http_upload_new (SrService *service, const SrCaller *caller, const char *type,
                    GHashTable *params, GError **error)
{
  const char *boundary = params != NULL ? g_hash_table_lookup (params, "boundary") : NULL;
  if (type == NULL || g_ascii_strcasecmp (type, "multipart/form-data") != 0) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT,
                         _ ("An upload must be sent as 'Content-Type: multipart/form-data' "
                            "with the parts file and session_id"));
    return NULL;
  }
  if (boundary == NULL || !sr_multipart_boundary_is_valid (boundary)) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT,
                         _ ("The upload's Content-Type needs a boundary parameter: 1 to 70 "
                            "letters, digits or characters of '()+_,-./:=? and space, not ending "
                            "in a space"));
    return NULL;
  }
  SrHttpUpload *upload = g_new0 (SrHttpUpload, 1);
  SrMultipartLimits limits = { MAX_HEADER_BYTES, MAX_PARTS };
  upload->service = service;
  upload->caller = caller;
  upload->fd = -1;
  upload->parser = sr_multipart_new (boundary, &limits, &callbacks, upload);
  return upload;
}

/* The file's space is given back at once; nothing of a failed upload is kept. */
static void
drop_file (SrHttpUpload *upload)
{
  if (upload->fd >= 0)
    close (upload->fd);
  upload->fd = -1;
}

void
sr_http_upload_free (SrHttpUpload *upload)
{
  if (upload == NULL)
    return;
  drop_file (upload);
  sr_multipart_free (upload->parser);
  g_free (upload->filename);
  if (upload->session_id != NULL)
    g_string_free (upload->session_id, TRUE);
  g_free (upload);
}

gboolean
sr_http_upload_feed (SrHttpUpload *upload, const guint8 *data, gsize length, GError **error)
{
  g_return_val_if_fail (!upload->failed, FALSE);
  if (sr_multipart_feed (upload->parser, data, length, error))
    return TRUE;
  upload->failed = TRUE;
  drop_file (upload);
  return FALSE;
}

static gboolean
check_complete (SrHttpUpload *upload, GError **error)
{
  if (!sr_multipart_finish (upload->parser, error))
    return FALSE;
  if (upload->fd < 0)
    return sr_multipart_malformed (error, _ ("there is no part '%s' with the file"),
                                   SR_HTTP_UPLOAD_FILE);
  if (upload->session_id == NULL)
    return sr_multipart_malformed (error, _ ("there is no part '%s' naming the session"),
                                   SR_HTTP_UPLOAD_SESSION);
  if (lseek (upload->fd, 0, SEEK_SET) != 0) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot read the uploaded file back: %s"), g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

gboolean
sr_http_upload_finish (SrHttpUpload *upload, GError **error)
{
  g_return_val_if_fail (!upload->failed, FALSE);
  if (check_complete (upload, error))
    return TRUE;
  upload->failed = TRUE;
  drop_file (upload);
  return FALSE;
}

int
sr_http_upload_fd (SrHttpUpload *upload)
{
  return upload->fd;
}

const char *
sr_http_upload_filename (SrHttpUpload *upload)
{
  return upload->filename;
}

const char *
sr_http_upload_session_id (SrHttpUpload *upload)
{
  return upload->session_id != NULL ? upload->session_id->str : NULL;
}
