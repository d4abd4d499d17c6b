/* The daemon's memory of its last backup: what has not changed since is linked, not read. */
#pragma once

#include <glib.h>
#include <sqlite3.h>
#include <sys/stat.h>

G_BEGIN_DECLS

/* One per open database: a restore, or a database opened again, starts a new one. It is
 * used by one backup at a time, on any one thread. */
typedef struct SrBackupMemo SrBackupMemo;

SrBackupMemo *sr_backup_memo_new (void);
void sr_backup_memo_free (SrBackupMemo *memo);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrBackupMemo, sr_backup_memo_free)

/* For store/backup.c. */

/* A read transaction on the database @path through the memo's own connection, which never
 * writes: its PRAGMA data_version, returned in @data_version, moves with every commit of
 * any other connection or process, and with nothing else. A snapshot taken through the
 * connection returned is the moment @data_version names. End it with
 * sr_backup_memo_unwatch(). */
sqlite3 *sr_backup_memo_watch (SrBackupMemo *memo, const char *path, gint64 *data_version,
                               GError **error);
void sr_backup_memo_unwatch (SrBackupMemo *memo);

/* Whether @previous is the backup the memo remembers and the database has not changed
 * since: then the database in @previous is the one a snapshot would copy. */
gboolean sr_backup_memo_database_unchanged (SrBackupMemo *memo, const char *previous,
                                            gint64 data_version);
/* The same for the file @relative, which the daemon only ever replaces by renaming a new
 * file into place: unchanged when it is the same inode with the same size and times. */
const char *sr_backup_memo_file (SrBackupMemo *memo, const char *previous, const char *relative,
                                 const struct stat *st);

/* What the backup being written holds; remembered only once it is complete. */
void sr_backup_memo_note_database (SrBackupMemo *memo, gint64 data_version);
void sr_backup_memo_note_file (SrBackupMemo *memo, const char *relative, const struct stat *st,
                               const char *sha256);
/* The backup @path is complete: what was noted describes it from now on. */
void sr_backup_memo_commit (SrBackupMemo *memo, const char *path);
/* The backup failed: what was noted is forgotten, and so is the last backup (it may have
 * been removed meanwhile, or be about to be). */
void sr_backup_memo_forget (SrBackupMemo *memo);

G_END_DECLS
