/* Optimize: the planner's statistics renewed, full-text indexes merged, VACUUM when it pays. */
#include "service/optimize.h"

#include <glib/gi18n.h>

#include "common/errors.h"
#include "store/optimize.h"

typedef struct {
  SrService *service;
  GTask *task; /* the caller's */
  gint64 started;
  SrStorePages before;
  SrStorePages after;
  guint64 chunks;
  guint64 messages;
  guint merge_steps;
  gboolean vacuuming; /* the thread's phase: VACUUM, or the rest */
  gboolean vacuumed;
  guint timeout;
} Optimize;

static void
optimize_free (Optimize *optimize)
{
  g_clear_object (&optimize->task);
  g_free (optimize);
}

static GVariant *
report (const Optimize *o)
{
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "bytes_before",
                         g_variant_new_uint64 (o->before.pages * o->before.page_size));
  g_variant_builder_add (&b, "{sv}", "bytes_after",
                         g_variant_new_uint64 (o->after.pages * o->after.page_size));
  g_variant_builder_add (&b, "{sv}", "free_pages_before",
                         g_variant_new_uint64 (o->before.free_pages));
  g_variant_builder_add (&b, "{sv}", "free_pages_after",
                         g_variant_new_uint64 (o->after.free_pages));
  g_variant_builder_add (&b, "{sv}", "page_size",
                         g_variant_new_uint32 ((guint32) o->after.page_size));
  g_variant_builder_add (&b, "{sv}", "chunks", g_variant_new_uint64 (o->chunks));
  g_variant_builder_add (&b, "{sv}", "messages", g_variant_new_uint64 (o->messages));
  g_variant_builder_add (&b, "{sv}", "analyzed", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&b, "{sv}", "fts_merge_steps", g_variant_new_uint32 (o->merge_steps));
  g_variant_builder_add (&b, "{sv}", "vacuumed", g_variant_new_boolean (o->vacuumed));
  g_variant_builder_add (&b, "{sv}", "index_compacted", g_variant_new_boolean (FALSE));
  g_variant_builder_add (
      &b, "{sv}", "seconds",
      g_variant_new_double ((double) (g_get_monotonic_time () - o->started) / G_USEC_PER_SEC));
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

static void
finish (Optimize *o, GError *error)
{
  sr_service_maintenance_end (o->service);
  if (error != NULL) {
    g_warning ("Optimizing the database failed: %s", error->message);
    g_task_return_error (o->task, error);
  } else {
    g_info ("Optimized the database in %.1f s: %" G_GUINT64_FORMAT
            " bytes before, %" G_GUINT64_FORMAT " after; %u full-text merge step(s); VACUUM %s",
            (double) (g_get_monotonic_time () - o->started) / G_USEC_PER_SEC,
            o->before.pages * o->before.page_size, o->after.pages * o->after.page_size,
            o->merge_steps, o->vacuumed ? "ran" : "not needed");
    g_task_return_pointer (o->task, report (o), (GDestroyNotify) g_variant_unref);
  }
  optimize_free (o);
}

static gboolean
merge (SrStore *db, const char *table, guint *steps, GError **error)
{
  gboolean done = FALSE;
  while (!done) {
    if (!sr_store_fts_merge_step (db, table, &done, error))
      return FALSE;
    (*steps)++;
  }
  return TRUE;
}

static gboolean
tidy (Optimize *o, SrStore *db, GError **error)
{
  return sr_store_pages (db, &o->before, error)
         && sr_store_count_rows (db, "chunks", &o->chunks, error)
         && sr_store_count_rows (db, "messages", &o->messages, error)
         && sr_store_analyze (db, error) && merge (db, "chunks_fts", &o->merge_steps, error)
         && merge (db, "messages_fts", &o->merge_steps, error)
         && sr_store_pages (db, &o->after, error);
}

/* Runs on a thread: phase 1 tidies while the daemon serves, phase 2 is VACUUM. */
static void
work_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Optimize *o = data;
  GError *error = NULL;
  gboolean vacuum = o->vacuuming;
  g_autoptr (SrStoreLease) db = sr_store_acquire (sr_service_store (o->service), &error);
  gboolean ok = db != NULL
                && (vacuum ? sr_store_vacuum (db, &error) && sr_store_pages (db, &o->after, &error)
                           : tidy (o, db, &error));
  g_clear_pointer (&db, sr_store_release);
  sr_service_thread_end (o->service);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
run_phase (Optimize *o, gboolean vacuum, GAsyncReadyCallback callback)
{
  sr_service_thread_begin (o->service);
  o->vacuuming = vacuum;
  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, o);
  g_task_set_task_data (task, o, NULL);
  g_task_run_in_thread (task, work_thread);
}

static void
vacuumed (GObject *source, GAsyncResult *result, gpointer data)
{
  Optimize *o = data;
  GError *error = NULL;
  o->vacuumed = g_task_propagate_boolean (G_TASK (result), &error);
  finish (o, error);
}

static gboolean
on_quiet (gpointer data)
{
  Optimize *o = data;
  g_clear_handle_id (&o->timeout, g_source_remove);
  run_phase (o, TRUE, vacuumed);
  return G_SOURCE_REMOVE;
}

static gboolean
on_timeout (gpointer data)
{
  Optimize *o = data;
  o->timeout = 0;
  /* The quiet moment came just now: its idle is on the way. */
  if (sr_service_work_in_flight (o->service) <= 1)
    return G_SOURCE_REMOVE;
  /* The rest is done; VACUUM waits for a quieter moment, and the report says so. */
  g_info ("VACUUM skipped: work in flight did not end within %d s", SR_SERVICE_QUIET_TIMEOUT_S);
  finish (o, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
worth_vacuum (const SrStorePages *pages)
{
  return pages->free_pages >= SR_OPTIMIZE_VACUUM_MIN_PAGES
         && (double) pages->free_pages >= SR_OPTIMIZE_VACUUM_FREE_SHARE * (double) pages->pages;
}

static void
tidied (GObject *source, GAsyncResult *result, gpointer data)
{
  Optimize *o = data;
  GError *error = NULL;
  if (!g_task_propagate_boolean (G_TASK (result), &error) || !worth_vacuum (&o->after)) {
    finish (o, error);
    return;
  }
  o->timeout = g_timeout_add_seconds (SR_SERVICE_QUIET_TIMEOUT_S, on_timeout, o);
  sr_service_pause (o->service,
                    _ ("The database is being compacted (VACUUM); SmartRAG takes no requests "
                       "until it is done; try again in a moment"),
                    FALSE, on_quiet, o);
}

void
sr_optimize_async (SrService *service, const SrCaller *caller, GAsyncReadyCallback callback,
                   gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, user_data);
  GError *error = NULL;
  if (!sr_service_check_admin (
          caller, _ ("Optimizing the database needs the org.smartrag.admin authorization"), &error)
      || !sr_service_maintenance_begin (service, SR_MAINTENANCE_OPTIMIZE, &error)) {
    g_task_return_error (task, error);
    return;
  }
  Optimize *o = g_new0 (Optimize, 1);
  o->service = service;
  o->task = g_steal_pointer (&task);
  o->started = g_get_monotonic_time ();
  g_info ("Optimizing the database, asked by %s", caller->peer);
  run_phase (o, FALSE, tidied);
}

GVariant *
sr_optimize_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
