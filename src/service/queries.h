/* Asking questions: retrieval, generation and the stored conversation, streamed to the asker. */
#pragma once

#include <glib.h>

#include "auth/caller.h"
#include "llm/generator.h"
#include "service/service.h"

G_BEGIN_DECLS

#define SR_QUERY_DEFAULT_K 5

struct SrQueryLimits {
  guint64 max_question_bytes;
  guint max_per_user;     /* queries of one user at once; beyond: BUSY */
  guint max_generations;  /* answers generated at once; later ones wait their turn */
  guint history_messages; /* earlier messages a prompt carries */
};

typedef struct {
  guint k;             /* sources retrieved */
  gboolean history;    /* whether the conversation so far goes into the prompt */
  const char *backend; /* NULL or "auto": the configured generator; else one by name */
  const char *model;   /* NULL: the generator's model */
  double temperature;  /* < 0: the backend's default */
  guint max_tokens;    /* 0: the backend's default */
} SrAskOptions;

#define SR_ASK_OPTIONS_INIT                                                                        \
  {                                                                                                \
    SR_QUERY_DEFAULT_K, TRUE, NULL, NULL, -1.0, 0                                                  \
  }

typedef struct {
  const char *backend;
  const char *model;
  double ttft_ms; /* from the question's arrival to the first token */
  double total_ms;
  guint prompt_tokens;
  guint answer_tokens;
} SrAnswerStats;

/* What an asker is told, on the main loop, in this order: @sources once, @token for each
 * piece of the answer, then either @finished or @failed, last. Any may be NULL. */
typedef struct {
  void (*sources) (const char *query_id, GPtrArray *hits, gpointer user_data);
  void (*token) (const char *query_id, const char *text, gpointer user_data);
  /* @answer is the whole text, @hits its sources (SrChunkHit*, numbered from 1). */
  void (*finished) (const char *query_id, const char *answer, GPtrArray *hits,
                    const SrAnswerStats *stats, gpointer user_data);
  /* @answer is what was said before it stopped (maybe ""); it is stored as incomplete. */
  void (*failed) (const char *query_id, const GError *error, const char *answer,
                  gpointer user_data);
} SrAskListener;

/* Takes ownership of @generator. */
SrQueries *sr_queries_new (SrService *service, SrGenerator *generator, const SrQueryLimits *limits);
/* Stops every query still running; their partial answers are stored as incomplete. */
void sr_queries_free (SrQueries *queries);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrQueries, sr_queries_free)

/* The configured generator's name ("auto", "builtin", …), for properties. */
const char *sr_queries_backend (SrQueries *queries);
/* The configured generator, for health. */
SrGenerator *sr_queries_generator (SrQueries *queries);
/* Takes @generator: Ask's option backend may name it (or a generator it holds) besides the
 * configured one. */
void sr_queries_add_generator (SrQueries *queries, SrGenerator *generator);
/* New limits for questions from now on (a reload); questions already asked keep running. */
void sr_queries_set_limits (SrQueries *queries, const SrQueryLimits *limits);

/* Starts answering @question in the caller's session and returns the new query's id
 * at once; @listener (copied) hears the rest, and @destroy frees @user_data after its
 * last call. Checks access, the question, the options and the caller's number of
 * queries (BUSY) before anything starts; on error nothing is stored or told. */
char *sr_queries_ask (SrQueries *queries, const SrCaller *caller, const char *session_id,
                      const char *question, const SrAskOptions *options,
                      const SrAskListener *listener, gpointer user_data, GDestroyNotify destroy,
                      GError **error);

/* Stops a running query of the caller's: it fails with CANCELLED and its partial answer
 * is stored. NOT_FOUND for an id that is unknown, finished, or someone else's. */
gboolean sr_queries_cancel (SrQueries *queries, const SrCaller *caller, const char *session_id,
                            const char *query_id, GError **error);

/* Stops every query @peer (a bus name or HTTP client) started: it has gone. */
void sr_queries_cancel_peer (SrQueries *queries, const char *peer);

/* Stops every running query, saying @reason (a maintenance job needs the database). */
void sr_queries_cancel_all (SrQueries *queries, const char *reason);
/* How many queries are running now. */
guint sr_queries_running (SrQueries *queries);

G_END_DECLS
