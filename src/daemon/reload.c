/* SIGHUP: the configuration read again, and what of it can change while the daemon runs. */
#include "daemon/daemon-private.h"

#include <glib/gi18n.h>

#include "daemon/notify.h"

/* Keys whose new values apply to calls from the next one on. The others are read once at
 * start: listeners, backends and their models, the state of the document reader and of
 * worker threads (upload_idle_timeout is read by threads that copy uploads) would have to
 * be rebuilt under running work, so they wait for a restart. docs/configuration.md lists
 * the same keys. */
static const char *const reloadable_keys[] = {
  "daemon.log_level",
  "daemon.session_expiry",
  "daemon.expiry_check_interval",
  "daemon.shutdown_timeout",
  "limits.max_title_bytes",
  "limits.max_context_bytes",
  "limits.max_sessions_per_user",
  "limits.max_tokens_per_user",
  "limits.max_file_size",
  "limits.max_text_size",
  "limits.max_question_size",
  "query.max_queries_per_user",
  "query.max_generations",
  "query.history_messages",
  "security.authorization_cache",
  "http.rate_limit",
  "http.rate_limit_burst",
  "http.local_rate_limit",
  "http.local_rate_limit_burst",
  "http.cors_origins",
  NULL,
};

static gboolean
is_reloadable (const char *key)
{
  return g_strv_contains (reloadable_keys, key);
}

/* The keys of @changed that are (or are not) @reloadable, joined for a log line. */
static char *
join_keys (char **changed, gboolean reloadable)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  for (guint i = 0; changed[i] != NULL; i++)
    if (is_reloadable (changed[i]) == reloadable)
      g_strv_builder_add (builder, changed[i]);
  g_auto (GStrv) keys = g_strv_builder_end (builder);
  return keys[0] != NULL ? g_strjoinv (", ", keys) : NULL;
}

static void
apply (SrDaemon *daemon, const SrConfig *config)
{
  if (daemon->options->logging != NULL)
    sr_logging_set_level (daemon->options->logging, config->log_level);
  SrLimits limits = sr_daemon_limits (config);
  sr_service_set_limits (daemon->service, &limits);
  SrQueryLimits query_limits = sr_daemon_query_limits (config);
  sr_queries_set_limits (sr_service_queries (daemon->service), &query_limits);
  sr_bus_set_authorization_cache (daemon->bus, config->authorization_cache);
  if (daemon->http != NULL) {
    const SrHttpOptions policy = sr_daemon_http_policy (config);
    sr_http_set_policy (daemon->http, &policy);
  }
}

/* Tells what the reload did: keys applied now, and keys that differ from the running
 * daemon's until it restarts (also those a previous reload left waiting). */
static void
report (SrDaemon *daemon, const SrConfig *next)
{
  g_auto (GStrv) now = sr_config_changed_keys (daemon->config, next);
  g_auto (GStrv) since_start = sr_config_changed_keys (daemon->options->config, next);
  g_autofree char *applied = join_keys (now, TRUE);
  g_autofree char *waiting = join_keys (since_start, FALSE);
  const char *path = next->path != NULL ? next->path : daemon->options->config_path;

  if (applied != NULL)
    g_info ("Configuration reloaded from %s; now in effect: %s", path, applied);
  else
    g_info ("Configuration reloaded from %s; no key that a reload applies has changed", path);
  if (waiting != NULL)
    g_warning ("These keys of %s differ from the running daemon's and take effect only after a "
               "restart: %s",
               path, waiting);
}

void
sr_daemon_reload (SrDaemon *daemon)
{
  const SrDaemonOptions *options = daemon->options;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;

  sr_notify_reloading (_ ("Reloading the configuration"));
  g_autoptr (SrConfig) next
      = sr_config_load (options->config_path, options->config_required, warnings, &error);
  for (guint i = 0; i < warnings->len; i++)
    g_warning ("%s", (const char *) warnings->pdata[i]);
  if (next == NULL) {
    g_warning ("Configuration not reloaded; the one in effect stays: %s", error->message);
    g_autofree char *status = g_strdup_printf (
        _ ("%s; the configuration was not reloaded, see the log"), daemon->status);
    sr_notify_ready (status);
    return;
  }

  report (daemon, next);
  apply (daemon, next);
  gboolean new_interval = next->expiry_check_interval != daemon->config->expiry_check_interval;
  g_clear_pointer (&daemon->reloaded, sr_config_free);
  daemon->config = daemon->reloaded = g_steal_pointer (&next);
  if (new_interval)
    sr_daemon_arm_expiry (daemon);
  sr_notify_ready (daemon->status);
}
