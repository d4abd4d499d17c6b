/* Confining the helper once its input is in memory: resource limits and a seccomp filter. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#if defined(__SANITIZE_ADDRESS__)
#define SR_HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SR_HAVE_ASAN 1
#endif
#endif

typedef struct {
  guint64 max_memory_bytes;
  guint cpu_seconds;
} SrConfineLimits;

/* Loads what the readers would otherwise open from disk later (message catalogs,
 * character set converters), while opening files is still possible; only once per
 * process, and a forked child inherits it. */
void sr_confine_preload (void);

/* setrlimit for memory, CPU, file size, descriptors and core dumps. */
gboolean sr_confine_limits (const SrConfineLimits *limits, GError **error);

/* PR_SET_NO_NEW_PRIVS and the seccomp allow-list; nothing can be loosened afterwards. */
gboolean sr_confine_seccomp (GError **error);

G_END_DECLS
