/* Writing one backup folder: the database's snapshot, index files, stored files, manifest. */
#include "store/backup.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

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
} Writer;

void
sr_backup_result_clear (SrBackupResult *result)
{
  g_clear_pointer (&result->path, g_free);
}

/* Whether the previous backup holds @relative with this size and hash: then it is linked. */
static gboolean
link_unchanged (Writer *w, const char *relative, guint64 size, const char *sha256, GError **error,
                gboolean *linked)
{
  const SrManifestEntry *old = w->before != NULL ? sr_manifest_find (w->before, relative) : NULL;
  *linked = FALSE;
  if (old == NULL || old->size != size || !g_str_equal (old->sha256, sha256))
    return TRUE;
  g_autofree char *from = g_build_filename (w->previous, relative, NULL);
  g_autofree char *to = g_build_filename (w->dir, relative, NULL);
  GStatBuf st;
  /* What a manifest says is checked by a restore, not here: the size is enough to tell a
   * file that was tampered with from one a link would share. */
  if (g_lstat (from, &st) != 0 || (guint64) st.st_size != size)
    return TRUE;
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

/* The previous backup's copy when no other connection has committed since it was taken. */
static gboolean
link_database (Writer *w, gint64 data_version, GError **error, gboolean *linked)
{
  const char *known = sr_backup_memo_database (w->memo, w->previous, data_version);
  const SrManifestEntry *old
      = known != NULL ? sr_manifest_find (w->before, SR_STORE_FILENAME) : NULL;
  *linked = FALSE;
  if (old == NULL)
    return TRUE;
  if (!link_unchanged (w, SR_STORE_FILENAME, old->size, known, error, linked))
    return FALSE;
  if (*linked)
    sr_manifest_add (w->manifest, SR_STORE_FILENAME, old->size, known);
  return TRUE;
}

static gboolean
copy_database (Writer *w, sqlite3 *source, GError **error)
{
  g_autofree char *path = g_build_filename (w->dir, SR_STORE_FILENAME, NULL);
  char sha256[SR_SHA256_HEX_LENGTH + 1];
  guint64 size;
  if (!sr_store_snapshot (source, path, error)
      || !sr_durable_hash (path, &size, sha256, NULL, error))
    return FALSE;
  w->result->copied++;
  w->result->bytes_copied += size;
  sr_manifest_add (w->manifest, SR_STORE_FILENAME, size, sha256);
  return TRUE;
}

static gboolean
add_database (Writer *w, GError **error)
{
  g_autofree char *live = g_build_filename (w->spec->state_dir, SR_STORE_FILENAME, NULL);
  g_autofree char *path = g_build_filename (w->dir, SR_STORE_FILENAME, NULL);
  gint64 data_version;
  gboolean linked;
  sqlite3 *source = sr_backup_memo_watch (w->memo, live, &data_version, error);
  if (source == NULL)
    return FALSE;
  gboolean ok = link_database (w, data_version, error, &linked)
                && (linked || copy_database (w, source, error));
  sr_backup_memo_unwatch (w->memo);
  if (!ok || !sr_store_file_schema_version (path, &w->result->schema_version, error))
    return FALSE;
  sr_backup_memo_note_database (w->memo, data_version,
                                sr_manifest_find (w->manifest, SR_STORE_FILENAME)->sha256);
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
  g_autofree char *database = g_build_filename (w->dir, SR_STORE_FILENAME, NULL);
  g_autofree char *files = g_build_filename (w->dir, "files", NULL);
  g_autoptr (GPtrArray) rows = sr_store_file_rows (database, error);
  if (rows == NULL || !sr_durable_mkdir (files, error))
    return FALSE;
  for (guint i = 0; i < rows->len; i++)
    if (!add_stored_file (w, rows->pdata[i], error))
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
