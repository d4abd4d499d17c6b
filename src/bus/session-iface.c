/* org.smartrag.Daemon.Session on /org/smartrag/Daemon/session/<id>, visible to its owner. */
#include <glib/gi18n.h>

#include "bus/bus-private.h"
#include "common/errors.h"
#include "common/ids.h"
#include "service/conversations.h"
#include "service/sessions.h"

#define SESSION_INTERFACE "org.smartrag.Daemon.Session"

char *
sr_bus_session_path (const char *id)
{
  return g_strconcat (SR_BUS_SESSION_PREFIX "/", id, NULL);
}

const char *
sr_bus_session_id_from_path (const char *path)
{
  const char *rest = g_str_has_prefix (path, SR_BUS_SESSION_PREFIX "/")
                         ? path + strlen (SR_BUS_SESSION_PREFIX "/")
                         : NULL;
  if (rest == NULL || *rest == '\0' || strchr (rest, '/') != NULL)
    return NULL;
  return rest;
}

/* Whether this call may reach a session the caller does not own: methods of our own
 * interfaces may, because they can ask polkit for org.smartrag.admin before acting.
 * Property access and introspection cannot wait for polkit, so they only see what the
 * caller already may. */
static gboolean
may_defer_to_polkit (sd_bus_message *m)
{
  const char *interface = m != NULL ? sd_bus_message_get_interface (m) : NULL;
  return interface != NULL && g_str_has_prefix (interface, SR_BUS_NAME ".");
}

static int
session_find (sd_bus *sdbus, const char *path, const char *interface, void *userdata, void **found,
              sd_bus_error *error)
{
  SrBus *bus = userdata;
  sd_bus_message *m = sd_bus_get_current_message (sdbus);
  g_autoptr (GError) local = NULL;
  const char *id = sr_bus_session_id_from_path (path);
  guint32 owner;
  SrCaller caller;
  int r;

  if (id == NULL)
    return 0;
  if (!sr_id_is_valid (id))
    return sd_bus_error_setf (error, SD_BUS_ERROR_INVALID_ARGS,
                              _ ("Invalid session object path '%s': it must end in a 32-character "
                                 "lowercase hexadecimal id"),
                              path);
  if (m == NULL)
    return 0;
  /* Methods decide for themselves, after polkit where needed, and treat an absent
   * session exactly like a foreign one, so neither answer nor prompt tells them apart. */
  if (may_defer_to_polkit (m)) {
    *found = bus;
    return 1;
  }
  if ((r = sr_bus_caller (bus, m, &caller, error)) < 0)
    return r;
  if (!sr_sessions_exists (bus->service, id, &owner, &local)
      || !sr_caller_may_access (&caller, owner)) {
    if (local == NULL)
      sr_sessions_unknown_error (id, &local);
    return sr_bus_set_error (error, local);
  }
  *found = bus;
  return 1;
}

static int
session_enumerate (sd_bus *sdbus, const char *prefix, void *userdata, char ***nodes,
                   sd_bus_error *error)
{
  SrBus *bus = userdata;
  sd_bus_message *m = sd_bus_get_current_message (sdbus);
  g_autoptr (GError) local = NULL;
  SrCaller caller;
  int r;

  if (m == NULL || (r = sr_bus_caller (bus, m, &caller, error)) < 0)
    return m == NULL ? 0 : r;
  g_autoptr (GPtrArray) ids = sr_sessions_list_visible (bus->service, &caller, &local);
  if (ids == NULL)
    return sr_bus_set_error (error, local);

  /* GLib allocates with the system malloc, so sd-bus may free() these. */
  char **paths = g_new0 (char *, ids->len + 1);
  for (guint i = 0; i < ids->len; i++)
    paths[i] = sr_bus_session_path (ids->pdata[i]);
  *nodes = paths;
  return 0;
}

/* Reads the session a property call is about, with the ownership check. */
static SrSessionRecord *
current_record (SrBus *bus, sd_bus *sdbus, const char *path, sd_bus_error *error, int *r)
{
  SrCaller caller;
  g_autoptr (GError) local = NULL;
  sd_bus_message *m = sd_bus_get_current_message (sdbus);

  if ((*r = sr_bus_caller (bus, m, &caller, error)) < 0)
    return NULL;
  SrSessionRecord *record
      = sr_sessions_get (bus->service, &caller, sr_bus_session_id_from_path (path), &local);
  if (record == NULL)
    *r = sr_bus_set_error (error, local);
  return record;
}

static int
property_get (sd_bus *sdbus, const char *path, const char *interface, const char *property,
              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
  int r = 0;
  g_autoptr (SrSessionRecord) s = current_record (userdata, sdbus, path, error, &r);
  if (s == NULL)
    return r;

  if (g_str_equal (property, "Id"))
    return sd_bus_message_append (reply, "s", s->id);
  if (g_str_equal (property, "Title"))
    return sd_bus_message_append (reply, "s", s->title);
  if (g_str_equal (property, "Owner"))
    return sd_bus_message_append (reply, "u", s->owner_uid);
  if (g_str_equal (property, "CreatedAt"))
    return sd_bus_message_append (reply, "t", (guint64) s->created_at);
  if (g_str_equal (property, "LastActive"))
    return sd_bus_message_append (reply, "t", (guint64) s->last_active);
  if (g_str_equal (property, "Context"))
    return sd_bus_message_append (reply, "s", s->context);
  if (g_str_equal (property, "MessageCount"))
    return sd_bus_message_append (reply, "u", s->message_count);
  if (g_str_equal (property, "DocumentCount"))
    return sd_bus_message_append (reply, "u", s->document_count);
  return -ENOENT;
}

/* Appends one changed property; the record holds the values after the change. */
static int
append_changed (sd_bus_message *signal, const SrSessionRecord *s, const char *property)
{
  if (g_str_equal (property, "Title"))
    return sd_bus_message_append (signal, "{sv}", property, "s", s->title);
  if (g_str_equal (property, "Context"))
    return sd_bus_message_append (signal, "{sv}", property, "s", s->context);
  if (g_str_equal (property, "LastActive"))
    return sd_bus_message_append (signal, "{sv}", property, "t", (guint64) s->last_active);
  if (g_str_equal (property, "MessageCount"))
    return sd_bus_message_append (signal, "{sv}", property, "u", s->message_count);
  if (g_str_equal (property, "DocumentCount"))
    return sd_bus_message_append (signal, "{sv}", property, "u", s->document_count);
  return -EINVAL;
}

static int
send_changed (SrBus *bus, const char *destination, const SrSessionRecord *s,
              const char *const *properties)
{
  g_autofree char *path = sr_bus_session_path (s->id);
  g_autoptr (sd_bus_message) signal = NULL;
  int r = sd_bus_message_new_signal (bus->bus, &signal, path, "org.freedesktop.DBus.Properties",
                                     "PropertiesChanged");
  if (r >= 0)
    r = sd_bus_message_set_destination (signal, destination);
  if (r >= 0)
    r = sd_bus_message_append (signal, "s", SESSION_INTERFACE);
  if (r >= 0)
    r = sd_bus_message_open_container (signal, 'a', "{sv}");
  for (guint i = 0; r >= 0 && properties[i] != NULL; i++)
    r = append_changed (signal, s, properties[i]);
  if (r >= 0)
    r = sd_bus_message_close_container (signal);
  if (r >= 0)
    r = sd_bus_message_append (signal, "as", 0);
  if (r >= 0)
    r = sd_bus_send (bus->bus, signal, NULL);
  return r;
}

/* PropertiesChanged goes only to connections of the session's owner (and to @also, the
 * connection that made the change): a broadcast would show titles to every user. */
static void
emit_changed (SrBus *bus, const SrSessionRecord *s, const char *also, const char *const *properties)
{
  GHashTableIter iter;
  const char *name;
  SrPeer *peer;

  g_hash_table_iter_init (&iter, bus->peers);
  while (g_hash_table_iter_next (&iter, (gpointer *) &name, (gpointer *) &peer)) {
    if (peer->uid != s->owner_uid && g_strcmp0 (name, also) != 0)
      continue;
    int r = send_changed (bus, name, s, properties);
    if (r < 0)
      g_warning ("Cannot send PropertiesChanged for session %s to %s: %s", s->id, name,
                 g_strerror (-r));
  }
}

static int
property_set (sd_bus *sdbus, const char *path, const char *interface, const char *property,
              sd_bus_message *value, void *userdata, sd_bus_error *error)
{
  SrBus *bus = userdata;
  const char *id = sr_bus_session_id_from_path (path);
  g_autoptr (GError) local = NULL;
  SrCaller caller;
  const char *text;
  int r;

  if ((r = sr_bus_caller (bus, sd_bus_get_current_message (sdbus), &caller, error)) < 0
      || (r = sd_bus_message_read (value, "s", &text)) < 0)
    return r;

  g_autoptr (SrSessionRecord) changed
      = g_str_equal (property, "Title")
            ? sr_sessions_set_title (bus->service, &caller, id, text, &local)
            : sr_sessions_set_context (bus->service, &caller, id, text, &local);
  if (changed == NULL)
    return sr_bus_set_error (error, local);

  const char *const properties[] = { property, "LastActive", NULL };
  emit_changed (bus, changed, caller.peer, properties);
  return 0;
}

int
sr_bus_session_call (SrBus *bus, sd_bus_message *m, SrBusContinuation cont, gpointer data,
                     GDestroyNotify destroy, sd_bus_error *error)
{
  const char *id = sr_bus_session_id_from_path (sd_bus_message_get_path (m));
  g_autoptr (GError) local = NULL;
  SrCaller caller;
  guint32 owner = 0;
  int r;

  if ((r = sr_bus_caller (bus, m, &caller, error)) < 0) {
    if (destroy != NULL)
      destroy (data);
    return r;
  }
  gboolean exists = sr_sessions_exists (bus->service, id, &owner, &local);
  if (local != NULL) {
    if (destroy != NULL)
      destroy (data);
    return sr_bus_set_error (error, local);
  }
  /* The owner needs no polkit answer to reach their own data; anyone else must be an
   * administrator, which polkit may have to be asked about, whether the session exists
   * or not. */
  if (caller.admin || (exists && caller.uid == owner)) {
    cont (bus, m, &caller, NULL, data);
    if (destroy != NULL)
      destroy (data);
    return 1;
  }
  return sr_bus_authorize (bus, m, SR_GRANT_ADMIN, cont, data, destroy, error);
}

int
sr_bus_reply_session_error (sd_bus_message *m, const GError *denied, const GError *error)
{
  /* A refused administrator learns no more than anyone else about a stranger's session. */
  if (denied != NULL) {
    g_autoptr (GError) hidden = NULL;
    sr_sessions_unknown_error (sr_bus_session_id_from_path (sd_bus_message_get_path (m)), &hidden);
    return sr_bus_reply_error (m, hidden);
  }
  return sr_bus_reply_error (m, error);
}

static void
delete_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller, const GError *denied,
                   gpointer data)
{
  const char *id = sr_bus_session_id_from_path (sd_bus_message_get_path (m));
  g_autoptr (GError) error = NULL;

  if (denied != NULL || !sr_sessions_delete (bus->service, caller, id, &error)) {
    sr_bus_reply_session_error (m, denied, error);
    return;
  }
  sd_bus_reply_method_return (m, NULL);
}

static int
method_delete (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return sr_bus_session_call (userdata, m, delete_authorized, NULL, NULL, error);
}

static const char *
session_of (sd_bus_message *m)
{
  return sr_bus_session_id_from_path (sd_bus_message_get_path (m));
}

static int
append_source (sd_bus_message *reply, const SrMessageSource *s)
{
  int r = sd_bus_message_open_container (reply, 'a', "{sv}");
  if (r >= 0)
    r = sd_bus_message_append (reply, "{sv}{sv}{sv}{sv}{sv}{sv}", "document_id", "s",
                               s->document_id, "filename", "s", s->filename, "chunk", "u", s->chunk,
                               "heading", "s", s->heading, "text", "s", s->text, "score", "d",
                               s->score);
  /* Only paged formats know a page. */
  if (r >= 0 && s->page > 0)
    r = sd_bus_message_append (reply, "{sv}", "page", "u", s->page);
  if (r >= 0)
    r = sd_bus_message_close_container (reply);
  return r;
}

/* The "sources" entry of an answer: aa{sv}, each as Query.Search gives a hit. */
static int
append_sources (sd_bus_message *reply, const char *sources_json)
{
  g_autoptr (GPtrArray) sources = sr_conversations_parse_sources (sources_json);
  int r = sd_bus_message_open_container (reply, 'e', "sv");
  if (r >= 0)
    r = sd_bus_message_append (reply, "s", "sources");
  if (r >= 0)
    r = sd_bus_message_open_container (reply, 'v', "aa{sv}");
  if (r >= 0)
    r = sd_bus_message_open_container (reply, 'a', "a{sv}");
  for (guint i = 0; r >= 0 && i < sources->len; i++)
    r = append_source (reply, sources->pdata[i]);
  for (int level = 0; r >= 0 && level < 3; level++)
    r = sd_bus_message_close_container (reply);
  return r;
}

static int
append_message (sd_bus_message *reply, gconstpointer item)
{
  const SrMessageRecord *msg = item;
  gboolean answer = g_str_equal (msg->role, "assistant");
  int r = sd_bus_message_open_container (reply, 'a', "{sv}");
  if (r >= 0)
    r = sd_bus_message_append (reply, "{sv}{sv}{sv}{sv}{sv}{sv}", "id", "t", (guint64) msg->id,
                               "role", "s", msg->role, "content", "s", msg->content, "state", "s",
                               msg->state, "created_at", "t", (guint64) msg->created_at, "query_id",
                               "s", msg->query_id);
  /* What only an answer has. */
  if (r >= 0 && answer)
    r = append_sources (reply, msg->sources_json);
  if (r >= 0 && answer)
    r = sd_bus_message_append (reply, "{sv}{sv}{sv}{sv}{sv}{sv}", "backend", "s", msg->backend,
                               "model", "s", msg->model, "ttft_ms", "d", msg->ttft_ms, "total_ms",
                               "d", msg->total_ms, "prompt_tokens", "u", msg->prompt_tokens,
                               "answer_tokens", "u", msg->answer_tokens);
  if (r >= 0 && *msg->error != '\0')
    r = sd_bus_message_append (reply, "{sv}", "error", "s", msg->error);
  if (r >= 0)
    r = sd_bus_message_close_container (reply);
  return r;
}

typedef struct {
  guint32 offset;
  guint32 limit;
  char *text;
  char *format;
  int fd; /* owned by the message, which outlives this */
} ConversationArgs;

static void
conversation_args_free (gpointer data)
{
  ConversationArgs *args = data;
  g_free (args->text);
  g_free (args->format);
  g_free (args);
}

/* GetMessages and SearchMessages: a search has a text. */
static void
messages_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller, const GError *denied,
                     gpointer data)
{
  ConversationArgs *args = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  if (denied == NULL)
    messages = args->text != NULL
                   ? sr_conversations_search (bus->service, caller, session_of (m), args->text,
                                              args->limit, &error)
                   : sr_conversations_get_messages (bus->service, caller, session_of (m),
                                                    args->offset, args->limit, &error);
  if (messages == NULL) {
    sr_bus_reply_session_error (m, denied, error);
    return;
  }
  sr_bus_reply_list (m, messages, append_message);
}

static void
on_exported (GObject *source, GAsyncResult *result, gpointer user_data)
{
  sd_bus_message *m = user_data;
  g_autoptr (GError) error = NULL;

  if (sr_conversations_export_finish (result, &error))
    sd_bus_reply_method_return (m, NULL);
  else
    sr_bus_reply_session_error (m, NULL, error);
  sd_bus_message_unref (m);
}

static void
export_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller, const GError *denied,
                   gpointer data)
{
  ConversationArgs *args = data;
  if (denied != NULL) {
    sr_bus_reply_session_error (m, denied, NULL);
    return;
  }
  sr_conversations_export_async (bus->service, caller, session_of (m), args->format, args->fd,
                                 on_exported, sd_bus_message_ref (m));
}

/* Goes on with @args once the caller may reach the session; @r is what reading them gave. */
static int
with_args (sd_bus_message *m, SrBus *bus, int r, ConversationArgs *args, SrBusContinuation cont,
           sd_bus_error *error)
{
  if (r < 0) {
    conversation_args_free (args);
    return r;
  }
  return sr_bus_session_call (bus, m, cont, args, conversation_args_free, error);
}

static int
method_get_messages (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  ConversationArgs *args = g_new0 (ConversationArgs, 1);
  int r = sd_bus_message_read (m, "uu", &args->offset, &args->limit);
  return with_args (m, userdata, r, args, messages_authorized, error);
}

static int
method_search_messages (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  ConversationArgs *args = g_new0 (ConversationArgs, 1);
  const char *text;
  int r = sd_bus_message_read (m, "su", &text, &args->limit);
  if (r >= 0)
    args->text = g_strdup (text);
  return with_args (m, userdata, r, args, messages_authorized, error);
}

static int
method_export (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  ConversationArgs *args = g_new0 (ConversationArgs, 1);
  const char *format;
  int r = sd_bus_message_read (m, "sh", &format, &args->fd);
  if (r >= 0)
    args->format = g_strdup (format);
  return with_args (m, userdata, r, args, export_authorized, error);
}

static const sd_bus_vtable session_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_PROPERTY ("Id", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_WRITABLE_PROPERTY ("Title", "s", property_get, property_set, 0,
                            SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Owner", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("CreatedAt", "t", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("LastActive", "t", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_WRITABLE_PROPERTY ("Context", "s", property_get, property_set, 0,
                            SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("MessageCount", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("DocumentCount", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_METHOD_WITH_ARGS ("GetMessages", SD_BUS_ARGS ("u", offset, "u", limit),
                           SD_BUS_RESULT ("aa{sv}", messages), method_get_messages,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("SearchMessages", SD_BUS_ARGS ("s", text, "u", limit),
                           SD_BUS_RESULT ("aa{sv}", messages), method_search_messages,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Export", SD_BUS_ARGS ("s", format, "h", fd), SD_BUS_NO_RESULT,
                           method_export, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD ("Delete", NULL, NULL, method_delete, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_VTABLE_END,
};

/* Counts change through the Document and Query interfaces and the answers that finish
 * later; the owner's connections hear of it as of any other change. */
static void
on_session_changed (const char *session_id, const char *const *properties, gpointer user_data)
{
  SrBus *bus = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) s
      = sr_store_session_get (sr_service_store (bus->service), session_id, &error);
  if (s == NULL) {
    g_debug ("Cannot announce the change of session %s: %s", session_id, error->message);
    return;
  }
  emit_changed (bus, s, NULL, properties);
}

int
sr_bus_register_sessions (SrBus *bus)
{
  sd_bus_slot *slot = NULL;
  sr_service_add_session_listener (bus->service, on_session_changed, bus);
  int r = sd_bus_add_fallback_vtable (bus->bus, &slot, SR_BUS_SESSION_PREFIX, SESSION_INTERFACE,
                                      session_vtable, session_find, bus);
  if (r < 0)
    return r;
  sr_bus_keep_slot (bus, slot);
  r = sd_bus_add_node_enumerator (bus->bus, &slot, SR_BUS_SESSION_PREFIX, session_enumerate, bus);
  if (r < 0)
    return r;
  sr_bus_keep_slot (bus, slot);
  r = sr_bus_register_documents (bus, session_find);
  if (r < 0)
    return r;
  return sr_bus_register_queries (bus, session_find);
}
