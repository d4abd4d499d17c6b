/* org.smartrag.Daemon.Query on each session object: retrieval (and, later, answers). */
#include <glib/gi18n.h>

#include "bus/bus-private.h"
#include "bus/options.h"
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

static const sd_bus_vtable query_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_METHOD_WITH_ARGS ("Search", SD_BUS_ARGS ("s", text, "a{sv}", options),
                           SD_BUS_RESULT ("aa{sv}", hits), method_search,
                           SD_BUS_VTABLE_UNPRIVILEGED),
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
