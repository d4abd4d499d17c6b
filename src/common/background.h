/* Threads that work in the background and must yield to the main loop. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How much nicer than the process a background thread runs. */
#define SR_BACKGROUND_NICENESS 10

/* Lowers the calling thread's scheduling priority (Linux keeps one per thread), so that
 * the main loop, woken by a bus call, runs at once even when every core is busy
 * ingesting or indexing. Idempotent; failures are ignored, the work only runs a little
 * less politely. */
void sr_background_thread_enter (void);

G_END_DECLS
