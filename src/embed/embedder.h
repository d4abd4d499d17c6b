/* The embedder interface: text in, one normalised float vector per text out. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct SrEmbedder SrEmbedder;

/* What sr_embedder_builtin_new (0) gives: small enough for 1,000,000 chunks in memory,
 * wide enough that hashed features rarely collide. */
#define SR_EMBEDDER_BUILTIN_DEFAULT_DIMENSIONS 384
#define SR_EMBEDDER_MAX_DIMENSIONS             65536

typedef struct {
  const char *name; /* "builtin", "ollama", "openai" */
  /* Fills @vectors (n_texts × dimensions floats, each row of unit length, or all zeros for
   * a text without a single word). Backends that talk to a server may block; the caller
   * runs this on a worker thread. sr_embedder_embed() has already checked that every text
   * is valid UTF-8. */
  gboolean (*embed) (SrEmbedder *self, const char *const *texts, guint n_texts, float *vectors,
                     GError **error);
  /* Frees the backend's own data and @self; sr_embedder_free() frees @model first. */
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
 * Deterministic across runs and machines; thread-safe. Case and accents are folded
 * ("Café" and "cafe" give the same vector). @dimensions 0 means the default. */
SrEmbedder *sr_embedder_builtin_new (guint dimensions);

G_END_DECLS
