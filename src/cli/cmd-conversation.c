/* smartrag-cli history, search and export: a session's questions and answers. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "cli/answer.h"
#include "cli/cli.h"

static void
print_message (const Cli *cli, GVariant *message)
{
  const char *role = cli_lookup_string (message, "role");
  const char *state = cli_lookup_string (message, "state");
  g_autofree char *when = cli_format_time (cli_lookup_uint (message, "created_at"));
  const char *bold = cli_style (cli, CLI_STYLE_BOLD), *reset = cli_style (cli, CLI_STYLE_RESET);
  g_print ("%s[%s]%s %s%s:%s %s\n", cli_style (cli, CLI_STYLE_DIM), when, reset, bold,
           g_str_equal (role, "user") ? _ ("You") : _ ("SmartRAG"), reset,
           cli_lookup_string (message, "content"));
  if (g_strcmp0 (state, "complete") != 0 && *state != '\0')
    g_print ("  %s(%s: %s)%s\n", cli_state_style (cli, "failed"), state,
             cli_lookup_string (message, "error"), reset);
  g_autoptr (GVariant) sources = g_variant_lookup_value (message, "sources", NULL);
  if (sources != NULL && g_variant_n_children (sources) > 0)
    cli_print_sources (cli, sources);
  g_print ("\n");
}

static void
print_messages (const Cli *cli, const char *session_path, const char *text, GVariant *messages)
{
  if (!cli->json) {
    for (gsize i = 0; i < g_variant_n_children (messages); i++) {
      g_autoptr (GVariant) message = g_variant_get_child_value (messages, i);
      print_message (cli, message);
    }
    return;
  }
  g_autoptr (JsonObject) object = json_object_new ();
  json_object_set_string_member (object, "session_id", cli_session_id_of (session_path));
  if (text != NULL)
    json_object_set_string_member (object, "query", text);
  json_object_set_member (object, "messages", cli_json_from_variant (messages));
  g_autoptr (JsonNode) root = json_node_init_object (json_node_alloc (), object);
  cli_print_json (root);
}

static gboolean
check_limit (int limit, GError **error)
{
  if (limit >= 0 && limit <= 1000)
    return TRUE;
  g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _ ("--limit takes a number from 1 to 1000 (0 for the daemon's 100)"));
  return FALSE;
}

CliExit
cli_cmd_history (Cli *cli, int argc, char **argv)
{
  g_autofree char *session = NULL, *path = NULL;
  int offset = 0, limit = 0;
  const GOptionEntry entries[] = {
    CLI_SESSION_OPTION (&session),
    { "offset", 0, 0, G_OPTION_ARG_INT, &offset, N_ ("Skip the N oldest messages"), N_ ("N") },
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, N_ ("Show at most N messages (default 100)"),
      N_ ("N") },
    G_OPTION_ENTRY_NULL,
  };
  const CliUsage usage
      = { "history", _ ("Show a session's questions and answers, oldest first."), TRUE, 0, 0 };
  g_autoptr (GError) error = NULL;
  if (!cli_parse (cli, &usage, entries, &argc, &argv, &error) || !check_limit (limit, &error))
    return cli_usage_error ("history", error);
  if (offset < 0)
    offset = 0;
  if (!cli_session_path (cli, session, &path, &error))
    return cli_fail (_ ("Cannot read the history"), error);
  g_autoptr (GVariant) reply
      = cli_call (cli, path, CLI_SESSION_IFACE, "GetMessages", CLI_TIMEOUT_USEC, &error, "uu",
                  (guint32) offset, (guint32) limit);
  if (reply == NULL)
    return cli_fail (_ ("Cannot read the history"), error);
  g_autoptr (GVariant) messages = g_variant_get_child_value (reply, 0);
  print_messages (cli, path, NULL, messages);
  return CLI_EXIT_OK;
}

CliExit
cli_cmd_search (Cli *cli, int argc, char **argv)
{
  g_autofree char *session = NULL, *path = NULL;
  int limit = 0;
  const GOptionEntry entries[] = {
    CLI_SESSION_OPTION (&session),
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, N_ ("Show at most N messages (default 100)"),
      N_ ("N") },
    G_OPTION_ENTRY_NULL,
  };
  const CliUsage usage
      = { "search TEXT", _ ("Search a session's questions and answers for words, best first."),
          TRUE, 1, 1 };
  g_autoptr (GError) error = NULL;
  if (!cli_parse (cli, &usage, entries, &argc, &argv, &error) || !check_limit (limit, &error))
    return cli_usage_error ("search", error);
  if (!cli_session_path (cli, session, &path, &error))
    return cli_fail (_ ("Cannot search the conversation"), error);
  g_autoptr (GVariant) reply = cli_call (cli, path, CLI_SESSION_IFACE, "SearchMessages",
                                         CLI_TIMEOUT_USEC, &error, "su", argv[1], (guint32) limit);
  if (reply == NULL)
    return cli_fail (_ ("Cannot search the conversation"), error);
  g_autoptr (GVariant) messages = g_variant_get_child_value (reply, 0);
  print_messages (cli, path, argv[1], messages);
  return CLI_EXIT_OK;
}

static gboolean
export_to (Cli *cli, const char *path, const char *format, int fd, GError **error)
{
  g_autoptr (GVariant) reply = cli_call (cli, path, CLI_SESSION_IFACE, "Export",
                                         CLI_TIMEOUT_LONG_USEC, error, "sh", format, fd);
  return reply != NULL;
}

static gboolean
export_file (Cli *cli, const char *path, const char *format, const char *output, GError **error)
{
  int fd = open (output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0666);
  if (fd < 0) {
    int errnum = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errnum), _ ("Cannot write %s: %s"),
                 output, g_strerror (errnum));
    return FALSE;
  }
  gboolean done = export_to (cli, path, format, fd, error);
  if (!g_close (fd, NULL) && done) {
    int errnum = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errnum), _ ("Cannot write %s: %s"),
                 output, g_strerror (errnum));
    done = FALSE;
  }
  /* A half-written export is no export. */
  if (!done)
    g_unlink (output);
  return done;
}

CliExit
cli_cmd_export (Cli *cli, int argc, char **argv)
{
  g_autofree char *session = NULL, *path = NULL, *format = NULL, *output = NULL;
  const GOptionEntry entries[] = {
    CLI_SESSION_OPTION (&session),
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format, N_ ("json or markdown (the default)"),
      N_ ("FORMAT") },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      N_ ("Write to FILE instead of standard output"), N_ ("FILE") },
    G_OPTION_ENTRY_NULL,
  };
  const CliUsage usage
      = { "export", _ ("Export a session's conversation as JSON or Markdown."), FALSE, 0, 0 };
  g_autoptr (GError) error = NULL;
  if (!cli_parse (cli, &usage, entries, &argc, &argv, &error))
    return cli_usage_error ("export", error);
  if (format != NULL && !g_str_equal (format, "json") && !g_str_equal (format, "markdown")) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 _ ("Invalid format '%s': expected json or markdown"), format);
    return cli_usage_error ("export", error);
  }
  if (!cli_session_path (cli, session, &path, &error))
    return cli_fail (_ ("Cannot export the conversation"), error);
  const char *chosen = format != NULL ? format : "markdown";
  gboolean done = output != NULL ? export_file (cli, path, chosen, output, &error)
                                 : export_to (cli, path, chosen, STDOUT_FILENO, &error);
  if (!done)
    return cli_fail (_ ("Cannot export the conversation"), error);
  return CLI_EXIT_OK;
}
