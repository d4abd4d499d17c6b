/* org.smartrag.Daemon's administration methods: Backup, Restore and Optimize. */
#include "bus/bus-private.h"

#include "bus/options.h"
#include "service/backup.h"
#include "service/optimize.h"
#include "service/restore.h"

static void
on_backup_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (sd_bus_message) m = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = sr_backup_finish (result, &error);
  if (path == NULL)
    sr_bus_reply_error (m, error);
  else
    sd_bus_reply_method_return (m, "s", path);
}

static void
backup_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller, const GError *denied,
                   gpointer data)
{
  if (denied != NULL) {
    sr_bus_reply_error (m, denied);
    return;
  }
  sr_backup_async (bus->service, caller, data, on_backup_done, sd_bus_message_ref (m));
}

int
sr_bus_method_backup (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  g_autoptr (GError) local = NULL;
  char *comment = NULL;
  /* No directory: the daemon writes only where its configuration says (a caller naming
   * the place would make it write anywhere its own rights allow). */
  const SrOptionSpec specs[] = {
    { "comment", SR_OPTION_STRING, &comment },
  };
  int r = sr_bus_read_options (m, "Backup", specs, G_N_ELEMENTS (specs), error);
  if (r >= 0 && !sr_backup_check_comment (comment, &local))
    r = sr_bus_set_error (error, local);
  if (r < 0) {
    g_free (comment);
    return r;
  }
  return sr_bus_authorize (userdata, m, SR_GRANT_ADMIN, backup_authorized, comment, g_free, error);
}

static void
on_restore_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (sd_bus_message) m = data;
  g_autoptr (GError) error = NULL;
  if (!sr_restore_finish (result, &error))
    sr_bus_reply_error (m, error);
  else
    sd_bus_reply_method_return (m, "");
}

static void
restore_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller, const GError *denied,
                    gpointer data)
{
  if (denied != NULL) {
    sr_bus_reply_error (m, denied);
    return;
  }
  sr_restore_async (bus->service, caller, data, on_restore_done, sd_bus_message_ref (m));
}

int
sr_bus_method_restore (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  const char *path;
  int r = sd_bus_message_read (m, "s", &path);
  if (r < 0)
    return r;
  return sr_bus_authorize (userdata, m, SR_GRANT_ADMIN, restore_authorized, g_strdup (path), g_free,
                           error);
}

static void
on_optimize_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (sd_bus_message) m = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) report = sr_optimize_finish (result, &error);
  if (report == NULL) {
    sr_bus_reply_error (m, error);
    return;
  }
  g_autoptr (sd_bus_message) reply = NULL;
  int r = sd_bus_message_new_method_return (m, &reply);
  if (r >= 0)
    r = sr_bus_append_variant (reply, report);
  if (r >= 0)
    r = sd_bus_send (NULL, reply, NULL);
  if (r < 0)
    sd_bus_reply_method_errno (m, r, NULL);
}

static void
optimize_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller, const GError *denied,
                     gpointer data)
{
  if (denied != NULL) {
    sr_bus_reply_error (m, denied);
    return;
  }
  sr_optimize_async (bus->service, caller, on_optimize_done, sd_bus_message_ref (m));
}

int
sr_bus_method_optimize (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return sr_bus_authorize (userdata, m, SR_GRANT_ADMIN, optimize_authorized, NULL, NULL, error);
}
