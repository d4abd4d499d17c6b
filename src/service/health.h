/* Health of the parts the daemon depends on, for GetHealth and /health. */
#pragma once

#include <glib.h>

#include "service/service.h"

G_BEGIN_DECLS

typedef enum {
  SR_HEALTH_OK,
  SR_HEALTH_DEGRADED,
  SR_HEALTH_FAILING,
} SrHealthStatus;

/* Below these, the disk holding the state directory is degraded, then failing. */
#define SR_HEALTH_DISK_DEGRADED_BYTES (512 * 1024 * 1024ULL)
#define SR_HEALTH_DISK_FAILING_BYTES  (64 * 1024 * 1024ULL)
/* Memory the system has available, in percent of all of it. */
#define SR_HEALTH_MEMORY_DEGRADED_PERCENT 10
#define SR_HEALTH_MEMORY_FAILING_PERCENT  3

const char *sr_health_status_name (SrHealthStatus status);

/* The worst status of all components, and each component as an a{sv} ("status",
 * "message", and figures of its own) in an a{sv} keyed by component name. */
SrHealthStatus sr_health_check (SrService *service, GVariant **components);

G_END_DECLS
