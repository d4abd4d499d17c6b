/* The backup directory: one folder per backup named by its time, "latest", retention. */
#include "store/backups.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "store/durable.h"
#include "store/manifest.h"

#define PARTIAL_PREFIX ".partial-"
#define NAME_LENGTH    23 /* YYYYMMDDTHHMMSS.uuuuuuZ */

char *
sr_backups_name (gint64 now)
{
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc (now / G_USEC_PER_SEC);
  g_autofree char *seconds = g_date_time_format (time, "%Y%m%dT%H%M%S");
  return g_strdup_printf ("%s.%06dZ", seconds, (int) (now % G_USEC_PER_SEC));
}

gboolean
sr_backups_name_valid (const char *name)
{
  if (strlen (name) != NAME_LENGTH || name[8] != 'T' || name[15] != '.' || name[22] != 'Z')
    return FALSE;
  for (guint i = 0; i < NAME_LENGTH; i++)
    if (i != 8 && i != 15 && i != 22 && !g_ascii_isdigit (name[i]))
      return FALSE;
  return TRUE;
}

char *
sr_backups_partial_path (const char *root, const char *name)
{
  g_autofree char *hidden = g_strconcat (PARTIAL_PREFIX, name, NULL);
  return g_build_filename (root, hidden, NULL);
}

gboolean
sr_backups_prepare (const char *root, GError **error)
{
  if (g_mkdir_with_parents (root, 0700) != 0) {
    int saved = errno;
    return sr_error_set (error, SMARTRAG_ERROR_FAILED,
                         _ ("Cannot create the backup directory %s: %s"), root, g_strerror (saved));
  }
  g_autoptr (GDir) dir = g_dir_open (root, 0, error);
  if (dir == NULL)
    return FALSE;
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL) {
    if (!g_str_has_prefix (name, PARTIAL_PREFIX))
      continue;
    g_autofree char *path = g_build_filename (root, name, NULL);
    g_info ("Removing %s, left by an interrupted backup", path);
    if (!sr_durable_remove_tree (path, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
is_complete (const char *root, const char *name)
{
  g_autofree char *manifest = g_build_filename (root, name, SR_MANIFEST_NAME, NULL);
  struct stat st;
  return sr_backups_name_valid (name) && lstat (manifest, &st) == 0 && S_ISREG (st.st_mode);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
sr_backups_list (const char *root, GError **error)
{
  g_autoptr (GDir) dir = g_dir_open (root, 0, error);
  if (dir == NULL)
    return NULL;
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL)
    if (is_complete (root, name))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  return names;
}

char *
sr_backups_latest (const char *root)
{
  g_autofree char *link = g_build_filename (root, SR_BACKUPS_LATEST, NULL);
  g_autofree char *target = g_file_read_link (link, NULL);
  if (target == NULL || !is_complete (root, target))
    return NULL;
  return g_build_filename (root, target, NULL);
}

gboolean
sr_backups_set_latest (const char *root, const char *name, GError **error)
{
  g_autofree char *link = g_build_filename (root, SR_BACKUPS_LATEST, NULL);
  g_autofree char *tmp = g_build_filename (root, "." SR_BACKUPS_LATEST ".tmp", NULL);
  g_unlink (tmp);
  /* Relative, so that the directory can be moved or mounted elsewhere whole. */
  if (symlink (name, tmp) != 0 || g_rename (tmp, link) != 0) {
    int saved = errno;
    g_unlink (tmp);
    return sr_error_set (error, SMARTRAG_ERROR_FAILED, _ ("Cannot point %s at %s: %s"), link, name,
                         g_strerror (saved));
  }
  return sr_durable_sync_dir (root, error);
}

gboolean
sr_backups_prune (const char *root, guint keep, guint *removed, GError **error)
{
  g_autoptr (GPtrArray) names = sr_backups_list (root, error);
  *removed = 0;
  if (names == NULL)
    return FALSE;
  for (guint i = 0; i + keep < names->len; i++) {
    g_autofree char *path = g_build_filename (root, names->pdata[i], NULL);
    /* The manifest first: a backup interrupted while it goes is no longer complete. */
    g_autofree char *manifest = g_build_filename (path, SR_MANIFEST_NAME, NULL);
    g_unlink (manifest);
    if (!sr_durable_remove_tree (path, error))
      return FALSE;
    g_info ("Removed the old backup %s", path);
    (*removed)++;
  }
  return TRUE;
}

static gboolean
not_a_backup (GError **error, const char *path, const char *root, const char *why)
{
  return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS,
                       _ ("Invalid path: %s is not a backup in the backup directory %s (%s)"), path,
                       root, why);
}

char *
sr_backups_resolve (const char *root, const char *path, GError **error)
{
  /* A bare name is one in the backup directory: "latest", or a backup's time. */
  g_autofree char *named = NULL;
  if (*path != '\0' && strchr (path, '/') == NULL && !g_str_equal (path, ".")
      && !g_str_equal (path, ".."))
    path = named = g_build_filename (root, path, NULL);
  if (!g_path_is_absolute (path)) {
    not_a_backup (error, path, root, _ ("the path must be absolute"));
    return NULL;
  }
  g_autofree char *real_root = realpath (root, NULL);
  g_autofree char *real = realpath (path, NULL);
  if (real_root == NULL || real == NULL) {
    not_a_backup (error, path, root, g_strerror (errno));
    return NULL;
  }
  g_autofree char *parent = g_path_get_dirname (real);
  g_autofree char *name = g_path_get_basename (real);
  if (!g_str_equal (parent, real_root)) {
    not_a_backup (error, path, root, _ ("it lies outside that directory"));
    return NULL;
  }
  if (!is_complete (real_root, name)) {
    not_a_backup (error, path, root, _ ("it is not a complete backup"));
    return NULL;
  }
  return g_steal_pointer (&real);
}
