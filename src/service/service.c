/* The operations' shared context: the store, the limits, and whether new work is taken. */
#include "service/service.h"

#include <glib/gi18n.h>

#include "common/errors.h"

struct SrService {
  SrStore *store;
  char *state_dir;
  char *files_dir;
  SrLimits limits;
  gboolean stopping;
  guint in_flight;
  GSourceFunc drained;
  gpointer drained_data;
};

SrService *
sr_service_new (SrStore *store, const char *state_dir, const SrLimits *limits)
{
  SrService *service = g_new0 (SrService, 1);
  service->store = store;
  service->state_dir = g_strdup (state_dir);
  service->files_dir = g_build_filename (state_dir, "files", NULL);
  service->limits = *limits;
  return service;
}

void
sr_service_free (SrService *service)
{
  if (service == NULL)
    return;
  sr_store_close (service->store);
  g_free (service->state_dir);
  g_free (service->files_dir);
  g_free (service);
}

SrStore *
sr_service_store (SrService *service)
{
  return service->store;
}

const char *
sr_service_files_dir (SrService *service)
{
  return service->files_dir;
}

const SrLimits *
sr_service_limits (SrService *service)
{
  return &service->limits;
}

const char *
sr_service_state_dir (SrService *service)
{
  return service->state_dir;
}

static void
maybe_drained (SrService *service)
{
  if (!service->stopping || service->in_flight > 0 || service->drained == NULL)
    return;
  GSourceFunc drained = g_steal_pointer (&service->drained);
  /* From an idle so that the reply of the last piece of work is sent first. */
  g_idle_add (drained, service->drained_data);
}

void
sr_service_stop_accepting (SrService *service, GSourceFunc drained, gpointer user_data)
{
  service->stopping = TRUE;
  service->drained = drained;
  service->drained_data = user_data;
  maybe_drained (service);
}

gboolean
sr_service_accepting (SrService *service, GError **error)
{
  if (!service->stopping)
    return TRUE;
  g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_SHUTTING_DOWN,
                       _ ("SmartRAG is shutting down and takes no new requests; try again once "
                          "it has restarted"));
  return FALSE;
}

void
sr_service_work_begin (SrService *service)
{
  service->in_flight++;
}

void
sr_service_work_end (SrService *service)
{
  g_return_if_fail (service->in_flight > 0);
  service->in_flight--;
  maybe_drained (service);
}

guint
sr_service_work_in_flight (SrService *service)
{
  return service->in_flight;
}
