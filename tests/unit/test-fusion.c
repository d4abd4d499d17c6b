/* Unit tests for reciprocal rank fusion (src/rag/fusion.c). */
#include "rag/fusion.h"

static void
assert_order (GArray *fused, const gint64 *expected, guint n)
{
  g_assert_cmpuint (fused->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (g_array_index (fused, SrFused, i).id, ==, expected[i]);
}

/* What both lists agree on beats what one list likes best. */
static void
test_agreement_wins (void)
{
  const gint64 text[] = { 1, 2, 3 };
  const gint64 vector[] = { 4, 3, 2 };
  SrRanking lists[] = { { text, 3 }, { vector, 3 } };
  g_autoptr (GArray) fused = sr_rank_fuse (lists, 2, SR_RRF_K, 10);

  /* 2: 1/62 + 1/63, 3: 1/63 + 1/62 tie; 2 and 3 have the same best rank 2: smaller id. */
  const gint64 expected[] = { 2, 3, 1, 4 };
  assert_order (fused, expected, 4);
  g_assert_cmpfloat_with_epsilon (g_array_index (fused, SrFused, 0).score, 1.0 / 62 + 1.0 / 63,
                                  1e-12);
  g_assert_cmpfloat_with_epsilon (g_array_index (fused, SrFused, 2).score, 1.0 / 61, 1e-12);
}

static void
test_limit_and_empty (void)
{
  const gint64 one[] = { 7, 8, 9 };
  SrRanking lists[] = { { one, 3 }, { NULL, 0 } };
  g_autoptr (GArray) two = sr_rank_fuse (lists, 2, SR_RRF_K, 2);
  const gint64 expected[] = { 7, 8 };
  assert_order (two, expected, 2);

  g_autoptr (GArray) none = sr_rank_fuse (lists + 1, 1, SR_RRF_K, 10);
  g_assert_cmpuint (none->len, ==, 0);
  g_autoptr (GArray) zero = sr_rank_fuse (lists, 1, SR_RRF_K, 0);
  g_assert_cmpuint (zero->len, ==, 0);
}

/* Ties break on the better single rank, so a first place in one list beats a pair of
 * middling places only when the scores say so, and the order never depends on hashing. */
static void
test_ties_are_stable (void)
{
  const gint64 a[] = { 10, 20 };
  const gint64 b[] = { 20, 10 };
  SrRanking lists[] = { { a, 2 }, { b, 2 } };
  for (int round = 0; round < 3; round++) {
    g_autoptr (GArray) fused = sr_rank_fuse (lists, 2, SR_RRF_K, 10);
    const gint64 expected[] = { 10, 20 };
    assert_order (fused, expected, 2);
  }
}

static void
test_many (void)
{
  enum { N = 5000 };
  g_autofree gint64 *up = g_new (gint64, N);
  g_autofree gint64 *down = g_new (gint64, N);
  for (gint64 i = 0; i < N; i++) {
    up[i] = i;
    down[i] = N - 1 - i;
  }
  SrRanking lists[] = { { up, N }, { down, N } };
  g_autoptr (GArray) fused = sr_rank_fuse (lists, 2, SR_RRF_K, N);
  g_assert_cmpuint (fused->len, ==, N);
  /* Scores never increase down the list. */
  for (guint i = 1; i < fused->len; i++)
    g_assert_cmpfloat (g_array_index (fused, SrFused, i - 1).score, >=,
                       g_array_index (fused, SrFused, i).score);
}

/* A heavier list wins a tie it would otherwise lose on the smaller id, and weights of 1
 * are plain fusion. */
static void
test_weighted (void)
{
  const gint64 text[] = { 2, 5 };
  const gint64 vector[] = { 1, 5 };
  SrRanking lists[] = { { text, 2 }, { vector, 2 } };

  g_autoptr (GArray) plain = sr_rank_fuse (lists, 2, SR_RRF_K, 10);
  const gint64 plain_order[] = { 5, 1, 2 };
  assert_order (plain, plain_order, 3);

  const double ones[] = { 1.0, 1.0 };
  g_autoptr (GArray) same = sr_rank_fuse_weighted (lists, ones, 2, SR_RRF_K, 10);
  assert_order (same, plain_order, 3);

  const double heavier_text[] = { SR_RRF_BUILTIN_TEXT_WEIGHT, 1.0 };
  g_autoptr (GArray) weighted = sr_rank_fuse_weighted (lists, heavier_text, 2, SR_RRF_K, 10);
  const gint64 weighted_order[] = { 5, 2, 1 };
  assert_order (weighted, weighted_order, 3);
  g_assert_cmpfloat_with_epsilon (g_array_index (weighted, SrFused, 1).score,
                                  SR_RRF_BUILTIN_TEXT_WEIGHT / 61, 1e-12);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fusion/agreement-wins", test_agreement_wins);
  g_test_add_func ("/fusion/limit-and-empty", test_limit_and_empty);
  g_test_add_func ("/fusion/ties-are-stable", test_ties_are_stable);
  g_test_add_func ("/fusion/many", test_many);
  g_test_add_func ("/fusion/weighted", test_weighted);
  return g_test_run ();
}
