/* Uploaded bytes, stored once by content under <state>/files/<sha256[0:2]>/<sha256>. */
#define _GNU_SOURCE
#include "store/files.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "store/durable.h"

#define TEMPORARY_DIR "tmp"
#define BUFFER_SIZE   (128 * 1024)

static gboolean
make_directory (const char *path, gboolean *created, GError **error)
{
  if (g_mkdir (path, 0700) == 0) {
    *created = TRUE;
    return TRUE;
  }
  if (errno == EEXIST)
    return TRUE;
  return sr_durable_fail_errno (error, errno, path, _ ("Cannot create the directory %s"), path);
}

/* Waits until a pipe or socket has data again; regular files never block. */
static gboolean
wait_readable (int fd, guint idle_timeout_ms, GError **error)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  int r;
  do
    r = poll (&p, 1, (int) idle_timeout_ms);
  while (r < 0 && errno == EINTR);
  if (r > 0)
    return TRUE;
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
               _ ("The file stopped arriving: nothing came for %u ms"), idle_timeout_ms);
  return FALSE;
}

/* Reads once into @buffer: the bytes read, 0 at the end, -1 on failure. A pipe or socket
 * (@streaming) is waited on first, so a writer that stalls cannot hold a worker forever,
 * whether the descriptor blocks or not. */
static gssize
read_some (int fd, gboolean streaming, guint8 *buffer, guint idle_timeout_ms, GError **error)
{
  if (streaming && !wait_readable (fd, idle_timeout_ms, error))
    return -1;
  for (;;) {
    gssize n = read (fd, buffer, BUFFER_SIZE);
    if (n >= 0)
      return n;
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN) {
      if (!wait_readable (fd, idle_timeout_ms, error))
        return -1;
      continue;
    }
    if (errno == EISDIR)
      g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                           _ ("The file descriptor is a directory, not a file"));
    else
      g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                   _ ("Cannot read the file descriptor: %s"), g_strerror (errno));
    return -1;
  }
}

static gboolean
write_all (int fd, const guint8 *data, gsize length, const char *path, GError **error)
{
  while (length > 0) {
    gssize n = write (fd, data, length);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return sr_durable_fail_errno (error, errno, path, _ ("Cannot write %s"), path);
    data += n;
    length -= (gsize) n;
  }
  return TRUE;
}

/* Copies @in into the open temporary file, hashing and counting as it goes, and keeps the
 * first bytes in @head up to its allocated size. */
static gboolean
copy_in (int in, int out, const char *tmp_path, guint64 max_bytes, guint idle_timeout_ms,
         GByteArray *head, gsize head_bytes, SrStoredFile *stored, GError **error)
{
  SrSha256 sha;
  sr_sha256_init (&sha);
  g_autofree guint8 *buffer = g_malloc (BUFFER_SIZE);
  struct stat st;
  gboolean streaming = fstat (in, &st) == 0 && (S_ISFIFO (st.st_mode) || S_ISSOCK (st.st_mode));
  gssize n;

  stored->size = 0;
  while ((n = read_some (in, streaming, buffer, idle_timeout_ms, error)) > 0) {
    stored->size += (guint64) n;
    if (stored->size > max_bytes) {
      g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE,
                   _ ("The file is larger than the limit of %" PRIu64 " bytes"), max_bytes);
      return FALSE;
    }
    sr_sha256_update (&sha, buffer, (gsize) n);
    if (head->len < head_bytes)
      g_byte_array_append (head, buffer, (guint) MIN ((gsize) n, head_bytes - head->len));
    if (!write_all (out, buffer, (gsize) n, tmp_path, error))
      return FALSE;
  }
  if (n < 0)
    return FALSE;
  if (fsync (out) != 0)
    return sr_durable_fail_errno (error, errno, tmp_path, _ ("Cannot sync %s"), tmp_path);
  sr_sha256_finish (&sha, stored->sha256);
  return TRUE;
}

/* Moves the complete temporary file to its content address, or drops it when those
 * bytes are already stored. */
static gboolean
publish (const char *files_dir, const char *tmp_path, SrStoredFile *stored, GError **error)
{
  g_autofree char *shard_name = g_strndup (stored->sha256, 2);
  g_autofree char *shard = g_build_filename (files_dir, shard_name, NULL);
  g_autofree char *final = g_build_filename (shard, stored->sha256, NULL);
  gboolean created = FALSE;

  if (!make_directory (shard, &created, error))
    return FALSE;
  stored->existed = g_file_test (final, G_FILE_TEST_EXISTS);
  if (stored->existed) {
    g_unlink (tmp_path);
    return TRUE;
  }
  if (g_rename (tmp_path, final) != 0)
    return sr_durable_fail_errno (error, errno, final, _ ("Cannot store %s"), final);
  /* The new name, and a new shard's own name, are durable only once their directories
   * are synced. */
  return sr_durable_sync_dir (shard, error) && (!created || sr_durable_sync_dir (files_dir, error));
}

/* Hands @check the complete bytes through a descriptor of their own, opened read-only
 * so that the check cannot change what is then stored. */
static gboolean
run_check (const SrFilesCheck *check, const char *tmp_path, GByteArray *head, GError **error)
{
  int fd = open (tmp_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return sr_durable_fail_errno (error, errno, tmp_path, _ ("Cannot read %s"), tmp_path);
  gboolean ok = check->func (fd, head->data, head->len, check->user_data, error);
  close (fd);
  return ok;
}

gboolean
sr_files_put_fd (const char *files_dir, int fd, guint64 max_bytes, guint idle_timeout_ms,
                 SrStoredFile *stored, GError **error)
{
  return sr_files_put_fd_checked (files_dir, fd, max_bytes, idle_timeout_ms, NULL, stored, error);
}

gboolean
sr_files_put_fd_checked (const char *files_dir, int fd, guint64 max_bytes, guint idle_timeout_ms,
                         const SrFilesCheck *check, SrStoredFile *stored, GError **error)
{
  g_autofree char *tmp_dir = g_build_filename (files_dir, TEMPORARY_DIR, NULL);
  g_autofree char *tmp_path = g_build_filename (tmp_dir, "upload-XXXXXX", NULL);
  gboolean created = FALSE;

  memset (stored, 0, sizeof *stored);
  if (!make_directory (files_dir, &created, error) || !make_directory (tmp_dir, &created, error))
    return FALSE;

  int out = g_mkstemp_full (tmp_path, O_RDWR | O_CLOEXEC, 0600);
  if (out < 0)
    return sr_durable_fail_errno (error, errno, tmp_dir, _ ("Cannot create a file in %s"), tmp_dir);

  gsize head_bytes = check != NULL ? check->head_bytes : 0;
  g_autoptr (GByteArray) head = g_byte_array_sized_new ((guint) head_bytes);
  gboolean ok
      = copy_in (fd, out, tmp_path, max_bytes, idle_timeout_ms, head, head_bytes, stored, error);
  if (close (out) != 0 && ok)
    ok = sr_durable_fail_errno (error, errno, tmp_path, _ ("Cannot write %s"), tmp_path);
  if (ok && check != NULL)
    ok = run_check (check, tmp_path, head, error);
  if (ok)
    ok = publish (files_dir, tmp_path, stored, error);
  if (!ok)
    g_unlink (tmp_path);
  return ok;
}

char *
sr_files_path (const char *files_dir, const char *sha256)
{
  g_autofree char *shard = g_strndup (sha256, 2);
  return g_build_filename (files_dir, shard, sha256, NULL);
}

int
sr_files_open_unnamed (const char *files_dir, GError **error)
{
  g_autofree char *tmp_dir = g_build_filename (files_dir, TEMPORARY_DIR, NULL);
  gboolean created = FALSE;

  if (!make_directory (files_dir, &created, error) || !make_directory (tmp_dir, &created, error))
    return -1;
  int fd = open (tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0)
    return fd;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
    sr_durable_fail_errno (error, errno, tmp_dir, _ ("Cannot create a file in %s"), tmp_dir);
    return -1;
  }
  /* A file system without O_TMPFILE: a name for an instant, which a crash right then would
   * leave to the sweep at the next start. */
  g_autofree char *path = g_build_filename (tmp_dir, "upload-XXXXXX", NULL);
  fd = g_mkstemp_full (path, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    sr_durable_fail_errno (error, errno, tmp_dir, _ ("Cannot create a file in %s"), tmp_dir);
    return -1;
  }
  g_unlink (path);
  return fd;
}

gboolean
sr_files_remove (const char *files_dir, const char *sha256, GError **error)
{
  g_autofree char *path = sr_files_path (files_dir, sha256);
  if (g_unlink (path) == 0 || errno == ENOENT)
    return TRUE;
  return sr_durable_fail_errno (error, errno, path, _ ("Cannot remove %s"), path);
}

guint
sr_files_clean_temporary (const char *files_dir)
{
  g_autofree char *tmp_dir = g_build_filename (files_dir, TEMPORARY_DIR, NULL);
  g_autoptr (GDir) dir = g_dir_open (tmp_dir, 0, NULL);
  const char *name;
  guint removed = 0;

  if (dir == NULL)
    return 0;
  while ((name = g_dir_read_name (dir)) != NULL) {
    g_autofree char *path = g_build_filename (tmp_dir, name, NULL);
    if (g_unlink (path) == 0)
      removed++;
    else
      g_warning ("Cannot remove the interrupted upload %s: %s", path, g_strerror (errno));
  }
  return removed;
}
