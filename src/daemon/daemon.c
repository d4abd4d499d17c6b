/* The daemon context: start sequence, main loop, timers, signals and stop sequence. */
#include "build-config.h"

#include "daemon/daemon.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "common/durations.h"
#include "common/errors.h"
#include "daemon/daemon-private.h"
#include "daemon/notify.h"
#include "service/queries.h"
#include "service/sessions.h"
#include "embed/embedder.h"
#include "http/http.h"
#include "ingest/pipeline.h"
#include "store/files.h"
#include "store/store.h"
#include "store/swap.h"

char *
sr_daemon_default_state_dir (SrBusMode mode)
{
  if (mode == SR_BUS_USER)
    return g_build_filename (g_get_user_state_dir (), "smartrag", NULL);
  /* systemd's StateDirectory= says where it made the directory. */
  const char *from_systemd = g_getenv ("STATE_DIRECTORY");
  if (from_systemd != NULL && *from_systemd != '\0' && strchr (from_systemd, ':') == NULL)
    return g_strdup (from_systemd);
  return g_build_filename (LOCALSTATEDIR, "lib", "smartrag", NULL);
}

/* Backups go where the configuration says; otherwise where the mode keeps such things:
 * /var/backups/smartrag (made by tmpfiles.d), or beside the user's state directory. */
static char *
backup_dir (const SrDaemonOptions *options, const SrConfig *config)
{
  if (*config->backup_directory != '\0')
    return g_strdup (config->backup_directory);
  if (options->mode == SR_BUS_USER)
    return g_build_filename (g_get_user_state_dir (), "smartrag-backups", NULL);
  return g_build_filename (LOCALSTATEDIR, "backups", "smartrag", NULL);
}

SrLimits
sr_daemon_limits (const SrConfig *config)
{
  return (SrLimits){
    .max_title_bytes = config->max_title_bytes,
    .max_context_bytes = config->max_context_bytes,
    .max_sessions_per_user = config->max_sessions_per_user,
    .session_expiry = config->session_expiry,
    .max_file_bytes = config->max_file_size,
    .max_text_bytes = config->max_text_size,
    .upload_idle_timeout_ms = (guint) config->upload_idle_timeout * 1000,
    .max_tokens_per_user = config->max_tokens_per_user,
  };
}

static gboolean
expire_sessions (gpointer user_data)
{
  SrDaemon *daemon = user_data;
  g_autoptr (GError) error = NULL;
  guint removed = 0;

  /* Not while a restore or VACUUM has the database: the sweep waits for the next turn. */
  if (!sr_service_accepting (daemon->service, NULL))
    return G_SOURCE_CONTINUE;
  if (!sr_sessions_expire (daemon->service, &removed, &error))
    g_warning ("Could not remove expired sessions: %s", error->message);
  else if (removed > 0)
    g_info ("Removed %u expired session(s)", removed);
  return G_SOURCE_CONTINUE;
}

static void
clear_source (guint *id)
{
  if (*id != 0)
    g_source_remove (*id);
  *id = 0;
}

static gboolean
quit_loop (gpointer user_data)
{
  SrDaemon *daemon = user_data;
  g_main_loop_quit (daemon->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
stop_timed_out (gpointer user_data)
{
  SrDaemon *daemon = user_data;
  daemon->stop_timer = 0;
  g_warning ("Stopping although %u piece(s) of work did not finish within %" G_GUINT64_FORMAT "s",
             sr_service_work_in_flight (daemon->service), daemon->config->shutdown_timeout);
  g_main_loop_quit (daemon->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stop_signal (gpointer user_data)
{
  SrDaemon *daemon = user_data;

  /* Later signals change nothing: the stop is under way, and during the final cleanup
   * the service may already be gone. */
  if (daemon->stopping)
    return G_SOURCE_CONTINUE;
  daemon->stopping = TRUE;
  g_info ("Stopping: finishing work in flight (at most %" G_GUINT64_FORMAT "s)",
          daemon->config->shutdown_timeout);
  sr_notify_stopping (_ ("Finishing work in flight"));
  /* Not g_timeout_add_seconds(): that one may fire up to a second early. */
  daemon->stop_timer
      = g_timeout_add ((guint) daemon->config->shutdown_timeout * 1000, stop_timed_out, daemon);
  sr_service_stop_accepting (daemon->service, quit_loop, daemon);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_reload_signal (gpointer user_data)
{
  SrDaemon *daemon = user_data;
  /* A stop under way finishes with the configuration it began with; before READY=1 (no
   * status yet) the start is still reading the one it has. */
  if (!daemon->stopping && daemon->status != NULL)
    sr_daemon_reload (daemon);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_bus_lost (gpointer user_data)
{
  SrDaemon *daemon = user_data;
  g_warning ("The D-Bus connection is gone; exiting so that the daemon can be restarted");
  daemon->exit_code = EXIT_FAILURE;
  g_main_loop_quit (daemon->loop);
  return G_SOURCE_REMOVE;
}

/* The helper that parses files; a build tree or a test names its own with
 * SMARTRAG_EXTRACT_HELPER. */
static char *
extract_helper_path (void)
{
  const char *from_env = g_getenv ("SMARTRAG_EXTRACT_HELPER");
  /* Made absolute here: the helper is started from "/". */
  if (from_env != NULL && *from_env != '\0')
    return g_canonicalize_filename (from_env, NULL);
  return g_strdup (SR_EXTRACT_HELPER_PATH);
}

/* The API key in @path, without the white space around it; read once, kept in memory only,
 * never logged. @key names the configuration key, for messages. */
static char *
read_api_key (const char *path, const char *key, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, &local)) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("Cannot read the API key file (%s): %s"), key, local->message);
    return NULL;
  }
  g_strstrip (text);
  gboolean printable = *text != '\0';
  for (const char *p = text; *p != '\0' && printable; p++)
    printable = g_ascii_isgraph (*p);
  if (!printable) {
    /* A key sent in a header must be one word of visible ASCII. */
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("The API key file %s (%s) is empty or holds more than one word of "
                    "visible ASCII"),
                 path, key);
    explicit_bzero (text, strlen (text));
    return NULL;
  }
  return g_steal_pointer (&text);
}

static SrEmbedder *
embedder_from_config (const SrConfig *config, GError **error)
{
  SrServerEmbedderOptions options = {
    .batch_size = (guint) config->embedding_batch_size,
    .timeout = (guint) config->embedding_timeout,
  };
  switch (config->embedding_backend) {
  case SR_EMBEDDING_BUILTIN:
    return sr_embedder_builtin_new (0);
  case SR_EMBEDDING_OLLAMA:
    options.url = config->embedding_ollama_url;
    options.model = config->embedding_ollama_model;
    return sr_embedder_ollama_new (&options);
  case SR_EMBEDDING_OPENAI: {
    g_autoptr (GError) local = NULL;
    g_autofree char *key = NULL;
    if (*config->embedding_openai_api_key_file != '\0')
      key = read_api_key (config->embedding_openai_api_key_file, "[embedding] openai_api_key_file",
                          &local);
    if (local != NULL) {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
    options.url = config->embedding_openai_url;
    options.model = config->embedding_openai_model;
    options.api_key = key;
    SrEmbedder *embedder = sr_embedder_openai_new (&options);
    if (key != NULL)
      memset (key, 0, strlen (key));
    return embedder;
  }
  }
  g_assert_not_reached ();
}

static gboolean
start_documents (SrDaemon *daemon, GError **error)
{
  SrEmbedder *embedder = embedder_from_config (daemon->config, error);
  if (embedder == NULL)
    return FALSE;
  if (embedder->url != NULL)
    g_info ("Embedding with %s at %s", embedder->model, embedder->url);
  g_autofree char *helper = extract_helper_path ();
  SrPipelineConfig pipeline = {
    .helper_path = helper,
    .chunking = SR_CHUNK_OPTIONS_DEFAULT,
    .embedder = embedder,
  };
  const SrConfig *config = daemon->config;
  pipeline.sandbox = (SrSandboxLimits){
    .max_file_bytes = config->max_file_size,
    .max_memory_bytes = config->extract_memory,
    .cpu_seconds = (guint) config->extract_cpu_time,
    .wall_timeout_seconds = (guint) config->extract_timeout,
    .max_output_bytes = config->max_extracted_size,
    .max_decompressed_bytes = config->max_decompressed_size,
    .max_pages = (guint) config->max_pages,
  };
  pipeline.chunking.max_chunks = (guint) config->max_chunks_per_document;

  guint removed = sr_files_clean_temporary (sr_service_files_dir (daemon->service));
  if (removed > 0)
    g_info ("Removed %u upload(s) a previous run left unfinished", removed);
  /* By default a worker per core: a worker spends much of a document waiting for the
   * extraction helper, and the workers run nicer than the main loop. */
  guint workers = config->ingest_workers > 0 ? (guint) config->ingest_workers
                                             : MAX (g_get_num_processors (), 1);
  sr_service_start_documents (daemon->service, &pipeline, workers);
  return TRUE;
}

static SrServerOptions
server_options (const SrConfig *config, const char *url, const char *model)
{
  return (SrServerOptions){
    .url = url,
    .model = model,
    .connect_timeout_ms = (guint) config->connect_timeout * 1000,
    .first_token_timeout_ms = (guint) config->first_token_timeout * 1000,
    .total_timeout_ms = (guint) config->total_timeout * 1000,
  };
}

static SrGenerator *
new_ollama (const SrConfig *config)
{
  SrServerOptions server = server_options (config, config->ollama_url, config->ollama_model);
  return sr_generator_ollama_new (&server, config->ollama_keep_alive, config->ollama_preload);
}

static SrGenerator *
new_openai (const SrConfig *config, GError **error)
{
  g_autofree char *key = NULL;
  if (*config->openai_api_key_file != '\0') {
    key = read_api_key (config->openai_api_key_file, "[generation] openai_api_key_file", error);
    if (key == NULL)
      return NULL;
  }
  SrServerOptions server = server_options (config, config->openai_url, config->openai_model);
  SrGenerator *generator = sr_generator_openai_new (&server, key);
  if (key != NULL)
    explicit_bzero (key, strlen (key));
  return generator;
}

/* The configured generator. A model server that is down does not stop the start: each
 * question says so, and so does GetHealth. */
static SrGenerator *
new_generator (const SrConfig *config, GError **error)
{
  switch (config->generation_backend) {
  case SR_GENERATION_BUILTIN:
    return sr_generator_builtin_new ();
  case SR_GENERATION_OLLAMA:
    return new_ollama (config);
  case SR_GENERATION_OPENAI:
    return new_openai (config, error);
  case SR_GENERATION_AUTO:
    break;
  }
  return sr_generator_auto_new (new_ollama (config), sr_generator_builtin_new ());
}

SrQueryLimits
sr_daemon_query_limits (const SrConfig *config)
{
  return (SrQueryLimits){
    .max_question_bytes = config->max_question_size,
    .max_per_user = (guint) config->max_queries_per_user,
    .max_generations = (guint) config->max_generations,
    .history_messages = (guint) config->history_messages,
  };
}

static gboolean
start_queries (SrDaemon *daemon, GError **error)
{
  const SrConfig *config = daemon->config;
  const SrQueryLimits limits = sr_daemon_query_limits (config);
  SrGenerator *generator = new_generator (config, error);
  if (generator == NULL)
    return FALSE;
  /* Ask may name these besides the configured one: builtin always, for an answer that
   * needs no model; an OpenAI-compatible server whenever its URL is set. */
  g_autoptr (SrGenerator) builtin
      = sr_generator_part (generator, "builtin") == NULL ? sr_generator_builtin_new () : NULL;
  g_autoptr (SrGenerator) openai = NULL;
  if (*config->openai_url != '\0' && sr_generator_part (generator, "openai") == NULL) {
    openai = new_openai (config, error);
    if (openai == NULL) {
      sr_generator_free (generator);
      return FALSE;
    }
  }
  sr_service_start_queries (daemon->service, generator, &limits);
  SrQueries *queries = sr_service_queries (daemon->service);
  if (builtin != NULL)
    sr_queries_add_generator (queries, g_steal_pointer (&builtin));
  if (openai != NULL)
    sr_queries_add_generator (queries, g_steal_pointer (&openai));
  g_info ("Questions are answered by the %s generator",
          sr_generation_backend_name (config->generation_backend));
  return TRUE;
}

/* "auto": where the mode's socket belongs. systemd's RuntimeDirectory= says where it made
 * the system service's directory. */
static char *
http_socket_path (SrBusMode mode, const char *configured)
{
  if (!g_str_equal (configured, "auto"))
    return *configured != '\0' ? g_strdup (configured) : NULL;
  if (mode == SR_BUS_USER)
    return g_build_filename (g_get_user_runtime_dir (), "smartrag", "http.sock", NULL);
  const char *from_systemd = g_getenv ("RUNTIME_DIRECTORY");
  if (from_systemd != NULL && *from_systemd != '\0' && strchr (from_systemd, ':') == NULL)
    return g_build_filename (from_systemd, "http.sock", NULL);
  return g_strdup ("/run/smartrag/http.sock");
}

SrHttpOptions
sr_daemon_http_policy (const SrConfig *config)
{
  return (SrHttpOptions){
    .rate_limit = (guint) config->http_rate_limit,
    .rate_limit_burst = (guint) config->http_rate_limit_burst,
    .local_rate_limit = (guint) config->http_local_rate_limit,
    .local_rate_limit_burst = (guint) config->http_local_rate_limit_burst,
    .cors_origins = config->http_cors_origins,
  };
}

static gboolean
start_http (SrDaemon *daemon, GError **error)
{
  const SrConfig *config = daemon->config;
  g_autofree char *socket_path = http_socket_path (daemon->options->mode, config->http_socket);
  g_autoptr (GSocketAddress) listen
      = *config->http_listen != '\0' ? sr_config_parse_listen (config->http_listen) : NULL;
  SrHttpOptions options = sr_daemon_http_policy (config);
  options.socket_path = socket_path;
  options.listen = listen;
  options.user_mode = daemon->options->mode == SR_BUS_USER;
  options.max_body_size = config->http_max_body_size;
  options.request_timeout = (guint) config->http_request_timeout;
  if (socket_path == NULL && listen == NULL) {
    g_info ("No HTTP API: [http] socket and listen are both empty");
    return TRUE;
  }
  daemon->http = sr_http_new (daemon->service, &options, error);
  return daemon->http != NULL;
}

static gboolean
prepare_state_dir (const char *dir, GError **error)
{
  if (g_mkdir_with_parents (dir, 0700) == 0)
    return TRUE;
  int saved = errno;
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
               _ ("Cannot create the state directory %s: %s"), dir, g_strerror (saved));
  return FALSE;
}

/* A restore a crash interrupted is finished from its marker before the database opens. */
static gboolean
finish_restore (const char *state_dir, GError **error)
{
  gboolean finished = FALSE;
  if (!sr_swap_recover (state_dir, &finished, error))
    return FALSE;
  if (finished)
    g_info ("Finished a restore that a crash had interrupted");
  return TRUE;
}

static gboolean
start (SrDaemon *daemon, GError **error)
{
  const SrDaemonOptions *options = daemon->options;

  if (!prepare_state_dir (daemon->state_dir, error) || !finish_restore (daemon->state_dir, error))
    return FALSE;
  SrStore *store = sr_store_open (daemon->state_dir, error);
  if (store == NULL)
    return FALSE;
  SrLimits limits = sr_daemon_limits (daemon->config);
  daemon->service = sr_service_new (store, daemon->state_dir, &limits);
  g_autofree char *backups = backup_dir (options, daemon->config);
  sr_service_set_backups (daemon->service, backups, (guint) daemon->config->backup_keep);
  if (!start_documents (daemon, error))
    return FALSE;
  if (!start_queries (daemon, error))
    return FALSE;

  /* Expired sessions go before any client can see them. */
  expire_sessions (daemon);

  SrBusOptions bus_options = {
    .mode = options->mode,
    .address = options->address,
    .authorization_cache = daemon->config->authorization_cache,
  };
  daemon->bus = sr_bus_new (daemon->service, &bus_options, on_bus_lost, daemon, error);
  /* HTTP before the name: a daemon that cannot serve both faces should not own it. */
  if (daemon->bus == NULL || !start_http (daemon, error)
      || !sr_bus_acquire_name (daemon->bus, error))
    return FALSE;

  sr_daemon_arm_expiry (daemon);
  daemon->watchdog_timer = sr_notify_start_watchdog ();
  daemon->signal_sources[0] = g_unix_signal_add (SIGTERM, on_stop_signal, daemon);
  daemon->signal_sources[1] = g_unix_signal_add (SIGINT, on_stop_signal, daemon);
  daemon->signal_sources[2] = g_unix_signal_add (SIGHUP, on_reload_signal, daemon);
  return TRUE;
}

void
sr_daemon_arm_expiry (SrDaemon *daemon)
{
  clear_source (&daemon->expiry_timer);
  daemon->expiry_timer = g_timeout_add_seconds ((guint) daemon->config->expiry_check_interval,
                                                expire_sessions, daemon);
}

static void
stop (SrDaemon *daemon)
{
  daemon->stopping = TRUE;
  clear_source (&daemon->expiry_timer);
  clear_source (&daemon->watchdog_timer);
  clear_source (&daemon->stop_timer);
  /* The faces go first so that nothing reaches the service while the database closes. */
  g_clear_pointer (&daemon->bus, sr_bus_free);
  g_clear_pointer (&daemon->http, sr_http_free);
  g_clear_pointer (&daemon->service, sr_service_free);
  /* Only now: removing them restores the default action, and a second SIGTERM must not
   * kill the daemon while the database closes. */
  for (guint i = 0; i < G_N_ELEMENTS (daemon->signal_sources); i++)
    clear_source (&daemon->signal_sources[i]);
  g_clear_pointer (&daemon->loop, g_main_loop_unref);
  g_clear_pointer (&daemon->reloaded, sr_config_free);
  g_free (daemon->state_dir);
  g_free (daemon->status);
}

int
sr_daemon_run (const SrDaemonOptions *options)
{
  SrDaemon daemon = {
    .options = options,
    .config = options->config,
    .exit_code = EXIT_SUCCESS,
  };
  g_autoptr (GError) error = NULL;

  daemon.state_dir = options->state_dir ? g_strdup (options->state_dir)
                                        : sr_daemon_default_state_dir (options->mode);
  daemon.loop = g_main_loop_new (NULL, FALSE);

  if (!start (&daemon, &error)) {
    g_printerr ("smartragd: %s\n", error->message);
    sr_notify_status (error->message);
    stop (&daemon);
    return EXIT_FAILURE;
  }

  g_autofree char *expiry = sr_duration_format (daemon.config->session_expiry);
  g_info ("smartragd %s ready on the %s bus; state in %s; sessions expire after %s idle",
          PACKAGE_VERSION, options->mode == SR_BUS_USER ? "session" : "system", daemon.state_dir,
          expiry);
  g_autofree char *http = daemon.http != NULL ? sr_http_describe (daemon.http) : NULL;
  daemon.status = http != NULL
                      ? g_strdup_printf (_ ("Serving org.smartrag.Daemon and HTTP on %s"), http)
                      : g_strdup (_ ("Serving org.smartrag.Daemon"));
  sr_notify_ready (daemon.status);

  g_main_loop_run (daemon.loop);

  sr_notify_stopping (_ ("Closing the database"));
  stop (&daemon);
  g_info ("smartragd stopped");
  return daemon.exit_code;
}
