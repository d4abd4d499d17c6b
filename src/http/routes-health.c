/* GET /health: the report of GetHealth, for monitors that speak HTTP. */
#include "http/routes.h"

#include "http/http-private.h"
#include "service/health.h"

/* /health is what monitors and load balancers poll, possibly thousands of times a
 * second; a report this young answers them all. GetHealth, asked by people, is fresh. */
#define HEALTH_MAX_AGE_US (250 * 1000)

static GBytes *
write_body (SrHealthStatus status, GVariant *components)
{
  g_auto (SrJsonWriter) writer = { NULL };
  sr_json_writer_init (&writer);
  sr_json_writer_begin_object (&writer);
  sr_json_writer_member_string (&writer, "status", sr_health_status_name (status));
  sr_json_writer_key (&writer, "components");
  sr_json_writer_variant (&writer, components);
  sr_json_writer_end_object (&writer);
  gsize length;
  char *json = sr_json_writer_finish (&writer, &length);
  return g_bytes_new_take (json, length);
}

static void
get_health (SrHttpRequest *request)
{
  SrHttp *http = request->http;
  g_autoptr (GVariant) components = NULL;
  SrHealthStatus status
      = sr_health_check_recent (sr_http_request_service (request), HEALTH_MAX_AGE_US, &components);

  /* The same report is the same reply: it is written once, not once per poll. */
  if (components != http->health_components) {
    g_clear_pointer (&http->health_components, g_variant_unref);
    g_clear_pointer (&http->health_body, g_bytes_unref);
    http->health_components = g_variant_ref (components);
    http->health_body = write_body (status, components);
  }
  /* A load balancer or monitor reads the status code alone. */
  sr_http_reply_json_bytes (
      request, status == SR_HEALTH_FAILING ? SOUP_STATUS_SERVICE_UNAVAILABLE : SOUP_STATUS_OK,
      http->health_body);
}

const SrHttpRoute sr_http_health_routes[] = {
  { "GET", "/health", get_health, SR_HTTP_ROUTE_PUBLIC },
  SR_HTTP_ROUTES_END,
};
