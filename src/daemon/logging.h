/* Log output: the journal under systemd, stderr otherwise, filtered by log_level. */
#pragma once

#include "daemon/config.h"

G_BEGIN_DECLS

typedef struct SrLogging SrLogging;

/* Installs the writer; GLib allows this once per process, so the returned handle lives
 * as long as the process and is how the level changes later. */
SrLogging *sr_logging_setup (SrLogLevel level);
void sr_logging_set_level (SrLogging *logging, SrLogLevel level);

G_END_DECLS
