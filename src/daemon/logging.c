/* Log output: the journal under systemd, stderr otherwise, filtered by log_level. */
#include "daemon/logging.h"

#include <stdio.h>

struct SrLogging {
  SrLogLevel level;
  gboolean journal;
};

static SrLogLevel
level_of (GLogLevelFlags flags)
{
  if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    return SR_LOG_ERROR;
  if (flags & G_LOG_LEVEL_WARNING)
    return SR_LOG_WARNING;
  if (flags & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))
    return SR_LOG_INFO;
  return SR_LOG_DEBUG;
}

static GLogWriterOutput
write_log (GLogLevelFlags flags, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  SrLogging *logging = user_data;

  if (level_of (flags) > logging->level)
    return G_LOG_WRITER_HANDLED;
  if (logging->journal
      && g_log_writer_journald (flags, fields, n_fields, NULL) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_standard_streams (flags, fields, n_fields, NULL);
}

SrLogging *
sr_logging_setup (SrLogLevel level)
{
  SrLogging *logging = g_new0 (SrLogging, 1);
  logging->level = level;
  /* Under systemd stderr is the journal's socket: log there with structured fields. */
  logging->journal = g_log_writer_is_journald (fileno (stderr));
  g_log_set_writer_func (write_log, logging, NULL);
  g_log_set_debug_enabled (level >= SR_LOG_DEBUG);
  return logging;
}

void
sr_logging_set_level (SrLogging *logging, SrLogLevel level)
{
  logging->level = level;
  g_log_set_debug_enabled (level >= SR_LOG_DEBUG);
}
