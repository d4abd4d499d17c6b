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

typedef struct {
  const char *name; /* "builtin", "ollama", "openai" */
  /* Starts answering @request (copied as needed before this returns) and returns at
   * once; never blocks the calling thread's loop. */
  void (*generate) (SrGenerator *self, const SrGenerateRequest *request, GCancellable *cancellable,
                    SrTokenFunc token, SrGenerateDone done, gpointer user_data);
  /* Ends every answer still being given: its @done is called, with CANCELLED, before
   * this returns, so that nothing waits for a loop that may not run again. */
  void (*free) (SrGenerator *self);
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

/* Needs no model: picks the sentences of the sources that best answer the question and
 * streams them with [n] citations; says plainly when the sources do not answer it. */
SrGenerator *sr_generator_builtin_new (void);

G_END_DECLS
