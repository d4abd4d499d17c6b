/* What the HTTP face's own files share: the server state, a request's state, matching. */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <sys/types.h>

#include "auth/caller.h"
#include "common/errors.h"
#include "http/http.h"
#include "http/rate-limit.h"
#include "http/routes.h"

G_BEGIN_DECLS

#define SR_HTTP_MAX_PARAMS 4

typedef struct SrAnswerStreams SrAnswerStreams;

struct SrHttp {
  SrService *service;
  SoupServer *server;
  gboolean user_mode;
  guint32 own_uid;
  guint64 max_body_size;
  guint request_timeout_ms;
  guint idle_sweep;        /* source of idle-sweep.c */
  GHashTable *connections; /* GSocket (ref): the connections idle-sweep.c watches */
  GQueue requests;         /* SrHttpRequest, as long as their messages */

  /* The Unix socket, accepted by us (listeners.c says why) */
  GSocketService *unix_service;
  char *socket_path;
  dev_t socket_dev; /* what was made at socket_path, so that only it is removed */
  ino_t socket_ino;
  guint next_connection;

  char *tcp_url; /* "http://127.0.0.1:8765/" once listening */

  SrAnswerStreams *answers; /* answers streamed to clients: answer-stream.c */
  /* Request rates (throttle.c), NULL where there is no limit, and CORS (cors.c) */
  SrRateLimiter *token_rates;
  SrRateLimiter *local_rates;
  SrHttpOptions rates; /* only the rate limits are kept, for messages */
  char **cors_origins; /* NULL: CORS is off */
  /* The last /health reply, written once per report (routes-health.c) */
  GVariant *health_components;
  GBytes *health_body;
};

/* The route a request path and method lead to. */
typedef struct {
  const SrHttpRoute *route;
  char *names[SR_HTTP_MAX_PARAMS];
  char *values[SR_HTTP_MAX_PARAMS];
  guint n_params;
} SrHttpMatch;

typedef enum {
  SR_HTTP_MATCHED,
  SR_HTTP_NO_PATH,   /* no route has this path */
  SR_HTTP_NO_METHOD, /* routes have it, with other methods */
} SrHttpMatchResult;

/* Fills @match, or with SR_HTTP_NO_METHOD sets @allow to the methods the path has
 * ("GET, POST"). */
SrHttpMatchResult sr_http_routes_match (const char *method, const char *path, SrHttpMatch *match,
                                        char **allow);
void sr_http_match_clear (SrHttpMatch *match);
/* The literal start of each WebSocket route's pattern ("/ws/query" of
 * "/ws/query/{session_id}"): where libsoup must look for upgrades. */
GStrv sr_http_websocket_prefixes (void);
/* The WebSocket subprotocols the server speaks, for libsoup: one, "smartrag". A browser,
 * which cannot send Authorization on a WebSocket, offers it together with its token as
 * another protocol, "smartrag.bearer.<token>" (identity.c); the server answers with
 * "smartrag" alone, so the token is never sent back. */
#define SR_HTTP_WEBSOCKET_PROTOCOL "smartrag"
#define SR_HTTP_WEBSOCKET_BEARER   SR_HTTP_WEBSOCKET_PROTOCOL ".bearer."
char **sr_http_websocket_protocols (void);

struct SrHttpRequest {
  SrHttp *http; /* NULL once the server is gone */
  SoupServerMessage *message;
  GList link;       /* in http->requests */
  gboolean counted; /* as work in flight, from its headers until it is done */
  gboolean arrived; /* the whole request is in, or it is over: no timeout applies */
  SrHttpMatch match;
  SrCaller caller;
  gboolean identified;
  char *peer;     /* caller.peer's text, for a caller known by a token */
  char *token_id; /* the API token that identified the caller, NULL over the Unix socket */
  gint64 started; /* monotonic µs: the request's first byte, or the previous reply */
  gboolean counted_in_metrics;
  guint64 max_body;
  guint64 received;
  /* What a WebSocket route accepted its upgrade with */
  SrHttpWebsocketHandler upgraded;
  gpointer upgraded_data;
  GDestroyNotify upgraded_destroy;
  gpointer data; /* the route's, sr_http_request_set_data() */
  GDestroyNotify data_destroy;
};

/* Attaches a request to @message, which is new and has read nothing yet. */
void sr_http_request_attach (SrHttp *http, SoupServerMessage *message);
SrHttpRequest *sr_http_request_of (SoupServerMessage *message);
/* The request's headers are in: CORS preflights, route, identity, rate, size and type are
 * checked, and anything wrong is answered at once, before any of the body is read. */
void sr_http_request_got_headers (SrHttpRequest *request);
void sr_http_request_got_chunk (SrHttpRequest *request, GBytes *piece);
/* From now on each piece of @request's body goes to sr_http_request_got_chunk(). */
void sr_http_request_watch_chunks (SrHttpRequest *request);
void sr_http_request_got_body (SrHttpRequest *request);
/* The request did not arrive in time: its connection is shut down. */
void sr_http_request_cut_off (SrHttpRequest *request);
/* Every second: cuts off requests that did not arrive within the request timeout, and
 * closes connections whose clients left between two requests. */
void sr_http_idle_sweep_start (SrHttp *http);
void sr_http_idle_sweep_stop (SrHttp *http);
/* Watches the connection @message came on, from its first request on. */
void sr_http_idle_sweep_track (SrHttp *http, SoupServerMessage *message);
/* The connection became a WebSocket: libsoup's WebSocket code watches it from now on. */
void sr_http_idle_sweep_forget (SrHttp *http, SoupServerMessage *message);

/* Counts the request in the metrics once, with the status it ended with. */
void sr_http_request_count (SrHttpRequest *request, guint status);
/* The response is written, or the connection went: the work is done. */
void sr_http_request_done (SrHttpRequest *request);
/* The server goes away first: the request forgets it. */
void sr_http_request_detach (SrHttpRequest *request);
/* Runs the route's handler once the whole body is in. */
void sr_http_request_run (SrHttpRequest *request);
/* The WebSocket handshake was written: the route's handler takes @connection over. */
void sr_http_request_upgraded (SrHttpRequest *request, SoupWebsocketConnection *connection);

/* The caller of @message, as it came: see identity.c. */
/* Fills @request's caller, and its token id when a token identified it. */
gboolean sr_http_identify (SrHttp *http, SrHttpRequest *request, GError **error);

/* Sets up the limits of request rates of @options. */
void sr_http_throttle_init (SrHttp *http, const SrHttpOptions *options);
/* Whether @request's caller may make one more request now; if not, the reply gets
 * Retry-After and @error says why. Requests without an identity are not counted. */
gboolean sr_http_throttle (SrHttpRequest *request, GError **error);
/* Takes the origins of @options. */
void sr_http_cors_init (SrHttp *http, const SrHttpOptions *options);
/* A CORS preflight is answered here, whole: TRUE when @request was one. Other requests
 * from an allowed origin get the headers that let the page read their replies. */
gboolean sr_http_cors (SrHttpRequest *request);

/* A file built into the daemon for the HTTP face ("openapi.json", "docs.html", …); NULL
 * when there is none by that name. */
GBytes *sr_http_resource (const char *name);

/* Listeners */
gboolean sr_http_listen_unix (SrHttp *http, const char *path, GError **error);
gboolean sr_http_listen_tcp (SrHttp *http, GSocketAddress *address, GError **error);
void sr_http_close_unix (SrHttp *http);
/* Who is at the other end of a connection accepted on the Unix socket; FALSE for other
 * connections. @peer names the connection for logs and lives as long as it. */
gboolean sr_http_unix_peer (SoupServerMessage *message, guint32 *uid, const char **peer);
/* The socket of the connection @message came on. */
GSocket *sr_http_message_socket (SoupServerMessage *message);

/* The path of @message for logs; "?" for a request libsoup could not parse. */
const char *sr_http_message_path (SoupServerMessage *message);

/* Replies straight on a message, for answers before any route runs. */
void sr_http_message_reply_json (SoupServerMessage *message, guint status, char *json,
                                 gsize length);
void sr_http_message_reply_error (SoupServerMessage *message, const GError *error);
void sr_http_message_reply_code (SoupServerMessage *message, SmartragError code, const char *format,
                                 ...) G_GNUC_PRINTF (3, 4);

G_END_DECLS
