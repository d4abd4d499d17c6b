/* Checking a backup against its manifest and staging a copy of it beside the live state. */
#include "build-config.h"

#include "store/restore.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <inttypes.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "store/durable.h"
#include "store/manifest.h"
#include "store/snapshot.h"
#include "store/store.h"
#include "store/swap.h"

static gboolean
refuse (GError **error, const char *backup, const char *why)
{
  return sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS,
                       _ ("The backup %s cannot be restored: %s. Nothing was changed"), backup,
                       why);
}

/* Every file under @dir (relative to @backup) must be listed; nothing but files and folders. */
static gboolean
check_listed (const char *backup, const char *relative, const SrManifest *manifest, GError **error)
{
  g_autofree char *path = g_build_filename (backup, relative, NULL);
  g_autoptr (GDir) dir = g_dir_open (path, 0, error);
  if (dir == NULL)
    return FALSE;
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL) {
    g_autofree char *child
        = *relative != '\0' ? g_build_filename (relative, name, NULL) : g_strdup (name);
    g_autofree char *child_path = g_build_filename (backup, child, NULL);
    GStatBuf st;
    if (g_lstat (child_path, &st) != 0)
      continue;
    if (S_ISDIR (st.st_mode)) {
      if (!check_listed (backup, child, manifest, error))
        return FALSE;
      continue;
    }
    if (*relative == '\0' && g_str_equal (name, SR_MANIFEST_NAME))
      continue;
    if (!S_ISREG (st.st_mode) || sr_manifest_find (manifest, child) == NULL) {
      g_autofree char *why = g_strdup_printf (_ ("%s is not listed in its manifest"), child);
      return refuse (error, backup, why);
    }
  }
  return TRUE;
}

/* @entry's file has its listed size and SHA-256; with @to, it is copied there as it is
 * read, or appended to @out (written as @to) when that is not -1. */
static gboolean
check_entry (const char *backup, const SrManifestEntry *entry, const char *to, int out,
             GError **error)
{
  g_autofree char *path = g_build_filename (backup, entry->path, NULL);
  char sha256[SR_SHA256_HEX_LENGTH + 1];
  guint64 size;
  GStatBuf st;
  if (g_lstat (path, &st) != 0 || !S_ISREG (st.st_mode)) {
    g_autofree char *why = g_strdup_printf (_ ("%s is missing"), entry->path);
    return refuse (error, backup, why);
  }
  if ((guint64) st.st_size != entry->size) {
    g_autofree char *why
        = g_strdup_printf (_ ("%s has %" PRIu64 " bytes where its manifest says %" PRIu64),
                           entry->path, (guint64) st.st_size, entry->size);
    return refuse (error, backup, why);
  }
  gboolean read = out >= 0     ? sr_durable_append (path, out, to, &size, sha256, error)
                  : to != NULL ? sr_durable_copy (path, to, &size, sha256, error)
                               : sr_durable_hash (path, &size, sha256, NULL, error);
  if (!read)
    return FALSE;
  if (size != entry->size || !g_str_equal (sha256, entry->sha256)) {
    g_autofree char *why
        = g_strdup_printf (_ ("%s does not match the SHA-256 in its manifest"), entry->path);
    return refuse (error, backup, why);
  }
  return TRUE;
}

static gboolean
check_schema (const char *backup, int version, int latest, GError **error)
{
  if (version <= latest)
    return TRUE;
  g_autofree char *why
      = g_strdup_printf (_ ("its database has schema version %d, but this smartragd (%s) knows "
                            "versions up to %d; restore it with a newer SmartRAG"),
                         version, PACKAGE_VERSION, latest);
  return refuse (error, backup, why);
}

static gboolean
verify (const char *backup, const SrManifest *manifest, int latest, GError **error)
{
  if (!check_schema (backup, manifest->schema_version, latest, error)
      || !check_listed (backup, "", manifest, error))
    return FALSE;
  for (guint i = 0; i < manifest->entries->len; i++)
    if (!check_entry (backup, manifest->entries->pdata[i], NULL, -1, error))
      return FALSE;
  return TRUE;
}

static gboolean
make_dirs (const char *staging, const SrManifest *manifest, GError **error)
{
  static const char *const fixed[] = { "files", "files/tmp", "index" };
  if (!sr_durable_mkdir (staging, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++) {
    g_autofree char *path = g_build_filename (staging, fixed[i], NULL);
    if (!sr_durable_mkdir (path, error))
      return FALSE;
  }
  for (guint i = 0; i < manifest->entries->len; i++) {
    const SrManifestEntry *entry = manifest->entries->pdata[i];
    if (sr_manifest_is_database (entry->path))
      continue;
    g_autofree char *path = g_build_filename (staging, entry->path, NULL);
    g_autofree char *parent = g_path_get_dirname (path);
    if (!sr_durable_mkdir (parent, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
sync_dirs (const char *dir, GError **error)
{
  g_autoptr (GDir) listing = g_dir_open (dir, 0, error);
  if (listing == NULL)
    return FALSE;
  const char *name;
  while ((name = g_dir_read_name (listing)) != NULL) {
    g_autofree char *child = g_build_filename (dir, name, NULL);
    if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK)
        && !sync_dirs (child, error))
      return FALSE;
  }
  return sr_durable_sync_dir (dir, error);
}

/* The staged database opens as the daemon opens it, and is migrated there, before the
 * swap: what is swapped in is known to open. */
static gboolean
check_database (const char *backup, const char *staging, const SrManifest *manifest, GError **error)
{
  g_autofree char *path = g_build_filename (staging, SR_STORE_FILENAME, NULL);
  int version = 0;
  if (!sr_store_file_schema_version (path, &version, error))
    return FALSE;
  if (version != manifest->schema_version) {
    g_autofree char *why
        = g_strdup_printf (_ ("its database has schema version %d where its manifest says %d"),
                           version, manifest->schema_version);
    return refuse (error, backup, why);
  }
  g_autoptr (SrStore) store = sr_store_open (staging, error);
  return store != NULL;
}

/* The database's segments (or its one file) joined into the staged smartrag.db. */
static gboolean
join_database (const char *backup, const char *staging, const SrManifest *manifest, GError **error)
{
  g_autofree char *to = g_build_filename (staging, SR_STORE_FILENAME, NULL);
  g_autoptr (GPtrArray) parts = sr_manifest_database (manifest);
  int out = open (to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0)
    return sr_durable_fail_errno (error, errno, to, _ ("Cannot create %s"), to);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < parts->len; i++)
    ok = check_entry (backup, parts->pdata[i], to, out, error);
  if (ok && fsync (out) != 0)
    ok = sr_durable_fail_errno (error, errno, to, _ ("Cannot write %s"), to);
  if (close (out) != 0 && ok)
    ok = sr_durable_fail_errno (error, errno, to, _ ("Cannot write %s"), to);
  return ok;
}

static gboolean
stage (const char *backup, const char *staging, const SrManifest *manifest, GError **error)
{
  if (!sr_durable_remove_tree (staging, error) || !make_dirs (staging, manifest, error))
    return FALSE;
  for (guint i = 0; i < manifest->entries->len; i++) {
    const SrManifestEntry *entry = manifest->entries->pdata[i];
    if (sr_manifest_is_database (entry->path))
      continue;
    g_autofree char *to = g_build_filename (staging, entry->path, NULL);
    /* Checked again as copied: the backup could have changed since it was verified. */
    if (!check_entry (backup, entry, to, -1, error))
      return FALSE;
  }
  return join_database (backup, staging, manifest, error)
         && check_database (backup, staging, manifest, error) && sync_dirs (staging, error);
}

gboolean
sr_store_restore_stage (const char *backup, const char *state_dir, int latest_schema,
                        SrRestoreStaged *staged, GError **error)
{
  g_autoptr (SrManifest) manifest = sr_manifest_read (backup, error);
  if (manifest == NULL || !verify (backup, manifest, latest_schema, error))
    return FALSE;
  g_autofree char *staging = sr_swap_staging_dir (state_dir);
  if (!stage (backup, staging, manifest, error)) {
    sr_durable_remove_tree (staging, NULL);
    return FALSE;
  }
  staged->schema_version = manifest->schema_version;
  staged->files = manifest->entries->len;
  staged->bytes = 0;
  for (guint i = 0; i < manifest->entries->len; i++)
    staged->bytes += ((const SrManifestEntry *) manifest->entries->pdata[i])->size;
  return TRUE;
}
