/* Who sent a call, and whether polkit lets them go on, without blocking the main loop. */
#include "bus/bus-private.h"

#include <glib/gi18n.h>

#include "auth/polkit.h"
#include "common/errors.h"

static const char *const grant_actions[SR_N_GRANTS] = {
  [SR_GRANT_USE] = SR_ACTION_USE,
  [SR_GRANT_ADMIN] = SR_ACTION_ADMIN,
};

static SrPeer *
lookup_peer (SrBus *bus, sd_bus_message *m, sd_bus_error *error, int *r)
{
  const char *sender = sd_bus_message_get_sender (m);
  if (sender == NULL) {
    *r = sd_bus_error_set (error, SD_BUS_ERROR_ACCESS_DENIED,
                           _("Calls must come through the bus so the caller is known"));
    return NULL;
  }

  SrPeer *peer = g_hash_table_lookup (bus->peers, sender);
  if (peer != NULL)
    return peer;

  /* Asks the bus (not the caller, not /proc) once per connection. */
  sd_bus_creds *creds = NULL;
  uid_t uid;
  *r = sd_bus_query_sender_creds (m, SD_BUS_CREDS_EUID, &creds);
  if (*r >= 0)
    *r = sd_bus_creds_get_euid (creds, &uid);
  sd_bus_creds_unref (creds);
  if (*r < 0) {
    *r = sd_bus_error_setf (error, SD_BUS_ERROR_ACCESS_DENIED,
                            _("Cannot learn the uid of %s from the bus: %s"), sender,
                            g_strerror (-*r));
    return NULL;
  }

  peer = g_new0 (SrPeer, 1);
  peer->uid = (guint32) uid;
  g_hash_table_insert (bus->peers, g_strdup (sender), peer);
  return peer;
}

static gboolean
granted (SrBus *bus, const SrPeer *peer, SrGrant grant)
{
  if (peer->uid == 0)
    return TRUE;
  /* On a session bus there is no polkit; its user owns the daemon. */
  if (bus->mode == SR_BUS_USER)
    return grant == SR_GRANT_USE || peer->uid == bus->own_uid;
  return peer->granted_until[grant] > g_get_monotonic_time ();
}

int
sr_bus_caller (SrBus *bus, sd_bus_message *m, SrCaller *caller, sd_bus_error *error)
{
  int r = 0;
  SrPeer *peer = lookup_peer (bus, m, error, &r);
  if (peer == NULL)
    return r;
  caller->uid = peer->uid;
  caller->admin = granted (bus, peer, SR_GRANT_ADMIN);
  caller->peer = sd_bus_message_get_sender (m);
  return 0;
}

typedef struct {
  SrBus *bus;
  sd_bus_message *m;
  SrGrant grant;
  SrBusContinuation cont;
  gpointer data;
  GDestroyNotify destroy;
} Pending;

static void
finish (Pending *pending, const GError *denied)
{
  SrCaller caller;
  g_auto (sd_bus_error) error = SD_BUS_ERROR_NULL;

  if (sr_bus_caller (pending->bus, pending->m, &caller, &error) < 0) {
    sd_bus_reply_method_error (pending->m, &error);
  } else {
    caller.admin = caller.admin || (denied == NULL && pending->grant == SR_GRANT_ADMIN);
    pending->cont (pending->bus, pending->m, &caller, denied, pending->data);
  }
  if (pending->destroy != NULL)
    pending->destroy (pending->data);
  sd_bus_message_unref (pending->m);
  g_free (pending);
}

static void
on_polkit_answer (SrPolkitResult result, const char *detail, gpointer user_data)
{
  Pending *pending = user_data;
  SrBus *bus = pending->bus;
  g_autoptr (GError) denied = NULL;

  if (result == SR_POLKIT_ALLOWED) {
    SrPeer *peer = g_hash_table_lookup (bus->peers, sd_bus_message_get_sender (pending->m));
    if (peer != NULL && bus->grant_ttl_us > 0)
      peer->granted_until[pending->grant] = g_get_monotonic_time () + bus->grant_ttl_us;
  } else {
    denied = g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_ACCESS_DENIED, detail);
  }
  finish (pending, denied);
  sr_service_work_end (bus->service);
}

int
sr_bus_authorize (SrBus *bus, sd_bus_message *m, SrGrant grant, SrBusContinuation cont,
                  gpointer data, GDestroyNotify destroy, sd_bus_error *error)
{
  int r = 0;
  SrPeer *peer = lookup_peer (bus, m, error, &r);
  if (peer == NULL) {
    if (destroy != NULL)
      destroy (data);
    return r;
  }

  Pending *pending = g_new0 (Pending, 1);
  pending->bus = bus;
  pending->m = sd_bus_message_ref (m);
  pending->grant = grant;
  pending->cont = cont;
  pending->data = data;
  pending->destroy = destroy;

  if (granted (bus, peer, grant)) {
    finish (pending, NULL);
    return 1;
  }

  g_autoptr (GError) local = NULL;
  if (!sr_polkit_check_async (bus->bus, sd_bus_message_get_sender (m), grant_actions[grant],
                              sd_bus_message_get_allow_interactive_authorization (m) > 0,
                              on_polkit_answer, pending, &local)) {
    g_prefix_error (&local, "%s: ", _("Authorization failed"));
    GError *denied = g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_ACCESS_DENIED,
                                          local->message);
    finish (pending, denied);
    g_error_free (denied);
    return 1;
  }
  sr_service_work_begin (bus->service);
  return 1;
}
