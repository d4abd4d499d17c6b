/* The generator interface: a question and its numbered sources in, answer text streamed out. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct SrGenerator SrGenerator;

/* One retrieved passage, cited in the answer as [number]. */
typedef struct {
  guint number; /* from 1, in the order given */
  const char *filename;
  guint page; /* 0 when the format has no pages */
  const char *heading;
  const char *text;
} SrPromptSource;

/* One earlier message of the conversation. */
typedef struct {
  const char *role; /* "user" or "assistant" */
  const char *content;
} SrChatTurn;

typedef struct {
  const char *question;
  const SrPromptSource *sources;
  guint n_sources;
  const SrChatTurn *history; /* oldest first */
  guint n_history;
  const char *model;  /* NULL or "": the generator's configured model */
  double temperature; /* < 0: the backend's default */
  guint max_tokens;   /* 0: the backend's default */
} SrGenerateRequest;

typedef struct {
  const char *model; /* what answered */
  guint prompt_tokens;
  guint answer_tokens;
  /* What answered, when a generator chooses among others ("auto"); NULL: its own name */
  const char *backend;
} SrGenerateStats;

/* Called on the thread-default main context of the sr_generator_generate() caller, in
 * order, never after @done. */
typedef void (*SrTokenFunc) (const char *text, gpointer user_data);
/* Called once, last: @error NULL when the answer is complete; CANCELLED after
 * @cancellable fired; BACKEND_UNAVAILABLE with a message naming the server and what to
 * do. Tokens already given stay valid as a partial answer. */
typedef void (*SrGenerateDone) (const SrGenerateStats *stats, const GError *error,
                                gpointer user_data);

/* What is known of a generator's model server, learned by a probe or by an answer. */
typedef enum {
  SR_SERVER_UNKNOWN,  /* not asked yet, or no server */
  SR_SERVER_READY,    /* answered, and has the model */
  SR_SERVER_NO_MODEL, /* answered, without the model */
  SR_SERVER_FAILING,  /* did not answer, or answered with an error */
} SrServerState;

/* A finding this old is checked again before it is trusted. */
#define SR_GENERATOR_PROBE_INTERVAL_US (30 * G_USEC_PER_SEC)

/* For health: what a generator would answer with now. Strings belong to the generator and
 * stay valid until it is used again or freed. */
typedef struct {
  const char *backend; /* what was configured: the class name */
  const char *active;  /* what answers now: "builtin", "ollama", "openai" */
  const char *model;   /* the model that would answer */
  const char *url;     /* the server asked; NULL when there is none */
  SrServerState server;
  gint64 checked_at;   /* µs since the epoch of the finding; 0 when there is none */
  const char *message; /* the finding, for a person; NULL when there is none */
} SrGeneratorStatus;

typedef struct {
  const char *name; /* "builtin", "ollama", "openai", "auto" */
  /* Starts answering @request (copied as needed before this returns) and returns at
   * once; never blocks the calling thread's loop. */
  void (*generate) (SrGenerator *self, const SrGenerateRequest *request, GCancellable *cancellable,
                    SrTokenFunc token, SrGenerateDone done, gpointer user_data);
  void (*free) (SrGenerator *self);
  /* Optional: fills @status from what is known, without waiting for the network; may
   * start a probe in the background when the finding is stale. */
  void (*status) (SrGenerator *self, SrGeneratorStatus *status);
  /* Optional: a generator this one holds by @name ("builtin" inside "auto"), borrowed. */
  SrGenerator *(*part) (SrGenerator *self, const char *name);
} SrGeneratorClass;

struct SrGenerator {
  const SrGeneratorClass *klass;
  char *model; /* the configured model; "extractive" for builtin */
};

void sr_generator_generate (SrGenerator *generator, const SrGenerateRequest *request,
                            GCancellable *cancellable, SrTokenFunc token, SrGenerateDone done,
                            gpointer user_data);
void sr_generator_free (SrGenerator *generator);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrGenerator, sr_generator_free)
void sr_generator_status (SrGenerator *generator, SrGeneratorStatus *status);
/* @generator itself when @name is its class's, else a part of it by that name, else NULL. */
SrGenerator *sr_generator_part (SrGenerator *generator, const char *name);

/* A deep copy, for a generator that keeps a request past the call (to try it elsewhere). */
SrGenerateRequest *sr_generate_request_copy (const SrGenerateRequest *request);
void sr_generate_request_free (SrGenerateRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrGenerateRequest, sr_generate_request_free)

/* Needs no model: picks the sentences of the sources that best answer the question and
 * streams them with [n] citations; says plainly when the sources do not answer it. */
SrGenerator *sr_generator_builtin_new (void);

/* A model server: where it is and how long each phase of an answer may take. */
typedef struct {
  const char *url;   /* without a trailing slash: http://127.0.0.1:11434, …:8080/v1 */
  const char *model; /* "" for openai: the server's own */
  guint connect_timeout_ms;
  guint first_token_timeout_ms;
  guint total_timeout_ms;
  guint history_budget; /* tokens of conversation a prompt carries; 0: the default */
} SrServerOptions;

/* Ollama's /api/chat. @keep_alive_seconds is how long Ollama keeps the model loaded after
 * an answer; with @preload the model is loaded at once. A probe of /api/tags starts at
 * once too: status tells whether the server answers and has the model. */
SrGenerator *sr_generator_ollama_new (const SrServerOptions *server, guint64 keep_alive_seconds,
                                      gboolean preload);

/* An OpenAI-compatible /chat/completions under @server->url; @api_key NULL or "" for none
 * (never logged). */
SrGenerator *sr_generator_openai_new (const SrServerOptions *server, const char *api_key);

/* "auto": @ollama (an Ollama generator, taken) when its server answers and has the model,
 * else @fallback (taken). A question Ollama fails before its first token is answered by
 * @fallback; stats say which answered. */
SrGenerator *sr_generator_auto_new (SrGenerator *ollama, SrGenerator *fallback);

G_END_DECLS
