/* Which session a command works on: --session, $SMARTRAG_SESSION, or the newest one. */
#include "build-config.h"

#include <glib/gi18n.h>

#include "cli/cli.h"
#include "common/errors.h"
#include "common/ids.h"

/* The id part of a session's object path. */
const char *
cli_session_id_of (const char *path)
{
  if (g_str_has_prefix (path, CLI_SESSION_PREFIX))
    return path + strlen (CLI_SESSION_PREFIX);
  return path;
}

/* The newest of the caller's sessions: ListSessions lists the oldest first. */
static gboolean
newest_session (Cli *cli, char **path, GError **error)
{
  g_autoptr (GVariant) reply = cli_call (cli, CLI_DAEMON_PATH, CLI_DAEMON_IFACE, "ListSessions",
                                         CLI_TIMEOUT_USEC, error, NULL);
  if (reply == NULL)
    return FALSE;
  g_autoptr (GVariant) paths = g_variant_get_child_value (reply, 0);
  gsize count = g_variant_n_children (paths);
  if (count == 0)
    return sr_error_set (error, SMARTRAG_ERROR_NOT_FOUND, "%s",
                         _ ("You have no session yet; create one with 'smartrag-cli sessions "
                            "create'"));
  g_variant_get_child (paths, count - 1, "o", path);
  return TRUE;
}

/* @given: an id, a session's object path, or NULL for the default. */
gboolean
cli_session_path (Cli *cli, const char *given, char **path, GError **error)
{
  if (given == NULL) {
    const char *env = g_getenv ("SMARTRAG_SESSION");
    given = env != NULL && *env != '\0' ? env : NULL;
  }
  if (given == NULL)
    return newest_session (cli, path, error);
  const char *id = cli_session_id_of (given);
  if (!sr_id_is_valid (id)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 _ ("Invalid session id '%s': expected 32 lowercase hexadecimal characters, as "
                    "'smartrag-cli sessions list' shows them"),
                 given);
    return FALSE;
  }
  *path = g_strconcat (CLI_SESSION_PREFIX, id, NULL);
  return TRUE;
}
