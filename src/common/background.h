/* Threads that work in the background and must yield to the main loop. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How much nicer than the process background threads run. Ingestion, which a person
 * waits for, comes before maintenance that only makes later work faster. */
#define SR_NICENESS_INGESTION   10
#define SR_NICENESS_MAINTENANCE 19

/* Lowers the calling thread's scheduling priority by @niceness (Linux keeps one per
 * thread), so that the main loop, woken by a bus call, runs at once even when every core
 * is busy. Done once per thread; failures are ignored, the work only runs a little less
 * politely. */
void sr_background_thread_enter (int niceness);

/* Runs @func with @data on the thread iterating @context, always later, never on the
 * calling thread. (g_main_context_invoke() calls it at once on the caller's thread when
 * no thread owns @context, as before the main loop runs or after it returns: a worker
 * would then use the main thread's database connection alongside it.) */
void sr_background_post (GMainContext *context, int priority, GSourceFunc func, gpointer data);

G_END_DECLS
