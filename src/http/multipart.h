/* A multipart/form-data body (RFC 7578, framed as RFC 2046 says), parsed as it arrives. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* RFC 2046: a boundary is 1 to 70 characters. */
#define SR_MULTIPART_MAX_BOUNDARY 70

/* One part, as its headers describe it. */
typedef struct {
  guint number;             /* 1 for the first part */
  const char *name;         /* the form field's name: never NULL or empty */
  const char *filename;     /* NULL when the part is no file; may be empty */
  const char *content_type; /* NULL when the part gives none */
} SrMultipartPart;

/* Told of the parts in order; a callback that returns FALSE with @error stops the parse,
 * and sr_multipart_feed() returns that error. */
typedef struct {
  gboolean (*begin) (const SrMultipartPart *part, gpointer user_data, GError **error);
  /* The part's content in pieces of any size, never empty ones. */
  gboolean (*data) (const guint8 *data, gsize length, gpointer user_data, GError **error);
  gboolean (*end) (gpointer user_data, GError **error);
} SrMultipartCallbacks;

typedef struct {
  gsize max_header_bytes; /* of one part's headers, the blank line after them included */
  guint max_parts;
} SrMultipartLimits;

typedef struct SrMultipart SrMultipart;

/* Whether @boundary is one RFC 2046 allows: 1 to 70 of its characters, not ending in a
 * space. Only such a boundary can be told apart from the content of parts. */
gboolean sr_multipart_boundary_is_valid (const char *boundary);
/* Sets INVALID_ARGS "Invalid multipart body: <what>" and returns FALSE. */
gboolean sr_multipart_malformed (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* A parser for a body framed by @boundary, which must be valid. */
SrMultipart *sr_multipart_new (const char *boundary, const SrMultipartLimits *limits,
                               const SrMultipartCallbacks *callbacks, gpointer user_data);
void sr_multipart_free (SrMultipart *parser);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrMultipart, sr_multipart_free)

/* Takes the next bytes of the body, split anywhere. FALSE with INVALID_ARGS ("Invalid
 * multipart body: …", saying what is wrong) when they break the format, or with the error
 * of a callback; after a failure the parser takes nothing more. Bytes after the final
 * boundary (the epilogue) are ignored. */
gboolean sr_multipart_feed (SrMultipart *parser, const guint8 *data, gsize length, GError **error);
/* The body is complete: FALSE with INVALID_ARGS unless the final boundary came. */
gboolean sr_multipart_finish (SrMultipart *parser, GError **error);

G_END_DECLS
