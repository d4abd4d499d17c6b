/* SHA-256 of bytes that arrive in pieces, with the CPU's SHA instructions where it has them. */
#pragma once

#include <glib.h>
#include <nettle/sha2.h>

G_BEGIN_DECLS

#define SR_SHA256_HEX_LENGTH 64

/* nettle picks its SHA-NI code at run time: 3-4 times GChecksum's speed on such CPUs,
 * which is most of the time a backup, a restore or a large upload takes. */
typedef struct {
  struct sha256_ctx context;
} SrSha256;

void sr_sha256_init (SrSha256 *sha);
void sr_sha256_update (SrSha256 *sha, const void *data, gsize length);
/* The digest as lowercase hex; @sha starts again, as after sr_sha256_init(). */
void sr_sha256_finish (SrSha256 *sha, char hex[SR_SHA256_HEX_LENGTH + 1]);

G_END_DECLS
