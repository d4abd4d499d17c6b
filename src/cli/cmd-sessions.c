/* smartrag-cli sessions list|create|show|delete. */
#include "build-config.h"

#include <glib/gi18n.h>

#include "cli/cli.h"
#include "common/errors.h"

/* A session as the HTTP API writes it, with the owner too. */
static JsonNode *
session_json (GVariant *properties)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "session_id");
  json_builder_add_string_value (builder, cli_lookup_string (properties, "Id"));
  json_builder_set_member_name (builder, "title");
  json_builder_add_string_value (builder, cli_lookup_string (properties, "Title"));
  json_builder_set_member_name (builder, "context");
  JsonNode *context = json_from_string (cli_lookup_string (properties, "Context"), NULL);
  if (context == NULL)
    json_builder_add_string_value (builder, cli_lookup_string (properties, "Context"));
  else
    json_builder_add_value (builder, context);
  json_builder_set_member_name (builder, "owner");
  json_builder_add_int_value (builder, (gint64) cli_lookup_uint (properties, "Owner"));
  const char *const times[][2] = { { "created_at", "CreatedAt" }, { "last_active", "LastActive" } };
  for (guint i = 0; i < G_N_ELEMENTS (times); i++) {
    g_autofree char *iso = cli_format_iso (cli_lookup_uint (properties, times[i][1]));
    json_builder_set_member_name (builder, times[i][0]);
    json_builder_add_string_value (builder, iso);
  }
  json_builder_set_member_name (builder, "message_count");
  json_builder_add_int_value (builder, (gint64) cli_lookup_uint (properties, "MessageCount"));
  json_builder_set_member_name (builder, "document_count");
  json_builder_add_int_value (builder, (gint64) cli_lookup_uint (properties, "DocumentCount"));
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static CliExit
sessions_list (Cli *cli, int argc, char **argv)
{
  const CliUsage usage = { "sessions list", _ ("List your sessions, oldest first."), TRUE, 0, 0 };
  g_autoptr (GError) error = NULL;
  if (!cli_parse (cli, &usage, NULL, &argc, &argv, &error))
    return cli_usage_error ("sessions list", error);
  g_autoptr (GVariant) reply = cli_call (cli, CLI_DAEMON_PATH, CLI_DAEMON_IFACE, "ListSessions",
                                         CLI_TIMEOUT_USEC, &error, NULL);
  if (reply == NULL)
    return cli_fail (_ ("Cannot list the sessions"), error);

  g_autoptr (JsonArray) array = json_array_new ();
  if (!cli->json)
    g_print ("%s%-32s  %5s  %8s  %-16s  %s%s\n", cli_style (cli, CLI_STYLE_BOLD), _ ("ID"),
             _ ("DOCS"), _ ("MESSAGES"), _ ("LAST ACTIVE"), _ ("TITLE"),
             cli_style (cli, CLI_STYLE_RESET));
  g_autoptr (GVariantIter) paths = NULL;
  const char *path;
  g_variant_get (reply, "(ao)", &paths);
  while (g_variant_iter_next (paths, "&o", &path)) {
    g_autoptr (GError) lost = NULL;
    g_autoptr (GVariant) properties = cli_get_all (cli, path, CLI_SESSION_IFACE, &lost);
    /* A session that expired since the list was made is simply left out. */
    if (properties == NULL && smartrag_error_code (lost) == SMARTRAG_ERROR_UNKNOWN_OBJECT)
      continue;
    if (properties == NULL)
      return cli_fail (_ ("Cannot read a session"), lost);
    if (cli->json) {
      json_array_add_element (array, session_json (properties));
      continue;
    }
    g_autofree char *active = cli_format_time (cli_lookup_uint (properties, "LastActive"));
    g_print ("%-32s  %5" G_GUINT64_FORMAT "  %8" G_GUINT64_FORMAT "  %-16s  %s\n",
             cli_lookup_string (properties, "Id"), cli_lookup_uint (properties, "DocumentCount"),
             cli_lookup_uint (properties, "MessageCount"), active,
             cli_lookup_string (properties, "Title"));
  }
  if (cli->json) {
    g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
    g_autoptr (JsonObject) object = json_object_new ();
    json_object_set_array_member (object, "sessions", g_steal_pointer (&array));
    json_node_set_object (root, object);
    cli_print_json (root);
  }
  return CLI_EXIT_OK;
}

static void
print_session (const Cli *cli, GVariant *properties)
{
  const guint64 times[]
      = { cli_lookup_uint (properties, "CreatedAt"), cli_lookup_uint (properties, "LastActive") };
  g_autofree char *created = cli_format_time (times[0]);
  g_autofree char *active = cli_format_time (times[1]);
  const char *bold = cli_style (cli, CLI_STYLE_BOLD), *reset = cli_style (cli, CLI_STYLE_RESET);
  g_print ("%s%-13s%s %s\n", bold, _ ("Session:"), reset, cli_lookup_string (properties, "Id"));
  g_print ("%-13s %s\n", _ ("Title:"), cli_lookup_string (properties, "Title"));
  g_print ("%-13s %" G_GUINT64_FORMAT "\n", _ ("Owner:"), cli_lookup_uint (properties, "Owner"));
  g_print ("%-13s %s\n", _ ("Created:"), created);
  g_print ("%-13s %s\n", _ ("Last active:"), active);
  g_print ("%-13s %" G_GUINT64_FORMAT "\n", _ ("Documents:"),
           cli_lookup_uint (properties, "DocumentCount"));
  g_print ("%-13s %" G_GUINT64_FORMAT "\n", _ ("Messages:"),
           cli_lookup_uint (properties, "MessageCount"));
  g_print ("%-13s %s\n", _ ("Context:"), cli_lookup_string (properties, "Context"));
}

static CliExit
show_path (Cli *cli, const char *path, gboolean id_only)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) properties = cli_get_all (cli, path, CLI_SESSION_IFACE, &error);
  if (properties == NULL)
    return cli_fail (_ ("Cannot read the session"), error);
  if (cli->json) {
    g_autoptr (JsonNode) root = session_json (properties);
    cli_print_json (root);
  } else if (id_only) {
    g_print ("%s\n", cli_lookup_string (properties, "Id"));
  } else {
    print_session (cli, properties);
  }
  return CLI_EXIT_OK;
}

static CliExit
sessions_show (Cli *cli, int argc, char **argv)
{
  const CliUsage usage = { "sessions show ID", _ ("Show a session's properties."), TRUE, 1, 1 };
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  if (!cli_parse (cli, &usage, NULL, &argc, &argv, &error)
      || !cli_session_path (cli, argv[1], &path, &error))
    return cli_usage_error ("sessions show", error);
  return show_path (cli, path, FALSE);
}

static GVariant *
create_options (const char *title, const char *context, const char *expire_after)
{
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  if (title != NULL)
    g_variant_builder_add (&builder, "{sv}", "title", g_variant_new_string (title));
  if (context != NULL)
    g_variant_builder_add (&builder, "{sv}", "context", g_variant_new_string (context));
  if (expire_after != NULL)
    g_variant_builder_add (&builder, "{sv}", "expire_after", g_variant_new_string (expire_after));
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static CliExit
sessions_create (Cli *cli, int argc, char **argv)
{
  g_autofree char *title = NULL, *context = NULL, *expire_after = NULL;
  const GOptionEntry entries[] = {
    { "title", 't', 0, G_OPTION_ARG_STRING, &title, N_ ("The session's title"), N_ ("TITLE") },
    { "context", 'c', 0, G_OPTION_ARG_STRING, &context,
      N_ ("Data to keep with the session, a JSON object"), N_ ("JSON") },
    { "expire-after", 0, 0, G_OPTION_ARG_STRING, &expire_after,
      N_ ("Remove the session after this long unused, such as 7d; 0 keeps it"), N_ ("DURATION") },
    G_OPTION_ENTRY_NULL,
  };
  const CliUsage usage
      = { "sessions create",
          _ ("Create a session and print its id (or, with --json, the session)."), TRUE, 0, 0 };
  g_autoptr (GError) error = NULL;
  if (!cli_parse (cli, &usage, entries, &argc, &argv, &error))
    return cli_usage_error ("sessions create", error);
  g_autoptr (GVariant) options = create_options (title, context, expire_after);
  g_autoptr (sd_bus_message) call = NULL;
  if (!cli_new_call (cli, CLI_DAEMON_PATH, CLI_DAEMON_IFACE, "CreateSession", &call, &error))
    return cli_fail (_ ("Cannot create the session"), error);
  cli_message_append_options (call, options);
  g_autoptr (GVariant) reply = cli_call_message (cli, call, CLI_TIMEOUT_USEC, &error);
  if (reply == NULL)
    return cli_fail (_ ("Cannot create the session"), error);
  const char *path = NULL;
  g_variant_get (reply, "(&o)", &path);
  return show_path (cli, path, TRUE);
}

static CliExit
sessions_delete (Cli *cli, int argc, char **argv)
{
  const CliUsage usage
      = { "sessions delete ID", _ ("Delete a session with its documents and conversation."), FALSE,
          1, 1 };
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  if (!cli_parse (cli, &usage, NULL, &argc, &argv, &error)
      || !cli_session_path (cli, argv[1], &path, &error))
    return cli_usage_error ("sessions delete", error);
  g_autoptr (GVariant) reply
      = cli_call (cli, path, CLI_SESSION_IFACE, "Delete", CLI_TIMEOUT_USEC, &error, NULL);
  if (reply == NULL)
    return cli_fail (_ ("Cannot delete the session"), error);
  g_print (_ ("Session %s deleted\n"), cli_session_id_of (path));
  return CLI_EXIT_OK;
}

CliExit
cli_cmd_sessions (Cli *cli, int argc, char **argv)
{
  static const char *const names[] = { "list", "create", "show", "delete", NULL };
  static const CliCommand commands[]
      = { sessions_list, sessions_create, sessions_show, sessions_delete };
  g_autofree char *description = g_strdup_printf (
      "%s\n  list    %s\n  create  %s\n  show    %s\n  delete  %s\n\n%s",
      _ ("Usage: smartrag-cli sessions COMMAND [OPTION…]"), _ ("List your sessions"),
      _ ("Create a session: --title, --context, --expire-after"), _ ("Show a session"),
      _ ("Delete a session"), _ ("'smartrag-cli sessions COMMAND --help' shows its options."));
  return cli_subcommand (cli, argc, argv, "sessions", names, commands, description);
}
