/* Rows of the tokens table: API tokens, each kept as the SHA-256 of its secret. */
#pragma once

#include <glib.h>

#include "store/store.h"

G_BEGIN_DECLS

#define SR_TOKEN_HASH_BYTES 32 /* SHA-256 */

typedef struct {
  char *id;
  guint32 owner_uid;
  char *name;
  guint8 secret_sha256[SR_TOKEN_HASH_BYTES]; /* zero in listings, which do not read it */
  gint64 created_at;                         /* µs since the epoch */
  gint64 last_used;                          /* µs since the epoch; 0 before the first use */
} SrTokenRecord;

void sr_token_record_free (SrTokenRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrTokenRecord, sr_token_record_free)

/* Inserts the token and, on first sight, its owner. */
gboolean sr_store_token_insert (SrStore *store, const SrTokenRecord *record, GError **error);

/* SrTokenRecord of @owner_uid's tokens, oldest first. */
GPtrArray *sr_store_token_list (SrStore *store, guint32 owner_uid, GError **error);
gboolean sr_store_token_count_owned (SrStore *store, guint32 owner_uid, guint64 *count,
                                     GError **error);

/* The token with this id, hash included; NULL without an error when there is none. */
SrTokenRecord *sr_store_token_lookup (SrStore *store, const char *id, GError **error);

/* Deletes @id only if @owner_uid owns it; SMARTRAG_ERROR_NOT_FOUND otherwise. */
gboolean sr_store_token_delete (SrStore *store, const char *id, guint32 owner_uid, GError **error);

/* Sets last_used to @now. It never waits for another writer of ours: with the write lock
 * taken it does nothing and sets @done to FALSE. */
gboolean sr_store_token_touch (SrStore *store, const char *id, gint64 now, gboolean *done,
                               GError **error);

G_END_DECLS
