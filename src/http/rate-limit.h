/* Request rates per caller: a token bucket for each API token or uid, kept in memory. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct SrRateLimiter SrRateLimiter;

/* @per_second requests a second on average, @burst of them at once after a pause;
 * both at least 1. */
SrRateLimiter *sr_rate_limiter_new (guint per_second, guint burst);
void sr_rate_limiter_free (SrRateLimiter *limiter);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrRateLimiter, sr_rate_limiter_free)

/* Whether a request of @key may go at @now (monotonic µs), counting it if so; if not,
 * @retry_after is set to the whole seconds, at least 1, until one would. */
gboolean sr_rate_limiter_take (SrRateLimiter *limiter, const char *key, gint64 now,
                               guint *retry_after);
/* The keys that have a bucket: those that made requests lately. */
guint sr_rate_limiter_size (SrRateLimiter *limiter);

G_END_DECLS
