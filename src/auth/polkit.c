/* Asking polkit whether a bus peer may do an action, without blocking the main loop. */
#include "auth/polkit.h"

#include <glib/gi18n.h>

#include "common/errors.h"

#define POLKIT_FLAG_ALLOW_USER_INTERACTION 1u
/* A person may be typing a password: give them longer than the bus default. */
#define INTERACTIVE_TIMEOUT_US (120 * G_USEC_PER_SEC)

typedef struct {
  SrPolkitCallback callback;
  gpointer user_data;
  char *action;
} Pending;

static void
pending_free (void *data)
{
  Pending *pending = data;
  g_free (pending->action);
  g_free (pending);
}

static SrPolkitResult
parse_reply (sd_bus_message *reply, const Pending *pending, char **detail)
{
  const sd_bus_error *bus_error = sd_bus_message_get_error (reply);
  if (bus_error != NULL) {
    *detail = g_strdup_printf (_ ("polkit could not be asked about %s (%s); is polkitd running?"),
                               pending->action, bus_error->message);
    return SR_POLKIT_UNAVAILABLE;
  }

  int authorized = 0, challenge = 0;
  int r = sd_bus_message_enter_container (reply, 'r', "bba{ss}");
  if (r >= 0)
    r = sd_bus_message_read (reply, "bb", &authorized, &challenge);
  if (r < 0) {
    *detail = g_strdup_printf (_ ("polkit sent an unreadable answer about %s: %s"), pending->action,
                               g_strerror (-r));
    return SR_POLKIT_UNAVAILABLE;
  }
  if (authorized)
    return SR_POLKIT_ALLOWED;
  if (challenge) {
    *detail = g_strdup_printf (_ ("%s needs authentication, and the call did not allow "
                                  "interactive authorization; retry with it allowed "
                                  "(e.g. busctl, or gdbus call --interactive)"),
                               pending->action);
    return SR_POLKIT_CHALLENGE;
  }
  *detail = g_strdup_printf (_ ("polkit does not allow %s for you; an administrator can grant "
                                "it with a polkit rule"),
                             pending->action);
  return SR_POLKIT_DENIED;
}

static int
on_reply (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Pending *pending = userdata;
  g_autofree char *detail = NULL;
  SrPolkitResult result = parse_reply (reply, pending, &detail);
  pending->callback (result, detail, pending->user_data);
  return 0;
}

sd_bus_slot *
sr_polkit_check_async (sd_bus *bus, const char *sender, const char *action, gboolean interactive,
                       SrPolkitCallback callback, gpointer user_data, GError **error)
{
  sd_bus_message *call = NULL;
  int r = sd_bus_message_new_method_call (
      bus, &call, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
      "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
  if (r >= 0)
    r = sd_bus_message_append (call, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", sender,
                               action, 0, interactive ? POLKIT_FLAG_ALLOW_USER_INTERACTION : 0u,
                               "");
  if (r < 0) {
    sd_bus_message_unref (call);
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot build the polkit request: %s"), g_strerror (-r));
    return NULL;
  }

  Pending *pending = g_new0 (Pending, 1);
  pending->callback = callback;
  pending->user_data = user_data;
  pending->action = g_strdup (action);

  sd_bus_slot *slot = NULL;
  r = sd_bus_call_async (bus, &slot, call, on_reply, pending,
                         interactive ? INTERACTIVE_TIMEOUT_US : 0);
  sd_bus_message_unref (call);
  if (r < 0) {
    pending_free (pending);
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED, _ ("Cannot ask polkit: %s"),
                 g_strerror (-r));
    return NULL;
  }
  /* Runs when the slot is freed, whether answered or cancelled. */
  sd_bus_slot_set_destroy_callback (slot, pending_free);
  return slot;
}
