/* Files copied, hashed and synced to disk, and trees removed: what backups and restores share. */
#pragma once

#include <glib.h>
#include <sys/stat.h>

#include "common/sha256.h"

G_BEGIN_DECLS

/* Sets @error for errno @saved: a full disk names the disk holding @path, anything else
 * says what failed (@format) and why. Returns FALSE. */
gboolean sr_durable_fail_errno (GError **error, int saved, const char *path, const char *format,
                                ...) G_GNUC_PRINTF (4, 5);

/* The size and SHA-256 (lowercase hex) of the regular file @path; @st, when not NULL,
 * gets the status of the very file that was read. */
gboolean sr_durable_hash (const char *path, guint64 *size, char sha256[SR_SHA256_HEX_LENGTH + 1],
                          struct stat *st, GError **error);
/* Copies the regular file @from into the new file @to (mode 0600; an existing @to is an
 * error), hashing the bytes as they pass, and fsyncs it. A failed copy leaves no @to. */
gboolean sr_durable_copy (const char *from, const char *to, guint64 *size,
                          char sha256[SR_SHA256_HEX_LENGTH + 1], GError **error);
/* Appends the regular file @from to @out (written as @to, for messages), hashing the
 * bytes as they pass; the caller syncs @out. */
gboolean sr_durable_append (const char *from, int out, const char *to, guint64 *size,
                            char sha256[SR_SHA256_HEX_LENGTH + 1], GError **error);
/* @data into the new file @path (mode 0600; an existing @path is an error), fsynced. A
 * failed write leaves no @path. */
gboolean sr_durable_write_new (const char *path, const void *data, gsize length, GError **error);
/* A hard link @to of @from, or a copy where the two are on different file systems or
 * @from has too many links already. Both must hold the same bytes for ever: only files
 * that are never written again are shared. */
gboolean sr_durable_link_or_copy (const char *from, const char *to, GError **error);
/* Makes @path (mode 0700) unless it is a directory already. */
gboolean sr_durable_mkdir (const char *path, GError **error);
gboolean sr_durable_sync_dir (const char *path, GError **error);
/* Removes @path and everything below it; an absent @path is no error. Symbolic links are
 * removed, never followed. */
gboolean sr_durable_remove_tree (const char *path, GError **error);
/* @text into @path through a temporary file, fsynced and renamed, then the directory
 * fsynced: readers see the old file or the whole new one. */
gboolean sr_durable_write_atomic (const char *path, const char *text, gsize length, GError **error);

G_END_DECLS
