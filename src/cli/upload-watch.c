/* Following added documents through their DocumentChanged signals until each is final. */
#include "build-config.h"

#include <glib/gi18n.h>
#include <unistd.h>

#include "cli/loop.h"
#include "cli/upload.h"

struct _CliWatch {
  Cli *cli;
  CliLoop *loop;
  sd_bus_slot *slot;
  char *owner;
  GPtrArray *uploads; /* of CliUpload, borrowed */
  gboolean bar;
};

void
cli_upload_free (CliUpload *upload)
{
  g_free (upload->file);
  g_free (upload->id);
  g_free (upload->state);
  g_free (upload->message);
  g_free (upload);
}

gboolean
cli_upload_is_final (const CliUpload *upload)
{
  return g_strcmp0 (upload->state, "ready") == 0 || g_strcmp0 (upload->state, "failed") == 0;
}

static gboolean
all_final (const CliWatch *watch)
{
  for (guint i = 0; i < watch->uploads->len; i++) {
    if (!cli_upload_is_final (watch->uploads->pdata[i]))
      return FALSE;
  }
  return TRUE;
}

static void
print_final (const CliWatch *watch, const CliUpload *upload)
{
  if (watch->cli->json)
    return;
  if (watch->bar)
    cli_progress_clear ();
  const char *reset = cli_style (watch->cli, CLI_STYLE_RESET);
  g_print ("%s%-7s%s %s  %s", cli_state_style (watch->cli, upload->state), upload->state, reset,
           upload->id, upload->file);
  if (*upload->message != '\0')
    g_print (": %s", upload->message);
  g_print ("\n");
}

static void
update (CliWatch *watch, CliUpload *upload, const char *state, double progress, const char *message)
{
  if (cli_upload_is_final (upload))
    return;
  g_free (upload->state);
  upload->state = g_strdup (state);
  upload->progress = progress;
  g_free (upload->message);
  upload->message = g_strdup (message);
  if (cli_upload_is_final (upload))
    print_final (watch, upload);
  if (all_final (watch)) {
    if (watch->bar)
      cli_progress_clear ();
    cli_loop_quit (watch->loop);
  } else if (watch->bar) {
    cli_progress_draw (watch->uploads);
  }
}

static int
on_changed (sd_bus_message *message, void *data, sd_bus_error *ret_error)
{
  CliWatch *watch = data;
  const char *id = NULL, *state = NULL, *text = NULL;
  double progress = 0;
  if (watch->owner == NULL || g_strcmp0 (sd_bus_message_get_sender (message), watch->owner) != 0)
    return 0;
  if (sd_bus_message_read (message, "ssds", &id, &state, &progress, &text) < 0)
    return 0;
  for (guint i = 0; i < watch->uploads->len; i++) {
    CliUpload *upload = watch->uploads->pdata[i];
    if (g_strcmp0 (upload->id, id) == 0)
      update (watch, upload, state, progress, text);
  }
  return 0;
}

/* Call before the files are added: their signals go to this connection from the start. */
CliWatch *
cli_watch_new (Cli *cli, const char *session_path, GError **error)
{
  g_autoptr (CliWatch) watch = g_new0 (CliWatch, 1);
  watch->cli = cli;
  watch->uploads = g_ptr_array_new ();
  watch->bar = !cli->json && isatty (STDERR_FILENO);
  if (!cli_connect (cli, error))
    return NULL;
  int r = sd_bus_match_signal (cli->bus, &watch->slot, NULL, session_path, CLI_DOCUMENT_IFACE,
                               "DocumentChanged", on_changed, watch);
  if (r < 0) {
    cli_error_from_errno (cli, r, "DocumentChanged", error);
    return NULL;
  }
  return g_steal_pointer (&watch);
}

void
cli_watch_add (CliWatch *watch, CliUpload *upload)
{
  g_ptr_array_add (watch->uploads, upload);
}

gboolean
cli_watch_run (CliWatch *watch, GError **error)
{
  if (all_final (watch))
    return TRUE;
  /* Ctrl-C stops the program until here; from now on it stops the waiting. */
  watch->loop = cli_loop_new (watch->cli, error);
  if (watch->loop == NULL)
    return FALSE;
  watch->owner = cli_daemon_owner (watch->cli, error);
  if (watch->owner == NULL)
    return FALSE;
  if (watch->bar)
    cli_progress_draw (watch->uploads);
  gboolean done = cli_loop_run (watch->loop, error);
  if (!done && watch->bar)
    cli_progress_clear ();
  return done;
}

void
cli_watch_free (CliWatch *watch)
{
  sd_bus_slot_unref (watch->slot);
  g_clear_pointer (&watch->loop, cli_loop_free);
  g_ptr_array_unref (watch->uploads);
  g_free (watch->owner);
  g_free (watch);
}
