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

/* The same, from a report at most @max_age_us old when there is one: a monitor or load
 * balancer may ask thousands of times a second, and each check takes the database's
 * write lock and asks the kernel about disk and memory. On the service's loop only. */
SrHealthStatus sr_health_check_recent (SrService *service, gint64 max_age_us,
                                       GVariant **components);

SrHealthReport *sr_health_report_new (void);
void sr_health_report_free (SrHealthReport *report);

G_END_DECLS
