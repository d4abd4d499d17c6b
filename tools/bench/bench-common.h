/* Shared by the daemon benchmarks: private bus, smartragd start and stop, timing, JSON. */
#pragma once

#include <glib.h>
#include <signal.h>
#include <systemd/sd-bus.h>

#define BUS_NAME            "org.smartrag.Daemon"
#define BUS_PATH            "/org/smartrag/Daemon"
#define SESSION_PATH_PREFIX BUS_PATH "/session/"

#define BUS_START_TIMEOUT_US    (5 * G_USEC_PER_SEC)
#define NAME_RELEASE_TIMEOUT_US (5 * G_USEC_PER_SEC)
/* A child that outlives its time gets SIGTERM, then SIGKILL after this long. */
#define CHILD_STOP_TIMEOUT_US (5 * G_USEC_PER_SEC)
/* How long a freshly started daemon is left alone before its RSS counts as idle. */
#define SETTLE_US (300 * 1000)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (sd_bus_error, sd_bus_error_free)

/* Set by SIGINT, SIGTERM and SIGHUP; every wait checks it. */
extern volatile sig_atomic_t interrupted;

GQuark bench_error_quark (void);

/* The daemon under test, its private bus and what a run found out about them. */
typedef struct {
  /* parameters */
  char *daemon_path;
  char *extract_helper; /* NULL: the daemon's own */
  char *dbus_daemon;
  gint64 ready_timeout_us;
  gint64 stop_timeout_us;

  /* resources, all released by bench_daemon_clear */
  char *dir;
  char *config_path;
  char *log_path;
  char *bus_address;
  GPid bus_pid;
  GPid daemon_pid;
  int notify_fd;
  sd_bus *client;

  /* what the run found */
  gboolean system_mode;
  guint unclean_exits;
  char *daemon_version;
  double load_before, load_after; /* 1-minute load average around the run */
} BenchDaemon;

/* Makes the run's directory under @tmp_parent, writes the daemon's @config there, and
 * starts the private bus with a client connection to it. */
/* Writes @config as the daemon's configuration, with the HTTP face off: a benchmark's
 * daemon measures the bus, and must not collide with the listeners of a daemon this
 * machine runs. */
gboolean bench_daemon_write_config (BenchDaemon *d, const char *config, GError **error);
gboolean bench_daemon_prepare (BenchDaemon *d, const char *tmp_parent, const char *config,
                               GError **error);

/* Stops what is still running and frees @d; the directory stays when @keep. */
void bench_daemon_clear (BenchDaemon *d, gboolean keep);

/* A few lines of writer rather than json-glib, whose generator prints 18.693 as
 * 18.693000000000001: every figure here comes out with exactly three decimals. */
typedef struct {
  GString *out;
  guint depth;
  gboolean first; /* nothing written yet in the innermost container */
} Json;

gint64 now_ns (void);
gboolean fail (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);
gboolean check_interrupted (GError **error);
void progress (const char *format, ...) G_GNUC_PRINTF (1, 2);
void remove_tree (const char *dir);
char *log_tail (const char *path, guint lines);
gboolean write_file (const char *path, const char *text, GError **error);
gboolean spawn (char **argv, char **envp, int log_fd, int pass_fd, GPid *pid, GError **error);
gboolean terminate (GPid pid, gint64 timeout_us, int *status);
/* Runs @argv with its stdout and stderr in @out, at most @timeout_us; @status is its wait
 * status. */
gboolean run_program (char **argv, char **envp, gint64 timeout_us, GString *out, int *status,
                      GError **error);
char *describe_status (int status);
gboolean read_rss_kb (GPid pid, guint64 *kb, GError **error);
/* Reads from @fd until a whole first line came (a child's port or address), at most
 * @timeout_us; @line gets it without its newline. */
gboolean read_first_line (int fd, gint64 timeout_us, const char *program, const char *what,
                          GString *line, GError **error);
gboolean start_bus (BenchDaemon *d, GError **error);
gboolean connect_bus (const char *address, sd_bus **bus, GError **error);
gboolean read_version (BenchDaemon *d, GError **error);
gboolean wait_name_released (BenchDaemon *d, GError **error);
gboolean open_notify_socket (BenchDaemon *d, GError **error);
gboolean wait_ready (BenchDaemon *d, gint64 *ready_ns, GError **error);
gboolean start_daemon (BenchDaemon *d, const char *state_dir, double *ready_ms, GError **error);
gboolean stop_daemon (BenchDaemon *d, GError **error);
void settle (void);
int compare_doubles (gconstpointer a, gconstpointer b);
double percentile (GArray *sorted, double q);
double percentile_of (GArray *samples, double q);
/* utime + stime of a process, in seconds; 0 when it cannot be read. */
double process_cpu_seconds (GPid pid);
void json_begin_object (Json *json, const char *name);
void json_end_object (Json *json);
void add_number (Json *json, const char *name, double value);
void add_int (Json *json, const char *name, gint64 value);
void add_string (Json *json, const char *name, const char *value);
void add_bool (Json *json, const char *name, gboolean value);
void add_latency (Json *json, const char *name, GArray *samples, gboolean with_p999);
/* add_latency with p999 when there are a thousand samples or more. */
void add_series (Json *json, const char *name, GArray *samples);
void add_config_lines (Json *json, const char *name, const char *config);
double load_average (void);
char *cpu_model (void);
const char *filesystem_name (const char *dir);
void add_machine (Json *json, BenchDaemon *d);
void install_signal_handlers (void);
void json_begin_array (Json *json, const char *name);

/* What a benchmark's command line says of the daemon it measures; NULL when not given. */
typedef struct {
  char *daemon;
  char *helper;
  char *dbus_daemon;
  char *build_type;
} BenchDaemonArgs;

void bench_daemon_args_clear (BenchDaemonArgs *args);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BenchDaemonArgs, bench_daemon_args_clear)

#define BENCH_OPTION_DAEMON(args)                                                                  \
  {                                                                                                \
    "daemon", 0, 0, G_OPTION_ARG_FILENAME, &(args)->daemon,                                        \
        "The smartragd to measure (default: $SMARTRAGD, else the one built with this benchmark)",  \
        "PATH"                                                                                     \
  }
#define BENCH_OPTION_EXTRACT_HELPER(args)                                                          \
  {                                                                                                \
    "extract-helper", 0, 0, G_OPTION_ARG_FILENAME, &(args)->helper,                                \
        "The smartrag-extract the daemon runs (default: $SMARTRAG_EXTRACT_HELPER, else this "      \
        "build's for this build's daemon, else the daemon's own)",                                 \
        "PATH"                                                                                     \
  }
#define BENCH_OPTION_DBUS_DAEMON(args)                                                             \
  {                                                                                                \
    "dbus-daemon", 0, 0, G_OPTION_ARG_FILENAME, &(args)->dbus_daemon,                              \
        "The dbus-daemon for the private bus (default: from PATH)", "PATH"                         \
  }
#define BENCH_OPTION_BUILD_TYPE(args)                                                              \
  {                                                                                                \
    "build-type", 0, 0, G_OPTION_ARG_STRING, &(args)->build_type,                                  \
        "Build type to report for the daemon (default: this build's, or unknown with --daemon)",   \
        "TYPE"                                                                                     \
  }

/* The BenchDaemon of a benchmark's main: root needs no polkit; anyone else runs the daemon in
 * user mode on the private bus. */
#define BENCH_DAEMON_INIT(ready_timeout, stop_timeout)                                             \
  {                                                                                                \
    .ready_timeout_us = (ready_timeout), .stop_timeout_us = (stop_timeout), .notify_fd = -1,       \
    .system_mode = geteuid () == 0,                                                                \
  }

/* Parses a daemon benchmark's command line: @entries, and at most one argument, the daemon. */
gboolean bench_parse_options (const GOptionEntry *entries, const char *summary, int *argc,
                              char ***argv, GError **error);

/* The daemon's path, reader, version, build type and mode, in the open "daemon" object. */
void add_daemon_identity (Json *json, BenchDaemon *d, const char *build_type);

/* Settles what @args left open and fills @d and @build_type. The daemon is the positional
 * argument (@argc 2), else --daemon, else $SMARTRAGD, else @built_daemon; with
 * @built_helper, the reader is --extract-helper, else $SMARTRAG_EXTRACT_HELPER, else
 * @built_helper for the built daemon. Only the daemon built next to the benchmark is known
 * to have @built_type. */
gboolean bench_daemon_resolve (BenchDaemon *d, BenchDaemonArgs *args, int argc, char **argv,
                               const char *built_daemon, const char *built_helper,
                               const char *built_type, char **build_type, GError **error);
void json_end_array (Json *json);
