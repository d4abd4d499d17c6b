/* HTTP benchmark: /health beside a bare libsoup server, API latency, WebSocket streams; JSON. */
#define _GNU_SOURCE /* pipe2 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-common.h"
#include "bench-corpus.h"

#define READY_TIMEOUT_US          (60 * G_USEC_PER_SEC)
#define STOP_TIMEOUT_US           (60 * G_USEC_PER_SEC)
#define BASELINE_START_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define CHECK_CONFIG_TIMEOUT_US   (10 * G_USEC_PER_SEC)
/* wrk runs for --seconds and then reports; past this much more it is taken as hung. */
#define WRK_MARGIN_US  (30 * G_USEC_PER_SEC)
#define HTTP_TIMEOUT_S 30
/* A round of streams waits this long for its last "done"; what is still open then counts
 * as an error. */
#define WS_ROUND_TIMEOUT_US (10 * 60 * G_USEC_PER_SEC)
#define WS_CLOSE_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define WS_ROUNDS           2
#define RSS_POLL_MS         100
#define DOCUMENT_BYTES      20000
/* Beyond the streams' sockets: the daemon's database, indexes, bus and listeners. */
#define FDS_BESIDES_STREAMS 256

/* The API routes are also timed with a few clients at once, on both cores. */
#define API_MANY_CLIENTS 8
#define API_MANY_THREADS 2

/* The targets. */
#define TARGET_CONNECTIONS 64
#define TARGET_THREADS     2
#define TARGET_RATIO       0.7
#define TARGET_RPS         15000.0
#define TARGET_API_P99_MS  2.0
#define TARGET_STREAMS     1000
/* "Flat memory": the daemon's RSS after the second round of streams exceeds its RSS after
 * the first by less than this share of it, or this many kB if that is more. The first
 * round grows the allocator's pools to what a round needs; a second that needs more holds
 * something of the first. */
#define FLAT_MEMORY_SHARE  0.10
#define FLAT_MEMORY_MIN_KB 4096

#define RESULT_PREFIX "bench-http-result "

/* wrk's own report is for people; done(), called once at the end of a run, gives its figures
 * as one line of JSON to read back. */
static const char wrk_script[]
    = "-- bench-http's wrk runs: the figures of a run on one line of JSON.\n"
      "done = function(summary, latency, requests)\n"
      "  local e = summary.errors\n"
      "  io.write(string.format('" RESULT_PREFIX "{\"requests\":%d,\"duration_us\":%d,'\n"
      "    .. '\"bytes\":%d,\"connect\":%d,\"read\":%d,\"write\":%d,\"timeout\":%d,'\n"
      "    .. '\"status\":%d,\"p50\":%d,\"p90\":%d,\"p99\":%d,\"p999\":%d,\"max\":%d,'\n"
      "    .. '\"mean\":%.3f}\\n',\n"
      "    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,\n"
      "    e.timeout, e.status, latency:percentile(50), latency:percentile(90),\n"
      "    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))\n"
      "end\n";

/* One uid opens every stream, so the per-user limit must not refuse them. The builtin
 * generator is named, not left to "auto", so that no model server of this machine takes
 * part. The listeners are the run's own: a Unix socket in its directory, a free port. */
static const char daemon_config_template[] = "[query]\n"
                                             "max_queries_per_user=0\n"
                                             "[generation]\n"
                                             "backend=builtin\n"
                                             "[http]\n"
                                             "socket=%s\n"
                                             "listen=127.0.0.1:%u\n"
                                             "%s";
/* A per-token rate limit would answer the load with 429. */
static const char rate_limit_off[] = "rate_limit=0\n";

typedef enum {
  ROUTE_GET_SESSION,
  ROUTE_LIST_SESSIONS,
  ROUTE_LIST_DOCUMENTS,
  N_ROUTES,
} Route;

static const char *const route_names[N_ROUTES] = {
  "get_session",
  "list_sessions",
  "list_documents",
};
static const char *const route_shapes[N_ROUTES] = {
  "/api/v1/sessions/{id}",
  "/api/v1/sessions",
  "/api/v1/documents?session_id={id}",
};

/* The bare libsoup server the daemon's /health is compared with. */
typedef struct {
  GPid pid;
  int out_fd; /* kept open so that it never writes to a closed pipe */
  guint port;
  gsize body_bytes;
} Baseline;

typedef struct {
  BenchDaemon d;

  /* parameters */
  char *build_type;
  char *tmp_parent;
  char *baseline_path;
  char *wrk;     /* NULL when not found */
  char *wrk_why; /* why there is no wrk */
  char *wrk_version;
  int seconds;
  int rounds;
  int streams;
  int documents;
  int seed;
  gboolean keep;
  struct rlimit files;

  /* resources, all released by bench_cleanup */
  char *state_dir;
  char *config;     /* the daemon's configuration file, as written */
  char *rate_limit; /* what became of the rate_limit line */
  char *lua_path;
  guint port;
  char *token;
  Corpus corpus;
  SoupSession *api; /* the benchmark's own requests */
  Baseline baseline;
} Bench;

/* ---- the daemon's configuration ---- */

/* The benchmark's process and the daemon it starts need a descriptor per stream each. */
static void
raise_file_limit (Bench *b)
{
  if (getrlimit (RLIMIT_NOFILE, &b->files) != 0)
    return;
  if (b->files.rlim_cur < b->files.rlim_max) {
    b->files.rlim_cur = b->files.rlim_max;
    if (setrlimit (RLIMIT_NOFILE, &b->files) != 0)
      getrlimit (RLIMIT_NOFILE, &b->files);
  }
}

/* A port nobody listens on now: bound, read and released, for the daemon to take. */
static gboolean
free_port (guint *port, GError **error)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t length = sizeof sa;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return fail (error, "socket: %s", g_strerror (errno));
  if (bind (fd, (struct sockaddr *) &sa, sizeof sa) != 0
      || getsockname (fd, (struct sockaddr *) &sa, &length) != 0) {
    int saved = errno;
    close (fd);
    return fail (error, "cannot find a free port: %s", g_strerror (saved));
  }
  close (fd);
  *port = ntohs (sa.sin_port);
  return TRUE;
}

static gboolean
write_daemon_config (Bench *b, gboolean with_rate_limit, GError **error)
{
  g_autofree char *socket_path = g_build_filename (b->d.dir, "http.sock", NULL);
  g_free (b->config);
  b->config = g_strdup_printf (daemon_config_template, socket_path, b->port,
                               with_rate_limit ? rate_limit_off : "");
  return write_file (b->d.config_path, b->config, error);
}

static gboolean
check_config (Bench *b, GString *out, int *status, GError **error)
{
  g_autofree char *config_arg = g_strdup_printf ("--config=%s", b->d.config_path);
  char *argv[] = { b->d.daemon_path, "--check-config", config_arg, NULL };
  g_auto (GStrv) env = g_get_environ ();
  /* Its messages are read here, so untranslated. */
  env = g_environ_setenv (env, "LC_ALL", "C", TRUE);
  env = g_environ_unsetenv (env, "LANGUAGE");
  g_string_truncate (out, 0);
  return run_program (argv, env, CHECK_CONFIG_TIMEOUT_US, out, status, error);
}

/* The configuration turns a per-token rate limit off where the daemon has one: it warns of
 * a key it does not know and ignores it, and refuses a value it does not take, so the line
 * goes when refused. */
static gboolean
configure_daemon (Bench *b, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  int status;

  if (!free_port (&b->port, error) || !write_daemon_config (b, TRUE, error)
      || !check_config (b, out, &status, error))
    return FALSE;
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0) {
    b->rate_limit = g_strdup (strstr (out->str, "'rate_limit'") != NULL
                                  ? "rate_limit=0 written; unknown to this daemon and ignored: "
                                    "it has no per-token rate limit"
                                  : "rate_limit=0 accepted by this daemon (0 taken as no limit)");
    return TRUE;
  }
  g_autofree char *refused = g_strdup (g_strstrip (out->str));
  if (!write_daemon_config (b, FALSE, error) || !check_config (b, out, &status, error))
    return FALSE;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return fail (error, "smartragd --check-config refuses the benchmark's configuration:\n%s",
                 out->str);
  b->rate_limit = g_strdup_printf ("left out: the daemon refused rate_limit=0 (%s)", refused);
  return TRUE;
}

/* ---- the daemon's session, documents and token ---- */

static gboolean
create_token (Bench *b, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  const char *id, *token;

  if (!new_call (b->d.client, BUS_PATH, BUS_NAME, "CreateToken", &m, error))
    return FALSE;
  int r = sd_bus_message_append (m, "s", "bench-http");
  if (r < 0)
    return fail (error, "cannot build CreateToken: %s", g_strerror (-r));
  if (!call (m, CALL_TIMEOUT_US, &reply, NULL, error))
    return FALSE;
  if ((r = sd_bus_message_read (reply, "ss", &id, &token)) < 0)
    return fail (error, "CreateToken: unexpected reply: %s", g_strerror (-r));
  b->token = g_strdup (token);
  return TRUE;
}

/* A session with --documents documents, all ready, and a token for its owner. */
static gboolean
fill_session (Bench *b, GError **error)
{
  IngestResult ingest = { 0 };
  corpus_init (&b->corpus, &b->d, b->seed);
  if (!create_session (&b->corpus, "HTTP benchmark", error))
    return FALSE;
  progress ("adding %d documents of %d kB", b->documents, DOCUMENT_BYTES / 1000);
  gboolean ok = measure_ingest (&b->corpus, (guint64) b->documents * DOCUMENT_BYTES, DOCUMENT_BYTES,
                                &ingest, error);
  ingest_result_clear (&ingest);
  return ok && create_token (b, error);
}

static char *
daemon_url (Bench *b, const char *path)
{
  return g_strdup_printf ("http://127.0.0.1:%u%s", b->port, path);
}

static char *
route_path (Bench *b, Route route)
{
  switch (route) {
  case ROUTE_GET_SESSION:
    return g_strdup_printf ("/api/v1/sessions/%s", b->corpus.session_id);
  case ROUTE_LIST_SESSIONS:
    return g_strdup ("/api/v1/sessions");
  case ROUTE_LIST_DOCUMENTS:
    return g_strdup_printf ("/api/v1/documents?session_id=%s", b->corpus.session_id);
  case N_ROUTES:
    break;
  }
  g_assert_not_reached ();
}

/* One GET with the token; its status and body. */
static GBytes *
http_get (Bench *b, const char *path, guint *status, GError **error)
{
  g_autofree char *url = daemon_url (b, path);
  g_autofree char *bearer = g_strdup_printf ("Bearer %s", b->token);
  g_autoptr (SoupMessage) m = soup_message_new ("GET", url);
  soup_message_headers_replace (soup_message_get_request_headers (m), "Authorization", bearer);
  GBytes *body = soup_session_send_and_read (b->api, m, NULL, error);
  if (body == NULL)
    g_prefix_error (error, "GET %s: ", path);
  *status = soup_message_get_status (m);
  return body;
}

/* ---- the baseline ---- */

/* The daemon's /health as it is now, for the baseline to send byte for byte. */
static char *
save_health (Bench *b, GError **error)
{
  guint status;
  g_autoptr (GBytes) body = http_get (b, "/health", &status, error);
  if (body == NULL)
    return NULL;
  if (status != SOUP_STATUS_OK) {
    fail (error, "the daemon answered GET /health with HTTP %u: %.*s", status,
          (int) g_bytes_get_size (body), (const char *) g_bytes_get_data (body, NULL));
    return NULL;
  }
  g_autofree char *path = g_build_filename (b->d.dir, "health.json", NULL);
  if (!g_file_set_contents (path, g_bytes_get_data (body, NULL), g_bytes_get_size (body), error))
    return NULL;
  b->baseline.body_bytes = g_bytes_get_size (body);
  return g_steal_pointer (&path);
}

static gboolean
start_baseline (Bench *b, GError **error)
{
  Baseline *base = &b->baseline;
  g_autofree char *body_path = save_health (b, error);
  if (body_path == NULL)
    return FALSE;
  g_autofree char *body_arg = g_strdup_printf ("--body-file=%s", body_path);
  char *argv[] = { b->baseline_path, body_arg, NULL };
  g_auto (GStrv) env = g_get_environ ();
  g_autoptr (GString) line = g_string_new (NULL);
  guint64 port;
  int fds[2];

  if (pipe2 (fds, O_CLOEXEC) != 0)
    return fail (error, "pipe: %s", g_strerror (errno));
  gboolean ok = spawn (argv, env, fds[1], -1, &base->pid, error);
  close (fds[1]);
  base->out_fd = fds[0];
  if (!ok
      || !read_first_line (base->out_fd, BASELINE_START_TIMEOUT_US, "http-baseline", "its port",
                           line, error))
    return FALSE;
  if (!g_ascii_string_to_unsigned (line->str, 10, 1, 65535, &port, NULL))
    return fail (error, "http-baseline printed '%s', not a port", line->str);
  base->port = (guint) port;
  return TRUE;
}

static void
baseline_clear (Baseline *base)
{
  int status;
  if (base->pid > 0)
    terminate (base->pid, CHILD_STOP_TIMEOUT_US, &status);
  base->pid = 0;
  if (base->out_fd >= 0)
    close (base->out_fd);
  base->out_fd = -1;
}

/* ---- wrk ---- */

/* What one wrk run reports, and how busy the server was meanwhile. */
typedef struct {
  gboolean ran;
  guint64 requests;
  double seconds;
  guint64 bytes;
  guint64 connect_errors, read_errors, write_errors, timeouts;
  guint64 status_errors; /* responses with a status of 400 or more */
  double p50_ms, p90_ms, p99_ms, p999_ms, max_ms, mean_ms;
  double server_cpu_percent;
} WrkResult;

static double
requests_per_second (const WrkResult *w)
{
  return w->seconds > 0 ? (double) w->requests / w->seconds : 0;
}

static double
figure (JsonObject *o, const char *name)
{
  return json_object_get_double_member_with_default (o, name, 0);
}

static gboolean
parse_wrk_output (const char *output, WrkResult *w, GError **error)
{
  const char *line = strstr (output, RESULT_PREFIX);
  if (line == NULL)
    return fail (error, "wrk printed no figures:\n%s", output);
  g_autofree char *json = g_strndup (line + strlen (RESULT_PREFIX), strcspn (line, "\n"));
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, json, -1, error))
    return FALSE;
  JsonNode *root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return fail (error, "wrk printed figures that are not an object: %s", json);
  JsonObject *o = json_node_get_object (root);
  w->requests = (guint64) figure (o, "requests");
  w->seconds = figure (o, "duration_us") / 1e6;
  w->bytes = (guint64) figure (o, "bytes");
  w->connect_errors = (guint64) figure (o, "connect");
  w->read_errors = (guint64) figure (o, "read");
  w->write_errors = (guint64) figure (o, "write");
  w->timeouts = (guint64) figure (o, "timeout");
  w->status_errors = (guint64) figure (o, "status");
  /* wrk counts in microseconds. */
  w->p50_ms = figure (o, "p50") / 1000;
  w->p90_ms = figure (o, "p90") / 1000;
  w->p99_ms = figure (o, "p99") / 1000;
  w->p999_ms = figure (o, "p999") / 1000;
  w->max_ms = figure (o, "max") / 1000;
  w->mean_ms = figure (o, "mean") / 1000;
  w->ran = TRUE;
  return TRUE;
}

/* wrk with @connections keep-alive connections on @threads threads for --seconds against
 * @url; @server is the process that answers, whose CPU time is read around the run. */
static gboolean
run_wrk (Bench *b, const char *url, int threads, int connections, const char *token, GPid server,
         WrkResult *w, GError **error)
{
  g_autofree char *t = g_strdup_printf ("%d", threads);
  g_autofree char *c = g_strdup_printf ("%d", connections);
  g_autofree char *d = g_strdup_printf ("%ds", b->seconds);
  /* On the command line: the token is the run's own, for a daemon that lives as long. */
  g_autofree char *header = token ? g_strdup_printf ("Authorization: Bearer %s", token) : NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const char *const fixed[] = { b->wrk, "-t", t, "-c", c, "-d", d, "--latency", "-s", b->lua_path };
  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (argv, (gpointer) fixed[i]);
  if (header != NULL) {
    g_ptr_array_add (argv, "-H");
    g_ptr_array_add (argv, header);
  }
  g_ptr_array_add (argv, (gpointer) url);
  g_ptr_array_add (argv, NULL);
  g_auto (GStrv) env = g_get_environ ();
  g_autoptr (GString) out = g_string_new (NULL);
  int status;

  double cpu_before = process_cpu_seconds (server);
  gint64 start = now_ns ();
  if (!run_program ((char **) argv->pdata, env, b->seconds * G_USEC_PER_SEC + WRK_MARGIN_US, out,
                    &status, error))
    return FALSE;
  double wall = (double) (now_ns () - start) / 1e9;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
    g_autofree char *how = describe_status (status);
    return fail (error, "wrk ended with %s:\n%s", how, out->str);
  }
  w->server_cpu_percent = 100.0 * (process_cpu_seconds (server) - cpu_before) / MAX (wall, 1e-9);
  return parse_wrk_output (out->str, w, error);
}

static char *
find_wrk_version (const char *wrk)
{
  char *argv[] = { (char *) wrk, "-v", NULL };
  g_auto (GStrv) env = g_get_environ ();
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  int status;
  if (!run_program (argv, env, CHECK_CONFIG_TIMEOUT_US, out, &status, &error))
    return g_strdup ("unknown");
  /* Its first line: "wrk 4.1.0 [epoll] Copyright (C) …" */
  const char *end = strstr (out->str, " Copyright");
  return g_strndup (out->str, end ? (gsize) (end - out->str) : strcspn (out->str, "\n"));
}

/* ---- /health side by side ---- */

typedef struct {
  WrkResult *rounds[2]; /* [0] baseline, [1] daemon; --rounds each */
  guint n;
} Throughput;

static double
median_rps (WrkResult *runs, guint n)
{
  g_autoptr (GArray) rps = g_array_new (FALSE, FALSE, sizeof (double));
  for (guint i = 0; i < n; i++) {
    double x = requests_per_second (&runs[i]);
    g_array_append_val (rps, x);
  }
  g_array_sort (rps, compare_doubles);
  if (n == 0)
    return 0;
  if (n % 2 == 1)
    return g_array_index (rps, double, n / 2);
  return (g_array_index (rps, double, n / 2 - 1) + g_array_index (rps, double, n / 2)) / 2;
}

static guint64
status_errors (WrkResult *runs, guint n)
{
  guint64 sum = 0;
  for (guint i = 0; i < n; i++)
    sum += runs[i].status_errors;
  return sum;
}

/* Baseline and daemon take turns, so that what else the machine does weighs on both. */
static gboolean
measure_throughput (Bench *b, Throughput *out, GError **error)
{
  g_autofree char *daemon = daemon_url (b, "/health");
  g_autofree char *baseline = g_strdup_printf ("http://127.0.0.1:%u/health", b->baseline.port);
  const char *urls[2] = { baseline, daemon };
  GPid servers[2] = { b->baseline.pid, b->d.daemon_pid };

  for (int k = 0; k < 2; k++)
    out->rounds[k] = g_new0 (WrkResult, b->rounds);
  for (int i = 0; i < b->rounds; i++) {
    for (int k = 0; k < 2; k++) {
      WrkResult *w = &out->rounds[k][i];
      progress ("/health round %d of %d: %s, %d connections for %d s", i + 1, b->rounds,
                k == 0 ? "baseline" : "daemon", TARGET_CONNECTIONS, b->seconds);
      if (!run_wrk (b, urls[k], TARGET_THREADS, TARGET_CONNECTIONS, NULL, servers[k], w, error))
        return FALSE;
      progress ("  %.0f requests/s, p99 %.3f ms", requests_per_second (w), w->p99_ms);
    }
    out->n++;
  }
  return TRUE;
}

static void
throughput_clear (Throughput *t)
{
  g_clear_pointer (&t->rounds[0], g_free);
  g_clear_pointer (&t->rounds[1], g_free);
}

/* ---- API latency ---- */

typedef struct {
  gboolean measured;
  char *why; /* when not measured, or when the figures are not a measurement */
  gsize response_bytes;
  WrkResult one;  /* one connection */
  WrkResult many; /* API_MANY_CLIENTS connections */
} RouteResult;

typedef struct {
  RouteResult routes[N_ROUTES];
  WrkResult baseline_one;
  WrkResult baseline_many;
} ApiLatency;

static void
api_latency_clear (ApiLatency *a)
{
  for (int k = 0; k < N_ROUTES; k++)
    g_clear_pointer (&a->routes[k].why, g_free);
}

/* A route that answers 404 for a session of the token's own owner is one the daemon does not
 * serve; any other status but 200 means the figures would not be the route's. */
static gboolean
check_route (Bench *b, Route route, RouteResult *out, GError **error)
{
  g_autofree char *path = route_path (b, route);
  guint status;
  g_autoptr (GBytes) body = http_get (b, path, &status, error);
  if (body == NULL)
    return FALSE;
  out->response_bytes = g_bytes_get_size (body);
  if (status == SOUP_STATUS_NOT_FOUND) {
    out->why = g_strdup ("not measured: the daemon has no such route (404)");
    return TRUE;
  }
  if (status != SOUP_STATUS_OK)
    return fail (error, "GET %s answered HTTP %u, not 200: %.*s", path, status,
                 (int) g_bytes_get_size (body), (const char *) g_bytes_get_data (body, NULL));
  out->measured = TRUE;
  return TRUE;
}

static void
check_statuses (RouteResult *r)
{
  guint64 bad = r->one.status_errors + r->many.status_errors;
  if (bad == 0)
    return;
  r->measured = FALSE;
  r->why = g_strdup_printf ("not a measurement: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                            " responses had an HTTP status of 400 or more (a rate limit?)",
                            bad, r->one.requests + r->many.requests);
}

static gboolean
measure_route (Bench *b, Route route, RouteResult *out, GError **error)
{
  if (!check_route (b, route, out, error))
    return FALSE;
  if (!out->measured) {
    progress ("%s: %s", route_names[route], out->why);
    return TRUE;
  }
  g_autofree char *path = route_path (b, route);
  g_autofree char *url = daemon_url (b, path);
  progress ("%s: one client, then %d, %d s each", route_names[route], API_MANY_CLIENTS, b->seconds);
  if (!run_wrk (b, url, 1, 1, b->token, b->d.daemon_pid, &out->one, error)
      || !run_wrk (b, url, API_MANY_THREADS, API_MANY_CLIENTS, b->token, b->d.daemon_pid,
                   &out->many, error))
    return FALSE;
  progress ("  p50 %.3f ms, p99 %.3f ms with one client", out->one.p50_ms, out->one.p99_ms);
  check_statuses (out);
  return TRUE;
}

/* Each route with one client and with a few, and the baseline's /health the same ways: the
 * floor that libsoup and the loopback set. */
static gboolean
measure_api (Bench *b, ApiLatency *out, GError **error)
{
  g_autofree char *baseline = g_strdup_printf ("http://127.0.0.1:%u/health", b->baseline.port);
  progress ("baseline /health: one client, then %d", API_MANY_CLIENTS);
  if (!run_wrk (b, baseline, 1, 1, NULL, b->baseline.pid, &out->baseline_one, error)
      || !run_wrk (b, baseline, API_MANY_THREADS, API_MANY_CLIENTS, NULL, b->baseline.pid,
                   &out->baseline_many, error))
    return FALSE;
  for (int k = 0; k < N_ROUTES; k++)
    if (!measure_route (b, k, &out->routes[k], error))
      return FALSE;
  return TRUE;
}

/* ---- WebSocket streams ---- */

typedef enum {
  WS_CONNECTING,
  WS_OPEN,
  WS_ASKED,
  WS_DONE,
  WS_FAILED,
} WsState;

typedef enum {
  WS_ERROR_CONNECT,   /* the upgrade failed */
  WS_ERROR_MESSAGE,   /* the daemon sent {"type":"error"} */
  WS_ERROR_CLOSED,    /* the connection closed before "done" */
  WS_ERROR_PROTOCOL,  /* a message that is not JSON, or a connection error */
  WS_ERROR_TIMED_OUT, /* no "done" within the round's time */
  N_WS_ERRORS,
} WsError;

static const char *const ws_error_names[N_WS_ERRORS] = {
  "failed_connects", "error_messages", "closed_before_done", "protocol_errors", "timed_out",
};

typedef struct WsRound WsRound;

typedef struct {
  WsRound *round;
  guint index;
  WsState state;
  /* A client of its own, as each browser has: a session's queue of a thousand upgrades
   * costs its main loop time that grows with the square of their number. */
  SoupSession *session;
  SoupMessage *message;
  SoupWebsocketConnection *connection;
  gboolean open; /* a connection not closed yet */
  gint64 connect_ns, open_ns, asked_ns, first_chunk_ns;
  guint chunks;
} WsStream;

struct WsRound {
  Bench *b;
  GCancellable *cancel; /* the upgrades still pending when the round's time is up */
  WsStream *streams;
  guint n;
  guint connecting; /* upgrades not answered yet */
  guint unfinished; /* streams neither done nor failed */
  guint open;       /* connections not closed yet */
  guint open_at_once;
  guint refused_404;
  guint errors[N_WS_ERRORS];
  char *first_error;
  guint64 rss_peak_kb;
  gint64 start_ns, end_ns;
  GArray *connect_ms, *first_chunk_ms, *done_ms;
};

/* What one round found; the figures of its streams and the daemon's RSS around it. */
typedef struct {
  guint streams;
  guint open_at_once;
  guint errors[N_WS_ERRORS];
  char *first_error;
  double seconds; /* first connect to the last stream's end */
  GArray *connect_ms, *first_chunk_ms, *done_ms;
  guint64 rss_before_kb, rss_peak_kb, rss_after_kb;
} WsRoundResult;

typedef struct {
  gboolean measured;
  char *why;
  guint rounds;
  WsRoundResult round[WS_ROUNDS];
} WebSocket;

static guint
ws_total_errors (const guint errors[N_WS_ERRORS])
{
  guint sum = 0;
  for (int k = 0; k < N_WS_ERRORS; k++)
    sum += errors[k];
  return sum;
}

static void
ws_stream_end (WsStream *s, WsState state, WsError kind, const char *detail)
{
  WsRound *r = s->round;
  if (s->state == WS_DONE || s->state == WS_FAILED)
    return;
  s->state = state;
  r->unfinished--;
  r->end_ns = now_ns ();
  if (state == WS_FAILED) {
    r->errors[kind]++;
    if (r->first_error == NULL)
      r->first_error
          = g_strdup_printf ("stream %u: %s: %s", s->index + 1, ws_error_names[kind], detail);
  }
  if (s->open && soup_websocket_connection_get_state (s->connection) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (s->connection, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

/* A server message's type, and for an error its name and message. */
static gboolean
read_ws_message (GBytes *message, char **type, char **detail)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize length;
  const char *data = g_bytes_get_data (message, &length);
  if (!json_parser_load_from_data (parser, data, (gssize) length, NULL))
    return FALSE;
  JsonNode *root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  JsonObject *o = json_node_get_object (root);
  *type = g_strdup (json_object_get_string_member_with_default (o, "type", ""));
  *detail = g_strdup_printf ("%s: %s", json_object_get_string_member_with_default (o, "error", ""),
                             json_object_get_string_member_with_default (o, "message", ""));
  return TRUE;
}

static void
on_ws_message (SoupWebsocketConnection *connection, gint type, GBytes *message, gpointer user_data)
{
  WsStream *s = user_data;
  gint64 now = now_ns ();
  g_autofree char *kind = NULL;
  g_autofree char *detail = NULL;

  if (s->state != WS_ASKED)
    return;
  if (!read_ws_message (message, &kind, &detail)) {
    ws_stream_end (s, WS_FAILED, WS_ERROR_PROTOCOL, "a message that is not a JSON object");
    return;
  }
  if (g_str_equal (kind, "chunk") && s->chunks++ == 0)
    s->first_chunk_ns = now;
  if (g_str_equal (kind, "error"))
    ws_stream_end (s, WS_FAILED, WS_ERROR_MESSAGE, detail);
  if (!g_str_equal (kind, "done"))
    return;
  double first = (double) ((s->chunks ? s->first_chunk_ns : now) - s->asked_ns) / 1e6;
  double done = (double) (now - s->asked_ns) / 1e6;
  g_array_append_val (s->round->first_chunk_ms, first);
  g_array_append_val (s->round->done_ms, done);
  ws_stream_end (s, WS_DONE, 0, NULL);
}

static void
on_ws_closed (SoupWebsocketConnection *connection, gpointer user_data)
{
  WsStream *s = user_data;
  g_autofree char *why = g_strdup_printf (
      "closed with code %u (%s)", soup_websocket_connection_get_close_code (connection),
      soup_websocket_connection_get_close_data (connection)
          ? soup_websocket_connection_get_close_data (connection)
          : "");
  s->open = FALSE;
  s->round->open--;
  ws_stream_end (s, WS_FAILED, WS_ERROR_CLOSED, why);
}

static void
on_ws_error (SoupWebsocketConnection *connection, GError *error, gpointer user_data)
{
  ws_stream_end (user_data, WS_FAILED, WS_ERROR_PROTOCOL, error->message);
}

static void
on_ws_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  WsStream *s = user_data;
  WsRound *r = s->round;
  g_autoptr (GError) error = NULL;

  r->connecting--;
  s->connection = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  /* Timed out while the upgrade was on its way: nothing more counts. */
  if (s->state != WS_CONNECTING)
    return;
  if (s->connection == NULL) {
    guint status = soup_message_get_status (s->message);
    g_autofree char *why = g_strdup_printf ("HTTP %u: %s", status, error->message);
    r->refused_404 += status == SOUP_STATUS_NOT_FOUND;
    ws_stream_end (s, WS_FAILED, WS_ERROR_CONNECT, why);
    return;
  }
  s->open_ns = now_ns ();
  s->state = WS_OPEN;
  s->open = TRUE;
  r->open++;
  r->open_at_once = MAX (r->open_at_once, r->open);
  double ms = (double) (s->open_ns - s->connect_ns) / 1e6;
  g_array_append_val (r->connect_ms, ms);
  g_signal_connect (s->connection, "message", G_CALLBACK (on_ws_message), s);
  g_signal_connect (s->connection, "closed", G_CALLBACK (on_ws_closed), s);
  g_signal_connect (s->connection, "error", G_CALLBACK (on_ws_error), s);
}

static void
ws_connect (WsStream *s)
{
  Bench *b = s->round->b;
  g_autofree char *url
      = g_strdup_printf ("ws://127.0.0.1:%u/ws/query/%s", b->port, b->corpus.session_id);
  g_autofree char *bearer = g_strdup_printf ("Bearer %s", b->token);
  s->message = soup_message_new ("GET", url);
  soup_message_headers_replace (soup_message_get_request_headers (s->message), "Authorization",
                                bearer);
  s->state = WS_CONNECTING;
  s->round->connecting++;
  s->connect_ns = now_ns ();
  /* No I/O timeout: a stream may wait long for its turn among a thousand questions. */
  s->session = soup_session_new_with_options ("timeout", 0, "idle-timeout", 0, NULL);
  soup_session_websocket_connect_async (s->session, s->message, NULL, NULL, G_PRIORITY_DEFAULT,
                                        s->round->cancel, on_ws_connected, s);
}

static void
ws_ask (WsStream *s, const char *question)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "query");
  json_builder_add_string_value (builder, question);
  json_builder_end_object (builder);
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = json_to_string (root, FALSE);
  s->asked_ns = now_ns ();
  s->state = WS_ASKED;
  soup_websocket_connection_send_text (s->connection, text);
}

static void
ws_round_clear (WsRound *r)
{
  g_cancellable_cancel (r->cancel);
  g_clear_object (&r->cancel);
  for (guint i = 0; r->streams != NULL && i < r->n; i++) {
    WsStream *s = &r->streams[i];
    if (s->connection != NULL)
      g_signal_handlers_disconnect_by_data (s->connection, s);
    g_clear_object (&s->connection);
    g_clear_object (&s->message);
    g_clear_object (&s->session);
  }
  g_clear_pointer (&r->streams, g_free);
  g_clear_pointer (&r->first_error, g_free);
  g_clear_pointer (&r->connect_ms, g_array_unref);
  g_clear_pointer (&r->first_chunk_ms, g_array_unref);
  g_clear_pointer (&r->done_ms, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (WsRound, ws_round_clear)

static gboolean
on_rss_tick (gpointer user_data)
{
  WsRound *r = user_data;
  guint64 kb;
  if (read_rss_kb (r->b->d.daemon_pid, &kb, NULL))
    r->rss_peak_kb = MAX (r->rss_peak_kb, kb);
  return G_SOURCE_CONTINUE;
}

static gboolean
connects_answered (WsRound *r)
{
  return r->connecting == 0;
}

static gboolean
streams_ended (WsRound *r)
{
  return r->unfinished == 0 && r->open == 0 && r->connecting == 0;
}

/* Runs the main loop until @until holds or @deadline (monotonic µs) passes; the RSS tick
 * wakes it at least every RSS_POLL_MS. */
static gboolean
ws_wait (WsRound *r, gboolean (*until) (WsRound *), gint64 deadline, GError **error)
{
  while (!until (r) && g_get_monotonic_time () < deadline) {
    if (!check_interrupted (error))
      return FALSE;
    g_main_context_iteration (NULL, TRUE);
  }
  return TRUE;
}

/* What is still open when the round's time is up counts as timed out, and is closed. */
static void
ws_time_out (WsRound *r)
{
  g_cancellable_cancel (r->cancel);
  for (guint i = 0; i < r->n; i++)
    ws_stream_end (&r->streams[i], WS_FAILED, WS_ERROR_TIMED_OUT, "no \"done\" in time");
}

/* All --streams connections first, then every question at once: the daemon holds them all
 * open while it answers. */
static gboolean
ws_run_round (WsRound *r, GPtrArray *questions, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + WS_ROUND_TIMEOUT_US;
  r->unfinished = r->n;
  r->start_ns = now_ns ();
  for (guint i = 0; i < r->n; i++)
    ws_connect (&r->streams[i]);
  if (!ws_wait (r, connects_answered, deadline, error))
    return FALSE;
  for (guint i = 0; i < r->n; i++)
    if (r->streams[i].state == WS_OPEN)
      ws_ask (&r->streams[i], questions->pdata[i % questions->len]);
  if (!ws_wait (r, streams_ended, deadline, error))
    return FALSE;
  if (streams_ended (r))
    return TRUE;
  ws_time_out (r);
  return ws_wait (r, streams_ended, g_get_monotonic_time () + WS_CLOSE_TIMEOUT_US, error);
}

static gboolean
ws_round (Bench *b, guint n, GPtrArray *questions, WsRoundResult *out, guint *refused_404,
          GError **error)
{
  g_auto (WsRound) r = {
    .b = b,
    .cancel = g_cancellable_new (),
    .n = n,
    .streams = g_new0 (WsStream, n),
    .connect_ms = g_array_new (FALSE, FALSE, sizeof (double)),
    .first_chunk_ms = g_array_new (FALSE, FALSE, sizeof (double)),
    .done_ms = g_array_new (FALSE, FALSE, sizeof (double)),
  };
  for (guint i = 0; i < n; i++)
    r.streams[i] = (WsStream){ .round = &r, .index = i };

  settle ();
  if (!read_rss_kb (b->d.daemon_pid, &out->rss_before_kb, error))
    return FALSE;
  r.rss_peak_kb = out->rss_before_kb;
  guint tick = g_timeout_add (RSS_POLL_MS, on_rss_tick, &r);
  gboolean ok = ws_run_round (&r, questions, error);
  g_source_remove (tick);
  if (!ok)
    return FALSE;
  settle ();
  if (!read_rss_kb (b->d.daemon_pid, &out->rss_after_kb, error))
    return FALSE;

  out->streams = n;
  out->open_at_once = r.open_at_once;
  memcpy (out->errors, r.errors, sizeof out->errors);
  out->first_error = g_steal_pointer (&r.first_error);
  out->seconds = (double) (r.end_ns - r.start_ns) / 1e9;
  out->connect_ms = g_steal_pointer (&r.connect_ms);
  out->first_chunk_ms = g_steal_pointer (&r.first_chunk_ms);
  out->done_ms = g_steal_pointer (&r.done_ms);
  out->rss_peak_kb = MAX (r.rss_peak_kb, out->rss_after_kb);
  *refused_404 = r.refused_404;
  return TRUE;
}

static void
ws_round_result_clear (WsRoundResult *r)
{
  g_clear_pointer (&r->first_error, g_free);
  g_clear_pointer (&r->connect_ms, g_array_unref);
  g_clear_pointer (&r->first_chunk_ms, g_array_unref);
  g_clear_pointer (&r->done_ms, g_array_unref);
}

static void
websocket_clear (WebSocket *w)
{
  g_clear_pointer (&w->why, g_free);
  for (guint i = 0; i < WS_ROUNDS; i++)
    ws_round_result_clear (&w->round[i]);
}

/* One stream first: a daemon without the route refuses the upgrade with 404, and then there
 * is nothing to measure; one that refuses the token fails the run. */
static gboolean
ws_probe (Bench *b, GPtrArray *questions, WebSocket *out, GError **error)
{
  WsRoundResult probe = { 0 };
  guint refused_404 = 0;
  gboolean ok = ws_round (b, 1, questions, &probe, &refused_404, error);
  if (ok && refused_404 > 0)
    out->why = g_strdup ("not measured: the daemon has no such route (the upgrade was refused "
                         "with 404)");
  else if (ok && probe.errors[WS_ERROR_CONNECT] > 0)
    ok = fail (error, "the WebSocket upgrade failed: %s", probe.first_error);
  ws_round_result_clear (&probe);
  return ok;
}

static gboolean
measure_websocket (Bench *b, WebSocket *out, GError **error)
{
  g_autoptr (GPtrArray) questions = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; i < b->streams; i++)
    g_ptr_array_add (questions, generate_question (&b->corpus));

  if (!ws_probe (b, questions, out, error))
    return FALSE;
  if (out->why != NULL) {
    progress ("WebSocket streams: %s", out->why);
    return TRUE;
  }
  for (guint i = 0; i < WS_ROUNDS; i++) {
    guint refused_404;
    progress ("WebSocket round %u of %d: %d streams at once", i + 1, WS_ROUNDS, b->streams);
    if (!ws_round (b, (guint) b->streams, questions, &out->round[i], &refused_404, error))
      return FALSE;
    out->rounds++;
    progress ("  %u errors, daemon RSS %" G_GUINT64_FORMAT " kB before, %" G_GUINT64_FORMAT
              " kB at the peak, %" G_GUINT64_FORMAT " kB after",
              ws_total_errors (out->round[i].errors), out->round[i].rss_before_kb,
              out->round[i].rss_peak_kb, out->round[i].rss_after_kb);
  }
  out->measured = TRUE;
  return TRUE;
}

static guint64
flat_memory_limit_kb (const WebSocket *w)
{
  return MAX ((guint64) (FLAT_MEMORY_SHARE * (double) w->round[0].rss_after_kb),
              FLAT_MEMORY_MIN_KB);
}

static gint64
memory_growth_kb (const WebSocket *w)
{
  return (gint64) w->round[1].rss_after_kb - (gint64) w->round[0].rss_after_kb;
}

/* ---- the report ---- */

typedef struct {
  Throughput throughput;
  char *throughput_why;
  ApiLatency api;
  char *api_why;
  WebSocket websocket;
} Results;

static void
results_clear (Results *r)
{
  throughput_clear (&r->throughput);
  g_clear_pointer (&r->throughput_why, g_free);
  api_latency_clear (&r->api);
  g_clear_pointer (&r->api_why, g_free);
  websocket_clear (&r->websocket);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Results, results_clear)

static void
add_wrk (Json *json, const char *name, const WrkResult *w)
{
  json_begin_object (json, name);
  add_number (json, "requests_per_second", requests_per_second (w));
  add_int (json, "requests", (gint64) w->requests);
  add_number (json, "seconds", w->seconds);
  json_begin_object (json, "latency_ms");
  add_number (json, "p50", w->p50_ms);
  add_number (json, "p90", w->p90_ms);
  add_number (json, "p99", w->p99_ms);
  add_number (json, "p999", w->p999_ms);
  add_number (json, "max", w->max_ms);
  add_number (json, "mean", w->mean_ms);
  json_end_object (json);
  json_begin_object (json, "errors");
  add_int (json, "connect", (gint64) w->connect_errors);
  add_int (json, "read", (gint64) w->read_errors);
  add_int (json, "write", (gint64) w->write_errors);
  add_int (json, "timeout", (gint64) w->timeouts);
  add_int (json, "status_400_or_more", (gint64) w->status_errors);
  json_end_object (json);
  add_number (json, "server_cpu_percent_of_one_core", w->server_cpu_percent);
  json_end_object (json);
}

static void
add_not_measured (Json *json, const char *why)
{
  add_bool (json, "measured", FALSE);
  add_string (json, "why", why);
}

static void
add_throughput (Json *json, Bench *b, Results *r)
{
  Throughput *t = &r->throughput;
  json_begin_object (json, "throughput");
  if (r->throughput_why != NULL) {
    add_not_measured (json, r->throughput_why);
    json_end_object (json);
    return;
  }
  double base = median_rps (t->rounds[0], t->n), daemon = median_rps (t->rounds[1], t->n);
  add_bool (json, "measured", TRUE);
  add_string (json, "path", "/health");
  add_int (json, "connections", TARGET_CONNECTIONS);
  add_int (json, "threads", TARGET_THREADS);
  add_int (json, "seconds_per_run", b->seconds);
  add_int (json, "body_bytes", (gint64) b->baseline.body_bytes);
  /* A status of 400 or more (a failing health, a rate limit) makes the run no measurement. */
  add_bool (json, "every_status_below_400",
            status_errors (t->rounds[0], t->n) + status_errors (t->rounds[1], t->n) == 0);
  json_begin_array (json, "rounds");
  for (guint i = 0; i < t->n; i++) {
    json_begin_object (json, NULL);
    add_wrk (json, "baseline", &t->rounds[0][i]);
    add_wrk (json, "daemon", &t->rounds[1][i]);
    add_number (json, "daemon_over_baseline",
                requests_per_second (&t->rounds[1][i])
                    / MAX (requests_per_second (&t->rounds[0][i]), 1e-9));
    json_end_object (json);
  }
  json_end_array (json);
  json_begin_object (json, "median_requests_per_second");
  add_number (json, "baseline", base);
  add_number (json, "daemon", daemon);
  json_end_object (json);
  add_number (json, "daemon_over_baseline", daemon / MAX (base, 1e-9));
  json_end_object (json);
}

static void
add_route (Json *json, Route route, const RouteResult *r)
{
  json_begin_object (json, route_names[route]);
  add_string (json, "path", route_shapes[route]);
  add_bool (json, "measured", r->measured);
  if (r->why != NULL)
    add_string (json, "why", r->why);
  if (r->one.ran) {
    add_int (json, "response_bytes", (gint64) r->response_bytes);
    add_wrk (json, "one_client", &r->one);
    add_wrk (json, "eight_clients", &r->many);
  }
  json_end_object (json);
}

static void
add_api (Json *json, Bench *b, Results *r)
{
  json_begin_object (json, "api_latency");
  if (r->api_why != NULL) {
    add_not_measured (json, r->api_why);
    json_end_object (json);
    return;
  }
  add_int (json, "seconds_per_run", b->seconds);
  json_begin_object (json, "baseline_health");
  add_wrk (json, "one_client", &r->api.baseline_one);
  add_wrk (json, "eight_clients", &r->api.baseline_many);
  json_end_object (json);
  json_begin_object (json, "routes");
  for (int k = 0; k < N_ROUTES; k++)
    add_route (json, k, &r->api.routes[k]);
  json_end_object (json);
  json_end_object (json);
}

/* add_series, or only a count when no stream got that far. */
static void
add_stream_series (Json *json, const char *name, GArray *samples)
{
  if (samples->len > 0) {
    add_series (json, name, samples);
    return;
  }
  json_begin_object (json, name);
  add_int (json, "calls", 0);
  json_end_object (json);
}

static void
add_ws_round (Json *json, const WsRoundResult *r)
{
  json_begin_object (json, NULL);
  add_int (json, "streams", r->streams);
  add_int (json, "open_at_once", r->open_at_once);
  add_number (json, "seconds", r->seconds);
  json_begin_object (json, "errors");
  for (int k = 0; k < N_WS_ERRORS; k++)
    add_int (json, ws_error_names[k], r->errors[k]);
  add_int (json, "total", ws_total_errors (r->errors));
  json_end_object (json);
  if (r->first_error != NULL)
    add_string (json, "first_error", r->first_error);
  add_stream_series (json, "connect_ms", r->connect_ms);
  add_stream_series (json, "first_chunk_ms", r->first_chunk_ms);
  add_stream_series (json, "done_ms", r->done_ms);
  json_begin_object (json, "daemon_rss_kb");
  add_int (json, "before", (gint64) r->rss_before_kb);
  add_int (json, "peak", (gint64) r->rss_peak_kb);
  add_int (json, "after", (gint64) r->rss_after_kb);
  json_end_object (json);
  json_end_object (json);
}

static void
add_websocket (Json *json, Bench *b, Results *r)
{
  WebSocket *w = &r->websocket;
  json_begin_object (json, "websocket");
  if (!w->measured) {
    add_not_measured (json, w->why ? w->why : "not attempted");
    json_end_object (json);
    return;
  }
  add_bool (json, "measured", TRUE);
  add_string (json, "path", "/ws/query/{session_id}");
  add_int (json, "streams", b->streams);
  json_begin_array (json, "rounds");
  for (guint i = 0; i < w->rounds; i++)
    add_ws_round (json, &w->round[i]);
  json_end_array (json);
  json_begin_object (json, "memory");
  g_autofree char *rule = g_strdup_printf (
      "the daemon's RSS after round 2 exceeds its RSS after round 1 by less than %.0f%% of "
      "it or %d kB, whichever is more",
      FLAT_MEMORY_SHARE * 100, FLAT_MEMORY_MIN_KB);
  add_string (json, "rule", rule);
  add_int (json, "after_round_1_kb", (gint64) w->round[0].rss_after_kb);
  add_int (json, "after_round_2_kb", (gint64) w->round[1].rss_after_kb);
  add_int (json, "growth_kb", memory_growth_kb (w));
  add_int (json, "limit_kb", (gint64) flat_memory_limit_kb (w));
  json_end_object (json);
  json_end_object (json);
}

static gboolean
add_throughput_targets (Json *json, Results *r)
{
  Throughput *t = &r->throughput;
  gboolean measured = r->throughput_why == NULL && status_errors (t->rounds[0], t->n) == 0
                      && status_errors (t->rounds[1], t->n) == 0;
  double base = measured ? median_rps (t->rounds[0], t->n) : 0;
  double daemon = measured ? median_rps (t->rounds[1], t->n) : 0;
  gboolean all = TRUE;
  all &= add_target (json, "health_throughput_vs_baseline",
                     "median requests/s of GET /health at 64 keep-alive connections, the daemon "
                     "over the baseline of the same run",
                     measured, daemon / MAX (base, 1e-9), TARGET_RATIO, TRUE, "ratio");
  all &= add_target (json, "health_throughput",
                     "median requests/s of the daemon's GET /health at 64 keep-alive "
                     "connections",
                     measured, daemon, TARGET_RPS, TRUE, "requests/s");
  return all;
}

static gboolean
add_api_target (Json *json, const char *name, Results *r, Route route)
{
  const RouteResult *rr = &r->api.routes[route];
  g_autofree char *as
      = g_strdup_printf ("p99 of GET %s, one client on one keep-alive connection, as wrk 4 "
                         "counts it: from sending to the last byte, with the waits of requests a "
                         "steady client would have sent behind a slow one",
                         route_shapes[route]);
  gboolean measured = r->api_why == NULL && rr->measured;
  return add_target (json, name, as, measured, measured ? rr->one.p99_ms : 0, TARGET_API_P99_MS,
                     FALSE, "ms");
}

static gboolean
add_websocket_targets (Json *json, Bench *b, Results *r)
{
  WebSocket *w = &r->websocket;
  gboolean measured = w->measured && b->streams >= TARGET_STREAMS;
  guint errors = 0;
  for (guint i = 0; i < w->rounds; i++)
    errors += ws_total_errors (w->round[i].errors);
  g_autofree char *errors_as
      = g_strdup_printf ("errors over %d rounds of %d WebSocket streams at once (%d or more)",
                         WS_ROUNDS, b->streams, TARGET_STREAMS);
  gboolean all = TRUE;
  all &= add_target (json, "websocket_stream_errors", errors_as, measured, errors, 1, FALSE,
                     "errors");
  all &= add_target (json, "websocket_memory_flat",
                     "growth of the daemon's RSS from after round 1 to after round 2; the limit "
                     "is websocket.memory.rule's",
                     measured, measured ? (double) memory_growth_kb (w) : 0,
                     measured ? (double) flat_memory_limit_kb (w) : FLAT_MEMORY_MIN_KB, FALSE,
                     "kB");
  return all;
}

static gboolean
add_targets (Json *json, Bench *b, Results *r)
{
  gboolean all = TRUE;
  json_begin_object (json, "targets");
  all &= add_throughput_targets (json, r);
  all &= add_api_target (json, "get_session_p99", r, ROUTE_GET_SESSION);
  all &= add_api_target (json, "list_documents_p99", r, ROUTE_LIST_DOCUMENTS);
  all &= add_websocket_targets (json, b, r);
  json_end_object (json);
  return all;
}

static void
add_daemon (Json *json, Bench *b)
{
  g_autofree char *url = daemon_url (b, "/");
  json_begin_object (json, "daemon");
  add_daemon_identity (json, &b->d, b->build_type);
  add_string (json, "url", url);
  add_string (json, "config",
              "[query] max_queries_per_user=0 (one uid opens every stream), [generation] "
              "backend=builtin, [http] a socket in the run's directory and a free loopback "
              "port; every other key default: builtin embedder, max_generations=2");
  add_config_lines (json, "config_file", b->config);
  add_string (json, "rate_limit", b->rate_limit);
  add_int (json, "unclean_exits", b->d.unclean_exits);
  json_end_object (json);
}

static void
add_baseline (Json *json, Bench *b)
{
  g_autofree char *libsoup = g_strdup_printf ("%u.%u.%u", soup_get_major_version (),
                                              soup_get_minor_version (), soup_get_micro_version ());
  json_begin_object (json, "baseline");
  add_string (json, "path", b->baseline_path);
  add_string (json, "server", "libsoup SoupServer, one main loop, GET /health only");
  add_string (json, "libsoup", libsoup);
  add_int (json, "body_bytes", (gint64) b->baseline.body_bytes);
  json_end_object (json);
}

static void
add_parameters (Json *json, Bench *b)
{
  json_begin_object (json, "parameters");
  add_int (json, "seconds", b->seconds);
  add_int (json, "rounds", b->rounds);
  add_int (json, "streams", b->streams);
  add_int (json, "websocket_rounds", WS_ROUNDS);
  add_int (json, "documents", b->documents);
  add_int (json, "document_bytes", DOCUMENT_BYTES);
  add_int (json, "seed", b->seed);
  add_string (json, "wrk", b->wrk ? b->wrk : b->wrk_why);
  add_string (json, "wrk_version", b->wrk_version ? b->wrk_version : "none");
  add_int (json, "open_files_limit", (gint64) b->files.rlim_cur);
  json_end_object (json);
}

static char *
report (Bench *b, Results *r)
{
  Json writer = { g_string_new (NULL), 0, TRUE };
  Json *json = &writer;

  json_begin_object (json, NULL);
  add_string (json, "benchmark", "http");
  add_machine (json, &b->d);
  add_daemon (json, b);
  add_baseline (json, b);
  add_parameters (json, b);
  add_throughput (json, b, r);
  add_api (json, b, r);
  add_websocket (json, b, r);
  add_bool (json, "all_targets_pass", add_targets (json, b, r));
  json_end_object (json);

  g_string_append_c (json->out, '\n');
  return g_string_free (json->out, FALSE);
}

/* ---- the run ---- */

static gboolean
prepare (Bench *b, GError **error)
{
  /* Written again by configure_daemon, with the HTTP face on. */
  if (!bench_daemon_prepare (&b->d, b->tmp_parent, "", error) || !configure_daemon (b, error))
    return FALSE;
  b->state_dir = g_build_filename (b->d.dir, "state", NULL);
  b->lua_path = g_build_filename (b->d.dir, "report.lua", NULL);
  b->api = soup_session_new_with_options ("timeout", HTTP_TIMEOUT_S, NULL);
  return write_file (b->lua_path, wrk_script, error);
}

static gboolean
run (Bench *b, Results *r, GError **error)
{
  if (!prepare (b, error) || !start_daemon (&b->d, b->state_dir, NULL, error)
      || !read_version (&b->d, error) || !fill_session (b, error) || !start_baseline (b, error))
    return FALSE;
  if (b->wrk == NULL) {
    r->throughput_why = g_strdup_printf ("not measured: %s", b->wrk_why);
    r->api_why = g_strdup (r->throughput_why);
  } else if (!measure_throughput (b, &r->throughput, error) || !measure_api (b, &r->api, error)) {
    return FALSE;
  }
  return measure_websocket (b, &r->websocket, error) && stop_daemon (&b->d, error);
}

static void
bench_cleanup (Bench *b)
{
  baseline_clear (&b->baseline);
  g_clear_object (&b->api);
  bench_daemon_clear (&b->d, b->keep);
  g_free (b->state_dir);
  g_free (b->config);
  g_free (b->rate_limit);
  g_free (b->lua_path);
  g_free (b->token);
  g_free (b->baseline_path);
  g_free (b->wrk);
  g_free (b->wrk_why);
  g_free (b->wrk_version);
  g_free (b->build_type);
  corpus_clear (&b->corpus);
}

static void
find_wrk (Bench *b, const char *wrk)
{
  b->wrk = g_find_program_in_path (wrk);
  if (b->wrk == NULL) {
    b->wrk_why = g_strdup_printf ("%s was not found (Debian package wrk)", wrk);
    progress ("%s: /health throughput and API latency will not be measured", b->wrk_why);
    return;
  }
  b->wrk_version = find_wrk_version (b->wrk);
}

static gboolean
parse_arguments (Bench *b, int *argc, char ***argv, GError **error)
{
  g_autofree char *wrk = NULL;
  g_autofree char *baseline = NULL;
  g_auto (BenchDaemonArgs) args = { 0 };
  const GOptionEntry entries[] = {
    BENCH_OPTION_DAEMON (&args),
    BENCH_OPTION_EXTRACT_HELPER (&args),
    BENCH_OPTION_DBUS_DAEMON (&args),
    BENCH_OPTION_BUILD_TYPE (&args),
    { "baseline", 0, 0, G_OPTION_ARG_FILENAME, &baseline,
      "The baseline server (default: the http-baseline built with this benchmark)", "PATH" },
    { "wrk", 0, 0, G_OPTION_ARG_FILENAME, &wrk, "The wrk to load with (default: from PATH)",
      "PATH" },
    { "seconds", 0, 0, G_OPTION_ARG_INT, &b->seconds, "Length of each wrk run (default 10)", "S" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &b->rounds,
      "/health runs of the baseline and of the daemon, taking turns (default 3)", "N" },
    { "streams", 0, 0, G_OPTION_ARG_INT, &b->streams,
      "WebSocket streams open at once, in each of two rounds (default 1000)", "N" },
    { "documents", 0, 0, G_OPTION_ARG_INT, &b->documents,
      "Documents of 20 kB in the session (default 5)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &b->seed, "Seed of the generated text (default 1)", "N" },
    { "keep", 0, 0, G_OPTION_ARG_NONE, &b->keep,
      "Keep the temporary directory with the daemon's log and state", NULL },
    G_OPTION_ENTRY_NULL,
  };
  if (!bench_parse_options (entries,
                            "Measures smartragd's HTTP face: GET /health beside a bare "
                            "libsoup server, API latency, and WebSocket streams,\nand prints "
                            "one JSON document.",
                            argc, argv, error))
    return FALSE;
  if (b->seconds < 1 || b->rounds < 1 || b->streams < 1 || b->documents < 1)
    return fail (error, "seconds, rounds, streams and documents must be at least 1");
  if (!bench_daemon_resolve (&b->d, &args, *argc, *argv, SMARTRAGD_PATH, SMARTRAG_EXTRACT_PATH,
                             SMARTRAGD_BUILD_TYPE, &b->build_type, error))
    return FALSE;
  b->baseline_path = baseline ? g_steal_pointer (&baseline) : g_strdup (HTTP_BASELINE_PATH);
  if (!g_file_test (b->baseline_path, G_FILE_TEST_IS_EXECUTABLE))
    return fail (error, "%s is not an executable http-baseline", b->baseline_path);
  find_wrk (b, wrk ? wrk : "wrk");
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_set_prgname ("bench-http");
  Bench bench = {
    .seconds = 10,
    .rounds = 3,
    .streams = TARGET_STREAMS,
    .documents = 5,
    .seed = 1,
    .tmp_parent = (char *) g_get_tmp_dir (),
    .baseline = { .out_fd = -1 },
    .d = BENCH_DAEMON_INIT (READY_TIMEOUT_US, STOP_TIMEOUT_US),
  };
  g_auto (Results) results = { 0 };
  g_autoptr (GError) error = NULL;

  /* Before anything starts: the daemon inherits the limit. */
  raise_file_limit (&bench);
  if (!parse_arguments (&bench, &argc, &argv, &error)) {
    g_printerr ("%s: %s\n", g_get_prgname (), error->message);
    bench_cleanup (&bench);
    return 2;
  }
  if (bench.files.rlim_cur < (rlim_t) bench.streams + FDS_BESIDES_STREAMS)
    progress ("warning: %ld open files allowed, fewer than %d streams need",
              (long) bench.files.rlim_cur, bench.streams + FDS_BESIDES_STREAMS);
  install_signal_handlers ();

  bench.d.load_before = load_average ();
  gboolean ok = run (&bench, &results, &error);
  bench.d.load_after = load_average ();
  g_autofree char *json = ok ? report (&bench, &results) : NULL;
  bench_cleanup (&bench);

  if (!ok) {
    g_printerr ("%s: %s\n", g_get_prgname (), error->message);
    return 1;
  }
  fputs (json, stdout);
  return 0;
}
