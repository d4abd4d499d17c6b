/* What the embedders that ask a server share: one HTTP session, batches, checked answers. */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "embed/embedder.h"

G_BEGIN_DECLS

/* Why a request gave no vectors, for the backend to put in words. */
typedef enum {
  SR_REMOTE_REFUSED,     /* nothing listens at the address */
  SR_REMOTE_TIMED_OUT,   /* connected or not, no answer in time */
  SR_REMOTE_UNREACHABLE, /* any other failure to talk to it: @detail says which */
  SR_REMOTE_HTTP,        /* an answer with an error status: @status, @detail from its body */
  SR_REMOTE_MALFORMED,   /* an answer that is not what the backend sends: @detail says how */
  SR_REMOTE_COUNT,       /* @got vectors for @expected texts */
  SR_REMOTE_DIMENSIONS,  /* vectors of @got dimensions where @expected were learned */
} SrRemoteProblem;

typedef struct {
  SrRemoteProblem problem;
  guint status;       /* HTTP status, for SR_REMOTE_HTTP */
  const char *detail; /* the server's or the network's words, or what was wrong; may be NULL */
  gboolean json;      /* @detail came from a JSON error body, as a server's own errors do */
  guint got, expected;
} SrRemoteFailure;

typedef struct SrRemote SrRemote;

typedef struct {
  SrEmbedderClass parent; /* embed, probe and free: SR_REMOTE_EMBEDDER_CLASS() */
  const char *path;       /* appended to the URL: "/api/embed" */
  /* Adds members other than "model" and "input" to the request object; may be NULL. */
  void (*request_extra) (JsonBuilder *builder);
  /* The answer's vectors, each a JsonArray borrowed from @answer, in the order of the
   * texts; NULL with @problem set when the answer is not what the backend sends. */
  GPtrArray *(*vectors) (JsonNode *answer, guint n_texts, char **problem);
  /* The message for SMARTRAG_ERROR_BACKEND_UNAVAILABLE: what failed, and what to do. */
  char *(*describe) (const SrRemote *self, const SrRemoteFailure *failure);
} SrRemoteClass;

struct SrRemote {
  SrEmbedder parent;
  SoupSession *session;
  char *name;          /* the model as the server knows it */
  char *authorization; /* "Bearer …" or NULL; never logged, never in a message */
  guint batch_size;
  guint timeout; /* seconds */
};

gboolean sr_remote_embed (SrEmbedder *self, const char *const *texts, guint n_texts, float *vectors,
                          GCancellable *cancellable, GError **error);
gboolean sr_remote_probe (SrEmbedder *self, GCancellable *cancellable, GError **error);
void sr_remote_free (SrEmbedder *self);

#define SR_REMOTE_EMBEDDER_CLASS(backend_name)                                                     \
  {                                                                                                \
    .name = (backend_name), .embed = sr_remote_embed, .probe = sr_remote_probe,                    \
    .free = sr_remote_free                                                                         \
  }

/* An embedder of @klass for @options; the HTTP session is made and configured here, on
 * the calling thread, before any request (libsoup asks this of a session used from
 * several threads). */
SrEmbedder *sr_remote_new (const SrRemoteClass *klass, const SrServerEmbedderOptions *options);

/* The text of a member of @object, or NULL when absent or not text. */
const char *sr_remote_member_string (JsonObject *object, const char *member);

G_END_DECLS
