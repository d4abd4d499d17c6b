/* How much memory this process holds and the machine has left, read from /proc. */
#include "common/memory.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

gboolean
sr_memory_of_process (guint64 *resident, guint64 *virtual_size)
{
  g_autofree char *statm = NULL;
  unsigned long size = 0, pages = 0;
  if (!g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL)
      || sscanf (statm, "%lu %lu", &size, &pages) != 2)
    return FALSE;
  guint64 page = (guint64) sysconf (_SC_PAGESIZE);
  *resident = (guint64) pages * page;
  *virtual_size = (guint64) size * page;
  return TRUE;
}

/* One "Name:   123 kB" line of /proc/meminfo, in bytes. */
static gboolean
meminfo_value (const char *meminfo, const char *name, guint64 *bytes)
{
  for (const char *line = meminfo; line != NULL && *line != '\0';) {
    unsigned long long kb;
    gsize length = strlen (name);
    if (strncmp (line, name, length) == 0 && line[length] == ':'
        && sscanf (line + length + 1, "%llu", &kb) == 1) {
      *bytes = (guint64) kb * 1024;
      return TRUE;
    }
    line = strchr (line, '\n');
    if (line != NULL)
      line++;
  }
  return FALSE;
}

gboolean
sr_memory_of_system (guint64 *total, guint64 *available)
{
  g_autofree char *meminfo = NULL;
  return g_file_get_contents ("/proc/meminfo", &meminfo, NULL, NULL)
         && meminfo_value (meminfo, "MemTotal", total)
         && meminfo_value (meminfo, "MemAvailable", available);
}
