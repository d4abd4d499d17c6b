/* How much memory this process holds and the machine has left, as Linux reports it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* From /proc/self/statm, in bytes; FALSE when it cannot be read. */
gboolean sr_memory_of_process (guint64 *resident, guint64 *virtual_size);
/* MemTotal and MemAvailable of /proc/meminfo, in bytes; FALSE when either is missing. */
gboolean sr_memory_of_system (guint64 *total, guint64 *available);

G_END_DECLS
