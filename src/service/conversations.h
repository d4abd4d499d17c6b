/* Conversation operations: reading, searching and exporting a session's messages. */
#pragma once

#include <gio/gio.h>

#include "auth/caller.h"
#include "service/service.h"
#include "store/messages.h"

G_BEGIN_DECLS

/* Messages one call returns: 1 to the maximum; a limit of 0 asks for the default. */
#define SR_CONVERSATIONS_DEFAULT_LIMIT    100
#define SR_CONVERSATIONS_MAX_LIMIT        1000
#define SR_CONVERSATIONS_MAX_SEARCH_BYTES 4096

/* One source of an answer, as its message keeps it. */
typedef struct {
  char *document_id;
  char *filename;
  guint chunk;
  guint page; /* 0 when unknown */
  char *heading;
  char *text;
  double score;
} SrMessageSource;

void sr_message_source_free (SrMessageSource *source);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrMessageSource, sr_message_source_free)

/* The sources of a message's sources_json (SrMessageSource*, in their order). A member
 * that is missing or of another type reads as empty, 0 or ""; never NULL. */
GPtrArray *sr_conversations_parse_sources (const char *sources_json);

/* The session's messages (SrMessageRecord*), oldest first, from the @offset-th on; at
 * most @limit (1 to SR_CONVERSATIONS_MAX_LIMIT, 0 for SR_CONVERSATIONS_DEFAULT_LIMIT). */
GPtrArray *sr_conversations_get_messages (SrService *service, const SrCaller *caller,
                                          const char *session_id, guint offset, guint limit,
                                          GError **error);

/* The session's messages holding any word of @text (UTF-8, not blank, at most
 * SR_CONVERSATIONS_MAX_SEARCH_BYTES bytes; no FTS5 syntax is read in it), best first by
 * BM25 then oldest first; @limit as for sr_conversations_get_messages(). */
GPtrArray *sr_conversations_search (SrService *service, const SrCaller *caller,
                                    const char *session_id, const char *text, guint limit,
                                    GError **error);

/* The whole conversation as @format ("json" or "markdown"), on the calling thread: for a
 * face that sends the bytes itself. */
GBytes *sr_conversations_render (SrService *service, const SrCaller *caller, const char *session_id,
                                 const char *format, GError **error);

/* Writes the whole conversation as @format to @fd, which must be open for writing, on the
 * calling thread: it waits while a pipe's reader is slow, up to [limits]
 * upload_idle_timeout without progress. */
gboolean sr_conversations_export (SrService *service, const SrCaller *caller,
                                  const char *session_id, const char *format, int fd,
                                  GError **error);

/* The same on a worker thread, for the main loop. Access, @format and @fd are checked
 * before this returns, and @fd is duplicated: the caller may close its own at once. */
void sr_conversations_export_async (SrService *service, const SrCaller *caller,
                                    const char *session_id, const char *format, int fd,
                                    GAsyncReadyCallback callback, gpointer user_data);
gboolean sr_conversations_export_finish (GAsyncResult *result, GError **error);

G_END_DECLS
