/* The backup directory: one folder per backup named by its time, "latest", retention. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SR_BACKUPS_LATEST "latest"

/* A new backup's name for the moment @now (µs since the epoch, UTC):
 * YYYYMMDDTHHMMSS.uuuuuuZ, so that names sort as their times do. */
char *sr_backups_name (gint64 now);
/* Whether @name has that shape. */
gboolean sr_backups_name_valid (const char *name);
/* Where a backup being written lives until it is complete: hidden, never a backup. */
char *sr_backups_partial_path (const char *root, const char *name);

/* Makes @root (0700) if needed and removes what an interrupted backup left in it. */
gboolean sr_backups_prepare (const char *root, GError **error);
/* The complete backups in @root (a folder with a manifest), oldest first, as names. */
GPtrArray *sr_backups_list (const char *root, GError **error);
/* The folder "latest" points to, when it is a complete backup; NULL otherwise. */
char *sr_backups_latest (const char *root);
/* Points "latest" at @name, replacing the link atomically. */
gboolean sr_backups_set_latest (const char *root, const char *name, GError **error);
/* Removes the oldest complete backups until @keep remain; @removed counts them. */
gboolean sr_backups_prune (const char *root, guint keep, guint *removed, GError **error);

/* @path as a backup inside @root: symbolic links resolved, it must be a complete backup
 * directly in @root ("latest" included). Anything else is INVALID_ARGS saying why. */
char *sr_backups_resolve (const char *root, const char *path, GError **error);

G_END_DECLS
