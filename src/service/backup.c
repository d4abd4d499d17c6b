/* Backup: a consistent copy of the state, taken while the daemon serves. */
#include "build-config.h"

#include "service/backup.h"

#include <glib/gi18n.h>
#include <string.h>

#include "common/errors.h"
#include "store/backup.h"

typedef struct {
  SrService *service;
  SrBackupMemo *memo; /* the service's; no other backup runs meanwhile */
  char *state_dir;
  char *root;
  char *comment;
  guint keep;
  gint64 started;
  SrBackupResult result;
} Job;

static void
job_free (gpointer data)
{
  Job *job = data;
  g_free (job->state_dir);
  g_free (job->root);
  g_free (job->comment);
  sr_backup_result_clear (&job->result);
  sr_service_work_end_later (job->service);
  g_free (job);
}

gboolean
sr_backup_check_comment (const char *comment, GError **error)
{
  if (comment == NULL)
    return TRUE;
  if (!g_utf8_validate (comment, -1, NULL))
    return sr_invalid_args (error, _ ("Invalid comment: not valid UTF-8"));
  if (strlen (comment) > SR_BACKUP_MAX_COMMENT)
    return sr_invalid_args (error, _ ("Invalid comment: longer than %d bytes"),
                            SR_BACKUP_MAX_COMMENT);
  for (const char *p = comment; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return sr_invalid_args (error, _ ("Invalid comment: it holds a control character"));
  return TRUE;
}

static void
run (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Job *job = data;
  GError *error = NULL;
  SrBackupSpec spec = {
    .state_dir = job->state_dir,
    .root = job->root,
    .comment = job->comment,
    .daemon_version = PACKAGE_VERSION,
    .keep = job->keep,
    .now = g_get_real_time (),
  };
  gboolean ok = sr_store_backup (job->memo, &spec, &job->result, &error);
  sr_service_thread_end (job->service);
  if (!ok)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) outer = user_data;
  GTask *inner = G_TASK (result);
  Job *job = g_task_get_task_data (inner);
  GError *error = NULL;
  /* First: the files the snapshot named may go now. */
  sr_service_maintenance_end (job->service);
  if (!g_task_propagate_boolean (inner, &error)) {
    g_warning ("Backup into %s failed: %s", job->root, error->message);
    g_task_return_error (outer, error);
    return;
  }
  const SrBackupResult *r = &job->result;
  g_info ("Backup %s written in %.1f s: %" G_GUINT64_FORMAT " file(s) copied (%" G_GUINT64_FORMAT
          " bytes), %" G_GUINT64_FORMAT " linked to the previous backup, %u old backup(s) removed",
          r->path, (double) (g_get_monotonic_time () - job->started) / G_USEC_PER_SEC, r->copied,
          r->bytes_copied, r->linked, r->pruned);
  g_task_return_pointer (outer, g_strdup (r->path), g_free);
}

void
sr_backup_async (SrService *service, const SrCaller *caller, const char *comment,
                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) outer = g_task_new (NULL, NULL, callback, user_data);
  GError *error = NULL;
  guint keep = 0;
  const char *root = sr_service_backup_dir (service, &keep);
  if (!sr_service_check_admin (
          caller, _ ("Making a backup needs the org.smartrag.admin authorization"), &error)
      || !sr_backup_check_comment (comment, &error)
      || !sr_service_maintenance_begin (service, SR_MAINTENANCE_BACKUP, &error)) {
    g_task_return_error (outer, error);
    return;
  }
  Job *job = g_new0 (Job, 1);
  job->service = service;
  job->memo = sr_service_backup_memo (service);
  job->state_dir = g_strdup (sr_service_state_dir (service));
  job->root = g_strdup (root);
  job->comment = g_strdup (comment);
  job->keep = keep;
  job->started = g_get_monotonic_time ();
  g_info ("Backup into %s started by %s", root, caller->peer);
  /* Counted as work of its own, so that the service waits for the thread's data too. */
  sr_service_work_begin (service);
  sr_service_thread_begin (service);
  g_autoptr (GTask) inner = g_task_new (NULL, NULL, done, g_steal_pointer (&outer));
  g_task_set_task_data (inner, job, job_free);
  g_task_run_in_thread (inner, run);
}

char *
sr_backup_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
