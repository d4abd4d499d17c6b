/* Unit tests for the storage side of backups: snapshot, manifest, backup folders, swap, stage. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "store/backup.h"
#include "store/backups.h"
#include "store/durable.h"
#include "store/manifest.h"
#include "store/restore.h"
#include "store/snapshot.h"
#include "store/store.h"
#include "store/swap.h"
#include "unit-helpers.h"

#define SHA_A "aa00000000000000000000000000000000000000000000000000000000000001"

typedef struct {
  char *dir;
  char *state; /* dir/state */
  char *root;  /* dir/backups */
} Fixture;

static void
set_up (Fixture *f, gconstpointer data)
{
  f->dir = sr_test_make_tmpdir ();
  f->state = g_build_filename (f->dir, "state", NULL);
  f->root = g_build_filename (f->dir, "backups", NULL);
  g_assert_cmpint (g_mkdir (f->state, 0700), ==, 0);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  sr_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->state);
  g_free (f->root);
}

static void
exec_ok (SrStore *store, const char *sql)
{
  char *message = NULL;
  int rc = sqlite3_exec (sr_store_db (store), sql, NULL, NULL, &message);
  if (rc != SQLITE_OK)
    g_error ("%s: %s", sql, message);
}

typedef struct {
  SrStore *store;
  gint stop;
  gint pairs;
} Writer;

/* Inserts users two at a time, each pair in one transaction. */
static gpointer
write_pairs (gpointer data)
{
  Writer *w = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (SrStoreLease) db = sr_store_acquire (w->store, &error);
  g_assert_no_error (error);
  for (guint uid = 1; !g_atomic_int_get (&w->stop); uid += 2) {
    g_assert_true (sr_store_begin (db, &error));
    g_autofree char *sql = g_strdup_printf (
        "INSERT INTO users VALUES (%u, 0, 0); INSERT INTO users VALUES (%u, 0, 0)", uid, uid + 1);
    exec_ok (db, sql);
    g_assert_true (sr_store_commit (db, &error));
    g_atomic_int_inc (&w->pairs);
  }
  return NULL;
}

/* The one integer @sql gives on the database file @path. */
static gint64
query_int (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  gint64 n = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

static guint64
count_users (const char *path)
{
  return (guint64) query_int (path, "SELECT count(*) FROM users");
}

/* Snapshots taken while another connection writes hold whole transactions only. */
static void
test_snapshot_while_writing (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrStore) store = sr_store_open (f->state, &error);
  g_assert_no_error (error);
  Writer w = { store, 0, 0 };
  GThread *thread = g_thread_new ("writer", write_pairs, &w);
  g_autoptr (SrStoreLease) db = sr_store_acquire (store, &error);
  for (guint i = 0; i < 5; i++) {
    while (g_atomic_int_get (&w.pairs) < (gint) (i + 1) * 20)
      g_usleep (1000);
    g_autofree char *name = g_strdup_printf ("copy-%u.db", i);
    g_autofree char *copy = g_build_filename (f->dir, name, NULL);
    g_assert_true (sr_store_snapshot (sr_store_db (db), copy, TRUE, &error));
    g_assert_no_error (error);
    guint64 users = count_users (copy);
    g_assert_cmpuint (users % 2, ==, 0);
    g_assert_cmpuint (users, >=, (i + 1) * 40);
    int version = 0;
    g_assert_true (sr_store_file_schema_version (copy, &version, &error));
    g_assert_cmpint (version, ==, sr_store_latest_version ());
    /* One file, no WAL beside it. */
    g_autofree char *wal = g_strconcat (copy, "-wal", NULL);
    g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));
  }
  g_atomic_int_set (&w.stop, 1);
  g_thread_join (thread);
}

static void
write_manifest_text (const char *dir, const char *text)
{
  g_autofree char *path = g_build_filename (dir, SR_MANIFEST_NAME, NULL);
  sr_test_write_file (path, text, -1);
}

static void
test_manifest (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrManifest) manifest = sr_manifest_new ();
  manifest->schema_version = 7;
  manifest->daemon_version = g_strdup ("1.2.3");
  manifest->created = G_GINT64_CONSTANT (1700000000123456);
  manifest->comment = g_strdup ("før the move");
  sr_manifest_add (manifest, "files/aa/" SHA_A, 3, SHA_A);
  sr_manifest_add (manifest, "database/000001", 4096, SHA_A);
  sr_manifest_add (manifest, "database/000000", SR_MANIFEST_SEGMENT_BYTES, SHA_A);
  sr_manifest_add (manifest, "index/model", 11, SHA_A);
  g_assert_true (sr_manifest_write (manifest, f->dir, &error));

  g_autoptr (SrManifest) back = sr_manifest_read (f->dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->format, ==, SR_MANIFEST_FORMAT);
  g_assert_cmpint (back->schema_version, ==, 7);
  g_assert_cmpstr (back->daemon_version, ==, "1.2.3");
  g_assert_cmpint (back->created, ==, manifest->created);
  g_assert_cmpstr (back->comment, ==, "før the move");
  g_assert_cmpuint (back->entries->len, ==, 4);
  g_assert_cmpuint (sr_manifest_find (back, "files/aa/" SHA_A)->size, ==, 3);
  /* The database is its segments in the order of their numbers, not of the listing. */
  g_autoptr (GPtrArray) parts = sr_manifest_database (back);
  g_assert_cmpuint (parts->len, ==, 2);
  g_assert_cmpstr (((SrManifestEntry *) parts->pdata[0])->path, ==, "database/000000");
  g_assert_cmpstr (((SrManifestEntry *) parts->pdata[1])->path, ==, "database/000001");

  /* A backup written before segments: the database whole. */
  write_manifest_text (f->dir, "{\"format\":1,\"daemon_version\":\"1\",\"schema_version\":7,"
                               "\"created_us\":1,\"files\":[{\"path\":\"smartrag.db\","
                               "\"size\":4096,\"sha256\":\"" SHA_A "\"}]}");
  g_autoptr (SrManifest) whole = sr_manifest_read (f->dir, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) whole_parts = sr_manifest_database (whole);
  g_assert_cmpuint (whole_parts->len, ==, 1);
  g_assert_cmpstr (((SrManifestEntry *) whole_parts->pdata[0])->path, ==, SR_STORE_FILENAME);

  static const struct {
    const char *entry; /* one more entry, or a whole text: {"format"... or [...] */
    const char *message;
  } bad[] = {
    { "{\"path\":\"../etc/passwd\",\"size\":1,\"sha256\":\"" SHA_A "\"}",
      "\"../etc/passwd\" is not a path a backup holds" },
    { "{\"path\":\"/etc/passwd\",\"size\":1,\"sha256\":\"" SHA_A "\"}", "is not a path" },
    { "{\"path\":\"files/bb/" SHA_A "\",\"size\":1,\"sha256\":\"" SHA_A "\"}", "is not a path" },
    { "{\"path\":\"index/.hidden\",\"size\":1,\"sha256\":\"" SHA_A "\"}", "is not a path" },
    { "{\"path\":\"index/a.hnsw.tmp.X\",\"size\":1,\"sha256\":\"" SHA_A "\"}", "is not a path" },
    { "{\"path\":\"smartrag.db\",\"size\":1,\"sha256\":\"" SHA_A "\"}", "listed twice" },
    { "{\"path\":\"index/a\",\"size\":-1,\"sha256\":\"" SHA_A "\"}", "\"size\" is not a whole" },
    { "{\"path\":\"index/a\",\"size\":1.5,\"sha256\":\"" SHA_A "\"}", "\"size\" is not a whole" },
    { "{\"path\":\"index/a\",\"size\":1,\"sha256\":\"AB\"}", "not 64 hex digits" },
    { "{\"path\":\"index/a\",\"size\":1,\"sha256\":\"" SHA_A "\",\"x\":1}", "other than" },
    { "{\"format\":3}", "its format 3 is not 1 or 2" },
    { "{\"path\":\"database/000000\",\"size\":1,\"sha256\":\"" SHA_A "\"}",
      "format 1 does not hold the database as database" },
    { "{\"path\":\"database/0001\",\"size\":1,\"sha256\":\"" SHA_A "\"}", "is not a path" },
    { "{\"format\":2,\"daemon_version\":\"1\",\"schema_version\":1,\"created_us\":1,"
      "\"files\":[{\"path\":\"smartrag.db\",\"size\":1,\"sha256\":\"" SHA_A "\"}]}",
      "format 2 does not hold the database as smartrag.db" },
    { "{\"format\":2,\"daemon_version\":\"1\",\"schema_version\":1,\"created_us\":1,"
      "\"files\":[{\"path\":\"database/000000\",\"size\":1,\"sha256\":\"" SHA_A "\"},"
      "{\"path\":\"database/000002\",\"size\":1,\"sha256\":\"" SHA_A "\"}]}",
      "the database segment database/000001 is missing" },
    { "{\"format\":2,\"daemon_version\":\"1\",\"schema_version\":1,\"created_us\":1,"
      "\"files\":[]}",
      "the database is not listed" },
    { "{\"format\":1,\"daemon_version\":\"1\",\"schema_version\":1,\"created_us\":1,"
      "\"files\":[]}",
      "the database is not listed" },
    { "{\"format\":1,\"daemon_version\":\"1\",\"schema_version\":\"7\",\"created_us\":1,"
      "\"files\":[]}",
      "\"schema_version\" is not a whole number" },
    { "[1]", "it is not a JSON object" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree char *text = NULL;
    if (g_str_has_prefix (bad[i].entry, "{\"format\""))
      text = g_strdup (bad[i].entry);
    else if (bad[i].entry[0] == '[')
      text = g_strdup (bad[i].entry);
    else
      text = g_strdup_printf ("{\"format\":1,\"daemon_version\":\"1\",\"schema_version\":7,"
                              "\"created_us\":1,\"files\":[{\"path\":\"smartrag.db\",\"size\":1,"
                              "\"sha256\":\"%s\"},%s]}",
                              SHA_A, bad[i].entry);
    write_manifest_text (f->dir, text);
    g_autoptr (GError) local = NULL;
    g_autoptr (SrManifest) refused = sr_manifest_read (f->dir, &local);
    g_assert_null (refused);
    g_assert_error (local, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
    if (strstr (local->message, bad[i].message) == NULL)
      g_error ("case %u: \"%s\" does not say \"%s\"", i, local->message, bad[i].message);
  }
}

static char *
make_backup_dir (const char *root, gint64 when)
{
  g_autofree char *name = sr_backups_name (when);
  char *path = g_build_filename (root, name, NULL);
  g_assert_cmpint (g_mkdir_with_parents (path, 0700), ==, 0);
  write_manifest_text (path, "{}");
  return path;
}

static void
test_backup_folders (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = sr_backups_name (G_GINT64_CONSTANT (1700000000000042));
  g_assert_cmpstr (name, ==, "20231114T221320.000042Z");
  g_assert_true (sr_backups_name_valid (name));
  g_assert_false (sr_backups_name_valid ("20231114T221320Z"));
  g_assert_false (sr_backups_name_valid ("latest"));

  g_assert_true (sr_backups_prepare (f->root, &error));
  g_autofree char *partial = sr_backups_partial_path (f->root, name);
  g_assert_cmpint (g_mkdir (partial, 0700), ==, 0);
  g_autofree char *a = make_backup_dir (f->root, G_GINT64_CONSTANT (1700000000000001));
  g_autofree char *b = make_backup_dir (f->root, G_GINT64_CONSTANT (1700000000000002));
  g_autofree char *c = make_backup_dir (f->root, G_GINT64_CONSTANT (1700000003000000));
  /* A folder without a manifest is an interrupted backup, never counted or restored. */
  g_autofree char *incomplete = g_build_filename (f->root, "20231114T221321.000000Z", NULL);
  g_assert_cmpint (g_mkdir (incomplete, 0700), ==, 0);
  g_assert_true (sr_backups_prepare (f->root, &error));
  g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));

  g_assert_true (sr_backups_set_latest (f->root, "20231114T221320.000002Z", &error));
  g_autofree char *latest = sr_backups_latest (f->root);
  g_assert_cmpstr (latest, ==, b);
  g_autofree char *link = g_build_filename (f->root, "latest", NULL);
  g_autofree char *via_latest = sr_backups_resolve (f->root, link, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (via_latest, ==, b);
  g_autofree char *outside = g_build_filename (f->dir, "20231114T221320.000009Z", NULL);
  g_assert_cmpint (g_mkdir (outside, 0700), ==, 0);
  write_manifest_text (outside, "{}");
  g_autofree char *tricky = g_build_filename (f->root, "..", "20231114T221320.000009Z", NULL);
  const char *refused[] = { outside, tricky, incomplete, "relative", f->root };
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++) {
    g_autoptr (GError) local = NULL;
    g_autofree char *resolved = sr_backups_resolve (f->root, refused[i], &local);
    g_assert_null (resolved);
    g_assert_error (local, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  }

  guint removed = 0;
  g_assert_true (sr_backups_prune (f->root, 2, &removed, &error));
  g_assert_cmpuint (removed, ==, 1);
  g_assert_false (g_file_test (a, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (b, G_FILE_TEST_EXISTS) && g_file_test (c, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (incomplete, G_FILE_TEST_EXISTS));
}

/* A state with @tag in each of its parts: the database, a stored file, an index file. */
static void
make_state (const char *dir, const char *tag)
{
  static const char *const parts[] = { SR_STORE_FILENAME, "files/aa/x", "index/model" };
  for (guint i = 0; i < G_N_ELEMENTS (parts); i++) {
    g_autofree char *path = g_build_filename (dir, parts[i], NULL);
    g_autofree char *parent = g_path_get_dirname (path);
    g_assert_cmpint (g_mkdir_with_parents (parent, 0700), ==, 0);
    sr_test_write_file (path, tag, -1);
  }
}

static void
assert_state (const char *dir, const char *tag)
{
  static const char *const parts[] = { SR_STORE_FILENAME, "files/aa/x", "index/model" };
  for (guint i = 0; i < G_N_ELEMENTS (parts); i++) {
    g_autofree char *path = g_build_filename (dir, parts[i], NULL);
    g_autofree char *text = NULL;
    g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
    g_assert_cmpstr (text, ==, tag);
  }
  g_autofree char *staging = sr_swap_staging_dir (dir);
  g_autofree char *marker = g_build_filename (dir, "restore-swap", NULL);
  g_autofree char *aside = g_build_filename (dir, "restore-previous", NULL);
  g_assert_false (g_file_test (staging, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (aside, G_FILE_TEST_EXISTS));
}

static void
rename_ok (const char *dir, const char *from, const char *to)
{
  g_autofree char *a = g_build_filename (dir, from, NULL);
  g_autofree char *b = g_build_filename (dir, to, NULL);
  g_assert_cmpint (g_rename (a, b), ==, 0);
}

/* Every point a crash can stop a swap at: the next start sees the new state whole, or,
 * before the marker was written, the old one. */
static void
test_swap_recovery (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *staging = sr_swap_staging_dir (f->state);
  gboolean finished;
  for (guint crash = 0; crash <= 7; crash++) {
    sr_test_remove_tree (f->state);
    make_state (f->state, "old");
    make_state (staging, "new");
    g_autofree char *wal = g_build_filename (f->state, SR_STORE_FILENAME "-wal", NULL);
    sr_test_write_file (wal, "old wal", -1);
    if (crash == 0) { /* staged, never committed */
      g_assert_true (sr_swap_recover (f->state, &finished, &error));
      g_assert_false (finished);
      assert_state (f->state, "old");
      g_assert_true (g_file_test (wal, G_FILE_TEST_EXISTS));
      continue;
    }
    g_autofree char *marker = g_build_filename (f->state, "restore-swap", NULL);
    sr_test_write_file (marker, "forward", -1);
    g_autofree char *aside = g_build_filename (f->state, "restore-previous", NULL);
    g_assert_cmpint (g_mkdir (aside, 0700), ==, 0);
    /* The moves sr_swap_commit() makes, in its order, up to the crash. */
    static const char *const moves[][2] = {
      { SR_STORE_FILENAME "-wal", "restore-previous/" SR_STORE_FILENAME "-wal" },
      { SR_STORE_FILENAME, "restore-previous/" SR_STORE_FILENAME },
      { "restore-staging/" SR_STORE_FILENAME, SR_STORE_FILENAME },
      { "files", "restore-previous/files" },
      { "restore-staging/files", "files" },
      { "index", "restore-previous/index" },
    };
    for (guint i = 0; i + 1 < crash && i < G_N_ELEMENTS (moves); i++)
      rename_ok (f->state, moves[i][0], moves[i][1]);
    g_assert_true (sr_swap_recover (f->state, &finished, &error));
    g_assert_no_error (error);
    g_assert_true (finished);
    assert_state (f->state, "new");
    g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));
  }

  /* Committed, then undone: the old state is back. */
  sr_test_remove_tree (f->state);
  make_state (f->state, "old");
  make_state (staging, "new");
  g_assert_true (sr_swap_commit (f->state, &error));
  g_assert_no_error (error);
  g_assert_true (sr_swap_undo (f->state, &error));
  g_assert_true (sr_swap_discard (f->state, &error));
  assert_state (f->state, "old");
}

/* Stores @text as an upload would, with its files row. */
static char *
store_file (SrStore *store, const char *state, const char *text)
{
  char *sha = g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);
  g_autofree char *shard = g_strndup (sha, 2);
  g_autofree char *dir = g_build_filename (state, "files", shard, NULL);
  g_autofree char *path = g_build_filename (dir, sha, NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  sr_test_write_file (path, text, -1);
  g_autofree char *sql
      = g_strdup_printf ("INSERT INTO files VALUES ('%s', %zu, 0)", sha, strlen (text));
  exec_ok (store, sql);
  return sha;
}

static SrBackupSpec
spec_for (Fixture *f, gint64 now)
{
  return (SrBackupSpec){ f->state, f->root, NULL, "test", 3, now };
}

static void
test_backup_and_stage (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrStore) store = sr_store_open (f->state, &error);
  g_autofree char *one = store_file (store, f->state, "first upload");
  g_autofree char *two = store_file (store, f->state, "second upload");
  g_autofree char *index = g_build_filename (f->state, "index", NULL);
  g_autofree char *graph = g_build_filename (index, "s.hnsw", NULL);
  g_autofree char *partial = g_build_filename (index, "s.hnsw.tmp.ABCDEF", NULL);
  g_assert_cmpint (g_mkdir (index, 0700), ==, 0);
  sr_test_write_file (graph, "graph", -1);
  sr_test_write_file (partial, "half", -1);

  SrBackupSpec spec = spec_for (f, G_GINT64_CONSTANT (1700000000000000));
  SrBackupResult first = { 0 }, second = { 0 };
  g_autoptr (SrBackupMemo) memo = sr_backup_memo_new ();
  g_assert_true (sr_store_backup (memo, &spec, &first, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (first.copied, ==, 4); /* database, graph, two uploads */
  g_assert_cmpuint (first.linked, ==, 0);
  /* A daemon that has just started remembers nothing: everything is read again, and
   * linked as the hashes match (the database's one segment too). */
  g_autoptr (SrBackupMemo) fresh = sr_backup_memo_new ();
  spec.now += 1;
  g_assert_true (sr_store_backup (fresh, &spec, &second, &error));
  g_assert_cmpuint (second.copied, ==, 0);
  g_assert_cmpuint (second.linked, ==, 4);
  g_autofree char *relative = g_strdup_printf ("files/%.2s/%s", one, one);
  g_autofree char *in_first = g_build_filename (first.path, relative, NULL);
  g_autofree char *in_second = g_build_filename (second.path, relative, NULL);
  struct stat a, b;
  g_assert_cmpint (stat (in_first, &a), ==, 0);
  g_assert_cmpint (stat (in_second, &b), ==, 0);
  g_assert_cmpuint (a.st_ino, ==, b.st_ino);
  g_autoptr (SrManifest) manifest = sr_manifest_read (second.path, &error);
  g_assert_null (sr_manifest_find (manifest, "index/s.hnsw.tmp.ABCDEF"));
  g_assert_nonnull (sr_manifest_find (manifest, "index/s.hnsw"));

  /* Staged into another state directory: every file again, the database opened. */
  g_autofree char *other = g_build_filename (f->dir, "other", NULL);
  g_assert_cmpint (g_mkdir (other, 0700), ==, 0);
  SrRestoreStaged staged = { 0 };
  g_assert_true (
      sr_store_restore_stage (second.path, other, sr_store_latest_version (), &staged, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (staged.files, ==, 4);
  g_autofree char *staging = sr_swap_staging_dir (other);
  g_autofree char *staged_file = g_build_filename (staging, relative, NULL);
  g_autofree char *tmp = g_build_filename (staging, "files", "tmp", NULL);
  g_assert_true (g_file_test (staged_file, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (tmp, G_FILE_TEST_IS_DIR));

  /* A newer schema than the build knows is refused before anything is staged. */
  g_assert_true (sr_swap_discard (other, &error));
  g_assert_false (sr_store_restore_stage (second.path, other, 1, &staged, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_nonnull (strstr (error->message, "knows versions up to 1"));
  g_assert_false (g_file_test (staging, G_FILE_TEST_EXISTS));
  sr_backup_result_clear (&first);
  sr_backup_result_clear (&second);
}

#define SEGMENT_0 SR_MANIFEST_SEGMENTS "/000000"

static ino_t
inode_of (const char *backup, const char *relative)
{
  g_autofree char *path = g_build_filename (backup, relative, NULL);
  struct stat st;
  g_assert_cmpint (stat (path, &st), ==, 0);
  return st.st_ino;
}

/* One backup after another: @copied files written, the rest linked to @previous. */
static char *
backup_again (SrBackupMemo *memo, SrBackupSpec *spec, guint64 copied, guint64 linked)
{
  g_autoptr (GError) error = NULL;
  SrBackupResult result = { 0 };
  spec->now += 1;
  g_assert_true (sr_store_backup (memo, spec, &result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (result.copied, ==, copied);
  g_assert_cmpuint (result.linked, ==, linked);
  /* Whatever was linked unread, the manifest holds the bytes' own hashes. */
  g_autoptr (SrManifest) manifest = sr_manifest_read (result.path, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < manifest->entries->len; i++) {
    const SrManifestEntry *entry = manifest->entries->pdata[i];
    g_autofree char *path = g_build_filename (result.path, entry->path, NULL);
    char sha256[SR_SHA256_HEX_LENGTH + 1];
    guint64 size;
    g_assert_true (sr_durable_hash (path, &size, sha256, NULL, &error));
    g_assert_cmpstr (sha256, ==, entry->sha256);
    g_assert_cmpuint (size, ==, entry->size);
  }
  return g_steal_pointer (&result.path);
}

/* What the memo remembers is linked unread; a commit, a renamed or a rewritten graph is not. */
static void
test_backup_remembered (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrStore) store = sr_store_open (f->state, &error);
  g_autofree char *one = store_file (store, f->state, "first upload");
  g_autofree char *index = g_build_filename (f->state, "index", NULL);
  g_autofree char *graph = g_build_filename (index, "s.hnsw", NULL);
  g_assert_cmpint (g_mkdir (index, 0700), ==, 0);
  sr_test_write_file (graph, "graph one", -1);
  g_autoptr (SrBackupMemo) memo = sr_backup_memo_new ();
  SrBackupSpec spec = spec_for (f, G_GINT64_CONSTANT (1700000000000000));

  g_autofree char *first = backup_again (memo, &spec, 3, 0);
  g_autofree char *second = backup_again (memo, &spec, 0, 3);
  g_assert_cmpuint (inode_of (first, SEGMENT_0), ==, inode_of (second, SEGMENT_0));
  g_assert_cmpuint (inode_of (first, "index/s.hnsw"), ==, inode_of (second, "index/s.hnsw"));

  /* Any commit: the database is copied, and so is the new upload. */
  g_autofree char *two = store_file (store, f->state, "second upload");
  g_autofree char *third = backup_again (memo, &spec, 2, 2);
  g_assert_cmpuint (inode_of (second, SEGMENT_0), !=, inode_of (third, SEGMENT_0));

  /* A graph renamed into place with other bytes of the same size. */
  sr_test_write_file (graph, "graph two", -1);
  g_autofree char *fourth = backup_again (memo, &spec, 1, 3);

  /* Written in place, its modification time set back: the change time still tells. */
  struct stat before;
  g_assert_cmpint (stat (graph, &before), ==, 0);
  int fd = open (graph, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, "X", 1, 0), ==, 1);
  g_assert_cmpint (close (fd), ==, 0);
  const struct timespec times[2] = { before.st_atim, before.st_mtim };
  g_assert_cmpint (utimensat (AT_FDCWD, graph, times, 0), ==, 0);
  g_autofree char *fifth = backup_again (memo, &spec, 1, 3);

  /* A failed backup forgets: the next reads everything again, and links by hash. */
  sr_backup_memo_forget (memo);
  g_autofree char *sixth = backup_again (memo, &spec, 0, 4);
  g_assert_cmpuint (inode_of (fifth, SEGMENT_0), ==, inode_of (sixth, SEGMENT_0));
}

/* Backup @path's database joined into one file again, as format 1 held it. */
static void
rewrite_as_whole (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrManifest) manifest = sr_manifest_read (path, &error);
  g_autoptr (SrManifest) whole = sr_manifest_new ();
  g_autoptr (GPtrArray) parts = sr_manifest_database (manifest);
  g_autoptr (GByteArray) joined = g_byte_array_new ();
  for (guint i = 0; i < parts->len; i++) {
    const SrManifestEntry *part = parts->pdata[i];
    g_autofree char *file = g_build_filename (path, part->path, NULL);
    g_autoptr (GBytes) bytes = sr_test_read_bytes (file);
    g_byte_array_append (joined, g_bytes_get_data (bytes, NULL), (guint) g_bytes_get_size (bytes));
    g_assert_cmpint (g_unlink (file), ==, 0);
  }
  g_autofree char *segments = g_build_filename (path, SR_MANIFEST_SEGMENTS, NULL);
  g_assert_cmpint (g_rmdir (segments), ==, 0);
  g_autofree char *db = g_build_filename (path, SR_STORE_FILENAME, NULL);
  sr_test_write_file (db, (const char *) joined->data, joined->len);
  g_autofree char *sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, joined->data, joined->len);
  whole->format = SR_MANIFEST_FORMAT_WHOLE;
  whole->schema_version = manifest->schema_version;
  whole->daemon_version = g_strdup (manifest->daemon_version);
  whole->created = manifest->created;
  sr_manifest_add (whole, SR_STORE_FILENAME, joined->len, sha);
  for (guint i = 0; i < manifest->entries->len; i++) {
    const SrManifestEntry *entry = manifest->entries->pdata[i];
    if (!sr_manifest_is_database (entry->path))
      sr_manifest_add (whole, entry->path, entry->size, entry->sha256);
  }
  g_assert_true (sr_manifest_write (whole, path, &error));
  g_assert_no_error (error);
}

/* Stages @backup into a state directory of its own and gives the staged database. */
static char *
stage_into (Fixture *f, const char *backup, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *state = g_build_filename (f->dir, name, NULL);
  g_assert_cmpint (g_mkdir (state, 0700), ==, 0);
  SrRestoreStaged staged = { 0 };
  g_assert_true (
      sr_store_restore_stage (backup, state, sr_store_latest_version (), &staged, &error));
  g_assert_no_error (error);
  g_autofree char *staging = sr_swap_staging_dir (state);
  return g_build_filename (staging, SR_STORE_FILENAME, NULL);
}

/* A database of several segments: a small commit writes few of them again, and the
 * segments, joined on a restore, are the database (as the whole file of format 1 is). */
static void
test_backup_segments (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrStore) store = sr_store_open (f->state, &error);
  exec_ok (store, "CREATE TABLE small (x); CREATE TABLE large (x);"
                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)"
                  " INSERT INTO large SELECT randomblob(100000) FROM n");
  g_autoptr (SrBackupMemo) memo = sr_backup_memo_new ();
  SrBackupSpec spec = spec_for (f, G_GINT64_CONSTANT (1700000000000000));
  SrBackupResult first = { 0 }, second = { 0 };
  g_assert_true (sr_store_backup (memo, &spec, &first, &error));
  g_assert_no_error (error);
  g_autoptr (SrManifest) manifest = sr_manifest_read (first.path, &error);
  g_autoptr (GPtrArray) parts = sr_manifest_database (manifest);
  g_assert_cmpuint (parts->len, >=, 3); /* 10 MB in 4 MiB segments */
  g_assert_cmpuint (first.copied, ==, parts->len);

  exec_ok (store, "INSERT INTO small VALUES (1)");
  spec.now += 1;
  g_assert_true (sr_store_backup (memo, &spec, &second, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (second.copied, >=, 1);
  g_assert_cmpuint (second.copied, <, parts->len);
  g_assert_cmpuint (second.copied + second.linked, ==, parts->len);
  g_assert_cmpuint (second.bytes_copied, <, (guint64) SR_MANIFEST_SEGMENT_BYTES * parts->len);

  const char *sum = "SELECT sum(length(x)) + (SELECT count(*) FROM small) FROM large";
  gint64 live = query_int (sr_store_path (store), sum);
  g_assert_cmpint (live, ==, 100 * 100000 + 1);
  g_autofree char *staged = stage_into (f, second.path, "restored");
  g_assert_cmpint (query_int (staged, sum), ==, live);
  g_assert_cmpint (query_int (staged, "SELECT count(*) FROM pragma_integrity_check "
                                      "WHERE integrity_check != 'ok'"),
                   ==, 0);

  /* A backup from before segments restores the same. */
  rewrite_as_whole (second.path);
  g_autofree char *staged_whole = stage_into (f, second.path, "restored-whole");
  g_assert_cmpint (query_int (staged_whole, sum), ==, live);
  sr_backup_result_clear (&first);
  sr_backup_result_clear (&second);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/backup-store/snapshot-while-writing", Fixture, NULL, set_up,
              test_snapshot_while_writing, tear_down);
  g_test_add ("/backup-store/manifest", Fixture, NULL, set_up, test_manifest, tear_down);
  g_test_add ("/backup-store/folders", Fixture, NULL, set_up, test_backup_folders, tear_down);
  g_test_add ("/backup-store/swap-recovery", Fixture, NULL, set_up, test_swap_recovery, tear_down);
  g_test_add ("/backup-store/backup-and-stage", Fixture, NULL, set_up, test_backup_and_stage,
              tear_down);
  g_test_add ("/backup-store/remembered", Fixture, NULL, set_up, test_backup_remembered, tear_down);
  g_test_add ("/backup-store/segments", Fixture, NULL, set_up, test_backup_segments, tear_down);
  return g_test_run ();
}
