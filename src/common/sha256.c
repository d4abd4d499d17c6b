/* SHA-256 of bytes that arrive in pieces, with the CPU's SHA instructions where it has them. */
#include "common/sha256.h"

void
sr_sha256_init (SrSha256 *sha)
{
  sha256_init (&sha->context);
}

void
sr_sha256_update (SrSha256 *sha, const void *data, gsize length)
{
  sha256_update (&sha->context, length, data);
}

void
sr_sha256_finish (SrSha256 *sha, char hex[SR_SHA256_HEX_LENGTH + 1])
{
  static const char digits[] = "0123456789abcdef";
  guint8 digest[SHA256_DIGEST_SIZE];
  sha256_digest (&sha->context, sizeof digest, digest);
  for (gsize i = 0; i < sizeof digest; i++) {
    hex[2 * i] = digits[digest[i] >> 4];
    hex[2 * i + 1] = digits[digest[i] & 0xf];
  }
  hex[SR_SHA256_HEX_LENGTH] = '\0';
}
