/* Object ids: 32 lowercase hex characters from the kernel's random source. */
#include "common/ids.h"

#include <errno.h>
#include <sys/random.h>

char *
sr_id_new (void)
{
  static const char hex[] = "0123456789abcdef";
  guint8 raw[SR_ID_LENGTH / 2];
  size_t filled = 0;

  while (filled < sizeof raw) {
    ssize_t n = getrandom (raw + filled, sizeof raw - filled, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      g_error ("getrandom() failed: %s", g_strerror (errno));
    }
    filled += (size_t) n;
  }

  char *id = g_malloc (SR_ID_LENGTH + 1);
  for (size_t i = 0; i < sizeof raw; i++) {
    id[2 * i] = hex[raw[i] >> 4];
    id[2 * i + 1] = hex[raw[i] & 0xf];
  }
  id[SR_ID_LENGTH] = '\0';
  return id;
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
