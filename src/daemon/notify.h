/* Telling systemd how the daemon is doing: READY, RELOADING, STATUS, WATCHDOG and STOPPING. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void sr_notify_ready (const char *status);
void sr_notify_status (const char *status);
/* A reload has begun; sr_notify_ready() says it has ended, whether it was applied or not. */
void sr_notify_reloading (const char *status);
void sr_notify_stopping (const char *status);

/* Pets the watchdog from the main loop at half the interval systemd asked for, so a
 * stuck loop gets the daemon restarted. Returns the source id, 0 when not asked. */
guint sr_notify_start_watchdog (void);

G_END_DECLS
