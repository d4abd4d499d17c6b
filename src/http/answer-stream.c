/* Answers told to HTTP clients as they come: one question at a time, ended by the client. */
#include "http/answer-stream.h"

#include <glib/gi18n.h>

#include "http/http-private.h"
#include "store/chunks.h"

struct SrAnswerStreams {
  SrService *service;
  GQueue open; /* SrAnswerStream */
  guint serial;
};

struct SrAnswerStream {
  gint refs;                /* the client's, and the running answer's */
  SrAnswerStreams *streams; /* NULL once closed, or once the server stopped */
  GList link;               /* in streams->open */
  SrService *service;
  SrCaller caller;
  char *peer;     /* this stream's own: its answers are cancelled by it */
  char *token_id; /* that identified the client; NULL over the Unix socket */
  SrAnswerSink sink;
  gpointer user_data;
  gboolean silent;   /* the client is told nothing more */
  gboolean orphaned; /* the server stopped: the service ends what still runs */
  char *query_id;    /* the answer running, NULL between answers */
  char *session_id;  /* its session */
};

static SrAnswerStream *
stream_ref (SrAnswerStream *stream)
{
  stream->refs++;
  return stream;
}

static void
stream_unref (gpointer data)
{
  SrAnswerStream *stream = data;
  if (--stream->refs > 0)
    return;
  g_free (stream->peer);
  g_free (stream->token_id);
  g_free (stream->query_id);
  g_free (stream->session_id);
  g_free (stream);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrAnswerStream, stream_unref)

static void
forget_running (SrAnswerStream *stream)
{
  g_clear_pointer (&stream->query_id, g_free);
  g_clear_pointer (&stream->session_id, g_free);
}

static void
unlink_stream (SrAnswerStream *stream)
{
  if (stream->streams == NULL)
    return;
  g_queue_unlink (&stream->streams->open, &stream->link);
  stream->streams = NULL;
}

/* Stops the running answer as its asker leaving; the service stores what was said. */
static void
stop_running (SrAnswerStream *stream)
{
  if (stream->query_id == NULL || stream->orphaned)
    return;
  sr_queries_cancel_peer (sr_service_queries (stream->service), stream->peer);
}

/* The stream ends without the client asking: its answer stops unheard, and the client is
 * told why instead. */
static void
end_stream (SrAnswerStream *stream, const GError *why)
{
  g_autoptr (SrAnswerStream) hold = stream_ref (stream);
  g_autofree char *query_id = g_strdup (stream->query_id);
  if (stream->silent)
    return;
  stream->silent = TRUE;
  stop_running (stream);
  if (stream->sink.ended != NULL)
    stream->sink.ended (query_id, why, stream->user_data);
}

static void
on_token_revoked (const char *token_id, guint32 owner_uid, gpointer user_data)
{
  SrAnswerStreams *streams = user_data;
  g_autoptr (GPtrArray) ended = g_ptr_array_new_with_free_func (stream_unref);
  for (GList *l = streams->open.head; l != NULL; l = l->next) {
    SrAnswerStream *stream = l->data;
    if (g_strcmp0 (stream->token_id, token_id) == 0)
      g_ptr_array_add (ended, stream_ref (stream));
  }
  g_autoptr (GError) error
      = g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_UNAUTHENTICATED,
                             _ ("The API token this stream was opened with has been revoked"));
  for (guint i = 0; i < ended->len; i++)
    end_stream (ended->pdata[i], error);
}

SrAnswerStreams *
sr_answer_streams_new (SrService *service)
{
  SrAnswerStreams *streams = g_new0 (SrAnswerStreams, 1);
  streams->service = service;
  sr_service_add_token_listener (service, on_token_revoked, streams);
  return streams;
}

void
sr_answer_streams_free (SrAnswerStreams *streams)
{
  if (streams == NULL)
    return;
  sr_service_remove_token_listener (streams->service, on_token_revoked, streams);
  g_autoptr (GError) error = g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_SHUTTING_DOWN,
                                                  _ ("The daemon stopped"));
  while (!g_queue_is_empty (&streams->open)) {
    SrAnswerStream *stream = g_queue_peek_head (&streams->open);
    unlink_stream (stream);
    stream->orphaned = TRUE;
    end_stream (stream, error);
  }
  g_free (streams);
}

SrAnswerStream *
sr_answer_stream_new (SrHttpRequest *request, const SrAnswerSink *sink, gpointer user_data)
{
  SrAnswerStreams *streams = request->http->answers;
  SrAnswerStream *stream = g_new0 (SrAnswerStream, 1);
  stream->refs = 1;
  stream->service = request->http->service;
  stream->peer = g_strdup_printf ("%s:s%u", request->caller.peer, ++streams->serial);
  stream->caller = request->caller;
  stream->caller.peer = stream->peer;
  stream->token_id = g_strdup (request->token_id);
  stream->sink = *sink;
  stream->user_data = user_data;
  stream->streams = streams;
  stream->link.data = stream;
  g_queue_push_tail_link (&streams->open, &stream->link);
  return stream;
}

void
sr_answer_stream_close (SrAnswerStream *stream)
{
  stream->silent = TRUE;
  unlink_stream (stream);
  stop_running (stream);
  stream_unref (stream);
}

static void
on_sources (const char *query_id, GPtrArray *hits, gpointer user_data)
{
  SrAnswerStream *stream = user_data;
  if (!stream->silent && stream->sink.sources != NULL)
    stream->sink.sources (query_id, hits, stream->user_data);
}

static void
on_token (const char *query_id, const char *text, gpointer user_data)
{
  SrAnswerStream *stream = user_data;
  if (!stream->silent && stream->sink.token != NULL)
    stream->sink.token (query_id, text, stream->user_data);
}

/* The running answer holds a reference until the service lets it go, so the stream
 * outlives these calls even when the client closes it from one of them. */
static void
on_finished (const char *query_id, const char *answer, GPtrArray *hits, const SrAnswerStats *stats,
             gpointer user_data)
{
  SrAnswerStream *stream = user_data;
  forget_running (stream);
  if (!stream->silent && stream->sink.finished != NULL)
    stream->sink.finished (query_id, answer, hits, stats, stream->user_data);
}

static void
on_failed (const char *query_id, const GError *error, const char *answer, gpointer user_data)
{
  SrAnswerStream *stream = user_data;
  forget_running (stream);
  if (!stream->silent && stream->sink.failed != NULL)
    stream->sink.failed (query_id, error, stream->user_data);
}

gboolean
sr_answer_stream_ask (SrAnswerStream *stream, const SrAnswerRequest *request, GError **error)
{
  static const SrAskListener listener = { on_sources, on_token, on_finished, on_failed };
  if (stream->query_id != NULL)
    return sr_error_set (error, SMARTRAG_ERROR_BUSY,
                         _ ("A question is still being answered here; wait for its end or "
                            "cancel it"));
  char *query_id = sr_queries_ask (sr_service_queries (stream->service), &stream->caller,
                                   request->session_id, request->question, &request->options,
                                   &listener, stream_ref (stream), stream_unref, error);
  if (query_id == NULL) {
    stream_unref (stream);
    return FALSE;
  }
  stream->query_id = query_id;
  stream->session_id = g_strdup (request->session_id);
  return TRUE;
}

const char *
sr_answer_stream_running (SrAnswerStream *stream)
{
  return stream->query_id;
}

gboolean
sr_answer_stream_cancel (SrAnswerStream *stream, GError **error)
{
  if (stream->query_id == NULL)
    return sr_error_set (error, SMARTRAG_ERROR_NOT_FOUND,
                         _ ("No question is being answered here; it may have finished"));
  g_autofree char *query_id = g_strdup (stream->query_id);
  g_autofree char *session_id = g_strdup (stream->session_id);
  g_autoptr (GError) local = NULL;
  if (sr_queries_cancel (sr_service_queries (stream->service), &stream->caller, session_id,
                         query_id, &local))
    return TRUE;
  /* The session went while it was answered: the answer stops all the same. */
  g_debug ("Cancelling query %s as its asker instead: %s", query_id, local->message);
  sr_queries_cancel_peer (sr_service_queries (stream->service), stream->peer);
  return TRUE;
}

static gboolean
read_options (SrAnswerRequest *request, SrJsonBody *body, GError **error)
{
  guint64 k = request->options.k;
  guint64 max_tokens = request->options.max_tokens;
  if (!sr_json_body_get_uint (body, "k", G_MAXUINT, &k, error)
      || !sr_json_body_get_boolean (body, "history", &request->options.history, error)
      || !sr_json_body_get_string (body, "backend", &request->backend, error)
      || !sr_json_body_get_string (body, "model", &request->model, error)
      || !sr_json_body_get_number (body, "temperature", &request->options.temperature, error)
      || !sr_json_body_get_uint (body, "max_tokens", G_MAXUINT, &max_tokens, error))
    return FALSE;
  request->options.k = (guint) k;
  request->options.max_tokens = (guint) max_tokens;
  request->options.backend = request->backend;
  request->options.model = request->model;
  return TRUE;
}

gboolean
sr_answer_request_read (SrAnswerRequest *request, SrJsonBody *body, const char *const *fields,
                        const char *what, GError **error)
{
  *request = (SrAnswerRequest){ .options = SR_ASK_OPTIONS_INIT };
  if (!sr_json_body_check_fields (body, fields, what, error))
    return FALSE;
  if (g_strv_contains (fields, "session_id")
      && (!sr_json_body_require (body, "session_id", error)
          || !sr_json_body_get_string (body, "session_id", &request->session_id, error)))
    return FALSE;
  return sr_json_body_require (body, "query", error)
         && sr_json_body_get_string (body, "query", &request->question, error)
         && read_options (request, body, error);
}

void
sr_answer_request_clear (SrAnswerRequest *request)
{
  g_clear_pointer (&request->session_id, g_free);
  g_clear_pointer (&request->question, g_free);
  g_clear_pointer (&request->backend, g_free);
  g_clear_pointer (&request->model, g_free);
}

void
sr_answer_write_source (SrJsonWriter *writer, const char *document_id, const char *filename,
                        guint chunk, guint page, const char *heading, const char *text,
                        double score)
{
  sr_json_writer_begin_object (writer);
  sr_json_writer_member_string (writer, "document_id", document_id);
  sr_json_writer_member_string (writer, "filename", filename);
  sr_json_writer_member_uint (writer, "chunk", chunk);
  /* Only paged formats know a page. */
  if (page > 0)
    sr_json_writer_member_uint (writer, "page", page);
  sr_json_writer_member_string (writer, "heading", heading);
  sr_json_writer_member_string (writer, "text", text);
  sr_json_writer_key (writer, "score");
  sr_json_writer_double (writer, score);
  sr_json_writer_end_object (writer);
}

void
sr_answer_write_sources (SrJsonWriter *writer, GPtrArray *hits)
{
  sr_json_writer_begin_array (writer);
  for (guint i = 0; hits != NULL && i < hits->len; i++) {
    const SrChunkHit *hit = hits->pdata[i];
    sr_answer_write_source (writer, hit->document_id, hit->filename, hit->ordinal, hit->page,
                            hit->heading, hit->text, hit->score);
  }
  sr_json_writer_end_array (writer);
}

void
sr_answer_write_stats (SrJsonWriter *writer, const SrAnswerStats *stats)
{
  sr_json_writer_member_string (writer, "backend", stats->backend);
  sr_json_writer_member_string (writer, "model", stats->model);
  sr_json_writer_key (writer, "ttft_ms");
  sr_json_writer_double (writer, stats->ttft_ms);
  sr_json_writer_key (writer, "total_ms");
  sr_json_writer_double (writer, stats->total_ms);
  sr_json_writer_member_uint (writer, "prompt_tokens", stats->prompt_tokens);
  sr_json_writer_member_uint (writer, "answer_tokens", stats->answer_tokens);
}
