/* smartrag-cli token create|list|revoke: API tokens for the HTTP face. */
#include "build-config.h"

#include <glib/gi18n.h>

#include "cli/cli.h"

static CliExit
token_create (Cli *cli, int argc, char **argv)
{
  const CliUsage usage = { "token create NAME",
                           _ ("Create an API token named after where it is used; it is shown "
                              "this once."),
                           TRUE, 1, 1 };
  g_autoptr (GError) error = NULL;
  if (!cli_parse (cli, &usage, NULL, &argc, &argv, &error))
    return cli_usage_error ("token create", error);
  g_autoptr (GVariant) reply = cli_call (cli, CLI_DAEMON_PATH, CLI_DAEMON_IFACE, "CreateToken",
                                         CLI_TIMEOUT_USEC, &error, "s", argv[1]);
  if (reply == NULL)
    return cli_fail (_ ("Cannot create the token"), error);
  const char *id = NULL, *token = NULL;
  g_variant_get (reply, "(&s&s)", &id, &token);
  if (cli->json) {
    g_autoptr (JsonObject) object = json_object_new ();
    json_object_set_string_member (object, "id", id);
    json_object_set_string_member (object, "name", argv[1]);
    json_object_set_string_member (object, "token", token);
    g_autoptr (JsonNode) root = json_node_init_object (json_node_alloc (), object);
    cli_print_json (root);
    return CLI_EXIT_OK;
  }
  g_print ("%s\n", token);
  g_printerr (_ ("Token %s created. Keep it now: it is not shown again. Send it as "
                 "'Authorization: Bearer <token>'.\n"),
              id);
  return CLI_EXIT_OK;
}

static CliExit
token_list (Cli *cli, int argc, char **argv)
{
  const CliUsage usage
      = { "token list", _ ("List your API tokens (never the tokens themselves)."), TRUE, 0, 0 };
  g_autoptr (GError) error = NULL;
  if (!cli_parse (cli, &usage, NULL, &argc, &argv, &error))
    return cli_usage_error ("token list", error);
  g_autoptr (GVariant) reply = cli_call (cli, CLI_DAEMON_PATH, CLI_DAEMON_IFACE, "ListTokens",
                                         CLI_TIMEOUT_USEC, &error, NULL);
  if (reply == NULL)
    return cli_fail (_ ("Cannot list the tokens"), error);
  g_autoptr (GVariantIter) tokens = NULL;
  g_variant_get (reply, "(a(sst))", &tokens);
  g_autoptr (JsonArray) array = json_array_new ();
  if (!cli->json)
    g_print ("%s%-32s  %-16s  %s%s\n", cli_style (cli, CLI_STYLE_BOLD), _ ("ID"), _ ("CREATED"),
             _ ("NAME"), cli_style (cli, CLI_STYLE_RESET));
  const char *id, *name;
  guint64 created_at;
  while (g_variant_iter_next (tokens, "(&s&st)", &id, &name, &created_at)) {
    if (!cli->json) {
      g_autofree char *when = cli_format_time (created_at);
      g_print ("%-32s  %-16s  %s\n", id, when, name);
      continue;
    }
    g_autoptr (JsonObject) object = json_object_new ();
    g_autofree char *iso = cli_format_iso (created_at);
    json_object_set_string_member (object, "id", id);
    json_object_set_string_member (object, "name", name);
    json_object_set_string_member (object, "created_at", iso);
    json_array_add_object_element (array, g_steal_pointer (&object));
  }
  if (cli->json) {
    g_autoptr (JsonObject) object = json_object_new ();
    json_object_set_array_member (object, "tokens", g_steal_pointer (&array));
    g_autoptr (JsonNode) root = json_node_init_object (json_node_alloc (), object);
    cli_print_json (root);
  }
  return CLI_EXIT_OK;
}

static CliExit
token_revoke (Cli *cli, int argc, char **argv)
{
  const CliUsage usage
      = { "token revoke ID", _ ("Revoke one of your API tokens at once."), FALSE, 1, 1 };
  g_autoptr (GError) error = NULL;
  if (!cli_parse (cli, &usage, NULL, &argc, &argv, &error))
    return cli_usage_error ("token revoke", error);
  g_autoptr (GVariant) reply = cli_call (cli, CLI_DAEMON_PATH, CLI_DAEMON_IFACE, "RevokeToken",
                                         CLI_TIMEOUT_USEC, &error, "s", argv[1]);
  if (reply == NULL)
    return cli_fail (_ ("Cannot revoke the token"), error);
  g_print (_ ("Token %s revoked\n"), argv[1]);
  return CLI_EXIT_OK;
}

CliExit
cli_cmd_token (Cli *cli, int argc, char **argv)
{
  static const char *const names[] = { "create", "list", "revoke", NULL };
  static const CliCommand commands[] = { token_create, token_list, token_revoke };
  g_autofree char *description = g_strdup_printf (
      "%s\n  create  %s\n  list    %s\n  revoke  %s\n\n%s",
      _ ("Usage: smartrag-cli token COMMAND [OPTION…]"), _ ("Create a token: token create NAME"),
      _ ("List your tokens"), _ ("Revoke a token: token revoke ID"),
      _ ("Tokens let HTTP clients on TCP act as you."));
  return cli_subcommand (cli, argc, argv, "token", names, commands, description);
}
