/* Reciprocal rank fusion: one ranking from several (full-text and vector search). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The usual constant: it damps the weight of the very first ranks so that agreement
 * between lists counts for more than one list's favourite. */
#define SR_RRF_K 60

typedef struct {
  const gint64 *ids; /* best first; an id appears at most once per list */
  guint length;
} SrRanking;

typedef struct {
  gint64 id;
  double score; /* Σ 1 / (k + rank) over the lists that hold the id, rank counted from 1 */
} SrFused;

/* The fused ranking, best first, at most @limit entries. Ties go to the id with the better
 * single rank, then to the smaller id, so results are stable. */
GArray *sr_rank_fuse (const SrRanking *rankings, guint n_rankings, guint k, guint limit);

G_END_DECLS
