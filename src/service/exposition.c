/* Prometheus text exposition (format 0.0.4): families of labelled counters, gauges, histograms. */
#include "service/exposition.h"

#include <math.h>
#include <string.h>

typedef struct {
  char **values;    /* one per label */
  char *labels;     /* name="value",… as written, without braces; the series' key */
  double value;     /* a counter's or gauge's value; a histogram's sum */
  guint64 count;    /* a histogram's observations */
  guint64 *buckets; /* a histogram's, not cumulative: n_bounds + 1, the last above all */
} Series;

struct SrMetricFamily {
  const SrMetricInfo *info;
  guint n_labels;
  GHashTable *series; /* labels → Series */
};

static void
series_free (Series *series)
{
  g_strfreev (series->values);
  g_free (series->labels);
  g_free (series->buckets);
  g_free (series);
}

SrMetricFamily *
sr_metric_family_new (const SrMetricInfo *info)
{
  SrMetricFamily *family = g_new0 (SrMetricFamily, 1);
  family->info = info;
  family->n_labels = info->labels != NULL ? g_strv_length ((char **) info->labels) : 0;
  family->series
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) series_free);
  return family;
}

void
sr_metric_family_free (SrMetricFamily *family)
{
  if (family == NULL)
    return;
  g_hash_table_unref (family->series);
  g_free (family);
}

void
sr_metric_append_label_value (GString *out, const char *value)
{
  g_string_append_c (out, '"');
  for (const char *p = value; *p != '\0'; p++) {
    if (*p == '\\')
      g_string_append (out, "\\\\");
    else if (*p == '"')
      g_string_append (out, "\\\"");
    else if (*p == '\n')
      g_string_append (out, "\\n");
    else
      g_string_append_c (out, *p);
  }
  g_string_append_c (out, '"');
}

void
sr_metric_append_number (GString *out, double value)
{
  if (isnan (value)) {
    g_string_append (out, "NaN");
    return;
  }
  if (isinf (value)) {
    g_string_append (out, value > 0 ? "+Inf" : "-Inf");
    return;
  }
  /* Counts are whole numbers; within 2^53 a double holds them exactly. */
  if (value == floor (value) && fabs (value) < 9007199254740992.0) {
    g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) value);
    return;
  }
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (buffer, sizeof buffer, "%.15g", value);
  if (g_ascii_strtod (buffer, NULL) != value)
    g_ascii_formatd (buffer, sizeof buffer, "%.17g", value);
  g_string_append (out, buffer);
}

/* name="value",… : the key of a label set and what the samples show of it. */
static char *
labels_text (const SrMetricInfo *info, guint n_labels, const char *const *values)
{
  GString *text = g_string_new (NULL);
  for (guint i = 0; i < n_labels; i++) {
    if (i > 0)
      g_string_append_c (text, ',');
    g_string_append (text, info->labels[i]);
    g_string_append_c (text, '=');
    sr_metric_append_label_value (text, values[i] != NULL ? values[i] : "");
  }
  return g_string_free (text, FALSE);
}

/* The series of @values, made on first use; NULL past the family's limit. */
static Series *
series_for (SrMetricFamily *family, const char *const *values)
{
  g_autofree char *labels = labels_text (family->info, family->n_labels, values);
  Series *series = g_hash_table_lookup (family->series, labels);
  if (series != NULL)
    return series;
  guint limit = family->info->max_series;
  if (limit > 0 && g_hash_table_size (family->series) >= limit)
    return NULL;
  series = g_new0 (Series, 1);
  series->values = g_new0 (char *, family->n_labels + 1);
  for (guint i = 0; i < family->n_labels; i++)
    series->values[i] = g_strdup (values[i] != NULL ? values[i] : "");
  series->labels = g_steal_pointer (&labels);
  if (family->info->type == SR_METRIC_HISTOGRAM)
    series->buckets = g_new0 (guint64, family->info->n_bounds + 1);
  g_hash_table_insert (family->series, series->labels, series);
  return series;
}

gboolean
sr_metric_family_touch (SrMetricFamily *family, const char *const *values)
{
  return series_for (family, values) != NULL;
}

gboolean
sr_metric_family_add (SrMetricFamily *family, const char *const *values, double amount)
{
  g_return_val_if_fail (family->info->type != SR_METRIC_HISTOGRAM, FALSE);
  g_return_val_if_fail (family->info->type != SR_METRIC_COUNTER || amount >= 0, FALSE);
  Series *series = series_for (family, values);
  if (series == NULL)
    return FALSE;
  series->value += amount;
  return TRUE;
}

gboolean
sr_metric_family_set (SrMetricFamily *family, const char *const *values, double value)
{
  g_return_val_if_fail (family->info->type == SR_METRIC_GAUGE, FALSE);
  Series *series = series_for (family, values);
  if (series == NULL)
    return FALSE;
  series->value = value;
  return TRUE;
}

gboolean
sr_metric_family_observe (SrMetricFamily *family, const char *const *values, double value)
{
  const SrMetricInfo *info = family->info;
  g_return_val_if_fail (info->type == SR_METRIC_HISTOGRAM, FALSE);
  if (isnan (value))
    return TRUE;
  Series *series = series_for (family, values);
  if (series == NULL)
    return FALSE;
  guint i = 0;
  while (i < info->n_bounds && value > info->bounds[i])
    i++;
  series->buckets[i]++;
  series->count++;
  series->value += value;
  return TRUE;
}

static const char *
type_name (SrMetricType type)
{
  switch (type) {
  case SR_METRIC_COUNTER:
    return "counter";
  case SR_METRIC_GAUGE:
    return "gauge";
  case SR_METRIC_HISTOGRAM:
    return "histogram";
  }
  g_return_val_if_reached ("untyped");
}

static void
render_header (GString *out, const SrMetricInfo *info)
{
  g_string_append_printf (out, "# HELP %s ", info->name);
  /* HELP escapes backslash and line feed only. */
  for (const char *p = info->help; *p != '\0'; p++) {
    if (*p == '\\')
      g_string_append (out, "\\\\");
    else if (*p == '\n')
      g_string_append (out, "\\n");
    else
      g_string_append_c (out, *p);
  }
  g_string_append_printf (out, "\n# TYPE %s %s\n", info->name, type_name (info->type));
}

/* name{labels[,extra]} value: @suffix goes after the name, @extra after the labels. */
static void
render_sample (GString *out, const char *name, const char *suffix, const char *labels,
               const char *extra, double value)
{
  g_string_append (out, name);
  g_string_append (out, suffix);
  gboolean has_labels = *labels != '\0', has_extra = extra != NULL;
  if (has_labels || has_extra)
    g_string_append_printf (out, "{%s%s%s}", labels, has_labels && has_extra ? "," : "",
                            has_extra ? extra : "");
  g_string_append_c (out, ' ');
  sr_metric_append_number (out, value);
  g_string_append_c (out, '\n');
}

static void
render_histogram (GString *out, const SrMetricInfo *info, const Series *series)
{
  guint64 cumulative = 0;
  for (guint i = 0; i <= info->n_bounds; i++) {
    cumulative += series->buckets[i];
    g_autoptr (GString) le = g_string_new ("le=\"");
    if (i < info->n_bounds)
      sr_metric_append_number (le, info->bounds[i]);
    else
      g_string_append (le, "+Inf");
    g_string_append_c (le, '"');
    render_sample (out, info->name, "_bucket", series->labels, le->str, (double) cumulative);
  }
  render_sample (out, info->name, "_sum", series->labels, NULL, series->value);
  render_sample (out, info->name, "_count", series->labels, NULL, (double) series->count);
}

/* Label sets in order of their values, label by label: the same output for the same
 * samples, whatever order they came in. */
static gint
compare_series (gconstpointer a, gconstpointer b)
{
  const Series *x = *(Series *const *) a, *y = *(Series *const *) b;
  for (guint i = 0; x->values[i] != NULL; i++) {
    int order = strcmp (x->values[i], y->values[i]);
    if (order != 0)
      return order;
  }
  return 0;
}

void
sr_metric_family_render (SrMetricFamily *family, GString *out)
{
  const SrMetricInfo *info = family->info;
  render_header (out, info);
  /* A family without labels always has its one sample, zero until it changes. */
  if (family->n_labels == 0 && g_hash_table_size (family->series) == 0)
    series_for (family, NULL);
  g_autoptr (GPtrArray) all = g_ptr_array_sized_new (g_hash_table_size (family->series));
  GHashTableIter iter;
  gpointer series;
  g_hash_table_iter_init (&iter, family->series);
  while (g_hash_table_iter_next (&iter, NULL, &series))
    g_ptr_array_add (all, series);
  g_ptr_array_sort (all, compare_series);
  for (guint i = 0; i < all->len; i++) {
    const Series *one = all->pdata[i];
    if (info->type == SR_METRIC_HISTOGRAM)
      render_histogram (out, info, one);
    else
      render_sample (out, info->name, "", one->labels, NULL, one->value);
  }
}

void
sr_metric_render_value (GString *out, const SrMetricInfo *info, const char *const *values,
                        double value)
{
  g_autoptr (SrMetricFamily) family = sr_metric_family_new (info);
  if (info->type == SR_METRIC_GAUGE)
    sr_metric_family_set (family, values, value);
  else
    sr_metric_family_add (family, values, value);
  sr_metric_family_render (family, out);
}
