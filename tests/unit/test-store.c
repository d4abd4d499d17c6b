/* Unit tests for store/: opening, migrations, refusal of bad files, constraints, rows. */
#include "store/store.h"

#include <string.h>

#include "common/errors.h"
#include "store/counts.h"
#include "store/migrations.h"
#include "store/pre-migration.h"
#include "store/sessions.h"
#include "store/tokens.h"
#include "unit-helpers.h"

#define ID_A "0123456789abcdef0123456789abcdef"
#define ID_B "fedcba9876543210fedcba9876543210"
#define ID_C "00000000000000000000000000000001"
#define ID_D "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0"
#define ID_E "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
#define ID_F "ffffffffffffffffffffffffffffffff"
#define ID_G "99999999999999999999999999999999"
#define ID_H "88888888888888888888888888888888"
#define ID_I "77777777777777777777777777777777"
#define ID_J "66666666666666666666666666666666"
#define ID_K "55555555555555555555555555555555"
#define ID_L "44444444444444444444444444444444"
#define ID_M "33333333333333333333333333333333"
#define ID_N "22222222222222222222222222222222"
#define ID_O "11111111111111111111111111111111"
#define ID_P "abababababababababababababababab"
#define ID_Q "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"

#define T0     G_GINT64_CONSTANT (1700000000000000) /* µs since the epoch */
#define SECOND G_GINT64_CONSTANT (1000000)
#define HOUR   (3600 * SECOND)

typedef struct {
  char *dir;
  char *path; /* smartrag.db in dir */
  SrStore *store;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = sr_test_make_tmpdir ();
  f->path = g_build_filename (f->dir, SR_STORE_FILENAME, NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->store, sr_store_close);
  sr_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

static SrStore *
open_store (const char *dir)
{
  g_autoptr (GError) error = NULL;
  SrStore *store = sr_store_open (dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

/* Opens the fixture's store, so each test reads as what it checks. */
static sqlite3 *
fixture_open (Fixture *f)
{
  f->store = open_store (f->dir);
  return sr_store_db (f->store);
}

/* A plain connection, as an older SmartRAG or another tool would leave the file. */
static sqlite3 *
raw_open (const char *path)
{
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  g_assert_cmpint (rc, ==, SQLITE_OK);
  sqlite3_extended_result_codes (db, 1);
  return db;
}

static void
raw_close (sqlite3 *db)
{
  g_assert_cmpint (sqlite3_close (db), ==, SQLITE_OK);
}

/* Runs SQL and returns SQLite's extended result code, so constraint tests can tell a
 * CHECK from a FOREIGN KEY failure. */
static int
run (sqlite3 *db, const char *sql)
{
  char *message = NULL;
  int rc = sqlite3_exec (db, sql, NULL, NULL, &message);
  if (rc != SQLITE_OK)
    g_test_message ("%s -> %s", sql, message);
  sqlite3_free (message);
  return rc == SQLITE_OK ? rc : sqlite3_extended_errcode (db);
}

static void
run_ok (sqlite3 *db, const char *sql)
{
  g_assert_cmpint (run (db, sql), ==, SQLITE_OK);
}

static gint64
query_int (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  gint64 value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return value;
}

static char *
query_text (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  char *value = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  return value;
}

static void
assert_healthy (sqlite3 *db)
{
  g_autofree char *integrity = query_text (db, "PRAGMA integrity_check");
  g_assert_cmpstr (integrity, ==, "ok");
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM pragma_foreign_key_check"), ==, 0);
}

static gint64
user_version (sqlite3 *db)
{
  return query_int (db, "PRAGMA user_version");
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static GStrv
dir_entries (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  const char *name;
  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/* Files a refused open must leave exactly as it found them: the database and no
 * journal or WAL of its own making. */
static void
assert_only_database (const char *dir)
{
  g_auto (GStrv) names = dir_entries (dir);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
  g_assert_cmpstr (names[0], ==, SR_STORE_FILENAME);
}

static SrSessionRecord *
record_new (const char *id, guint32 owner, gint64 created, gint64 last_active, gint64 expire_after)
{
  SrSessionRecord *r = g_new0 (SrSessionRecord, 1);
  r->id = g_strdup (id);
  r->owner_uid = owner;
  r->title = g_strdup_printf ("title of %.4s", id);
  r->context = g_strdup ("{\"k\":\"v\"}");
  r->created_at = created;
  r->last_active = last_active;
  r->expire_after = expire_after;
  return r;
}

static void
insert_record (SrStore *store, const SrSessionRecord *record)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (sr_store_session_insert (store, record, &error));
  g_assert_no_error (error);
}

static void
insert_session (SrStore *store, const char *id, guint32 owner, gint64 created, gint64 last_active,
                gint64 expire_after)
{
  g_autoptr (SrSessionRecord) r = record_new (id, owner, created, last_active, expire_after);
  insert_record (store, r);
}

/* Sorted copy of a list of ids, NULL-terminated, for order-free comparisons. */
static GStrv
sorted_ids (GPtrArray *ids)
{
  GStrv out = g_new0 (char *, ids->len + 1);
  for (guint i = 0; i < ids->len; i++)
    out[i] = g_strdup (ids->pdata[i]);
  qsort (out, ids->len, sizeof (char *), compare_strings);
  return out;
}

/* --- opening --------------------------------------------------------------------- */

static void
test_open_creates (Fixture *f, gconstpointer data)
{
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
  sqlite3 *db = fixture_open (f);

  g_assert_true (g_file_test (f->path, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpstr (sr_store_path (f->store), ==, f->path);
  g_assert_cmpint (sr_store_schema_version (f->store), ==, sr_store_latest_version ());
  g_assert_cmpint (user_version (db), ==, sr_store_latest_version ());

  g_autofree char *mode = query_text (db, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "wal");
  g_assert_cmpint (query_int (db, "PRAGMA foreign_keys"), ==, 1);
  g_assert_cmpint (query_int (db, "PRAGMA synchronous"), ==, 1 /* NORMAL, in WAL mode */);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                                  "name IN ('users', 'sessions')"),
                   ==, 2);
  assert_healthy (db);

  g_autoptr (GError) error = NULL;
  g_assert_true (sr_store_check_writable (f->store, &error));
  g_assert_no_error (error);
}

/* WAL is a property of the file: a later plain connection sees it too. */
static void
test_open_wal_persists (Fixture *f, gconstpointer data)
{
  fixture_open (f);
  g_clear_pointer (&f->store, sr_store_close);

  sqlite3 *db = raw_open (f->path);
  g_autofree char *mode = query_text (db, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "wal");
  raw_close (db);
}

static void
test_open_empty_file (Fixture *f, gconstpointer data)
{
  sr_test_write_file (f->path, "", 0);
  sqlite3 *db = fixture_open (f);

  g_assert_cmpint (user_version (db), ==, sr_store_latest_version ());
  assert_healthy (db);
}

static void
test_open_reopen_keeps_rows (Fixture *f, gconstpointer data)
{
  fixture_open (f);
  insert_session (f->store, ID_A, 1000, T0, T0, -1);
  g_clear_pointer (&f->store, sr_store_close);
  /* A clean close checkpoints: everything is in the main file. */
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));

  fixture_open (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) r = sr_store_session_get (f->store, ID_A, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (r->owner_uid, ==, 1000);
  g_assert_cmpint (sr_store_schema_version (f->store), ==, sr_store_latest_version ());
}

static void
test_open_missing_dir (Fixture *f, gconstpointer data)
{
  g_autofree char *missing = g_build_filename (f->dir, "absent", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrStore) store = sr_store_open (missing, &error);
  g_autofree char *expected
      = g_strdup_printf ("Cannot use the state directory %s: %s", missing, g_strerror (ENOENT));

  g_assert_null (store);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
}

static void
test_open_dir_is_file (Fixture *f, gconstpointer data)
{
  g_autofree char *file = g_build_filename (f->dir, "plain", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrStore) store = NULL;

  sr_test_write_file (file, "x", 1);
  store = sr_store_open (file, &error);
  g_assert_null (store);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (error->message, "Cannot use the state directory"));
  g_assert_nonnull (strstr (error->message, file));
}

/* --- files that must be refused and left alone ------------------------------------- */

static void
assert_refused_unchanged (Fixture *f, const char *needle)
{
  g_autoptr (GBytes) before = sr_test_read_bytes (f->path);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrStore) store = sr_store_open (f->dir, &error);

  g_assert_null (store);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, f->path));
  g_assert_nonnull (strstr (error->message, needle));

  g_autoptr (GBytes) after = sr_test_read_bytes (f->path);
  sr_test_assert_bytes_equal (before, after);
  assert_only_database (f->dir);
}

static void
make_newer (Fixture *f, gboolean wal)
{
  sqlite3 *db = raw_open (f->path);
  g_autoptr (GError) error = NULL;
  g_assert_true (sr_store_migrate_to (db, sr_store_latest_version (), f->path, &error));
  g_assert_no_error (error);
  if (wal)
    run_ok (db, "PRAGMA journal_mode = WAL");
  g_autofree char *bump
      = g_strdup_printf ("PRAGMA user_version = %d", sr_store_latest_version () + 1);
  run_ok (db, bump);
  run_ok (db, "INSERT INTO users VALUES (7, 1, 1)");
  raw_close (db);
}

static void
assert_newer_refused (Fixture *f)
{
  g_autofree char *needle = g_strdup_printf ("has schema version %d, but this smartragd",
                                             sr_store_latest_version () + 1);
  assert_refused_unchanged (f, needle);
  assert_refused_unchanged (f, "written by a newer SmartRAG");
  assert_refused_unchanged (f, "The file was left untouched");
}

static void
test_refuse_newer (Fixture *f, gconstpointer data)
{
  make_newer (f, FALSE);
  assert_newer_refused (f);
}

static void
test_refuse_newer_wal (Fixture *f, gconstpointer data)
{
  make_newer (f, TRUE);
  assert_newer_refused (f);
}

static void
test_refuse_random_bytes (Fixture *f, gconstpointer data)
{
  gsize size = 8192;
  g_autofree guint32 *noise = g_new (guint32, size / 4);
  for (gsize i = 0; i < size / 4; i++)
    noise[i] = g_test_rand_int ();
  sr_test_write_file (f->path, (const char *) noise, size);

  assert_refused_unchanged (f, "is not a SmartRAG database or is damaged");
}

static void
test_refuse_text_file (Fixture *f, gconstpointer data)
{
  sr_test_write_file (f->path, "[daemon]\nlog_level=debug\n", -1);
  assert_refused_unchanged (f, "is not a SmartRAG database or is damaged");
}

/* The first bytes of a real database, cut inside the 100-byte header. */
static void
test_refuse_truncated_header (Fixture *f, gconstpointer data)
{
  fixture_open (f);
  insert_session (f->store, ID_A, 1000, T0, T0, -1);
  g_clear_pointer (&f->store, sr_store_close);
  g_autoptr (GBytes) whole = sr_test_read_bytes (f->path);

  static const gsize cuts[] = { 16, 50, 99 };
  for (guint i = 0; i < G_N_ELEMENTS (cuts); i++) {
    g_test_message ("cut at %" G_GSIZE_FORMAT " bytes", cuts[i]);
    sr_test_write_file (f->path, g_bytes_get_data (whole, NULL), cuts[i]);
    assert_refused_unchanged (f, "is not a SmartRAG database or is damaged");
  }
}

/* A good header whose pages are garbage. */
static void
test_refuse_damaged_pages (Fixture *f, gconstpointer data)
{
  fixture_open (f);
  for (guint i = 0; i < 50; i++) {
    g_autofree char *id = g_strdup_printf ("%032x", i + 1);
    insert_session (f->store, id, 1000 + i % 3, T0 + i, T0 + i, -1);
  }
  g_clear_pointer (&f->store, sr_store_close);

  g_autoptr (GBytes) whole = sr_test_read_bytes (f->path);
  gsize size = g_bytes_get_size (whole);
  g_autofree guint8 *bytes = g_memdup2 (g_bytes_get_data (whole, NULL), size);
  g_assert_cmpuint (size, >, 200);
  for (gsize i = 100; i < size; i++)
    bytes[i] = (guint8) (i * 7 + 13);
  sr_test_write_file (f->path, (const char *) bytes, size);

  assert_refused_unchanged (f, "is not a SmartRAG database or is damaged");
}

/* Root passes every mode check, so the subprocesses below run as "nobody" then. */
static void
permission_test (const char *name, void (*child) (const char *dir),
                 void (*prepare) (const char *dir))
{
  if (g_test_subprocess ()) {
    const char *dir = g_getenv ("SR_TEST_STATE_DIR");
    g_assert_nonnull (dir);
    sr_test_drop_root ();
    child (dir);
    return;
  }
  if (!sr_test_can_drop_root ()) {
    g_test_skip ("running as root without a 'nobody' account to drop to");
    return;
  }
  g_autofree char *top = sr_test_make_tmpdir ();
  g_autofree char *dir = g_build_filename (top, name, NULL);
  g_assert_cmpint (g_chmod (top, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  prepare (dir);

  g_setenv ("SR_TEST_STATE_DIR", dir, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_unsetenv ("SR_TEST_STATE_DIR");
  sr_test_remove_tree (top);
  g_test_trap_assert_passed ();
}

static void
prepare_readonly_dir (const char *dir)
{
  g_assert_cmpint (g_chmod (dir, 0555), ==, 0);
}

static void
child_readonly_dir (const char *dir)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrStore) store = sr_store_open (dir, &error);
  g_autofree char *expected
      = g_strdup_printf ("Cannot use the state directory %s: %s", dir, g_strerror (EACCES));
  g_autofree char *path = g_build_filename (dir, SR_STORE_FILENAME, NULL);

  g_assert_null (store);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

static void
test_unwritable_dir (void)
{
  permission_test ("state", child_readonly_dir, prepare_readonly_dir);
}

static void
prepare_readonly_file (const char *dir)
{
  g_autoptr (SrStore) store = open_store (dir);
  insert_session (store, ID_A, 1000, T0, T0, -1);
  g_clear_pointer (&store, sr_store_close);
  g_autofree char *path = g_build_filename (dir, SR_STORE_FILENAME, NULL);
  /* The directory is writable by anyone, so only the file's mode stands in the way. */
  g_assert_cmpint (g_chmod (dir, 0777), ==, 0);
  g_assert_cmpint (g_chmod (path, 0444), ==, 0);
}

static void
child_readonly_file (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, SR_STORE_FILENAME, NULL);
  g_autoptr (GBytes) before = sr_test_read_bytes (path);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrStore) store = sr_store_open (dir, &error);
  g_autofree char *expected = g_strdup_printf ("Cannot open %s for reading and writing: %s; "
                                               "check its owner and mode",
                                               path, g_strerror (EACCES));

  g_assert_null (store);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, expected);
  g_autoptr (GBytes) after = sr_test_read_bytes (path);
  sr_test_assert_bytes_equal (before, after);
  assert_only_database (dir);
}

static void
test_unwritable_file (void)
{
  permission_test ("state", child_readonly_file, prepare_readonly_file);
}

/* --- migrations ------------------------------------------------------------------ */

static void
test_migration_history (void)
{
  guint n = 0;
  const SrMigration *all = sr_migrations (&n);

  g_assert_cmpuint (n, >=, 1);
  for (guint i = 0; i < n; i++) {
    /* Versions count up from 1 with no gaps, so user_version alone says what ran. */
    g_assert_cmpint (all[i].version, ==, (int) i + 1);
    g_assert_nonnull (all[i].summary);
    g_assert_cmpstr (all[i].summary, !=, "");
    g_assert_nonnull (all[i].sql);
    g_assert_cmpstr (all[i].sql, !=, "");
  }
  g_assert_cmpint (sr_store_latest_version (), ==, all[n - 1].version);
}

/* Representative rows for each schema version, written against that version's schema,
 * and a check, run at the newest version, that they came through the migrations. A new
 * migration needs a row here: test_fixtures_complete insists. */
typedef struct {
  int version;
  const char *insert;
  void (*check) (SrStore *store);
} VersionRows;

static void
check_v1 (SrStore *store)
{
  g_autoptr (GError) error = NULL;
  sqlite3 *db = sr_store_db (store);

  g_autoptr (SrSessionRecord) a = sr_store_session_get (store, ID_A, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (a->owner_uid, ==, 1000);
  g_assert_cmpstr (a->title, ==, "Notes \xe2\x9c\x93");
  g_assert_cmpstr (a->context, ==, "{\"lang\":\"en\",\"n\":[1,2]}");
  g_assert_cmpint (a->created_at, ==, T0);
  g_assert_cmpint (a->last_active, ==, T0 + 5 * SECOND);
  g_assert_cmpint (a->expire_after, ==, -1);
  g_assert_cmpuint (a->message_count, ==, 3);
  g_assert_cmpuint (a->document_count, ==, 2);

  g_autoptr (SrSessionRecord) b = sr_store_session_get (store, ID_B, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (b->owner_uid, ==, 0);
  g_assert_cmpstr (b->title, ==, "");
  g_assert_cmpstr (b->context, ==, "{}");
  g_assert_cmpint (b->expire_after, ==, 0);

  g_autoptr (SrSessionRecord) c = sr_store_session_get (store, ID_C, &error);
  g_assert_no_error (error);
  g_assert_cmpint (c->expire_after, ==, 3600);

  g_autoptr (GPtrArray) mine = sr_store_session_list_ids (store, 1000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mine->len, ==, 2);
  g_assert_cmpstr (mine->pdata[0], ==, ID_C); /* created first */
  g_assert_cmpstr (mine->pdata[1], ==, ID_A);

  g_assert_cmpint (query_int (db, "SELECT count(*) FROM users WHERE uid = 1000 AND created_at = "
                                  "1700000000000000 AND last_seen = 1700000001000000"),
                   ==, 1);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM users WHERE uid = 4294967295"), ==, 1);
}

#define SHA_1 "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA_2 "2222222222222222222222222222222222222222222222222222222222222222"
#define SHA_3 "3333333333333333333333333333333333333333333333333333333333333333"

static void
check_v2 (SrStore *store)
{
  sqlite3 *db = sr_store_db (store);

  /* The counter follows the rows, whoever writes them. */
  g_assert_cmpint (query_int (db, "SELECT document_count FROM sessions WHERE id = '" ID_D "'"), ==,
                   2);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM documents WHERE file_sha256 = '" SHA_1 "'"),
                   ==, 2);
  g_assert_cmpint (
      query_int (db, "SELECT page FROM chunks WHERE document_id = '" ID_E "' AND ordinal = 1"), ==,
      3);
  /* Full-text search folds diacritics and covers headings. */
  g_assert_cmpint (
      query_int (db, "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH 'cafe'"), ==,
      query_int (db, "SELECT id FROM chunks WHERE document_id = '" ID_E "' AND ordinal = 0"));
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH "
                                  "'heading:opening'"),
                   ==, 2);
}

static void
check_v3 (SrStore *store)
{
  sqlite3 *db = sr_store_db (store);
  /* The ids come from the index alone. */
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "EXPLAIN QUERY PLAN SELECT id FROM chunks WHERE session_id"
                                       " = '" ID_G "' AND embedding_model = 'm'",
                                       -1, &stmt, NULL),
                   ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_nonnull (
      strstr ((const char *) sqlite3_column_text (stmt, 3), "COVERING INDEX chunks_by_session"));
  sqlite3_finalize (stmt);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM chunks WHERE session_id = '" ID_G "'"), ==,
                   1);
}

static void
check_v4 (SrStore *store)
{
  sqlite3 *db = sr_store_db (store);
  /* The counter follows the rows, whoever writes them. */
  g_assert_cmpint (query_int (db, "SELECT message_count FROM sessions WHERE id = '" ID_I "'"), ==,
                   2);
  g_assert_cmpint (query_int (db, "SELECT prompt_tokens FROM messages WHERE role = 'assistant'"
                                  " AND session_id = '" ID_I "'"),
                   ==, 7);
  /* Full-text search folds diacritics and knows each message's session. */
  g_assert_cmpint (query_int (db, "SELECT rowid FROM messages_fts WHERE messages_fts MATCH"
                                  " 'session_id : \"" ID_I "\" AND content : cafe'"),
                   ==,
                   query_int (db, "SELECT id FROM messages WHERE role = 'user'"
                                  " AND session_id = '" ID_I "'"));
}

static void
check_v5 (SrStore *store)
{
  sqlite3 *db = sr_store_db (store);
  /* One chunk was written since the version exists; a merge of the index is no change. */
  g_assert_cmpint (query_int (db, "SELECT version FROM chunk_words"), ==, 1);
  g_assert_cmpint (sqlite3_exec (db,
                                 "INSERT INTO chunks_fts (chunks_fts, rank) VALUES ('merge', -16)",
                                 NULL, NULL, NULL),
                   ==, SQLITE_OK);
  g_assert_cmpint (query_int (db, "SELECT version FROM chunk_words"), ==, 1);
  /* Rewriting and removing it are; the rows of earlier versions are left as they were. */
  g_assert_cmpint (
      sqlite3_exec (db, "UPDATE chunks SET heading = 'Words' WHERE document_id = '" ID_K "'", NULL,
                    NULL, NULL),
      ==, SQLITE_OK);
  g_assert_cmpint (query_int (db, "SELECT version FROM chunk_words"), ==, 2);
  g_assert_cmpint (
      sqlite3_exec (db, "DELETE FROM chunks WHERE document_id = '" ID_K "'", NULL, NULL, NULL), ==,
      SQLITE_OK);
  g_assert_cmpint (query_int (db, "SELECT version FROM chunk_words"), ==, 3);
}

/* SHA-256 of 32 zero bytes and of 32 bytes 0xff: any 32 bytes do, these are easy to see. */
#define HASH_1 "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
#define HASH_2 "af9613760f72635fbdb44a5a0a63c39f12af30f950a6ee5c971be188e89c4051"

static void
check_v6 (SrStore *store)
{
  g_autoptr (GError) error = NULL;
  sqlite3 *db = sr_store_db (store);

  g_autoptr (SrTokenRecord) first = sr_store_token_lookup (store, ID_L, &error);
  g_assert_no_error (error);
  g_assert_nonnull (first);
  g_assert_cmpuint (first->owner_uid, ==, 6000);
  g_assert_cmpstr (first->name, ==, "backup script");
  g_assert_cmpint (first->created_at, ==, 50);
  g_assert_cmpint (first->last_used, ==, 0);
  g_autofree char *hash = g_malloc (2 * SR_TOKEN_HASH_BYTES + 1);
  for (guint i = 0; i < SR_TOKEN_HASH_BYTES; i++)
    g_snprintf (hash + 2 * i, 3, "%02x", first->secret_sha256[i]);
  g_assert_cmpstr (hash, ==, HASH_1);

  g_autoptr (GPtrArray) listed = sr_store_token_list (store, 6000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (listed->len, ==, 2);
  g_assert_cmpstr (((SrTokenRecord *) listed->pdata[0])->id, ==, ID_L);
  g_assert_cmpint (((SrTokenRecord *) listed->pdata[1])->last_used, ==, 60);

  /* Authentication finds a token by its key alone. */
  sqlite3_stmt *plan = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "EXPLAIN QUERY PLAN SELECT owner_uid, secret_sha256"
                                       " FROM tokens WHERE id = '" ID_M "'",
                                       -1, &plan, NULL),
                   ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (plan), ==, SQLITE_ROW);
  g_assert_nonnull (strstr ((const char *) sqlite3_column_text (plan, 3), "PRIMARY KEY"));
  sqlite3_finalize (plan);
  /* A credential goes with its user. */
  run_ok (db, "DELETE FROM users WHERE uid = 6000");
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM tokens"), ==, 0);
}

#define SHA_4 "4444444444444444444444444444444444444444444444444444444444444444"

static void
check_v7 (SrStore *store)
{
  g_autoptr (GError) error = NULL;
  sqlite3 *db = sr_store_db (store);
  SrStoreCounts counts;

  g_assert_true (sr_store_counts_read (store, 61, &counts, &error));
  g_assert_no_error (error);
  /* Whatever rows the migrations brought and the earlier checks changed, the counts
   * follow them. */
  g_assert_cmpint ((gint64) counts.sessions, ==, query_int (db, "SELECT count(*) FROM sessions"));
  for (guint i = 0; i < SR_DOCUMENT_N_STATES; i++) {
    g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM documents WHERE state = '%s'",
                                            sr_document_states[i]);
    g_test_message ("documents %s", sr_document_states[i]);
    g_assert_cmpint ((gint64) counts.documents[i], ==, query_int (db, sql));
  }
  g_assert_cmpint ((gint64) counts.active_sessions, ==,
                   query_int (db, "SELECT count(*) FROM sessions WHERE last_active >= 61"));
  g_autofree char *state = query_text (db, "SELECT state FROM documents WHERE id = '" ID_P "'");
  g_assert_cmpstr (state, ==, "ready");

  /* Active sessions are counted in the index by activity, not by reading every session. */
  sqlite3_stmt *plan = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "EXPLAIN QUERY PLAN SELECT count(*) FROM sessions"
                                       " WHERE last_active >= 61",
                                       -1, &plan, NULL),
                   ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (plan), ==, SQLITE_ROW);
  g_assert_nonnull (strstr ((const char *) sqlite3_column_text (plan, 3), "sessions_by_activity"));
  sqlite3_finalize (plan);
}

static const VersionRows version_rows[] = {
  { 1,
    "INSERT INTO users (uid, created_at, last_seen) VALUES"
    "  (1000, 1700000000000000, 1700000001000000), (0, 1, 2), (4294967295, 3, 4);"
    "INSERT INTO sessions (id, owner_uid, title, context, created_at, last_active,"
    "  expire_after, message_count, document_count) VALUES"
    "  ('" ID_A "', 1000, 'Notes \xe2\x9c\x93', '{\"lang\":\"en\",\"n\":[1,2]}',"
    "   1700000000000000, 1700000005000000, NULL, 3, 2),"
    "  ('" ID_B "', 0, '', '{}', 1, 2, 0, 0, 0),"
    "  ('" ID_C "', 1000, 'x', '{}', 5, 6, 3600, 0, 0);",
    check_v1 },
  { 2,
    "INSERT INTO users (uid, created_at, last_seen) VALUES (2000, 10, 10);"
    "INSERT INTO sessions (id, owner_uid, created_at, last_active) VALUES"
    "  ('" ID_D "', 2000, 10, 10);"
    "INSERT INTO files (sha256, size, created_at) VALUES ('" SHA_1 "', 42, 10);"
    "INSERT INTO documents (id, session_id, file_sha256, filename, format, state, progress,"
    "  chunk_count, created_at, updated_at) VALUES"
    "  ('" ID_E "', '" ID_D "', '" SHA_1 "', 'menu.pdf', 'pdf', 'ready', 1, 2, 10, 11),"
    "  ('" ID_F "', '" ID_D "', '" SHA_1 "', 'copy.pdf', 'pdf', 'stored', 0, 0, 12, 12);"
    "INSERT INTO chunks (document_id, session_id, ordinal, page, heading, text) VALUES"
    "  ('" ID_E "', '" ID_D "', 0, 2, 'Opening hours', 'Caf\xc3\xa9 du Nord opens at eight.'),"
    "  ('" ID_E "', '" ID_D "', 1, 3, 'Opening hours', 'Closed on Mondays.');",
    check_v2 },
  { 3,
    "INSERT INTO users (uid, created_at, last_seen) VALUES (3000, 20, 20);"
    "INSERT INTO sessions (id, owner_uid, created_at, last_active) VALUES"
    "  ('" ID_G "', 3000, 20, 20);"
    "INSERT INTO files (sha256, size, created_at) VALUES ('" SHA_2 "', 7, 20);"
    "INSERT INTO documents (id, session_id, file_sha256, filename, format, state, progress,"
    "  chunk_count, created_at, updated_at) VALUES"
    "  ('" ID_H "', '" ID_G "', '" SHA_2 "', 'v.txt', 'text', 'ready', 1, 1, 20, 21);"
    "INSERT INTO chunks (document_id, session_id, ordinal, text, embedding, embedding_model)"
    "  VALUES ('" ID_H "', '" ID_G "', 0, 'vectors', x'0000803f', 'm');",
    check_v3 },
  { 4,
    "INSERT INTO users (uid, created_at, last_seen) VALUES (4000, 30, 30);"
    "INSERT INTO sessions (id, owner_uid, created_at, last_active) VALUES"
    "  ('" ID_I "', 4000, 30, 30);"
    "INSERT INTO messages (session_id, query_id, role, content, created_at) VALUES"
    "  ('" ID_I "', 'q1', 'user', 'O\xc3\xb9 est le caf\xc3\xa9 ?', 31);"
    "INSERT INTO messages (session_id, query_id, role, content, sources_json, backend,"
    "  ttft_ms, total_ms, prompt_tokens, answer_tokens, created_at) VALUES"
    "  ('" ID_I "', 'q1', 'assistant', 'Au coin de la rue [1].',"
    "   '[{\"document_id\":\"" ID_H "\",\"filename\":\"v.txt\",\"chunk\":0}]',"
    "   'builtin', 1.5, 3.25, 7, 6, 32);",
    check_v4 },
  { 5,
    "INSERT INTO users (uid, created_at, last_seen) VALUES (5000, 40, 40);"
    "INSERT INTO sessions (id, owner_uid, created_at, last_active) VALUES"
    "  ('" ID_J "', 5000, 40, 40);"
    "INSERT INTO files (sha256, size, created_at) VALUES ('" SHA_3 "', 5, 40);"
    "INSERT INTO documents (id, session_id, file_sha256, filename, format, state, progress,"
    "  chunk_count, created_at, updated_at) VALUES"
    "  ('" ID_K "', '" ID_J "', '" SHA_3 "', 'w.txt', 'text', 'ready', 1, 1, 40, 41);"
    "INSERT INTO chunks (document_id, session_id, ordinal, text) VALUES"
    "  ('" ID_K "', '" ID_J "', 0, 'words');",
    check_v5 },
  { 6,
    "INSERT INTO users (uid, created_at, last_seen) VALUES (6000, 50, 50);"
    "INSERT INTO tokens (id, owner_uid, name, secret_sha256, created_at, last_used) VALUES"
    "  ('" ID_L "', 6000, 'backup script', x'" HASH_1 "', 50, NULL),"
    "  ('" ID_M "', 6000, 'backup script', x'" HASH_2 "', 51, 60);",
    check_v6 },
  { 7,
    "INSERT INTO users (uid, created_at, last_seen) VALUES (7000, 60, 60);"
    "INSERT INTO sessions (id, owner_uid, created_at, last_active) VALUES"
    "  ('" ID_N "', 7000, 60, 60), ('" ID_O "', 7000, 61, 61);"
    "INSERT INTO files (sha256, size, created_at) VALUES ('" SHA_4 "', 9, 60);"
    "INSERT INTO documents (id, session_id, file_sha256, filename, created_at, updated_at)"
    "  VALUES ('" ID_P "', '" ID_N "', '" SHA_4 "', 'a.txt', 60, 60),"
    "         ('" ID_Q "', '" ID_O "', '" SHA_4 "', 'b.txt', 61, 61);"
    "UPDATE documents SET state = 'parsing' WHERE id = '" ID_P "';"
    "UPDATE documents SET progress = 0.5 WHERE id = '" ID_P "';"
    "UPDATE documents SET state = 'ready' WHERE id = '" ID_P "';"
    "DELETE FROM documents WHERE id = '" ID_Q "';"
    "DELETE FROM sessions WHERE id = '" ID_O "';",
    check_v7 },
};

static const VersionRows *
rows_for (int version)
{
  for (guint i = 0; i < G_N_ELEMENTS (version_rows); i++)
    if (version_rows[i].version == version)
      return &version_rows[i];
  return NULL;
}

static void
test_fixtures_complete (void)
{
  for (int v = 1; v <= sr_store_latest_version (); v++) {
    g_test_message ("schema version %d", v);
    g_assert_nonnull (rows_for (v));
  }
}

/* Builds the database an earlier release would have left: schema at @version and that
 * version's rows, through a plain connection. */
static void
build_at_version (const char *path, int version)
{
  sqlite3 *db = raw_open (path);
  g_autoptr (GError) error = NULL;

  g_assert_true (sr_store_migrate_to (db, version, path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (user_version (db), ==, version);
  if (version > 0) {
    const VersionRows *rows = rows_for (version);
    g_assert_nonnull (rows);
    run_ok (db, rows->insert);
  }
  raw_close (db);
}

/* The copy made before migrating from @version: there, at @version, with its rows;
 * none when there was nothing to migrate. */
static void
assert_pre_migration_copy (const char *path, int version)
{
  g_autofree char *copy = sr_store_pre_migration_path (path, sr_store_latest_version ());
  g_autofree char *partial = g_strconcat (copy, ".partial", NULL);
  g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
  if (version == 0 || version == sr_store_latest_version ()) {
    g_assert_false (g_file_test (copy, G_FILE_TEST_EXISTS));
    return;
  }
  sqlite3 *db = raw_open (copy);
  g_assert_cmpint (user_version (db), ==, version);
  assert_healthy (db);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM sqlite_schema WHERE name = 'users'"), ==,
                   1);
  raw_close (db);
}

static void
test_migrate_from_each_version (void)
{
  for (int v = 0; v <= sr_store_latest_version (); v++) {
    g_autofree char *dir = sr_test_make_tmpdir ();
    g_autofree char *path = g_build_filename (dir, SR_STORE_FILENAME, NULL);

    g_test_message ("from schema version %d", v);
    build_at_version (path, v);
    g_autoptr (SrStore) store = open_store (dir);
    g_assert_cmpint (sr_store_schema_version (store), ==, sr_store_latest_version ());
    assert_healthy (sr_store_db (store));
    if (v > 0)
      rows_for (v)->check (store);
    assert_pre_migration_copy (path, v);
    g_clear_pointer (&store, sr_store_close);
    sr_test_remove_tree (dir);
  }
}

/* A database that lived through every release, gaining rows at each. */
static void
test_migrate_step_by_step (Fixture *f, gconstpointer data)
{
  sqlite3 *db = raw_open (f->path);
  for (int v = 1; v <= sr_store_latest_version (); v++) {
    g_autoptr (GError) error = NULL;
    g_assert_true (sr_store_migrate_to (db, v, f->path, &error));
    g_assert_no_error (error);
    g_assert_cmpint (user_version (db), ==, v);
    run_ok (db, rows_for (v)->insert);
  }
  raw_close (db);

  fixture_open (f);
  assert_healthy (sr_store_db (f->store));
  for (int v = 1; v <= sr_store_latest_version (); v++)
    rows_for (v)->check (f->store);
}

/* Migrating never goes down, and going to the current version again does nothing. */
static void
test_migrate_idempotent (Fixture *f, gconstpointer data)
{
  sqlite3 *db = fixture_open (f);
  g_autoptr (GError) error = NULL;
  int latest = sr_store_latest_version ();

  g_assert_true (sr_store_migrate_to (db, latest, f->path, &error));
  g_assert_no_error (error);
  g_assert_true (sr_store_migrate_to (db, 0, f->path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (user_version (db), ==, latest);
}

/* Only the copy from before the last migration is kept; a file of another name stays. */
static void
test_pre_migration_keeps_last (Fixture *f, gconstpointer data)
{
  int latest = sr_store_latest_version ();
  g_autofree char *older = sr_store_pre_migration_path (f->path, latest - 1);
  g_autofree char *other = g_strconcat (f->path, ".pre-v2-mine", NULL);
  sr_test_write_file (older, "an older copy", -1);
  sr_test_write_file (other, "not a copy of ours", -1);

  build_at_version (f->path, latest - 1);
  fixture_open (f);
  assert_pre_migration_copy (f->path, latest - 1);
  g_assert_false (g_file_test (older, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (other, G_FILE_TEST_EXISTS));
}

/* No copy, no migration: the database stays as it was, and the error says why. */
static void
test_pre_migration_copy_fails (Fixture *f, gconstpointer data)
{
  int latest = sr_store_latest_version ();
  g_autofree char *copy = sr_store_pre_migration_path (f->path, latest);
  g_autofree char *partial = g_strconcat (copy, ".partial", NULL);
  g_autofree char *blocker = g_build_filename (partial, "file", NULL);
  /* A directory with something in it cannot be removed or opened as a database. */
  g_assert_cmpint (g_mkdir (partial, 0700), ==, 0);
  sr_test_write_file (blocker, "x", -1);
  build_at_version (f->path, latest - 1);

  g_autoptr (GError) error = NULL;
  g_autoptr (SrStore) store = sr_store_open (f->dir, &error);
  g_assert_null (store);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (error->message, "Cannot copy"));
  g_assert_nonnull (strstr (error->message, copy));
  sqlite3 *db = raw_open (f->path);
  g_assert_cmpint (user_version (db), ==, latest - 1);
  raw_close (db);
  g_assert_false (g_file_test (copy, G_FILE_TEST_EXISTS));
}

/* A migration that fails leaves the database exactly at the version before it. */
static void
test_migrate_atomic (Fixture *f, gconstpointer data)
{
  sqlite3 *db = raw_open (f->path);
  g_autoptr (GError) error = NULL;

  /* Version 1 creates "sessions" after "users"; a stray "sessions" makes it fail midway. */
  run_ok (db, "CREATE TABLE sessions (x)");
  g_assert_false (sr_store_migrate_to (db, 1, f->path, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "migrate the schema to version 1"));
  g_assert_nonnull (strstr (error->message, f->path));
  g_assert_cmpint (user_version (db), ==, 0);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM sqlite_schema WHERE name = 'users'"), ==,
                   0);
  g_assert_true (sqlite3_get_autocommit (db));
  raw_close (db);

  /* And the daemon refuses to start on it rather than half-migrating. */
  g_clear_error (&error);
  g_autoptr (SrStore) store = sr_store_open (f->dir, &error);
  g_assert_null (store);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
}

/* --- constraints ----------------------------------------------------------------- */

static sqlite3 *
open_with_user (Fixture *f)
{
  sqlite3 *db = fixture_open (f);
  run_ok (db, "INSERT INTO users VALUES (1000, 1, 1)");
  return db;
}

static char *
session_sql (const char *id, const char *owner, const char *context, const char *counts)
{
  return g_strdup_printf ("INSERT INTO sessions (id, owner_uid, title, context, created_at, "
                          "last_active, expire_after, message_count, document_count) VALUES "
                          "(%s, %s, 't', %s, 1, 1, NULL, %s)",
                          id, owner, context, counts);
}

static void
assert_insert (sqlite3 *db, const char *id, const char *owner, const char *context,
               const char *counts, int expected)
{
  g_autofree char *sql = session_sql (id, owner, context, counts);
  g_test_message ("%s", sql);
  g_assert_cmpint (run (db, sql), ==, expected);
}

static void
test_foreign_key_owner (Fixture *f, gconstpointer data)
{
  sqlite3 *db = open_with_user (f);

  assert_insert (db, "'" ID_A "'", "1001", "'{}'", "0, 0", SQLITE_CONSTRAINT_FOREIGNKEY);
  assert_insert (db, "'" ID_A "'", "1000", "'{}'", "0, 0", SQLITE_OK);
  /* A user with sessions cannot be removed from under them. */
  /* SQLite reports ON DELETE RESTRICT as a trigger constraint. */
  g_assert_cmpint (run (db, "DELETE FROM users WHERE uid = 1000"), ==, SQLITE_CONSTRAINT_TRIGGER);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM users"), ==, 1);
  g_assert_cmpint (run (db, "UPDATE sessions SET owner_uid = 5 WHERE id = '" ID_A "'"), ==,
                   SQLITE_CONSTRAINT_FOREIGNKEY);
  run_ok (db, "DELETE FROM sessions");
  run_ok (db, "DELETE FROM users WHERE uid = 1000");
}

static void
test_unique_keys (Fixture *f, gconstpointer data)
{
  sqlite3 *db = open_with_user (f);

  assert_insert (db, "'" ID_A "'", "1000", "'{}'", "0, 0", SQLITE_OK);
  assert_insert (db, "'" ID_A "'", "1000", "'{\"other\":1}'", "0, 0", SQLITE_CONSTRAINT_PRIMARYKEY);
  g_assert_cmpint (run (db, "INSERT INTO users VALUES (1000, 2, 2)"), ==,
                   SQLITE_CONSTRAINT_PRIMARYKEY);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM sessions"), ==, 1);
}

static void
test_check_id (Fixture *f, gconstpointer data)
{
  sqlite3 *db = open_with_user (f);
  static const char *const bad[] = {
    "''",
    "'0123456789abcdef0123456789abcde'",   /* 31 */
    "'0123456789abcdef0123456789abcdef0'", /* 33 */
    "'0123456789ABCDEF0123456789ABCDEF'",
    "'0123456789abcdef0123456789abcdeg'",
    "'0123456789abcdef 123456789abcdef'",
    "'../../../../../../../../../../..'",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_insert (db, bad[i], "1000", "'{}'", "0, 0", SQLITE_CONSTRAINT_CHECK);
  assert_insert (db, "NULL", "1000", "'{}'", "0, 0", SQLITE_CONSTRAINT_NOTNULL);
  /* STRICT: a blob is not taken for text. */
  assert_insert (db, "x'30313233343536373839616263646566303132333435363738396162636465'", "1000",
                 "'{}'", "0, 0", SQLITE_CONSTRAINT_DATATYPE);
  assert_insert (db, "'" ID_A "'", "1000", "'{}'", "0, 0", SQLITE_OK);
}

static void
test_check_context (Fixture *f, gconstpointer data)
{
  sqlite3 *db = open_with_user (f);
  static const char *const bad[] = {
    "'[]'",   "'[1,2]'",    "'\"text\"'", "'1'", "'true'",
    "'null'", "'not json'", "''",         "'{'", "'{\"a\":}'",
  };
  static const char *const good[] = { "'{}'", "'{\"a\":[1,{\"b\":null}]}'", "' { } '" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_insert (db, "'" ID_A "'", "1000", bad[i], "0, 0", SQLITE_CONSTRAINT_CHECK);
  assert_insert (db, "'" ID_A "'", "1000", "NULL", "0, 0", SQLITE_CONSTRAINT_NOTNULL);
  for (guint i = 0; i < G_N_ELEMENTS (good); i++) {
    g_autofree char *id = g_strdup_printf ("'%032x'", i);
    assert_insert (db, id, "1000", good[i], "0, 0", SQLITE_OK);
  }
  g_assert_cmpint (run (db, "UPDATE sessions SET context = '[]'"), ==, SQLITE_CONSTRAINT_CHECK);
}

static void
test_check_counts (Fixture *f, gconstpointer data)
{
  sqlite3 *db = open_with_user (f);

  assert_insert (db, "'" ID_A "'", "1000", "'{}'", "-1, 0", SQLITE_CONSTRAINT_CHECK);
  assert_insert (db, "'" ID_A "'", "1000", "'{}'", "0, -1", SQLITE_CONSTRAINT_CHECK);
  assert_insert (db, "'" ID_A "'", "1000", "'{}'", "NULL, 0", SQLITE_CONSTRAINT_NOTNULL);
  assert_insert (db, "'" ID_A "'", "1000", "'{}'", "'many', 0", SQLITE_CONSTRAINT_DATATYPE);
  assert_insert (db, "'" ID_A "'", "1000", "'{}'", "0, 0", SQLITE_OK);
  g_assert_cmpint (run (db, "UPDATE sessions SET message_count = message_count - 1"), ==,
                   SQLITE_CONSTRAINT_CHECK);
  g_assert_cmpint (run (db, "UPDATE sessions SET expire_after = -1"), ==, SQLITE_CONSTRAINT_CHECK);
  run_ok (db, "UPDATE sessions SET expire_after = 0");
  run_ok (db, "UPDATE sessions SET expire_after = NULL");
}

static void
test_check_uid (Fixture *f, gconstpointer data)
{
  sqlite3 *db = fixture_open (f);

  g_assert_cmpint (run (db, "INSERT INTO users VALUES (-1, 1, 1)"), ==, SQLITE_CONSTRAINT_CHECK);
  g_assert_cmpint (run (db, "INSERT INTO users VALUES (4294967296, 1, 1)"), ==,
                   SQLITE_CONSTRAINT_CHECK);
  /* uid is the rowid, which refuses text with a plain type mismatch. */
  g_assert_cmpint (run (db, "INSERT INTO users VALUES ('root', 1, 1)"), ==, SQLITE_MISMATCH);
  g_assert_cmpint (run (db, "INSERT INTO users VALUES (5, 'yesterday', 1)"), ==,
                   SQLITE_CONSTRAINT_DATATYPE);
  g_assert_cmpint (run (db, "INSERT INTO users VALUES (5, NULL, 1)"), ==,
                   SQLITE_CONSTRAINT_NOTNULL);
  run_ok (db, "INSERT INTO users VALUES (0, 1, 1), (4294967295, 1, 1)");
}

/* --- statements and transactions --------------------------------------------------- */

static void
test_statement_cache (Fixture *f, gconstpointer data)
{
  fixture_open (f);
  static const char sql[] = "SELECT count(*) FROM users";
  g_autoptr (GError) error = NULL;

  sqlite3_stmt *first = sr_store_statement (f->store, sql, &error);
  g_assert_no_error (error);
  g_assert_nonnull (first);
  g_assert_true (sr_store_statement (f->store, sql, &error) == first);

  sqlite3_stmt *broken = sr_store_statement (f->store, "SELEC nonsense", &error);
  g_assert_null (broken);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "prepare a query"));
}

typedef struct {
  SrStore *connection;
  gint started;
  gint64 finished_at;
  gboolean ok;
} Writer;

static gpointer
write_meanwhile (gpointer data)
{
  Writer *w = data;
  g_atomic_int_set (&w->started, TRUE);
  w->ok = sqlite3_exec (sr_store_db (w->connection), "INSERT INTO users VALUES (7, 1, 1)", NULL,
                        NULL, NULL)
          == SQLITE_OK;
  w->finished_at = g_get_monotonic_time ();
  return NULL;
}

/* A statement on another thread's connection waits for the transaction under way and
 * goes through once it commits; health does not count our own writer as a lock. */
static void
test_connections_share_lock (Fixture *f, gconstpointer data)
{
  sqlite3 *db = fixture_open (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrStoreLease) other = sr_store_acquire (f->store, &error);
  g_assert_no_error (error);
  g_assert_true (other != f->store);

  g_assert_true (sr_store_begin (f->store, &error));
  run_ok (db, "INSERT INTO users VALUES (6, 1, 1)");
  Writer w = { other, FALSE, 0, FALSE };
  GThread *thread = g_thread_new ("writer", write_meanwhile, &w);
  while (!g_atomic_int_get (&w.started))
    g_usleep (1000);
  g_usleep (50 * 1000);
  g_assert_true (sr_store_check_writable (other, &error));
  g_assert_no_error (error);
  /* Ordered, not timed: however late the writer ran, it cannot have finished first. */
  gint64 committing_at = g_get_monotonic_time ();
  g_assert_true (sr_store_commit (f->store, &error));
  g_thread_join (thread);
  g_assert_true (w.ok);
  g_assert_cmpint (w.finished_at, >=, committing_at);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM users"), ==, 2);

  /* A connection given back is handed out again rather than a new one opened. */
  SrStore *first = g_steal_pointer (&other);
  sr_store_release (first);
  g_autoptr (SrStoreLease) again = sr_store_acquire (f->store, &error);
  g_assert_true (again == first);
}

static void
test_transactions (Fixture *f, gconstpointer data)
{
  sqlite3 *db = fixture_open (f);
  g_autoptr (GError) error = NULL;

  g_assert_true (sr_store_begin (f->store, &error));
  run_ok (db, "INSERT INTO users VALUES (1, 1, 1)");
  sr_store_rollback (f->store);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM users"), ==, 0);

  g_assert_true (sr_store_begin (f->store, &error));
  run_ok (db, "INSERT INTO users VALUES (2, 1, 1)");
  g_assert_true (sr_store_commit (f->store, &error));
  g_assert_no_error (error);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM users"), ==, 1);

  /* Nothing open: rolling back is harmless, a second BEGIN inside one is refused. */
  sr_store_rollback (f->store);
  g_assert_true (sr_store_begin (f->store, &error));
  g_assert_false (sr_store_begin (f->store, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  sr_store_rollback (f->store);
  g_assert_true (sqlite3_get_autocommit (db));
}

/* --- session rows ---------------------------------------------------------------- */

static void
test_session_round_trip (Fixture *f, gconstpointer data)
{
  sqlite3 *db = fixture_open (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) in = record_new (ID_A, 1000, T0, T0 + SECOND, 7200);
  g_free (in->title);
  in->title = g_strdup ("Caf\xc3\xa9 'quoted' \"and\" %s");
  insert_record (f->store, in);

  g_autoptr (SrSessionRecord) out = sr_store_session_get (f->store, ID_A, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out->id, ==, in->id);
  g_assert_cmpuint (out->owner_uid, ==, in->owner_uid);
  g_assert_cmpstr (out->title, ==, in->title);
  g_assert_cmpstr (out->context, ==, in->context);
  g_assert_cmpint (out->created_at, ==, in->created_at);
  g_assert_cmpint (out->last_active, ==, in->last_active);
  g_assert_cmpint (out->expire_after, ==, 7200);
  g_assert_cmpuint (out->message_count, ==, 0);
  g_assert_cmpuint (out->document_count, ==, 0);

  /* The owner is recorded as a user on first sight. */
  g_assert_cmpint (query_int (db, "SELECT created_at FROM users WHERE uid = 1000"), ==, T0);
  g_assert_cmpint (query_int (db, "SELECT last_seen FROM users WHERE uid = 1000"), ==, T0);
}

/* -1 follows the daemon default and is stored as NULL, so a changed default applies. */
static void
test_session_default_expiry (Fixture *f, gconstpointer data)
{
  sqlite3 *db = fixture_open (f);
  g_autoptr (GError) error = NULL;

  insert_session (f->store, ID_A, 1000, T0, T0, -1);
  insert_session (f->store, ID_B, 1000, T0, T0, 0);
  g_assert_cmpint (
      query_int (db, "SELECT expire_after IS NULL FROM sessions WHERE id = '" ID_A "'"), ==, 1);
  g_assert_cmpint (query_int (db, "SELECT expire_after FROM sessions WHERE id = '" ID_B "'"), ==,
                   0);

  g_autoptr (SrSessionRecord) a = sr_store_session_get (f->store, ID_A, &error);
  g_assert_no_error (error);
  g_assert_cmpint (a->expire_after, ==, -1);
  g_autoptr (SrSessionRecord) b = sr_store_session_get (f->store, ID_B, &error);
  g_assert_no_error (error);
  g_assert_cmpint (b->expire_after, ==, 0);
}

static void
test_session_user_seen (Fixture *f, gconstpointer data)
{
  sqlite3 *db = fixture_open (f);

  insert_session (f->store, ID_A, 1000, T0, T0, -1);
  insert_session (f->store, ID_B, 1000, T0 + HOUR, T0 + HOUR, -1);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM users"), ==, 1);
  g_assert_cmpint (query_int (db, "SELECT created_at FROM users WHERE uid = 1000"), ==, T0);
  g_assert_cmpint (query_int (db, "SELECT last_seen FROM users WHERE uid = 1000"), ==, T0 + HOUR);
}

/* A failed insert leaves no trace, not even the user row it would have added. */
static void
test_session_insert_atomic (Fixture *f, gconstpointer data)
{
  sqlite3 *db = fixture_open (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) bad = record_new (ID_A, 4242, T0, T0, -1);
  g_free (bad->context);
  bad->context = g_strdup ("[1]");

  g_assert_false (sr_store_session_insert (f->store, bad, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "store the new session"));
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM users"), ==, 0);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM sessions"), ==, 0);
  g_assert_true (sqlite3_get_autocommit (db));

  /* And the store is usable afterwards. */
  insert_session (f->store, ID_A, 4242, T0, T0, -1);
}

static void
test_session_duplicate (Fixture *f, gconstpointer data)
{
  fixture_open (f);
  g_autoptr (GError) error = NULL;
  insert_session (f->store, ID_A, 1000, T0, T0, -1);
  g_autoptr (SrSessionRecord) twin = record_new (ID_A, 2000, T0 + 1, T0 + 1, 5);

  g_assert_false (sr_store_session_insert (f->store, twin, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_clear_error (&error);

  g_autoptr (SrSessionRecord) kept = sr_store_session_get (f->store, ID_A, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (kept->owner_uid, ==, 1000);
  g_assert_cmpint (kept->expire_after, ==, -1);
  g_assert_cmpint (query_int (sr_store_db (f->store), "SELECT count(*) FROM users"), ==, 1);
}

static void
test_session_not_found (Fixture *f, gconstpointer data)
{
  fixture_open (f);
  g_autoptr (GError) error = NULL;
  guint32 owner = 77;

  g_autoptr (SrSessionRecord) r = sr_store_session_get (f->store, ID_A, &error);
  g_assert_null (r);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "No session '" ID_A "'");
  g_clear_error (&error);

  g_assert_false (sr_store_session_owner (f->store, ID_A, &owner, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (owner, ==, 77);

#define ASSERT_NOT_FOUND(call)                                                                     \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_assert_false (call);                                                                         \
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND);                              \
    g_clear_error (&error);                                                                        \
  }                                                                                                \
  G_STMT_END
  ASSERT_NOT_FOUND (sr_store_session_set_title (f->store, ID_A, "t", T0, &error));
  ASSERT_NOT_FOUND (sr_store_session_set_context (f->store, ID_A, "{}", T0, &error));
  ASSERT_NOT_FOUND (sr_store_session_touch (f->store, ID_A, T0, &error));
  ASSERT_NOT_FOUND (sr_store_session_delete (f->store, ID_A, &error));
#undef ASSERT_NOT_FOUND
}

static void
test_session_owner (Fixture *f, gconstpointer data)
{
  fixture_open (f);
  g_autoptr (GError) error = NULL;
  guint32 owner = 0;

  insert_session (f->store, ID_A, 4294967295u, T0, T0, -1);
  g_assert_true (sr_store_session_owner (f->store, ID_A, &owner, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (owner, ==, 4294967295u);
}

static void
test_session_list_and_count (Fixture *f, gconstpointer data)
{
  fixture_open (f);
  g_autoptr (GError) error = NULL;
  guint64 count = 99;

  /* Created out of id order, and two at the same instant (ordered by id then). */
  insert_session (f->store, ID_F, 1000, T0 + 3, T0, -1);
  insert_session (f->store, ID_B, 2000, T0 + 2, T0, -1);
  insert_session (f->store, ID_E, 1000, T0 + 1, T0, -1);
  insert_session (f->store, ID_D, 1000, T0 + 1, T0, -1);

  g_autoptr (GPtrArray) mine = sr_store_session_list_ids (f->store, 1000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mine->len, ==, 3);
  g_assert_cmpstr (mine->pdata[0], ==, ID_D);
  g_assert_cmpstr (mine->pdata[1], ==, ID_E);
  g_assert_cmpstr (mine->pdata[2], ==, ID_F);

  g_autoptr (GPtrArray) all = sr_store_session_list_ids (f->store, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 4);
  g_assert_cmpstr (all->pdata[2], ==, ID_B);

  g_autoptr (GPtrArray) none = sr_store_session_list_ids (f->store, 3000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);

  g_assert_true (sr_store_session_count_owned (f->store, 1000, &count, &error));
  g_assert_cmpuint (count, ==, 3);
  g_assert_true (sr_store_session_count_owned (f->store, 3000, &count, &error));
  g_assert_cmpuint (count, ==, 0);
  g_assert_no_error (error);
}

static void
test_session_updates (Fixture *f, gconstpointer data)
{
  fixture_open (f);
  g_autoptr (GError) error = NULL;
  insert_session (f->store, ID_A, 1000, T0, T0 + HOUR, -1);

  g_assert_true (sr_store_session_set_title (f->store, ID_A, "new title", T0 + 2 * HOUR, &error));
  g_assert_no_error (error);
  g_autoptr (SrSessionRecord) r1 = sr_store_session_get (f->store, ID_A, &error);
  g_assert_cmpstr (r1->title, ==, "new title");
  g_assert_cmpint (r1->last_active, ==, T0 + 2 * HOUR);

  g_assert_true (sr_store_session_set_context (f->store, ID_A, "{\"x\":1}", T0 + 3 * HOUR, &error));
  g_autoptr (SrSessionRecord) r2 = sr_store_session_get (f->store, ID_A, &error);
  g_assert_cmpstr (r2->context, ==, "{\"x\":1}");
  g_assert_cmpint (r2->last_active, ==, T0 + 3 * HOUR);

  g_assert_true (sr_store_session_touch (f->store, ID_A, T0 + 4 * HOUR, &error));
  g_autoptr (SrSessionRecord) r3 = sr_store_session_get (f->store, ID_A, &error);
  g_assert_cmpint (r3->last_active, ==, T0 + 4 * HOUR);

  /* A clock that steps back never makes a session look older than it is. */
  g_assert_true (sr_store_session_touch (f->store, ID_A, T0, &error));
  g_assert_true (sr_store_session_set_title (f->store, ID_A, "older", T0, &error));
  g_autoptr (SrSessionRecord) r4 = sr_store_session_get (f->store, ID_A, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r4->title, ==, "older");
  g_assert_cmpint (r4->last_active, ==, T0 + 4 * HOUR);
  g_assert_cmpint (r4->created_at, ==, T0);
}

/* The store does not validate, but the schema still refuses a non-object context. */
static void
test_session_bad_context_update (Fixture *f, gconstpointer data)
{
  fixture_open (f);
  g_autoptr (GError) error = NULL;
  insert_session (f->store, ID_A, 1000, T0, T0, -1);

  g_assert_false (sr_store_session_set_context (f->store, ID_A, "[1]", T0 + HOUR, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "update a session"));
  g_clear_error (&error);

  g_autoptr (SrSessionRecord) r = sr_store_session_get (f->store, ID_A, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->context, ==, "{\"k\":\"v\"}");
  g_assert_cmpint (r->last_active, ==, T0);
}

static void
test_session_delete (Fixture *f, gconstpointer data)
{
  sqlite3 *db = fixture_open (f);
  g_autoptr (GError) error = NULL;
  insert_session (f->store, ID_A, 1000, T0, T0, -1);
  insert_session (f->store, ID_B, 1000, T0, T0, -1);

  g_assert_true (sr_store_session_delete (f->store, ID_A, &error));
  g_assert_no_error (error);
  g_autoptr (SrSessionRecord) gone = sr_store_session_get (f->store, ID_A, &error);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (sr_store_session_delete (f->store, ID_A, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_autoptr (SrSessionRecord) kept = sr_store_session_get (f->store, ID_B, &error);
  g_assert_no_error (error);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM users WHERE uid = 1000"), ==, 1);
}

/* --- expiry ---------------------------------------------------------------------- */

#define NOW (T0 + 240 * HOUR)

/* One session per rule of delete_expired, all idle for two hours unless noted. */
static void
insert_expiry_cases (SrStore *store)
{
  insert_session (store, ID_A, 1000, T0, NOW - 2 * HOUR, -1);       /* follows the default */
  insert_session (store, ID_B, 1000, T0, 0, 0);                     /* never, though ancient */
  insert_session (store, ID_C, 1000, T0, NOW - 2 * HOUR, 3 * 3600); /* own expiry not reached */
  insert_session (store, ID_D, 2000, T0, NOW - 2 * HOUR, 60);       /* own expiry long past */
  insert_session (store, ID_E, 2000, T0, NOW - HOUR, -1);           /* default, exactly due */
  insert_session (store, ID_F, 2000, T0, NOW - HOUR + 1, 3600);     /* own, one µs short */
}

static void
assert_expired (guint64 default_expiry, const char *const *expected)
{
  g_autofree char *dir = sr_test_make_tmpdir ();
  g_autoptr (SrStore) store = open_store (dir);
  g_autoptr (GError) error = NULL;

  g_test_message ("default expiry %" G_GUINT64_FORMAT "s", default_expiry);
  insert_expiry_cases (store);
  g_autoptr (GPtrArray) gone = sr_store_session_delete_expired (store, NOW, default_expiry, &error);
  g_assert_no_error (error);
  g_assert_nonnull (gone);
  g_auto (GStrv) sorted = sorted_ids (gone);
  g_assert_cmpstrv (sorted, expected);

  for (guint i = 0; expected[i] != NULL; i++) {
    g_autoptr (SrSessionRecord) r = sr_store_session_get (store, expected[i], &error);
    g_assert_null (r);
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }
  g_autoptr (GPtrArray) left = sr_store_session_list_ids (store, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (left->len + g_strv_length ((GStrv) expected), ==, 6);

  /* A second pass at the same instant finds nothing more. */
  g_autoptr (GPtrArray) again
      = sr_store_session_delete_expired (store, NOW, default_expiry, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->len, ==, 0);

  g_clear_pointer (&store, sr_store_close);
  sr_test_remove_tree (dir);
}

static void
test_expire_default (void)
{
  assert_expired (3600, (const char *const[]){ ID_A, ID_D, ID_E, NULL });
}

/* Two hours idle against a two-hour default: due at exactly that instant. */
static void
test_expire_default_boundary (void)
{
  assert_expired (2 * 3600, (const char *const[]){ ID_A, ID_D, NULL });
}

static void
test_expire_default_longer (void)
{
  assert_expired (3 * 3600, (const char *const[]){ ID_D, NULL });
}

static void
test_expire_default_never (void)
{
  assert_expired (0, (const char *const[]){ ID_D, NULL });
}

/* Removing a document takes its chunks and their search entries along; removing a
 * session takes its documents; a file stays while a document uses it. */
static void
test_documents_cascade (Fixture *f, gconstpointer data)
{
  sqlite3 *db = fixture_open (f);
  run_ok (db, version_rows[1].insert);

  run_ok (db, "DELETE FROM documents WHERE id = '" ID_E "'");
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM chunks"), ==, 0);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'cafe'"),
                   ==, 0);
  g_assert_cmpint (query_int (db, "SELECT document_count FROM sessions WHERE id = '" ID_D "'"), ==,
                   1);

  /* ON DELETE RESTRICT fails at once, reported by SQLite as a trigger constraint. */
  g_assert_cmpint (run (db, "DELETE FROM files WHERE sha256 = '" SHA_1 "'") & 0xff, ==,
                   SQLITE_CONSTRAINT);
  run_ok (db, "DELETE FROM sessions WHERE id = '" ID_D "'");
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM documents"), ==, 0);
  run_ok (db, "DELETE FROM files WHERE sha256 = '" SHA_1 "'");

  g_assert_cmpint (run (db, "INSERT INTO documents (id, session_id, file_sha256, filename,"
                            " state, created_at, updated_at) VALUES ('" ID_E "', '" ID_D
                            "', '" SHA_1 "', 'x', 'stored', 1, 1)"),
                   ==, SQLITE_CONSTRAINT_FOREIGNKEY);
}

/* States and progress are what the document contract says, nothing else. */
static void
test_documents_checks (Fixture *f, gconstpointer data)
{
  sqlite3 *db = fixture_open (f);
  run_ok (db, version_rows[1].insert);

  g_assert_cmpint (run (db, "UPDATE documents SET state = 'done' WHERE id = '" ID_E "'"), ==,
                   SQLITE_CONSTRAINT_CHECK);
  g_assert_cmpint (run (db, "UPDATE documents SET progress = 1.5 WHERE id = '" ID_E "'"), ==,
                   SQLITE_CONSTRAINT_CHECK);
  g_assert_cmpint (run (db, "INSERT INTO files (sha256, size, created_at) VALUES ('abc', 1, 1)"),
                   ==, SQLITE_CONSTRAINT_CHECK);
  g_assert_cmpint (run (db, "INSERT INTO chunks (document_id, session_id, ordinal, text) VALUES"
                            " ('" ID_E "', '" ID_D "', 0, 'again')"),
                   ==, SQLITE_CONSTRAINT_UNIQUE);
  g_assert_cmpint (run (db, "INSERT INTO chunks (document_id, session_id, ordinal, page, text)"
                            " VALUES ('" ID_E "', '" ID_D "', 5, 0, 'page zero')"),
                   ==, SQLITE_CONSTRAINT_CHECK);
}

static char *
token_sql (const char *id, const char *owner, const char *name, const char *hash,
           const char *last_used)
{
  return g_strdup_printf ("INSERT INTO tokens (id, owner_uid, name, secret_sha256, created_at, "
                          "last_used) VALUES (%s, %s, %s, %s, 1, %s)",
                          id, owner, name, hash, last_used);
}

static void
assert_token_insert (sqlite3 *db, const char *id, const char *owner, const char *name,
                     const char *hash, const char *last_used, int expected)
{
  g_autofree char *sql = token_sql (id, owner, name, hash, last_used);
  g_test_message ("%s", sql);
  g_assert_cmpint (run (db, sql), ==, expected);
}

/* Ids as everywhere, an owner who exists, a name, and a hash of exactly SHA-256's size. */
static void
test_tokens_checks (Fixture *f, gconstpointer data)
{
  sqlite3 *db = open_with_user (f);
  const char *hash = "x'" HASH_1 "'";

  assert_token_insert (db, "'" ID_A "'", "1001", "'n'", hash, "NULL", SQLITE_CONSTRAINT_FOREIGNKEY);
  assert_token_insert (db, "'0123456789ABCDEF0123456789ABCDEF'", "1000", "'n'", hash, "NULL",
                       SQLITE_CONSTRAINT_CHECK);
  assert_token_insert (db, "'" ID_A "'", "1000", "''", hash, "NULL", SQLITE_CONSTRAINT_CHECK);
  assert_token_insert (db, "'" ID_A "'", "1000", "NULL", hash, "NULL", SQLITE_CONSTRAINT_NOTNULL);
  assert_token_insert (db, "'" ID_A "'", "1000", "'n'", "x'00'", "NULL", SQLITE_CONSTRAINT_CHECK);
  /* STRICT: the hash is bytes, not their hexadecimal text. */
  assert_token_insert (db, "'" ID_A "'", "1000", "'n'", "'" HASH_1 "'", "NULL",
                       SQLITE_CONSTRAINT_DATATYPE);
  assert_token_insert (db, "'" ID_A "'", "1000", "'n'", hash, "-1", SQLITE_CONSTRAINT_CHECK);
  assert_token_insert (db, "'" ID_A "'", "1000", "'n'", hash, "NULL", SQLITE_OK);
  assert_token_insert (db, "'" ID_A "'", "1000", "'m'", hash, "5", SQLITE_CONSTRAINT_PRIMARYKEY);
}

static SrTokenRecord *
token_record (const char *id, guint32 owner, gint64 created_at)
{
  SrTokenRecord *record = g_new0 (SrTokenRecord, 1);
  record->id = g_strdup (id);
  record->owner_uid = owner;
  record->name = g_strdup ("laptop \xe2\x9c\x93");
  memset (record->secret_sha256, 0xab, sizeof record->secret_sha256);
  record->created_at = created_at;
  return record;
}

static void
insert_token (SrStore *store, const char *id, guint32 owner, gint64 created_at)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrTokenRecord) record = token_record (id, owner, created_at);
  g_assert_true (sr_store_token_insert (store, record, &error));
  g_assert_no_error (error);
}

static void
test_tokens_rows (Fixture *f, gconstpointer data)
{
  sqlite3 *db = fixture_open (f);
  g_autoptr (GError) error = NULL;
  guint64 count = 99;

  insert_token (f->store, ID_B, 1000, T0 + SECOND);
  insert_token (f->store, ID_A, 1000, T0);
  insert_token (f->store, ID_C, 1001, T0);
  /* The owner is recorded on first sight, as for sessions. */
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM users"), ==, 2);

  g_autoptr (GPtrArray) mine = sr_store_token_list (f->store, 1000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mine->len, ==, 2);
  SrTokenRecord *oldest = mine->pdata[0];
  g_assert_cmpstr (oldest->id, ==, ID_A);
  g_assert_cmpstr (oldest->name, ==, "laptop \xe2\x9c\x93");
  g_assert_cmpint (oldest->created_at, ==, T0);
  g_assert_cmpint (oldest->last_used, ==, 0);
  g_assert_cmpuint (oldest->secret_sha256[0], ==, 0); /* listings do not read hashes */
  g_assert_true (sr_store_token_count_owned (f->store, 1000, &count, &error));
  g_assert_cmpuint (count, ==, 2);

  g_autoptr (SrTokenRecord) found = sr_store_token_lookup (f->store, ID_C, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (found->owner_uid, ==, 1001);
  g_assert_cmpuint (found->secret_sha256[SR_TOKEN_HASH_BYTES - 1], ==, 0xab);
  g_assert_null (sr_store_token_lookup (f->store, ID_D, &error));
  g_assert_no_error (error);

  /* Only the owner's delete removes a token. */
  g_assert_false (sr_store_token_delete (f->store, ID_C, 1000, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (sr_store_token_delete (f->store, ID_C, 1001, &error));
  g_assert_no_error (error);
  g_assert_null (sr_store_token_lookup (f->store, ID_C, &error));
}

/* Noting a use never waits for a transaction of ours: it is left for a later request. */
static void
test_tokens_touch (Fixture *f, gconstpointer data)
{
  sqlite3 *db = fixture_open (f);
  g_autoptr (GError) error = NULL;
  gboolean done = FALSE;
  insert_token (f->store, ID_A, 1000, T0);

  g_assert_true (sr_store_token_touch (f->store, ID_A, T0 + HOUR, &done, &error));
  g_assert_no_error (error);
  g_assert_true (done);
  g_assert_cmpint (query_int (db, "SELECT last_used FROM tokens"), ==, T0 + HOUR);

  g_autoptr (GError) acquire_error = NULL;
  g_autoptr (SrStoreLease) worker = sr_store_acquire (f->store, &acquire_error);
  g_assert_no_error (acquire_error);
  g_assert_true (sr_store_begin (worker, &error));
  g_assert_true (sr_store_token_touch (f->store, ID_A, T0 + 2 * HOUR, &done, &error));
  g_assert_no_error (error);
  g_assert_false (done);
  sr_store_rollback (worker);
  g_assert_cmpint (query_int (db, "SELECT last_used FROM tokens"), ==, T0 + HOUR);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/store/open/creates", test_open_creates);
  ADD ("/store/open/wal-persists", test_open_wal_persists);
  ADD ("/store/connections/share-lock", test_connections_share_lock);
  ADD ("/store/open/empty-file", test_open_empty_file);
  ADD ("/store/open/reopen-keeps-rows", test_open_reopen_keeps_rows);
  ADD ("/store/open/missing-dir", test_open_missing_dir);
  ADD ("/store/open/dir-is-file", test_open_dir_is_file);
  ADD ("/store/refuse/newer-version", test_refuse_newer);
  ADD ("/store/refuse/newer-version-wal", test_refuse_newer_wal);
  ADD ("/store/refuse/random-bytes", test_refuse_random_bytes);
  ADD ("/store/refuse/text-file", test_refuse_text_file);
  ADD ("/store/refuse/truncated-header", test_refuse_truncated_header);
  ADD ("/store/refuse/damaged-pages", test_refuse_damaged_pages);
  g_test_add_func ("/store/refuse/unwritable-dir", test_unwritable_dir);
  g_test_add_func ("/store/refuse/unwritable-file", test_unwritable_file);
  g_test_add_func ("/store/migrations/history", test_migration_history);
  g_test_add_func ("/store/migrations/fixtures-complete", test_fixtures_complete);
  g_test_add_func ("/store/migrations/from-each-version", test_migrate_from_each_version);
  ADD ("/store/migrations/step-by-step", test_migrate_step_by_step);
  ADD ("/store/migrations/idempotent", test_migrate_idempotent);
  ADD ("/store/migrations/atomic", test_migrate_atomic);
  ADD ("/store/migrations/copy-keeps-last", test_pre_migration_keeps_last);
  ADD ("/store/migrations/copy-fails", test_pre_migration_copy_fails);
  ADD ("/store/constraints/foreign-key-owner", test_foreign_key_owner);
  ADD ("/store/constraints/unique", test_unique_keys);
  ADD ("/store/constraints/id", test_check_id);
  ADD ("/store/constraints/context", test_check_context);
  ADD ("/store/constraints/counts", test_check_counts);
  ADD ("/store/constraints/uid", test_check_uid);
  ADD ("/store/statements/cache", test_statement_cache);
  ADD ("/store/transactions", test_transactions);
  ADD ("/store/sessions/round-trip", test_session_round_trip);
  ADD ("/store/sessions/default-expiry", test_session_default_expiry);
  ADD ("/store/sessions/user-seen", test_session_user_seen);
  ADD ("/store/sessions/insert-atomic", test_session_insert_atomic);
  ADD ("/store/sessions/duplicate", test_session_duplicate);
  ADD ("/store/sessions/not-found", test_session_not_found);
  ADD ("/store/sessions/owner", test_session_owner);
  ADD ("/store/sessions/list-and-count", test_session_list_and_count);
  ADD ("/store/sessions/updates", test_session_updates);
  ADD ("/store/sessions/bad-context-update", test_session_bad_context_update);
  ADD ("/store/sessions/delete", test_session_delete);
  ADD ("/store/documents/cascade", test_documents_cascade);
  ADD ("/store/documents/checks", test_documents_checks);
  ADD ("/store/tokens/checks", test_tokens_checks);
  ADD ("/store/tokens/rows", test_tokens_rows);
  ADD ("/store/tokens/touch", test_tokens_touch);
  g_test_add_func ("/store/expiry/default", test_expire_default);
  g_test_add_func ("/store/expiry/default-longer", test_expire_default_longer);
  g_test_add_func ("/store/expiry/default-never", test_expire_default_never);
  g_test_add_func ("/store/expiry/default-boundary", test_expire_default_boundary);
#undef ADD

  return g_test_run ();
}
