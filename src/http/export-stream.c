/* A conversation's export sent as it is written: the service writes a pipe, HTTP reads it. */
#include "http/export-stream.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <unistd.h>

#include "common/errors.h"
#include "http/http-private.h"
#include "service/conversations.h"

#define STATE_KEY "sr-http-export"
/* Read and sent one at a time: a slow client slows the export, it never piles up here. */
#define CHUNK_BYTES (64 * 1024)

typedef struct {
  gint refs;                  /* the message's, and each operation's under way */
  SrHttpRequest *request;     /* NULL once the message is gone or finished */
  SoupServerMessage *message; /* likewise */
  int pipe;                   /* the reading end, non-blocking; -1 once closed */
  guint watch;                /* waiting for the pipe to be readable */
  gboolean markdown;
  gboolean started;  /* the headers are out and the body is under way */
  gboolean end;      /* the pipe is at its end */
  gboolean exported; /* the service has said how the export went */
  GError *error;     /* of the export, or of reading it */
} Export;

static Export *
export_ref (Export *export)
{
  export->refs++;
  return export;
}

static void
export_unref (gpointer data)
{
  Export *export = data;
  if (--export->refs > 0)
    return;
  g_clear_error (&export->error);
  g_free (export);
}

/* No more is sent: the pipe closes, so a writer still at work fails at once. */
static void
stop (Export *export)
{
  export->request = NULL;
  export->message = NULL;
  g_clear_handle_id (&export->watch, g_source_remove);
  if (export->pipe >= 0)
    close (export->pipe);
  export->pipe = -1;
}

static void
on_message_gone (gpointer data)
{
  stop (data);
  export_unref (data);
}

static void
on_finished (SoupServerMessage *message, gpointer user_data)
{
  stop (user_data);
}
static void
start_body (Export *export)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (export->message);
  const char *id = sr_http_request_param (export->request, "id");
  g_autofree char *disposition = g_strdup_printf ("attachment; filename=\"conversation-%s.%s\"", id,
                                                  export->markdown ? "md" : "json");
  sr_http_reply_empty (export->request, SOUP_STATUS_OK);
  soup_message_headers_replace (headers, "Content-Type",
                                export->markdown ? "text/markdown; charset=utf-8"
                                                 : "application/json; charset=utf-8");
  soup_message_headers_replace (headers, "Content-Disposition", disposition);
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_body_set_accumulate (soup_server_message_get_response_body (export->message), FALSE);
  export->started = TRUE;
}

static void
cut (Export *export)
{
  GSocket *socket = sr_http_message_socket (export->message);
  g_debug ("A conversation export stopped after it began: %s", export->error->message);
  if (socket != NULL)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
}

/* Both the pipe's end and the service's word are in: the reply ends. An export that failed
 * after its first bytes cannot change its status any more: the connection is cut, so
 * that the client sees an unfinished body rather than a short export. */
static void
finish (Export *export)
{
  if (export->message == NULL || !export->end || !export->exported)
    return;
  SoupServerMessage *message = export->message;
  if (export->error != NULL && !export->started) {
    sr_http_reply_error (export->request, export->error);
  } else {
    if (!export->started)
      start_body (export);
    if (export->error != NULL)
      cut (export);
    /* Even after a cut: writing the end is what lets libsoup see the broken connection. */
    soup_message_body_complete (soup_server_message_get_response_body (message));
  }
  stop (export);
  soup_server_message_unpause (message);
}

static void
read_failed (Export *export, int errsv)
{
  if (export->error == NULL)
    export->error = g_error_new (SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                                 _ ("Cannot read the conversation export: %s"), g_strerror (errsv));
  export->end = TRUE;
}

/* One chunk at a time; the next is read once libsoup has written this one. */
static gboolean
on_readable (int fd, GIOCondition condition, gpointer user_data)
{
  Export *export = user_data;
  g_autofree char *buffer = g_malloc (CHUNK_BYTES);
  gssize n = read (fd, buffer, CHUNK_BYTES);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return G_SOURCE_CONTINUE;
  export->watch = 0;
  if (n < 0)
    read_failed (export, errno);
  else if (n == 0)
    export->end = TRUE;
  if (export->end) {
    finish (export);
    return G_SOURCE_REMOVE;
  }
  if (!export->started)
    start_body (export);
  soup_message_body_append_take (soup_server_message_get_response_body (export->message),
                                 (guchar *) g_steal_pointer (&buffer), (gsize) n);
  soup_server_message_unpause (export->message);
  return G_SOURCE_REMOVE;
}

static void
read_next (Export *export)
{
  if (export->watch != 0 || export->end || export->pipe < 0)
    return;
  export->watch
      = g_unix_fd_add_full (G_PRIORITY_DEFAULT, export->pipe, G_IO_IN | G_IO_HUP | G_IO_ERR,
                            on_readable, export_ref (export), export_unref);
}

static void
on_wrote_chunk (SoupServerMessage *message, gpointer user_data)
{
  read_next (user_data);
}

static void
on_exported (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Export *export = user_data;
  g_autoptr (GError) error = NULL;
  export->exported = TRUE;
  if (!sr_conversations_export_finish (result, &error)) {
    g_clear_error (&export->error);
    export->error = g_steal_pointer (&error);
  }
  finish (export);
  export_unref (export);
}

void
sr_http_export_conversation (SrHttpRequest *request, const char *format)
{
  SoupServerMessage *message = sr_http_request_message (request);
  int fds[2];
  g_autoptr (GError) error = NULL;
  if (!g_unix_open_pipe (fds, FD_CLOEXEC, &error)
      || !g_unix_set_fd_nonblocking (fds[0], TRUE, &error)) {
    sr_http_message_reply_code (message, SMARTRAG_ERROR_FAILED, _ ("Cannot make a pipe: %s"),
                                error->message);
    return;
  }
  Export *export = g_new0 (Export, 1);
  export->refs = 1;
  export->request = request;
  export->message = message;
  export->pipe = fds[0];
  export->markdown = g_str_equal (format, "markdown");
  g_object_set_data_full (G_OBJECT (message), STATE_KEY, export, on_message_gone);
  g_signal_connect (message, "wrote-chunk", G_CALLBACK (on_wrote_chunk), export);
  g_signal_connect (message, "finished", G_CALLBACK (on_finished), export);

  /* The service writes its own copy of the writing end; ours closes now, so the pipe
   * ends when the service is done with it, or at once when it refused. */
  sr_conversations_export_async (
      sr_http_request_service (request), sr_http_request_caller (request),
      sr_http_request_param (request, "id"), format, fds[1], on_exported, export_ref (export));
  close (fds[1]);
  soup_server_message_pause (message);
  read_next (export);
}
