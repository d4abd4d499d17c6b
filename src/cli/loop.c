/* The event loop of commands that follow signals: Ctrl-C, and the daemon going away. */
#include "build-config.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <signal.h>

#include "cli/loop.h"

struct _CliLoop {
  Cli *cli;
  sd_event *event;
  sd_event_source *interrupt_source;
  sd_bus_slot *owner_slot;
  CliInterrupt on_interrupt;
  gpointer data;
  guint interrupts;
  GError *error;
};

static int
on_interrupt (sd_event_source *source, const struct signalfd_siginfo *info, void *data)
{
  CliLoop *loop = data;
  /* The first Ctrl-C asks the command to stop cleanly; the next one stops at once. */
  if (loop->interrupts++ == 0 && loop->on_interrupt != NULL) {
    loop->on_interrupt (loop->data);
    return 0;
  }
  g_clear_error (&loop->error);
  g_set_error_literal (&loop->error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _ ("Interrupted"));
  sd_event_exit (loop->event, CLI_EXIT_INTERRUPTED);
  return 0;
}

static int
on_owner_changed (sd_bus_message *message, void *data, sd_bus_error *ret_error)
{
  CliLoop *loop = data;
  const char *name = NULL, *old_owner = NULL, *new_owner = NULL;
  if (sd_bus_message_read (message, "sss", &name, &old_owner, &new_owner) < 0)
    return 0;
  if (g_strcmp0 (name, CLI_BUS_NAME) != 0 || *old_owner == '\0')
    return 0;
  cli_loop_fail (loop, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                                            _ ("SmartRAG stopped before it was done; "
                                               "'smartrag-cli status' shows whether it runs "
                                               "again")));
  return 0;
}

CliLoop *
cli_loop_new (Cli *cli, GError **error)
{
  g_autoptr (CliLoop) loop = g_new0 (CliLoop, 1);
  loop->cli = cli;
  if (!cli_connect (cli, error))
    return NULL;
  sigset_t mask;
  sigemptyset (&mask);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGTERM);
  int r = sigprocmask (SIG_BLOCK, &mask, NULL) < 0 ? -errno : 0;
  if (r >= 0)
    r = sd_event_new (&loop->event);
  if (r >= 0)
    r = sd_event_add_signal (loop->event, &loop->interrupt_source, SIGINT, on_interrupt, loop);
  if (r >= 0)
    r = sd_event_add_signal (loop->event, NULL, SIGTERM, on_interrupt, loop);
  if (r >= 0)
    r = sd_bus_attach_event (cli->bus, loop->event, SD_EVENT_PRIORITY_NORMAL);
  if (r >= 0)
    r = sd_bus_match_signal (cli->bus, &loop->owner_slot, "org.freedesktop.DBus",
                             "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                             on_owner_changed, loop);
  if (r < 0) {
    cli_error_from_errno (cli, r, "NameOwnerChanged", error);
    return NULL;
  }
  return g_steal_pointer (&loop);
}

void
cli_loop_on_interrupt (CliLoop *loop, CliInterrupt callback, gpointer data)
{
  loop->on_interrupt = callback;
  loop->data = data;
}

/* Runs until cli_loop_quit() or cli_loop_fail(); FALSE with @error after a failure. */
gboolean
cli_loop_run (CliLoop *loop, GError **error)
{
  int r = sd_event_loop (loop->event);
  if (loop->error != NULL) {
    g_propagate_error (error, g_steal_pointer (&loop->error));
    return FALSE;
  }
  if (r < 0) {
    cli_error_from_errno (loop->cli, r, "sd_event_loop", error);
    return FALSE;
  }
  return TRUE;
}

void
cli_loop_quit (CliLoop *loop)
{
  sd_event_exit (loop->event, 0);
}

/* Ends the loop with @error (taken), unless it already ended with one. */
void
cli_loop_fail (CliLoop *loop, GError *error)
{
  if (loop->error == NULL)
    loop->error = error;
  else
    g_error_free (error);
  sd_event_exit (loop->event, 1);
}

gboolean
cli_loop_interrupted (const CliLoop *loop)
{
  return loop->interrupts > 0;
}

void
cli_loop_free (CliLoop *loop)
{
  if (loop->cli->bus != NULL && loop->event != NULL)
    sd_bus_detach_event (loop->cli->bus);
  sd_bus_slot_unref (loop->owner_slot);
  sd_event_source_unref (loop->interrupt_source);
  sd_event_unref (loop->event);
  g_clear_error (&loop->error);
  g_free (loop);
}
