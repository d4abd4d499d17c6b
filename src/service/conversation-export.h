/* Conversation exports: the JSON and Markdown renderings, and their writing to a descriptor. */
#pragma once

#include <glib.h>

#include "store/messages.h"
#include "store/sessions.h"

G_BEGIN_DECLS

typedef enum {
  SR_EXPORT_JSON,
  SR_EXPORT_MARKDOWN,
} SrExportFormat;

/* "json" or "markdown", exactly; INVALID_ARGS naming both otherwise. */
gboolean sr_export_parse_format (const char *name, SrExportFormat *format, GError **error);

/* @messages (SrMessageRecord*, oldest first) of @session as @format, exported at @now
 * (µs since the epoch). */
GBytes *sr_export_render (SrExportFormat format, const SrSessionRecord *session,
                          GPtrArray *messages, gint64 now);

/* INVALID_ARGS unless @fd is an open descriptor that may be written. */
gboolean sr_export_check_fd (int fd, GError **error);

/* Writes all of @bytes to @fd, through short writes and EINTR. A pipe or socket whose
 * reader takes nothing for @idle_timeout_ms fails the export, so a client that stops
 * reading cannot hold a thread forever; one that closed its end fails it at once, without
 * SIGPIPE. */
gboolean sr_export_write (int fd, GBytes *bytes, guint idle_timeout_ms, GError **error);

G_END_DECLS
