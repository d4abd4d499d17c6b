/* Asking polkit whether a bus peer may do an action, without blocking the main loop. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

#define SR_ACTION_USE   "org.smartrag.use"
#define SR_ACTION_ADMIN "org.smartrag.admin"

typedef enum {
  SR_POLKIT_ALLOWED,
  SR_POLKIT_DENIED,
  SR_POLKIT_CHALLENGE, /* would be allowed after authentication the caller did not allow */
  SR_POLKIT_UNAVAILABLE,
} SrPolkitResult;

/* @detail is a message for people when the answer is not ALLOWED. */
typedef void (*SrPolkitCallback) (SrPolkitResult result, const char *detail, gpointer user_data);

/* Asks CheckAuthorization for the subject system-bus-name @sender and returns the slot
 * of the pending call: @callback runs once from the main loop, unless the slot is
 * released first, which cancels the question. */
sd_bus_slot *sr_polkit_check_async (sd_bus *bus, const char *sender, const char *action,
                                    gboolean interactive, SrPolkitCallback callback,
                                    gpointer user_data, GError **error);

G_END_DECLS
