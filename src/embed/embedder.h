/* The embedder interface: text in, one normalised float vector per text out. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct SrEmbedder SrEmbedder;

typedef struct {
  const char *name; /* "builtin", "ollama", "openai" */
  /* Fills @vectors (n_texts × dimensions floats, each row of unit length). Backends that
   * talk to a server may block; the caller runs this on a worker thread. */
  gboolean (*embed) (SrEmbedder *self, const char *const *texts, guint n_texts, float *vectors,
                     GError **error);
  void (*free) (SrEmbedder *self);
} SrEmbedderClass;

struct SrEmbedder {
  const SrEmbedderClass *klass;
  guint dimensions;
  char *model; /* what the vectors came from, stored with them so a change is noticed */
};

gboolean sr_embedder_embed (SrEmbedder *embedder, const char *const *texts, guint n_texts,
                            float *vectors, GError **error);
void sr_embedder_free (SrEmbedder *embedder);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrEmbedder, sr_embedder_free)

/* Needs no model: hashed word and character n-gram features, signed, normalised.
 * Deterministic across runs and machines; thread-safe. */
SrEmbedder *sr_embedder_builtin_new (guint dimensions);

G_END_DECLS
