/* The daemon's metrics: what the service counts as it works, written for Prometheus. */
#include "service/metrics.h"

#include "build-config.h"
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/durations.h"
#include "common/memory.h"
#include "service/exposition.h"
#include "service/ingestion.h"
#include "service/queries.h"
#include "store/counts.h"

/* Label sets a family takes at most: labels come from our own tables (generators, route
 * patterns), and a caller that passed something unbounded must not make the exposition
 * grow without end. */
#define MAX_BACKEND_SERIES 64
#define MAX_HTTP_SERIES    512

static const char *const backend_outcome_labels[] = { "backend", "outcome", NULL };
static const char *const backend_labels[] = { "backend", NULL };
static const char *const outcome_labels[] = { "outcome", NULL };
static const char *const method_route_status_labels[] = { "method", "route", "status", NULL };
static const char *const method_route_labels[] = { "method", "route", NULL };

/* Answers take milliseconds (builtin) to minutes (a large model on a processor). */
static const double answer_bounds[]
    = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120 };
/* A document's reader may run 120 s, and a slow embedding server takes longer still. */
static const double ingest_bounds[]
    = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600 };
/* Most requests take a millisecond or two; a streamed answer as long as the answer. */
static const double http_bounds[]
    = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120 };

typedef enum {
  QUERIES,
  QUERY_DURATION,
  FIRST_TOKEN,
  INGEST_DOCUMENTS,
  INGEST_BYTES,
  INGEST_CHUNKS,
  INGEST_DURATION,
  HTTP_REQUESTS,
  HTTP_DURATION,
  N_FAMILIES,
} FamilyId;

static const SrMetricInfo queries_info = {
  "smartrag_queries_total",
  "Questions that ended, by the generator that answered (or was to) and how they ended: "
  "complete, incomplete, failed or cancelled",
  SR_METRIC_COUNTER,
  backend_outcome_labels,
  .max_series = MAX_BACKEND_SERIES,
};
static const SrMetricInfo query_duration_info = {
  "smartrag_query_duration_seconds",
  "Time from a question's arrival to its complete answer, by the generator that answered",
  SR_METRIC_HISTOGRAM,
  backend_labels,
  answer_bounds,
  G_N_ELEMENTS (answer_bounds),
  MAX_BACKEND_SERIES,
};
static const SrMetricInfo first_token_info = {
  "smartrag_query_first_token_seconds",
  "Time from a question's arrival to the first token of its answer, by the generator that "
  "answered",
  SR_METRIC_HISTOGRAM,
  backend_labels,
  answer_bounds,
  G_N_ELEMENTS (answer_bounds),
  MAX_BACKEND_SERIES,
};
static const SrMetricInfo ingest_documents_info = {
  "smartrag_ingest_documents_total",
  "Documents whose processing ended, by outcome: ready or failed",
  SR_METRIC_COUNTER,
  outcome_labels,
};
static const SrMetricInfo ingest_bytes_info = {
  "smartrag_ingest_bytes_total",
  "Bytes of the documents that became ready",
  SR_METRIC_COUNTER,
};
static const SrMetricInfo ingest_chunks_info = {
  "smartrag_ingest_chunks_total",
  "Chunks of the documents that became ready",
  SR_METRIC_COUNTER,
};
static const SrMetricInfo ingest_duration_info = {
  "smartrag_ingest_duration_seconds",
  "Time a worker spent reading, chunking, embedding and storing a document, by outcome: "
  "ready or failed",
  SR_METRIC_HISTOGRAM,
  outcome_labels,
  ingest_bounds,
  G_N_ELEMENTS (ingest_bounds),
};
static const SrMetricInfo http_requests_info = {
  "smartrag_http_requests_total",
  "HTTP requests answered, by method, route pattern and status",
  SR_METRIC_COUNTER,
  method_route_status_labels,
  .max_series = MAX_HTTP_SERIES,
};
static const SrMetricInfo http_duration_info = {
  "smartrag_http_request_duration_seconds",
  "Time from an HTTP request's arrival to the end of its reply, by method and route pattern",
  SR_METRIC_HISTOGRAM,
  method_route_labels,
  http_bounds,
  G_N_ELEMENTS (http_bounds),
  MAX_HTTP_SERIES,
};

/* What the service counts, in the order they are written. */
static const SrMetricInfo *const families[N_FAMILIES] = {
  [QUERIES] = &queries_info,
  [QUERY_DURATION] = &query_duration_info,
  [FIRST_TOKEN] = &first_token_info,
  [INGEST_DOCUMENTS] = &ingest_documents_info,
  [INGEST_BYTES] = &ingest_bytes_info,
  [INGEST_CHUNKS] = &ingest_chunks_info,
  [INGEST_DURATION] = &ingest_duration_info,
  [HTTP_REQUESTS] = &http_requests_info,
  [HTTP_DURATION] = &http_duration_info,
};

struct SrMetrics {
  GMutex lock; /* over the families */
  SrMetricFamily *families[N_FAMILIES];
  guint warned;   /* one bit per family that dropped a label set and said so */
  double started; /* the process's start, in seconds since the epoch */
};

/* The boot time plus the process's start in clock ticks since boot (/proc/self/stat,
 * field 22), as every Prometheus client tells it; now when Linux does not say. */
static double
process_start_seconds (void)
{
  g_autofree char *stat = NULL, *boot = NULL;
  double now = (double) sr_now_us () / G_USEC_PER_SEC;
  if (!g_file_get_contents ("/proc/self/stat", &stat, NULL, NULL)
      || !g_file_get_contents ("/proc/stat", &boot, NULL, NULL))
    return now;
  /* The command's name may hold spaces and parentheses: fields count from its last ')'. */
  const char *fields = strrchr (stat, ')');
  const char *btime = strstr (boot, "\nbtime ");
  unsigned long long ticks = 0, boot_seconds = 0;
  if (fields == NULL || btime == NULL
      || sscanf (fields + 1,
                 " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s"
                 " %llu",
                 &ticks)
             != 1
      || sscanf (btime, " btime %llu", &boot_seconds) != 1)
    return now;
  return (double) boot_seconds + (double) ticks / (double) sysconf (_SC_CLK_TCK);
}

SrMetrics *
sr_metrics_new (void)
{
  SrMetrics *metrics = g_new0 (SrMetrics, 1);
  g_mutex_init (&metrics->lock);
  for (guint i = 0; i < N_FAMILIES; i++)
    metrics->families[i] = sr_metric_family_new (families[i]);
  /* Both outcomes of a document are known from the start. */
  static const char *const ready[] = { "ready" }, *const failed[] = { "failed" };
  static const FamilyId by_outcome[] = { INGEST_DOCUMENTS, INGEST_DURATION };
  for (guint i = 0; i < G_N_ELEMENTS (by_outcome); i++) {
    sr_metric_family_touch (metrics->families[by_outcome[i]], ready);
    sr_metric_family_touch (metrics->families[by_outcome[i]], failed);
  }
  metrics->started = process_start_seconds ();
  return metrics;
}

void
sr_metrics_free (SrMetrics *metrics)
{
  if (metrics == NULL)
    return;
  for (guint i = 0; i < N_FAMILIES; i++)
    sr_metric_family_free (metrics->families[i]);
  g_mutex_clear (&metrics->lock);
  g_free (metrics);
}

/* Under the lock: a label set the family refused is a bug in what feeds it, told once. */
static void
check_recorded (SrMetrics *metrics, FamilyId id, gboolean recorded)
{
  if (recorded || (metrics->warned & (1u << id)) != 0)
    return;
  metrics->warned |= 1u << id;
  g_warning ("Metric %s has %u label sets, its limit; samples with new ones are dropped",
             families[id]->name, families[id]->max_series);
}

static void
add (SrMetrics *metrics, FamilyId id, const char *const *values, double amount)
{
  check_recorded (metrics, id, sr_metric_family_add (metrics->families[id], values, amount));
}

static void
observe (SrMetrics *metrics, FamilyId id, const char *const *values, double value)
{
  check_recorded (metrics, id, sr_metric_family_observe (metrics->families[id], values, value));
}

static const char *
outcome_name (SrQueryOutcome outcome)
{
  switch (outcome) {
  case SR_QUERY_COMPLETE:
    return "complete";
  case SR_QUERY_INCOMPLETE:
    return "incomplete";
  case SR_QUERY_FAILED:
    return "failed";
  case SR_QUERY_CANCELLED:
    return "cancelled";
  }
  g_return_val_if_reached ("failed");
}

void
sr_metrics_observe_query (SrMetrics *metrics, const char *backend_name, SrQueryOutcome outcome,
                          double seconds, double first_token_seconds)
{
  /* A family with fewer labels takes the first of these. */
  const char *labels[] = { backend_name, outcome_name (outcome) };
  g_mutex_lock (&metrics->lock);
  add (metrics, QUERIES, labels, 1);
  /* Only whole answers: a stopped one's time says when it stopped, not how fast answers are. */
  if (outcome == SR_QUERY_COMPLETE)
    observe (metrics, QUERY_DURATION, labels, seconds);
  if (first_token_seconds >= 0)
    observe (metrics, FIRST_TOKEN, labels, first_token_seconds);
  g_mutex_unlock (&metrics->lock);
}

void
sr_metrics_observe_ingest (SrMetrics *metrics, gboolean ready, guint64 bytes, guint chunks,
                           double seconds)
{
  const char *labels[] = { ready ? "ready" : "failed" };
  g_mutex_lock (&metrics->lock);
  add (metrics, INGEST_DOCUMENTS, labels, 1);
  observe (metrics, INGEST_DURATION, labels, seconds);
  if (ready) {
    add (metrics, INGEST_BYTES, NULL, (double) bytes);
    add (metrics, INGEST_CHUNKS, NULL, chunks);
  }
  g_mutex_unlock (&metrics->lock);
}

/* A client chooses the method: only the standard ones become label values. */
static const char *
method_label (const char *method)
{
  static const char *const known[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS" };
  for (guint i = 0; method != NULL && i < G_N_ELEMENTS (known); i++)
    if (g_str_equal (method, known[i]))
      return known[i];
  return "other";
}

void
sr_metrics_observe_http (SrMetrics *metrics, const char *method, const char *route, guint status,
                         double seconds)
{
  char status_text[16];
  g_snprintf (status_text, sizeof status_text, "%u", status);
  const char *labels[]
      = { method_label (method), route != NULL ? route : "unmatched", status_text };
  g_mutex_lock (&metrics->lock);
  add (metrics, HTTP_REQUESTS, labels, 1);
  observe (metrics, HTTP_DURATION, labels, seconds);
  g_mutex_unlock (&metrics->lock);
}

static const char *const version_label[] = { "version", NULL };
static const char *const state_label[] = { "state", NULL };

static const SrMetricInfo build_info = {
  "smartrag_build_info",
  "The version of smartragd that runs; the value is always 1",
  SR_METRIC_GAUGE,
  version_label,
};
static const SrMetricInfo sessions_info = {
  "smartrag_sessions",
  "Sessions stored",
  SR_METRIC_GAUGE,
};
static const SrMetricInfo active_info = {
  "smartrag_active_sessions",
  "Sessions created, asked, given a document or changed in the last 15 minutes",
  SR_METRIC_GAUGE,
};
static const SrMetricInfo documents_info = {
  "smartrag_documents_total",
  "Documents stored, by state: stored, parsing, indexing, ready or failed",
  SR_METRIC_GAUGE,
  state_label,
};
static const SrMetricInfo running_info = {
  "smartrag_queries_running",
  "Questions being answered now",
  SR_METRIC_GAUGE,
};
static const SrMetricInfo waiting_info = {
  "smartrag_ingest_waiting_documents",
  "Documents waiting for the embedding server to answer again",
  SR_METRIC_GAUGE,
};
static const SrMetricInfo cpu_info = {
  "process_cpu_seconds_total",
  "Total user and system CPU time spent in seconds.",
  SR_METRIC_COUNTER,
};
static const SrMetricInfo resident_info = {
  "process_resident_memory_bytes",
  "Resident memory size in bytes.",
  SR_METRIC_GAUGE,
};
static const SrMetricInfo virtual_info = {
  "process_virtual_memory_bytes",
  "Virtual memory size in bytes.",
  SR_METRIC_GAUGE,
};
static const SrMetricInfo fds_info = {
  "process_open_fds",
  "Number of open file descriptors.",
  SR_METRIC_GAUGE,
};
static const SrMetricInfo start_info = {
  "process_start_time_seconds",
  "Start time of the process since unix epoch in seconds.",
  SR_METRIC_GAUGE,
};

/* Sessions and documents: counts the database keeps, read in constant time. */
static void
render_store (GString *out, SrService *service)
{
  g_autoptr (GError) error = NULL;
  SrStoreCounts counts;
  gint64 since = sr_now_us () - SR_METRICS_ACTIVE_WINDOW_US;
  if (!sr_store_counts_read (sr_service_store (service), since, &counts, &error)) {
    g_warning ("Metrics leave out sessions and documents: %s", error->message);
    return;
  }
  sr_metric_render_value (out, &sessions_info, NULL, (double) counts.sessions);
  sr_metric_render_value (out, &active_info, NULL, (double) counts.active_sessions);
  g_autoptr (SrMetricFamily) documents = sr_metric_family_new (&documents_info);
  for (guint i = 0; i < SR_DOCUMENT_N_STATES; i++) {
    const char *state[] = { sr_document_states[i] };
    sr_metric_family_set (documents, state, (double) counts.documents[i]);
  }
  sr_metric_family_render (documents, out);
}

static void
render_work (GString *out, SrService *service)
{
  SrQueries *queries = sr_service_queries (service);
  SrIngestion *ingestion = sr_service_ingestion (service);
  sr_metric_render_value (out, &running_info, NULL,
                          queries != NULL ? sr_queries_running (queries) : 0);
  sr_metric_render_value (out, &waiting_info, NULL,
                          ingestion != NULL ? sr_ingestion_waiting (ingestion) : 0);
}

static double
seconds_of (struct timeval tv)
{
  return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}

/* Entries of /proc/self/fd, less the one reading them. */
static gboolean
count_open_fds (guint *count)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  if (dir == NULL)
    return FALSE;
  guint n = 0;
  while (g_dir_read_name (dir) != NULL)
    n++;
  *count = n > 0 ? n - 1 : 0;
  return TRUE;
}

/* What every Prometheus client says of its process; each left out when Linux will not
 * tell. */
static void
render_process (GString *out, double started)
{
  struct rusage usage;
  if (getrusage (RUSAGE_SELF, &usage) == 0)
    sr_metric_render_value (out, &cpu_info, NULL,
                            seconds_of (usage.ru_utime) + seconds_of (usage.ru_stime));
  guint64 resident, size;
  if (sr_memory_of_process (&resident, &size)) {
    sr_metric_render_value (out, &resident_info, NULL, (double) resident);
    sr_metric_render_value (out, &virtual_info, NULL, (double) size);
  }
  guint fds = 0;
  if (count_open_fds (&fds))
    sr_metric_render_value (out, &fds_info, NULL, fds);
  sr_metric_render_value (out, &start_info, NULL, started);
}

char *
sr_metrics_render (SrMetrics *metrics, SrService *service)
{
  GString *out = g_string_sized_new (16384);
  const char *version[] = { PACKAGE_VERSION };
  sr_metric_render_value (out, &build_info, version, 1);
  /* Outside the lock: workers observing never wait for the database. */
  if (service != NULL) {
    render_store (out, service);
    render_work (out, service);
  }
  g_mutex_lock (&metrics->lock);
  for (guint i = 0; i < N_FAMILIES; i++)
    sr_metric_family_render (metrics->families[i], out);
  g_mutex_unlock (&metrics->lock);
  render_process (out, metrics->started);
  return g_string_free (out, FALSE);
}
