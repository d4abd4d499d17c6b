/* The command line of each command: one GOptionContext each, with the connection options. */
#include "build-config.h"

#include <glib/gi18n.h>

#include "cli/cli.h"

/* The options every command takes; the array points into @cli. */
const GOptionEntry *
cli_connection_entries (Cli *cli)
{
  const GOptionEntry entries[] = {
    { "system", 0, 0, G_OPTION_ARG_NONE, &cli->system,
      N_ ("Talk to the SmartRAG of the system bus (the default)"), NULL },
    { "user", 0, 0, G_OPTION_ARG_NONE, &cli->user,
      N_ ("Talk to the SmartRAG of your session bus (smartragd --user)"), NULL },
    { "address", 0, 0, G_OPTION_ARG_STRING, &cli->address,
      N_ ("Talk to the SmartRAG of the bus at ADDRESS"), N_ ("ADDRESS") },
    G_OPTION_ENTRY_NULL,
  };
  return g_memdup2 (entries, sizeof entries);
}

static void
append_entries (GArray *all, const GOptionEntry *entries)
{
  for (guint i = 0; entries != NULL && entries[i].long_name != NULL; i++)
    g_array_append_val (all, entries[i]);
}

static gboolean
check_connection (const Cli *cli, GError **error)
{
  if ((cli->user ? 1 : 0) + (cli->system ? 1 : 0) + (cli->address != NULL ? 1 : 0) > 1) {
    g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                         _ ("--system, --user and --address exclude each other"));
    return FALSE;
  }
  if (cli->address != NULL && *cli->address == '\0') {
    g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         _ ("--address needs a bus address such as unix:path=/run/bus"));
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_count (const CliUsage *usage, int count, GError **error)
{
  if (count >= usage->min_args && count <= usage->max_args)
    return TRUE;
  if (count > usage->max_args)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 _ ("Too many arguments; usage: smartrag-cli %s"), usage->usage);
  else
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 _ ("Missing argument; usage: smartrag-cli %s"), usage->usage);
  return FALSE;
}

gboolean
cli_parse (Cli *cli, const CliUsage *usage, const GOptionEntry *entries, int *argc, char ***argv,
           GError **error)
{
  g_autofree GOptionEntry *connection = (GOptionEntry *) cli_connection_entries (cli);
  const GOptionEntry json[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &cli->json, N_ ("Print one JSON object, for scripts"),
      NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GArray) all = g_array_new (TRUE, TRUE, sizeof (GOptionEntry));
  append_entries (all, entries);
  if (usage->json)
    append_entries (all, json);
  append_entries (all, connection);

  g_autoptr (GOptionContext) context = g_option_context_new (usage->usage);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, usage->summary);
  g_option_context_add_main_entries (context, (GOptionEntry *) all->data, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (!check_connection (cli, error))
    return FALSE;
  return check_count (usage, *argc - 1, error);
}

CliExit
cli_usage_error (const char *command, const GError *error)
{
  g_printerr ("smartrag-cli: %s\n", error->message);
  if (*command == '\0')
    g_printerr ("%s\n", _ ("Try 'smartrag-cli --help'."));
  else
    g_printerr (_ ("Try 'smartrag-cli %s --help'.\n"), command);
  return CLI_EXIT_USAGE;
}

/* "sessions list", "token create" …: the word after the group picks the command. */
CliExit
cli_subcommand (Cli *cli, int argc, char **argv, const char *group, const char *const *names,
                const CliCommand *commands, const char *description)
{
  const char *word = argc > 1 ? argv[1] : NULL;
  if (word != NULL && (g_str_equal (word, "--help") || g_str_equal (word, "-h"))) {
    g_print ("%s\n", description);
    return CLI_EXIT_OK;
  }
  for (guint i = 0; word != NULL && names[i] != NULL; i++) {
    if (g_str_equal (word, names[i]))
      return commands[i](cli, argc - 1, argv + 1);
  }
  g_autoptr (GError) error = NULL;
  g_autofree char *known = g_strjoinv (", ", (char **) names);
  if (word == NULL)
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, _ ("'%s' needs a command: %s"),
                 group, known);
  else
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
                 _ ("Unknown command '%s %s'; %s takes %s"), group, word, group, known);
  return cli_usage_error (group, error);
}
