/* Prometheus text exposition (format 0.0.4): families of labelled counters, gauges, histograms. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  SR_METRIC_COUNTER,
  SR_METRIC_GAUGE,
  SR_METRIC_HISTOGRAM,
} SrMetricType;

/* What a family is; static tables, borrowed by the family for its life. */
typedef struct {
  const char *name;
  const char *help; /* a protocol text, not translated */
  SrMetricType type;
  const char *const *labels; /* NULL-terminated names; NULL for none */
  const double *bounds;      /* a histogram's upper bounds, ascending; +Inf is implied */
  guint n_bounds;
  guint max_series; /* label sets the family takes; 0: no limit */
} SrMetricInfo;

/* One metric and its samples, one per label set. Not thread-safe: its owner locks. */
typedef struct SrMetricFamily SrMetricFamily;

SrMetricFamily *sr_metric_family_new (const SrMetricInfo *info);
void sr_metric_family_free (SrMetricFamily *family);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrMetricFamily, sr_metric_family_free)

/* @values holds one value per label, in the order of the info's labels (NULL when there
 * are none). Each returns FALSE, and records nothing, for a label set beyond max_series:
 * a caller that passes unbounded values must not grow the exposition without end. */
/* Makes the label set's sample, at zero, before anything happened to it: a rate over a
 * series that appears only later misses its first increase. */
gboolean sr_metric_family_touch (SrMetricFamily *family, const char *const *values);
/* Counters and gauges: adds @amount (a counter's is never negative). */
gboolean sr_metric_family_add (SrMetricFamily *family, const char *const *values, double amount);
/* Gauges. */
gboolean sr_metric_family_set (SrMetricFamily *family, const char *const *values, double value);
/* Histograms: one observation, counted in the first bucket whose bound is at least @value;
 * NaN is ignored. */
gboolean sr_metric_family_observe (SrMetricFamily *family, const char *const *values, double value);

/* Appends "# HELP", "# TYPE" and every sample, label sets in order of their values; a
 * histogram's buckets cumulative, ending with le="+Inf", then _sum and _count. */
void sr_metric_family_render (SrMetricFamily *family, GString *out);

/* A family of one sample known at render time (a gauge read from elsewhere). */
void sr_metric_render_value (GString *out, const SrMetricInfo *info, const char *const *values,
                             double value);

/* @value as a label value between quotes: backslash, double quote and line feed escaped. */
void sr_metric_append_label_value (GString *out, const char *value);
/* @value as a sample value: integers without a fraction, others as short as they read back
 * exactly, and +Inf, -Inf, NaN. */
void sr_metric_append_number (GString *out, double value);

G_END_DECLS
