/* smartrag-cli status: version, backends and health, in one round trip each. */
#include "build-config.h"

#include <glib/gi18n.h>

#include "cli/cli.h"

static void
print_json (GVariant *properties, const char *status, GVariant *components)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, cli_lookup_string (properties, "Version"));
  json_builder_set_member_name (builder, "embedding_backend");
  json_builder_add_string_value (builder, cli_lookup_string (properties, "EmbeddingBackend"));
  json_builder_set_member_name (builder, "generation_backend");
  json_builder_add_string_value (builder, cli_lookup_string (properties, "GenerationBackend"));
  json_builder_set_member_name (builder, "status");
  json_builder_add_string_value (builder, status);
  json_builder_set_member_name (builder, "components");
  json_builder_add_value (builder, cli_json_from_variant (components));
  json_builder_end_object (builder);
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  cli_print_json (root);
}

static void
print_text (const Cli *cli, GVariant *properties, const char *status, GVariant *components)
{
  const char *reset = cli_style (cli, CLI_STYLE_RESET);
  g_print ("%sSmartRAG %s%s: %s%s%s\n", cli_style (cli, CLI_STYLE_BOLD),
           cli_lookup_string (properties, "Version"), reset, cli_state_style (cli, status), status,
           reset);
  g_print ("%-20s %s\n", _ ("Embedding backend:"),
           cli_lookup_string (properties, "EmbeddingBackend"));
  g_print ("%-20s %s\n", _ ("Generation backend:"),
           cli_lookup_string (properties, "GenerationBackend"));
  GVariantIter iter;
  const char *name;
  GVariant *component;
  g_variant_iter_init (&iter, components);
  while (g_variant_iter_loop (&iter, "{&sv}", &name, &component)) {
    const char *state = cli_lookup_string (component, "status");
    g_print ("  %-11s %s%-9s%s %s\n", name, cli_state_style (cli, state), state, reset,
             cli_lookup_string (component, "message"));
  }
}

CliExit
cli_cmd_status (Cli *cli, int argc, char **argv)
{
  const CliUsage usage
      = { "status", _ ("Show the daemon's version, backends and health."), TRUE, 0, 0 };
  g_autoptr (GError) error = NULL;
  if (!cli_parse (cli, &usage, NULL, &argc, &argv, &error))
    return cli_usage_error ("status", error);

  g_autoptr (GVariant) properties = cli_get_all (cli, CLI_DAEMON_PATH, CLI_DAEMON_IFACE, &error);
  if (properties == NULL)
    return cli_fail (_ ("Cannot read the daemon's status"), error);
  g_autoptr (GVariant) health = cli_call (cli, CLI_DAEMON_PATH, CLI_DAEMON_IFACE, "GetHealth",
                                          CLI_TIMEOUT_USEC, &error, NULL);
  if (health == NULL)
    return cli_fail (_ ("Cannot read the daemon's health"), error);
  const char *status = NULL;
  g_autoptr (GVariant) components = NULL;
  g_variant_get (health, "(&s@a{sv})", &status, &components);
  if (cli->json)
    print_json (properties, status, components);
  else
    print_text (cli, properties, status, components);
  return CLI_EXIT_OK;
}
