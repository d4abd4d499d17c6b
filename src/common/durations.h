/* Human durations ("30s", "15m", "24h", "7d", "0") and wall-clock helpers. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Parses a duration into seconds. Accepts a whole number followed by s, m, h, d or w
 * (no suffix means seconds); "0" is zero. */
gboolean sr_duration_parse (const char *text, guint64 *seconds);
/* "1d 2h" style, for logs and docs; "0" for zero. */
char *sr_duration_format (guint64 seconds);

/* Microseconds since the epoch: the unit of every stored timestamp. */
gint64 sr_now_us (void);

G_END_DECLS
