/* Session operations: create, list, read, change, delete and expire, with ownership. */
#pragma once

#include <glib.h>

#include "auth/caller.h"
#include "service/service.h"
#include "store/sessions.h"

G_BEGIN_DECLS

typedef struct {
  const char *title;   /* NULL: empty */
  const char *context; /* NULL: "{}"; must be a JSON object */
  gint64 expire_after; /* seconds of inactivity; -1 follows the daemon default, 0 never */
} SrSessionSpec;

#define SR_SESSION_SPEC_INIT                                                                       \
  {                                                                                                \
    NULL, NULL, -1                                                                                 \
  }

/* Validation shared by creation and the writable properties. */
gboolean sr_sessions_check_title (SrService *service, const char *title, GError **error);
/* Returns the context in compact canonical form. */
char *sr_sessions_check_context (SrService *service, const char *context, GError **error);

SrSessionRecord *sr_sessions_create (SrService *service, const SrCaller *caller,
                                     const SrSessionSpec *spec, GError **error);

/* The caller's own sessions, oldest first. */
GPtrArray *sr_sessions_list (SrService *service, const SrCaller *caller, GError **error);
/* What the caller may enumerate: their own, or every session for an administrator. */
GPtrArray *sr_sessions_list_visible (SrService *service, const SrCaller *caller, GError **error);

/* UNKNOWN_OBJECT, with one message, for a session that does not exist and for one the
 * caller may not access, so ids cannot be probed. */
SrSessionRecord *sr_sessions_get (SrService *service, const SrCaller *caller, const char *id,
                                  GError **error);
gboolean sr_sessions_exists (SrService *service, const char *id, guint32 *owner_uid,
                             GError **error);
gboolean sr_sessions_unknown_error (const char *id, GError **error);
/* The ownership check behind every per-session operation, for other services too. */
gboolean sr_sessions_check_access (SrService *service, const SrCaller *caller, const char *id,
                                   GError **error);
/* The same through @db, a connection of the calling thread's. */
gboolean sr_sessions_check_access_in (SrStore *db, const SrCaller *caller, const char *id,
                                      GError **error);

/* Each returns the session as it is after the change, for change notifications. */
SrSessionRecord *sr_sessions_set_title (SrService *service, const SrCaller *caller, const char *id,
                                        const char *title, GError **error);
SrSessionRecord *sr_sessions_set_context (SrService *service, const SrCaller *caller,
                                          const char *id, const char *context, GError **error);
gboolean sr_sessions_delete (SrService *service, const SrCaller *caller, const char *id,
                             GError **error);

/* Removes every session idle past its expiry; returns how many went. */
gboolean sr_sessions_expire (SrService *service, guint *n_removed, GError **error);

G_END_DECLS
