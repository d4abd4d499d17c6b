/* Human durations ("30s", "15m", "24h", "7d", "0") and wall-clock helpers. */
#include "common/durations.h"

#include <errno.h>
#include <stdlib.h>

static const struct {
  char suffix;
  guint64 seconds;
} units[] = {
  { 'w', 7 * 24 * 3600 }, { 'd', 24 * 3600 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
};

gboolean
sr_duration_parse (const char *text, guint64 *seconds)
{
  g_return_val_if_fail (seconds != NULL, FALSE);

  if (text == NULL || !g_ascii_isdigit (text[0]))
    return FALSE;

  char *end = NULL;
  errno = 0;
  guint64 value = g_ascii_strtoull (text, &end, 10);
  if (errno != 0)
    return FALSE;

  guint64 unit = 1;
  if (*end != '\0') {
    gboolean known = FALSE;
    for (size_t i = 0; i < G_N_ELEMENTS (units); i++) {
      if (*end == units[i].suffix) {
        unit = units[i].seconds;
        known = TRUE;
        break;
      }
    }
    if (!known || end[1] != '\0')
      return FALSE;
  }

  /* Ten years is already "forever" for a session; refuse silly values instead of overflowing. */
  if (value > G_MAXUINT64 / unit || value * unit > (guint64) 3650 * 24 * 3600)
    return FALSE;

  *seconds = value * unit;
  return TRUE;
}

char *
sr_duration_format (guint64 seconds)
{
  if (seconds == 0)
    return g_strdup ("0");

  GString *out = g_string_new (NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (units); i++) {
    guint64 n = seconds / units[i].seconds;
    if (n == 0)
      continue;
    seconds -= n * units[i].seconds;
    g_string_append_printf (out, "%s%" G_GUINT64_FORMAT "%c", out->len ? " " : "", n,
                            units[i].suffix);
  }
  return g_string_free (out, FALSE);
}

gint64
sr_now_us (void)
{
  return g_get_real_time ();
}
