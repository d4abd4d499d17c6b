/* The one error domain of SmartRAG and its mapping to D-Bus names and HTTP statuses. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SMARTRAG_ERROR (smartrag_error_quark ())

typedef enum {
  SMARTRAG_ERROR_FAILED,         /* an internal failure; the message says what broke */
  SMARTRAG_ERROR_INVALID_ARGS,   /* the caller sent something malformed */
  SMARTRAG_ERROR_ACCESS_DENIED,  /* polkit (or policy) said no */
  SMARTRAG_ERROR_UNKNOWN_OBJECT, /* absent, or someone else's: the two look the same */
  SMARTRAG_ERROR_NOT_FOUND,      /* absent inside something the caller owns */
  SMARTRAG_ERROR_TOO_LARGE,
  SMARTRAG_ERROR_UNSUPPORTED_FORMAT,
  SMARTRAG_ERROR_BUSY,
  SMARTRAG_ERROR_BACKEND_UNAVAILABLE,
  SMARTRAG_ERROR_CANCELLED,
  SMARTRAG_ERROR_SHUTTING_DOWN,
  SMARTRAG_ERROR_UNAUTHENTICATED,    /* HTTP without a valid token */
  SMARTRAG_ERROR_METHOD_NOT_ALLOWED, /* HTTP: the path exists, the method does not */
  SMARTRAG_ERROR_RATE_LIMITED,       /* HTTP: more requests than the caller's rate allows */
  SMARTRAG_ERROR_HEADERS_TOO_LARGE,  /* HTTP: request line and headers over the limit */
  SMARTRAG_ERROR_N_CODES,
} SmartragError;

GQuark smartrag_error_quark (void);

/* The D-Bus error name a code is sent as. */
const char *smartrag_error_dbus_name (SmartragError code);
/* The HTTP status a code is sent as, and the short machine name for JSON bodies. */
guint smartrag_error_http_status (SmartragError code);
const char *smartrag_error_slug (SmartragError code);

/* Sets @error to @code with a formatted message and returns FALSE, for "return
 * sr_error_set (error, …);" at the end of a failing check. */
gboolean sr_error_set (GError **error, SmartragError code, const char *format, ...)
    G_GNUC_PRINTF (3, 4);
#define sr_invalid_args(error, ...) sr_error_set ((error), SMARTRAG_ERROR_INVALID_ARGS, __VA_ARGS__)

/* Any GError as our code: foreign domains count as FAILED. */
SmartragError smartrag_error_code (const GError *error);

G_END_DECLS
