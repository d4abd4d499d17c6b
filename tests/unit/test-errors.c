/* Unit tests for common/errors: each code's D-Bus name, HTTP status and slug. */
#include "common/errors.h"

#include <gio/gio.h>

/* The contract other parts and the clients rely on; a change here is an API change. */
static const struct {
  SmartragError code;
  const char *dbus_name;
  guint http_status;
  const char *slug;
} expected[] = {
  { SMARTRAG_ERROR_FAILED, "org.freedesktop.DBus.Error.Failed", 500, "internal" },
  { SMARTRAG_ERROR_INVALID_ARGS, "org.freedesktop.DBus.Error.InvalidArgs", 400,
    "invalid_argument" },
  { SMARTRAG_ERROR_ACCESS_DENIED, "org.freedesktop.DBus.Error.AccessDenied", 403, "forbidden" },
  { SMARTRAG_ERROR_UNKNOWN_OBJECT, "org.freedesktop.DBus.Error.AccessDenied", 404, "not_found" },
  { SMARTRAG_ERROR_NOT_FOUND, "org.smartrag.Error.NotFound", 404, "not_found" },
  { SMARTRAG_ERROR_TOO_LARGE, "org.smartrag.Error.TooLarge", 413, "too_large" },
  { SMARTRAG_ERROR_UNSUPPORTED_FORMAT, "org.smartrag.Error.UnsupportedFormat", 415,
    "unsupported_format" },
  { SMARTRAG_ERROR_BUSY, "org.smartrag.Error.Busy", 429, "busy" },
  { SMARTRAG_ERROR_BACKEND_UNAVAILABLE, "org.smartrag.Error.BackendUnavailable", 503,
    "backend_unavailable" },
  { SMARTRAG_ERROR_CANCELLED, "org.smartrag.Error.Cancelled", 409, "cancelled" },
  { SMARTRAG_ERROR_SHUTTING_DOWN, "org.smartrag.Error.ShuttingDown", 503, "shutting_down" },
  { SMARTRAG_ERROR_UNAUTHENTICATED, "org.freedesktop.DBus.Error.AccessDenied", 401,
    "unauthenticated" },
  { SMARTRAG_ERROR_METHOD_NOT_ALLOWED, "org.freedesktop.DBus.Error.UnknownMethod", 405,
    "method_not_allowed" },
  { SMARTRAG_ERROR_RATE_LIMITED, "org.smartrag.Error.Busy", 429, "rate_limited" },
  { SMARTRAG_ERROR_HEADERS_TOO_LARGE, "org.smartrag.Error.TooLarge", 431, "headers_too_large" },
};

static void
test_table_complete (void)
{
  /* A new code must get a row above, and with it a deliberate D-Bus name and status. */
  g_assert_cmpuint (G_N_ELEMENTS (expected), ==, SMARTRAG_ERROR_N_CODES);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpint (expected[i].code, ==, i);
}

static void
test_every_code_mapped (void)
{
  for (int code = 0; code < SMARTRAG_ERROR_N_CODES; code++) {
    const char *name = smartrag_error_dbus_name (code);
    const char *slug = smartrag_error_slug (code);
    guint status = smartrag_error_http_status (code);

    g_test_message ("code %d", code);
    g_assert_nonnull (name);
    /* Error names follow the rules of interface names. */
    g_assert_true (g_dbus_is_interface_name (name));
    g_assert_true (g_str_has_prefix (name, "org.freedesktop.DBus.Error.")
                   || g_str_has_prefix (name, "org.smartrag.Error."));
    g_assert_cmpuint (status, >=, 400);
    g_assert_cmpuint (status, <=, 599);
    g_assert_nonnull (slug);
    g_assert_cmpstr (slug, !=, "");
    for (const char *p = slug; *p != '\0'; p++)
      g_assert_true (g_ascii_islower (*p) || *p == '_');
  }
}

static void
test_mappings (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++) {
    g_test_message ("code %d", expected[i].code);
    g_assert_cmpstr (smartrag_error_dbus_name (expected[i].code), ==, expected[i].dbus_name);
    g_assert_cmpuint (smartrag_error_http_status (expected[i].code), ==, expected[i].http_status);
    g_assert_cmpstr (smartrag_error_slug (expected[i].code), ==, expected[i].slug);
  }
}

/* An id that does not exist and one owned by someone else must be indistinguishable. */
static void
test_unknown_object_hides_existence (void)
{
  g_assert_cmpstr (smartrag_error_dbus_name (SMARTRAG_ERROR_UNKNOWN_OBJECT), ==,
                   "org.freedesktop.DBus.Error.AccessDenied");
  g_assert_cmpuint (smartrag_error_http_status (SMARTRAG_ERROR_UNKNOWN_OBJECT), ==,
                    smartrag_error_http_status (SMARTRAG_ERROR_NOT_FOUND));
  g_assert_cmpstr (smartrag_error_slug (SMARTRAG_ERROR_UNKNOWN_OBJECT), ==,
                   smartrag_error_slug (SMARTRAG_ERROR_NOT_FOUND));
}

static void
test_code_of_error (void)
{
  for (int code = 0; code < SMARTRAG_ERROR_N_CODES; code++) {
    g_autoptr (GError) error = g_error_new_literal (SMARTRAG_ERROR, code, "x");
    g_assert_cmpint (smartrag_error_code (error), ==, code);
  }
}

static void
test_foreign_domains_fail (void)
{
  g_autoptr (GError) io = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "x");
  g_autoptr (GError) file = g_error_new_literal (G_FILE_ERROR, G_FILE_ERROR_ACCES, "x");
  g_autoptr (GError) keyfile = g_error_new_literal (G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE, "x");
  g_autoptr (GError) dbus = g_error_new_literal (G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED, "x");

  g_assert_cmpint (smartrag_error_code (io), ==, SMARTRAG_ERROR_FAILED);
  g_assert_cmpint (smartrag_error_code (file), ==, SMARTRAG_ERROR_FAILED);
  g_assert_cmpint (smartrag_error_code (keyfile), ==, SMARTRAG_ERROR_FAILED);
  g_assert_cmpint (smartrag_error_code (dbus), ==, SMARTRAG_ERROR_FAILED);
  g_assert_cmpint (smartrag_error_code (NULL), ==, SMARTRAG_ERROR_FAILED);
}

static void
test_out_of_range (void)
{
  g_autoptr (GError) high = g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_N_CODES, "x");
  g_autoptr (GError) negative = g_error_new_literal (SMARTRAG_ERROR, -1, "x");

  g_assert_cmpint (smartrag_error_code (high), ==, SMARTRAG_ERROR_FAILED);
  g_assert_cmpint (smartrag_error_code (negative), ==, SMARTRAG_ERROR_FAILED);

  /* The table lookups fall back to FAILED instead of reading past the table. */
  SmartragError bogus[]
      = { SMARTRAG_ERROR_N_CODES, SMARTRAG_ERROR_N_CODES + 100, (SmartragError) -1 };
  for (guint i = 0; i < G_N_ELEMENTS (bogus); i++) {
    g_assert_cmpstr (smartrag_error_dbus_name (bogus[i]), ==, "org.freedesktop.DBus.Error.Failed");
    g_assert_cmpuint (smartrag_error_http_status (bogus[i]), ==, 500);
    g_assert_cmpstr (smartrag_error_slug (bogus[i]), ==, "internal");
  }
}

static void
test_quark (void)
{
  g_assert_cmpuint (SMARTRAG_ERROR, !=, 0);
  g_assert_cmpuint (SMARTRAG_ERROR, ==, smartrag_error_quark ());
  g_assert_cmpuint (SMARTRAG_ERROR, !=, G_IO_ERROR);
  /* The domain's name shows in logs and in GDBus' fallback error names. */
  g_assert_cmpstr (g_quark_to_string (SMARTRAG_ERROR), ==, "smartrag-error-quark");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/errors/table-complete", test_table_complete);
  g_test_add_func ("/errors/every-code-mapped", test_every_code_mapped);
  g_test_add_func ("/errors/mappings", test_mappings);
  g_test_add_func ("/errors/unknown-object-hides-existence", test_unknown_object_hides_existence);
  g_test_add_func ("/errors/code-of-error", test_code_of_error);
  g_test_add_func ("/errors/foreign-domains-fail", test_foreign_domains_fail);
  g_test_add_func ("/errors/out-of-range", test_out_of_range);
  g_test_add_func ("/errors/quark", test_quark);
  return g_test_run ();
}
