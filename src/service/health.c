/* Health of the parts the daemon depends on, for GetHealth and /health. */
#include "service/health.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <inttypes.h>
#include <sys/statvfs.h>

#include "common/errors.h"
#include "common/memory.h"
#include "service/embedding.h"
#include "service/indexes.h"
#include "service/queries.h"
#include "service/ingestion.h"
#include "store/store.h"

const char *
sr_health_status_name (SrHealthStatus status)
{
  switch (status) {
  case SR_HEALTH_OK:
    return "ok";
  case SR_HEALTH_DEGRADED:
    return "degraded";
  case SR_HEALTH_FAILING:
    return "failing";
  }
  return "failing";
}

static void
add_status (GVariantDict *dict, SrHealthStatus status, const char *message)
{
  g_variant_dict_insert (dict, "status", "s", sr_health_status_name (status));
  g_variant_dict_insert (dict, "message", "s", message);
}

static SrHealthStatus
check_db (SrService *service, GVariantDict *dict)
{
  SrStore *store = sr_service_store (service);
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  gboolean ok = sr_store_check_writable (store, &error);

  g_variant_dict_insert (dict, "path", "s", sr_store_path (store));
  g_variant_dict_insert (dict, "schema_version", "u", (guint32) sr_store_schema_version (store));
  g_variant_dict_insert (dict, "latency_us", "t", (guint64) (g_get_monotonic_time () - start));
  /* A lock held by another writer is a moment's wait, not a broken database. */
  SrHealthStatus status = SR_HEALTH_OK;
  if (!ok)
    status = g_error_matches (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BUSY) ? SR_HEALTH_DEGRADED
                                                                          : SR_HEALTH_FAILING;
  add_status (dict, status, ok ? _ ("database is writable") : error->message);
  return status;
}

static SrHealthStatus
check_disk (SrService *service, GVariantDict *dict)
{
  const char *dir = sr_service_state_dir (service);
  struct statvfs st;

  g_variant_dict_insert (dict, "path", "s", dir);
  if (statvfs (dir, &st) != 0) {
    g_autofree char *message
        = g_strdup_printf (_ ("cannot inspect %s: %s"), dir, g_strerror (errno));
    add_status (dict, SR_HEALTH_FAILING, message);
    return SR_HEALTH_FAILING;
  }

  guint64 free_bytes = (guint64) st.f_bavail * st.f_frsize;
  guint64 total_bytes = (guint64) st.f_blocks * st.f_frsize;
  g_variant_dict_insert (dict, "free_bytes", "t", free_bytes);
  g_variant_dict_insert (dict, "total_bytes", "t", total_bytes);

  g_autofree char *free_text = g_format_size (free_bytes);
  g_autofree char *message = NULL;
  SrHealthStatus status = SR_HEALTH_OK;
  if (free_bytes < SR_HEALTH_DISK_FAILING_BYTES) {
    status = SR_HEALTH_FAILING;
    message
        = g_strdup_printf (_ ("only %s free: writes will soon fail; free some space"), free_text);
  } else if (free_bytes < SR_HEALTH_DISK_DEGRADED_BYTES) {
    status = SR_HEALTH_DEGRADED;
    message = g_strdup_printf (_ ("only %s free"), free_text);
  } else {
    message = g_strdup_printf (_ ("%s free"), free_text);
  }
  add_status (dict, status, message);
  return status;
}

/* The machine's memory, which the vector indexes of loaded sessions and the model
 * servers share: a machine that runs out starts killing processes, the daemon among
 * them. */
static SrHealthStatus
check_memory (SrService *service, GVariantDict *dict)
{
  guint64 resident, size, total, available;
  if (sr_memory_of_process (&resident, &size))
    g_variant_dict_insert (dict, "resident_bytes", "t", resident);
  if (!sr_memory_of_system (&total, &available)) {
    add_status (dict, SR_HEALTH_OK, _ ("the system does not say how much memory is free"));
    return SR_HEALTH_OK;
  }
  g_variant_dict_insert (dict, "available_bytes", "t", available);
  g_variant_dict_insert (dict, "total_bytes", "t", total);

  g_autofree char *available_text = g_format_size (available);
  g_autofree char *total_text = g_format_size (total);
  g_autofree char *message = NULL;
  SrHealthStatus status = SR_HEALTH_OK;
  if (available < total / 100 * SR_HEALTH_MEMORY_FAILING_PERCENT) {
    status = SR_HEALTH_FAILING;
    /* TRANSLATORS: memory available and in all, e.g. "only 80 MB of 8 GB available" */
    message = g_strdup_printf (_ ("only %s of %s available: processes may soon be killed"),
                               available_text, total_text);
  } else if (available < total / 100 * SR_HEALTH_MEMORY_DEGRADED_PERCENT) {
    status = SR_HEALTH_DEGRADED;
    message = g_strdup_printf (_ ("only %s of %s available"), available_text, total_text);
  } else {
    message = g_strdup_printf (_ ("%s of %s available"), available_text, total_text);
  }
  add_status (dict, status, message);
  return status;
}

static SrHealthStatus
check_index (SrService *service, GVariantDict *dict)
{
  SrIndexStats stats = { 0 };
  if (sr_service_indexes (service) != NULL)
    sr_indexes_stats (sr_service_indexes (service), &stats);
  g_variant_dict_insert (dict, "sessions_loaded", "u", stats.loaded);
  g_variant_dict_insert (dict, "vectors", "t", stats.vectors);
  g_variant_dict_insert (dict, "waiting", "t", stats.waiting);
  g_variant_dict_insert (dict, "memory_bytes", "t", stats.memory);

  g_autofree char *memory = g_format_size (stats.memory);
  g_autofree char *message
      = stats.waiting > 0
            ? g_strdup_printf (_ ("%" PRIu64 " vectors in %u loaded session(s), %s; %" PRIu64
                                  " changes still being indexed"),
                               stats.vectors, stats.loaded, memory, stats.waiting)
            : g_strdup_printf (_ ("%" PRIu64 " vectors in %u loaded session(s), %s"), stats.vectors,
                               stats.loaded, memory);
  /* A backlog only makes searches compare more vectors one by one: not a fault. */
  add_status (dict, SR_HEALTH_OK, message);
  return SR_HEALTH_OK;
}

/* What answers questions, from what is known already: a model server is never asked from
 * here (its generator checks it in the background when its finding is old). */
static SrHealthStatus
check_generation (SrService *service, GVariantDict *dict)
{
  SrQueries *queries = sr_service_queries (service);
  if (queries == NULL) {
    add_status (dict, SR_HEALTH_OK, _ ("questions are not answered yet"));
    return SR_HEALTH_OK;
  }
  SrGeneratorStatus status;
  sr_generator_status (sr_queries_generator (queries), &status);
  g_variant_dict_insert (dict, "backend", "s", status.backend);
  g_variant_dict_insert (dict, "active", "s", status.active);
  g_variant_dict_insert (dict, "model", "s", status.model != NULL ? status.model : "");
  if (status.url != NULL)
    g_variant_dict_insert (dict, "url", "s", status.url);
  if (status.checked_at > 0) {
    gboolean reachable = status.server == SR_SERVER_READY || status.server == SR_SERVER_NO_MODEL;
    g_variant_dict_insert (dict, "reachable", "b", reachable);
    g_variant_dict_insert (dict, "has_model", "b", status.server == SR_SERVER_READY);
    g_variant_dict_insert (dict, "checked_at", "t", (guint64) status.checked_at);
  }

  g_autofree char *message = NULL;
  SrHealthStatus health = SR_HEALTH_OK;
  if (status.url == NULL)
    message = g_strdup (_ ("the builtin generator answers from the sources' own sentences"));
  else if (status.message != NULL)
    message = g_strdup (status.message);
  else
    message = g_strdup_printf (_ ("%s has not been checked yet"), status.url);
  /* "auto" answers either way; a configured server that cannot answer leaves questions
   * failing while everything else works. */
  if (g_strcmp0 (status.backend, status.active) == 0
      && (status.server == SR_SERVER_NO_MODEL || status.server == SR_SERVER_FAILING))
    health = SR_HEALTH_DEGRADED;
  add_status (dict, health, message);
  return health;
}

static const char *
embedder_state_name (SrEmbedderState state)
{
  switch (state) {
  case SR_EMBEDDER_UNKNOWN:
    return "unknown";
  case SR_EMBEDDER_AVAILABLE:
    return "available";
  case SR_EMBEDDER_UNAVAILABLE:
    return "unavailable";
  }
  return "unknown";
}

/* What the embedder is, whether its server answered the last call (as remembered: health
 * never waits for a server), and the background work that depends on it. */
static SrHealthStatus
check_embedding (SrService *service, GVariantDict *dict)
{
  SrEmbedder *embedder = sr_service_embedder (service);
  if (embedder == NULL) {
    add_status (dict, SR_HEALTH_OK, _ ("documents are not processed yet"));
    return SR_HEALTH_OK;
  }
  g_auto (SrEmbedderStatus) status = { 0 };
  sr_embedder_get_status (embedder, &status);
  SrEmbeddingStats stats = { 0 };
  if (sr_service_embedding (service) != NULL)
    sr_embedding_stats (sr_service_embedding (service), &stats);
  guint waiting = sr_service_ingestion (service) != NULL
                      ? sr_ingestion_waiting (sr_service_ingestion (service))
                      : 0;

  g_variant_dict_insert (dict, "backend", "s", embedder->klass->name);
  g_variant_dict_insert (dict, "model", "s", embedder->model);
  if (embedder->url != NULL)
    g_variant_dict_insert (dict, "url", "s", embedder->url);
  g_variant_dict_insert (dict, "dimensions", "u", sr_embedder_dimensions (embedder));
  g_variant_dict_insert (dict, "server", "s", embedder_state_name (status.state));
  g_variant_dict_insert (dict, "checked_at", "t", (guint64) status.checked_at);
  g_variant_dict_insert (dict, "reembed_counted", "b", stats.counted);
  g_variant_dict_insert (dict, "reembed_left", "t", stats.left);
  g_variant_dict_insert (dict, "reembedded", "t", stats.done);
  g_variant_dict_insert (dict, "reembed_skipped", "t", stats.skipped);
  g_variant_dict_insert (dict, "documents_waiting", "u", waiting);

  g_autoptr (GString) message = g_string_new (NULL);
  if (status.state == SR_EMBEDDER_UNAVAILABLE)
    g_string_append (message, status.message);
  else if (embedder->url == NULL)
    g_string_append_printf (message, _ ("%s, no server needed"), embedder->model);
  else if (status.state == SR_EMBEDDER_AVAILABLE)
    g_string_append_printf (message, _ ("%s answers at %s"), embedder->model, embedder->url);
  else
    g_string_append_printf (message, _ ("%s at %s not asked yet"), embedder->model, embedder->url);
  if (stats.left > 0)
    g_string_append_printf (message, _ ("; %" PRIu64 " chunk(s) left to embed again"), stats.left);
  if (waiting > 0)
    g_string_append_printf (message, _ ("; %u document(s) wait for the server"), waiting);

  /* Searches still find chunks by their words: degraded, not failing. */
  SrHealthStatus health
      = status.state == SR_EMBEDDER_UNAVAILABLE ? SR_HEALTH_DEGRADED : SR_HEALTH_OK;
  add_status (dict, health, message->str);
  return health;
}

SrHealthStatus
sr_health_check (SrService *service, GVariant **components)
{
  static const struct {
    const char *name;
    SrHealthStatus (*check) (SrService *, GVariantDict *);
  } checks[] = {
    { "db", check_db },
    { "disk", check_disk },
    { "memory", check_memory },
    { "index", check_index },
    { "generation", check_generation },
    { "embedding", check_embedding },
  };
  g_auto (GVariantDict) all = G_VARIANT_DICT_INIT (NULL);
  SrHealthStatus worst = SR_HEALTH_OK;

  for (guint i = 0; i < G_N_ELEMENTS (checks); i++) {
    g_auto (GVariantDict) one = G_VARIANT_DICT_INIT (NULL);
    worst = MAX (worst, checks[i].check (service, &one));
    g_variant_dict_insert_value (&all, checks[i].name, g_variant_dict_end (&one));
  }
  *components = g_variant_ref_sink (g_variant_dict_end (&all));
  return worst;
}

struct SrHealthReport {
  gint64 checked_at; /* monotonic µs; 0: none yet */
  SrHealthStatus status;
  GVariant *components;
};

SrHealthReport *
sr_health_report_new (void)
{
  return g_new0 (SrHealthReport, 1);
}

void
sr_health_report_free (SrHealthReport *report)
{
  if (report == NULL)
    return;
  g_clear_pointer (&report->components, g_variant_unref);
  g_free (report);
}

SrHealthStatus
sr_health_check_recent (SrService *service, gint64 max_age_us, GVariant **components)
{
  SrHealthReport *report = sr_service_health_report (service);
  gint64 now = g_get_monotonic_time ();
  if (report->components == NULL || now - report->checked_at > max_age_us) {
    g_clear_pointer (&report->components, g_variant_unref);
    report->status = sr_health_check (service, &report->components);
    report->checked_at = now;
  }
  *components = g_variant_ref (report->components);
  return report->status;
}
