/* The route table: which tables there are, and finding a request's route in them. */
#include "http/http-private.h"

#include <string.h>

/* A file of routes adds its table here, once; the order is the order of matching. One a
 * line, which clang-format would pack into columns. */
/* clang-format off */
static const SrHttpRoute *const tables[] = {
  sr_http_health_routes,
  sr_http_metrics_routes,
  sr_http_session_routes,
  sr_http_query_routes,
  sr_http_websocket_routes,
  sr_http_conversation_routes,
  sr_http_docs_routes,
  sr_http_document_routes,
};
/* clang-format on */

GStrv
sr_http_routes_list (void)
{
  GPtrArray *list = g_ptr_array_new ();
  for (guint t = 0; t < G_N_ELEMENTS (tables); t++)
    for (const SrHttpRoute *route = tables[t]; route->method != NULL; route++)
      g_ptr_array_add (list, g_strdup_printf ("%s %s", route->method, route->pattern));
  g_ptr_array_add (list, NULL);
  return (GStrv) g_ptr_array_free (list, FALSE);
}

GStrv
sr_http_websocket_prefixes (void)
{
  GPtrArray *list = g_ptr_array_new ();
  for (guint t = 0; t < G_N_ELEMENTS (tables); t++) {
    for (const SrHttpRoute *route = tables[t]; route->method != NULL; route++) {
      if (!(route->flags & SR_HTTP_ROUTE_WEBSOCKET))
        continue;
      const char *param = strstr (route->pattern, "/{");
      gsize length = param != NULL ? (gsize) (param - route->pattern) : strlen (route->pattern);
      g_ptr_array_add (list, g_strndup (route->pattern, length));
    }
  }
  g_ptr_array_add (list, NULL);
  return (GStrv) g_ptr_array_free (list, FALSE);
}

void
sr_http_match_clear (SrHttpMatch *match)
{
  for (guint i = 0; i < match->n_params; i++) {
    g_free (match->names[i]);
    g_free (match->values[i]);
  }
  *match = (SrHttpMatch){ NULL };
}

static gboolean
is_param (const char *segment)
{
  gsize length = strlen (segment);
  return length > 2 && segment[0] == '{' && segment[length - 1] == '}';
}

/* Whether @path has the shape of @pattern; its "{name}" segments go into @match. */
static gboolean
match_pattern (const char *pattern, char **segments, SrHttpMatch *match)
{
  g_auto (GStrv) parts = g_strsplit (pattern, "/", -1);
  if (g_strv_length (parts) != g_strv_length (segments))
    return FALSE;
  sr_http_match_clear (match);
  for (guint i = 0; parts[i] != NULL; i++) {
    if (!is_param (parts[i])) {
      if (!g_str_equal (parts[i], segments[i]))
        return FALSE;
      continue;
    }
    if (*segments[i] == '\0')
      return FALSE;
    g_assert (match->n_params < SR_HTTP_MAX_PARAMS);
    match->names[match->n_params] = g_strndup (parts[i] + 1, strlen (parts[i]) - 2);
    match->values[match->n_params++] = g_strdup (segments[i]);
  }
  return TRUE;
}

static void
add_allowed (GPtrArray *allowed, const char *method)
{
  for (guint i = 0; i < allowed->len; i++)
    if (g_str_equal (allowed->pdata[i], method))
      return;
  g_ptr_array_add (allowed, (gpointer) method);
}

SrHttpMatchResult
sr_http_routes_match (const char *method, const char *path, SrHttpMatch *match, char **allow)
{
  g_auto (GStrv) segments = g_strsplit (path, "/", -1);
  g_autoptr (GPtrArray) allowed = g_ptr_array_new ();
  *match = (SrHttpMatch){ NULL };

  for (guint t = 0; t < G_N_ELEMENTS (tables); t++) {
    for (const SrHttpRoute *route = tables[t]; route->method != NULL; route++) {
      if (!match_pattern (route->pattern, segments, match))
        continue;
      if (g_str_equal (route->method, method)) {
        match->route = route;
        return SR_HTTP_MATCHED;
      }
      add_allowed (allowed, route->method);
    }
  }
  sr_http_match_clear (match);
  if (allowed->len == 0)
    return SR_HTTP_NO_PATH;
  g_ptr_array_add (allowed, NULL);
  *allow = g_strjoinv (", ", (char **) allowed->pdata);
  return SR_HTTP_NO_METHOD;
}
