/* Answers told to HTTP clients as they come: one question at a time, ended by the client. */
#pragma once

#include "http/routes.h"
#include "service/queries.h"

G_BEGIN_DECLS

/* The answers streamed over one SrHttp, so that a revoked token or a stopping server can
 * end each of them; kept on the server (http-private.h). */
typedef struct SrAnswerStreams SrAnswerStreams;
typedef struct SrAnswerStream SrAnswerStream;

/* A question as a client sends it: JSON fields read strictly, then checked by the service. */
typedef struct {
  char *session_id;
  char *question;
  char *backend;
  char *model;
  SrAskOptions options; /* its backend and model are the two above */
} SrAnswerRequest;

/* Reads the fields of @body that @fields (NULL-terminated) names, each type-checked: of
 * session_id (required when named), query (required), k, history, backend, model,
 * temperature and max_tokens. Any other field in @fields ("type") is left to the caller;
 * one not in @fields is INVALID_ARGS, saying that @what takes those. */
gboolean sr_answer_request_read (SrAnswerRequest *request, SrJsonBody *body,
                                 const char *const *fields, const char *what, GError **error);
void sr_answer_request_clear (SrAnswerRequest *request);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SrAnswerRequest, sr_answer_request_clear)

/* What the client is told, on the main loop. After sr_answer_stream_ask(): @sources once,
 * @token for each piece, then @finished or @failed. @ended when the stream must end at
 * once: its token was revoked (UNAUTHENTICATED) or the server stops (SHUTTING_DOWN); a
 * running answer, @query_id (else NULL), was stopped and is not told of otherwise. */
typedef struct {
  void (*sources) (const char *query_id, GPtrArray *hits, gpointer user_data);
  void (*token) (const char *query_id, const char *text, gpointer user_data);
  void (*finished) (const char *query_id, const char *answer, GPtrArray *hits,
                    const SrAnswerStats *stats, gpointer user_data);
  void (*failed) (const char *query_id, const GError *error, gpointer user_data);
  void (*ended) (const char *query_id, const GError *error, gpointer user_data);
} SrAnswerSink;

SrAnswerStreams *sr_answer_streams_new (SrService *service);
/* The server stops: every stream is ended (SHUTTING_DOWN); answers still running are left
 * to the service, which stores them as the daemon stops. */
void sr_answer_streams_free (SrAnswerStreams *streams);

/* A stream for the client of @request, asking as its caller; ended when the token that
 * identified the request, if any, is revoked. */
SrAnswerStream *sr_answer_stream_new (SrHttpRequest *request, const SrAnswerSink *sink,
                                      gpointer user_data);
/* The client is done or gone: it is told nothing more, a running answer is cancelled
 * (what was said is stored as incomplete), and @stream is freed. */
void sr_answer_stream_close (SrAnswerStream *stream);

/* Starts answering @request; BUSY while an answer of this stream runs. */
gboolean sr_answer_stream_ask (SrAnswerStream *stream, const SrAnswerRequest *request,
                               GError **error);
/* The running answer's query id, or NULL. */
const char *sr_answer_stream_running (SrAnswerStream *stream);
/* Cancels the running answer, which then fails (CANCELLED); NOT_FOUND when none runs. */
gboolean sr_answer_stream_cancel (SrAnswerStream *stream, GError **error);

/* The sources of an answer as an array of objects (document_id, filename, chunk, page
 * when known, heading, text, score), and its stats as members of the open object. */
void sr_answer_write_sources (SrJsonWriter *writer, GPtrArray *hits);
/* One source object, the same whether it comes from a live answer or a stored message. */
void sr_answer_write_source (SrJsonWriter *writer, const char *document_id, const char *filename,
                             guint chunk, guint page, const char *heading, const char *text,
                             double score);
void sr_answer_write_stats (SrJsonWriter *writer, const SrAnswerStats *stats);

G_END_DECLS
