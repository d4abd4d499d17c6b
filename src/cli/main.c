/* smartrag-cli: the command line client of smartragd, over D-Bus only. */
#include "build-config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <unistd.h>

#include "cli/cli.h"

typedef struct {
  const char *name;
  const char *summary;
  CliCommand run;
} Command;

static const Command commands[] = {
  { "status", N_ ("Version, backends and health of the daemon"), cli_cmd_status },
  { "sessions", N_ ("List, create, show and delete sessions"), cli_cmd_sessions },
  { "upload", N_ ("Add files to a session"), cli_cmd_upload },
  { "documents", N_ ("List and remove a session's documents"), cli_cmd_documents },
  { "query", N_ ("Ask a question and watch the answer arrive"), cli_cmd_query },
  { "history", N_ ("Show a session's questions and answers"), cli_cmd_history },
  { "search", N_ ("Search a session's questions and answers"), cli_cmd_search },
  { "export", N_ ("Export a session's conversation as JSON or Markdown"), cli_cmd_export },
  { "token", N_ ("Create, list and revoke API tokens for HTTP"), cli_cmd_token },
  { "backup", N_ ("Back up the daemon's state (administrators)"), cli_cmd_backup },
  { "restore", N_ ("Restore the daemon's state from a backup (administrators)"), cli_cmd_restore },
  { "optimize", N_ ("Compact the database and indexes (administrators)"), cli_cmd_optimize },
};

static void
cli_clear (Cli *cli)
{
  cli_disconnect (cli);
  g_free (cli->address);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Cli, cli_clear)

static char *
describe_commands (void)
{
  g_autoptr (GString) text = g_string_new (_ ("Commands:"));
  g_string_append_c (text, '\n');
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (text, "  %-10s %s\n", commands[i].name, _ (commands[i].summary));
  g_string_append_printf (text, "\n%s\n",
                          _ ("Run 'smartrag-cli COMMAND --help' for a command's "
                             "options. Exit status: 0 done, 1 usage, 2 daemon "
                             "unreachable, 3 a document failed, 4 not found, "
                             "5 denied, 6 input refused, 7 busy, 8 model server "
                             "unavailable, 9 daemon failure, 130 interrupted."));
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static gboolean
parse_global (Cli *cli, gboolean *version, int *argc, char ***argv, GError **error)
{
  g_autofree GOptionEntry *connection = (GOptionEntry *) cli_connection_entries (cli);
  const GOptionEntry entries[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, version, N_ ("Print the version and exit"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autofree char *description = describe_commands ();
  g_autoptr (GOptionContext) context = g_option_context_new (_ ("COMMAND [ARGUMENT…]"));
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _ ("The command line client of SmartRAG, a local "
                                            "knowledge base."));
  g_option_context_set_description (context, description);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, connection, GETTEXT_PACKAGE);
  /* Options after the command belong to the command. */
  g_option_context_set_strict_posix (context, TRUE);
  return g_option_context_parse (context, argc, argv, error);
}

static void
setup_locale (void)
{
  /* A build tree's translations, for running and testing before installation. */
  const char *localedir = g_getenv ("SMARTRAG_LOCALEDIR");
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL && *localedir != '\0' ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

int
main (int argc, char **argv)
{
  g_auto (Cli) cli = { 0 };
  g_autoptr (GError) error = NULL;

  setup_locale ();
  g_set_prgname ("smartrag-cli");
  const char *no_color = g_getenv ("NO_COLOR");
  cli.color = isatty (STDOUT_FILENO) && (no_color == NULL || *no_color == '\0');
  cli.interactive = isatty (STDIN_FILENO);

  gboolean version = FALSE;
  if (!parse_global (&cli, &version, &argc, &argv, &error))
    return cli_usage_error ("", error);
  if (version) {
    g_print ("smartrag-cli %s\n", PACKAGE_VERSION);
    return CLI_EXIT_OK;
  }
  if (argc < 2) {
    g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, _ ("No command given"));
    return cli_usage_error ("", error);
  }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++) {
    if (g_str_equal (argv[1], commands[i].name))
      return commands[i].run (&cli, argc - 1, argv + 1);
  }
  g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, _ ("Unknown command '%s'"), argv[1]);
  return cli_usage_error ("", error);
}
