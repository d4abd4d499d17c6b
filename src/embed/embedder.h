/* The embedder interface: text in, one normalised float vector per text out. */
#pragma once

#include <gio/gio.h>

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
   * is valid UTF-8 and that the dimensions are known. */
  gboolean (*embed) (SrEmbedder *self, const char *const *texts, guint n_texts, float *vectors,
                     GCancellable *cancellable, GError **error);
  /* Asks the server to embed a short text, which teaches the dimensions when they are not
   * known yet. NULL for a backend that needs no server: always available, dimensions
   * fixed. */
  gboolean (*probe) (SrEmbedder *self, GCancellable *cancellable, GError **error);
  /* Frees the backend's own data and @self; sr_embedder_free() frees the rest first. */
  void (*free) (SrEmbedder *self);
} SrEmbedderClass;

/* What the embedder last learned of its backend, from any call. */
typedef enum {
  SR_EMBEDDER_UNKNOWN,     /* not asked yet */
  SR_EMBEDDER_AVAILABLE,   /* the last call was answered */
  SR_EMBEDDER_UNAVAILABLE, /* the last call failed with SMARTRAG_ERROR_BACKEND_UNAVAILABLE */
} SrEmbedderState;

typedef struct {
  SrEmbedderState state;
  gint64 checked_at; /* µs since the epoch; 0 before the first call */
  char *message;     /* the last failure's; NULL unless unavailable */
} SrEmbedderStatus;

void sr_embedder_status_clear (SrEmbedderStatus *status);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SrEmbedderStatus, sr_embedder_status_clear)

struct SrEmbedder {
  const SrEmbedderClass *klass;
  /* 0 until a server's first answer says; read it with sr_embedder_dimensions() */
  guint dimensions;
  char *model; /* what the vectors came from, stored with them so a change is noticed */
  char *url;   /* the server, for messages and health; NULL for the builtin embedder */
  /* private: the status, written by whichever thread called last */
  GMutex lock;
  SrEmbedderStatus status;
};

/* Checks the arguments, runs the backend and remembers whether its server answered.
 * Backends that ask a server fail with SMARTRAG_ERROR_BACKEND_UNAVAILABLE and a message
 * that names the server and what to do. The dimensions must be known: see
 * sr_embedder_ensure_dimensions(). */
gboolean sr_embedder_embed (SrEmbedder *embedder, const char *const *texts, guint n_texts,
                            float *vectors, GCancellable *cancellable, GError **error);
/* One small request to the server, to learn whether it answers (always TRUE for a backend
 * without a server). Blocks: worker threads only. */
gboolean sr_embedder_probe (SrEmbedder *embedder, GCancellable *cancellable, GError **error);
/* The dimensions of the vectors, 0 while a server has not said; any thread. */
guint sr_embedder_dimensions (SrEmbedder *embedder);
/* The dimensions, asking the server first when they are not known (0 and @error when it
 * cannot be asked). Blocks: worker threads only. */
guint sr_embedder_ensure_dimensions (SrEmbedder *embedder, GCancellable *cancellable,
                                     GError **error);
/* A copy of what the last call learned; any thread, never blocks on a server. */
void sr_embedder_get_status (SrEmbedder *embedder, SrEmbedderStatus *status);
void sr_embedder_free (SrEmbedder *embedder);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrEmbedder, sr_embedder_free)

/* For backends: fills the common part of a new embedder. @dimensions 0 means that the
 * server's first answer teaches them. */
void sr_embedder_init (SrEmbedder *embedder, const SrEmbedderClass *klass, const char *model,
                       const char *url, guint dimensions);
/* For backends: @dimensions become the embedder's unless it already has some; returns the
 * embedder's, so that a caller can tell a vector of the wrong width. */
guint sr_embedder_learn_dimensions (SrEmbedder *embedder, guint dimensions);

/* Needs no model: hashed word and character n-gram features, signed, normalised.
 * Deterministic across runs and machines; thread-safe. Case and accents are folded
 * ("Café" and "cafe" give the same vector). @dimensions 0 means the default. */
SrEmbedder *sr_embedder_builtin_new (guint dimensions);

/* How to reach an embedding server. */
typedef struct {
  const char *url;     /* e.g. "http://127.0.0.1:11434"; a trailing '/' is dropped */
  const char *model;   /* as the server names it */
  const char *api_key; /* sent as "Authorization: Bearer"; NULL or "" for none */
  guint batch_size;    /* texts per request; 0 means 32 */
  guint timeout;       /* seconds to connect and for each wait for the server; 0 means 60 */
} SrServerEmbedderOptions;

/* Both are thread-safe: requests from several threads share one HTTP session, whose
 * connections are kept open and reused. Their model is "<backend>:<model>". */

/* Ollama: POST {url}/api/embed with "truncate": true. */
SrEmbedder *sr_embedder_ollama_new (const SrServerEmbedderOptions *options);
/* An OpenAI-compatible server (llama.cpp, vLLM, LocalAI, …): POST {url}/embeddings, with
 * a url that usually ends in /v1. */
SrEmbedder *sr_embedder_openai_new (const SrServerEmbedderOptions *options);

G_END_DECLS
