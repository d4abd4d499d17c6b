/* The connection to the daemon's bus, and method calls whose replies become GVariants. */
#include "build-config.h"

#include <errno.h>
#include <glib/gi18n.h>

#include "cli/cli.h"

static int
open_bus (const Cli *cli, sd_bus **bus)
{
  if (cli->user)
    return sd_bus_open_user (bus);
  if (cli->address == NULL)
    return sd_bus_open_system (bus);

  g_autoptr (sd_bus) fresh = NULL;
  int r = sd_bus_new (&fresh);
  if (r >= 0)
    r = sd_bus_set_address (fresh, cli->address);
  if (r >= 0)
    r = sd_bus_set_bus_client (fresh, 1);
  if (r >= 0)
    r = sd_bus_start (fresh);
  if (r >= 0)
    *bus = g_steal_pointer (&fresh);
  return r;
}

gboolean
cli_connect (Cli *cli, GError **error)
{
  if (cli->bus != NULL)
    return TRUE;
  sd_bus *bus = NULL;
  int r = open_bus (cli, &bus);
  if (r < 0) {
    cli_error_from_errno (cli, r, NULL, error);
    return FALSE;
  }
  /* polkit may ask for a password only when someone is there to type it. */
  sd_bus_set_allow_interactive_authorization (bus, cli->interactive);
  cli->bus = bus;
  return TRUE;
}

void
cli_disconnect (Cli *cli)
{
  if (cli->bus != NULL)
    cli->bus = sd_bus_flush_close_unref (cli->bus);
}

gboolean
cli_new_call (Cli *cli, const char *path, const char *iface, const char *member,
              sd_bus_message **call, GError **error)
{
  if (!cli_connect (cli, error))
    return FALSE;
  int r = sd_bus_message_new_method_call (cli->bus, call, CLI_BUS_NAME, path, iface, member);
  if (r < 0) {
    cli_error_from_errno (cli, r, member, error);
    return FALSE;
  }
  return TRUE;
}

GVariant *
cli_call_message (Cli *cli, sd_bus_message *call, guint64 timeout_usec, GError **error)
{
  g_auto (sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  int r = sd_bus_call (cli->bus, call, timeout_usec, &bus_error, &reply);
  if (r < 0) {
    cli_error_from_bus (cli, r, &bus_error, sd_bus_message_get_path (call),
                        sd_bus_message_get_member (call), error);
    return NULL;
  }
  return cli_message_read_body (reply, error);
}

/* @types and what follows are sd_bus_message_append()'s; NULL sends no arguments. */
GVariant *
cli_call (Cli *cli, const char *path, const char *iface, const char *member, guint64 timeout_usec,
          GError **error, const char *types, ...)
{
  g_autoptr (sd_bus_message) call = NULL;
  if (!cli_new_call (cli, path, iface, member, &call, error))
    return NULL;
  if (types != NULL) {
    va_list args;
    va_start (args, types);
    int r = sd_bus_message_appendv (call, types, args);
    va_end (args);
    if (r < 0) {
      cli_error_from_errno (cli, r, member, error);
      return NULL;
    }
  }
  return cli_call_message (cli, call, timeout_usec, error);
}

/* Every property of @iface on @path, as an a{sv}. */
GVariant *
cli_get_all (Cli *cli, const char *path, const char *iface, GError **error)
{
  g_autoptr (GVariant) reply = cli_call (cli, path, "org.freedesktop.DBus.Properties", "GetAll",
                                         CLI_TIMEOUT_USEC, error, "s", iface);
  return reply == NULL ? NULL : g_variant_get_child_value (reply, 0);
}

/* The daemon's unique name, so that signals are taken only from it. */
char *
cli_daemon_owner (Cli *cli, GError **error)
{
  g_autoptr (sd_bus_message) call = NULL;
  if (!cli_connect (cli, error))
    return NULL;
  g_auto (sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  int r = sd_bus_call_method (cli->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                              "org.freedesktop.DBus", "GetNameOwner", &bus_error, &reply, "s",
                              CLI_BUS_NAME);
  const char *owner = NULL;
  if (r >= 0)
    r = sd_bus_message_read (reply, "s", &owner);
  if (r < 0) {
    cli_error_from_bus (cli, r, &bus_error, CLI_DAEMON_PATH, "GetNameOwner", error);
    return NULL;
  }
  return g_strdup (owner);
}
