/* An upload's multipart/form-data body, taken as it arrives: the file into an unnamed file. */
#pragma once

#include <gio/gio.h>

#include "auth/caller.h"
#include "service/service.h"

G_BEGIN_DECLS

/* The file part's name, and the session's. */
#define SR_HTTP_UPLOAD_FILE    "file"
#define SR_HTTP_UPLOAD_SESSION "session_id"

typedef struct SrHttpUpload SrHttpUpload;

/* An upload from @caller with the request's Content-Type @type and its parameters @params;
 * UNSUPPORTED_FORMAT when that is not multipart/form-data with a valid boundary. @caller
 * must outlive the upload. */
SrHttpUpload *sr_http_upload_new (SrService *service, const SrCaller *caller, const char *type,
                                  GHashTable *params, GError **error);
void sr_http_upload_free (SrHttpUpload *upload);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrHttpUpload, sr_http_upload_free)

/* The next bytes of the body. The file part's go to an unnamed file as they come; the
 * session is checked as soon as its part is complete, so that an upload to a session the
 * caller may not use stops there. FALSE with the error to answer; after that, the upload's
 * file is gone and it takes nothing more. */
gboolean sr_http_upload_feed (SrHttpUpload *upload, const guint8 *data, gsize length,
                              GError **error);
/* The body is complete: FALSE unless it was well-formed and had both parts. */
gboolean sr_http_upload_finish (SrHttpUpload *upload, GError **error);

/* After sr_http_upload_finish(): the file, read from its start, and its checked name. */
int sr_http_upload_fd (SrHttpUpload *upload);
const char *sr_http_upload_filename (SrHttpUpload *upload);
const char *sr_http_upload_session_id (SrHttpUpload *upload);

G_END_DECLS
