/* smartrag-cli documents list|remove. */
#include "build-config.h"

#include <glib/gi18n.h>

#include "cli/cli.h"

static void
print_documents (const Cli *cli, GVariant *documents)
{
  const char *reset = cli_style (cli, CLI_STYLE_RESET);
  g_print ("%s%-32s  %-9s  %6s  %9s  %s%s\n", cli_style (cli, CLI_STYLE_BOLD), _ ("ID"),
           _ ("STATE"), _ ("CHUNKS"), _ ("SIZE"), _ ("FILENAME"), reset);
  for (gsize i = 0; i < g_variant_n_children (documents); i++) {
    g_autoptr (GVariant) document = g_variant_get_child_value (documents, i);
    const char *state = cli_lookup_string (document, "state");
    g_autofree char *size = g_format_size (cli_lookup_uint (document, "size"));
    g_print ("%-32s  %s%-9s%s  %6" G_GUINT64_FORMAT "  %9s  %s\n",
             cli_lookup_string (document, "id"), cli_state_style (cli, state), state, reset,
             cli_lookup_uint (document, "chunks"), size, cli_lookup_string (document, "filename"));
    const char *message = cli_lookup_string (document, "message");
    if (*message != '\0')
      g_print ("%34s%s%s%s\n", "", cli_style (cli, CLI_STYLE_DIM), message, reset);
  }
}

static CliExit
documents_list (Cli *cli, int argc, char **argv)
{
  g_autofree char *session = NULL;
  const GOptionEntry entries[] = {
    CLI_SESSION_OPTION (&session),
    G_OPTION_ENTRY_NULL,
  };
  const CliUsage usage
      = { "documents list", _ ("List a session's documents, oldest first."), TRUE, 0, 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  if (!cli_parse (cli, &usage, entries, &argc, &argv, &error))
    return cli_usage_error ("documents list", error);
  if (!cli_session_path (cli, session, &path, &error))
    return cli_fail (_ ("Cannot list the documents"), error);
  g_autoptr (GVariant) reply
      = cli_call (cli, path, CLI_DOCUMENT_IFACE, "ListDocuments", CLI_TIMEOUT_USEC, &error, NULL);
  if (reply == NULL)
    return cli_fail (_ ("Cannot list the documents"), error);
  g_autoptr (GVariant) documents = g_variant_get_child_value (reply, 0);
  if (!cli->json) {
    print_documents (cli, documents);
    return CLI_EXIT_OK;
  }
  g_autoptr (JsonObject) object = json_object_new ();
  json_object_set_string_member (object, "session_id", cli_session_id_of (path));
  json_object_set_member (object, "documents", cli_json_from_variant (documents));
  g_autoptr (JsonNode) root = json_node_init_object (json_node_alloc (), object);
  cli_print_json (root);
  return CLI_EXIT_OK;
}

static CliExit
documents_remove (Cli *cli, int argc, char **argv)
{
  g_autofree char *session = NULL;
  const GOptionEntry entries[] = {
    CLI_SESSION_OPTION (&session),
    G_OPTION_ENTRY_NULL,
  };
  const CliUsage usage = { "documents remove ID",
                           _ ("Remove a document with its chunks and vectors."), FALSE, 1, 1 };
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  if (!cli_parse (cli, &usage, entries, &argc, &argv, &error))
    return cli_usage_error ("documents remove", error);
  if (!cli_session_path (cli, session, &path, &error))
    return cli_fail (_ ("Cannot remove the document"), error);
  g_autoptr (GVariant) reply = cli_call (cli, path, CLI_DOCUMENT_IFACE, "RemoveDocument",
                                         CLI_TIMEOUT_USEC, &error, "s", argv[1]);
  if (reply == NULL)
    return cli_fail (_ ("Cannot remove the document"), error);
  g_print (_ ("Document %s removed\n"), argv[1]);
  return CLI_EXIT_OK;
}

CliExit
cli_cmd_documents (Cli *cli, int argc, char **argv)
{
  static const char *const names[] = { "list", "remove", NULL };
  static const CliCommand commands[] = { documents_list, documents_remove };
  g_autofree char *description = g_strdup_printf (
      "%s\n  list    %s\n  remove  %s\n\n%s", _ ("Usage: smartrag-cli documents COMMAND [OPTION…]"),
      _ ("List a session's documents"), _ ("Remove a document"),
      _ ("'smartrag-cli documents COMMAND --help' shows its options; upload adds documents."));
  return cli_subcommand (cli, argc, argv, "documents", names, commands, description);
}
