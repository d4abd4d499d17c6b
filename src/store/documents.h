/* Rows of the documents and files tables. */
#pragma once

#include <glib.h>

#include "store/store.h"

G_BEGIN_DECLS

typedef struct {
  char *id;
  char *session_id;
  char *file_sha256;
  guint64 size; /* of the stored file */
  char *filename;
  char *title;
  char *format; /* "" until detected */
  char *state;  /* stored, parsing, indexing, ready, failed */
  double progress;
  char *message; /* why it failed, for a person */
  guint32 chunk_count;
  gint64 created_at; /* µs since the epoch */
  gint64 updated_at;
} SrDocumentRecord;

void sr_document_record_free (SrDocumentRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrDocumentRecord, sr_document_record_free)

/* Inserts the document and, unless those bytes are already known, its file row, in one
 * transaction. */
gboolean sr_store_document_insert (SrStore *store, const SrDocumentRecord *record, GError **error);

/* SMARTRAG_ERROR_NOT_FOUND when there is no such document. */
SrDocumentRecord *sr_store_document_get (SrStore *store, const char *id, GError **error);

/* A session's documents, oldest first. */
GPtrArray *sr_store_document_list (SrStore *store, const char *session_id, GError **error);

/* Documents a restart must carry on with (stored, parsing or indexing), oldest first. */
GPtrArray *sr_store_document_list_unfinished (SrStore *store, GError **error);

gboolean sr_store_document_set_state (SrStore *store, const char *id, const char *state,
                                      double progress, const char *message, gint64 now,
                                      GError **error);

/* Records what extraction found: the format's name and, when the document has no
 * title yet, the one from its metadata (@title may be NULL). */
gboolean sr_store_document_describe (SrStore *store, const char *id, const char *format,
                                     const char *title, GError **error);

/* Deletes the document (its chunks go with it) and, when no other document uses its
 * file, the file row too: then @orphan_sha256 is set so the caller can delete the bytes
 * after the commit. NOT_FOUND when the document is gone. */
gboolean sr_store_document_delete (SrStore *store, const char *id, char **orphan_sha256,
                                   GError **error);

/* Files no document uses any more (left by removed sessions); their rows are deleted
 * and their hashes returned, so the caller can delete the bytes. */
GPtrArray *sr_store_files_collect_orphans (SrStore *store, GError **error);
/* Whether the bytes @sha256 have a row, so that some document uses them. */
gboolean sr_store_file_stored (SrStore *store, const char *sha256, gboolean *stored,
                               GError **error);

G_END_DECLS
