/* Reading a request's JSON object body: checked strictly first, then read field by field. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* json-glib parses recursively and overflows the stack some 100,000 levels down, which a
 * body of that many brackets would reach; deeper bodies are refused before it runs. */
#define SR_JSON_BODY_MAX_DEPTH 128

typedef struct SrJsonBody SrJsonBody;

/* An empty body reads as an empty object. Anything but one RFC 8259 object (UTF-8, no
 * comments, no trailing commas, no field twice, no \u0000, no lone surrogate) is
 * INVALID_ARGS with a message that says where and what. */
SrJsonBody *sr_json_body_parse (GBytes *bytes, GError **error);
void sr_json_body_free (SrJsonBody *body);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrJsonBody, sr_json_body_free)

/* INVALID_ARGS naming the first field not in @allowed (NULL-terminated) and listing
 * those, as "Unknown field 'x'; @what takes title, context". */
gboolean sr_json_body_check_fields (SrJsonBody *body, const char *const *allowed, const char *what,
                                    GError **error);
gboolean sr_json_body_has (SrJsonBody *body, const char *name);

/* Each leaves @out untouched when the field is absent, and names the field and what it
 * should be when it is of another kind. */
gboolean sr_json_body_get_string (SrJsonBody *body, const char *name, char **out, GError **error);
/* An object as the client wrote it, so that numbers keep every digit. */
gboolean sr_json_body_get_object (SrJsonBody *body, const char *name, char **out, GError **error);
/* A whole number of seconds, or a duration such as "7d". */
gboolean sr_json_body_get_seconds (SrJsonBody *body, const char *name, gint64 *out, GError **error);
/* A whole number from 0 to @max, written without fraction or exponent. */
gboolean sr_json_body_get_uint (SrJsonBody *body, const char *name, guint64 max, guint64 *out,
                                GError **error);
/* Any finite number. */
gboolean sr_json_body_get_number (SrJsonBody *body, const char *name, double *out, GError **error);
gboolean sr_json_body_get_boolean (SrJsonBody *body, const char *name, gboolean *out,
                                   GError **error);
/* INVALID_ARGS naming @name when the body lacks it. */
gboolean sr_json_body_require (SrJsonBody *body, const char *name, GError **error);

G_END_DECLS
