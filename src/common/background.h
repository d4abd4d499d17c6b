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

G_END_DECLS
