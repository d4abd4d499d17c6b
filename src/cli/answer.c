/* How an answer ends up printed: the text's sources, or one JSON object; its exit code. */
#include "build-config.h"

#include <errno.h>
#include <glib/gi18n.h>

#include "cli/answer.h"

/* Numbered as the answer cites them: [1] file, page 3 — Heading > Subheading. */
void
cli_print_sources (const Cli *cli, GVariant *sources)
{
  if (sources == NULL || g_variant_n_children (sources) == 0)
    return;
  const char *bold = cli_style (cli, CLI_STYLE_BOLD), *dim = cli_style (cli, CLI_STYLE_DIM);
  const char *reset = cli_style (cli, CLI_STYLE_RESET);
  g_print ("\n%s%s%s\n", bold, _ ("Sources:"), reset);
  for (gsize i = 0; i < g_variant_n_children (sources); i++) {
    g_autoptr (GVariant) source = g_variant_get_child_value (sources, i);
    g_autoptr (GString) line = g_string_new (cli_lookup_string (source, "filename"));
    guint64 page = cli_lookup_uint (source, "page");
    if (page > 0)
      g_string_append_printf (line, _ (", page %u"), (guint) page);
    const char *heading = cli_lookup_string (source, "heading");
    if (*heading != '\0')
      g_string_append_printf (line, " %s— %s%s", dim, heading, reset);
    g_print ("  %s[%" G_GSIZE_FORMAT "]%s %s\n", bold, i + 1, reset, line->str);
  }
}

static void
print_json (const CliAnswer *answer)
{
  g_autoptr (JsonObject) object = json_object_new ();
  json_object_set_string_member (object, "query_id", answer->query_id);
  json_object_set_string_member (object, "answer", answer->text);
  if (answer->sources != NULL)
    json_object_set_member (object, "sources", cli_json_from_variant (answer->sources));
  else
    json_object_set_array_member (object, "sources", json_array_new ());
  if (answer->stats != NULL)
    json_object_set_member (object, "stats", cli_json_from_variant (answer->stats));
  if (answer->failure != NULL) {
    json_object_set_string_member (object, "error", answer->failure);
    json_object_set_string_member (object, "message", answer->failure_message);
  }
  g_autoptr (JsonNode) root = json_node_init_object (json_node_alloc (), object);
  cli_print_json (root);
}

CliExit
cli_answer_finish (Cli *cli, const CliAnswer *answer, gboolean interrupted)
{
  if (cli->json)
    print_json (answer);
  else if (*answer->text != '\0')
    g_print ("\n");
  if (answer->failure == NULL) {
    if (!cli->json)
      cli_print_sources (cli, answer->sources);
    return CLI_EXIT_OK;
  }
  sd_bus_error failure = SD_BUS_ERROR_MAKE_CONST (answer->failure, answer->failure_message);
  g_autoptr (GError) error = NULL;
  cli_error_from_bus (cli, -EIO, &failure, NULL, "Ask", &error);
  if (interrupted && cli_exit_code (error) == CLI_EXIT_INTERRUPTED) {
    g_printerr ("smartrag-cli: %s\n", _ ("Cancelled; the answer so far is kept in the session's "
                                         "history as incomplete"));
    return CLI_EXIT_INTERRUPTED;
  }
  return cli_fail (_ ("The answer stopped"), error);
}
