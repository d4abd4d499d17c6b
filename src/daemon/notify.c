/* Telling systemd how the daemon is doing: READY, RELOADING, STATUS, WATCHDOG and STOPPING. */
#include "daemon/notify.h"

#include <systemd/sd-daemon.h>

static void
send_state (const char *state, const char *status)
{
  g_autofree char *text
      = status ? g_strdup_printf ("%s%sSTATUS=%s", state ? state : "", state ? "\n" : "", status)
               : g_strdup (state);
  int r = sd_notify (0, text);
  if (r < 0)
    g_debug ("sd_notify(%s) failed: %s", text, g_strerror (-r));
}

void
sr_notify_ready (const char *status)
{
  send_state ("READY=1", status);
}

void
sr_notify_status (const char *status)
{
  send_state (NULL, status);
}

void
sr_notify_reloading (const char *status)
{
  /* systemd 253 and later take RELOADING=1 only with the time it began; older ones ignore
   * the extra field. */
  g_autofree char *state
      = g_strdup_printf ("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT, g_get_monotonic_time ());
  send_state (state, status);
}

void
sr_notify_stopping (const char *status)
{
  send_state ("STOPPING=1", status);
}

static gboolean
pet_watchdog (gpointer user_data)
{
  sd_notify (0, "WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

guint
sr_notify_start_watchdog (void)
{
  uint64_t usec = 0;
  if (sd_watchdog_enabled (0, &usec) <= 0 || usec == 0)
    return 0;
  g_debug ("Watchdog every %" G_GUINT64_FORMAT " µs", (guint64) usec);
  return g_timeout_add ((guint) MAX (usec / 2 / 1000, 1), pet_watchdog, NULL);
}
