/* What the D-Bus face's files share: the connection state, callers and replies. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

#include "auth/caller.h"
#include "bus/bus.h"

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (sd_bus_error, sd_bus_error_free)

typedef enum {
  SR_GRANT_USE,
  SR_GRANT_ADMIN,
  SR_N_GRANTS,
} SrGrant;

/* A connection that has called us: its uid never changes, so it is asked once. */
typedef struct {
  guint32 uid;
  gint64 granted_until[SR_N_GRANTS]; /* monotonic µs; polkit "yes" answers kept briefly */
  guint authorizing;                 /* calls of this connection waiting for polkit */
} SrPeer;

struct SrBus {
  sd_bus *bus;
  SrService *service;
  SrBusMode mode;
  guint32 own_uid;
  gint64 grant_ttl_us;
  GSource *source;
  GHashTable *peers; /* unique name → SrPeer */
  GQueue waiting;    /* authorizations not yet sent to polkit, oldest first */
  GQueue asking;     /* authorizations polkit has not answered yet */
  GPtrArray *slots;  /* sd_bus_slot*, released before the connection */
};

/* Fills @caller for the sender of @m; admin is known without asking polkit only for
 * root, the user-mode user, and a connection with a fresh polkit grant. */
int sr_bus_caller (SrBus *bus, sd_bus_message *m, SrCaller *caller, sd_bus_error *error);

/* Continues a method once @action is decided: with @denied NULL the caller may go on,
 * otherwise the continuation must reply with an error (usually @denied). */
typedef void (*SrBusContinuation) (SrBus *bus, sd_bus_message *m, const SrCaller *caller,
                                   const GError *denied, gpointer data);

/* Runs @cont at once when no question is needed, else after polkit answers without
 * blocking. @data is released with @destroy after @cont. Returns what a method handler
 * returns. */
int sr_bus_authorize (SrBus *bus, sd_bus_message *m, SrGrant grant, SrBusContinuation cont,
                      gpointer data, GDestroyNotify destroy, sd_bus_error *error);

/* Answers every authorization still waiting with ShuttingDown and cancels the questions
 * to polkit; called before the connection closes. */
void sr_bus_abandon_authorizations (SrBus *bus);

/* GError → D-Bus error, through the one table in common/errors.c. */
int sr_bus_set_error (sd_bus_error *ret, const GError *error);
int sr_bus_reply_error (sd_bus_message *m, const GError *error);

/* Replies with an aa{sv}: @append writes one item as an a{sv}. */
typedef int (*SrBusAppendFunc) (sd_bus_message *reply, gconstpointer item);
int sr_bus_reply_list (sd_bus_message *m, GPtrArray *items, SrBusAppendFunc append);

/* Appends a GVariant (service results use GLib's types) to an sd-bus message. */
int sr_bus_append_variant (sd_bus_message *m, GVariant *value);

/* Session ids are hex, which object paths take as they are (no label escaping). */
char *sr_bus_session_path (const char *id);
/* The id part of a session path, or NULL when @path is not one level below the prefix. */
const char *sr_bus_session_id_from_path (const char *path);

/* Runs @cont for a method on a session object: at once for its owner or an
 * administrator, after polkit's org.smartrag.admin answer for anyone else. */
int sr_bus_session_call (SrBus *bus, sd_bus_message *m, SrBusContinuation cont, gpointer data,
                         GDestroyNotify destroy, sd_bus_error *error);
/* Replies with @error, or, when polkit @denied the call, exactly as for an unknown session. */
int sr_bus_reply_session_error (sd_bus_message *m, const GError *denied, const GError *error);

int sr_bus_register_daemon (SrBus *bus);
/* org.smartrag.Daemon's Backup, Restore and Optimize, in the daemon's vtable. */
int sr_bus_method_backup (sd_bus_message *m, void *userdata, sd_bus_error *error);
int sr_bus_method_restore (sd_bus_message *m, void *userdata, sd_bus_error *error);
int sr_bus_method_optimize (sd_bus_message *m, void *userdata, sd_bus_error *error);
int sr_bus_register_sessions (SrBus *bus);
/* On the session objects, found the way sessions are. */
int sr_bus_register_documents (SrBus *bus, sd_bus_object_find_t find);
int sr_bus_register_queries (SrBus *bus, sd_bus_object_find_t find);
/* Keeps @slot until the connection closes. */
void sr_bus_keep_slot (SrBus *bus, sd_bus_slot *slot);

G_END_DECLS
