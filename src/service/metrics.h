/* The daemon's metrics: what the service counts as it works, written for Prometheus. */
#pragma once

#include <glib.h>

#include "service/service.h"

G_BEGIN_DECLS

/* The Content-Type of what sr_metrics_render() returns. */
#define SR_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* smartrag_active_sessions counts the sessions used this recently: as long as an unused
 * session's vector index stays in memory. */
#define SR_METRICS_ACTIVE_WINDOW_US (15 * 60 * G_USEC_PER_SEC)

/* How a question ended, as smartrag_queries_total's label outcome says it. */
typedef enum {
  SR_QUERY_COMPLETE,
  SR_QUERY_INCOMPLETE, /* stopped after part of the answer */
  SR_QUERY_FAILED,     /* stopped before any of it */
  SR_QUERY_CANCELLED,  /* by its asker, or because the asker left */
} SrQueryOutcome;

/* sr_service_new() makes the service's own; see sr_service_metrics(). */
SrMetrics *sr_metrics_new (void);
void sr_metrics_free (SrMetrics *metrics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrMetrics, sr_metrics_free)

/* The observations may come from any thread. */

/* A question ended. @backend is the generator that answered or was to ("builtin",
 * "ollama", …); @seconds run from its arrival to its end, @first_token_seconds to the
 * first token of the answer (negative when none came). */
void sr_metrics_observe_query (SrMetrics *metrics, const char *backend, SrQueryOutcome outcome,
                               double seconds, double first_token_seconds);

/* A document's processing ended: @ready, or failed. @bytes (the stored file's size) and
 * @chunks are counted for ready documents only; @seconds is the worker's time on it. */
void sr_metrics_observe_ingest (SrMetrics *metrics, gboolean ready, guint64 bytes, guint chunks,
                                double seconds);

/* An HTTP request was answered. @route is the pattern of the route that served it
 * ("/api/v1/sessions/{id}"), never the path a client sent, or NULL when none matched;
 * methods other than the standard ones count as "other". */
void sr_metrics_observe_http (SrMetrics *metrics, const char *method, const char *route,
                              guint status, double seconds);

/* The whole exposition, for a reply of type SR_METRICS_CONTENT_TYPE: what @metrics
 * counted, and what @service holds now (sessions, documents, work under way), read
 * without waiting for anything. On @service's main loop, whose database connection it
 * uses; @service NULL leaves those out. */
char *sr_metrics_render (SrMetrics *metrics, SrService *service);

G_END_DECLS
