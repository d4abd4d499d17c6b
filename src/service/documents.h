/* Document operations: durable adding from a file descriptor or text, listing, removal. */
#pragma once

#include <gio/gio.h>

#include "auth/caller.h"
#include "service/service.h"
#include "store/documents.h"

G_BEGIN_DECLS

/* The last path element of what a client called its file (clients send full paths, and
 * HTTP uploads may try "../"), checked: UTF-8, no control characters, at most 255 bytes. */
char *sr_documents_clean_filename (const char *filename, GError **error);

/* Copies @fd (the caller keeps its own descriptor) into the file store on a worker
 * thread, then records the document in state "stored"; the result is the new
 * SrDocumentRecord once the bytes and the row are durable. */
void sr_documents_add_fd_async (SrService *service, const SrCaller *caller, const char *session_id,
                                int fd, const char *filename, GAsyncReadyCallback callback,
                                gpointer user_data);
/* The same for text given in the call; its title names the document. */
void sr_documents_add_text_async (SrService *service, const SrCaller *caller,
                                  const char *session_id, const char *title, const char *text,
                                  GAsyncReadyCallback callback, gpointer user_data);
SrDocumentRecord *sr_documents_add_finish (GAsyncResult *result, GError **error);

GPtrArray *sr_documents_list (SrService *service, const SrCaller *caller, const char *session_id,
                              GError **error);
/* NOT_FOUND for a document that is not in this (visible) session. */
SrDocumentRecord *sr_documents_get (SrService *service, const SrCaller *caller,
                                    const char *session_id, const char *document_id,
                                    GError **error);
/* Removes the document, its chunks and, when no other document uses them, its bytes. */
gboolean sr_documents_remove (SrService *service, const SrCaller *caller, const char *session_id,
                              const char *document_id, GError **error);

/* The same by the document's id alone, for callers that name no session (HTTP): the
 * document's session decides access, and a document that does not exist and one the caller
 * may not access are both UNKNOWN_OBJECT with one message, so ids cannot be probed. */
SrDocumentRecord *sr_documents_get_any (SrService *service, const SrCaller *caller,
                                        const char *document_id, GError **error);
gboolean sr_documents_remove_any (SrService *service, const SrCaller *caller,
                                  const char *document_id, GError **error);

/* An empty file without a name, on the disk of the file store, for a file that arrives piece
 * by piece (an HTTP upload) before sr_documents_add_fd_async() takes it from its start; it
 * is gone when closed. -1 with FAILED when it cannot be made. */
int sr_documents_open_upload (SrService *service, GError **error);

G_END_DECLS
