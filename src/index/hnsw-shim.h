/* What the hnswlib shim gives the C side of the index beyond vector-index.h: its bytes. */
#pragma once

#include "index/vector-index.h"

G_BEGIN_DECLS

/* Receives the serialised graph piece by piece; returns FALSE with @error set to stop. */
typedef gboolean (*SrVectorIndexWriteFunc) (const void *data, gsize length, gpointer user_data,
                                            GError **error);

/* Serialises the graph in hnswlib's own saveIndex() layout, under the index's lock, and
 * gives the counts of what it wrote. */
gboolean sr_vector_index_write_payload (SrVectorIndex *index, SrVectorIndexWriteFunc write,
                                        gpointer user_data, guint64 *live, guint64 *slots,
                                        GError **error);
/* Rebuilds an index from bytes sr_vector_index_write_payload() produced, checking every
 * size, count and neighbour first: whatever the bytes, the result is an error or an index
 * that is safe to search. */
SrVectorIndex *sr_vector_index_read_payload (guint dimensions, const guint8 *data, gsize length,
                                             GError **error);
/* Live vectors plus removed ones whose slots wait for reuse; what the payload stores. */
guint64 sr_vector_index_slots (SrVectorIndex *index);

G_END_DECLS
