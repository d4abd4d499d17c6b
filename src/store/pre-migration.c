/* The copy of the database kept from before its last schema migration. */
#include "store/pre-migration.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "common/errors.h"

char *
sr_store_pre_migration_path (const char *path, int to)
{
  return g_strdup_printf ("%s.pre-v%d", path, to);
}

/* Whether @name is "<base>.pre-v<digits>": a copy this code made. */
static gboolean
is_copy_name (const char *name, const char *base)
{
  gsize length = strlen (base);
  if (strncmp (name, base, length) != 0 || !g_str_has_prefix (name + length, ".pre-v"))
    return FALSE;
  const char *digits = name + length + strlen (".pre-v");
  if (*digits == '\0')
    return FALSE;
  for (; *digits != '\0'; digits++)
    if (!g_ascii_isdigit (*digits))
      return FALSE;
  return TRUE;
}

static void
remove_older_copies (const char *path, const char *keep)
{
  g_autofree char *dir_path = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *keep_name = g_path_get_basename (keep);
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    if (!is_copy_name (name, base) || g_str_equal (name, keep_name))
      continue;
    g_autofree char *old = g_build_filename (dir_path, name, NULL);
    if (g_unlink (old) != 0)
      g_warning ("Cannot remove the older copy %s: %s", old, g_strerror (errno));
  }
}

/* The whole of @db into the new file @target; SQLite's code on failure, its message in
 * @detail. */
static int
backup_into (sqlite3 *db, const char *target, char **detail)
{
  sqlite3 *copy = NULL;
  int rc = sqlite3_open_v2 (target, &copy, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_backup *backup = sqlite3_backup_init (copy, "main", db, "main");
    if (backup == NULL) {
      rc = sqlite3_errcode (copy);
    } else {
      rc = sqlite3_backup_step (backup, -1);
      int finished = sqlite3_backup_finish (backup);
      rc = rc == SQLITE_DONE ? finished : rc;
    }
  }
  if (rc != SQLITE_OK)
    *detail = g_strdup (copy != NULL ? sqlite3_errmsg (copy) : sqlite3_errstr (rc));
  if (sqlite3_close (copy) != SQLITE_OK && rc == SQLITE_OK) {
    rc = SQLITE_ERROR;
    *detail = g_strdup (sqlite3_errmsg (copy));
  }
  return rc;
}

gboolean
sr_store_copy_before_migration (sqlite3 *db, const char *path, int from, int to, GError **error)
{
  g_autofree char *copy = sr_store_pre_migration_path (path, to);
  /* Written under another name first: a copy that is there is a whole one. */
  g_autofree char *partial = g_strconcat (copy, ".partial", NULL);
  g_autofree char *detail = NULL;

  g_unlink (partial);
  int rc = backup_into (db, partial, &detail);
  if (rc == SQLITE_OK && g_rename (partial, copy) != 0) {
    rc = SQLITE_IOERR;
    detail = g_strdup (g_strerror (errno));
  }
  if (rc != SQLITE_OK) {
    g_unlink (partial);
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot copy %s to %s before migrating it from schema version %d to %d: %s. "
                    "The database was left untouched; free some space next to it and start "
                    "again"),
                 path, copy, from, to, detail);
    return FALSE;
  }
  remove_older_copies (path, copy);
  g_info ("Copied %s (schema version %d) to %s before migrating it", path, from, copy);
  return TRUE;
}
