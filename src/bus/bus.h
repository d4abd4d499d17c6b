/* The daemon's D-Bus face: the connection, its objects, and the name it owns. */
#pragma once

#include <glib.h>

#include "service/service.h"

G_BEGIN_DECLS

#define SR_BUS_NAME           "org.smartrag.Daemon"
#define SR_BUS_PATH           "/org/smartrag/Daemon"
#define SR_BUS_SESSION_PREFIX "/org/smartrag/Daemon/session"

typedef enum {
  SR_BUS_SYSTEM, /* polkit decides, every uid is a different user */
  SR_BUS_USER,   /* the session bus: its one user is the administrator */
} SrBusMode;

typedef struct {
  SrBusMode mode;
  const char *address;         /* NULL connects to the mode's own bus */
  guint64 authorization_cache; /* seconds a polkit "yes" is kept per connection */
} SrBusOptions;

typedef struct SrBus SrBus;

/* Connects and registers the objects; the name is requested by sr_bus_acquire_name().
 * @lost runs if the bus connection drops. */
SrBus *sr_bus_new (SrService *service, const SrBusOptions *options, GSourceFunc lost,
                   gpointer lost_data, GError **error);
gboolean sr_bus_acquire_name (SrBus *bus, GError **error);
/* How long a polkit "yes" is kept from now on (a reload); answers kept already stay. */
void sr_bus_set_authorization_cache (SrBus *bus, guint64 seconds);
/* Sends what is queued and closes the connection. */
void sr_bus_free (SrBus *bus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrBus, sr_bus_free)

G_END_DECLS
