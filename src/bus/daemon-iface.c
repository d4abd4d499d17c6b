/* org.smartrag.Daemon at /org/smartrag/Daemon: sessions, health, API tokens; administration. */
#include "build-config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "bus/bus-private.h"
#include "bus/options.h"
#include "service/health.h"
#include "service/queries.h"
#include "service/sessions.h"
#include "service/tokens.h"

typedef struct {
  char *title;
  char *context;
  gint64 expire_after;
} CreateArgs;

static void
create_args_free (gpointer data)
{
  CreateArgs *args = data;
  g_free (args->title);
  g_free (args->context);
  g_free (args);
}

static void
create_session_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller,
                           const GError *denied, gpointer data)
{
  CreateArgs *args = data;
  g_autoptr (GError) error = NULL;

  if (denied != NULL) {
    sr_bus_reply_error (m, denied);
    return;
  }
  SrSessionSpec spec = { args->title, args->context, args->expire_after };
  g_autoptr (SrSessionRecord) record = sr_sessions_create (bus->service, caller, &spec, &error);
  if (record == NULL) {
    sr_bus_reply_error (m, error);
    return;
  }
  g_autofree char *path = sr_bus_session_path (record->id);
  sd_bus_reply_method_return (m, "o", path);
}

static int
method_create_session (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  SrBus *bus = userdata;
  CreateArgs *args = g_new0 (CreateArgs, 1);
  args->expire_after = -1;
  const SrOptionSpec specs[] = {
    { "title", SR_OPTION_STRING, &args->title },
    { "context", SR_OPTION_STRING, &args->context },
    { "expire_after", SR_OPTION_SECONDS, &args->expire_after },
  };

  /* Arguments are checked before polkit is asked, so a bad call never prompts anyone. */
  int r = sr_bus_read_options (m, "CreateSession", specs, G_N_ELEMENTS (specs), error);
  if (r < 0) {
    create_args_free (args);
    return r;
  }
  return sr_bus_authorize (bus, m, SR_GRANT_USE, create_session_authorized, args, create_args_free,
                           error);
}

static int
method_list_sessions (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  SrBus *bus = userdata;
  SrCaller caller;
  g_autoptr (GError) local = NULL;
  int r;

  if ((r = sr_bus_caller (bus, m, &caller, error)) < 0)
    return r;
  g_autoptr (GPtrArray) ids = sr_sessions_list (bus->service, &caller, &local);
  if (ids == NULL)
    return sr_bus_set_error (error, local);

  g_autoptr (sd_bus_message) reply = NULL;
  if ((r = sd_bus_message_new_method_return (m, &reply)) < 0
      || (r = sd_bus_message_open_container (reply, 'a', "o")) < 0)
    return r;
  for (guint i = 0; i < ids->len; i++) {
    g_autofree char *path = sr_bus_session_path (ids->pdata[i]);
    if ((r = sd_bus_message_append (reply, "o", path)) < 0)
      return r;
  }
  if ((r = sd_bus_message_close_container (reply)) < 0)
    return r;
  return sd_bus_send (NULL, reply, NULL);
}

static int
method_get_health (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  SrBus *bus = userdata;
  g_autoptr (GVariant) components = NULL;
  SrHealthStatus status = sr_health_check (bus->service, &components);
  int r;

  g_autoptr (sd_bus_message) reply = NULL;
  if ((r = sd_bus_message_new_method_return (m, &reply)) < 0
      || (r = sd_bus_message_append (reply, "s", sr_health_status_name (status))) < 0
      || (r = sr_bus_append_variant (reply, components)) < 0)
    return r;
  return sd_bus_send (NULL, reply, NULL);
}

static void
create_token_authorized (SrBus *bus, sd_bus_message *m, const SrCaller *caller,
                         const GError *denied, gpointer data)
{
  const char *name = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  char *token = NULL;

  if (denied != NULL) {
    sr_bus_reply_error (m, denied);
    return;
  }
  if (!sr_tokens_create (bus->service, caller, name, &id, &token, &error)) {
    sr_bus_reply_error (m, error);
    return;
  }
  sd_bus_reply_method_return (m, "ss", id, token);
  explicit_bzero (token, strlen (token));
  g_free (token);
}

static int
method_create_token (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  SrBus *bus = userdata;
  g_autoptr (GError) local = NULL;
  const char *name;

  int r = sd_bus_message_read (m, "s", &name);
  if (r < 0)
    return r;
  /* Checked before polkit is asked, so a bad call never prompts anyone. */
  if (!sr_tokens_check_name (name, &local))
    return sr_bus_set_error (error, local);
  return sr_bus_authorize (bus, m, SR_GRANT_USE, create_token_authorized, g_strdup (name), g_free,
                           error);
}

static int
method_list_tokens (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  SrBus *bus = userdata;
  SrCaller caller;
  g_autoptr (GError) local = NULL;
  g_autoptr (GPtrArray) tokens = NULL;
  int r;

  if ((r = sr_bus_caller (bus, m, &caller, error)) < 0)
    return r;
  if (!sr_tokens_list (bus->service, &caller, &tokens, &local))
    return sr_bus_set_error (error, local);

  g_autoptr (sd_bus_message) reply = NULL;
  if ((r = sd_bus_message_new_method_return (m, &reply)) < 0
      || (r = sd_bus_message_open_container (reply, 'a', "(sst)")) < 0)
    return r;
  for (guint i = 0; i < tokens->len; i++) {
    const SrTokenRecord *token = tokens->pdata[i];
    if ((r = sd_bus_message_append (reply, "(sst)", token->id, token->name,
                                    (guint64) token->created_at))
        < 0)
      return r;
  }
  if ((r = sd_bus_message_close_container (reply)) < 0)
    return r;
  return sd_bus_send (NULL, reply, NULL);
}

/* No polkit question: taking back one's own credential must work for anyone, also after
 * an administrator withdrew org.smartrag.use. */
static int
method_revoke_token (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  SrBus *bus = userdata;
  SrCaller caller;
  g_autoptr (GError) local = NULL;
  const char *id;
  int r;

  if ((r = sd_bus_message_read (m, "s", &id)) < 0
      || (r = sr_bus_caller (bus, m, &caller, error)) < 0)
    return r;
  if (!sr_tokens_revoke (bus->service, &caller, id, &local))
    return sr_bus_set_error (error, local);
  return sd_bus_reply_method_return (m, "");
}

static int
property_version (sd_bus *sdbus, const char *path, const char *interface, const char *property,
                  sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
  return sd_bus_message_append (reply, "s", PACKAGE_VERSION);
}

/* Both are read from the configuration at start, so they never change while the daemon
 * runs; which generator "auto" picks for a question is GetHealth's, not a property's. */
static int
property_embedding_backend (sd_bus *sdbus, const char *path, const char *interface,
                            const char *property, sd_bus_message *reply, void *userdata,
                            sd_bus_error *error)
{
  SrBus *bus = userdata;
  SrEmbedder *embedder = sr_service_embedder (bus->service);
  return sd_bus_message_append (reply, "s", embedder != NULL ? embedder->klass->name : "");
}

static int
property_generation_backend (sd_bus *sdbus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error)
{
  SrBus *bus = userdata;
  SrQueries *queries = sr_service_queries (bus->service);
  return sd_bus_message_append (reply, "s", queries != NULL ? sr_queries_backend (queries) : "");
}

static const sd_bus_vtable daemon_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_PROPERTY ("Version", "s", property_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("EmbeddingBackend", "s", property_embedding_backend, 0,
                   SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("GenerationBackend", "s", property_generation_backend, 0,
                   SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_METHOD_WITH_ARGS ("CreateSession", SD_BUS_ARGS ("a{sv}", options),
                           SD_BUS_RESULT ("o", session), method_create_session,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("ListSessions", SD_BUS_NO_ARGS, SD_BUS_RESULT ("ao", sessions),
                           method_list_sessions, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("GetHealth", SD_BUS_NO_ARGS,
                           SD_BUS_RESULT ("s", status, "a{sv}", components), method_get_health,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("CreateToken", SD_BUS_ARGS ("s", name),
                           SD_BUS_RESULT ("s", id, "s", token), method_create_token,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("ListTokens", SD_BUS_NO_ARGS, SD_BUS_RESULT ("a(sst)", tokens),
                           method_list_tokens, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("RevokeToken", SD_BUS_ARGS ("s", id), SD_BUS_NO_RESULT,
                           method_revoke_token, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Backup", SD_BUS_ARGS ("a{sv}", options), SD_BUS_RESULT ("s", path),
                           sr_bus_method_backup, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Restore", SD_BUS_ARGS ("s", path), SD_BUS_NO_RESULT,
                           sr_bus_method_restore, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Optimize", SD_BUS_NO_ARGS, SD_BUS_RESULT ("a{sv}", report),
                           sr_bus_method_optimize, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_VTABLE_END,
};

int
sr_bus_register_daemon (SrBus *bus)
{
  sd_bus_slot *slot = NULL;
  int r = sd_bus_add_object_vtable (bus->bus, &slot, SR_BUS_PATH, SR_BUS_NAME, daemon_vtable, bus);
  if (r >= 0)
    sr_bus_keep_slot (bus, slot);
  return r;
}
