/* The daemon context: start sequence, main loop, timers, signals and stop sequence. */
#pragma once

#include <glib.h>

#include "bus/bus.h"
#include "daemon/config.h"
#include "daemon/logging.h"

G_BEGIN_DECLS

typedef struct {
  SrBusMode mode;
  const char *address;   /* a given bus instead of the mode's own */
  const char *state_dir; /* NULL: the mode's default */
  SrConfig *config;      /* borrowed */
  /* What SIGHUP reads again: the file, and whether it must exist (it was named). */
  const char *config_path;
  gboolean config_required;
  SrLogging *logging; /* where a reloaded log level goes */
} SrDaemonOptions;

/* Runs until stopped; returns the process exit code. */
int sr_daemon_run (const SrDaemonOptions *options);

/* The state directory a mode uses when none is given. */
char *sr_daemon_default_state_dir (SrBusMode mode);

G_END_DECLS
