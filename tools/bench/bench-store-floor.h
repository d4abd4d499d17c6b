/* The ingest baseline: SQLite alone writing again the chunks the daemon stored. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint documents;
  guint64 chunks;
  guint64 text_bytes; /* of the chunks, overlaps included */
  double seconds;     /* in the transactions only */
} StoreFloor;

/* Writes the chunks of the first @max_documents documents of @database (the daemon's,
 * read-only, in the order they were stored) into a new database in
 * @scratch_dir with the same table, indexes, full-text table and triggers, one
 * transaction per document on one thread, and times the transactions. Every write of
 * the daemon's takes its one write lock, so this is the most any ingest can reach on this
 * machine whatever runs around it. The scratch files are removed. */
gboolean bench_store_floor (const char *database, const char *scratch_dir, guint max_documents,
                            StoreFloor *out, GError **error);

G_END_DECLS
