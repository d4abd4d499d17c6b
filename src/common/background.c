/* Threads that work in the background and must yield to the main loop. */
#define _GNU_SOURCE /* gettid */

#include "common/background.h"

#include <sys/resource.h>
#include <unistd.h>

void
sr_background_thread_enter (int niceness)
{
  static GPrivate entered;
  if (g_private_get (&entered) != NULL)
    return;
  g_private_set (&entered, GINT_TO_POINTER (1));
  /* The process's own niceness as the base, so a daemon started nice stays nicer. */
  int base = getpriority (PRIO_PROCESS, 0);
  (void) setpriority (PRIO_PROCESS, (id_t) gettid (), MIN (base + niceness, 19));
}

void
sr_background_post (GMainContext *context, int priority, GSourceFunc func, gpointer data)
{
  g_autoptr (GSource) source = g_idle_source_new ();
  g_source_set_priority (source, priority);
  g_source_set_callback (source, func, data, NULL);
  g_source_set_static_name (source, "[smartrag] background result");
  g_source_attach (source, context);
}
