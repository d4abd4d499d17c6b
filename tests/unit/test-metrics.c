/* Unit tests for the metrics (src/service/metrics.c, exposition.c) and what feeds them. */
#include <fcntl.h>
#include <math.h>
#include <string.h>

#include "build-config.h"

#include "common/durations.h"
#include "common/errors.h"
#include "service/documents.h"
#include "service/exposition.h"
#include "service/metrics.h"
#include "service/queries.h"
#include "store/counts.h"
#include "unit-helpers.h"

static const SrCaller alice = { 1000, FALSE, ":1.10" };

static const SrLimits limits = {
  .max_title_bytes = 512,
  .max_context_bytes = 65536,
  .max_file_bytes = 64 * 1024,
  .max_text_bytes = 64 * 1024,
  .upload_idle_timeout_ms = 1000,
};

/* --- an exposition checker ------------------------------------------------------- */

static gboolean
is_name_char (char c, gboolean first)
{
  return g_ascii_isalpha (c) || c == '_' || c == ':' || (!first && g_ascii_isdigit (c));
}

static char *
read_name (const char **p)
{
  const char *start = *p;
  while (is_name_char (**p, *p == start))
    (*p)++;
  g_assert_cmpint (*p - start, >, 0);
  return g_strndup (start, (gsize) (*p - start));
}

/* A quoted label value at *p, unescaped; only \\, \" and \n may be escaped. */
static char *
read_label_value (const char **p)
{
  g_assert_cmpint (**p, ==, '"');
  GString *value = g_string_new (NULL);
  for ((*p)++; **p != '"'; (*p)++) {
    g_assert_cmpint (**p, !=, '\0');
    g_assert_cmpint (**p, !=, '\n');
    if (**p != '\\') {
      g_string_append_c (value, **p);
      continue;
    }
    (*p)++;
    g_assert_true (**p == '\\' || **p == '"' || **p == 'n');
    g_string_append_c (value, **p == 'n' ? '\n' : **p);
  }
  (*p)++;
  return g_string_free (value, FALSE);
}

static double
read_number (const char *text)
{
  if (g_str_equal (text, "+Inf"))
    return INFINITY;
  if (g_str_equal (text, "-Inf"))
    return -INFINITY;
  if (g_str_equal (text, "NaN"))
    return NAN;
  char *end = NULL;
  double value = g_ascii_strtod (text, &end);
  g_assert_true (end != text && *end == '\0');
  return value;
}

typedef struct {
  char *name;   /* as written: with _bucket, _sum or _count */
  char *series; /* the key: name and labels as written */
  char *group;  /* a histogram's series: the family and its labels but le */
  char *le;     /* NULL when there is none */
  double value;
} Sample;

static void
sample_clear (Sample *s)
{
  g_free (s->name);
  g_free (s->series);
  g_free (s->group);
  g_free (s->le);
}

/* name{label="value",…} value */
static void
parse_sample (const char *line, Sample *s)
{
  const char *p = line;
  s->name = read_name (&p);
  GString *group = g_string_new (NULL);
  if (*p == '{') {
    for (p++; *p != '}';) {
      g_autofree char *label = read_name (&p);
      g_assert_cmpint (*p++, ==, '=');
      g_autofree char *value = read_label_value (&p);
      if (g_str_equal (label, "le"))
        s->le = g_steal_pointer (&value);
      else
        g_string_append_printf (group, "%s=%s\x1f", label, value);
      g_assert_true (*p == ',' || *p == '}');
      if (*p == ',')
        p++;
    }
    p++;
  }
  s->series = g_strndup (line, (gsize) (p - line));
  s->group = g_string_free (group, FALSE);
  g_assert_cmpint (*p++, ==, ' ');
  s->value = read_number (p);
}

typedef struct {
  GHashTable *samples; /* series as written → double* */
  GHashTable *types;   /* family → "counter", "gauge" or "histogram" */
  GHashTable *buckets; /* histogram group → Buckets*: the last bucket seen */
  char *family;        /* the one whose samples come now */
} Checker;

typedef struct {
  double le;
  double count;
} Buckets;

static void
check_header (Checker *c, const char *line, GHashTable *helps)
{
  g_auto (GStrv) words = g_strsplit (line, " ", 4);
  g_assert_cmpuint (g_strv_length (words), >=, 4);
  const char *p = words[2];
  g_autofree char *name = read_name (&p);
  g_assert_cmpint (*p, ==, '\0');
  if (g_str_equal (words[1], "HELP")) {
    g_assert_false (g_hash_table_contains (helps, name));
    g_hash_table_add (helps, g_strdup (name));
    return;
  }
  g_assert_cmpstr (words[1], ==, "TYPE");
  /* HELP first, TYPE once, before the family's samples. */
  g_assert_true (g_hash_table_contains (helps, name));
  g_assert_false (g_hash_table_contains (c->types, name));
  g_assert_true (g_str_equal (words[3], "counter") || g_str_equal (words[3], "gauge")
                 || g_str_equal (words[3], "histogram"));
  g_hash_table_insert (c->types, g_strdup (name), g_strdup (words[3]));
  g_free (c->family);
  c->family = g_strdup (name);
}

static void
check_histogram_sample (Checker *c, const Sample *s, const char *suffix)
{
  g_autofree char *group = g_strconcat (c->family, "\x1f", s->group, NULL);
  Buckets *last = g_hash_table_lookup (c->buckets, group);
  if (g_str_equal (suffix, "_bucket")) {
    g_assert_nonnull (s->le);
    double le = read_number (s->le);
    if (last == NULL) {
      last = g_new0 (Buckets, 1);
      last->le = -INFINITY;
      g_hash_table_insert (c->buckets, g_steal_pointer (&group), last);
    }
    /* Bounds ascend; counts are cumulative. */
    g_assert_cmpfloat (le, >, last->le);
    g_assert_cmpfloat (s->value, >=, last->count);
    last->le = le;
    last->count = s->value;
    return;
  }
  g_assert_null (s->le);
  g_assert_nonnull (last);
  g_assert_true (isinf (last->le) && last->le > 0);
  if (g_str_equal (suffix, "_count"))
    g_assert_cmpfloat (s->value, ==, last->count);
}

static void
check_sample (Checker *c, const char *line)
{
  Sample s = { 0 };
  parse_sample (line, &s);
  g_assert_nonnull (c->family);
  const char *type = g_hash_table_lookup (c->types, c->family);
  if (g_str_equal (type, "histogram")) {
    /* A family's samples follow its TYPE line, before the next family's. */
    g_assert_true (g_str_has_prefix (s.name, c->family));
    const char *suffix = s.name + strlen (c->family);
    g_assert_true (g_str_equal (suffix, "_bucket") || g_str_equal (suffix, "_sum")
                   || g_str_equal (suffix, "_count"));
    check_histogram_sample (c, &s, suffix);
  } else {
    g_assert_cmpstr (s.name, ==, c->family);
    g_assert_null (s.le);
    if (g_str_equal (type, "counter"))
      g_assert_cmpfloat (s.value, >=, 0);
  }
  g_assert_false (g_hash_table_contains (c->samples, s.series));
  g_hash_table_insert (c->samples, g_strdup (s.series), g_memdup2 (&s.value, sizeof s.value));
  sample_clear (&s);
}

/* Checks @text as Prometheus would read it and returns its samples, by series as written. */
static GHashTable *
check_exposition (const char *text)
{
  Checker c = {
    .samples = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free),
    .types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free),
    .buckets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free),
  };
  g_autoptr (GHashTable) helps = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_assert_true (g_str_has_suffix (text, "\n"));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i + 1] != NULL; i++) {
    g_assert_cmpstr (lines[i], !=, "");
    if (g_str_has_prefix (lines[i], "#"))
      check_header (&c, lines[i], helps);
    else
      check_sample (&c, lines[i]);
  }
  /* Every family has both lines, and every histogram series ended with +Inf. */
  g_assert_cmpuint (g_hash_table_size (helps), ==, g_hash_table_size (c.types));
  GHashTableIter iter;
  Buckets *last;
  g_hash_table_iter_init (&iter, c.buckets);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &last))
    g_assert_true (isinf (last->le) && last->le > 0);
  g_hash_table_unref (c.types);
  g_hash_table_unref (c.buckets);
  g_free (c.family);
  return c.samples;
}

/* The sample's value; the test fails when there is none. */
static double
sample (GHashTable *samples, const char *series)
{
  const double *value = g_hash_table_lookup (samples, series);
  if (value == NULL)
    g_error ("no sample %s", series);
  return *value;
}

/* What the checker must refuse, lest it pass anything. */
static const char *const bad_expositions[] = {
  /* a sample before its family's TYPE */
  "# HELP a A\na 1\n",
  /* buckets that are not cumulative */
  "# HELP h H\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
  "h_sum 1\nh_count 1\n",
  /* no +Inf bucket */
  "# HELP h H\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
  /* a count other than the +Inf bucket's */
  "# HELP h H\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
  /* an escape the format does not have */
  "# HELP a A\n# TYPE a gauge\na{l=\"\\t\"} 1\n",
  /* a negative counter */
  "# HELP c C\n# TYPE c counter\nc -1\n",
  /* a value that is not a number */
  "# HELP a A\n# TYPE a gauge\na 1x\n",
  /* the same series twice */
  "# HELP a A\n# TYPE a gauge\na 1\na 2\n",
  /* no line feed at the end */
  "# HELP a A\n# TYPE a gauge\na 1",
};

static void
test_checker_refuses (gconstpointer data)
{
  guint i = GPOINTER_TO_UINT (data);
  if (g_test_subprocess ()) {
    g_autoptr (GHashTable) samples = check_exposition (bad_expositions[i]);
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
}

static char *
render_family (SrMetricFamily *family)
{
  GString *out = g_string_new (NULL);
  sr_metric_family_render (family, out);
  return g_string_free (out, FALSE);
}

/* --- the exposition itself ------------------------------------------------------ */

static char *
number (double value)
{
  GString *out = g_string_new (NULL);
  sr_metric_append_number (out, value);
  return g_string_free (out, FALSE);
}

static void
test_numbers (void)
{
  static const struct {
    double value;
    const char *text;
  } cases[] = {
    { 0, "0" },           { 3, "3" },
    { -2, "-2" },         { 0.5, "0.5" },
    { 0.1, "0.1" },       { 2.5e-7, "2.5e-07" },
    { 1e20, "1e+20" },    { 0.005, "0.005" },
    { INFINITY, "+Inf" }, { -INFINITY, "-Inf" },
    { NAN, "NaN" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *text = number (cases[i].value);
    g_assert_cmpstr (text, ==, cases[i].text);
  }
  /* What is not short reads back exactly all the same. */
  double third = 1.0 / 3.0;
  g_autofree char *text = number (third);
  g_assert_cmpfloat (g_ascii_strtod (text, NULL), ==, third);
}

static const char *const one_label[] = { "name", NULL };
static const char *const two_labels[] = { "kind", "name", NULL };

static void
test_label_escaping (void)
{
  static const SrMetricInfo info
      = { "t_total", "Escapes \\ and\nlines", SR_METRIC_COUNTER, one_label };
  g_autoptr (SrMetricFamily) family = sr_metric_family_new (&info);
  const char *nasty = "a\\b\"c\nd";
  const char *values[] = { nasty };
  g_assert_true (sr_metric_family_add (family, values, 1));
  g_autofree char *text = render_family (family);
  g_assert_cmpstr (text, ==,
                   "# HELP t_total Escapes \\\\ and\\nlines\n"
                   "# TYPE t_total counter\n"
                   "t_total{name=\"a\\\\b\\\"c\\nd\"} 1\n");
  g_autoptr (GHashTable) samples = check_exposition (text);
  g_assert_cmpuint (g_hash_table_size (samples), ==, 1);

  /* It reads back as it was. */
  const char *quoted = strchr (text + strlen ("# HELP t_total Escapes"), '{') + strlen ("{name=");
  g_autofree char *read = read_label_value (&quoted);
  g_assert_cmpstr (read, ==, nasty);
}

static void
test_counters_and_gauges (void)
{
  static const SrMetricInfo counter = { "t_events_total", "Events", SR_METRIC_COUNTER, two_labels };
  static const SrMetricInfo gauge = { "t_level", "Level", SR_METRIC_GAUGE };
  g_autoptr (SrMetricFamily) events = sr_metric_family_new (&counter);
  g_autoptr (SrMetricFamily) level = sr_metric_family_new (&gauge);

  /* Before anything happened: a family without labels shows zero, one with labels nothing. */
  g_autofree char *empty = render_family (events);
  g_assert_cmpstr (empty, ==, "# HELP t_events_total Events\n# TYPE t_events_total counter\n");
  g_autofree char *zero = render_family (level);
  g_assert_cmpstr (zero, ==, "# HELP t_level Level\n# TYPE t_level gauge\nt_level 0\n");

  const char *b_x[] = { "b", "x" }, *a_y[] = { "a", "y" }, *a_x[] = { "a", "x" };
  sr_metric_family_add (events, b_x, 1);
  sr_metric_family_add (events, a_y, 2.5);
  sr_metric_family_add (events, b_x, 2);
  sr_metric_family_touch (events, a_x);
  sr_metric_family_set (level, NULL, 7);
  sr_metric_family_add (level, NULL, -2);
  g_autofree char *text = render_family (events);
  /* Label sets in order of their values, whatever order they came in. */
  g_assert_cmpstr (text, ==,
                   "# HELP t_events_total Events\n"
                   "# TYPE t_events_total counter\n"
                   "t_events_total{kind=\"a\",name=\"x\"} 0\n"
                   "t_events_total{kind=\"a\",name=\"y\"} 2.5\n"
                   "t_events_total{kind=\"b\",name=\"x\"} 3\n");
  g_autofree char *five = render_family (level);
  g_assert_cmpstr (five, ==, "# HELP t_level Level\n# TYPE t_level gauge\nt_level 5\n");
}

static void
test_histogram (void)
{
  static const double bounds[] = { 0.01, 0.1, 1 };
  static const SrMetricInfo info
      = { "t_seconds", "Durations", SR_METRIC_HISTOGRAM, one_label, bounds, G_N_ELEMENTS (bounds) };
  g_autoptr (SrMetricFamily) family = sr_metric_family_new (&info);
  const char *fast[] = { "fast" }, *slow[] = { "slow" };
  /* A bound is inclusive: 0.1 counts in le="0.1". */
  sr_metric_family_observe (family, fast, 0.001);
  sr_metric_family_observe (family, fast, 0.1);
  sr_metric_family_observe (family, fast, NAN);
  sr_metric_family_observe (family, slow, 0.5);
  sr_metric_family_observe (family, slow, 250);
  g_autofree char *text = render_family (family);
  g_assert_cmpstr (text, ==,
                   "# HELP t_seconds Durations\n"
                   "# TYPE t_seconds histogram\n"
                   "t_seconds_bucket{name=\"fast\",le=\"0.01\"} 1\n"
                   "t_seconds_bucket{name=\"fast\",le=\"0.1\"} 2\n"
                   "t_seconds_bucket{name=\"fast\",le=\"1\"} 2\n"
                   "t_seconds_bucket{name=\"fast\",le=\"+Inf\"} 2\n"
                   "t_seconds_sum{name=\"fast\"} 0.101\n"
                   "t_seconds_count{name=\"fast\"} 2\n"
                   "t_seconds_bucket{name=\"slow\",le=\"0.01\"} 0\n"
                   "t_seconds_bucket{name=\"slow\",le=\"0.1\"} 0\n"
                   "t_seconds_bucket{name=\"slow\",le=\"1\"} 1\n"
                   "t_seconds_bucket{name=\"slow\",le=\"+Inf\"} 2\n"
                   "t_seconds_sum{name=\"slow\"} 250.5\n"
                   "t_seconds_count{name=\"slow\"} 2\n");
  g_autoptr (GHashTable) samples = check_exposition (text);
  g_assert_cmpuint (g_hash_table_size (samples), ==, 12);

  /* Without labels, le is the only one. */
  static const SrMetricInfo bare
      = { "t_bare_seconds", "Bare", SR_METRIC_HISTOGRAM, NULL, bounds, 1 };
  g_autoptr (SrMetricFamily) plain = sr_metric_family_new (&bare);
  sr_metric_family_observe (plain, NULL, 3);
  g_autofree char *plain_text = render_family (plain);
  g_assert_cmpstr (plain_text, ==,
                   "# HELP t_bare_seconds Bare\n"
                   "# TYPE t_bare_seconds histogram\n"
                   "t_bare_seconds_bucket{le=\"0.01\"} 0\n"
                   "t_bare_seconds_bucket{le=\"+Inf\"} 1\n"
                   "t_bare_seconds_sum 3\n"
                   "t_bare_seconds_count 1\n");
}

static void
test_series_limit (void)
{
  static const SrMetricInfo info
      = { "t_total", "Limited", SR_METRIC_COUNTER, one_label, NULL, 0, 2 };
  g_autoptr (SrMetricFamily) family = sr_metric_family_new (&info);
  const char *a[] = { "a" }, *b[] = { "b" }, *c[] = { "c" };
  g_assert_true (sr_metric_family_add (family, a, 1));
  g_assert_true (sr_metric_family_add (family, b, 1));
  g_assert_false (sr_metric_family_add (family, c, 1));
  /* The label sets it has still count. */
  g_assert_true (sr_metric_family_add (family, a, 1));
  g_autofree char *text = render_family (family);
  g_assert_cmpstr (text, ==,
                   "# HELP t_total Limited\n# TYPE t_total counter\n"
                   "t_total{name=\"a\"} 2\nt_total{name=\"b\"} 1\n");
}

/* Everything SrMetrics writes on its own, checked, and HTTP's labels kept bounded. */
static void
test_render_and_http (void)
{
  g_autoptr (SrMetrics) metrics = sr_metrics_new ();
  sr_metrics_observe_http (metrics, "GET", "/api/v1/sessions/{id}", 200, 0.002);
  sr_metrics_observe_http (metrics, "GET", "/api/v1/sessions/{id}", 404, 0.001);
  sr_metrics_observe_http (metrics, "BREW", NULL, 405, 0.0005);
  sr_metrics_observe_http (metrics, "GET", "/api/v1/sessions/{id}", 200, 0.3);
  sr_metrics_observe_ingest (metrics, FALSE, 100, 0, 0.02);
  sr_metrics_observe_query (metrics, "builtin", SR_QUERY_FAILED, 0.01, -1);

  g_autofree char *text = sr_metrics_render (metrics, NULL);
  g_autoptr (GHashTable) samples = check_exposition (text);
  g_assert_cmpfloat (sample (samples, "smartrag_build_info{version=\"" PACKAGE_VERSION "\"}"), ==,
                     1);
  const char *route = "method=\"GET\",route=\"/api/v1/sessions/{id}\"";
  g_autofree char *ok = g_strdup_printf ("smartrag_http_requests_total{%s,status=\"200\"}", route);
  g_autofree char *missing
      = g_strdup_printf ("smartrag_http_requests_total{%s,status=\"404\"}", route);
  g_autofree char *count
      = g_strdup_printf ("smartrag_http_request_duration_seconds_count{%s}", route);
  g_autofree char *fast
      = g_strdup_printf ("smartrag_http_request_duration_seconds_bucket{%s,le=\"0.0025\"}", route);
  g_assert_cmpfloat (sample (samples, ok), ==, 2);
  g_assert_cmpfloat (sample (samples, missing), ==, 1);
  g_assert_cmpfloat (sample (samples, count), ==, 3);
  g_assert_cmpfloat (sample (samples, fast), ==, 2);
  /* A method a client made up, and a path no route matched, do not become labels. */
  g_assert_cmpfloat (
      sample (samples,
              "smartrag_http_requests_total{method=\"other\",route=\"unmatched\",status=\"405\"}"),
      ==, 1);

  g_assert_cmpfloat (sample (samples, "smartrag_ingest_documents_total{outcome=\"ready\"}"), ==, 0);
  g_assert_cmpfloat (sample (samples, "smartrag_ingest_documents_total{outcome=\"failed\"}"), ==,
                     1);
  g_assert_cmpfloat (sample (samples, "smartrag_ingest_bytes_total"), ==, 0);
  /* Known outcomes show before they happen, at zero. */
  g_assert_cmpfloat (sample (samples, "smartrag_ingest_duration_seconds_count{outcome=\"ready\"}"),
                     ==, 0);
  g_assert_cmpfloat (
      sample (samples, "smartrag_queries_total{backend=\"builtin\",outcome=\"failed\"}"), ==, 1);
  /* Only complete answers have a duration; no token came, so no time to it either. */
  g_assert_false (g_hash_table_contains (
      samples, "smartrag_query_duration_seconds_count{backend=\"builtin\"}"));
  g_assert_false (g_hash_table_contains (
      samples, "smartrag_query_first_token_seconds_count{backend=\"builtin\"}"));

  g_assert_cmpfloat (sample (samples, "process_resident_memory_bytes"), >, 0);
  g_assert_cmpfloat (sample (samples, "process_open_fds"), >, 2);
  double started = sample (samples, "process_start_time_seconds");
  g_assert_cmpfloat (started, >, 1.7e9);
  /* Read from the kernel (boot time in whole seconds, clock ticks since): not later than
   * now, give or take the rounding. */
  g_assert_cmpfloat (started, <=, (double) sr_now_us () / G_USEC_PER_SEC + 1);
  g_assert_cmpfloat (sample (samples, "process_cpu_seconds_total"), >=, 0);

  /* The same samples give the same text. */
  g_autofree char *again = sr_metrics_render (metrics, NULL);
  g_auto (GStrv) first_lines = g_strsplit (text, "\n", -1);
  g_auto (GStrv) again_lines = g_strsplit (again, "\n", -1);
  g_assert_cmpuint (g_strv_length (first_lines), ==, g_strv_length (again_lines));
  for (guint i = 0; first_lines[i] != NULL; i++)
    if (!g_str_has_prefix (first_lines[i], "process_"))
      g_assert_cmpstr (first_lines[i], ==, again_lines[i]);
}

/* Observations from several threads at once all count. */
static gpointer
observe_many (gpointer data)
{
  for (guint i = 0; i < 1000; i++)
    sr_metrics_observe_ingest (data, TRUE, 10, 2, 0.05);
  return NULL;
}

static void
test_threads (void)
{
  g_autoptr (SrMetrics) metrics = sr_metrics_new ();
  GThread *threads[4];
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("observer", observe_many, metrics);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_autofree char *text = sr_metrics_render (metrics, NULL);
  g_autoptr (GHashTable) samples = check_exposition (text);
  g_assert_cmpfloat (sample (samples, "smartrag_ingest_documents_total{outcome=\"ready\"}"), ==,
                     4000);
  g_assert_cmpfloat (sample (samples, "smartrag_ingest_bytes_total"), ==, 40000);
  g_assert_cmpfloat (sample (samples, "smartrag_ingest_chunks_total"), ==, 8000);
}

/* --- what feeds them: a service ---------------------------------------------------- */

/* One answer asked of the scripted generator; the test says each token and the end. */
typedef struct {
  SrTokenFunc token;
  SrGenerateDone done;
  gpointer user_data;
  gboolean ended;
} Job;

typedef struct {
  SrGenerator parent;
  GPtrArray *jobs; /* Job*, in the order asked */
} Scripted;

static void
job_end (Job *job, SmartragError code, gboolean with_error)
{
  g_assert_false (job->ended);
  job->ended = TRUE;
  SrGenerateStats stats = { "scripted-1", 7, 3, NULL };
  g_autoptr (GError) error
      = with_error ? g_error_new_literal (SMARTRAG_ERROR, code, "it stopped") : NULL;
  job->done (&stats, error, job->user_data);
}

static void
scripted_generate (SrGenerator *self, const SrGenerateRequest *request, GCancellable *cancellable,
                   SrTokenFunc token, SrGenerateDone done, gpointer user_data)
{
  Job *job = g_new0 (Job, 1);
  job->token = token;
  job->done = done;
  job->user_data = user_data;
  g_ptr_array_add (((Scripted *) self)->jobs, job);
}

/* As the interface asks: what is still being answered ends, cancelled. */
static void
scripted_free (SrGenerator *self)
{
  GPtrArray *jobs = ((Scripted *) self)->jobs;
  for (guint i = 0; i < jobs->len; i++)
    if (!((Job *) jobs->pdata[i])->ended)
      job_end (jobs->pdata[i], SMARTRAG_ERROR_CANCELLED, TRUE);
  g_ptr_array_unref (jobs);
  g_free (self);
}

static const SrGeneratorClass scripted_class = { "scripted", scripted_generate, scripted_free };

typedef struct {
  char *dir;
  SrService *service;
  char *session;
  Scripted *generator; /* owned by the service */
  guint ended;         /* questions that ended, as their askers heard */
} Fixture;

static void
on_finished (const char *query_id, const char *answer, GPtrArray *hits, const SrAnswerStats *stats,
             gpointer user_data)
{
  ((Fixture *) user_data)->ended++;
}

static void
on_failed (const char *query_id, const GError *error, const char *answer, gpointer user_data)
{
  ((Fixture *) user_data)->ended++;
}

static const SrAskListener listener = { NULL, NULL, on_finished, on_failed };

static void
set_up (Fixture *f, gconstpointer data)
{
  f->dir = sr_test_make_tmpdir ();
  f->service = sr_test_service_with_session (f->dir, &limits, &alice, &f->session);
}

static void
start_documents (Fixture *f)
{
  SrPipelineConfig pipeline = {
    .helper_path = SR_EXTRACT_HELPER,
    .chunking = SR_CHUNK_OPTIONS_DEFAULT,
    .embedder = sr_embedder_builtin_new (0),
  };
  sr_sandbox_limits_init (&pipeline.sandbox);
  sr_service_start_documents (f->service, &pipeline, 1);
}

static void
set_up_queries (Fixture *f, gconstpointer data)
{
  set_up (f, data);
  start_documents (f);
  f->generator = g_new0 (Scripted, 1);
  f->generator->parent.klass = &scripted_class;
  f->generator->parent.model = g_strdup ("scripted-1");
  f->generator->jobs = g_ptr_array_new_with_free_func (g_free);
  const SrQueryLimits query_limits = { 16 << 10, 4, 2, 4 };
  sr_service_start_queries (f->service, &f->generator->parent, &query_limits);
}

static void
iterate_until (gboolean (*done) (Fixture *f, gconstpointer data), Fixture *f, gconstpointer data)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (!done (f, data)) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_main_context_iteration (NULL, TRUE);
  }
}

static gboolean
no_work (Fixture *f, gconstpointer data)
{
  return sr_service_work_in_flight (f->service) == 0;
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  /* A search still on its thread would report to the next test's loop. */
  iterate_until (no_work, f, NULL);
  g_clear_pointer (&f->service, sr_service_free);
  sr_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->session);
}

static GHashTable *
scrape (Fixture *f)
{
  g_autofree char *text = sr_metrics_render (sr_service_metrics (f->service), f->service);
  return check_exposition (text);
}

/* Returns the query's id. */
static char *
ask (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  SrAskOptions options = SR_ASK_OPTIONS_INIT;
  char *id = sr_queries_ask (sr_service_queries (f->service), &alice, f->session,
                             "What is in the box?", &options, &listener, f, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (id);
  return id;
}

static gboolean
has_jobs (Fixture *f, gconstpointer n)
{
  return f->generator->jobs->len >= GPOINTER_TO_UINT (n);
}

static gboolean
has_ended (Fixture *f, gconstpointer n)
{
  return f->ended >= GPOINTER_TO_UINT (n);
}

/* The next question reaches the generator; its id goes to @id unless that is NULL. */
static Job *
ask_and_wait (Fixture *f, char **id)
{
  guint n = f->generator->jobs->len;
  g_autofree char *asked = ask (f);
  if (id != NULL)
    *id = g_steal_pointer (&asked);
  iterate_until (has_jobs, f, GUINT_TO_POINTER (n + 1));
  return f->generator->jobs->pdata[n];
}

static void
test_query_complete (Fixture *f, gconstpointer data)
{
  Job *job = ask_and_wait (f, NULL);
  g_autoptr (GHashTable) before = scrape (f);
  g_assert_cmpfloat (sample (before, "smartrag_queries_running"), ==, 1);
  job->token ("A red ", job->user_data);
  job->token ("ball.", job->user_data);
  job_end (job, 0, FALSE);
  iterate_until (has_ended, f, GUINT_TO_POINTER (1));

  g_autoptr (GHashTable) samples = scrape (f);
  g_assert_cmpfloat (
      sample (samples, "smartrag_queries_total{backend=\"scripted\",outcome=\"complete\"}"), ==, 1);
  g_assert_cmpfloat (sample (samples, "smartrag_queries_running"), ==, 0);
  g_assert_cmpfloat (
      sample (samples, "smartrag_query_duration_seconds_count{backend=\"scripted\"}"), ==, 1);
  g_assert_cmpfloat (
      sample (samples, "smartrag_query_first_token_seconds_count{backend=\"scripted\"}"), ==, 1);
  /* The first token came before the end. */
  g_assert_cmpfloat (
      sample (samples, "smartrag_query_first_token_seconds_sum{backend=\"scripted\"}"), <=,
      sample (samples, "smartrag_query_duration_seconds_sum{backend=\"scripted\"}"));
  g_assert_false (g_hash_table_contains (
      samples, "smartrag_queries_total{backend=\"scripted\",outcome=\"failed\"}"));
}

static void
test_query_cancelled (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  /* Cancelled while the generator answers, after a token: a person's cancel all the same,
   * though the conversation keeps the answer as incomplete. */
  g_autofree char *id = NULL;
  Job *job = ask_and_wait (f, &id);
  job->token ("Half ", job->user_data);
  g_assert_true (
      sr_queries_cancel (sr_service_queries (f->service), &alice, f->session, id, &error));
  g_assert_no_error (error);
  job_end (job, SMARTRAG_ERROR_CANCELLED, TRUE);
  iterate_until (has_ended, f, GUINT_TO_POINTER (1));

  g_autoptr (GHashTable) samples = scrape (f);
  g_assert_cmpfloat (
      sample (samples, "smartrag_queries_total{backend=\"scripted\",outcome=\"cancelled\"}"), ==,
      1);
  g_assert_false (g_hash_table_contains (
      samples, "smartrag_queries_total{backend=\"scripted\",outcome=\"incomplete\"}"));
  g_assert_false (g_hash_table_contains (
      samples, "smartrag_query_duration_seconds_count{backend=\"scripted\"}"));
  g_assert_cmpfloat (
      sample (samples, "smartrag_query_first_token_seconds_count{backend=\"scripted\"}"), ==, 1);
}

static void
test_query_failures (Fixture *f, gconstpointer data)
{
  Job *partial = ask_and_wait (f, NULL);
  partial->token ("Some", partial->user_data);
  job_end (partial, SMARTRAG_ERROR_BACKEND_UNAVAILABLE, TRUE);
  Job *silent = ask_and_wait (f, NULL);
  job_end (silent, SMARTRAG_ERROR_BACKEND_UNAVAILABLE, TRUE);
  iterate_until (has_ended, f, GUINT_TO_POINTER (2));

  g_autoptr (GHashTable) samples = scrape (f);
  g_assert_cmpfloat (
      sample (samples, "smartrag_queries_total{backend=\"scripted\",outcome=\"incomplete\"}"), ==,
      1);
  g_assert_cmpfloat (
      sample (samples, "smartrag_queries_total{backend=\"scripted\",outcome=\"failed\"}"), ==, 1);
  g_assert_cmpfloat (
      sample (samples, "smartrag_query_first_token_seconds_count{backend=\"scripted\"}"), ==, 1);
}

/* --- documents and sessions -------------------------------------------------------- */

static void
on_added (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;
  *out = g_object_ref (result);
}

static SrDocumentRecord *
add_finish (GAsyncResult **result)
{
  g_autoptr (GError) error = NULL;
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  SrDocumentRecord *doc = sr_documents_add_finish (*result, &error);
  g_assert_no_error (error);
  g_clear_object (result);
  return doc;
}

static SrDocumentRecord *
add_text (SrService *service, const char *session, const char *text)
{
  g_autoptr (GAsyncResult) result = NULL;
  sr_documents_add_text_async (service, &alice, session, "", text, on_added, &result);
  return add_finish (&result);
}

static SrDocumentRecord *
add_file (Fixture *f, const char *name, const char *contents)
{
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  sr_test_write_file (path, contents, -1);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_autoptr (GAsyncResult) result = NULL;
  sr_documents_add_fd_async (f->service, &alice, f->session, fd, name, on_added, &result);
  SrDocumentRecord *doc = add_finish (&result);
  close (fd);
  return doc;
}

static gboolean
ingested (Fixture *f, gconstpointer n)
{
  g_autoptr (GHashTable) samples = scrape (f);
  return sample (samples, "smartrag_ingest_documents_total{outcome=\"ready\"}")
             + sample (samples, "smartrag_ingest_documents_total{outcome=\"failed\"}")
         >= GPOINTER_TO_UINT (n);
}

static void
test_ingestion (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  start_documents (f);
  const char *text = "The museum opens at nine on Sundays. Tickets cost five euros.";
  g_autoptr (SrDocumentRecord) good = add_text (f->service, f->session, text);
  /* Accepted as bytes, refused by the reader. */
  g_autoptr (SrDocumentRecord) bad = add_file (f, "cut.pdf", "%PDF-1.7\n1 0 obj << /Type /Catalog");
  iterate_until (ingested, f, GUINT_TO_POINTER (2));

  g_autoptr (SrDocumentRecord) ready
      = sr_store_document_get (sr_service_store (f->service), good->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ready->state, ==, "ready");
  g_assert_cmpuint (ready->chunk_count, >=, 1);
  g_autoptr (GHashTable) samples = scrape (f);
  g_assert_cmpfloat (sample (samples, "smartrag_ingest_documents_total{outcome=\"ready\"}"), ==, 1);
  g_assert_cmpfloat (sample (samples, "smartrag_ingest_documents_total{outcome=\"failed\"}"), ==,
                     1);
  g_assert_cmpfloat (sample (samples, "smartrag_ingest_bytes_total"), ==, strlen (text));
  g_assert_cmpfloat (sample (samples, "smartrag_ingest_chunks_total"), ==, ready->chunk_count);
  g_assert_cmpfloat (sample (samples, "smartrag_ingest_duration_seconds_count{outcome=\"ready\"}"),
                     ==, 1);
  g_assert_cmpfloat (sample (samples, "smartrag_ingest_duration_seconds_count{outcome=\"failed\"}"),
                     ==, 1);
  g_assert_cmpfloat (sample (samples, "smartrag_documents_total{state=\"ready\"}"), ==, 1);
  g_assert_cmpfloat (sample (samples, "smartrag_documents_total{state=\"failed\"}"), ==, 1);
  g_assert_cmpfloat (sample (samples, "smartrag_documents_total{state=\"stored\"}"), ==, 0);
  g_assert_cmpfloat (sample (samples, "smartrag_ingest_waiting_documents"), ==, 0);
}

static SrSessionRecord *
create_session (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  SrSessionSpec spec = SR_SESSION_SPEC_INIT;
  SrSessionRecord *s = sr_sessions_create (f->service, &alice, &spec, &error);
  g_assert_no_error (error);
  return s;
}

/* Sessions and documents as the database has them, whoever changed it. */
static void
test_database_gauges (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) second = create_session (f);
  g_autoptr (SrSessionRecord) third = create_session (f);
  /* Not processed: documents are not started, so they stay stored. */
  g_autoptr (SrDocumentRecord) one = add_text (f->service, f->session, "One text.");
  g_autoptr (SrDocumentRecord) two = add_text (f->service, second->id, "Another text.");
  g_autoptr (SrDocumentRecord) three = add_text (f->service, second->id, "A third text.");

  g_autoptr (GHashTable) samples = scrape (f);
  g_assert_cmpfloat (sample (samples, "smartrag_sessions"), ==, 3);
  g_assert_cmpfloat (sample (samples, "smartrag_active_sessions"), ==, 3);
  g_assert_cmpfloat (sample (samples, "smartrag_documents_total{state=\"stored\"}"), ==, 3);
  for (guint i = 1; i < SR_DOCUMENT_N_STATES; i++) {
    g_autofree char *series
        = g_strdup_printf ("smartrag_documents_total{state=\"%s\"}", sr_document_states[i]);
    g_assert_cmpfloat (sample (samples, series), ==, 0);
  }
  g_assert_cmpfloat (sample (samples, "smartrag_queries_running"), ==, 0);

  /* A session unused for longer than the window is no longer active. */
  sqlite3 *db = sr_store_db (sr_service_store (f->service));
  g_autofree char *sql
      = g_strdup_printf ("UPDATE sessions SET last_active = %" G_GINT64_FORMAT " WHERE id = '%s'",
                         sr_now_us () - SR_METRICS_ACTIVE_WINDOW_US - 1, third->id);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  g_autoptr (GHashTable) later = scrape (f);
  g_assert_cmpfloat (sample (later, "smartrag_sessions"), ==, 3);
  g_assert_cmpfloat (sample (later, "smartrag_active_sessions"), ==, 2);

  /* A deleted session takes its documents with it, and the counts follow. */
  g_assert_true (sr_sessions_delete (f->service, &alice, second->id, &error));
  g_assert_no_error (error);
  g_autoptr (GHashTable) after = scrape (f);
  g_assert_cmpfloat (sample (after, "smartrag_sessions"), ==, 2);
  g_assert_cmpfloat (sample (after, "smartrag_active_sessions"), ==, 1);
  g_assert_cmpfloat (sample (after, "smartrag_documents_total{state=\"stored\"}"), ==, 1);
  g_assert_true (sr_documents_remove (f->service, &alice, f->session, one->id, &error));
  g_assert_no_error (error);
  g_autoptr (GHashTable) none = scrape (f);
  g_assert_cmpfloat (sample (none, "smartrag_documents_total{state=\"stored\"}"), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (bad_expositions); i++) {
    g_autofree char *path = g_strdup_printf ("/metrics/checker-refuses/%u", i);
    g_test_add_data_func (path, GUINT_TO_POINTER (i), test_checker_refuses);
  }
  g_test_add_func ("/metrics/numbers", test_numbers);
  g_test_add_func ("/metrics/label-escaping", test_label_escaping);
  g_test_add_func ("/metrics/counters-and-gauges", test_counters_and_gauges);
  g_test_add_func ("/metrics/histogram", test_histogram);
  g_test_add_func ("/metrics/series-limit", test_series_limit);
  g_test_add_func ("/metrics/render-and-http", test_render_and_http);
  g_test_add_func ("/metrics/threads", test_threads);
  g_test_add ("/metrics/query-complete", Fixture, NULL, set_up_queries, test_query_complete,
              tear_down);
  g_test_add ("/metrics/query-cancelled", Fixture, NULL, set_up_queries, test_query_cancelled,
              tear_down);
  g_test_add ("/metrics/query-failures", Fixture, NULL, set_up_queries, test_query_failures,
              tear_down);
  g_test_add ("/metrics/ingestion", Fixture, NULL, set_up, test_ingestion, tear_down);
  g_test_add ("/metrics/database-gauges", Fixture, NULL, set_up, test_database_gauges, tear_down);
  return g_test_run ();
}
