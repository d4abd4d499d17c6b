/* Streaming HTTP for the model-server generators: POST JSON, read the answer line by line. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The server a client talks to, as its messages name it. */
typedef struct {
  const char *kind; /* "Ollama", "the OpenAI-compatible server" */
  const char *url;  /* its base URL, without a trailing slash */
  /* What to check when it cannot be reached: "is 'ollama serve' running?" */
  const char *unreachable_hint;
  guint connect_timeout_ms;     /* from the start until the request is sent */
  guint first_token_timeout_ms; /* from the start until sr_http_stream_first_token() */
  guint total_timeout_ms;       /* from the start until the end */
} SrHttpServer;

/* One connection pool (a SoupSession) for one server. Used on the thread-default main
 * context it was made on, as libsoup requires of its asynchronous calls. */
typedef struct SrHttpClient SrHttpClient;

SrHttpClient *sr_http_client_new (const SrHttpServer *server);
/* Streams that have not ended are stopped without their end being called (their
 * @destroy still runs): free the client only once its users are done. */
void sr_http_client_free (SrHttpClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrHttpClient, sr_http_client_free)

const SrHttpServer *sr_http_client_server (SrHttpClient *client);
/* "Ollama at http://127.0.0.1:11434", for messages. */
const char *sr_http_client_name (SrHttpClient *client);

typedef struct {
  const char *path;    /* appended to the server's URL: "/api/chat" */
  JsonNode *body;      /* POSTed as JSON; NULL: a GET */
  const char *api_key; /* NULL, or sent as "Authorization: Bearer …" */
  guint timeout_ms;    /* 0: the server's total timeout */
} SrHttpRequest;

typedef struct SrHttpStream SrHttpStream;

typedef enum {
  SR_HTTP_LINE_MORE,   /* read on */
  SR_HTTP_LINE_END,    /* the answer is complete */
  SR_HTTP_LINE_FAILED, /* the error set says why */
} SrHttpLineResult;

/* Each line of a 2xx body, without its line break ("\n" or "\r\n"). */
typedef SrHttpLineResult (*SrHttpLineFunc) (const char *line, gsize length, gpointer user_data,
                                            GError **error);

typedef struct {
  /* Why the stream failed: BACKEND_UNAVAILABLE worded with the server's name, CANCELLED,
   * or a line's error. NULL when the server answered: then see the rest. */
  const GError *error;
  guint status;         /* the HTTP status; 0 when no response came */
  const char *body;     /* a non-2xx body, or any whole body (no line function); else NULL */
  gboolean ended_early; /* a 2xx body ended before a line said SR_HTTP_LINE_END */
} SrHttpOutcome;

/* Called once, last, on the client's main context, never from inside the call that started
 * the stream. */
typedef void (*SrHttpEndFunc) (const SrHttpOutcome *outcome, gpointer user_data);

/* Sends @request. With @line, each line of a 2xx body goes to it as it arrives and the
 * first-token timeout applies; without, the body (at most 1 MiB) comes whole to @end.
 * @cancellable stops the stream at once: @end follows in the next main loop iteration with
 * SMARTRAG_ERROR_CANCELLED. @destroy frees @user_data after the stream's last call. The
 * stream is valid until @end has been called. */
SrHttpStream *sr_http_stream_start (SrHttpClient *client, const SrHttpRequest *request,
                                    GCancellable *cancellable, SrHttpLineFunc line,
                                    SrHttpEndFunc end, gpointer user_data, GDestroyNotify destroy);
/* The first token arrived: the first-token timeout no longer applies. */
void sr_http_stream_first_token (SrHttpStream *stream);

G_END_DECLS
