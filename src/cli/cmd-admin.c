/* smartrag-cli backup, restore and optimize: the daemon's administrative methods. */
#include "build-config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cli/cli.h"

CliExit
cli_cmd_backup (Cli *cli, int argc, char **argv)
{
  g_autofree char *comment = NULL;
  const GOptionEntry entries[] = {
    { "comment", 'm', 0, G_OPTION_ARG_STRING, &comment,
      N_ ("A note kept in the backup's manifest, such as why it was made"), N_ ("TEXT") },
    G_OPTION_ENTRY_NULL,
  };
  const CliUsage usage
      = { "backup", _ ("Back up the daemon's state and print where the backup is."), TRUE, 0, 0 };
  g_autoptr (GError) error = NULL;
  if (!cli_parse (cli, &usage, entries, &argc, &argv, &error))
    return cli_usage_error ("backup", error);
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  if (comment != NULL)
    g_variant_builder_add (&builder, "{sv}", "comment", g_variant_new_string (comment));
  g_autoptr (GVariant) options = g_variant_ref_sink (g_variant_builder_end (&builder));
  g_autoptr (sd_bus_message) call = NULL;
  if (!cli_new_call (cli, CLI_DAEMON_PATH, CLI_DAEMON_IFACE, "Backup", &call, &error))
    return cli_fail (_ ("Cannot back up"), error);
  cli_message_append_options (call, options);
  g_autoptr (GVariant) reply = cli_call_message (cli, call, CLI_TIMEOUT_LONG_USEC, &error);
  if (reply == NULL)
    return cli_fail (_ ("Cannot back up"), error);
  const char *path = NULL;
  g_variant_get (reply, "(&s)", &path);
  if (cli->json) {
    g_autoptr (JsonObject) object = json_object_new ();
    json_object_set_string_member (object, "path", path);
    g_autoptr (JsonNode) root = json_node_init_object (json_node_alloc (), object);
    cli_print_json (root);
  } else {
    g_print ("%s\n", path);
  }
  return CLI_EXIT_OK;
}

CliExit
cli_cmd_restore (Cli *cli, int argc, char **argv)
{
  const CliUsage usage = { "restore DIRECTORY",
                           _ ("Restore the daemon's state from a backup: the path "
                              "'smartrag-cli backup' printed, or a backup's name such as "
                              "'latest'."),
                           FALSE, 1, 1 };
  g_autoptr (GError) error = NULL;
  if (!cli_parse (cli, &usage, NULL, &argc, &argv, &error))
    return cli_usage_error ("restore", error);
  /* The daemon runs elsewhere: a relative path means nothing to it. A bare name ("latest",
   * a backup's time) names a backup in the daemon's backup directory. */
  g_autofree char *absolute = strchr (argv[1], '/') == NULL
                                  ? g_strdup (argv[1])
                                  : g_canonicalize_filename (argv[1], NULL);
  g_autoptr (GVariant) reply = cli_call (cli, CLI_DAEMON_PATH, CLI_DAEMON_IFACE, "Restore",
                                         CLI_TIMEOUT_LONG_USEC, &error, "s", absolute);
  if (reply == NULL)
    return cli_fail (_ ("Cannot restore"), error);
  g_print (_ ("Restored from %s\n"), absolute);
  return CLI_EXIT_OK;
}

CliExit
cli_cmd_optimize (Cli *cli, int argc, char **argv)
{
  const CliUsage usage = { "optimize",
                           _ ("Refresh the database's statistics, merge its full-text indexes, "
                              "compact it when worth it, and print what that gave back."),
                           TRUE, 0, 0 };
  g_autoptr (GError) error = NULL;
  if (!cli_parse (cli, &usage, NULL, &argc, &argv, &error))
    return cli_usage_error ("optimize", error);
  g_autoptr (GVariant) reply = cli_call (cli, CLI_DAEMON_PATH, CLI_DAEMON_IFACE, "Optimize",
                                         CLI_TIMEOUT_LONG_USEC, &error, NULL);
  if (reply == NULL)
    return cli_fail (_ ("Cannot optimize"), error);
  g_autoptr (GVariant) report = g_variant_get_child_value (reply, 0);
  if (cli->json) {
    g_autoptr (JsonNode) root = cli_json_from_variant (report);
    cli_print_json (root);
    return CLI_EXIT_OK;
  }
  GVariantIter iter;
  const char *key;
  GVariant *value;
  g_variant_iter_init (&iter, report);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value)) {
    g_autofree char *text = g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
                                ? g_variant_dup_string (value, NULL)
                                : g_variant_print (value, FALSE);
    g_print ("%-24s %s\n", key, text);
  }
  return CLI_EXIT_OK;
}
