/* Who may send how many requests: the rates of API tokens and of local uids, and the 429. */
#include "http/http-private.h"

#include <glib/gi18n.h>

/* A token that leaks is used from anywhere, so tokens get a limit of their own; a local
 * script that runs away is limited too, per uid, by a separate and usually higher one. */
void
sr_http_throttle_init (SrHttp *http, const SrHttpOptions *options)
{
  http->rates = (SrHttpOptions){
    .rate_limit = options->rate_limit,
    .rate_limit_burst = MAX (options->rate_limit_burst, 1),
    .local_rate_limit = options->local_rate_limit,
    .local_rate_limit_burst = MAX (options->local_rate_limit_burst, 1),
  };
  if (http->rates.rate_limit > 0)
    http->token_rates = sr_rate_limiter_new (http->rates.rate_limit, http->rates.rate_limit_burst);
  if (http->rates.local_rate_limit > 0)
    http->local_rates
        = sr_rate_limiter_new (http->rates.local_rate_limit, http->rates.local_rate_limit_burst);
}

static gboolean
refuse_token (SrHttp *http, guint retry_after, GError **error)
{
  return sr_error_set (error, SMARTRAG_ERROR_RATE_LIMITED,
                       _ ("Too many requests with this API token: it may make %u a second, %u "
                          "at once ([http] rate_limit, rate_limit_burst); try again in %u s"),
                       http->rates.rate_limit, http->rates.rate_limit_burst, retry_after);
}

static gboolean
refuse_uid (SrHttp *http, guint32 uid, guint retry_after, GError **error)
{
  return sr_error_set (error, SMARTRAG_ERROR_RATE_LIMITED,
                       _ ("Too many requests from uid %u over the Unix socket: it may make %u a "
                          "second, %u at once ([http] local_rate_limit, local_rate_limit_burst); "
                          "try again in %u s"),
                       uid, http->rates.local_rate_limit, http->rates.local_rate_limit_burst,
                       retry_after);
}

gboolean
sr_http_throttle (SrHttpRequest *request, GError **error)
{
  SrHttp *http = request->http;
  gboolean by_token = request->token_id != NULL;
  SrRateLimiter *limiter = by_token ? http->token_rates : http->local_rates;
  if (!request->identified || limiter == NULL)
    return TRUE;

  g_autofree char *uid = by_token ? NULL : g_strdup_printf ("%u", request->caller.uid);
  guint retry_after;
  if (sr_rate_limiter_take (limiter, by_token ? request->token_id : uid, g_get_monotonic_time (),
                            &retry_after))
    return TRUE;
  g_autofree char *seconds = g_strdup_printf ("%u", retry_after);
  soup_message_headers_replace (soup_server_message_get_response_headers (request->message),
                                "Retry-After", seconds);
  g_debug ("HTTP: %s is over its request rate", request->caller.peer);
  return by_token ? refuse_token (http, retry_after, error)
                  : refuse_uid (http, request->caller.uid, retry_after, error);
}
