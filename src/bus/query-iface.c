/* org.smartrag.Daemon.Query on each session object: retrieval, and answers streamed as signals. */
#include <glib/gi18n.h>

#include "bus/bus-private.h"
#include "bus/options.h"
#include "common/errors.h"
#include "service/queries.h"
#include "service/search.h"
#include "store/chunks.h"

#define QUERY_INTERFACE SR_BUS_NAME ".Query"

typedef struct {
  char *text;
  gint64 k;
} SearchArgs;

static void
search_args_free (gpointer data)
{
  SearchArgs *args = data;
  g_free (args->text);
  g_free (args);
}

static int
append_hit (sd_bus_message *reply, gconstpointer item)
{
  const SrChunkHit *hit = item;
  int r = sd_bus_message_open_container (reply, 'a', "{sv}");
  if (r >= 0)
    r = sd_bus_message_append (reply, "{sv}{sv}{sv}{sv}{sv}{sv}", "document_id", "s",
                               hit->document_id, "filename", "s", hit->filename, "chunk", "u",
                               hit->ordinal, "heading", "s", hit->heading, "text", "s", hit->text,
                               "score", "d", hit->score);
  /* Only paged formats know a page. */
  if (r >= 0 && hit->page > 0)
    r = sd_bus_message_append (reply, "{sv}", "page", "u", hit->page);
  if (r >= 0)
    r = sd_bus_message_close_container (reply);
  return r;
}

static void
on_searched (GObject *source, GAsyncResult *result, gpointer user_data)
{
  sd_bus_message *m = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) hits = sr_search_finish (result, &error);

  if (hits == NULL)
    sr_bus_reply_session_error (m, NULL, error);
  else
    sr_bus_reply_list (m, hits, append_hit);
  sd_bus_message_unref (m);
}

static void
search_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller, const GError *denied,
                   gpointer data)
{
  SearchArgs *args = data;
  if (denied != NULL) {
    sr_bus_reply_session_error (m, denied, NULL);
    return;
  }
  const char *session_id = sr_bus_session_id_from_path (sd_bus_message_get_path (m));
  sr_search_async (bus->service, caller, session_id, args->text,
                   (guint) CLAMP (args->k, 0, G_MAXUINT), SR_SEARCH_HYBRID, on_searched,
                   sd_bus_message_ref (m));
}

static int
method_search (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  SearchArgs *args = g_new0 (SearchArgs, 1);
  args->k = SR_SEARCH_DEFAULT_K;
  const SrOptionSpec specs[] = {
    { "k", SR_OPTION_COUNT, &args->k },
  };
  const char *text;
  int r = sd_bus_message_read (m, "s", &text);
  if (r >= 0) {
    args->text = g_strdup (text);
    r = sr_bus_read_options (m, "Search", specs, G_N_ELEMENTS (specs), error);
  }
  if (r < 0) {
    search_args_free (args);
    return r;
  }
  return sr_bus_session_call (userdata, m, search_authorized, args, search_args_free, error);
}

typedef struct {
  char *question;
  gint64 k;
  gboolean history;
  char *backend;
  char *model;
  double temperature;
  gint64 max_tokens;
} AskArgs;

static void
ask_args_free (gpointer data)
{
  AskArgs *args = data;
  g_free (args->question);
  g_free (args->backend);
  g_free (args->model);
  g_free (args);
}

/* Where an answer's signals go: the session object, unicast to the asker alone. */
typedef struct {
  SrBus *bus;
  char *path;
  char *destination;
  sd_bus_message *wait; /* AskAndWait's call, answered at the end; NULL for Ask */
} Asker;

static void
asker_free (gpointer data)
{
  Asker *asker = data;
  g_free (asker->path);
  g_free (asker->destination);
  g_clear_pointer (&asker->wait, sd_bus_message_unref);
  g_free (asker);
}

static int
append_sources (sd_bus_message *m, GPtrArray *hits)
{
  int r = sd_bus_message_open_container (m, 'a', "a{sv}");
  for (guint i = 0; r >= 0 && hits != NULL && i < hits->len; i++)
    r = append_hit (m, hits->pdata[i]);
  if (r >= 0)
    r = sd_bus_message_close_container (m);
  return r;
}

static int
append_stats (sd_bus_message *m, const SrAnswerStats *stats)
{
  return sd_bus_message_append (m, "a{sv}", 6, "backend", "s", stats->backend, "model", "s",
                                stats->model, "ttft_ms", "d", stats->ttft_ms, "total_ms", "d",
                                stats->total_ms, "prompt_tokens", "u", stats->prompt_tokens,
                                "answer_tokens", "u", stats->answer_tokens);
}

static sd_bus_message *
new_signal (Asker *asker, const char *member)
{
  sd_bus_message *signal = NULL;
  int r
      = sd_bus_message_new_signal (asker->bus->bus, &signal, asker->path, QUERY_INTERFACE, member);
  if (r >= 0)
    r = sd_bus_message_set_destination (signal, asker->destination);
  if (r < 0) {
    g_debug ("Cannot make a %s signal for %s: %s", member, asker->destination, g_strerror (-r));
    return sd_bus_message_unref (signal);
  }
  return signal;
}

static void
send_signal (Asker *asker, sd_bus_message *signal, int r, const char *member)
{
  if (r >= 0)
    r = sd_bus_send (asker->bus->bus, signal, NULL);
  if (r < 0)
    g_debug ("Cannot send %s to %s: %s", member, asker->destination, g_strerror (-r));
}

static void
on_sources (const char *query_id, GPtrArray *hits, gpointer user_data)
{
  g_autoptr (sd_bus_message) signal = new_signal (user_data, "Sources");
  if (signal == NULL)
    return;
  int r = sd_bus_message_append (signal, "s", query_id);
  if (r >= 0)
    r = append_sources (signal, hits);
  send_signal (user_data, signal, r, "Sources");
}

static void
on_token (const char *query_id, const char *text, gpointer user_data)
{
  g_autoptr (sd_bus_message) signal = new_signal (user_data, "Token");
  if (signal != NULL)
    send_signal (user_data, signal, sd_bus_message_append (signal, "ss", query_id, text), "Token");
}

static void
on_finished (const char *query_id, const char *answer, GPtrArray *hits, const SrAnswerStats *stats,
             gpointer user_data)
{
  Asker *asker = user_data;
  g_autoptr (sd_bus_message) message = NULL;
  int r;
  if (asker->wait != NULL) {
    r = sd_bus_message_new_method_return (asker->wait, &message);
    if (r >= 0)
      r = sd_bus_message_append (message, "s", answer);
    if (r >= 0)
      r = append_sources (message, hits);
  } else {
    message = new_signal (asker, "Finished");
    r = message != NULL ? sd_bus_message_append (message, "s", query_id) : -ENOMEM;
  }
  if (r >= 0)
    r = append_stats (message, stats);
  if (message != NULL)
    send_signal (asker, message, r, "Finished");
}

static void
on_failed (const char *query_id, const GError *error, const char *answer, gpointer user_data)
{
  Asker *asker = user_data;
  if (asker->wait != NULL) {
    sr_bus_reply_error (asker->wait, error);
    return;
  }
  g_autoptr (sd_bus_message) signal = new_signal (asker, "Failed");
  if (signal == NULL)
    return;
  const char *name = smartrag_error_dbus_name (smartrag_error_code (error));
  send_signal (asker, signal, sd_bus_message_append (signal, "sss", query_id, name, error->message),
               "Failed");
}

static void
ask_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller, const GError *denied,
                gpointer data)
{
  AskArgs *args = data;
  gboolean waits = g_str_equal (sd_bus_message_get_member (m), "AskAndWait");
  if (denied != NULL) {
    sr_bus_reply_session_error (m, denied, NULL);
    return;
  }
  SrAskOptions options = {
    .k = (guint) CLAMP (args->k, 0, G_MAXUINT),
    .history = args->history,
    .backend = args->backend,
    .model = args->model,
    .temperature = args->temperature,
    .max_tokens = (guint) CLAMP (args->max_tokens, 0, G_MAXUINT),
  };
  static const SrAskListener streams = { on_sources, on_token, on_finished, on_failed };
  static const SrAskListener waits_only = { NULL, NULL, on_finished, on_failed };
  Asker *asker = g_new0 (Asker, 1);
  asker->bus = bus;
  asker->path = g_strdup (sd_bus_message_get_path (m));
  asker->destination = g_strdup (sd_bus_message_get_sender (m));
  asker->wait = waits ? sd_bus_message_ref (m) : NULL;

  g_autoptr (GError) error = NULL;
  g_autofree char *query_id = sr_queries_ask (
      sr_service_queries (bus->service), caller, sr_bus_session_id_from_path (asker->path),
      args->question, &options, waits ? &waits_only : &streams, asker, asker_free, &error);
  if (query_id == NULL) {
    asker_free (asker);
    sr_bus_reply_session_error (m, NULL, error);
    return;
  }
  /* Sent before any signal of the query can be: those come from later loop iterations. */
  if (!waits)
    sd_bus_reply_method_return (m, "s", query_id);
}

static int
method_ask (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  AskArgs *args = g_new0 (AskArgs, 1);
  args->k = SR_QUERY_DEFAULT_K;
  args->history = TRUE;
  args->temperature = -1.0;
  const SrOptionSpec specs[] = {
    { "k", SR_OPTION_COUNT, &args->k },
    { "history", SR_OPTION_BOOLEAN, &args->history },
    { "backend", SR_OPTION_STRING, &args->backend },
    { "model", SR_OPTION_STRING, &args->model },
    { "temperature", SR_OPTION_NUMBER, &args->temperature },
    { "max_tokens", SR_OPTION_COUNT, &args->max_tokens },
  };
  const char *question;
  int r = sd_bus_message_read (m, "s", &question);
  if (r >= 0) {
    args->question = g_strdup (question);
    r = sr_bus_read_options (m, sd_bus_message_get_member (m), specs, G_N_ELEMENTS (specs), error);
  }
  if (r < 0) {
    ask_args_free (args);
    return r;
  }
  return sr_bus_session_call (userdata, m, ask_authorized, args, ask_args_free, error);
}

static void
cancel_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller, const GError *denied,
                   gpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *session_id = sr_bus_session_id_from_path (sd_bus_message_get_path (m));
  if (denied != NULL
      || !sr_queries_cancel (sr_service_queries (bus->service), caller, session_id, data, &error)) {
    sr_bus_reply_session_error (m, denied, error);
    return;
  }
  sd_bus_reply_method_return (m, NULL);
}

static int
method_cancel (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  const char *id;
  int r = sd_bus_message_read (m, "s", &id);
  if (r < 0)
    return r;
  return sr_bus_session_call (userdata, m, cancel_authorized, g_strdup (id), g_free, error);
}

static const sd_bus_vtable query_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_METHOD_WITH_ARGS ("Search", SD_BUS_ARGS ("s", text, "a{sv}", options),
                           SD_BUS_RESULT ("aa{sv}", hits), method_search,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Ask", SD_BUS_ARGS ("s", question, "a{sv}", options),
                           SD_BUS_RESULT ("s", query_id), method_ask, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("AskAndWait", SD_BUS_ARGS ("s", question, "a{sv}", options),
                           SD_BUS_RESULT ("s", answer, "aa{sv}", sources, "a{sv}", stats),
                           method_ask, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Cancel", SD_BUS_ARGS ("s", query_id), SD_BUS_NO_RESULT, method_cancel,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_SIGNAL_WITH_ARGS ("Token", SD_BUS_ARGS ("s", query_id, "s", text), 0),
  SD_BUS_SIGNAL_WITH_ARGS ("Sources", SD_BUS_ARGS ("s", query_id, "aa{sv}", sources), 0),
  SD_BUS_SIGNAL_WITH_ARGS ("Finished", SD_BUS_ARGS ("s", query_id, "a{sv}", stats), 0),
  SD_BUS_SIGNAL_WITH_ARGS ("Failed", SD_BUS_ARGS ("s", query_id, "s", error, "s", message), 0),
  SD_BUS_VTABLE_END,
};

int
sr_bus_register_queries (SrBus *bus, sd_bus_object_find_t find)
{
  sd_bus_slot *slot = NULL;
  int r = sd_bus_add_fallback_vtable (bus->bus, &slot, SR_BUS_SESSION_PREFIX, QUERY_INTERFACE,
                                      query_vtable, find, bus);
  if (r >= 0)
    sr_bus_keep_slot (bus, slot);
  return r;
}
