/* What the parts of smartrag-cli share: the invocation, exit codes, commands, helpers. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_slot, sd_bus_slot_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_event, sd_event_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_event_source, sd_event_source_unref)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (sd_bus_error, sd_bus_error_free)

#define CLI_BUS_NAME       "org.smartrag.Daemon"
#define CLI_DAEMON_PATH    "/org/smartrag/Daemon"
#define CLI_DAEMON_IFACE   "org.smartrag.Daemon"
#define CLI_SESSION_IFACE  "org.smartrag.Daemon.Session"
#define CLI_DOCUMENT_IFACE "org.smartrag.Daemon.Document"
#define CLI_QUERY_IFACE    "org.smartrag.Daemon.Query"
#define CLI_SESSION_PREFIX "/org/smartrag/Daemon/session/"

/* Calls that may wait for a polkit password prompt get the daemon's 120 s and some more;
 * calls that move a whole file or the whole state get far longer. */
#define CLI_TIMEOUT_USEC      (G_GUINT64_CONSTANT (130) * G_USEC_PER_SEC)
#define CLI_TIMEOUT_LONG_USEC (G_GUINT64_CONSTANT (3600) * G_USEC_PER_SEC)

/* The documented exit codes (docs/cli.md, smartrag-cli(1)). */
typedef enum {
  CLI_EXIT_OK = 0,
  CLI_EXIT_USAGE = 1,       /* the command line is wrong */
  CLI_EXIT_UNREACHABLE = 2, /* no bus, no daemon, it is stopping, or lacks the method */
  CLI_EXIT_DOCUMENT = 3,    /* a file could not be read or added, or its document failed */
  CLI_EXIT_NOT_FOUND = 4,   /* no such session, document, token or query (or not yours) */
  CLI_EXIT_DENIED = 5,      /* polkit refused */
  CLI_EXIT_REFUSED = 6,     /* the daemon refused the input: invalid, too large, format */
  CLI_EXIT_BUSY = 7,        /* too much at once; try again */
  CLI_EXIT_BACKEND = 8,     /* the model server could not answer */
  CLI_EXIT_FAILED = 9,      /* the daemon failed inside */
  CLI_EXIT_INTERRUPTED = 130,
} CliExit;

/* One invocation: how to reach the daemon and how to print. */
typedef struct {
  gboolean user;
  gboolean system;
  char *address;
  gboolean json;
  gboolean color;       /* stdout is a terminal and NO_COLOR is unset */
  gboolean interactive; /* stdin is a terminal: polkit may ask for a password */
  sd_bus *bus;
} Cli;

typedef CliExit (*CliCommand) (Cli *cli, int argc, char **argv);

CliExit cli_cmd_status (Cli *cli, int argc, char **argv);
CliExit cli_cmd_sessions (Cli *cli, int argc, char **argv);
CliExit cli_cmd_upload (Cli *cli, int argc, char **argv);
CliExit cli_cmd_documents (Cli *cli, int argc, char **argv);
CliExit cli_cmd_query (Cli *cli, int argc, char **argv);
CliExit cli_cmd_history (Cli *cli, int argc, char **argv);
CliExit cli_cmd_search (Cli *cli, int argc, char **argv);
CliExit cli_cmd_export (Cli *cli, int argc, char **argv);
CliExit cli_cmd_token (Cli *cli, int argc, char **argv);
CliExit cli_cmd_backup (Cli *cli, int argc, char **argv);
CliExit cli_cmd_restore (Cli *cli, int argc, char **argv);
CliExit cli_cmd_optimize (Cli *cli, int argc, char **argv);

/* options.c: one GOptionContext per command, with the connection options added. */
typedef struct {
  const char *usage;   /* after "smartrag-cli [OPTION…]", e.g. "sessions create" */
  const char *summary; /* translated already */
  gboolean json;       /* whether --json applies */
  int min_args;        /* positional arguments after the command's own words */
  int max_args;
} CliUsage;

gboolean cli_parse (Cli *cli, const CliUsage *usage, const GOptionEntry *entries, int *argc,
                    char ***argv, GError **error);
const GOptionEntry *cli_connection_entries (Cli *cli);
CliExit cli_usage_error (const char *command, const GError *error);
CliExit cli_subcommand (Cli *cli, int argc, char **argv, const char *group,
                        const char *const *names, const CliCommand *commands,
                        const char *description);

/* bus.c: the connection and calls. */
gboolean cli_connect (Cli *cli, GError **error);
GVariant *cli_call (Cli *cli, const char *path, const char *iface, const char *member,
                    guint64 timeout_usec, GError **error, const char *types, ...);
GVariant *cli_call_message (Cli *cli, sd_bus_message *call, guint64 timeout_usec, GError **error);
gboolean cli_new_call (Cli *cli, const char *path, const char *iface, const char *member,
                       sd_bus_message **call, GError **error);
GVariant *cli_get_all (Cli *cli, const char *path, const char *iface, GError **error);
char *cli_daemon_owner (Cli *cli, GError **error);
void cli_disconnect (Cli *cli);

/* bus-errors.c: D-Bus errors as errors of our domain, exit codes, one line on stderr. */
void cli_error_from_bus (Cli *cli, int status, const sd_bus_error *bus_error, const char *path,
                         const char *member, GError **error);
void cli_error_from_errno (Cli *cli, int status, const char *doing, GError **error);
CliExit cli_exit_code (const GError *error);
CliExit cli_fail (const char *what, const GError *error);

/* message.c: sd-bus message bodies as GVariant, and a{sv} options onto messages. */
GVariant *cli_message_read_body (sd_bus_message *message, GError **error);
int cli_message_append_options (sd_bus_message *message, GVariant *options);

/* output.c */
typedef enum {
  CLI_STYLE_BOLD,
  CLI_STYLE_DIM,
  CLI_STYLE_RED,
  CLI_STYLE_GREEN,
  CLI_STYLE_YELLOW,
  CLI_STYLE_RESET,
} CliStyle;

const char *cli_style (const Cli *cli, CliStyle style);
const char *cli_state_style (const Cli *cli, const char *state);
void cli_print_json (JsonNode *node);
JsonNode *cli_json_from_variant (GVariant *value);
char *cli_format_time (guint64 usec);
char *cli_format_iso (guint64 usec);
const char *cli_lookup_string (GVariant *dict, const char *key);
guint64 cli_lookup_uint (GVariant *dict, const char *key);

/* session-ref.c: which session a command works on. */
gboolean cli_session_path (Cli *cli, const char *given, char **path, GError **error);
/* The --session option of every command on one session, for cli_session_path(). */
#define CLI_SESSION_OPTION(target)                                                                 \
  {                                                                                                \
    "session", 's', 0, G_OPTION_ARG_STRING, (target),                                              \
        N_ ("The session (default: $SMARTRAG_SESSION, else your newest)"), N_ ("ID")               \
  }
const char *cli_session_id_of (const char *path);

G_END_DECLS
