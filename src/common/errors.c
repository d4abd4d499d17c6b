/* The one error domain of SmartRAG and its mapping to D-Bus names and HTTP statuses. */
#include "common/errors.h"

/* clang-format off */
G_DEFINE_QUARK (smartrag-error-quark, smartrag_error)
/* clang-format on */

typedef struct {
  const char *dbus_name;
  guint http_status;
  const char *slug;
} ErrorMapping;

/* One table so that D-Bus and HTTP can never disagree on what an error means. */
static const ErrorMapping mappings[SMARTRAG_ERROR_N_CODES] = {
  [SMARTRAG_ERROR_FAILED] = { "org.freedesktop.DBus.Error.Failed", 500, "internal" },
  [SMARTRAG_ERROR_INVALID_ARGS]
  = { "org.freedesktop.DBus.Error.InvalidArgs", 400, "invalid_argument" },
  [SMARTRAG_ERROR_ACCESS_DENIED] = { "org.freedesktop.DBus.Error.AccessDenied", 403, "forbidden" },
  /* Over D-Bus an invisible object is AccessDenied, over HTTP 404: neither tells
   * whether it exists. */
  [SMARTRAG_ERROR_UNKNOWN_OBJECT] = { "org.freedesktop.DBus.Error.AccessDenied", 404, "not_found" },
  [SMARTRAG_ERROR_NOT_FOUND] = { "org.smartrag.Error.NotFound", 404, "not_found" },
  [SMARTRAG_ERROR_TOO_LARGE] = { "org.smartrag.Error.TooLarge", 413, "too_large" },
  [SMARTRAG_ERROR_UNSUPPORTED_FORMAT]
  = { "org.smartrag.Error.UnsupportedFormat", 415, "unsupported_format" },
  [SMARTRAG_ERROR_BUSY] = { "org.smartrag.Error.Busy", 429, "busy" },
  [SMARTRAG_ERROR_BACKEND_UNAVAILABLE]
  = { "org.smartrag.Error.BackendUnavailable", 503, "backend_unavailable" },
  [SMARTRAG_ERROR_CANCELLED] = { "org.smartrag.Error.Cancelled", 409, "cancelled" },
  [SMARTRAG_ERROR_SHUTTING_DOWN] = { "org.smartrag.Error.ShuttingDown", 503, "shutting_down" },
  /* Named for what is wrong, an identity nobody established, not for the status. */
  [SMARTRAG_ERROR_UNAUTHENTICATED]
  = { "org.freedesktop.DBus.Error.AccessDenied", 401, "unauthenticated" },
  [SMARTRAG_ERROR_METHOD_NOT_ALLOWED]
  = { "org.freedesktop.DBus.Error.UnknownMethod", 405, "method_not_allowed" },
  /* Told apart from busy, which is about answers at once, not requests a second. */
  [SMARTRAG_ERROR_RATE_LIMITED] = { "org.smartrag.Error.Busy", 429, "rate_limited" },
  [SMARTRAG_ERROR_HEADERS_TOO_LARGE] = { "org.smartrag.Error.TooLarge", 431, "headers_too_large" },
};

static const ErrorMapping *
mapping_for (SmartragError code)
{
  if ((guint) code >= SMARTRAG_ERROR_N_CODES)
    code = SMARTRAG_ERROR_FAILED;
  return &mappings[code];
}

const char *
smartrag_error_dbus_name (SmartragError code)
{
  return mapping_for (code)->dbus_name;
}

guint
smartrag_error_http_status (SmartragError code)
{
  return mapping_for (code)->http_status;
}

const char *
smartrag_error_slug (SmartragError code)
{
  return mapping_for (code)->slug;
}

SmartragError
smartrag_error_code (const GError *error)
{
  if (error == NULL || error->domain != SMARTRAG_ERROR)
    return SMARTRAG_ERROR_FAILED;
  if (error->code < 0 || error->code >= SMARTRAG_ERROR_N_CODES)
    return SMARTRAG_ERROR_FAILED;
  return error->code;
}

gboolean
sr_error_set (GError **error, SmartragError code, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, SMARTRAG_ERROR, code, message);
  return FALSE;
}
