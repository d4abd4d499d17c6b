/* Optimize: the planner's statistics renewed, full-text indexes merged, VACUUM when it pays. */
#pragma once

#include <gio/gio.h>

#include "auth/caller.h"
#include "service/service.h"

G_BEGIN_DECLS

/* VACUUM runs when at least this share of the database's pages is free, and they are at
 * least SR_OPTIMIZE_VACUUM_MIN_PAGES: below that, rewriting the file gains little. */
#define SR_OPTIMIZE_VACUUM_FREE_SHARE 0.2
#define SR_OPTIMIZE_VACUUM_MIN_PAGES  64

/* For an administrator: ANALYZE, the full-text indexes of chunks and messages merged in
 * small steps while the daemon serves, and VACUUM when enough pages are free; during
 * VACUUM, which holds the database's write lock throughout, new work gets BUSY (running
 * questions finish first). */
void sr_optimize_async (SrService *service, const SrCaller *caller, GAsyncReadyCallback callback,
                        gpointer user_data);
/* The report, an a{sv}: bytes_before, bytes_after, free_pages_before, free_pages_after (t),
 * page_size (u), chunks, messages (t), analyzed (b), fts_merge_steps (u), vacuumed (b),
 * index_compacted (b, always false: the vector index reuses the slots of removed vectors,
 * so there is nothing to compact), seconds (d). */
GVariant *sr_optimize_finish (GAsyncResult *result, GError **error);

G_END_DECLS
