/* Session operations: create, list, read, change, delete and expire, with ownership. */
#include "service/sessions.h"

#include <glib/gi18n.h>
#include <inttypes.h>

#include "common/durations.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/unichar.h"

/* JSON parsers recurse once per level; depth is checked first, without recursion, so
 * that an absurd document gets a clear message. */
#define MAX_CONTEXT_DEPTH 64

gboolean
sr_sessions_check_title (SrService *service, const char *title, GError **error)
{
  guint64 max = sr_service_limits (service)->max_title_bytes;
  size_t len = strlen (title);

  if (len > max)
    return sr_invalid_args (error, _ ("Invalid title: longer than %" PRIu64 " bytes (%zu)"), max,
                            len);
  if (!g_utf8_validate (title, -1, NULL))
    return sr_invalid_args (error, _ ("Invalid title: not valid UTF-8"));
  const char *line_break = sr_text_find_line_break (title);
  if (line_break != NULL)
    return sr_invalid_args (error,
                            _ ("Invalid title: control character at byte %td; a title is one "
                               "line of text"),
                            line_break - title);
  return TRUE;
}

static gboolean
check_depth (const char *text, GError **error)
{
  int depth = 0;
  gboolean in_string = FALSE;

  for (const char *p = text; *p != '\0'; p++) {
    if (in_string) {
      if (*p == '\\' && p[1] != '\0')
        p++;
      else if (*p == '"')
        in_string = FALSE;
    } else if (*p == '"') {
      in_string = TRUE;
    } else if (*p == '{' || *p == '[') {
      if (++depth > MAX_CONTEXT_DEPTH)
        return sr_invalid_args (error, _ ("Invalid context: nested deeper than %d levels"),
                                MAX_CONTEXT_DEPTH);
    } else if (*p == '}' || *p == ']') {
      depth--;
    }
  }
  return TRUE;
}

/* SQLite's json_type names, as a person would say them. */
static const char *
json_kind (const char *type)
{
  if (g_str_equal (type, "array"))
    return _ ("an array");
  if (g_str_equal (type, "text"))
    return _ ("a string");
  if (g_str_equal (type, "null"))
    return _ ("null");
  if (g_str_equal (type, "true") || g_str_equal (type, "false"))
    return _ ("a boolean");
  return _ ("a number");
}

char *
sr_sessions_check_context (SrService *service, const char *context, GError **error)
{
  guint64 max = sr_service_limits (service)->max_context_bytes;
  size_t len = strlen (context);

  if (len > max) {
    sr_invalid_args (error, _ ("Invalid context: longer than %" PRIu64 " bytes (%zu)"), max, len);
    return NULL;
  }
  if (!g_utf8_validate (context, -1, NULL)) {
    sr_invalid_args (error, _ ("Invalid context: not valid UTF-8"));
    return NULL;
  }
  if (!check_depth (context, error))
    return NULL;

  /* The database's parser, not a second one: what passes here always passes the
   * table's CHECK, and numbers and escapes are kept exactly as the caller wrote them. */
  g_autofree char *type = NULL;
  g_autofree char *minified = NULL;
  g_autoptr (GError) local = NULL;
  if (!sr_store_json_parse (sr_service_store (service), context, &type, &minified, &local)) {
    if (local != NULL)
      g_propagate_error (error, g_steal_pointer (&local));
    else
      sr_invalid_args (error,
                       _ ("Invalid context: not valid JSON: it must follow RFC 8259 (double-quoted "
                          "strings, no comments, no trailing commas, one value)"));
    return NULL;
  }
  if (!g_str_equal (type, "object")) {
    sr_invalid_args (error, _ ("Invalid context: expected a JSON object, got %s"),
                     json_kind (type));
    return NULL;
  }
  return g_steal_pointer (&minified);
}

gboolean
sr_sessions_unknown_error (const char *id, GError **error)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT,
               _ ("Session '%s' does not exist or you may not access it"), id);
  return FALSE;
}

static gboolean
check_quota (SrService *service, const SrCaller *caller, GError **error)
{
  guint64 max = sr_service_limits (service)->max_sessions_per_user;
  guint64 count;

  if (max == 0)
    return TRUE;
  if (!sr_store_session_count_owned (sr_service_store (service), caller->uid, &count, error))
    return FALSE;
  if (count < max)
    return TRUE;
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE,
               _ ("You already have %" PRIu64 " sessions, the most allowed "
                  "([limits] max_sessions_per_user); delete some first"),
               count);
  return FALSE;
}

SrSessionRecord *
sr_sessions_create (SrService *service, const SrCaller *caller, const SrSessionSpec *spec,
                    GError **error)
{
  const char *title = spec->title ? spec->title : "";
  if (!sr_sessions_check_title (service, title, error))
    return NULL;
  g_autofree char *context
      = sr_sessions_check_context (service, spec->context ? spec->context : "{}", error);
  if (context == NULL)
    return NULL;
  if (spec->expire_after < -1 || spec->expire_after > (gint64) 3650 * 24 * 3600) {
    sr_invalid_args (error,
                     _ ("Invalid expire_after: expected seconds from 0 (never) to ten years"));
    return NULL;
  }
  if (!check_quota (service, caller, error))
    return NULL;

  g_autoptr (SrSessionRecord) record = g_new0 (SrSessionRecord, 1);
  record->id = sr_id_new ();
  record->owner_uid = caller->uid;
  record->title = g_strdup (title);
  record->context = g_steal_pointer (&context);
  record->created_at = record->last_active = sr_now_us ();
  record->expire_after = spec->expire_after;

  if (!sr_store_session_insert (sr_service_store (service), record, error))
    return NULL;
  g_info ("Session %s created for uid %u by %s", record->id, caller->uid, caller->peer);
  return g_steal_pointer (&record);
}

GPtrArray *
sr_sessions_list (SrService *service, const SrCaller *caller, GError **error)
{
  return sr_store_session_list_ids (sr_service_store (service), caller->uid, error);
}

GPtrArray *
sr_sessions_list_visible (SrService *service, const SrCaller *caller, GError **error)
{
  return sr_store_session_list_ids (sr_service_store (service),
                                    caller->admin ? -1 : (gint64) caller->uid, error);
}

gboolean
sr_sessions_exists (SrService *service, const char *id, guint32 *owner_uid, GError **error)
{
  if (!sr_id_is_valid (id))
    return FALSE;
  return sr_store_session_owner (sr_service_store (service), id, owner_uid, error);
}

/* Quotes the id back only when that is safe and useful: short, UTF-8, printable. Over
 * HTTP an id is whatever the URL held. */
static gboolean
invalid_id (const char *id, GError **error)
{
  gboolean quotable = strlen (id) <= 2 * SR_ID_LENGTH && g_utf8_validate (id, -1, NULL)
                      && sr_text_find_line_break (id) == NULL;
  if (quotable)
    return sr_invalid_args (error,
                            _ ("Invalid session id '%s': expected 32 lowercase hexadecimal "
                               "characters"),
                            id);
  return sr_invalid_args (error,
                          _ ("Invalid session id: expected 32 lowercase hexadecimal characters"));
}

/* The one ownership check behind every per-session operation. */
gboolean
sr_sessions_check_access (SrService *service, const SrCaller *caller, const char *id,
                          GError **error)
{
  return sr_sessions_check_access_in (sr_service_store (service), caller, id, error);
}

gboolean
sr_sessions_check_access_in (SrStore *db, const SrCaller *caller, const char *id, GError **error)
{
  guint32 owner;
  g_autoptr (GError) local = NULL;

  if (!sr_id_is_valid (id))
    return invalid_id (id, error);
  if (!sr_store_session_owner (db, id, &owner, &local)) {
    if (local != NULL) {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
    return sr_sessions_unknown_error (id, error);
  }
  if (!sr_caller_may_access (caller, owner))
    return sr_sessions_unknown_error (id, error);
  return TRUE;
}

/* A session removed between the access check and the change reads as unknown too. */
static gboolean
as_unknown (const char *id, GError **error, GError *local)
{
  if (g_error_matches (local, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND)) {
    g_error_free (local);
    return sr_sessions_unknown_error (id, error);
  }
  g_propagate_error (error, local);
  return FALSE;
}

static SrSessionRecord *
reread (SrService *service, const char *id, GError **error)
{
  GError *local = NULL;
  SrSessionRecord *record = sr_store_session_get (sr_service_store (service), id, &local);
  if (record == NULL)
    as_unknown (id, error, local);
  return record;
}

SrSessionRecord *
sr_sessions_get (SrService *service, const SrCaller *caller, const char *id, GError **error)
{
  if (!sr_sessions_check_access (service, caller, id, error))
    return NULL;
  return reread (service, id, error);
}

SrSessionRecord *
sr_sessions_set_title (SrService *service, const SrCaller *caller, const char *id,
                       const char *title, GError **error)
{
  if (!sr_sessions_check_access (service, caller, id, error)
      || !sr_sessions_check_title (service, title, error))
    return NULL;
  GError *local = NULL;
  if (!sr_store_session_set_title (sr_service_store (service), id, title, sr_now_us (), &local)) {
    as_unknown (id, error, local);
    return NULL;
  }
  return reread (service, id, error);
}

SrSessionRecord *
sr_sessions_set_context (SrService *service, const SrCaller *caller, const char *id,
                         const char *context, GError **error)
{
  if (!sr_sessions_check_access (service, caller, id, error))
    return NULL;
  g_autofree char *canonical = sr_sessions_check_context (service, context, error);
  if (canonical == NULL)
    return NULL;
  GError *local = NULL;
  if (!sr_store_session_set_context (sr_service_store (service), id, canonical, sr_now_us (),
                                     &local)) {
    as_unknown (id, error, local);
    return NULL;
  }
  return reread (service, id, error);
}

gboolean
sr_sessions_delete (SrService *service, const SrCaller *caller, const char *id, GError **error)
{
  if (!sr_sessions_check_access (service, caller, id, error))
    return FALSE;
  GError *local = NULL;
  if (!sr_store_session_delete (sr_service_store (service), id, &local))
    return as_unknown (id, error, local);
  sr_service_forget_session (service, id);
  g_info ("Session %s deleted by uid %u (%s)", id, caller->uid, caller->peer);
  return TRUE;
}

gboolean
sr_sessions_expire (SrService *service, guint *n_removed, GError **error)
{
  guint64 expiry = sr_service_limits (service)->session_expiry;
  g_autoptr (GPtrArray) gone
      = sr_store_session_delete_expired (sr_service_store (service), sr_now_us (), expiry, error);
  if (gone == NULL)
    return FALSE;
  for (guint i = 0; i < gone->len; i++) {
    sr_service_forget_session (service, gone->pdata[i]);
    g_info ("Session %s expired after inactivity; removed with everything it owned",
            (const char *) gone->pdata[i]);
  }
  if (n_removed != NULL)
    *n_removed = gone->len;
  return TRUE;
}
