/* smartrag-extract --serve: the fork server that starts one confined child per document. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Ties this process to the daemon at the other end of @socket (the kernel kills it when
 * the daemon goes), takes requests from it until it reaches its end, waits for the
 * children still running and returns the exit status. Nothing untrusted is parsed here:
 * each document is read by a child, forked for it, that runs sr_extract_document() with
 * @fault (test builds only). */
int sr_serve_run (int socket, const char *fault);

G_END_DECLS
