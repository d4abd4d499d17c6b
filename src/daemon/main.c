/* smartragd's command line: modes, paths, --check-config, --version. */
#include "build-config.h"

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <libsoup/soup.h>
#include <locale.h>
#include <stdio.h>
#include <sys/stat.h>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/logging.h"

typedef struct {
  gboolean system;
  gboolean user;
  char *address;
  char *state_dir;
  char *config;
  gboolean check_config;
  gboolean version;
} Arguments;

static void
arguments_clear (Arguments *args)
{
  g_free (args->address);
  g_free (args->state_dir);
  g_free (args->config);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Arguments, arguments_clear)

static gboolean
parse_arguments (int *argc, char ***argv, Arguments *args, GError **error)
{
  const GOptionEntry entries[] = {
    { "system", 0, 0, G_OPTION_ARG_NONE, &args->system,
      N_ ("Serve on the system bus with polkit and per-user sessions (the default)"), NULL },
    { "user", 0, 0, G_OPTION_ARG_NONE, &args->user,
      N_ ("Serve on the session bus for one user, state under $XDG_STATE_HOME/smartrag"), NULL },
    { "address", 0, 0, G_OPTION_ARG_STRING, &args->address,
      N_ ("Connect to the bus at ADDRESS instead; the mode's rules stay"), N_ ("ADDRESS") },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &args->state_dir,
      N_ ("Keep the database and indexes in DIR"), N_ ("DIR") },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &args->config, N_ ("Read the configuration from FILE"),
      N_ ("FILE") },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &args->check_config,
      N_ ("Check the configuration, report every problem, and exit"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &args->version, N_ ("Print the version and exit"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _ ("SmartRAG daemon: a local knowledge base on D-Bus."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);

  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, _ ("Unexpected argument '%s'"),
                 (*argv)[1]);
    return FALSE;
  }
  const struct {
    const char *flag;
    const char *value;
  } paths[] = { { "--address", args->address },
                { "--state-dir", args->state_dir },
                { "--config", args->config } };
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++) {
    if (paths[i].value != NULL && *paths[i].value == '\0') {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _ ("%s needs a value"),
                   paths[i].flag);
      return FALSE;
    }
  }
  if (args->system && args->user) {
    g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                         _ ("--system and --user exclude each other"));
    return FALSE;
  }
  return TRUE;
}

static char *
default_config_path (SrBusMode mode)
{
  if (mode == SR_BUS_USER)
    return g_build_filename (g_get_user_config_dir (), "smartrag", "smartrag.conf", NULL);
  return g_build_filename (SYSCONFDIR, "smartrag", "smartrag.conf", NULL);
}

static SrConfig *
load_config (const Arguments *args, const char *path, gboolean report, GError **error)
{
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  SrConfig *config = sr_config_load (path, args->config != NULL, warnings, error);

  for (guint i = 0; i < warnings->len; i++) {
    if (report)
      g_printerr ("%s: %s\n", _ ("warning"), (const char *) warnings->pdata[i]);
    else
      g_warning ("%s", (const char *) warnings->pdata[i]);
  }
  if (config != NULL && report && config->path == NULL)
    g_print (_ ("%s: no such file; the built-in defaults apply and are valid\n"), path);
  else if (config != NULL && report)
    g_print (_ ("%s: configuration is valid\n"), config->path);
  return config;
}

/* GLib 2.74 can deadlock when two threads first use types that depend on each other: a
 * worker initialising a libsoup class asks for GTask while the main loop is registering
 * GTask and waits for the lock that worker holds. The types the main loop and the worker
 * threads share are made ready here, before any thread starts. */
static void
prepare_shared_types (void)
{
  const GType shared[] = {
    G_TYPE_TASK,
    G_TYPE_CANCELLABLE,
    G_TYPE_SOCKET,
    G_TYPE_SOCKET_CLIENT,
    G_TYPE_SOCKET_CONNECTION,
    G_TYPE_TCP_CONNECTION,
    G_TYPE_INET_SOCKET_ADDRESS,
    G_TYPE_NETWORK_ADDRESS,
    G_TYPE_RESOLVER,
    G_TYPE_MEMORY_INPUT_STREAM,
    SOUP_TYPE_SESSION,
    SOUP_TYPE_MESSAGE,
  };
  for (guint i = 0; i < G_N_ELEMENTS (shared); i++)
    g_type_class_unref (g_type_class_ref (shared[i]));
}

int
main (int argc, char **argv)
{
  g_auto (Arguments) args = { 0 };
  g_autoptr (GError) error = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (!parse_arguments (&argc, &argv, &args, &error)) {
    g_printerr ("smartragd: %s\n%s\n", error->message, _ ("Try 'smartragd --help'."));
    return 2;
  }
  if (args.version) {
    g_print ("smartragd %s\n", PACKAGE_VERSION);
    return 0;
  }

  SrBusMode mode = args.user ? SR_BUS_USER : SR_BUS_SYSTEM;
  g_autofree char *config_path = args.config ? g_strdup (args.config) : default_config_path (mode);
  g_autoptr (SrConfig) config = load_config (&args, config_path, args.check_config, &error);
  if (config == NULL) {
    g_printerr ("smartragd: %s\n", error->message);
    return 1;
  }
  if (args.check_config)
    return 0;

  /* Everything the daemon creates (database, indexes, uploads) is private to it. */
  umask (0077);
  prepare_shared_types ();
  SrLogging *logging = sr_logging_setup (config->log_level);

  SrDaemonOptions options = {
    .mode = mode,
    .address = args.address,
    .state_dir = args.state_dir,
    .config = config,
    .config_path = config_path,
    .config_required = args.config != NULL,
    .logging = logging,
  };
  return sr_daemon_run (&options);
}
