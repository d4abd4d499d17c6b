/* D-Bus errors as errors of SmartRAG's domain, with what to do; exit codes; stderr lines. */
#include "build-config.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gi18n.h>

#include "cli/cli.h"
#include "common/errors.h"

#define DBUS_ERROR "org.freedesktop.DBus.Error."

static char *
not_running (const Cli *cli)
{
  if (cli->user)
    return g_strdup (_ ("SmartRAG is not running on your session bus; start it with "
                        "'systemctl --user start smartrag' (or run smartragd --user)"));
  if (cli->address != NULL)
    return g_strdup_printf (_ ("SmartRAG is not running on the bus at %s; start smartragd "
                               "with --address=%s"),
                            cli->address, cli->address);
  return g_strdup (_ ("SmartRAG is not running on the system bus and could not be started; "
                      "start it with 'sudo systemctl start smartrag'"));
}

/* @doing is the member that was called, or NULL while connecting. */
void
cli_error_from_errno (Cli *cli, int status, const char *doing, GError **error)
{
  int errnum = status < 0 ? -status : status;
  if (doing != NULL && errnum == ETIMEDOUT) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 _ ("SmartRAG did not answer %s in time; it may be overloaded or stuck"), doing);
    return;
  }
  if (doing != NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, _ ("Cannot call %s on the bus: %s"),
                 doing, g_strerror (errnum));
    return;
  }
  if (cli->user)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                 _ ("Cannot connect to your session bus: %s; set DBUS_SESSION_BUS_ADDRESS, or "
                    "leave out --user to reach the system service"),
                 g_strerror (errnum));
  else if (cli->address != NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                 _ ("Cannot connect to the bus at %s: %s"), cli->address, g_strerror (errnum));
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                 _ ("Cannot connect to the system bus: %s; is D-Bus running?"),
                 g_strerror (errnum));
}

static gboolean
is_unreachable (const char *name)
{
  static const char *const names[]
      = { DBUS_ERROR "ServiceUnknown", DBUS_ERROR "NameHasNoOwner", DBUS_ERROR "NoServer", NULL };
  return g_strv_contains (names, name) || g_str_has_prefix (name, DBUS_ERROR "Spawn.");
}

static gboolean
is_lost (const char *name)
{
  static const char *const names[] = { DBUS_ERROR "NoReply", DBUS_ERROR "Timeout",
                                       DBUS_ERROR "TimedOut", DBUS_ERROR "Disconnected", NULL };
  return g_strv_contains (names, name);
}

/* Our code for a D-Bus error name; AccessDenied depends on what was called (below). */
static SmartragError
code_for_name (const char *name)
{
  for (int code = 0; code < SMARTRAG_ERROR_N_CODES; code++) {
    if (g_str_equal (smartrag_error_dbus_name (code), name))
      return code;
  }
  return SMARTRAG_ERROR_FAILED;
}

/* What a person can do next, after the daemon's own message. */
static const char *
hint_for (SmartragError code, const char *path, const char *member)
{
  gboolean on_session = path != NULL && g_str_has_prefix (path, CLI_SESSION_PREFIX);
  if (code == SMARTRAG_ERROR_UNKNOWN_OBJECT && on_session)
    return _ ("'smartrag-cli sessions list' shows yours");
  if (code == SMARTRAG_ERROR_UNKNOWN_OBJECT)
    return _ ("'smartrag-cli token list' shows yours");
  if (code == SMARTRAG_ERROR_NOT_FOUND && g_strcmp0 (member, "Cancel") != 0)
    return _ ("'smartrag-cli documents list' shows the session's documents");
  if (code == SMARTRAG_ERROR_FAILED)
    return _ ("the daemon's log says more (journalctl -u smartrag)");
  return NULL;
}

static void
set_daemon_error (const char *name, const char *message, const char *path, const char *member,
                  GError **error)
{
  SmartragError code = code_for_name (name);
  gboolean on_session = path != NULL && g_str_has_prefix (path, CLI_SESSION_PREFIX);
  /* Over D-Bus a session or token one may not see answers AccessDenied, exactly as one
   * that does not exist; polkit's refusals come from the daemon's own object. */
  if (g_str_equal (name, DBUS_ERROR "UnknownObject")
      || (g_str_equal (name, DBUS_ERROR "AccessDenied")
          && (on_session || g_strcmp0 (member, "RevokeToken") == 0)))
    code = SMARTRAG_ERROR_UNKNOWN_OBJECT;
  const char *hint = hint_for (code, path, member);
  if (hint != NULL)
    g_set_error (error, SMARTRAG_ERROR, code, "%s; %s", message, hint);
  else
    g_set_error_literal (error, SMARTRAG_ERROR, code, message);
}

void
cli_error_from_bus (Cli *cli, int status, const sd_bus_error *bus_error, const char *path,
                    const char *member, GError **error)
{
  if (!sd_bus_error_is_set (bus_error)) {
    cli_error_from_errno (cli, status, member, error);
    return;
  }
  const char *name = bus_error->name;
  const char *message = bus_error->message != NULL ? bus_error->message : name;
  if (is_unreachable (name)) {
    g_autofree char *text = not_running (cli);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "%s (%s)", text, message);
  } else if (is_lost (name)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 _ ("SmartRAG did not answer %s: %s; 'smartrag-cli status' shows whether it "
                    "runs"),
                 member, message);
  } else if (g_str_equal (name, DBUS_ERROR "UnknownMethod")
             || g_str_equal (name, DBUS_ERROR "UnknownInterface")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 _ ("The daemon does not offer %s; it is older than this smartrag-cli, so "
                    "update smartragd"),
                 member);
  } else {
    set_daemon_error (name, message, path, member, error);
  }
}

static CliExit
exit_for_daemon_code (SmartragError code)
{
  switch (code) {
  case SMARTRAG_ERROR_INVALID_ARGS:
  case SMARTRAG_ERROR_TOO_LARGE:
  case SMARTRAG_ERROR_UNSUPPORTED_FORMAT:
    return CLI_EXIT_REFUSED;
  case SMARTRAG_ERROR_ACCESS_DENIED:
  case SMARTRAG_ERROR_UNAUTHENTICATED:
    return CLI_EXIT_DENIED;
  case SMARTRAG_ERROR_UNKNOWN_OBJECT:
  case SMARTRAG_ERROR_NOT_FOUND:
    return CLI_EXIT_NOT_FOUND;
  case SMARTRAG_ERROR_BUSY:
  case SMARTRAG_ERROR_RATE_LIMITED:
    return CLI_EXIT_BUSY;
  case SMARTRAG_ERROR_BACKEND_UNAVAILABLE:
    return CLI_EXIT_BACKEND;
  case SMARTRAG_ERROR_CANCELLED:
    return CLI_EXIT_INTERRUPTED;
  case SMARTRAG_ERROR_SHUTTING_DOWN:
  case SMARTRAG_ERROR_METHOD_NOT_ALLOWED:
    return CLI_EXIT_UNREACHABLE;
  default:
    return CLI_EXIT_FAILED;
  }
}

CliExit
cli_exit_code (const GError *error)
{
  if (error == NULL)
    return CLI_EXIT_OK;
  if (error->domain == SMARTRAG_ERROR)
    return exit_for_daemon_code (smartrag_error_code (error));
  if (error->domain == G_OPTION_ERROR)
    return CLI_EXIT_USAGE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return CLI_EXIT_INTERRUPTED;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED)
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED)
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return CLI_EXIT_UNREACHABLE;
  if (error->domain == G_IO_ERROR || error->domain == G_FILE_ERROR)
    return CLI_EXIT_DOCUMENT;
  return CLI_EXIT_FAILED;
}

/* One line on stderr: what failed, why, and what to do; returns the exit code. */
CliExit
cli_fail (const char *what, const GError *error)
{
  if (what != NULL)
    g_printerr ("smartrag-cli: %s: %s\n", what, error->message);
  else
    g_printerr ("smartrag-cli: %s\n", error->message);
  return cli_exit_code (error);
}
