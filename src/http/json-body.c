/* Reading a request's JSON object body: checked strictly first, then read field by field. */
#include "http/json-body.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "common/durations.h"
#include "common/errors.h"
#include "http/json-scan.h"

struct SrJsonBody {
  GBytes *bytes;
  GPtrArray *members; /* SrJsonMember, in the order written */
  JsonObject *object; /* the same members, decoded by json-glib */
};

void
sr_json_body_free (SrJsonBody *body)
{
  if (body == NULL)
    return;
  g_clear_pointer (&body->bytes, g_bytes_unref);
  g_clear_pointer (&body->members, g_ptr_array_unref);
  g_clear_pointer (&body->object, json_object_unref);
  g_free (body);
}

static gboolean
invalid (GError **error, const char *message)
{
  g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS, message);
  return FALSE;
}

/* A field name as the client sent it, quoted back only when that is short and readable. */
static char *
quoted (const char *name)
{
  gboolean readable = strlen (name) <= 64;
  for (const char *p = name; readable && *p != '\0'; p = g_utf8_next_char (p))
    readable = g_unichar_isprint (g_utf8_get_char (p));
  return readable ? g_strdup_printf ("'%s'", name) : g_strdup ("…");
}

static gboolean
check_unique (GPtrArray *members, GError **error)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < members->len; i++) {
    const SrJsonMember *member = members->pdata[i];
    if (g_hash_table_add (seen, member->name))
      continue;
    g_autofree char *name = quoted (member->name);
    g_autofree char *message = g_strdup_printf (_ ("Field %s is given twice"), name);
    return invalid (error, message);
  }
  return TRUE;
}

static JsonObject *
decode (const char *text, gsize length, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;
  /* The strict scan came first, so json-glib sees only what it parses right. */
  if (!json_parser_load_from_data (parser, text, (gssize) length, &local)) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("Invalid JSON in the request body: %s"), local->message);
    return NULL;
  }
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

SrJsonBody *
sr_json_body_parse (GBytes *bytes, GError **error)
{
  g_autoptr (SrJsonBody) body = g_new0 (SrJsonBody, 1);
  gsize length = 0;
  const char *text = bytes != NULL ? g_bytes_get_data (bytes, &length) : NULL;

  body->bytes = bytes != NULL ? g_bytes_ref (bytes) : NULL;
  if (length == 0) {
    body->members = g_ptr_array_new ();
    body->object = json_object_new ();
    return g_steal_pointer (&body);
  }
  if (!g_utf8_validate_len (text, length, NULL)) {
    invalid (error, _ ("The request body is not valid UTF-8 text"));
    return NULL;
  }
  body->members = sr_json_scan_object (text, length, SR_JSON_BODY_MAX_DEPTH, error);
  if (body->members == NULL || !check_unique (body->members, error))
    return NULL;
  body->object = decode (text, length, error);
  if (body->object == NULL)
    return NULL;
  return g_steal_pointer (&body);
}

gboolean
sr_json_body_check_fields (SrJsonBody *body, const char *const *allowed, const char *what,
                           GError **error)
{
  for (guint i = 0; i < body->members->len; i++) {
    const SrJsonMember *member = body->members->pdata[i];
    if (g_strv_contains (allowed, member->name))
      continue;
    g_autofree char *name = quoted (member->name);
    g_autofree char *list = g_strjoinv (", ", (char **) allowed);
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("Unknown field %s; %s takes %s"), name, what, list);
    return FALSE;
  }
  return TRUE;
}

static const SrJsonMember *
find (SrJsonBody *body, const char *name)
{
  for (guint i = 0; i < body->members->len; i++) {
    const SrJsonMember *member = body->members->pdata[i];
    if (g_str_equal (member->name, name))
      return member;
  }
  return NULL;
}

gboolean
sr_json_body_has (SrJsonBody *body, const char *name)
{
  return find (body, name) != NULL;
}

static gboolean
wrong_kind (const SrJsonMember *member, const char *expected, GError **error)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
               _ ("Invalid field '%s': expected %s, got %s"), member->name, expected,
               sr_json_kind_name (member->kind));
  return FALSE;
}

gboolean
sr_json_body_get_string (SrJsonBody *body, const char *name, char **out, GError **error)
{
  const SrJsonMember *member = find (body, name);
  if (member == NULL)
    return TRUE;
  if (member->kind != SR_JSON_STRING)
    return wrong_kind (member, _ ("a string"), error);
  g_free (*out);
  *out = g_strdup (json_object_get_string_member (body->object, name));
  return TRUE;
}

static char *
member_text (SrJsonBody *body, const SrJsonMember *member)
{
  const char *text = g_bytes_get_data (body->bytes, NULL);
  return g_strndup (text + member->offset, member->length);
}

gboolean
sr_json_body_get_object (SrJsonBody *body, const char *name, char **out, GError **error)
{
  const SrJsonMember *member = find (body, name);
  if (member == NULL)
    return TRUE;
  if (member->kind != SR_JSON_OBJECT)
    return wrong_kind (member, _ ("a JSON object"), error);
  g_free (*out);
  *out = member_text (body, member);
  return TRUE;
}

gboolean
sr_json_body_get_seconds (SrJsonBody *body, const char *name, gint64 *out, GError **error)
{
  const SrJsonMember *member = find (body, name);
  const char *expected = _ ("a whole number of seconds or a duration such as \"7d\"");
  if (member == NULL)
    return TRUE;

  if (member->kind != SR_JSON_NUMBER && member->kind != SR_JSON_STRING)
    return wrong_kind (member, expected, error);
  guint64 seconds;
  g_autofree char *text = member_text (body, member);
  gboolean ok
      = member->kind == SR_JSON_NUMBER
            ? g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &seconds, NULL)
            : sr_duration_parse (json_object_get_string_member (body->object, name), &seconds);
  if (!ok) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("Invalid field '%s': expected %s"), member->name, expected);
    return FALSE;
  }
  *out = (gint64) seconds;
  return TRUE;
}

gboolean
sr_json_body_get_uint (SrJsonBody *body, const char *name, guint64 max, guint64 *out,
                       GError **error)
{
  const SrJsonMember *member = find (body, name);
  if (member == NULL)
    return TRUE;
  if (member->kind != SR_JSON_NUMBER)
    return wrong_kind (member, _ ("a whole number"), error);
  /* The text as written: 1.0 and 1e2 are refused rather than rounded. */
  g_autofree char *text = member_text (body, member);
  guint64 value;
  if (!g_ascii_string_to_unsigned (text, 10, 0, max, &value, NULL)) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("Invalid field '%s': expected a whole number from 0 to %" PRIu64), member->name,
                 max);
    return FALSE;
  }
  *out = value;
  return TRUE;
}

gboolean
sr_json_body_get_number (SrJsonBody *body, const char *name, double *out, GError **error)
{
  const SrJsonMember *member = find (body, name);
  if (member == NULL)
    return TRUE;
  if (member->kind != SR_JSON_NUMBER)
    return wrong_kind (member, _ ("a number"), error);
  g_autofree char *text = member_text (body, member);
  double value = g_ascii_strtod (text, NULL);
  if (!isfinite (value)) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("Invalid field '%s': expected a number of ordinary size"), member->name);
    return FALSE;
  }
  *out = value;
  return TRUE;
}

gboolean
sr_json_body_get_boolean (SrJsonBody *body, const char *name, gboolean *out, GError **error)
{
  const SrJsonMember *member = find (body, name);
  if (member == NULL)
    return TRUE;
  if (member->kind != SR_JSON_BOOLEAN)
    return wrong_kind (member, _ ("true or false"), error);
  *out = json_object_get_boolean_member (body->object, name);
  return TRUE;
}

gboolean
sr_json_body_require (SrJsonBody *body, const char *name, GError **error)
{
  if (find (body, name) != NULL)
    return TRUE;
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS, _ ("Missing field '%s'"), name);
  return FALSE;
}
