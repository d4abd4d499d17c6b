/* The strict RFC 8259 check of a request body, which also finds where each field's value is. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  SR_JSON_STRING,
  SR_JSON_NUMBER,
  SR_JSON_OBJECT,
  SR_JSON_ARRAY,
  SR_JSON_BOOLEAN,
  SR_JSON_NULL,
} SrJsonKind;

/* One member of the top-level object: its decoded name and its value's bytes. */
typedef struct {
  char *name;
  gsize offset;
  gsize length;
  SrJsonKind kind;
} SrJsonMember;

/* The members of the one object @text holds, in order, or NULL with INVALID_ARGS saying
 * at which byte what was wrong. @text is valid UTF-8 (checked by the caller) and need
 * not end with a NUL. Nesting is bounded by @max_depth, counting the object itself. */
GPtrArray *sr_json_scan_object (const char *text, gsize length, guint max_depth, GError **error);

/* "a string", "a number", … for messages. */
const char *sr_json_kind_name (SrJsonKind kind);

G_END_DECLS
