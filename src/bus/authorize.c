/* Who sent a call, and whether polkit lets them go on, without blocking the main loop. */
#include "bus/bus-private.h"

#include <errno.h>
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
                           _ ("Calls must come through the bus so the caller is known"));
    return NULL;
  }

  SrPeer *peer = g_hash_table_lookup (bus->peers, sender);
  if (peer != NULL)
    return peer;

  /* Asks the bus (not the caller, not /proc) once per connection. */
  sd_bus_creds *creds = NULL;
  uid_t uid;
  /* A signal (SIGTERM starting a stop) may interrupt the synchronous question. */
  do
    *r = sd_bus_query_sender_creds (m, SD_BUS_CREDS_EUID, &creds);
  while (*r == -EINTR);
  if (*r >= 0)
    *r = sd_bus_creds_get_euid (creds, &uid);
  sd_bus_creds_unref (creds);
  if (*r < 0) {
    *r = sd_bus_error_setf (error, SD_BUS_ERROR_ACCESS_DENIED,
                            _ ("Cannot learn the uid of %s from the bus: %s"), sender,
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

/* polkit is one peer on the bus, and the bus refuses more than 128 calls waiting for
 * replies from one connection: ask a few questions at a time and queue the rest. A
 * system bus lets a client have 128 calls outstanding; beyond twice that, a connection
 * is told to slow down rather than grow the queue without bound. */
#define MAX_ASKING           32
#define MAX_WAITING_PER_PEER 256

typedef struct {
  SrBus *bus;
  sd_bus_message *m;
  SrGrant grant;
  SrBusContinuation cont;
  gpointer data;
  GDestroyNotify destroy;
  sd_bus_slot *question; /* while polkit is being asked */
  GList link;            /* in bus->waiting or bus->asking */
} Pending;

static void
pending_free (Pending *pending)
{
  SrPeer *peer = g_hash_table_lookup (pending->bus->peers, sd_bus_message_get_sender (pending->m));
  if (peer != NULL && peer->authorizing > 0)
    peer->authorizing--;
  if (pending->destroy != NULL)
    pending->destroy (pending->data);
  sd_bus_slot_unref (pending->question);
  sd_bus_message_unref (pending->m);
  g_free (pending);
}

static void
finish (Pending *pending, const GError *denied)
{
  SrCaller caller;
  g_auto (sd_bus_error) error = SD_BUS_ERROR_NULL;

  if (sr_bus_caller (pending->bus, pending->m, &caller, &error) < 0) {
    sd_bus_reply_method_error (pending->m, &error);
    return;
  }
  caller.admin = caller.admin || (denied == NULL && pending->grant == SR_GRANT_ADMIN);
  pending->cont (pending->bus, pending->m, &caller, denied, pending->data);
}

static void pump (SrBus *bus);

static void
on_polkit_answer (SrPolkitResult result, const char *detail, gpointer user_data)
{
  Pending *pending = user_data;
  SrBus *bus = pending->bus;
  g_autoptr (GError) denied = NULL;

  g_queue_unlink (&bus->asking, &pending->link);
  if (result == SR_POLKIT_ALLOWED) {
    SrPeer *peer = g_hash_table_lookup (bus->peers, sd_bus_message_get_sender (pending->m));
    if (peer != NULL && bus->grant_ttl_us > 0)
      peer->granted_until[pending->grant] = g_get_monotonic_time () + bus->grant_ttl_us;
  } else {
    if (result == SR_POLKIT_UNAVAILABLE)
      g_warning ("%s", detail);
    denied = g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_ACCESS_DENIED, detail);
  }
  finish (pending, denied);
  pending_free (pending);
  sr_service_work_end (bus->service);
  pump (bus);
}

/* Starts one queued authorization: answered at once when an earlier question settled it,
 * otherwise sent to polkit. Returns FALSE when it was finished here. */
static gboolean
start (SrBus *bus, Pending *pending)
{
  SrPeer *peer = g_hash_table_lookup (bus->peers, sd_bus_message_get_sender (pending->m));
  g_autoptr (GError) local = NULL;

  if (peer != NULL && granted (bus, peer, pending->grant)) {
    finish (pending, NULL);
    return FALSE;
  }
  pending->question = sr_polkit_check_async (
      bus->bus, sd_bus_message_get_sender (pending->m), grant_actions[pending->grant],
      sd_bus_message_get_allow_interactive_authorization (pending->m) > 0, on_polkit_answer,
      pending, &local);
  if (pending->question == NULL) {
    g_warning ("%s", local->message);
    g_autoptr (GError) denied = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_ACCESS_DENIED, "%s: %s",
                                             _ ("Authorization failed"), local->message);
    finish (pending, denied);
    return FALSE;
  }
  g_queue_push_tail_link (&bus->asking, &pending->link);
  return TRUE;
}

static void
pump (SrBus *bus)
{
  while (bus->asking.length < MAX_ASKING && bus->waiting.length > 0) {
    GList *link = g_queue_pop_head_link (&bus->waiting);
    Pending *pending = link->data;
    if (!start (bus, pending)) {
      pending_free (pending);
      sr_service_work_end (bus->service);
    }
  }
}

int
sr_bus_authorize (SrBus *bus, sd_bus_message *m, SrGrant grant, SrBusContinuation cont,
                  gpointer data, GDestroyNotify destroy, sd_bus_error *error)
{
  int r = 0;
  SrPeer *peer = lookup_peer (bus, m, error, &r);
  Pending *pending = NULL;

  if (peer != NULL && !granted (bus, peer, grant) && peer->authorizing >= MAX_WAITING_PER_PEER) {
    g_autoptr (GError) busy = g_error_new_literal (
        SMARTRAG_ERROR, SMARTRAG_ERROR_BUSY,
        _ ("Too many of your calls are waiting for authorization; wait for their answers and "
           "try again"));
    r = sr_bus_set_error (error, busy);
  }
  if (r < 0) {
    if (destroy != NULL)
      destroy (data);
    return r;
  }

  pending = g_new0 (Pending, 1);
  pending->bus = bus;
  pending->m = sd_bus_message_ref (m);
  pending->grant = grant;
  pending->cont = cont;
  pending->data = data;
  pending->destroy = destroy;
  pending->link.data = pending;

  if (granted (bus, peer, grant)) {
    finish (pending, NULL);
    pending_free (pending);
    return 1;
  }
  peer->authorizing++;
  sr_service_work_begin (bus->service);
  g_queue_push_tail_link (&bus->waiting, &pending->link);
  pump (bus);
  return 1;
}

static void
abandon (SrBus *bus, GQueue *queue, const GError *why)
{
  GList *link;
  while ((link = g_queue_pop_head_link (queue)) != NULL) {
    Pending *pending = link->data;
    sr_bus_reply_error (pending->m, why);
    pending_free (pending);
  }
}

void
sr_bus_abandon_authorizations (SrBus *bus)
{
  g_autoptr (GError) why = g_error_new_literal (
      SMARTRAG_ERROR, SMARTRAG_ERROR_SHUTTING_DOWN,
      _ ("SmartRAG stopped before this call was authorized; try again once it has restarted"));
  abandon (bus, &bus->waiting, why);
  abandon (bus, &bus->asking, why);
}
