/* Restore: the daemon's state replaced by a verified backup, without a restart. */
#pragma once

#include <gio/gio.h>

#include "auth/caller.h"
#include "service/service.h"

G_BEGIN_DECLS

/* Restores the backup at @path (in the backup directory) for an administrator: checks it
 * completely and stages a copy beside the live state while the daemon serves; then takes
 * no new work (BUSY), cancels running questions, waits for the rest, closes the database
 * and indexes, swaps the staged state in, and serves it. A refused or failed restore leaves
 * the live state as it was, served as before. */
void sr_restore_async (SrService *service, const SrCaller *caller, const char *path,
                       GAsyncReadyCallback callback, gpointer user_data);
gboolean sr_restore_finish (GAsyncResult *result, GError **error);

G_END_DECLS
