/* A GSource that lets an sd-bus connection be driven by the GLib main loop. */
#include "bus/source.h"

#include <poll.h>
#include <time.h>

/* Messages handled per dispatch before the loop gets a turn, so a flood of calls
 * cannot starve timers and other sources. */
#define MAX_PER_DISPATCH 64

typedef struct {
  GSource source;
  sd_bus *bus;
  gpointer fd_tag;
  int events; /* what fd_tag polls for, as sd_bus_get_events() last said */
} BusSource;

static GIOCondition
to_condition (int events)
{
  GIOCondition condition = 0;
  if (events & POLLIN)
    condition |= G_IO_IN;
  if (events & POLLOUT)
    condition |= G_IO_OUT;
  return condition | G_IO_HUP | G_IO_ERR;
}

static gboolean
bus_source_prepare (GSource *source, gint *timeout_ms)
{
  BusSource *self = (BusSource *) source;

  /* Changing the polled events on every iteration makes GLib rebuild its poll set
   * each time and spin; only touch it when sd-bus wants something new. */
  int events = sd_bus_get_events (self->bus);
  if (events >= 0 && events != self->events) {
    g_source_modify_unix_fd (source, self->fd_tag, to_condition (events));
    self->events = events;
  }

  *timeout_ms = -1;
  uint64_t deadline;
  if (sd_bus_get_timeout (self->bus, &deadline) >= 0 && deadline != UINT64_MAX) {
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t) ts.tv_sec * G_USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
    if (deadline <= now)
      return TRUE;
    *timeout_ms = (gint) MIN ((deadline - now + 999) / 1000, (uint64_t) G_MAXINT);
  }
  return FALSE;
}

static gboolean
bus_source_check (GSource *source)
{
  BusSource *self = (BusSource *) source;
  gint timeout_ms;
  return g_source_query_unix_fd (source, self->fd_tag) != 0
         || bus_source_prepare (source, &timeout_ms);
}

static gboolean
bus_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  BusSource *self = (BusSource *) source;

  g_source_set_ready_time (source, -1);
  for (int i = 0; i < MAX_PER_DISPATCH; i++) {
    int r = sd_bus_process (self->bus, NULL);
    if (r == 0)
      return G_SOURCE_CONTINUE;
    if (r < 0) {
      /* The connection is gone (the bus daemon stopped); the callback decides what the
       * daemon does about it. */
      g_warning ("Lost the D-Bus connection: %s", g_strerror (-r));
      return callback != NULL ? callback (user_data) : G_SOURCE_REMOVE;
    }
  }
  /* More is queued inside sd-bus, where poll cannot see it: come back at once. */
  g_source_set_ready_time (source, 0);
  return G_SOURCE_CONTINUE;
}

static void
bus_source_finalize (GSource *source)
{
  BusSource *self = (BusSource *) source;
  sd_bus_unref (self->bus);
}

static GSourceFuncs bus_source_funcs = {
  .prepare = bus_source_prepare,
  .check = bus_source_check,
  .dispatch = bus_source_dispatch,
  .finalize = bus_source_finalize,
};

GSource *
sr_bus_source_new (sd_bus *bus)
{
  GSource *source = g_source_new (&bus_source_funcs, sizeof (BusSource));
  BusSource *self = (BusSource *) source;

  g_source_set_name (source, "sd-bus");
  self->bus = sd_bus_ref (bus);
  self->events = sd_bus_get_events (bus);
  self->fd_tag = g_source_add_unix_fd (source, sd_bus_get_fd (bus), to_condition (self->events));
  return source;
}
