/* The daemon's HTTP face: a libsoup server on the main loop, its listeners and its routes. */
#pragma once

#include <gio/gio.h>

#include "service/service.h"

G_BEGIN_DECLS

typedef struct {
  const char *socket_path; /* the Unix socket; NULL for none */
  GSocketAddress *listen;  /* the TCP address; NULL for none */
  gboolean user_mode;      /* the daemon's own user administers it, as on the session bus */
  guint64 max_body_size;   /* bytes of a request body, for routes that name no other limit */
  guint request_timeout;   /* seconds a client may take to send a request */
  guint rate_limit;        /* requests a second per API token; 0: no limit */
  guint rate_limit_burst;  /* requests a token may make at once */
  guint local_rate_limit;  /* requests a second per uid over the Unix socket; 0: no limit */
  guint local_rate_limit_burst;
  const char *cors_origins; /* origins web pages may call from, apart by spaces; NULL: none */
} SrHttpOptions;

typedef struct SrHttp SrHttp;

/* Listens at once; requests are served from the thread-default main context's loop. */
SrHttp *sr_http_new (SrService *service, const SrHttpOptions *options, GError **error);
/* Closes the listeners and every connection, and removes the socket file. Requests still
 * open are dropped: the daemon frees the face once no work is in flight. */
void sr_http_free (SrHttp *http);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrHttp, sr_http_free)

/* Takes the request rates and CORS origins of @options for requests from now on (a
 * reload); its other fields are ignored. */
void sr_http_set_policy (SrHttp *http, const SrHttpOptions *options);

/* Where it listens, such as "unix:/run/smartrag/http.sock and http://127.0.0.1:8765/";
 * NULL when nowhere. With port 0 in the options, the port that was bound. */
char *sr_http_describe (SrHttp *http);

G_END_DECLS
