/* org.smartrag.Daemon.Document on each session object: adding, listing and removing. */
#include <glib/gi18n.h>

#include "bus/bus-private.h"
#include "bus/options.h"
#include "common/errors.h"
#include "service/documents.h"

#define DOCUMENT_INTERFACE SR_BUS_NAME ".Document"

static int
append_document (sd_bus_message *reply, gconstpointer item)
{
  const SrDocumentRecord *d = item;
  int r = sd_bus_message_open_container (reply, 'a', "{sv}");
  if (r >= 0)
    r = sd_bus_message_append (reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "id", "s",
                               d->id, "filename", "s", d->filename, "title", "s", d->title,
                               "format", "s", d->format, "state", "s", d->state, "progress", "d",
                               d->progress, "message", "s", d->message, "size", "t", d->size,
                               "chunks", "u", d->chunk_count, "created_at", "t",
                               (guint64) d->created_at, "updated_at", "t", (guint64) d->updated_at);
  if (r >= 0)
    r = sd_bus_message_close_container (reply);
  return r;
}

static const char *
session_of (sd_bus_message *m)
{
  return sr_bus_session_id_from_path (sd_bus_message_get_path (m));
}

static void
on_added (GObject *source, GAsyncResult *result, gpointer user_data)
{
  sd_bus_message *m = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (SrDocumentRecord) doc = sr_documents_add_finish (result, &error);

  if (doc == NULL)
    sr_bus_reply_error (m, error);
  else
    sd_bus_reply_method_return (m, "s", doc->id);
  sd_bus_message_unref (m);
}

typedef struct {
  int fd; /* owned by the message, which outlives this */
  char *filename;
  char *title;
  char *text;
} AddArgs;

static void
add_args_free (gpointer data)
{
  AddArgs *args = data;
  g_free (args->filename);
  g_free (args->title);
  g_free (args->text);
  g_free (args);
}

static void
add_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller, const GError *denied,
                gpointer data)
{
  AddArgs *args = data;
  if (denied != NULL) {
    sr_bus_reply_session_error (m, denied, NULL);
    return;
  }
  if (args->text != NULL)
    sr_documents_add_text_async (bus->service, caller, session_of (m), args->title, args->text,
                                 on_added, sd_bus_message_ref (m));
  else
    sr_documents_add_fd_async (bus->service, caller, session_of (m), args->fd, args->filename,
                               on_added, sd_bus_message_ref (m));
}

static int
method_add_file (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  AddArgs *args = g_new0 (AddArgs, 1);
  const char *filename;
  int r = sd_bus_message_read (m, "hs", &args->fd, &filename);
  if (r >= 0) {
    args->filename = g_strdup (filename);
    r = sr_bus_read_options (m, "AddFile", NULL, 0, error);
  }
  if (r < 0) {
    add_args_free (args);
    return r;
  }
  return sr_bus_session_call (userdata, m, add_authorized, args, add_args_free, error);
}

static int
method_add_text (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  AddArgs *args = g_new0 (AddArgs, 1);
  const char *title, *text;
  int r = sd_bus_message_read (m, "ss", &title, &text);
  if (r >= 0) {
    args->title = g_strdup (title);
    args->text = g_strdup (text);
    r = sr_bus_read_options (m, "AddText", NULL, 0, error);
  }
  if (r < 0) {
    add_args_free (args);
    return r;
  }
  return sr_bus_session_call (userdata, m, add_authorized, args, add_args_free, error);
}

static void
list_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller, const GError *denied,
                 gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) docs
      = denied ? NULL : sr_documents_list (bus->service, caller, session_of (m), &error);
  if (docs == NULL) {
    sr_bus_reply_session_error (m, denied, error);
    return;
  }
  sr_bus_reply_list (m, docs, append_document);
}

static int
method_list_documents (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return sr_bus_session_call (userdata, m, list_authorized, NULL, NULL, error);
}

static void
get_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller, const GError *denied,
                gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrDocumentRecord) doc
      = denied ? NULL : sr_documents_get (bus->service, caller, session_of (m), data, &error);
  if (doc == NULL) {
    sr_bus_reply_session_error (m, denied, error);
    return;
  }
  g_autoptr (sd_bus_message) reply = NULL;
  int r = sd_bus_message_new_method_return (m, &reply);
  if (r >= 0)
    r = append_document (reply, doc);
  if (r >= 0)
    r = sd_bus_send (NULL, reply, NULL);
  if (r < 0)
    sd_bus_reply_method_errno (m, r, NULL);
}

static void
remove_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller, const GError *denied,
                   gpointer data)
{
  g_autoptr (GError) error = NULL;
  if (denied != NULL || !sr_documents_remove (bus->service, caller, session_of (m), data, &error)) {
    sr_bus_reply_session_error (m, denied, error);
    return;
  }
  sd_bus_reply_method_return (m, NULL);
}

/* Get and Remove take one document id. */
static int
with_document_id (sd_bus_message *m, SrBus *bus, SrBusContinuation cont, sd_bus_error *error)
{
  const char *id;
  int r = sd_bus_message_read (m, "s", &id);
  if (r < 0)
    return r;
  return sr_bus_session_call (bus, m, cont, g_strdup (id), g_free, error);
}

static int
method_get_document (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return with_document_id (m, userdata, get_authorized, error);
}

static int
method_remove_document (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return with_document_id (m, userdata, remove_authorized, error);
}

static const sd_bus_vtable document_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_METHOD_WITH_ARGS ("AddFile", SD_BUS_ARGS ("h", fd, "s", filename, "a{sv}", options),
                           SD_BUS_RESULT ("s", document_id), method_add_file,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("AddText", SD_BUS_ARGS ("s", title, "s", text, "a{sv}", options),
                           SD_BUS_RESULT ("s", document_id), method_add_text,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("ListDocuments", SD_BUS_NO_ARGS, SD_BUS_RESULT ("aa{sv}", documents),
                           method_list_documents, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("GetDocument", SD_BUS_ARGS ("s", id), SD_BUS_RESULT ("a{sv}", document),
                           method_get_document, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("RemoveDocument", SD_BUS_ARGS ("s", id), SD_BUS_NO_RESULT,
                           method_remove_document, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_SIGNAL_WITH_ARGS ("DocumentChanged",
                           SD_BUS_ARGS ("s", id, "s", state, "d", progress, "s", message), 0),
  SD_BUS_VTABLE_END,
};

/* DocumentChanged goes only to the connection that added the document, as a unicast. */
static void
on_document_changed (const SrDocumentRecord *document, const char *adder, gpointer user_data)
{
  SrBus *bus = user_data;
  if (adder == NULL || adder[0] != ':')
    return;
  g_autofree char *path = sr_bus_session_path (document->session_id);
  g_autoptr (sd_bus_message) signal = NULL;
  int r
      = sd_bus_message_new_signal (bus->bus, &signal, path, DOCUMENT_INTERFACE, "DocumentChanged");
  if (r >= 0)
    r = sd_bus_message_set_destination (signal, adder);
  if (r >= 0)
    r = sd_bus_message_append (signal, "ssds", document->id, document->state, document->progress,
                               document->message);
  if (r >= 0)
    r = sd_bus_send (bus->bus, signal, NULL);
  if (r < 0)
    g_debug ("Cannot send DocumentChanged for %s to %s: %s", document->id, adder, g_strerror (-r));
}

int
sr_bus_register_documents (SrBus *bus, sd_bus_object_find_t find)
{
  sd_bus_slot *slot = NULL;
  if (sr_service_ingestion (bus->service) != NULL)
    sr_service_add_document_listener (bus->service, on_document_changed, bus);
  int r = sd_bus_add_fallback_vtable (bus->bus, &slot, SR_BUS_SESSION_PREFIX, DOCUMENT_INTERFACE,
                                      document_vtable, find, bus);
  if (r >= 0)
    sr_bus_keep_slot (bus, slot);
  return r;
}
