/* Restore: the daemon's state replaced by a verified backup, without a restart. */
#include "service/restore.h"

#include <glib/gi18n.h>

#include "common/errors.h"
#include "store/backups.h"
#include "store/restore.h"
#include "store/swap.h"

typedef struct {
  SrService *service;
  GTask *task; /* the caller's */
  char *backup;
  char *state_dir;
  SrRestoreStaged staged;
  guint timeout;
  gint64 started;
} Restore;

static void
restore_free (Restore *restore)
{
  g_clear_object (&restore->task);
  g_free (restore->backup);
  g_free (restore->state_dir);
  g_free (restore);
}

static void
discard_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Restore *restore = data;
  g_autoptr (GError) error = NULL;
  if (!sr_swap_discard (restore->state_dir, &error))
    g_warning ("Cannot remove what the restore left: %s", error->message);
  sr_service_thread_end (restore->service);
}

/* The last step: the staged copy or the state moved aside can be large, so they go on a
 * thread; the service waits for it before it is freed. */
static void
finish (Restore *restore, GError *error)
{
  sr_service_maintenance_end (restore->service);
  if (error != NULL)
    g_task_return_error (restore->task, error);
  else
    g_task_return_boolean (restore->task, TRUE);
  g_clear_object (&restore->task);
  sr_service_thread_begin (restore->service);
  g_autoptr (GTask) discard = g_task_new (NULL, NULL, NULL, NULL);
  g_task_set_task_data (discard, restore, (GDestroyNotify) restore_free);
  g_task_run_in_thread (discard, discard_thread);
}

/* Opens the state that is in place now; FALSE leaves the service without a database. */
static gboolean
reopen (Restore *restore, GError **error)
{
  SrStore *store = sr_store_open (restore->state_dir, error);
  if (store == NULL)
    return FALSE;
  sr_service_set_store (restore->service, store);
  return TRUE;
}

static gboolean
swap_in (Restore *restore, GError **error)
{
  if (sr_swap_commit (restore->state_dir, error) && reopen (restore, error))
    return TRUE;
  g_warning ("The restored state could not be put in place (%s); going back to the state "
             "before it",
             (*error)->message);
  g_autoptr (GError) local = NULL;
  if (sr_swap_undo (restore->state_dir, &local) && reopen (restore, &local))
    return FALSE;
  /* Nothing can be served; the next start finishes or undoes the swap from its marker. */
  g_error ("Cannot reopen the state in %s after a failed restore: %s", restore->state_dir,
           local->message);
}

static gboolean
on_quiet (gpointer data)
{
  Restore *restore = data;
  GError *error = NULL;
  SrService *service = restore->service;
  g_clear_handle_id (&restore->timeout, g_source_remove);
  sr_service_stop_document_work (service);
  sr_store_close (sr_service_steal_store (service));
  gboolean ok = swap_in (restore, &error);
  sr_service_start_document_work (service);
  if (ok)
    g_info ("Restored the backup %s (schema version %d, %" G_GUINT64_FORMAT " files, %.1f s); "
            "serving it now",
            restore->backup, restore->staged.schema_version, restore->staged.files,
            (double) (g_get_monotonic_time () - restore->started) / G_USEC_PER_SEC);
  finish (restore, error);
  return G_SOURCE_REMOVE;
}

static gboolean
on_timeout (gpointer data)
{
  Restore *restore = data;
  restore->timeout = 0;
  /* The quiet moment came just now: its idle is on the way. */
  if (sr_service_work_in_flight (restore->service) <= 1)
    return G_SOURCE_REMOVE;
  g_warning ("Restore of %s given up: work in flight did not end within %d s", restore->backup,
             SR_SERVICE_QUIET_TIMEOUT_S);
  sr_service_resume (restore->service);
  finish (restore, g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_BUSY,
                                _ ("Could not restore %s: work in flight did not end within %d s. "
                                   "Nothing was changed; try again when SmartRAG is less busy"),
                                restore->backup, SR_SERVICE_QUIET_TIMEOUT_S));
  return G_SOURCE_REMOVE;
}

static void
stage_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Restore *restore = data;
  GError *error = NULL;
  if (sr_store_restore_stage (restore->backup, restore->state_dir, sr_store_latest_version (),
                              &restore->staged, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
  sr_service_thread_end (restore->service);
}

static void
staged (GObject *source, GAsyncResult *result, gpointer data)
{
  Restore *restore = data;
  GError *error = NULL;
  if (!g_task_propagate_boolean (G_TASK (result), &error)) {
    g_warning ("Restore of %s refused: %s", restore->backup, error->message);
    finish (restore, error);
    return;
  }
  g_info ("The backup %s is checked and staged; waiting for work in flight to end",
          restore->backup);
  restore->timeout = g_timeout_add_seconds (SR_SERVICE_QUIET_TIMEOUT_S, on_timeout, restore);
  sr_service_pause (restore->service,
                    _ ("A backup is being restored; SmartRAG takes no requests until it is "
                       "done, which takes moments; try again then"),
                    TRUE, on_quiet, restore);
}

void
sr_restore_async (SrService *service, const SrCaller *caller, const char *path,
                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, user_data);
  GError *error = NULL;
  guint keep;
  const char *root = sr_service_backup_dir (service, &keep);
  g_autofree char *backup = NULL;
  if (!sr_service_check_admin (
          caller, _ ("Restoring a backup needs the org.smartrag.admin authorization"), &error)
      || (backup = sr_backups_resolve (root, path, &error)) == NULL
      || !sr_service_maintenance_begin (service, SR_MAINTENANCE_RESTORE, &error)) {
    g_task_return_error (task, error);
    return;
  }
  Restore *restore = g_new0 (Restore, 1);
  restore->service = service;
  restore->task = g_steal_pointer (&task);
  restore->backup = g_steal_pointer (&backup);
  restore->state_dir = g_strdup (sr_service_state_dir (service));
  restore->started = g_get_monotonic_time ();
  g_info ("Restore of %s started by %s", restore->backup, caller->peer);
  sr_service_thread_begin (service);
  g_autoptr (GTask) stage = g_task_new (NULL, NULL, staged, restore);
  g_task_set_task_data (stage, restore, NULL);
  g_task_run_in_thread (stage, stage_thread);
}

gboolean
sr_restore_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
