/* Resource limits of the helper, and what it loads before the sandbox closes. */
#include "extract/confine.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/errors.h"

/* A parser has no reason to open more than the standard three descriptors. */
#define MAX_DESCRIPTORS 8

/* Converters the readers may need; kept open so their modules stay loaded. */
static const char *const charsets[]
    = { "ISO-8859-1", "WINDOWS-1252", "UTF-16", "UTF-16LE", "UTF-16BE", "UTF-32", "ASCII" };
static GIConv converters[G_N_ELEMENTS (charsets)];

void
sr_confine_preload (void)
{
  /* A fork server loads once; its children find everything in place. */
  static gboolean loaded;
  if (loaded)
    return;
  loaded = TRUE;
  /* gettext reads the catalog on the first lookup, so one lookup now loads it. */
  (void) _ ("");
  /* libarchive converts member times to local time; without TZ, glibc would look at
   * /etc/localtime again on every conversion. */
  g_setenv ("TZ", ":/etc/localtime", FALSE);
  tzset ();
  for (gsize i = 0; i < G_N_ELEMENTS (charsets); i++)
    converters[i] = g_iconv_open ("UTF-8", charsets[i]);
}

static gboolean
set_limit (int resource, const char *name, rlim_t soft, rlim_t hard, GError **error)
{
  struct rlimit limit = { soft, hard };
  if (setrlimit (resource, &limit) == 0)
    return TRUE;
  int saved = errno;
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED, _ ("Could not set %s: %s"), name,
               g_strerror (saved));
  return FALSE;
}

#ifndef SR_HAVE_ASAN
/* The program and its libraries are mapped already; the limit is for what parsing adds. */
static guint64
mapped_bytes (void)
{
  g_autofree char *statm = NULL;
  guint64 pages = 0;
  if (!g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL)
      || sscanf (statm, "%" G_GUINT64_FORMAT, &pages) != 1)
    return 0;
  return pages * (guint64) sysconf (_SC_PAGESIZE);
}
#endif

gboolean
sr_confine_limits (const SrConfineLimits *limits, GError **error)
{
  /* ASan reserves terabytes of address space for its shadow memory, so an RLIMIT_AS would
   * stop every allocation; the daemon's watch on resident memory still bounds such builds. */
#ifndef SR_HAVE_ASAN
  rlim_t address_space = mapped_bytes () + limits->max_memory_bytes;
  if (!set_limit (RLIMIT_AS, "RLIMIT_AS", address_space, address_space, error))
    return FALSE;
#endif
  /* SIGXCPU at the soft limit; SIGKILL a second later if it is caught or ignored. */
  return set_limit (RLIMIT_CPU, "RLIMIT_CPU", limits->cpu_seconds, limits->cpu_seconds + 1, error)
         && set_limit (RLIMIT_FSIZE, "RLIMIT_FSIZE", 0, 0, error)
         && set_limit (RLIMIT_NOFILE, "RLIMIT_NOFILE", MAX_DESCRIPTORS, MAX_DESCRIPTORS, error)
         && set_limit (RLIMIT_CORE, "RLIMIT_CORE", 0, 0, error);
}
