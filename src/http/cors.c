/* CORS: which web pages may call the API; their preflights are answered before any route. */
#include "http/http-private.h"

#include <glib/gi18n.h>
#include <string.h>

/* What a page may send besides the headers every request may carry. */
#define ALLOWED_HEADERS "Authorization, Content-Type, If-None-Match"
/* What a page may read of a reply besides the headers every reply shows. */
#define EXPOSED_HEADERS "Location, Retry-After, ETag, Allow, WWW-Authenticate"
/* Seconds a browser keeps a preflight's answer; Chromium keeps it 2 hours at most. */
#define MAX_AGE "600"

void
sr_http_cors_init (SrHttp *http, const SrHttpOptions *options)
{
  if (options->cors_origins == NULL)
    return;
  g_auto (GStrv) origins = g_strsplit_set (options->cors_origins, " ,", -1);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  guint n = 0;
  for (guint i = 0; origins[i] != NULL; i++) {
    if (*origins[i] == '\0')
      continue;
    g_strv_builder_add (builder, origins[i]);
    n++;
  }
  if (n > 0)
    http->cors_origins = g_strv_builder_end (builder);
}

static gboolean
is_allowed (SrHttp *http, const char *origin)
{
  return origin != NULL && g_strv_contains ((const char *const *) http->cors_origins, origin);
}

static gboolean
is_preflight (SoupServerMessage *message, const char *origin)
{
  return origin != NULL && g_str_equal (soup_server_message_get_method (message), "OPTIONS")
         && soup_message_headers_get_one (soup_server_message_get_request_headers (message),
                                          "Access-Control-Request-Method")
                != NULL;
}

/* FALSE for a path nothing is served at: that is routed, and answered 404, as ever. */
static gboolean
answer_preflight (SrHttpRequest *request, const char *origin)
{
  SoupServerMessage *message = request->message;
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (message);
  SrHttpMatch match;
  g_autofree char *allow = NULL;

  /* No route takes OPTIONS, so the answer lists every method the path takes. */
  if (sr_http_routes_match ("OPTIONS", sr_http_message_path (message), &match, &allow)
      != SR_HTTP_NO_METHOD) {
    sr_http_match_clear (&match);
    return FALSE;
  }
  if (!is_allowed (request->http, origin)) {
    g_autofree char *shown = g_utf8_make_valid (origin, MIN (strlen (origin), 200));
    sr_http_message_reply_code (message, SMARTRAG_ERROR_ACCESS_DENIED,
                                _ ("Web pages from %s may not use this API; [http] cors_origins "
                                   "lists the origins that may"),
                                shown);
    soup_message_body_set_accumulate (soup_server_message_get_request_body (message), FALSE);
    return TRUE;
  }
  soup_message_headers_replace (headers, "Access-Control-Allow-Origin", origin);
  soup_message_headers_replace (headers, "Access-Control-Allow-Methods", allow);
  soup_message_headers_replace (headers, "Access-Control-Allow-Headers", ALLOWED_HEADERS);
  soup_message_headers_replace (headers, "Access-Control-Max-Age", MAX_AGE);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_server_message_set_status (message, SOUP_STATUS_NO_CONTENT, NULL);
  return TRUE;
}

/* "*" is never sent: each allowed origin is named back to itself, and no credentials
 * (cookies) are involved, since the API knows callers by token or socket alone. */
gboolean
sr_http_cors (SrHttpRequest *request)
{
  SrHttp *http = request->http;
  if (http->cors_origins == NULL)
    return FALSE;
  SoupServerMessage *message = request->message;
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (message);
  const char *origin
      = soup_message_headers_get_one (soup_server_message_get_request_headers (message), "Origin");

  /* Caches along the way must keep apart what differs by origin. */
  soup_message_headers_append (headers, "Vary", "Origin");
  if (is_preflight (message, origin))
    return answer_preflight (request, origin);
  if (is_allowed (http, origin)) {
    soup_message_headers_replace (headers, "Access-Control-Allow-Origin", origin);
    soup_message_headers_replace (headers, "Access-Control-Expose-Headers", EXPOSED_HEADERS);
  }
  return FALSE;
}
