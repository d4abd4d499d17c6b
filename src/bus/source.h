/* A GSource that lets an sd-bus connection be driven by the GLib main loop. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* The source holds a reference on @bus; attach it with g_source_attach(). */
GSource *sr_bus_source_new (sd_bus *bus);

G_END_DECLS
