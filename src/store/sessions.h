/* Rows of the sessions and users tables. */
#pragma once

#include <glib.h>

#include "store/store.h"

G_BEGIN_DECLS

typedef struct {
  char *id;
  guint32 owner_uid;
  char *title;
  char *context;       /* a JSON object, as text */
  gint64 created_at;   /* µs since the epoch */
  gint64 last_active;  /* µs since the epoch */
  gint64 expire_after; /* seconds; -1 follows the daemon default, 0 keeps forever */
  guint32 message_count;
  guint32 document_count;
} SrSessionRecord;

void sr_session_record_free (SrSessionRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrSessionRecord, sr_session_record_free)

/* Inserts the session and, on first sight, its owner. */
gboolean sr_store_session_insert (SrStore *store, const SrSessionRecord *record, GError **error);

/* SMARTRAG_ERROR_NOT_FOUND when there is no such session. */
SrSessionRecord *sr_store_session_get (SrStore *store, const char *id, GError **error);

/* The owner without reading the whole row: FALSE with no error when absent. */
gboolean sr_store_session_owner (SrStore *store, const char *id, guint32 *owner_uid,
                                 GError **error);

/* Ids in creation order; @owner_uid < 0 lists everyone's. */
GPtrArray *sr_store_session_list_ids (SrStore *store, gint64 owner_uid, GError **error);
gboolean sr_store_session_count_owned (SrStore *store, guint32 owner_uid, guint64 *count,
                                       GError **error);

/* Each sets last_active to @now too; NOT_FOUND when the session is gone. */
gboolean sr_store_session_set_title (SrStore *store, const char *id, const char *title, gint64 now,
                                     GError **error);
gboolean sr_store_session_set_context (SrStore *store, const char *id, const char *context,
                                       gint64 now, GError **error);
gboolean sr_store_session_touch (SrStore *store, const char *id, gint64 now, GError **error);

/* NOT_FOUND when the session is gone. */
gboolean sr_store_session_delete (SrStore *store, const char *id, GError **error);

/* Removes sessions idle longer than their expiry (@default_expiry seconds where they
 * follow the default, 0 meaning never) and returns their ids. */
GPtrArray *sr_store_session_delete_expired (SrStore *store, gint64 now, guint64 default_expiry,
                                            GError **error);

G_END_DECLS
