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

/* What the full-text list should weigh against the vector list's 1 when the vectors come
 * from the builtin embedder. Its vectors are lexical too, without the document frequencies
 * BM25 weighs words by, so they are the weaker list: worth having for the word forms BM25
 * misses, not for outvoting it. With a semantic model the two lists are peers (weight 1). */
#define SR_RRF_BUILTIN_TEXT_WEIGHT 2.0

typedef struct {
  gint64 id;
  double score; /* Σ weight / (k + rank) over the lists that hold the id, rank counted from 1 */
} SrFused;

/* The fused ranking, best first, at most @limit entries. Ties go to the id with the better
 * single rank, then to the smaller id, so results are stable. Every list weighs 1. */
GArray *sr_rank_fuse (const SrRanking *rankings, guint n_rankings, guint k, guint limit);

/* The same with one weight (> 0) per list; @weights NULL means all 1. */
GArray *sr_rank_fuse_weighted (const SrRanking *rankings, const double *weights, guint n_rankings,
                               guint k, guint limit);

G_END_DECLS
