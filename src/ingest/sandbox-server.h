/* The fork servers that read documents for this process, one per helper program. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _SrSandboxServer SrSandboxServer;

/* Sends one request (@data with @fds) to the fork server running @helper_path. The server
 * is started on the first request, and again when it has died or the program was replaced
 * on disk; a server found dead while sending is replaced and the request sent once more.
 * The caller holds the server until the request has ended and then gives it back with
 * sr_sandbox_server_release(). Fails with SMARTRAG_ERROR_FAILED, naming @helper_path. */
SrSandboxServer *sr_sandbox_server_send (const char *helper_path, const void *data, gsize length,
                                         const int *fds, guint n_fds, GError **error);

/* Ends a request. @lost: the server closed the request's reply socket without reporting its
 * end, so it has died, and the next request must not be sent to it. */
void sr_sandbox_server_release (SrSandboxServer *server, gboolean lost);

/* The error for a helper that could not be started or would not take a request. */
void sr_sandbox_server_set_start_error (GError **error, const char *helper_path,
                                        const char *reason);

G_END_DECLS
