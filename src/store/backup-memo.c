/* The daemon's memory of its last backup: what has not changed since is linked, not read. */
#include "store/backup-memo.h"

#include <errno.h>
#include <glib/gi18n.h>

#include "common/errors.h"

#define WATCH_BUSY_TIMEOUT_MS 10000

typedef struct {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  struct timespec ctime;
  char *sha256;
} Stamp;

/* What one backup holds of the database and the files, as the live state was then. */
typedef struct {
  gboolean database_known;
  gint64 data_version;
  GHashTable *files; /* relative path → Stamp */
} Record;

struct SrBackupMemo {
  sqlite3 *watch;    /* read-only, never writes */
  dev_t watched_dev; /* the database file it has open */
  ino_t watched_ino;
  char *backup; /* the complete backup @last describes, or NULL */
  Record last;
  Record next; /* noted by the backup being written */
};

static void
stamp_free (gpointer data)
{
  Stamp *stamp = data;
  g_free (stamp->sha256);
  g_free (stamp);
}

static void
record_init (Record *record)
{
  *record = (Record){ 0 };
  record->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, stamp_free);
}

static void
record_clear (Record *record)
{
  g_clear_pointer (&record->files, g_hash_table_unref);
}

SrBackupMemo *
sr_backup_memo_new (void)
{
  SrBackupMemo *memo = g_new0 (SrBackupMemo, 1);
  record_init (&memo->last);
  record_init (&memo->next);
  return memo;
}

void
sr_backup_memo_free (SrBackupMemo *memo)
{
  if (memo == NULL)
    return;
  sqlite3_close (memo->watch);
  g_free (memo->backup);
  record_clear (&memo->last);
  record_clear (&memo->next);
  g_free (memo);
}

static void
forget_last (SrBackupMemo *memo)
{
  g_clear_pointer (&memo->backup, g_free);
  record_clear (&memo->last);
  record_init (&memo->last);
}

/* A database file that was replaced under the daemon is another database: the connection
 * on the old inode would see none of its commits. */
static gboolean
open_watch (SrBackupMemo *memo, const char *path, GError **error)
{
  struct stat st;
  if (stat (path, &st) != 0) {
    int saved = errno;
    return sr_error_set (error, SMARTRAG_ERROR_FAILED, _ ("Cannot open %s: %s"), path,
                         g_strerror (saved));
  }
  if (memo->watch != NULL && st.st_dev == memo->watched_dev && st.st_ino == memo->watched_ino)
    return TRUE;
  g_clear_pointer (&memo->watch, sqlite3_close);
  forget_last (memo);
  sqlite3 *db = NULL;
  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    sr_error_set (error, SMARTRAG_ERROR_FAILED, _ ("Cannot open %s: %s"), path,
                  db != NULL ? sqlite3_errmsg (db) : g_strerror (ENOMEM));
    sqlite3_close (db);
    return FALSE;
  }
  sqlite3_busy_timeout (db, WATCH_BUSY_TIMEOUT_MS);
  memo->watch = db;
  memo->watched_dev = st.st_dev;
  memo->watched_ino = st.st_ino;
  return TRUE;
}

static gboolean
read_int (sqlite3 *db, const char *sql, gint64 *value)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK
                && sqlite3_step (stmt) == SQLITE_ROW;
  if (ok)
    *value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return ok;
}

sqlite3 *
sr_backup_memo_watch (SrBackupMemo *memo, const char *path, gint64 *data_version, GError **error)
{
  gint64 ignored;
  if (!open_watch (memo, path, error))
    return NULL;
  /* The read starts the transaction, and data_version is read inside it: the two name the
   * same moment, the one a snapshot through this connection copies. */
  if (sqlite3_exec (memo->watch, "BEGIN", NULL, NULL, NULL) != SQLITE_OK
      || !read_int (memo->watch, "SELECT count(*) FROM sqlite_schema", &ignored)
      || !read_int (memo->watch, "PRAGMA data_version", data_version)) {
    sr_error_set (error, SMARTRAG_ERROR_FAILED, _ ("Cannot read %s: %s"), path,
                  sqlite3_errmsg (memo->watch));
    sr_backup_memo_unwatch (memo);
    return NULL;
  }
  return memo->watch;
}

void
sr_backup_memo_unwatch (SrBackupMemo *memo)
{
  if (memo->watch != NULL && !sqlite3_get_autocommit (memo->watch))
    sqlite3_exec (memo->watch, "ROLLBACK", NULL, NULL, NULL);
}

static gboolean
describes (SrBackupMemo *memo, const char *previous)
{
  return memo->backup != NULL && previous != NULL && g_str_equal (memo->backup, previous);
}

gboolean
sr_backup_memo_database_unchanged (SrBackupMemo *memo, const char *previous, gint64 data_version)
{
  return describes (memo, previous) && memo->last.database_known
         && memo->last.data_version == data_version;
}

static gboolean
same_time (const struct timespec *a, const struct timespec *b)
{
  return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

const char *
sr_backup_memo_file (SrBackupMemo *memo, const char *previous, const char *relative,
                     const struct stat *st)
{
  if (!describes (memo, previous))
    return NULL;
  const Stamp *stamp = g_hash_table_lookup (memo->last.files, relative);
  /* The change time cannot be set back by anyone: a write in place moves it too. */
  if (stamp == NULL || stamp->dev != st->st_dev || stamp->ino != st->st_ino
      || stamp->size != st->st_size || !same_time (&stamp->mtime, &st->st_mtim)
      || !same_time (&stamp->ctime, &st->st_ctim))
    return NULL;
  return stamp->sha256;
}

void
sr_backup_memo_note_database (SrBackupMemo *memo, gint64 data_version)
{
  memo->next.database_known = TRUE;
  memo->next.data_version = data_version;
}

void
sr_backup_memo_note_file (SrBackupMemo *memo, const char *relative, const struct stat *st,
                          const char *sha256)
{
  Stamp *stamp = g_new0 (Stamp, 1);
  *stamp = (Stamp){
    .dev = st->st_dev,
    .ino = st->st_ino,
    .size = st->st_size,
    .mtime = st->st_mtim,
    .ctime = st->st_ctim,
    .sha256 = g_strdup (sha256),
  };
  g_hash_table_replace (memo->next.files, g_strdup (relative), stamp);
}

void
sr_backup_memo_commit (SrBackupMemo *memo, const char *path)
{
  record_clear (&memo->last);
  memo->last = memo->next;
  record_init (&memo->next);
  g_free (memo->backup);
  memo->backup = g_strdup (path);
}

void
sr_backup_memo_forget (SrBackupMemo *memo)
{
  forget_last (memo);
  record_clear (&memo->next);
  record_init (&memo->next);
}
