/* The daemon context that its start, stop and reload code share. */
#pragma once

#include "bus/bus.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "http/http.h"
#include "service/queries.h"
#include "service/service.h"

G_BEGIN_DECLS

typedef struct {
  const SrDaemonOptions *options;
  SrConfig *config;   /* in force: options->config, or the last one reloaded */
  SrConfig *reloaded; /* owned; NULL until a reload succeeds */
  char *state_dir;
  char *status; /* what systemd shows while it serves: the faces and where */
  GMainLoop *loop;
  SrService *service;
  SrBus *bus;
  SrHttp *http;
  guint expiry_timer;
  guint watchdog_timer;
  guint stop_timer;
  guint signal_sources[3]; /* SIGTERM, SIGINT, SIGHUP */
  gboolean stopping;
  int exit_code;
} SrDaemon;

/* What the configuration sets for the service and the questions. */
SrLimits sr_daemon_limits (const SrConfig *config);
SrQueryLimits sr_daemon_query_limits (const SrConfig *config);
/* The HTTP rates and CORS origins the configuration sets; the other fields are left 0. */
SrHttpOptions sr_daemon_http_policy (const SrConfig *config);

/* (Re)starts the timer that removes expired sessions, at config's interval. */
void sr_daemon_arm_expiry (SrDaemon *daemon);

/* SIGHUP: reads the configuration file again and applies what can change while running;
 * a file that is not valid changes nothing. */
void sr_daemon_reload (SrDaemon *daemon);

G_END_DECLS
