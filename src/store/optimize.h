/* Keeping the database lean: statistics for the planner, merged full-text indexes, VACUUM. */
#pragma once

#include <glib.h>

#include "store/store.h"

G_BEGIN_DECLS

typedef struct {
  guint64 page_size;
  guint64 pages;      /* in the database, free ones included */
  guint64 free_pages; /* on the free list, which only VACUUM gives back to the disk */
} SrStorePages;

gboolean sr_store_pages (SrStore *store, SrStorePages *pages, GError **error);
/* Rows of @table (chunks, messages, documents, sessions), for reports. */
gboolean sr_store_count_rows (SrStore *store, const char *table, guint64 *count, GError **error);
/* ANALYZE, sampling a bounded number of rows per index, in a transaction of its own. */
gboolean sr_store_analyze (SrStore *store, GError **error);
/* Merges the segments of the FTS5 table @table a bounded piece at a time (as FTS5's
 * 'optimize' does, but never holding the write lock long); @done when nothing was left. */
gboolean sr_store_fts_merge_step (SrStore *store, const char *table, gboolean *done,
                                  GError **error);
/* VACUUM: rewrites the database without its free pages. It holds the write lock
 * throughout, so the service takes no work meanwhile. The WAL is then checkpointed so the
 * file shrinks now rather than at the next checkpoint. */
gboolean sr_store_vacuum (SrStore *store, GError **error);

G_END_DECLS
