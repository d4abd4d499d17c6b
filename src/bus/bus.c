/* The daemon's D-Bus face: the connection, its objects, and the name it owns. */
#include "bus/bus-private.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <unistd.h>

#include "bus/source.h"
#include "common/errors.h"
#include "service/queries.h"

int
sr_bus_set_error (sd_bus_error *ret, const GError *error)
{
  SmartragError code = smartrag_error_code (error);
  return sd_bus_error_set (ret, smartrag_error_dbus_name (code), error->message);
}

int
sr_bus_reply_error (sd_bus_message *m, const GError *error)
{
  SmartragError code = smartrag_error_code (error);
  return sd_bus_reply_method_errorf (m, smartrag_error_dbus_name (code), "%s", error->message);
}

int
sr_bus_reply_list (sd_bus_message *m, GPtrArray *items, SrBusAppendFunc append)
{
  g_autoptr (sd_bus_message) reply = NULL;
  int r = sd_bus_message_new_method_return (m, &reply);
  if (r >= 0)
    r = sd_bus_message_open_container (reply, 'a', "a{sv}");
  for (guint i = 0; r >= 0 && i < items->len; i++)
    r = append (reply, items->pdata[i]);
  if (r >= 0)
    r = sd_bus_message_close_container (reply);
  if (r >= 0)
    r = sd_bus_send (NULL, reply, NULL);
  if (r < 0)
    r = sd_bus_reply_method_errno (m, r, NULL);
  return r;
}

static void
release_slot (gpointer slot)
{
  sd_bus_slot_unref (slot);
}

void
sr_bus_keep_slot (SrBus *bus, sd_bus_slot *slot)
{
  g_ptr_array_add (bus->slots, slot);
}

static int
on_name_owner_changed (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  SrBus *bus = userdata;
  const char *name, *old_owner, *new_owner;

  if (sd_bus_message_read (m, "sss", &name, &old_owner, &new_owner) < 0)
    return 0;
  /* A unique name is never reused, so its peer entry can go once it leaves. */
  if (name[0] != ':' || new_owner[0] != '\0')
    return 0;
  g_hash_table_remove (bus->peers, name);
  /* Nobody is left to hear those answers. */
  if (sr_service_queries (bus->service) != NULL)
    sr_queries_cancel_peer (sr_service_queries (bus->service), name);
  return 0;
}

/* Refuses new calls once a stop has begun; reads stay possible so that clients can still
 * look at the state of things while the daemon drains. */
static int
on_incoming (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  SrBus *bus = userdata;
  g_autoptr (GError) error = NULL;

  if (!sd_bus_message_is_method_call (m, NULL, NULL))
    return 0;
  if (sr_service_accepting (bus->service, &error))
    return 0;

  const char *interface = sd_bus_message_get_interface (m);
  if (g_strcmp0 (interface, "org.freedesktop.DBus.Peer") == 0
      || g_strcmp0 (interface, "org.freedesktop.DBus.Introspectable") == 0
      || sd_bus_message_is_method_call (m, "org.freedesktop.DBus.Properties", "Get")
      || sd_bus_message_is_method_call (m, "org.freedesktop.DBus.Properties", "GetAll"))
    return 0;

  sr_bus_reply_error (m, error);
  return 1;
}

static int
open_connection (const SrBusOptions *options, sd_bus **ret)
{
  if (options->address == NULL)
    return options->mode == SR_BUS_USER ? sd_bus_open_user (ret) : sd_bus_open_system (ret);

  sd_bus *bus = NULL;
  int r = sd_bus_new (&bus);
  if (r >= 0)
    r = sd_bus_set_address (bus, options->address);
  if (r >= 0)
    r = sd_bus_set_bus_client (bus, 1);
  if (r >= 0)
    r = sd_bus_start (bus);
  if (r < 0) {
    sd_bus_unref (bus);
    return r;
  }
  *ret = bus;
  return 0;
}

static gboolean
fail (GError **error, const char *doing, int r)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED, "%s: %s", doing, g_strerror (-r));
  return FALSE;
}

static gboolean
register_objects (SrBus *bus, GError **error)
{
  sd_bus_slot *slot = NULL;
  int r = sd_bus_match_signal_async (bus->bus, &slot, "org.freedesktop.DBus",
                                     "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                     "NameOwnerChanged", on_name_owner_changed, NULL, bus);
  if (r < 0)
    return fail (error, _ ("Cannot watch bus peers"), r);
  sr_bus_keep_slot (bus, slot);

  r = sd_bus_add_filter (bus->bus, &slot, on_incoming, bus);
  if (r < 0)
    return fail (error, _ ("Cannot install the D-Bus call filter"), r);
  sr_bus_keep_slot (bus, slot);

  if ((r = sr_bus_register_daemon (bus)) < 0 || (r = sr_bus_register_sessions (bus)) < 0)
    return fail (error, _ ("Cannot register the D-Bus objects"), r);
  return TRUE;
}

SrBus *
sr_bus_new (SrService *service, const SrBusOptions *options, GSourceFunc lost, gpointer lost_data,
            GError **error)
{
  g_autoptr (SrBus) bus = g_new0 (SrBus, 1);
  bus->service = service;
  bus->mode = options->mode;
  bus->own_uid = getuid ();
  bus->grant_ttl_us = (gint64) options->authorization_cache * G_USEC_PER_SEC;
  bus->peers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  bus->slots = g_ptr_array_new_with_free_func (release_slot);

  int r = open_connection (options, &bus->bus);
  if (r < 0) {
    const char *which = options->address               ? options->address
                        : options->mode == SR_BUS_USER ? _ ("the session bus")
                                                       : _ ("the system bus");
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED, _ ("Cannot connect to %s: %s%s"),
                 which, g_strerror (-r),
                 options->mode == SR_BUS_USER && options->address == NULL
                     ? _ (" (no session bus runs here: start one with dbus-run-session)")
                     : "");
    return NULL;
  }
  sd_bus_set_description (bus->bus, "smartragd");

  if (!register_objects (bus, error))
    return NULL;

  bus->source = sr_bus_source_new (bus->bus);
  g_source_set_callback (bus->source, lost, lost_data, NULL);
  g_source_attach (bus->source, NULL);
  return g_steal_pointer (&bus);
}

void
sr_bus_set_authorization_cache (SrBus *bus, guint64 seconds)
{
  bus->grant_ttl_us = (gint64) seconds * G_USEC_PER_SEC;
}

gboolean
sr_bus_acquire_name (SrBus *bus, GError **error)
{
  int r = sd_bus_request_name (bus->bus, SR_BUS_NAME, 0);
  if (r >= 0)
    return TRUE;

  const char *why;
  if (r == -EEXIST)
    why = _ ("another smartragd already owns it on this bus");
  else if (r == -EACCES || r == -EPERM)
    why = _ ("the bus policy does not allow this user to own it (only the smartrag user may, "
             "see org.smartrag.Daemon.conf)");
  else
    why = g_strerror (-r);
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED, _ ("Cannot take the name %s: %s"),
               SR_BUS_NAME, why);
  return FALSE;
}

/* Calls already queued for us when we stop are answered (ShuttingDown, by the filter)
 * rather than left to time out. The name goes first, so that no new calls come. */
static void
drain (SrBus *bus)
{
  if (bus->bus == NULL || !sd_bus_is_open (bus->bus))
    return;
  sd_bus_release_name (bus->bus, SR_BUS_NAME);
  for (guint i = 0; i < 100000 && sd_bus_process (bus->bus, NULL) > 0; i++)
    ;
}

void
sr_bus_free (SrBus *bus)
{
  if (bus == NULL)
    return;
  if (bus->source != NULL) {
    g_source_destroy (bus->source);
    g_source_unref (bus->source);
  }
  sr_bus_abandon_authorizations (bus);
  drain (bus);
  g_ptr_array_unref (bus->slots);
  if (bus->bus != NULL)
    sd_bus_flush_close_unref (bus->bus);
  g_hash_table_unref (bus->peers);
  g_free (bus);
}
