/* Conversation exports: the JSON and Markdown renderings, and their writing to a descriptor. */
#define _GNU_SOURCE
#include "service/conversation-export.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "service/conversations.h"

/* 9999-12-31T23:59:59Z: GDateTime's last second. */
#define LAST_SECOND G_GINT64_CONSTANT (253402300799)

gboolean
sr_export_parse_format (const char *name, SrExportFormat *format, GError **error)
{
  if (g_strcmp0 (name, "json") == 0) {
    *format = SR_EXPORT_JSON;
    return TRUE;
  }
  if (g_strcmp0 (name, "markdown") == 0) {
    *format = SR_EXPORT_MARKDOWN;
    return TRUE;
  }
  g_autofree char *shown = g_utf8_make_valid (name != NULL ? name : "", -1);
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
               _ ("Invalid format '%s': expected \"json\" or \"markdown\""), shown);
  return FALSE;
}

/* A stored time as GDateTime takes it: a damaged one reads as the epoch, never a crash. */
static GDateTime *
utc_time (gint64 us)
{
  if (us < 0 || us / G_USEC_PER_SEC > LAST_SECOND)
    us = 0;
  g_autoptr (GDateTime) second = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  return g_date_time_add (second, us % G_USEC_PER_SEC);
}

/* ISO 8601 in UTC, to the millisecond: 2026-11-25T18:39:09.123Z. */
static char *
iso8601 (gint64 us)
{
  g_autoptr (GDateTime) t = utc_time (us);
  g_autofree char *seconds = g_date_time_format (t, "%Y-%m-%dT%H:%M:%S");
  return g_strdup_printf ("%s.%03dZ", seconds, g_date_time_get_microsecond (t) / 1000);
}

/* --- JSON ------------------------------------------------------------------------- */

static void
set_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value != NULL ? value : "");
}

static void
set_time (JsonBuilder *b, const char *name, gint64 us)
{
  g_autofree char *text = iso8601 (us);
  set_string (b, name, text);
}

/* The sources as they were stored: an array of search hits, given back unchanged. */
static void
add_sources (JsonBuilder *b, const char *sources_json)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root = NULL;
  if (sources_json != NULL && json_parser_load_from_data (parser, sources_json, -1, NULL))
    root = json_parser_get_root (parser);
  if (root != NULL && JSON_NODE_HOLDS_ARRAY (root)) {
    json_builder_add_value (b, json_node_copy (root));
    return;
  }
  json_builder_begin_array (b);
  json_builder_end_array (b);
}

static void
add_message (JsonBuilder *b, const SrMessageRecord *m)
{
  json_builder_begin_object (b);
  set_string (b, "role", m->role);
  set_string (b, "content", m->content);
  set_string (b, "state", m->state);
  set_time (b, "created_at", m->created_at);
  set_string (b, "query_id", m->query_id);
  json_builder_set_member_name (b, "sources");
  add_sources (b, m->sources_json);
  set_string (b, "backend", m->backend);
  set_string (b, "model", m->model);
  json_builder_set_member_name (b, "ttft_ms");
  json_builder_add_double_value (b, m->ttft_ms);
  json_builder_set_member_name (b, "total_ms");
  json_builder_add_double_value (b, m->total_ms);
  json_builder_set_member_name (b, "prompt_tokens");
  json_builder_add_int_value (b, m->prompt_tokens);
  json_builder_set_member_name (b, "answer_tokens");
  json_builder_add_int_value (b, m->answer_tokens);
  if (m->error != NULL && *m->error != '\0')
    set_string (b, "error", m->error);
  json_builder_end_object (b);
}

static GBytes *
render_json (const SrSessionRecord *session, GPtrArray *messages, gint64 now)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "session");
  json_builder_begin_object (b);
  set_string (b, "id", session->id);
  set_string (b, "title", session->title);
  set_time (b, "created_at", session->created_at);
  set_time (b, "exported_at", now);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "messages");
  json_builder_begin_array (b);
  for (guint i = 0; i < messages->len; i++)
    add_message (b, messages->pdata[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_root (generator, root);
  GString *out = g_string_new (NULL);
  json_generator_to_gstring (generator, out);
  g_string_append_c (out, '\n');
  return g_string_free_to_bytes (out);
}

/* --- Markdown --------------------------------------------------------------------- */

/* Text of ours inside a line (a title, a filename, a heading): what Markdown would read
 * as markup is escaped, and a line break cannot start a block of its own. */
static void
append_inline (GString *out, const char *text)
{
  for (const char *p = text != NULL ? text : ""; *p != '\0'; p++) {
    if (strchr ("\\`*_[]<>#|", *p) != NULL)
      g_string_append_c (out, '\\');
    g_string_append_c (out, *p == '\n' || *p == '\r' ? ' ' : *p);
  }
}

/* 2026-11-25 18:39:09 UTC */
static char *
readable_time (gint64 us)
{
  g_autoptr (GDateTime) t = utc_time (us);
  return g_date_time_format (t, "%Y-%m-%d %H:%M:%S UTC");
}

/* [n] filename, p. N — heading */
static void
append_source (GString *out, guint n, const SrMessageSource *source)
{
  g_string_append_printf (out, "- [%u] ", n);
  append_inline (out, *source->filename != '\0' ? source->filename : source->document_id);
  if (source->page > 0)
    g_string_append_printf (out, _ (", p. %u"), source->page);
  if (*source->heading != '\0') {
    g_string_append (out, " — ");
    append_inline (out, source->heading);
  }
  g_string_append_c (out, '\n');
}

/* Why an answer is not whole, in its own line under it. */
static void
append_state (GString *out, const SrMessageRecord *m)
{
  const char *label = NULL;
  if (g_strcmp0 (m->state, "incomplete") == 0)
    label = _ ("Incomplete answer");
  else if (g_strcmp0 (m->state, "failed") == 0)
    label = _ ("No answer");
  if (label == NULL)
    return;
  g_string_append_printf (out, "*%s", label);
  if (m->error != NULL && *m->error != '\0') {
    g_string_append (out, ": ");
    append_inline (out, m->error);
  }
  g_string_append (out, "*\n\n");
}

static void
append_message (GString *out, const SrMessageRecord *m)
{
  gboolean answer = g_strcmp0 (m->role, "assistant") == 0;
  /* A rule before each question sets the exchanges apart. */
  if (!answer)
    g_string_append (out, "---\n\n");
  g_autofree char *created = readable_time (m->created_at);
  g_string_append_printf (out, "**%s** · %s", answer ? _ ("Assistant") : _ ("You"), created);
  if (answer && m->backend != NULL && *m->backend != '\0') {
    g_string_append (out, " · ");
    append_inline (out, m->backend);
    if (m->model != NULL && *m->model != '\0') {
      g_string_append (out, ", ");
      append_inline (out, m->model);
    }
  }
  g_string_append (out, "\n\n");
  if (m->content != NULL && *m->content != '\0')
    g_string_append_printf (out, "%s\n\n", m->content);
  append_state (out, m);

  g_autoptr (GPtrArray) sources = sr_conversations_parse_sources (m->sources_json);
  if (sources->len == 0)
    return;
  g_string_append_printf (out, "%s\n\n", _ ("Sources:"));
  for (guint i = 0; i < sources->len; i++)
    append_source (out, i + 1, sources->pdata[i]);
  g_string_append_c (out, '\n');
}

static GBytes *
render_markdown (const SrSessionRecord *session, GPtrArray *messages, gint64 now)
{
  GString *out = g_string_new ("# ");
  append_inline (out, *session->title != '\0' ? session->title : _ ("Conversation"));
  g_autofree char *created = readable_time (session->created_at);
  g_autofree char *exported = readable_time (now);
  g_string_append (out, "\n\n");
  g_string_append_printf (out, _ ("Session `%s` · created %s · exported %s"), session->id, created,
                          exported);
  g_string_append (out, "\n\n");
  if (messages->len == 0)
    g_string_append_printf (out, "*%s*\n", _ ("No messages yet."));
  for (guint i = 0; i < messages->len; i++)
    append_message (out, messages->pdata[i]);
  return g_string_free_to_bytes (out);
}

GBytes *
sr_export_render (SrExportFormat format, const SrSessionRecord *session, GPtrArray *messages,
                  gint64 now)
{
  if (format == SR_EXPORT_MARKDOWN)
    return render_markdown (session, messages, now);
  return render_json (session, messages, now);
}

/* --- writing ---------------------------------------------------------------------- */

gboolean
sr_export_check_fd (int fd, GError **error)
{
  int flags = fcntl (fd, F_GETFL);
  if (flags < 0) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS, _ ("Invalid fd: %s"),
                 g_strerror (errno));
    return FALSE;
  }
  int mode = flags & O_ACCMODE;
  if ((flags & O_PATH) != 0 || (mode != O_WRONLY && mode != O_RDWR)) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Invalid fd: not open for writing"));
    return FALSE;
  }
  return TRUE;
}

static gboolean
fail_write (int saved, GError **error)
{
  if (saved == EPIPE)
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Cannot write the export: the reading end of the descriptor was "
                            "closed"));
  else
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("Cannot write the export: %s"), g_strerror (saved));
  return FALSE;
}

/* Waits until a pipe or socket takes bytes again (or reports its reader gone, which the
 * next write turns into EPIPE). */
static gboolean
wait_writable (int fd, guint idle_timeout_ms, GError **error)
{
  struct pollfd p = { .fd = fd, .events = POLLOUT };
  int r;
  do
    r = poll (&p, 1, (int) MIN (idle_timeout_ms, (guint) G_MAXINT));
  while (r < 0 && errno == EINTR);
  if (r > 0)
    return TRUE;
  if (r < 0)
    return fail_write (errno, error);
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
               _ ("The export stopped: its reader took nothing for %u ms"), idle_timeout_ms);
  return FALSE;
}

/* A pipe or socket (@streaming) is written in pieces no larger than a pipe's free slot
 * takes, each after poll() said there is room, so that a write does not wait on the
 * reader, whether the descriptor blocks or not. */
static gboolean
write_all (int fd, const guint8 *data, gsize length, guint idle_timeout_ms, int *failure,
           GError **error)
{
  struct stat st;
  gboolean streaming = fstat (fd, &st) != 0 || !(S_ISREG (st.st_mode) || S_ISBLK (st.st_mode));

  while (length > 0) {
    if (streaming && !wait_writable (fd, idle_timeout_ms, error))
      return FALSE;
    gssize n = write (fd, data, streaming ? MIN (length, PIPE_BUF) : length);
    if (n < 0 && errno == EINTR)
      continue;
    /* A descriptor its owner made non-blocking: waited on like a pipe. */
    if (n < 0 && errno == EAGAIN) {
      streaming = TRUE;
      continue;
    }
    if (n < 0) {
      *failure = errno;
      return fail_write (errno, error);
    }
    data += n;
    length -= (gsize) n;
  }
  return TRUE;
}

gboolean
sr_export_write (int fd, GBytes *bytes, guint idle_timeout_ms, GError **error)
{
  /* Writing to a pipe whose reader left raises SIGPIPE, which would end the daemon:
   * blocked on this thread, it stays pending instead, and is taken back below. */
  sigset_t sigpipe, saved, pending;
  sigemptyset (&sigpipe);
  sigaddset (&sigpipe, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &sigpipe, &saved);
  sigpending (&pending);
  gboolean was_pending = sigismember (&pending, SIGPIPE);

  gsize length = 0;
  const guint8 *data = g_bytes_get_data (bytes, &length);
  int failure = 0;
  gboolean ok = write_all (fd, data, length, idle_timeout_ms, &failure, error);

  if (failure == EPIPE && !was_pending) {
    struct timespec now = { 0, 0 };
    while (sigtimedwait (&sigpipe, NULL, &now) < 0 && errno == EINTR)
      ;
  }
  pthread_sigmask (SIG_SETMASK, &saved, NULL);
  return ok;
}
