/* Backup: a consistent copy of the state, taken while the daemon serves. */
#pragma once

#include <gio/gio.h>

#include "auth/caller.h"
#include "service/service.h"

G_BEGIN_DECLS

/* The longest comment a backup's manifest keeps. */
#define SR_BACKUP_MAX_COMMENT 1024

/* Checks what a caller may give a backup (NULL: no comment), before anything else. */
gboolean sr_backup_check_comment (const char *comment, GError **error);

/* Makes a backup for an administrator: <backup dir>/<time>/ with the database (one
 * moment of it), the index files and the stored files (hard links to the previous
 * backup's where unchanged), and manifest.json last; "latest" then points at it, and the
 * oldest backups beyond the number kept go. Runs on a worker thread while the daemon
 * serves; one maintenance job at a time. */
void sr_backup_async (SrService *service, const SrCaller *caller, const char *comment,
                      GAsyncReadyCallback callback, gpointer user_data);
/* The new backup's path. */
char *sr_backup_finish (GAsyncResult *result, GError **error);

G_END_DECLS
