/* Unit tests for the HTTP face's parts that need no server: routes, JSON in and out. */
#include <math.h>

#include "common/errors.h"
#include "http/http-private.h"
#include "http/json-body.h"
#include "http/json-scan.h"
#include "http/json-writer.h"
#include "http/url-query.h"

static void
test_routes_list (void)
{
  g_auto (GStrv) routes = sr_http_routes_list ();
  static const char *const expected[] = {
    "GET /health",
    "POST /api/v1/sessions",
    "GET /api/v1/sessions",
    "GET /api/v1/sessions/{id}",
    "PATCH /api/v1/sessions/{id}",
    "DELETE /api/v1/sessions/{id}",
    "POST /api/v1/query",
    "POST /api/v1/query/stream",
    "GET /ws/query/{session_id}",
    "GET /api/v1/sessions/{id}/messages",
    "GET /api/v1/sessions/{id}/messages/search",
    "GET /api/v1/sessions/{id}/export",
  };
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_true (g_strv_contains ((const char *const *) routes, expected[i]));
  /* One route per method and pattern, each pattern absolute. */
  for (guint i = 0; routes[i] != NULL; i++) {
    g_assert_nonnull (strstr (routes[i], " /"));
    for (guint j = 0; j < i; j++)
      g_assert_cmpstr (routes[i], !=, routes[j]);
  }
}

static void
test_routes_match (void)
{
  SrHttpMatch match;
  g_autofree char *allow = NULL;

  g_assert_cmpint (sr_http_routes_match ("GET", "/api/v1/sessions/abc", &match, &allow), ==,
                   SR_HTTP_MATCHED);
  g_assert_cmpstr (match.route->pattern, ==, "/api/v1/sessions/{id}");
  g_assert_cmpuint (match.n_params, ==, 1);
  g_assert_cmpstr (match.names[0], ==, "id");
  g_assert_cmpstr (match.values[0], ==, "abc");
  sr_http_match_clear (&match);

  g_assert_cmpint (sr_http_routes_match ("PUT", "/api/v1/sessions", &match, &allow), ==,
                   SR_HTTP_NO_METHOD);
  g_assert_cmpstr (allow, ==, "POST, GET");
  g_assert_null (match.route);

  static const char *const nowhere[]
      = { "/", "", "/api/v1/sessions/", "/api/v1/sessions//", "/health/", "/api/v1/sessions/a/b" };
  for (guint i = 0; i < G_N_ELEMENTS (nowhere); i++)
    g_assert_cmpint (sr_http_routes_match ("GET", nowhere[i], &match, &allow), ==, SR_HTTP_NO_PATH);
}

static char *
written (void (*write) (SrJsonWriter *))
{
  g_auto (SrJsonWriter) writer = { NULL };
  sr_json_writer_init (&writer);
  write (&writer);
  return sr_json_writer_finish (&writer, NULL);
}

static void
write_values (SrJsonWriter *w)
{
  sr_json_writer_begin_object (w);
  sr_json_writer_member_string (w, "s", "q\"b\\n\nt\tc\x01é");
  sr_json_writer_member_string (w, "bad", "a\xff");
  sr_json_writer_member_int (w, "i", G_MININT64);
  sr_json_writer_member_uint (w, "u", G_MAXUINT64);
  sr_json_writer_key (w, "d");
  sr_json_writer_begin_array (w);
  sr_json_writer_double (w, 0.1);
  sr_json_writer_double (w, 1e300);
  sr_json_writer_double (w, NAN);
  sr_json_writer_double (w, 2);
  sr_json_writer_end_array (w);
  sr_json_writer_key (w, "b");
  sr_json_writer_boolean (w, TRUE);
  sr_json_writer_member_raw (w, "r", "{\"x\":1.50}");
  sr_json_writer_key (w, "e");
  sr_json_writer_begin_object (w);
  sr_json_writer_end_object (w);
  sr_json_writer_key (w, "n");
  sr_json_writer_null (w);
  sr_json_writer_end_object (w);
}

static void
write_variant (SrJsonWriter *w)
{
  g_autoptr (GVariant) value = g_variant_ref_sink (g_variant_new_parsed (
      "{'db': <{'status': <'ok'>, 'n': <uint32 5>, 't': <uint64 7>, 'ok': <true>}>, "
      "'list': <[int16 -1, 2]>, 'pair': <(byte 0x01, 1.5)>, 'none': <@ms nothing>}"));
  sr_json_writer_variant (w, value);
}

static void
test_json_writer (void)
{
  g_autofree char *values = written (write_values);
  g_assert_cmpstr (values, ==,
                   "{\"s\":\"q\\\"b\\\\n\\nt\\tc\\u0001é\",\"bad\":\"a\uFFFD\","
                   "\"i\":-9223372036854775808,"
                   "\"u\":18446744073709551615,\"d\":[0.1,1e+300,null,2],\"b\":true,"
                   "\"r\":{\"x\":1.50},\"e\":{},\"n\":null}\n");
  g_autofree char *variant = written (write_variant);
  g_assert_cmpstr (variant, ==,
                   "{\"db\":{\"status\":\"ok\",\"n\":5,\"t\":7,\"ok\":true},\"list\":[-1,2],"
                   "\"pair\":[1,1.5],\"none\":null}\n");
}

static void
assert_scan_error (const char *text, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) members = sr_json_scan_object (text, strlen (text), 4, &error);
  g_test_message ("%s", text);
  g_assert_null (members);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
test_json_scan (void)
{
  const char *text = " {\"a\" : [1, {\"b\": null}] ,\"c\":\"x\\u00e9\",\"d\":-0.5e+3,\"e\":true}  ";
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) members = sr_json_scan_object (text, strlen (text), 4, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (members->len, ==, 4);
  static const struct {
    const char *name, *value;
    SrJsonKind kind;
  } expected[] = {
    { "a", "[1, {\"b\": null}]", SR_JSON_ARRAY },
    { "c", "\"x\\u00e9\"", SR_JSON_STRING },
    { "d", "-0.5e+3", SR_JSON_NUMBER },
    { "e", "true", SR_JSON_BOOLEAN },
  };
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++) {
    const SrJsonMember *member = members->pdata[i];
    g_assert_cmpstr (member->name, ==, expected[i].name);
    g_assert_cmpint (member->kind, ==, expected[i].kind);
    g_autofree char *value = g_strndup (text + member->offset, member->length);
    g_assert_cmpstr (value, ==, expected[i].value);
  }

  assert_scan_error ("{\"a\":[[[[]]]]}", "Invalid JSON in the request body at byte 8: nested "
                                         "deeper than 4 levels");
  assert_scan_error ("[]", "The request body must be a JSON object, not an array");
  assert_scan_error ("{\"a\":-}", "Invalid JSON in the request body at byte 6: expected a digit");
  assert_scan_error ("{\"a\":1.}", "Invalid JSON in the request body at byte 7: expected a digit "
                                   "after the decimal point");
  assert_scan_error ("{\"a\":1e}", "Invalid JSON in the request body at byte 7: expected a digit "
                                   "in the exponent");
  assert_scan_error ("{\"a\":[1 2]}", "Invalid JSON in the request body at byte 8: expected ',' "
                                      "or ']'");
  assert_scan_error ("{\"a\":\"\\u12\"}", "Invalid JSON in the request body at byte 6: \\u needs "
                                          "four hexadecimal digits");
  assert_scan_error ("{\"a\":\"\\ud800\\u0041\"}", "Invalid JSON in the request body at byte 6: "
                                                   "a \\u escape is half of a surrogate pair");
  assert_scan_error ("{", "Invalid JSON in the request body at byte 1: expected a field name in "
                          "double quotes");
  assert_scan_error ("{\"a\":nul}", "Invalid JSON in the request body at byte 5: expected a value");
}

static SrJsonBody *
body_of (const char *text)
{
  g_autoptr (GBytes) bytes = g_bytes_new (text, strlen (text));
  g_autoptr (GError) error = NULL;
  SrJsonBody *body = sr_json_body_parse (bytes, &error);
  g_assert_no_error (error);
  return body;
}

static void
test_json_body (void)
{
  g_autoptr (SrJsonBody) body
      = body_of ("{\"t\":\"a\\u00e9\\ud83d\\ude00\",\"o\":{\"n\":1.50},\"s\":\"2h\",\"x\":60}");
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *object = NULL;
  gint64 seconds = -1;
  static const char *const some[] = { "t", "o", NULL };

  g_assert_true (sr_json_body_get_string (body, "t", &text, &error));
  g_assert_cmpstr (text, ==, "aé😀");
  g_assert_true (sr_json_body_get_object (body, "o", &object, &error));
  g_assert_cmpstr (object, ==, "{\"n\":1.50}");
  g_assert_true (sr_json_body_get_seconds (body, "s", &seconds, &error));
  g_assert_cmpint (seconds, ==, 7200);
  g_assert_true (sr_json_body_get_seconds (body, "x", &seconds, &error));
  g_assert_cmpint (seconds, ==, 60);
  g_assert_true (sr_json_body_get_string (body, "missing", &text, &error));
  g_assert_cmpstr (text, ==, "aé😀");
  g_assert_true (sr_json_body_has (body, "o"));
  g_assert_false (sr_json_body_has (body, "missing"));
  g_assert_no_error (error);

  g_assert_false (sr_json_body_check_fields (body, some, "TEST", &error));
  g_assert_cmpstr (error->message, ==, "Unknown field 's'; TEST takes t, o");
  g_clear_error (&error);
  g_assert_false (sr_json_body_get_object (body, "t", &object, &error));
  g_assert_cmpstr (error->message, ==, "Invalid field 't': expected a JSON object, got a string");

  g_autoptr (SrJsonBody) empty = sr_json_body_parse (NULL, NULL);
  g_assert_false (sr_json_body_has (empty, "t"));
}

static void
test_json_body_values (void)
{
  g_autoptr (SrJsonBody) body = body_of ("{\"k\":7,\"big\":4294967296,\"f\":1.5,\"e\":1e2,"
                                         "\"neg\":-1,\"b\":false,\"inf\":1e400,\"s\":\"x\"}");
  g_autoptr (GError) error = NULL;
  guint64 count = 99;
  double number = 0;
  gboolean flag = TRUE;

  g_assert_true (sr_json_body_get_uint (body, "k", G_MAXUINT, &count, &error));
  g_assert_cmpuint (count, ==, 7);
  g_assert_true (sr_json_body_get_uint (body, "missing", G_MAXUINT, &count, &error));
  g_assert_cmpuint (count, ==, 7);
  g_assert_true (sr_json_body_get_number (body, "f", &number, &error));
  g_assert_cmpfloat (number, ==, 1.5);
  g_assert_true (sr_json_body_get_number (body, "neg", &number, &error));
  g_assert_cmpfloat (number, ==, -1.0);
  g_assert_true (sr_json_body_get_boolean (body, "b", &flag, &error));
  g_assert_false (flag);
  g_assert_true (sr_json_body_require (body, "s", &error));
  g_assert_no_error (error);

  static const char *const not_counts[] = { "big", "f", "e", "neg" };
  for (guint i = 0; i < G_N_ELEMENTS (not_counts); i++) {
    g_assert_false (sr_json_body_get_uint (body, not_counts[i], G_MAXUINT, &count, &error));
    g_assert_nonnull (strstr (error->message, "expected a whole number from 0 to 4294967295"));
    g_clear_error (&error);
  }
  g_assert_false (sr_json_body_get_uint (body, "s", G_MAXUINT, &count, &error));
  g_assert_cmpstr (error->message, ==, "Invalid field 's': expected a whole number, got a string");
  g_clear_error (&error);
  g_assert_false (sr_json_body_get_number (body, "inf", &number, &error));
  g_assert_cmpstr (error->message, ==, "Invalid field 'inf': expected a number of ordinary size");
  g_clear_error (&error);
  g_assert_false (sr_json_body_get_boolean (body, "k", &flag, &error));
  g_assert_cmpstr (error->message, ==, "Invalid field 'k': expected true or false, got a number");
  g_clear_error (&error);
  g_assert_false (sr_json_body_require (body, "query", &error));
  g_assert_cmpstr (error->message, ==, "Missing field 'query'");
}

static void
test_url_query (void)
{
  static const char *const allowed[] = { "q", "limit", NULL };
  g_autoptr (GError) error = NULL;
  guint64 limit = 0;

  g_autoptr (GHashTable) params
      = sr_url_query_parse ("q=caf%C3%A9+au+lait&&limit=20&", allowed, "TEST", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_hash_table_lookup (params, "q"), ==, "café au lait");
  g_assert_true (sr_url_query_get_uint (params, "limit", 1000, &limit, &error));
  g_assert_cmpuint (limit, ==, 20);
  g_autoptr (GHashTable) none = sr_url_query_parse (NULL, allowed, "TEST", &error);
  g_assert_cmpuint (g_hash_table_size (none), ==, 0);
  g_autoptr (GHashTable) bare = sr_url_query_parse ("q", allowed, "TEST", &error);
  g_assert_cmpstr (g_hash_table_lookup (bare, "q"), ==, "");
  g_assert_false (sr_url_query_get_uint (bare, "q", 10, &limit, &error));
  g_assert_cmpstr (error->message, ==,
                   "Invalid parameter 'q': expected a whole number from 0 to 10");
  g_clear_error (&error);

  static const char *const wrong[][2] = {
    { "page=2", "Unknown parameter 'page'; TEST takes q, limit" },
    { "q=a&q=b", "Parameter 'q' is given twice" },
    { "q=%FF", "Invalid parameter 'q': it is not UTF-8 text" },
    { "q=%00", "Invalid query string in the URL: a bad %-escape" },
    { "q=%zz", "Invalid query string in the URL: a bad %-escape" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (wrong); i++) {
    g_assert_null (sr_url_query_parse (wrong[i][0], allowed, "TEST", &error));
    g_assert_cmpstr (error->message, ==, wrong[i][1]);
    g_clear_error (&error);
  }
}

static void
test_websocket_prefixes (void)
{
  g_auto (GStrv) prefixes = sr_http_websocket_prefixes ();
  g_assert_cmpuint (g_strv_length (prefixes), ==, 1);
  g_assert_cmpstr (prefixes[0], ==, "/ws/query");
}

static void
test_format_time (void)
{
  g_autofree char *epoch = sr_http_format_time (0);
  g_autofree char *some = sr_http_format_time (G_GINT64_CONSTANT (1700000000123456));
  g_assert_cmpstr (epoch, ==, "1970-01-01T00:00:00.000000Z");
  g_assert_cmpstr (some, ==, "2023-11-14T22:13:20.123456Z");
}

#define SECOND G_USEC_PER_SEC

static void
test_rate_limiter_burst_and_rate (void)
{
  g_autoptr (SrRateLimiter) limiter = sr_rate_limiter_new (2, 3);
  gint64 now = 1000 * SECOND;
  guint retry = 0;

  /* A full bucket takes a burst at once, then the steady rate. */
  for (guint i = 0; i < 3; i++)
    g_assert_true (sr_rate_limiter_take (limiter, "t", now, &retry));
  g_assert_false (sr_rate_limiter_take (limiter, "t", now, &retry));
  g_assert_cmpuint (retry, ==, 1); /* half a second, rounded up */
  g_assert_false (sr_rate_limiter_take (limiter, "t", now + SECOND / 2 - 1, &retry));
  g_assert_true (sr_rate_limiter_take (limiter, "t", now + SECOND / 2, &retry));
  g_assert_false (sr_rate_limiter_take (limiter, "t", now + SECOND / 2, &retry));
  /* A refused request costs nothing: the next one goes as soon as it would have. */
  g_assert_true (sr_rate_limiter_take (limiter, "t", now + SECOND, &retry));
  /* After a pause as long as the burst takes to pay off, the burst is there again. */
  now += 10 * SECOND;
  for (guint i = 0; i < 3; i++)
    g_assert_true (sr_rate_limiter_take (limiter, "t", now, &retry));
  g_assert_false (sr_rate_limiter_take (limiter, "t", now, &retry));
}

static void
test_rate_limiter_keys_apart (void)
{
  g_autoptr (SrRateLimiter) limiter = sr_rate_limiter_new (1, 1);
  gint64 now = 5 * SECOND;
  guint retry = 0;

  g_assert_true (sr_rate_limiter_take (limiter, "a", now, &retry));
  g_assert_false (sr_rate_limiter_take (limiter, "a", now, &retry));
  g_assert_true (sr_rate_limiter_take (limiter, "b", now, &retry));
  g_assert_cmpuint (sr_rate_limiter_size (limiter), ==, 2);
}

static void
test_rate_limiter_retry_after (void)
{
  /* One request a second with a burst of 10: the 11th waits a whole second, and a
   * caller that keeps knocking does not push its turn further away. */
  g_autoptr (SrRateLimiter) limiter = sr_rate_limiter_new (1, 10);
  guint retry = 0;
  for (guint i = 0; i < 10; i++)
    g_assert_true (sr_rate_limiter_take (limiter, "t", 0, &retry));
  for (guint i = 0; i < 100; i++) {
    g_assert_false (sr_rate_limiter_take (limiter, "t", i * 1000, &retry));
    g_assert_cmpuint (retry, ==, 1);
  }
  g_autoptr (SrRateLimiter) fast = sr_rate_limiter_new (1000000, 1);
  g_assert_true (sr_rate_limiter_take (fast, "t", 0, &retry));
  g_assert_true (sr_rate_limiter_take (fast, "t", 1, &retry));
}

static void
test_rate_limiter_forgets_idle_callers (void)
{
  g_autoptr (SrRateLimiter) limiter = sr_rate_limiter_new (10, 5);
  guint retry = 0;
  for (guint i = 0; i < 1000; i++) {
    g_autofree char *key = g_strdup_printf ("token-%u", i);
    g_assert_true (sr_rate_limiter_take (limiter, key, SECOND, &retry));
  }
  g_assert_cmpuint (sr_rate_limiter_size (limiter), ==, 1000);
  /* Buckets filled up again are dropped at the next sweep, a minute on. */
  g_assert_true (sr_rate_limiter_take (limiter, "busy", 120 * SECOND, &retry));
  g_assert_cmpuint (sr_rate_limiter_size (limiter), ==, 1);
  /* One still paying off its burst stays through a sweep. */
  for (guint i = 0; i < 5; i++)
    g_assert_true (sr_rate_limiter_take (limiter, "busy", 180 * SECOND - 1, &retry));
  g_assert_true (sr_rate_limiter_take (limiter, "other", 180 * SECOND, &retry));
  g_assert_cmpuint (sr_rate_limiter_size (limiter), ==, 2);
  g_assert_false (sr_rate_limiter_take (limiter, "busy", 180 * SECOND, &retry));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http/routes/list", test_routes_list);
  g_test_add_func ("/http/routes/match", test_routes_match);
  g_test_add_func ("/http/json/writer", test_json_writer);
  g_test_add_func ("/http/json/scan", test_json_scan);
  g_test_add_func ("/http/json/body", test_json_body);
  g_test_add_func ("/http/json/body-values", test_json_body_values);
  g_test_add_func ("/http/url-query", test_url_query);
  g_test_add_func ("/http/routes/websocket-prefixes", test_websocket_prefixes);
  g_test_add_func ("/http/format-time", test_format_time);
  g_test_add_func ("/http/rate-limiter/burst-and-rate", test_rate_limiter_burst_and_rate);
  g_test_add_func ("/http/rate-limiter/keys-apart", test_rate_limiter_keys_apart);
  g_test_add_func ("/http/rate-limiter/retry-after", test_rate_limiter_retry_after);
  g_test_add_func ("/http/rate-limiter/forgets-idle-callers",
                   test_rate_limiter_forgets_idle_callers);
  return g_test_run ();
}
