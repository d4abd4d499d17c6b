/* Object ids: 32 lowercase hex characters from the kernel's random source; random bytes. */
#include "common/ids.h"

#include <errno.h>
#include <sys/random.h>

void
sr_random_bytes (guint8 *buffer, gsize length)
{
  gsize filled = 0;

  while (filled < length) {
    ssize_t n = getrandom (buffer + filled, length - filled, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      g_error ("getrandom() failed: %s", g_strerror (errno));
    }
    filled += (gsize) n;
  }
}

char *
sr_hex_encode (const guint8 *bytes, gsize length)
{
  static const char hex[] = "0123456789abcdef";
  char *text = g_malloc (2 * length + 1);

  for (gsize i = 0; i < length; i++) {
    text[2 * i] = hex[bytes[i] >> 4];
    text[2 * i + 1] = hex[bytes[i] & 0xf];
  }
  text[2 * length] = '\0';
  return text;
}

char *
sr_id_new (void)
{
  guint8 raw[SR_ID_LENGTH / 2];

  sr_random_bytes (raw, sizeof raw);
  return sr_hex_encode (raw, sizeof raw);
}

gboolean
sr_id_is_valid (const char *id)
{
  if (id == NULL)
    return FALSE;
  for (size_t i = 0; i < SR_ID_LENGTH; i++) {
    char c = id[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return FALSE;
  }
  return id[SR_ID_LENGTH] == '\0';
}
