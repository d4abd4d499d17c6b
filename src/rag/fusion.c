/* Reciprocal rank fusion: one ranking from several (full-text and vector search). */
#include "rag/fusion.h"

typedef struct {
  SrFused fused;
  guint best_rank;
} Entry;

static gint
compare_entries (gconstpointer a, gconstpointer b)
{
  const Entry *x = a, *y = b;
  if (x->fused.score != y->fused.score)
    return x->fused.score > y->fused.score ? -1 : 1;
  if (x->best_rank != y->best_rank)
    return x->best_rank < y->best_rank ? -1 : 1;
  return x->fused.id < y->fused.id ? -1 : x->fused.id > y->fused.id;
}

GArray *
sr_rank_fuse (const SrRanking *rankings, guint n_rankings, guint k, guint limit)
{
  return sr_rank_fuse_weighted (rankings, NULL, n_rankings, k, limit);
}

GArray *
sr_rank_fuse_weighted (const SrRanking *rankings, const double *weights, guint n_rankings, guint k,
                       guint limit)
{
  g_autoptr (GHashTable) index = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr (GArray) entries = g_array_new (FALSE, FALSE, sizeof (Entry));

  /* Positions rather than pointers into @entries: the array moves as it grows. */
  for (guint r = 0; r < n_rankings; r++) {
    double weight = weights != NULL ? weights[r] : 1.0;
    g_return_val_if_fail (weight > 0.0, NULL);
    for (guint i = 0; i < rankings[r].length; i++) {
      const gint64 *id = &rankings[r].ids[i];
      guint rank = i + 1;
      gpointer slot;
      if (!g_hash_table_lookup_extended (index, id, NULL, &slot)) {
        Entry fresh = { { *id, 0 }, rank };
        g_array_append_val (entries, fresh);
        slot = GUINT_TO_POINTER (entries->len);
        g_hash_table_insert (index, (gpointer) id, slot);
      }
      Entry *e = &g_array_index (entries, Entry, GPOINTER_TO_UINT (slot) - 1);
      e->fused.score += weight / (k + rank);
      e->best_rank = MIN (e->best_rank, rank);
    }
  }

  g_array_sort (entries, compare_entries);
  GArray *out = g_array_sized_new (FALSE, FALSE, sizeof (SrFused), MIN (limit, entries->len));
  for (guint i = 0; i < entries->len && i < limit; i++)
    g_array_append_val (out, g_array_index (entries, Entry, i).fused);
  return out;
}
