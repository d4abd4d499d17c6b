/* What a file of HTTP routes uses: the form of a route table, the request, the replies. */
#pragma once

#include <libsoup/soup.h>

#include "auth/caller.h"
#include "http/json-body.h"
#include "http/json-writer.h"
#include "service/service.h"

G_BEGIN_DECLS

typedef struct SrHttpRequest SrHttpRequest;

/* Runs on the main loop once the whole body has arrived and every check of the route
 * passed; replies before it returns, or pauses the message (soup_server_message_pause)
 * and replies later. The request lives as long as its SoupServerMessage. */
typedef void (*SrHttpHandler) (SrHttpRequest *request);

typedef enum {
  SR_HTTP_ROUTE_PUBLIC = 1 << 0,    /* answered without an identity, also over TCP */
  SR_HTTP_ROUTE_JSON_BODY = 1 << 1, /* a body, when there is one, is application/json */
  /* A GET that becomes a WebSocket: only a valid handshake reaches the handler, which
   * replies (an error: no upgrade) or calls sr_http_request_accept_websocket() before it
   * returns; it may not pause. */
  SR_HTTP_ROUTE_WEBSOCKET = 1 << 2,
} SrHttpRouteFlags;

/* How a route takes its body when the usual way does not fit; each member may be NULL. */
typedef struct {
  /* The most bytes of body the route takes, from the service's settings (an upload's
   * follows [limits] max_file_size); it replaces the route's max_body. */
  guint64 (*max_body) (SrService *service);
  /* Runs once the headers passed every check, before any of the body is read: it prepares
   * for the body, or replies (a wrong Content-Type, say), and then the body is dropped. */
  void (*begin) (SrHttpRequest *request);
  /* With it, the body is never kept: each piece goes here as it arrives, until the route
   * replies (the rest is then read and dropped) or the whole body is in and the handler
   * runs. A body over the limit is refused by the server, and the request's data dropped. */
  void (*chunk) (SrHttpRequest *request, GBytes *piece);
} SrHttpBodyReader;

/* One route. A pattern is "/"-separated segments: literal ones, and "{name}" for any one
 * non-empty segment, read with sr_http_request_param(). The first route of the first
 * table whose pattern and method match serves a request. */
typedef struct {
  const char *method; /* "GET", "POST", "PATCH", "DELETE", … */
  const char *pattern;
  SrHttpHandler handler;
  SrHttpRouteFlags flags;
  guint64 max_body;             /* bytes of body taken; 0: [http] max_body_size */
  const SrHttpBodyReader *body; /* NULL: the whole body, kept for the handler */
} SrHttpRoute;

#define SR_HTTP_ROUTES_END                                                                         \
  {                                                                                                \
    NULL, NULL, NULL, 0, 0                                                                         \
  }

/* The route tables, each in a file of its own (routes-<name>.c) and ended with
 * SR_HTTP_ROUTES_END; routes.c lists them. */
extern const SrHttpRoute sr_http_health_routes[];
extern const SrHttpRoute sr_http_metrics_routes[];
extern const SrHttpRoute sr_http_session_routes[];
extern const SrHttpRoute sr_http_query_routes[];
extern const SrHttpRoute sr_http_websocket_routes[];
extern const SrHttpRoute sr_http_conversation_routes[];
extern const SrHttpRoute sr_http_docs_routes[];
extern const SrHttpRoute sr_http_document_routes[];

/* Every route as "METHOD /pattern", in the order they are tried. */
GStrv sr_http_routes_list (void);

SrService *sr_http_request_service (SrHttpRequest *request);
SoupServerMessage *sr_http_request_message (SrHttpRequest *request);
/* Who asks: never NULL on a route that is not public; NULL on a public one when the
 * client has no identity (TCP without a token). */
const SrCaller *sr_http_request_caller (SrHttpRequest *request);
/* A "{name}" segment of the route's pattern, as the path held it (percent-decoded). */
const char *sr_http_request_param (SrHttpRequest *request, const char *name);
/* The body as a JSON object (empty when there was no body); NULL after replying 400. */
SrJsonBody *sr_http_request_json (SrHttpRequest *request);
/* What a route keeps for one request between its body reader and its handler; @destroy
 * frees it with the request, or as soon as the request is refused. */
void sr_http_request_set_data (SrHttpRequest *request, gpointer data, GDestroyNotify destroy);
gpointer sr_http_request_get_data (SrHttpRequest *request);

/* Runs once the handshake of an accepted WebSocket is written. @connection is open; the
 * handler refs it to keep it. Its messages are held to the route's body limit, and it is
 * pinged to keep it alive. The request is still there, its reply done. */
typedef void (*SrHttpWebsocketHandler) (SrHttpRequest *request, SoupWebsocketConnection *connection,
                                        gpointer user_data);

/* Answers a WebSocket route's handshake with the upgrade; @handler is called after it with
 * @user_data, which @destroy frees after that or when the upgrade never happens (the
 * client went first). */
void sr_http_request_accept_websocket (SrHttpRequest *request, SrHttpWebsocketHandler handler,
                                       gpointer user_data, GDestroyNotify destroy);

/* The replies. Each sets the status and the body; JSON replies are
 * "application/json; charset=utf-8" and never cached. */
void sr_http_reply_json (SrHttpRequest *request, guint status, SrJsonWriter *writer);
/* JSON written before, shared by the replies that send it. */
void sr_http_reply_json_bytes (SrHttpRequest *request, guint status, GBytes *json);
/* BUSY comes with "Retry-After", unless the handler set one. */
void sr_http_reply_error (SrHttpRequest *request, const GError *error);
void sr_http_reply_empty (SrHttpRequest *request, guint status);
/* A body of another type than JSON; takes @text. */
void sr_http_reply_text (SrHttpRequest *request, guint status, const char *content_type,
                         char *text);

/* Text a client sent, fit to quote back in a message: valid UTF-8, and cut short when long. */
char *sr_http_shown (const char *text);

/* A time in µs since the epoch as ISO 8601 in UTC with microseconds:
 * "2025-03-01T12:00:00.000000Z". */
char *sr_http_format_time (gint64 us);

G_END_DECLS
