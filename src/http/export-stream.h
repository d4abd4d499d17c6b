/* A conversation's export sent as it is written: the service writes a pipe, HTTP reads it. */
#pragma once

#include "http/routes.h"

G_BEGIN_DECLS

/* Replies to @request with the export of its session ("{id}") as @format: 200 with the
 * bytes as they come, or the error that came before the first of them. */
void sr_http_export_conversation (SrHttpRequest *request, const char *format);

G_END_DECLS
