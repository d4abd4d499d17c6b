/* What the model-server generators share: the server's last finding and one answer's stream. */
#pragma once

#include <json-glib/json-glib.h>

#include "llm/generator.h"
#include "llm/http-stream.h"

G_BEGIN_DECLS

/* What was last learned of a server, by a probe or by an answer. */
typedef struct {
  SrServerState state;
  gint64 checked_monotonic; /* µs; 0 when never */
  gint64 checked_at;        /* µs since the epoch */
  char *message;
  gboolean probing;
} SrServerFinding;

void sr_server_finding_set (SrServerFinding *finding, SrServerState state, const char *message);
/* Learned within SR_GENERATOR_PROBE_INTERVAL_US. */
gboolean sr_server_finding_is_fresh (const SrServerFinding *finding);
void sr_server_finding_clear (SrServerFinding *finding);
/* Fills the server part of @status. */
void sr_server_finding_status (const SrServerFinding *finding, SrGeneratorStatus *status);

/* One answer being streamed from a server. */
typedef struct {
  SrHttpStream *stream; /* NULL once it has ended */
  char *model;          /* the model asked for, or the one the server says answered */
  GCancellable *cancellable;
  SrTokenFunc token;
  SrGenerateDone done;
  gpointer user_data;
  guint prompt_tokens; /* as the server counts them; 0 when it does not say */
  guint answer_tokens;
  guint tokens_given; /* non-empty tokens passed on */
  gboolean complete;  /* the server said the answer is whole */
} SrServerAnswer;

SrServerAnswer *sr_server_answer_new (const char *model, GCancellable *cancellable,
                                      SrTokenFunc token, SrGenerateDone done, gpointer user_data);
void sr_server_answer_free (SrServerAnswer *answer);
/* Passes @text on (an empty one is dropped) and stops the first-token timeout. */
void sr_server_answer_token (SrServerAnswer *answer, const char *text);
/* Calls done with the counts; the server's own answer count when it gave one. */
void sr_server_answer_done (SrServerAnswer *answer, const GError *error);

/* The prompt's messages as a JSON array of {"role","content"} objects. */
JsonNode *sr_server_messages_json (const SrGenerateRequest *request, guint history_budget);

/* The JSON object of a line or body, or NULL with a BACKEND_UNAVAILABLE error naming
 * @server_name. */
JsonObject *sr_server_parse_object (const char *text, gssize length, const char *server_name,
                                    GError **error);

/* What an error body says, shortened for a message: Ollama's {"error": "…"}, OpenAI's
 * {"error": {"message": "…"}}, or the text itself. */
char *sr_server_error_text (const char *body);

/* Nothing but spaces: a keep-alive line of a stream. */
gboolean sr_is_blank (const char *line, gsize length);

/* A member of @object as text, number or boolean; the fallback when absent or of another
 * type. */
const char *sr_json_string (JsonObject *object, const char *member);
guint sr_json_uint (JsonObject *object, const char *member);
gboolean sr_json_true (JsonObject *object, const char *member);

/* The server's options as an HTTP client description of @kind. */
SrHttpClient *sr_server_client_new (const SrServerOptions *options, const char *kind,
                                    const char *unreachable_hint);

G_END_DECLS
