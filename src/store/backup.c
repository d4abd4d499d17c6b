/* Writing one backup folder: the database's snapshot, index files, stored files, manifest. */
#include "store/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "store/backup-memo.h"
#include "store/backups.h"
#include "store/durable.h"
#include "store/manifest.h"
#include "store/snapshot.h"

typedef struct {
  const SrBackupSpec *spec;
  SrBackupMemo *memo;
  SrBackupResult *result;
  char *dir;            /* the partial backup being written */
  char *previous;       /* the backup "latest" named, or NULL */
  SrManifest *before;   /* its manifest, or NULL */
  SrManifest *manifest; /* this one's */
  GHashTable *shards;   /* files/<ab> made so far */
  GPtrArray *rows;      /* SrStoredFileRow: the files the database's moment names */
} Writer;

void
sr_backup_result_clear (SrBackupResult *result)
{
  g_clear_pointer (&result->path, g_free);
}

/* What a manifest says is checked by a restore, not here: the size is enough to tell a
 * file that was tampered with from one a link would share. */
static gboolean
previous_holds (Writer *w, const char *relative, guint64 size)
{
  g_autofree char *path = g_build_filename (w->previous, relative, NULL);
  GStatBuf st;
  return g_lstat (path, &st) == 0 && S_ISREG (st.st_mode) && (guint64) st.st_size == size;
}

/* Whether the previous backup holds @relative with this size and hash: then it is linked. */
static gboolean
link_unchanged (Writer *w, const char *relative, guint64 size, const char *sha256, GError **error,
                gboolean *linked)
{
  const SrManifestEntry *old = w->before != NULL ? sr_manifest_find (w->before, relative) : NULL;
  *linked = FALSE;
  if (old == NULL || old->size != size || !g_str_equal (old->sha256, sha256)
      || !previous_holds (w, relative, size))
    return TRUE;
  g_autofree char *from = g_build_filename (w->previous, relative, NULL);
  g_autofree char *to = g_build_filename (w->dir, relative, NULL);
  if (!sr_durable_link_or_copy (from, to, error))
    return FALSE;
  *linked = TRUE;
  w->result->linked++;
  return TRUE;
}

static gboolean
copy_in (Writer *w, const char *from, const char *relative, guint64 *size, char *sha256,
         GError **error)
{
  g_autofree char *to = g_build_filename (w->dir, relative, NULL);
  if (!sr_durable_copy (from, to, size, sha256, error))
    return FALSE;
  w->result->copied++;
  w->result->bytes_copied += *size;
  return TRUE;
}

/* A graph the memo knows, unchanged since the previous backup: linked without a read. */
static gboolean
link_remembered (Writer *w, const char *from, const char *relative, GError **error,
                 gboolean *linked)
{
  struct stat st;
  *linked = FALSE;
  if (lstat (from, &st) != 0 || !S_ISREG (st.st_mode))
    return TRUE;
  const char *known = sr_backup_memo_file (w->memo, w->previous, relative, &st);
  if (known == NULL)
    return TRUE;
  if (!link_unchanged (w, relative, (guint64) st.st_size, known, error, linked))
    return FALSE;
  if (*linked) {
    sr_manifest_add (w->manifest, relative, (guint64) st.st_size, known);
    sr_backup_memo_note_file (w->memo, relative, &st, known);
  }
  return TRUE;
}

static gboolean
add_index_file (Writer *w, const char *index_dir, const char *name, GError **error)
{
  g_autofree char *from = g_build_filename (index_dir, name, NULL);
  g_autofree char *relative = g_build_filename ("index", name, NULL);
  char sha256[SR_SHA256_HEX_LENGTH + 1];
  char copied[SR_SHA256_HEX_LENGTH + 1];
  guint64 size;
  struct stat st;
  gboolean linked;
  if (!link_remembered (w, from, relative, error, &linked))
    return FALSE;
  if (linked)
    return TRUE;
  /* Read once to compare: an unchanged graph costs a read, never a write. */
  if (!sr_durable_hash (from, &size, sha256, &st, error)
      || !link_unchanged (w, relative, size, sha256, error, &linked))
    return FALSE;
  if (!linked && !copy_in (w, from, relative, &size, copied, error))
    return FALSE;
  /* A graph renamed into place between the two reads is the one copied, and is not the
   * file @st describes: the memo learns of it at the next backup. */
  if (linked || g_str_equal (copied, sha256))
    sr_backup_memo_note_file (w->memo, relative, &st, sha256);
  sr_manifest_add (w->manifest, relative, size, linked ? sha256 : copied);
  return TRUE;
}

static gboolean
add_indexes (Writer *w, GError **error)
{
  g_autofree char *index_dir = g_build_filename (w->spec->state_dir, "index", NULL);
  g_autofree char *target = g_build_filename (w->dir, "index", NULL);
  if (!sr_durable_mkdir (target, error))
    return FALSE;
  g_autoptr (GDir) dir = g_dir_open (index_dir, 0, NULL);
  if (dir == NULL) /* no session has been searched yet */
    return TRUE;
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL) {
    g_autofree char *relative = g_build_filename ("index", name, NULL);
    /* Temporary files of a graph being written are skipped: the rename is what counts. */
    if (sr_manifest_path_valid (relative) && !add_index_file (w, index_dir, name, error))
      return FALSE;
  }
  return sr_durable_sync_dir (target, error);
}

/* The previous backup's database, segment by segment, when nothing has committed since it
 * was taken; @linked stays FALSE when it is not there whole to link. */
static gboolean
link_database (Writer *w, gint64 data_version, GError **error, gboolean *linked)
{
  *linked = FALSE;
  if (w->before == NULL || w->before->format != SR_MANIFEST_FORMAT
      || !sr_backup_memo_database_unchanged (w->memo, w->previous, data_version))
    return TRUE;
  g_autoptr (GPtrArray) parts = sr_manifest_database (w->before);
  /* Checked first: half linked and half copied, the database would be of two moments. */
  for (guint i = 0; i < parts->len; i++) {
    const SrManifestEntry *part = parts->pdata[i];
    if (!previous_holds (w, part->path, part->size))
      return TRUE;
  }
  for (guint i = 0; i < parts->len; i++) {
    const SrManifestEntry *part = parts->pdata[i];
    gboolean one;
    if (!link_unchanged (w, part->path, part->size, part->sha256, error, &one))
      return FALSE;
    if (!one)
      return sr_error_set (error, SMARTRAG_ERROR_FAILED,
                           _ ("The backup %s changed while the next one was linked to it; no "
                              "backup was made"),
                           w->previous);
    sr_manifest_add (w->manifest, part->path, part->size, part->sha256);
  }
  *linked = TRUE;
  return TRUE;
}

/* Segment @index of the database: linked when the previous backup has the same bytes. */
static gboolean
add_segment (Writer *w, guint index, const guint8 *data, gsize length, GError **error)
{
  g_autofree char *relative = sr_manifest_segment_path (index);
  char sha256[SR_SHA256_HEX_LENGTH + 1];
  SrSha256 sha;
  gboolean linked;
  sr_sha256_init (&sha);
  sr_sha256_update (&sha, data, length);
  sr_sha256_finish (&sha, sha256);
  if (!link_unchanged (w, relative, length, sha256, error, &linked))
    return FALSE;
  if (!linked) {
    g_autofree char *path = g_build_filename (w->dir, relative, NULL);
    if (!sr_durable_write_new (path, data, length, error))
      return FALSE;
    w->result->copied++;
    w->result->bytes_copied += length;
  }
  sr_manifest_add (w->manifest, relative, length, sha256);
  return TRUE;
}

/* Up to @length bytes of @fd; fewer only at its end. */
static gboolean
read_full (int fd, guint8 *buffer, gsize length, gsize *got, const char *path, GError **error)
{
  *got = 0;
  while (*got < length) {
    ssize_t n = read (fd, buffer + *got, length - *got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return sr_durable_fail_errno (error, errno, path, _ ("Cannot read %s"), path);
    if (n == 0)
      break;
    *got += (gsize) n;
  }
  return TRUE;
}

static gboolean
add_segments (Writer *w, int fd, const char *scratch, GError **error)
{
  g_autofree guint8 *buffer = g_malloc (SR_MANIFEST_SEGMENT_BYTES);
  for (guint i = 0;; i++) {
    gsize got;
    if (!read_full (fd, buffer, SR_MANIFEST_SEGMENT_BYTES, &got, scratch, error))
      return FALSE;
    /* A database is never empty; one whose size is a whole number of segments ends here. */
    if (got == 0 && i > 0)
      return TRUE;
    if (!add_segment (w, i, buffer, got, error))
      return FALSE;
    if (got < SR_MANIFEST_SEGMENT_BYTES)
      return TRUE;
  }
}

/* A snapshot into a scratch file (never synced: only the segments are kept), cut into
 * segments. */
static gboolean
copy_database (Writer *w, sqlite3 *source, GError **error)
{
  g_autofree char *scratch = g_build_filename (w->dir, SR_STORE_FILENAME ".tmp", NULL);
  if (!sr_store_snapshot (source, scratch, FALSE, error))
    return FALSE;
  int fd = open (scratch, O_RDONLY | O_CLOEXEC);
  gboolean ok = fd >= 0
                    ? add_segments (w, fd, scratch, error)
                    : sr_durable_fail_errno (error, errno, scratch, _ ("Cannot open %s"), scratch);
  if (fd >= 0)
    close (fd);
  g_unlink (scratch);
  return ok;
}

/* What the stored files and the manifest need of the same moment of the database. */
static gboolean
read_moment (Writer *w, sqlite3 *source, const char *live, GError **error)
{
  w->rows = sr_store_file_rows (source, live, error);
  return w->rows != NULL
         && sr_store_db_schema_version (source, live, &w->result->schema_version, error);
}

static gboolean
add_database (Writer *w, GError **error)
{
  g_autofree char *live = g_build_filename (w->spec->state_dir, SR_STORE_FILENAME, NULL);
  g_autofree char *segments = g_build_filename (w->dir, SR_MANIFEST_SEGMENTS, NULL);
  gint64 data_version;
  gboolean linked;
  if (!sr_durable_mkdir (segments, error))
    return FALSE;
  sqlite3 *source = sr_backup_memo_watch (w->memo, live, &data_version, error);
  if (source == NULL)
    return FALSE;
  gboolean ok = read_moment (w, source, live, error)
                && link_database (w, data_version, error, &linked)
                && (linked || copy_database (w, source, error));
  sr_backup_memo_unwatch (w->memo);
  if (!ok || !sr_durable_sync_dir (segments, error))
    return FALSE;
  sr_backup_memo_note_database (w->memo, data_version);
  return TRUE;
}

static gboolean
make_shard (Writer *w, const char *sha256, GError **error)
{
  g_autofree char *shard = g_strndup (sha256, 2);
  if (g_hash_table_contains (w->shards, shard))
    return TRUE;
  g_autofree char *path = g_build_filename (w->dir, "files", shard, NULL);
  if (!sr_durable_mkdir (path, error))
    return FALSE;
  g_hash_table_add (w->shards, g_steal_pointer (&shard));
  return TRUE;
}

static gboolean
add_stored_file (Writer *w, const SrStoredFileRow *row, GError **error)
{
  g_autofree char *relative = g_strdup_printf ("files/%.2s/%s", row->sha256, row->sha256);
  gboolean linked;
  if (!make_shard (w, row->sha256, error)
      || !link_unchanged (w, relative, row->size, row->sha256, error, &linked))
    return FALSE;
  if (linked) {
    sr_manifest_add (w->manifest, relative, row->size, row->sha256);
    return TRUE;
  }
  g_autofree char *from = g_build_filename (w->spec->state_dir, relative, NULL);
  char sha256[SR_SHA256_HEX_LENGTH + 1];
  guint64 size;
  if (!copy_in (w, from, relative, &size, sha256, error))
    return FALSE;
  /* The name is the hash of the bytes: anything else is damage, not a backup. */
  if (size != row->size || !g_str_equal (sha256, row->sha256))
    return sr_error_set (error, SMARTRAG_ERROR_FAILED,
                         _ ("The stored file %s does not hold the bytes its name promises (the "
                            "state directory is damaged); no backup was made"),
                         from);
  sr_manifest_add (w->manifest, relative, size, sha256);
  return TRUE;
}

static gboolean
add_stored_files (Writer *w, GError **error)
{
  g_autofree char *files = g_build_filename (w->dir, "files", NULL);
  if (!sr_durable_mkdir (files, error))
    return FALSE;
  for (guint i = 0; i < w->rows->len; i++)
    if (!add_stored_file (w, w->rows->pdata[i], error))
      return FALSE;
  GHashTableIter iter;
  const char *shard;
  g_hash_table_iter_init (&iter, w->shards);
  while (g_hash_table_iter_next (&iter, (gpointer *) &shard, NULL)) {
    g_autofree char *path = g_build_filename (files, shard, NULL);
    if (!sr_durable_sync_dir (path, error))
      return FALSE;
  }
  return sr_durable_sync_dir (files, error);
}

/* The manifest last, then the name: a folder without both is no backup. */
static gboolean
complete (Writer *w, const char *name, GError **error)
{
  const SrBackupSpec *spec = w->spec;
  w->manifest->created = spec->now;
  w->manifest->daemon_version = g_strdup (spec->daemon_version);
  w->manifest->comment = g_strdup (spec->comment);
  w->manifest->schema_version = w->result->schema_version;
  g_autofree char *path = g_build_filename (spec->root, name, NULL);
  if (!sr_durable_sync_dir (w->dir, error) || !sr_manifest_write (w->manifest, w->dir, error))
    return FALSE;
  if (g_rename (w->dir, path) != 0) {
    int saved = errno;
    return sr_error_set (error, SMARTRAG_ERROR_FAILED, _ ("Cannot rename %s to %s: %s"), w->dir,
                         path, g_strerror (saved));
  }
  w->result->path = g_steal_pointer (&path);
  return sr_durable_sync_dir (spec->root, error);
}

static gboolean
write_all (Writer *w, const char *name, GError **error)
{
  return sr_durable_mkdir (w->dir, error) && add_indexes (w, error) && add_database (w, error)
         && add_stored_files (w, error) && complete (w, name, error);
}

static void
writer_clear (Writer *w)
{
  g_free (w->dir);
  g_free (w->previous);
  sr_manifest_free (w->before);
  sr_manifest_free (w->manifest);
  g_hash_table_unref (w->shards);
  g_clear_pointer (&w->rows, g_ptr_array_unref);
}

gboolean
sr_store_backup (SrBackupMemo *memo, const SrBackupSpec *spec, SrBackupResult *result,
                 GError **error)
{
  *result = (SrBackupResult){ 0 };
  if (!sr_backups_prepare (spec->root, error))
    return FALSE;
  g_autofree char *name = sr_backups_name (spec->now);
  Writer w = {
    .spec = spec,
    .memo = memo,
    .result = result,
    .dir = sr_backups_partial_path (spec->root, name),
    .previous = sr_backups_latest (spec->root),
    .manifest = sr_manifest_new (),
    .shards = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
  };
  /* A previous manifest that cannot be read only means nothing is linked to it. */
  if (w.previous != NULL)
    w.before = sr_manifest_read (w.previous, NULL);
  gboolean ok = write_all (&w, name, error);
  if (!ok)
    sr_durable_remove_tree (w.dir, NULL);
  writer_clear (&w);
  if (!ok) {
    sr_backup_memo_forget (memo);
    sr_backup_result_clear (result);
    return FALSE;
  }
  sr_backup_memo_commit (memo, result->path);
  /* The backup is complete whatever happens now; these only tidy the directory. */
  g_autoptr (GError) local = NULL;
  if (!sr_backups_set_latest (spec->root, name, &local)
      || !sr_backups_prune (spec->root, spec->keep, &result->pruned, &local))
    g_warning ("%s", local->message);
  return TRUE;
}
