/* Reading a request URL's query string strictly: known names, each once, typed values. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The parameters of @query (the URL's part after "?", NULL for none), decoded as a form
 * ("+" is a space). INVALID_ARGS for a name not in @allowed (NULL-terminated), named with
 * those @what takes, for a name given twice, and for bad percent-encoding or UTF-8. */
GHashTable *sr_url_query_parse (const char *query, const char *const *allowed, const char *what,
                                GError **error);

/* A whole number from 0 to @max; @out is left untouched when the parameter is absent. */
gboolean sr_url_query_get_uint (GHashTable *params, const char *name, guint64 max, guint64 *out,
                                GError **error);

G_END_DECLS
