/* smartrag-cli query: Ask, the answer printed as its Token signals arrive, then sources. */
#include "build-config.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "cli/answer.h"
#include "cli/cli.h"
#include "cli/loop.h"

typedef struct {
  Cli *cli;
  CliLoop *loop;
  char *path;
  char *owner;
  char *query_id;
  GString *answer;
  GVariant *sources;
  GVariant *stats;
  char *failure;
  char *failure_message;
} Query;

static void
query_clear (Query *query)
{
  g_free (query->path);
  g_free (query->owner);
  g_free (query->query_id);
  if (query->answer != NULL)
    g_string_free (query->answer, TRUE);
  g_clear_pointer (&query->sources, g_variant_unref);
  g_clear_pointer (&query->stats, g_variant_unref);
  g_free (query->failure);
  g_free (query->failure_message);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Query, query_clear)

static void
on_token (Query *query, GVariant *args)
{
  const char *text = NULL;
  g_variant_get (args, "(&s&s)", NULL, &text);
  g_string_append (query->answer, text);
  if (query->cli->json)
    return;
  fputs (text, stdout);
  fflush (stdout);
}

static void
on_end (Query *query, const char *member, GVariant *args)
{
  if (g_str_equal (member, "Finished")) {
    query->stats = g_variant_get_child_value (args, 1);
  } else {
    g_variant_get (args, "(&sss)", NULL, &query->failure, &query->failure_message);
  }
  cli_loop_quit (query->loop);
}

static int
on_signal (sd_bus_message *message, void *data, sd_bus_error *ret_error)
{
  Query *query = data;
  /* Signals of this query only, and from the daemon itself. */
  if (g_strcmp0 (sd_bus_message_get_sender (message), query->owner) != 0)
    return 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) args = cli_message_read_body (message, &error);
  if (args == NULL || g_variant_n_children (args) < 2)
    return 0;
  const char *query_id = NULL;
  g_variant_get_child (args, 0, "&s", &query_id);
  if (g_strcmp0 (query_id, query->query_id) != 0)
    return 0;
  const char *member = sd_bus_message_get_member (message);
  if (g_str_equal (member, "Token") && g_variant_is_of_type (args, G_VARIANT_TYPE ("(ss)")))
    on_token (query, args);
  else if (g_str_equal (member, "Sources") && query->sources == NULL)
    query->sources = g_variant_get_child_value (args, 1);
  else if ((g_str_equal (member, "Finished")
            && g_variant_is_of_type (args, G_VARIANT_TYPE ("(sa{sv})")))
           || (g_str_equal (member, "Failed")
               && g_variant_is_of_type (args, G_VARIANT_TYPE ("(sss)"))))
    on_end (query, member, args);
  return 0;
}

/* Ctrl-C: the daemon stops the answer and keeps what was said as incomplete. */
static void
on_interrupt (gpointer data)
{
  Query *query = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = cli_call (query->cli, query->path, CLI_QUERY_IFACE, "Cancel",
                                         CLI_TIMEOUT_USEC, &error, "s", query->query_id);
  /* NotFound: it ended meanwhile, and Finished is on its way. */
  if (reply == NULL && cli_exit_code (error) != CLI_EXIT_NOT_FOUND)
    cli_loop_fail (query->loop, g_steal_pointer (&error));
}

static GVariant *
ask_options (guint k, const char *backend, const char *model, gboolean no_history)
{
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  if (k > 0)
    g_variant_builder_add (&builder, "{sv}", "k", g_variant_new_uint32 (k));
  if (backend != NULL)
    g_variant_builder_add (&builder, "{sv}", "backend", g_variant_new_string (backend));
  if (model != NULL)
    g_variant_builder_add (&builder, "{sv}", "model", g_variant_new_string (model));
  if (no_history)
    g_variant_builder_add (&builder, "{sv}", "history", g_variant_new_boolean (FALSE));
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static gboolean
start (Query *query, const char *question, GVariant *options, GError **error)
{
  g_autoptr (sd_bus_message) call = NULL;
  if (!cli_new_call (query->cli, query->path, CLI_QUERY_IFACE, "Ask", &call, error))
    return FALSE;
  int r = sd_bus_message_append (call, "s", question);
  if (r >= 0)
    r = cli_message_append_options (call, options);
  if (r < 0) {
    cli_error_from_errno (query->cli, r, "Ask", error);
    return FALSE;
  }
  /* Signals that come while Ask is answered wait in sd-bus's queue until the loop runs. */
  g_autoptr (GVariant) reply = cli_call_message (query->cli, call, CLI_TIMEOUT_USEC, error);
  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(s)", &query->query_id);
  query->owner = cli_daemon_owner (query->cli, error);
  return query->owner != NULL;
}

static CliExit
run (Query *query, const char *question, GVariant *options)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CliLoop) loop = cli_loop_new (query->cli, &error);
  g_autoptr (sd_bus_slot) slot = NULL;
  if (loop == NULL)
    return cli_fail (_ ("Cannot ask the question"), error);
  query->loop = loop;
  int r = sd_bus_match_signal (query->cli->bus, &slot, NULL, query->path, CLI_QUERY_IFACE, NULL,
                               on_signal, query);
  if (r < 0) {
    cli_error_from_errno (query->cli, r, "Ask", &error);
    return cli_fail (_ ("Cannot ask the question"), error);
  }
  if (!start (query, question, options, &error))
    return cli_fail (_ ("Cannot ask the question"), error);
  cli_loop_on_interrupt (loop, on_interrupt, query);
  if (!cli_loop_run (loop, &error)) {
    if (!query->cli->json && query->answer->len > 0)
      g_print ("\n");
    return cli_fail (_ ("The answer stopped"), error);
  }
  CliAnswer answer = { query->query_id, query->answer->str, query->sources,
                       query->stats,    query->failure,     query->failure_message };
  return cli_answer_finish (query->cli, &answer, cli_loop_interrupted (loop));
}

CliExit
cli_cmd_query (Cli *cli, int argc, char **argv)
{
  g_autofree char *session = NULL, *backend = NULL, *model = NULL;
  int k = 0;
  gboolean no_history = FALSE;
  const GOptionEntry entries[] = {
    CLI_SESSION_OPTION (&session),
    { "sources", 'k', 0, G_OPTION_ARG_INT, &k, N_ ("How many sources to draw from (1 to 100)"),
      N_ ("N") },
    { "backend", 0, 0, G_OPTION_ARG_STRING, &backend,
      N_ ("Who answers: auto, builtin, or the configured server"), N_ ("NAME") },
    { "model", 0, 0, G_OPTION_ARG_STRING, &model, N_ ("The model server's model"), N_ ("MODEL") },
    { "no-history", 0, 0, G_OPTION_ARG_NONE, &no_history,
      N_ ("Leave the conversation so far out of the prompt"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  const CliUsage usage
      = { "query QUESTION", _ ("Ask a question about a session's documents; Ctrl-C cancels it."),
          TRUE, 1, 1 };
  g_autoptr (GError) error = NULL;
  if (!cli_parse (cli, &usage, entries, &argc, &argv, &error))
    return cli_usage_error ("query", error);
  if (k < 0) {
    g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         _ ("--sources takes a number from 1 to 100"));
    return cli_usage_error ("query", error);
  }
  g_auto (Query) query = { cli, NULL };
  query.answer = g_string_new (NULL);
  if (!cli_session_path (cli, session, &query.path, &error))
    return cli_fail (_ ("Cannot ask the question"), error);
  g_autoptr (GVariant) options = ask_options ((guint) k, backend, model, no_history);
  return run (&query, argv[1], options);
}
