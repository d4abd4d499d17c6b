/* Files copied, hashed and synced to disk, and trees removed: what backups and restores share. */
#define _GNU_SOURCE
#include "store/durable.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"

#define BUFFER_SIZE (256 * 1024)

gboolean
sr_durable_fail_errno (GError **error, int saved, const char *path, const char *format, ...)
{
  if (saved == ENOSPC || saved == EDQUOT)
    return sr_error_set (error, SMARTRAG_ERROR_FAILED,
                         _ ("The disk holding %s is full; free some space and try again"), path);
  va_list args;
  va_start (args, format);
  g_autofree char *what = g_strdup_vprintf (format, args);
  va_end (args);
  return sr_error_set (error, SMARTRAG_ERROR_FAILED, "%s: %s", what, g_strerror (saved));
}

static int
open_regular (const char *path, struct stat *st, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    sr_durable_fail_errno (error, errno, path, _ ("Cannot open %s"), path);
    return -1;
  }
  if (fstat (fd, st) != 0 || !S_ISREG (st->st_mode)) {
    close (fd);
    sr_error_set (error, SMARTRAG_ERROR_FAILED, _ ("%s is not a regular file"), path);
    return -1;
  }
  return fd;
}

static gboolean
write_all (int fd, const void *data, gsize length, const char *path, GError **error)
{
  for (gsize done = 0; done < length;) {
    ssize_t w = write (fd, (const guint8 *) data + done, length - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return sr_durable_fail_errno (error, errno, path, _ ("Cannot write %s"), path);
    done += (gsize) w;
  }
  return TRUE;
}

/* Reads @fd to its end into @checksum, and into @out when it is not -1. */
static gboolean
pump (int fd, int out, const char *from, const char *to, SrSha256 *checksum, guint64 *size,
      GError **error)
{
  g_autofree guint8 *buffer = g_malloc (BUFFER_SIZE);
  *size = 0;
  for (;;) {
    ssize_t n = read (fd, buffer, BUFFER_SIZE);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return sr_durable_fail_errno (error, errno, from, _ ("Cannot read %s"), from);
    if (n == 0)
      return TRUE;
    sr_sha256_update (checksum, buffer, (gsize) n);
    *size += (guint64) n;
    if (out >= 0 && !write_all (out, buffer, (gsize) n, to, error))
      return FALSE;
  }
}

gboolean
sr_durable_hash (const char *path, guint64 *size, char sha256[SR_SHA256_HEX_LENGTH + 1],
                 struct stat *st, GError **error)
{
  struct stat own;
  int fd = open_regular (path, st != NULL ? st : &own, error);
  if (fd < 0)
    return FALSE;
  SrSha256 checksum;
  sr_sha256_init (&checksum);
  gboolean ok = pump (fd, -1, path, NULL, &checksum, size, error);
  close (fd);
  if (ok)
    sr_sha256_finish (&checksum, sha256);
  return ok;
}

gboolean
sr_durable_append (const char *from, int out, const char *to, guint64 *size,
                   char sha256[SR_SHA256_HEX_LENGTH + 1], GError **error)
{
  struct stat st;
  int in = open_regular (from, &st, error);
  if (in < 0)
    return FALSE;
  SrSha256 checksum;
  sr_sha256_init (&checksum);
  gboolean ok = pump (in, out, from, to, &checksum, size, error);
  close (in);
  if (ok)
    sr_sha256_finish (&checksum, sha256);
  return ok;
}

/* Creates @path for writing; an existing one is an error. */
static int
create_new (const char *path, GError **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    sr_durable_fail_errno (error, errno, path, _ ("Cannot create %s"), path);
  return fd;
}

/* Syncs and closes @fd, written as @path; on any failure @path is removed. */
static gboolean
finish_new (int fd, const char *path, gboolean ok, GError **error)
{
  if (ok && fsync (fd) != 0)
    ok = sr_durable_fail_errno (error, errno, path, _ ("Cannot write %s"), path);
  if (close (fd) != 0 && ok)
    ok = sr_durable_fail_errno (error, errno, path, _ ("Cannot write %s"), path);
  if (!ok)
    g_unlink (path);
  return ok;
}

gboolean
sr_durable_copy (const char *from, const char *to, guint64 *size,
                 char sha256[SR_SHA256_HEX_LENGTH + 1], GError **error)
{
  int out = create_new (to, error);
  if (out < 0)
    return FALSE;
  gboolean ok = sr_durable_append (from, out, to, size, sha256, error);
  return finish_new (out, to, ok, error);
}

gboolean
sr_durable_write_new (const char *path, const void *data, gsize length, GError **error)
{
  int fd = create_new (path, error);
  return fd >= 0 && finish_new (fd, path, write_all (fd, data, length, path, error), error);
}

gboolean
sr_durable_link_or_copy (const char *from, const char *to, GError **error)
{
  if (link (from, to) == 0)
    return TRUE;
  if (errno != EXDEV && errno != EMLINK && errno != EPERM)
    return sr_durable_fail_errno (error, errno, to, _ ("Cannot link %s"), to);
  guint64 size;
  char sha256[SR_SHA256_HEX_LENGTH + 1];
  return sr_durable_copy (from, to, &size, sha256, error);
}

gboolean
sr_durable_mkdir (const char *path, GError **error)
{
  struct stat st;
  if (g_mkdir (path, 0700) == 0)
    return TRUE;
  int saved = errno;
  if (saved == EEXIST && lstat (path, &st) == 0 && S_ISDIR (st.st_mode))
    return TRUE;
  return sr_durable_fail_errno (error, saved, path, _ ("Cannot create the directory %s"), path);
}

gboolean
sr_durable_sync_dir (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync (fd) != 0) {
    int saved = errno;
    if (fd >= 0)
      close (fd);
    return sr_durable_fail_errno (error, saved, path, _ ("Cannot sync the directory %s"), path);
  }
  close (fd);
  return TRUE;
}

static gboolean
remove_children (const char *path, GError **error)
{
  DIR *dir = opendir (path);
  if (dir == NULL)
    return sr_durable_fail_errno (error, errno, path, _ ("Cannot read the directory %s"), path);
  gboolean ok = TRUE;
  struct dirent *entry;
  while (ok && (entry = readdir (dir)) != NULL) {
    if (g_str_equal (entry->d_name, ".") || g_str_equal (entry->d_name, ".."))
      continue;
    g_autofree char *child = g_build_filename (path, entry->d_name, NULL);
    ok = sr_durable_remove_tree (child, error);
  }
  closedir (dir);
  return ok;
}

gboolean
sr_durable_remove_tree (const char *path, GError **error)
{
  struct stat st;
  if (lstat (path, &st) != 0)
    return errno == ENOENT
               ? TRUE
               : sr_durable_fail_errno (error, errno, path, _ ("Cannot remove %s"), path);
  if (S_ISDIR (st.st_mode)) {
    if (!remove_children (path, error))
      return FALSE;
    if (g_rmdir (path) != 0)
      return sr_durable_fail_errno (error, errno, path, _ ("Cannot remove %s"), path);
    return TRUE;
  }
  if (g_unlink (path) != 0 && errno != ENOENT)
    return sr_durable_fail_errno (error, errno, path, _ ("Cannot remove %s"), path);
  return TRUE;
}

gboolean
sr_durable_write_atomic (const char *path, const char *text, gsize length, GError **error)
{
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return sr_durable_fail_errno (error, errno, tmp, _ ("Cannot create %s"), tmp);
  gboolean ok = write_all (fd, text, length, tmp, error);
  if (ok && fsync (fd) != 0)
    ok = sr_durable_fail_errno (error, errno, tmp, _ ("Cannot write %s"), tmp);
  close (fd);
  if (ok && g_rename (tmp, path) != 0)
    ok = sr_durable_fail_errno (error, errno, path, _ ("Cannot rename the new %s into place"),
                                path);
  if (!ok) {
    g_unlink (tmp);
    return FALSE;
  }
  return sr_durable_sync_dir (dir, error);
}
