/* The OpenAPI document the daemon serves against the routes it has, and the docs page. */
#include "build-config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "http/http-private.h"

static const char *const methods[]
    = { "get", "put", "post", "patch", "delete", "options", "head", "trace" };

static JsonObject *
load_document (JsonParser *parser)
{
  g_autoptr (GBytes) bytes = sr_http_resource ("openapi.json");
  g_autoptr (GError) error = NULL;
  g_assert_nonnull (bytes);
  gsize size;
  const char *data = g_bytes_get_data (bytes, &size);
  g_assert_true (json_parser_load_from_data (parser, data, (gssize) size, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

/* Every operation as "METHOD /path", as sr_http_routes_list() writes routes. */
static GPtrArray *
documented_routes (JsonObject *document)
{
  GPtrArray *routes = g_ptr_array_new_with_free_func (g_free);
  JsonObject *paths = json_object_get_object_member (document, "paths");
  g_autoptr (GList) names = json_object_get_members (paths);
  for (GList *l = names; l != NULL; l = l->next) {
    JsonObject *item = json_object_get_object_member (paths, l->data);
    for (guint i = 0; i < G_N_ELEMENTS (methods); i++) {
      if (!json_object_has_member (item, methods[i]))
        continue;
      g_autofree char *upper = g_ascii_strup (methods[i], -1);
      g_ptr_array_add (routes, g_strdup_printf ("%s %s", upper, (const char *) l->data));
    }
  }
  return routes;
}

static guint
count_missing (const char *const *from, const char *const *in, const char *what)
{
  guint missing = 0;
  for (guint i = 0; from[i] != NULL; i++) {
    if (g_strv_contains (in, from[i]))
      continue;
    g_test_message ("%s: %s", what, from[i]);
    missing++;
  }
  return missing;
}

/* Exactly the same set both ways: a route the document lacks is undocumented, and one
 * the server lacks is promised to clients but answered 404 or 405. */
static void
test_routes_match_document (void)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GPtrArray) documented = documented_routes (load_document (parser));
  g_auto (GStrv) served = sr_http_routes_list ();
  g_ptr_array_add (documented, NULL);

  guint undocumented
      = count_missing ((const char *const *) served, (const char *const *) documented->pdata,
                       "served, not in openapi.json");
  guint unserved = count_missing ((const char *const *) documented->pdata,
                                  (const char *const *) served, "in openapi.json, not served");
  /* Failed, not aborted, so that the other cases still run and every route is listed. */
  if (undocumented + unserved > 0)
    g_test_fail_printf ("%u routes are served but not in openapi.json, %u the other way round",
                        undocumented, unserved);
}

static void
test_document_header (void)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *document = load_document (parser);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (document, "openapi"), "3.1."));
  JsonObject *info = json_object_get_object_member (document, "info");
  g_assert_cmpstr (json_object_get_string_member (info, "version"), ==, PACKAGE_VERSION);
}

/* The page works offline and under its policy: nothing from another host. */
static void
test_docs_page_self_contained (void)
{
  static const char *const names[] = { "docs.html", "docs.js", "docs.css" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autoptr (GBytes) bytes = sr_http_resource (names[i]);
    g_assert_nonnull (bytes);
    g_autofree char *text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    g_test_message ("%s", names[i]);
    g_assert_null (strstr (text, "http://"));
    g_assert_null (strstr (text, "https://"));
    g_assert_null (strstr (text, "//cdn"));
  }
  g_assert_null (sr_http_resource ("missing.js"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/openapi/routes-match-document", test_routes_match_document);
  g_test_add_func ("/openapi/header", test_document_header);
  g_test_add_func ("/openapi/docs-page-self-contained", test_docs_page_self_contained);
  return g_test_run ();
}
