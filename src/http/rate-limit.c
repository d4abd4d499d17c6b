/* Request rates per caller: a token bucket for each API token or uid, kept in memory. */
#include "http/rate-limit.h"

/* How often buckets that filled up again are dropped. */
#define SWEEP_INTERVAL (60 * G_USEC_PER_SEC)

/* The bucket is kept as one time (the generic cell rate algorithm): when the caller's
 * requests so far would be paid off at the steady rate. A request may go while that
 * time, with the request added, stays within one burst of now. A bucket whose time has
 * passed is full, the same as none, so idle callers cost nothing and are forgotten. */
struct SrRateLimiter {
  gint64 interval;     /* µs each request costs */
  gint64 tolerance;    /* how far ahead of now the paid-off time may run */
  GHashTable *buckets; /* key → gint64 paid-off time */
  gint64 next_sweep;
};

SrRateLimiter *
sr_rate_limiter_new (guint per_second, guint burst)
{
  g_return_val_if_fail (per_second > 0 && burst > 0, NULL);
  SrRateLimiter *limiter = g_new0 (SrRateLimiter, 1);
  limiter->interval = MAX (G_USEC_PER_SEC / (gint64) per_second, 1);
  limiter->tolerance = limiter->interval * (gint64) burst;
  limiter->buckets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return limiter;
}

void
sr_rate_limiter_free (SrRateLimiter *limiter)
{
  if (limiter == NULL)
    return;
  g_hash_table_unref (limiter->buckets);
  g_free (limiter);
}

static gboolean
is_full (gpointer key, gpointer value, gpointer user_data)
{
  return *(gint64 *) value <= *(gint64 *) user_data;
}

/* Keeps the table as small as the set of callers of the last minute. */
static void
sweep (SrRateLimiter *limiter, gint64 now)
{
  if (now < limiter->next_sweep)
    return;
  g_hash_table_foreach_remove (limiter->buckets, is_full, &now);
  limiter->next_sweep = now + SWEEP_INTERVAL;
}

gboolean
sr_rate_limiter_take (SrRateLimiter *limiter, const char *key, gint64 now, guint *retry_after)
{
  sweep (limiter, now);
  gint64 *paid_off = g_hash_table_lookup (limiter->buckets, key);
  gint64 next = MAX (paid_off != NULL ? *paid_off : now, now) + limiter->interval;
  gint64 ahead = next - now - limiter->tolerance;
  if (ahead > 0) {
    *retry_after = (guint) MIN ((ahead + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC, G_MAXUINT);
    return FALSE;
  }
  if (paid_off == NULL) {
    paid_off = g_new (gint64, 1);
    g_hash_table_insert (limiter->buckets, g_strdup (key), paid_off);
  }
  *paid_off = next;
  return TRUE;
}

guint
sr_rate_limiter_size (SrRateLimiter *limiter)
{
  return g_hash_table_size (limiter->buckets);
}
