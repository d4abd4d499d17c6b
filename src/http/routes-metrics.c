/* GET /metrics: the daemon's figures in Prometheus's text format. */
#include "http/routes.h"

#include "service/metrics.h"

/* Not public: the figures tell how busy the machine's users are. The Unix socket, or a
 * token over TCP, is enough; they are the same for every caller. */
static void
get_metrics (SrHttpRequest *request)
{
  SrService *service = sr_http_request_service (request);
  sr_http_reply_text (request, SOUP_STATUS_OK, SR_METRICS_CONTENT_TYPE,
                      sr_metrics_render (sr_service_metrics (service), service));
}

const SrHttpRoute sr_http_metrics_routes[] = {
  { "GET", "/metrics", get_metrics, 0, 0 },
  SR_HTTP_ROUTES_END,
};
