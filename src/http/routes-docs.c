/* GET /api/v1/openapi.json and /docs: the API's own description, for programs and people. */
#include "http/http-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "http/http-resources.h"

#define RESOURCE_PREFIX "/org/smartrag/http/"
#define JSON_TYPE       "application/json; charset=utf-8"
#define HTML_TYPE       "text/html; charset=utf-8"
/* The page and what it loads come from this origin alone; nothing runs inline. */
#define DOCS_POLICY                                                                                \
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "                  \
  "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

typedef struct {
  const char *name;
  const char *type;
} Asset;

static const Asset docs_assets[] = {
  { "docs.js", "text/javascript; charset=utf-8" },
  { "docs.css", "text/css; charset=utf-8" },
};

GBytes *
sr_http_resource (const char *name)
{
  g_autofree char *path = g_strconcat (RESOURCE_PREFIX, name, NULL);
  return g_resource_lookup_data (sr_http_resources_get_resource (), path,
                                 G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
}

/* If-None-Match compares weakly (RFC 9110, 13.1.2): "W/" is no difference here. */
static gboolean
etag_matches (const char *header, const char *etag)
{
  if (header == NULL)
    return FALSE;
  g_auto (GStrv) tags = g_strsplit (header, ",", -1);
  for (guint i = 0; tags[i] != NULL; i++) {
    const char *tag = g_strstrip (tags[i]);
    if (g_str_has_prefix (tag, "W/"))
      tag += 2;
    if (g_str_equal (tag, "*") || g_str_equal (tag, etag))
      return TRUE;
  }
  return FALSE;
}

/* The files are built in and hold nobody's data: caches may keep them, asking again
 * each time (no-cache) so that a new daemon's are seen at once, with 304 meanwhile. */
static void
reply_resource (SrHttpRequest *request, const char *name, const char *type)
{
  SoupServerMessage *message = sr_http_request_message (request);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (message);
  g_autoptr (GBytes) bytes = sr_http_resource (name);
  if (bytes == NULL) {
    sr_http_message_reply_code (message, SMARTRAG_ERROR_FAILED,
                                _ ("The built-in file %s is missing"), name);
    return;
  }
  g_autofree char *hash = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  g_autofree char *etag = g_strdup_printf ("\"%.32s\"", hash);
  soup_message_headers_replace (headers, "ETag", etag);
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  const char *wanted = soup_message_headers_get_one (
      soup_server_message_get_request_headers (message), "If-None-Match");
  if (etag_matches (wanted, etag)) {
    soup_server_message_set_status (message, SOUP_STATUS_NOT_MODIFIED, NULL);
    return;
  }
  soup_message_headers_set_content_type (headers, type, NULL);
  soup_message_body_append_bytes (soup_server_message_get_response_body (message), bytes);
  soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
}

static void
get_openapi (SrHttpRequest *request)
{
  reply_resource (request, "openapi.json", JSON_TYPE);
}

static void
get_docs (SrHttpRequest *request)
{
  soup_message_headers_replace (
      soup_server_message_get_response_headers (sr_http_request_message (request)),
      "Content-Security-Policy", DOCS_POLICY);
  reply_resource (request, "docs.html", HTML_TYPE);
}

static void
get_docs_asset (SrHttpRequest *request)
{
  const char *name = sr_http_request_param (request, "asset");
  for (guint i = 0; i < G_N_ELEMENTS (docs_assets); i++) {
    if (g_str_equal (docs_assets[i].name, name)) {
      reply_resource (request, name, docs_assets[i].type);
      return;
    }
  }
  g_autofree char *shown = g_utf8_make_valid (name, MIN (strlen (name), 100));
  g_autoptr (GError) error = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND,
                                          _ ("Nothing is served at /docs/%s"), shown);
  sr_http_reply_error (request, error);
}

const SrHttpRoute sr_http_docs_routes[] = {
  { "GET", "/api/v1/openapi.json", get_openapi, SR_HTTP_ROUTE_PUBLIC },
  { "GET", "/docs", get_docs, SR_HTTP_ROUTE_PUBLIC },
  { "GET", "/docs/{asset}", get_docs_asset, SR_HTTP_ROUTE_PUBLIC },
  SR_HTTP_ROUTES_END,
};
