/* Foundation benchmark: start-up time, bus call latency and idle memory of smartragd, as JSON. */
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-common.h"

/* Every wait is bounded, so a hung daemon or bus ends the run with an error, not a hang. */
#define CALL_TIMEOUT_US  (5 * G_USEC_PER_SEC)
#define READY_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define STOP_TIMEOUT_US  (15 * G_USEC_PER_SEC)
#define WARMUP_CALLS     100

/* The targets. */
#define TARGET_READY_EMPTY_MS 150.0
#define TARGET_READY_FULL_MS  400.0
#define TARGET_CREATE_P99_MS  2.0
#define TARGET_HEALTH_P99_MS  1.0
#define TARGET_IDLE_RSS_MB    25.0

typedef enum {
  CALL_PING,
  CALL_CREATE,
  CALL_HEALTH,
  N_CALLS,
} CallKind;

static const char *const call_names[N_CALLS] = {
  [CALL_PING] = "ping_baseline",
  [CALL_CREATE] = "create_session",
  [CALL_HEALTH] = "get_health",
};

typedef struct {
  BenchDaemon d;

  /* parameters */
  char *build_type;
  char *tmp_parent;
  int starts;
  int calls;
  int sessions;

  /* what the run found */
  guint sessions_created;
  guint health_not_ok;
} Bench;

/* ---- calls ---- */

static gboolean
call (Bench *b, sd_bus_message *m, sd_bus_message **reply, double *ms, GError **error)
{
  g_auto (sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
  gint64 start = now_ns ();
  int r = sd_bus_call (b->d.client, m, CALL_TIMEOUT_US, &bus_error, reply);
  gint64 end = now_ns ();

  if (r < 0 && interrupted)
    return check_interrupted (error);
  if (r < 0)
    return fail (error, "%s.%s failed: %s", sd_bus_message_get_interface (m),
                 sd_bus_message_get_member (m),
                 bus_error.message ? bus_error.message : g_strerror (-r));
  if (ms != NULL)
    *ms = (double) (end - start) / 1e6;
  return TRUE;
}

static gboolean
new_call (Bench *b, const char *destination, const char *path, const char *interface,
          const char *member, sd_bus_message **m, GError **error)
{
  int r = sd_bus_message_new_method_call (b->d.client, m, destination, path, interface, member);
  if (r < 0)
    return fail (error, "cannot build %s.%s: %s", interface, member, g_strerror (-r));
  return TRUE;
}

static gboolean
build_create (Bench *b, sd_bus_message **m, GError **error)
{
  if (!new_call (b, BUS_NAME, BUS_PATH, BUS_NAME, "CreateSession", m, error))
    return FALSE;
  g_autofree char *title = g_strdup_printf ("Benchmark session %u", b->sessions_created + 1);
  g_autofree char *context
      = g_strdup_printf ("{\"benchmark\":\"foundation\",\"n\":%u}", b->sessions_created + 1);
  int r = sd_bus_message_append (*m, "a{sv}", 2, "title", "s", title, "context", "s", context);
  if (r < 0)
    return fail (error, "cannot build CreateSession: %s", g_strerror (-r));
  return TRUE;
}

/* Checks each answer, so that a failing call can never pass for a fast one. */
static gboolean
check_reply (Bench *b, CallKind kind, sd_bus_message *reply, GError **error)
{
  const char *text = NULL;
  int r;

  switch (kind) {
  case CALL_PING:
    return TRUE;
  case CALL_CREATE:
    if ((r = sd_bus_message_read (reply, "o", &text)) < 0)
      return fail (error, "CreateSession: unexpected reply: %s", g_strerror (-r));
    if (!g_str_has_prefix (text, SESSION_PATH_PREFIX))
      return fail (error, "CreateSession returned %s", text);
    b->sessions_created++;
    return TRUE;
  case CALL_HEALTH:
    if ((r = sd_bus_message_read (reply, "s", &text)) < 0)
      return fail (error, "GetHealth: unexpected reply: %s", g_strerror (-r));
    if (!g_str_equal (text, "ok") && !g_str_equal (text, "degraded")
        && !g_str_equal (text, "failing"))
      return fail (error, "GetHealth returned status '%s'", text);
    if (!g_str_equal (text, "ok"))
      b->health_not_ok++;
    return TRUE;
  case N_CALLS:
    break;
  }
  g_assert_not_reached ();
  return FALSE;
}

static gboolean
timed_call (Bench *b, CallKind kind, double *ms, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  gboolean built = FALSE;

  switch (kind) {
  case CALL_PING:
    built = new_call (b, BUS_NAME, BUS_PATH, "org.freedesktop.DBus.Peer", "Ping", &m, error);
    break;
  case CALL_CREATE:
    built = build_create (b, &m, error);
    break;
  case CALL_HEALTH:
    built = new_call (b, BUS_NAME, BUS_PATH, BUS_NAME, "GetHealth", &m, error);
    break;
  case N_CALLS:
    g_assert_not_reached ();
  }
  return built && call (b, m, &reply, ms, error) && check_reply (b, kind, reply, error);
}

static gboolean
count_sessions (Bench *b, guint *count, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  const char *path;
  int r;

  if (!new_call (b, BUS_NAME, BUS_PATH, BUS_NAME, "ListSessions", &m, error)
      || !call (b, m, &reply, NULL, error))
    return FALSE;
  *count = 0;
  if ((r = sd_bus_message_enter_container (reply, 'a', "o")) < 0)
    return fail (error, "ListSessions: unexpected reply: %s", g_strerror (-r));
  while ((r = sd_bus_message_read (reply, "o", &path)) > 0)
    (*count)++;
  if (r < 0)
    return fail (error, "ListSessions: unexpected reply: %s", g_strerror (-r));
  return TRUE;
}

/* ---- the daemon ---- */

/* ---- statistics ---- */

/* Median, min and max of start times (ms, three decimals) or RSS (kB, whole), with every
 * sample in the order taken. */
static void
add_spread (Json *json, const char *name, GArray *samples, gboolean is_kb)
{
  g_autoptr (GArray) sorted = g_array_copy (samples);
  g_array_sort (sorted, compare_doubles);
  double median = percentile (sorted, 0.5);
  double min = g_array_index (sorted, double, 0);
  double max = g_array_index (sorted, double, sorted->len - 1);

  json_begin_object (json, name);
  if (is_kb) {
    add_int (json, "median", (gint64) median);
    add_int (json, "min", (gint64) min);
    add_int (json, "max", (gint64) max);
    add_number (json, "median_mb", median / 1024.0);
    add_number (json, "max_mb", max / 1024.0);
  } else {
    add_number (json, "median", median);
    add_number (json, "min", min);
    add_number (json, "max", max);
  }
  json_begin_array (json, "samples");
  for (guint i = 0; i < samples->len; i++) {
    double v = g_array_index (samples, double, i);
    if (is_kb)
      add_int (json, NULL, (gint64) v);
    else
      add_number (json, NULL, v);
  }
  json_end_array (json);
  json_end_object (json);
}

static double
sorted_stat (GArray *samples, double q)
{
  g_autoptr (GArray) sorted = g_array_copy (samples);
  g_array_sort (sorted, compare_doubles);
  return percentile (sorted, q);
}

/* ---- phases ---- */

typedef struct {
  GArray *ready_ms;
  GArray *rss_kb;
} StartSamples;

static void
start_samples_init (StartSamples *s)
{
  s->ready_ms = g_array_new (FALSE, FALSE, sizeof (double));
  s->rss_kb = g_array_new (FALSE, FALSE, sizeof (double));
}

static void
start_samples_clear (StartSamples *s)
{
  g_clear_pointer (&s->ready_ms, g_array_unref);
  g_clear_pointer (&s->rss_kb, g_array_unref);
}

/* One measured start: READY time, then idle RSS after the daemon has settled. */
static gboolean
measure_start (Bench *b, const char *state_dir, guint expect_sessions, StartSamples *out,
               GError **error)
{
  double ready_ms;
  guint64 rss;
  guint count;

  if (!start_daemon (&b->d, state_dir, &ready_ms, error))
    return FALSE;
  settle ();
  if (!read_rss_kb (b->d.daemon_pid, &rss, error))
    return FALSE;
  /* Proves the start really had the stored sessions to open. */
  if (!count_sessions (b, &count, error))
    return FALSE;
  if (count != expect_sessions)
    return fail (error, "the daemon lists %u sessions, expected %u", count, expect_sessions);
  double rss_kb = (double) rss;
  g_array_append_val (out->ready_ms, ready_ms);
  g_array_append_val (out->rss_kb, rss_kb);
  return stop_daemon (&b->d, error);
}

static gboolean
measure_empty_starts (Bench *b, StartSamples *out, GError **error)
{
  for (int i = 0; i < b->starts; i++) {
    g_autofree char *name = g_strdup_printf ("empty-%d", i);
    g_autofree char *dir = g_build_filename (b->d.dir, name, NULL);
    if (!check_interrupted (error) || !measure_start (b, dir, 0, out, error))
      return FALSE;
    remove_tree (dir);
  }
  return TRUE;
}

static gboolean
measure_full_starts (Bench *b, const char *state_dir, StartSamples *out, GError **error)
{
  for (int i = 0; i < b->starts; i++)
    if (!check_interrupted (error)
        || !measure_start (b, state_dir, b->sessions_created, out, error))
      return FALSE;
  return TRUE;
}

typedef struct {
  GArray *samples[N_CALLS];
} Latencies;

static void
latencies_init (Latencies *l)
{
  for (int k = 0; k < N_CALLS; k++)
    l->samples[k] = g_array_new (FALSE, FALSE, sizeof (double));
}

static void
latencies_clear (Latencies *l)
{
  for (int k = 0; k < N_CALLS; k++)
    g_clear_pointer (&l->samples[k], g_array_unref);
}

/* The three calls take turns in rotating order, so that each sees the same machine
 * and the same database, and Ping shows what the bus alone costs. */
static gboolean
measure_latencies (Bench *b, Latencies *out, GError **error)
{
  for (int i = 0; i < WARMUP_CALLS; i++)
    for (int k = 0; k < N_CALLS; k++)
      if (!timed_call (b, k, NULL, error))
        return FALSE;

  for (int i = 0; i < b->calls; i++) {
    if (!check_interrupted (error))
      return FALSE;
    for (int j = 0; j < N_CALLS; j++) {
      CallKind kind = (i + j) % N_CALLS;
      double ms;
      if (!timed_call (b, kind, &ms, error))
        return FALSE;
      g_array_append_val (out->samples[kind], ms);
    }
  }
  return TRUE;
}

static gboolean
fill_sessions (Bench *b, GArray *samples, double *seconds, GError **error)
{
  gint64 start = now_ns ();
  while (b->sessions_created < (guint) b->sessions) {
    double ms;
    if ((b->sessions_created % 1000 == 0 && !check_interrupted (error))
        || !timed_call (b, CALL_CREATE, &ms, error))
      return FALSE;
    g_array_append_val (samples, ms);
  }
  *seconds = (double) (now_ns () - start) / 1e9;
  return TRUE;
}

/* ---- the report ---- */

static void
add_latency_phase (Json *json, const char *name, const char *state, Latencies *l)
{
  json_begin_object (json, name);
  add_string (json, "state", state);
  for (int k = 0; k < N_CALLS; k++)
    add_latency (json, call_names[k], l->samples[k], FALSE);
  /* Percentiles do not subtract exactly, but this shows what the daemon adds to a bare
   * bus round trip to the same peer. */
  json_begin_object (json, "over_baseline_ms");
  for (int k = CALL_CREATE; k < N_CALLS; k++) {
    json_begin_object (json, call_names[k]);
    add_number (json, "p50",
                sorted_stat (l->samples[k], 0.5) - sorted_stat (l->samples[CALL_PING], 0.5));
    add_number (json, "p99",
                sorted_stat (l->samples[k], 0.99) - sorted_stat (l->samples[CALL_PING], 0.99));
    json_end_object (json);
  }
  json_end_object (json);
  json_end_object (json);
}

static gboolean
add_target (Json *json, const char *name, const char *measured_as, double value, double limit,
            const char *unit)
{
  gboolean pass = value < limit;
  json_begin_object (json, name);
  add_string (json, "measured_as", measured_as);
  add_number (json, "value", value);
  add_number (json, "limit", limit);
  add_string (json, "unit", unit);
  add_bool (json, "pass", pass);
  json_end_object (json);
  return pass;
}

typedef struct {
  StartSamples empty_starts;
  StartSamples full_starts;
  Latencies at_empty;
  Latencies at_full;
  GArray *fill_ms;
  double fill_seconds;
  guint64 rss_after_fill_kb;
} Results;

static void
results_init (Results *r)
{
  start_samples_init (&r->empty_starts);
  start_samples_init (&r->full_starts);
  latencies_init (&r->at_empty);
  latencies_init (&r->at_full);
  r->fill_ms = g_array_new (FALSE, FALSE, sizeof (double));
}

static void
results_clear (Results *r)
{
  start_samples_clear (&r->empty_starts);
  start_samples_clear (&r->full_starts);
  latencies_clear (&r->at_empty);
  latencies_clear (&r->at_full);
  g_clear_pointer (&r->fill_ms, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Results, results_clear)

static void
add_targets (Json *json, Results *r)
{
  gboolean all = TRUE;
  double create_p99 = MAX (sorted_stat (r->at_empty.samples[CALL_CREATE], 0.99),
                           sorted_stat (r->at_full.samples[CALL_CREATE], 0.99));
  double health_p99 = MAX (sorted_stat (r->at_empty.samples[CALL_HEALTH], 0.99),
                           sorted_stat (r->at_full.samples[CALL_HEALTH], 0.99));
  double rss_max_kb = MAX (
      MAX (sorted_stat (r->empty_starts.rss_kb, 1.0), sorted_stat (r->full_starts.rss_kb, 1.0)),
      (double) r->rss_after_fill_kb);

  json_begin_object (json, "targets");
  all &= add_target (json, "start_to_ready_empty", "median of the empty-state starts",
                     sorted_stat (r->empty_starts.ready_ms, 0.5), TARGET_READY_EMPTY_MS, "ms");
  all &= add_target (json, "start_to_ready_sessions", "median of the starts with the sessions",
                     sorted_stat (r->full_starts.ready_ms, 0.5), TARGET_READY_FULL_MS, "ms");
  all &= add_target (json, "create_session_p99", "worst p99 of the two latency phases", create_p99,
                     TARGET_CREATE_P99_MS, "ms");
  all &= add_target (json, "get_health_p99", "worst p99 of the two latency phases", health_p99,
                     TARGET_HEALTH_P99_MS, "ms");
  all &= add_target (json, "idle_rss", "largest idle VmRSS seen", rss_max_kb / 1024.0,
                     TARGET_IDLE_RSS_MB, "MB");
  json_end_object (json);
  add_bool (json, "all_targets_pass", all);
}

static void
add_daemon (Json *json, Bench *b)
{
  json_begin_object (json, "daemon");
  add_string (json, "path", b->d.daemon_path);
  add_string (json, "version", b->d.daemon_version ? b->d.daemon_version : "unknown");
  add_string (json, "build_type", b->build_type);
  add_string (json, "mode",
              b->d.system_mode ? "system (caller is root, no polkit)" : "user (--user, no polkit)");
  add_string (json, "config", "[limits] max_sessions_per_user=0, other keys default");
  add_int (json, "unclean_exits", b->d.unclean_exits);
  add_int (json, "health_not_ok", b->health_not_ok);
  json_end_object (json);
}

static char *
report (Bench *b, Results *r)
{
  Json writer = { g_string_new (NULL), 0, TRUE };
  Json *json = &writer;
  g_autofree char *full = g_strdup_printf ("sessions_%d", b->sessions);

  json_begin_object (json, NULL);
  add_string (json, "benchmark", "foundation");
  add_machine (json, &b->d);
  add_daemon (json, b);

  json_begin_object (json, "parameters");
  add_int (json, "starts", b->starts);
  add_int (json, "calls_per_method", b->calls);
  add_int (json, "warmup_calls_per_method", WARMUP_CALLS);
  add_int (json, "sessions", b->sessions);
  add_int (json, "settle_ms", SETTLE_US / 1000);
  json_end_object (json);

  json_begin_object (json, "start_to_ready_ms");
  add_spread (json, "empty", r->empty_starts.ready_ms, FALSE);
  add_spread (json, full, r->full_starts.ready_ms, FALSE);
  json_end_object (json);

  json_begin_object (json, "latency_ms");
  add_latency_phase (json, "empty_state", "sessions created from an empty database", &r->at_empty);
  g_autofree char *state = g_strdup_printf ("after a restart with %d stored sessions", b->sessions);
  add_latency_phase (json, full, state, &r->at_full);
  json_end_object (json);

  json_begin_object (json, "fill");
  add_int (json, "sessions_created", r->fill_ms->len);
  add_number (json, "seconds", r->fill_seconds);
  add_number (json, "sessions_per_second",
              r->fill_seconds > 0 ? r->fill_ms->len / r->fill_seconds : 0);
  if (r->fill_ms->len > 0)
    add_latency (json, "create_session_ms", r->fill_ms, FALSE);
  json_end_object (json);

  json_begin_object (json, "idle_rss_kb");
  add_spread (json, "after_start_empty", r->empty_starts.rss_kb, TRUE);
  g_autofree char *after_fill = g_strdup_printf ("after_creating_%d", b->sessions);
  json_begin_object (json, after_fill);
  add_int (json, "kb", (gint64) r->rss_after_fill_kb);
  add_number (json, "mb", r->rss_after_fill_kb / 1024.0);
  json_end_object (json);
  g_autofree char *after_restart = g_strdup_printf ("after_start_%s", full);
  add_spread (json, after_restart, r->full_starts.rss_kb, TRUE);
  json_end_object (json);

  add_targets (json, r);
  json_end_object (json);

  g_string_append_c (json->out, '\n');
  return g_string_free (json->out, FALSE);
}

/* ---- the run ---- */

static gboolean
prepare (Bench *b, GError **error)
{
  /* The fill must not stop at the default per-user quota; a short shutdown_timeout
   * keeps a misbehaving stop from stalling the run. */
  return bench_daemon_prepare (
      &b->d, b->tmp_parent, "[daemon]\nshutdown_timeout=5s\n\n[limits]\nmax_sessions_per_user=0\n",
      error);
}

static gboolean
run (Bench *b, Results *r, GError **error)
{
  guint count;

  if (!prepare (b, error))
    return FALSE;
  g_autofree char *state_dir = g_build_filename (b->d.dir, "state", NULL);

  progress ("%d starts with an empty state directory", b->starts);
  if (!measure_empty_starts (b, &r->empty_starts, error))
    return FALSE;

  progress ("%d calls each of Ping, CreateSession and GetHealth", b->calls);
  if (!start_daemon (&b->d, state_dir, NULL, error) || !read_version (&b->d, error)
      || !measure_latencies (b, &r->at_empty, error))
    return FALSE;

  progress ("filling up to %d sessions", b->sessions);
  if (!fill_sessions (b, r->fill_ms, &r->fill_seconds, error))
    return FALSE;
  settle ();
  /* RSS first: listing every session would add its reply buffers to the figure. */
  if (!read_rss_kb (b->d.daemon_pid, &r->rss_after_fill_kb, error)
      || !count_sessions (b, &count, error))
    return FALSE;
  if (count != b->sessions_created)
    return fail (error, "the daemon lists %u sessions after the fill, expected %u", count,
                 b->sessions_created);
  if (!stop_daemon (&b->d, error))
    return FALSE;

  progress ("%d starts with %u stored sessions", b->starts, b->sessions_created);
  if (!measure_full_starts (b, state_dir, &r->full_starts, error))
    return FALSE;

  progress ("%d calls each again, with %u stored sessions", b->calls, b->sessions_created);
  return start_daemon (&b->d, state_dir, NULL, error) && measure_latencies (b, &r->at_full, error)
         && stop_daemon (&b->d, error);
}

static gboolean
parse_arguments (Bench *b, int *argc, char ***argv, GError **error)
{
  g_auto (BenchDaemonArgs) args = { 0 };
  const GOptionEntry entries[] = {
    BENCH_OPTION_DAEMON (&args),
    BENCH_OPTION_DBUS_DAEMON (&args),
    BENCH_OPTION_BUILD_TYPE (&args),
    { "starts", 0, 0, G_OPTION_ARG_INT, &b->starts, "Starts per state (default 10)", "N" },
    { "calls", 0, 0, G_OPTION_ARG_INT, &b->calls,
      "Measured calls per method and phase (default 2000)", "N" },
    { "sessions", 0, 0, G_OPTION_ARG_INT, &b->sessions,
      "Sessions stored for the second phase (default 10000)", "N" },
    G_OPTION_ENTRY_NULL,
  };
  if (!bench_parse_options (entries,
                            "Measures smartragd's start-up time, bus call latency and idle "
                            "memory on a private bus,\nand prints one JSON document.",
                            argc, argv, error))
    return FALSE;
  if (b->starts < 1 || b->calls < 1 || b->sessions < 0)
    return fail (error, "--starts and --calls must be at least 1, --sessions at least 0");

  return bench_daemon_resolve (&b->d, &args, *argc, *argv, SMARTRAGD_PATH, NULL,
                               SMARTRAGD_BUILD_TYPE, &b->build_type, error);
}

int
main (int argc, char **argv)
{
  g_set_prgname ("bench-foundation");
  Bench bench = {
    .starts = 10,
    .calls = 2000,
    .sessions = 10000,
    .tmp_parent = (char *) g_get_tmp_dir (),
    .d = BENCH_DAEMON_INIT (READY_TIMEOUT_US, STOP_TIMEOUT_US),
  };
  g_auto (Results) results = { 0 };
  g_autoptr (GError) error = NULL;

  if (!parse_arguments (&bench, &argc, &argv, &error)) {
    g_printerr ("%s: %s\n", g_get_prgname (), error->message);
    return 2;
  }
  install_signal_handlers ();
  results_init (&results);

  bench.d.load_before = load_average ();
  gboolean ok = run (&bench, &results, &error);
  bench.d.load_after = load_average ();
  g_autofree char *json = ok ? report (&bench, &results) : NULL;
  bench_daemon_clear (&bench.d, FALSE);
  g_free (bench.build_type);

  if (!ok) {
    g_printerr ("%s: %s\n", g_get_prgname (), error->message);
    return 1;
  }
  fputs (json, stdout);
  return 0;
}
