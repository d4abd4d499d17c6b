/* Reading a request URL's query string strictly: known names, each once, typed values. */
#include "http/url-query.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <string.h>

#include "common/errors.h"

/* A name as the client sent it, quoted back only when that is short and readable. */
static char *
shown (const char *name)
{
  gboolean readable = g_utf8_validate (name, -1, NULL) && strlen (name) <= 64;
  for (const char *p = name; readable && *p != '\0'; p = g_utf8_next_char (p))
    readable = g_unichar_isprint (g_utf8_get_char (p));
  return readable ? g_strdup_printf ("'%s'", name) : g_strdup ("…");
}

static gboolean
check_name (GHashTable *params, const char *name, const char *value, const char *const *allowed,
            const char *what, GError **error)
{
  g_autofree char *quoted = shown (name);
  if (!g_strv_contains (allowed, name)) {
    g_autofree char *list = g_strjoinv (", ", (char **) allowed);
    return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Unknown parameter %s; %s takes %s"), quoted, what, list);
  }
  if (g_hash_table_contains (params, name))
    return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS, _ ("Parameter %s is given twice"),
                         quoted);
  if (!g_utf8_validate (value, -1, NULL))
    return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Invalid parameter %s: it is not UTF-8 text"), quoted);
  return TRUE;
}

/* A name or value as a form sends it: "+" for a space, then percent-escapes; NULL for a
 * bad escape or an escaped NUL. */
static char *
decode (const char *text, gsize length)
{
  g_autofree char *spaced = g_strndup (text, length);
  g_strdelimit (spaced, "+", ' ');
  return g_uri_unescape_string (spaced, NULL);
}

static gboolean
add_param (GHashTable *params, const char *part, const char *const *allowed, const char *what,
           GError **error)
{
  const char *equals = strchr (part, '=');
  gsize name_length = equals != NULL ? (gsize) (equals - part) : strlen (part);
  g_autofree char *name = decode (part, name_length);
  g_autofree char *value
      = decode (equals != NULL ? equals + 1 : "", equals != NULL ? strlen (equals + 1) : 0);
  if (name == NULL || value == NULL)
    return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Invalid query string in the URL: a bad %%-escape"));
  if (!check_name (params, name, value, allowed, what, error))
    return FALSE;
  g_hash_table_insert (params, g_steal_pointer (&name), g_steal_pointer (&value));
  return TRUE;
}

/* Empty parts ("a=1&&b=2", a trailing "&") are skipped, and a name alone has an empty
 * value, as browsers do. */
GHashTable *
sr_url_query_parse (const char *query, const char *const *allowed, const char *what, GError **error)
{
  g_autoptr (GHashTable) params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto (GStrv) parts = g_strsplit (query != NULL ? query : "", "&", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (*parts[i] != '\0' && !add_param (params, parts[i], allowed, what, error))
      return NULL;
  return g_steal_pointer (&params);
}

gboolean
sr_url_query_get_uint (GHashTable *params, const char *name, guint64 max, guint64 *out,
                       GError **error)
{
  const char *text = g_hash_table_lookup (params, name);
  guint64 value;
  if (text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (text, 10, 0, max, &value, NULL))
    return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Invalid parameter '%s': expected a whole number from 0 to %" PRIu64),
                         name, max);
  *out = value;
  return TRUE;
}
