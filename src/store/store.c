/* The SQLite database: opening, pragmas, schema migrations and cached statements. */
#include "build-config.h"

#include "store/store.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "common/errors.h"
#include "store/chunks.h"
#include "store/migrations.h"

/* How long a statement waits for a lock another connection holds. */
#define BUSY_TIMEOUT_MS 5000

struct SrStore {
  char *path;
  sqlite3 *db;
  GHashTable *statements; /* SQL text (static) → sqlite3_stmt */
};

const char *
sr_store_path (SrStore *store)
{
  return store->path;
}

sqlite3 *
sr_store_db (SrStore *store)
{
  return store->db;
}

int
sr_store_latest_version (void)
{
  guint n;
  const SrMigration *all = sr_migrations (&n);
  return all[n - 1].version;
}

static void
set_sqlite_error (sqlite3 *db, GError **error, const char *path, const char *doing)
{
  int code = sqlite3_extended_errcode (db);
  const char *detail = sqlite3_errmsg (db);

  switch (code & 0xff) {
  case SQLITE_FULL:
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot %s: the disk holding %s is full; free some space and try again"), doing,
                 path);
    return;
  case SQLITE_NOTADB:
  case SQLITE_CORRUPT:
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot %s: %s is not a SmartRAG database or is damaged (%s). It was left "
                    "untouched: move it aside to start empty, or restore a backup"),
                 doing, path, detail);
    return;
  case SQLITE_READONLY:
  case SQLITE_CANTOPEN:
  case SQLITE_PERM:
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot %s: %s cannot be opened for writing (%s); check that the state "
                    "directory and the file belong to the user smartragd runs as"),
                 doing, path, detail);
    return;
  default:
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED, _ ("Cannot %s in %s: %s"), doing,
                 path, detail);
  }
}

gboolean
sr_store_fail (SrStore *store, GError **error, const char *doing)
{
  set_sqlite_error (store->db, error, store->path, doing);
  return FALSE;
}

static gboolean
exec (sqlite3 *db, const char *sql, const char *path, const char *doing, GError **error)
{
  if (sqlite3_exec (db, sql, NULL, NULL, NULL) == SQLITE_OK)
    return TRUE;
  set_sqlite_error (db, error, path, doing);
  return FALSE;
}

static gboolean
read_version (sqlite3 *db, const char *path, int *version, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  if (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK
      || sqlite3_step (stmt) != SQLITE_ROW) {
    set_sqlite_error (db, error, path, _ ("read the schema version"));
    sqlite3_finalize (stmt);
    return FALSE;
  }
  *version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  return TRUE;
}

gboolean
sr_store_migrate_to (sqlite3 *db, int target, const char *path, GError **error)
{
  guint n;
  const SrMigration *all = sr_migrations (&n);
  int current;

  if (!read_version (db, path, &current, error))
    return FALSE;

  for (guint i = 0; i < n; i++) {
    const SrMigration *m = &all[i];
    if (m->version <= current || m->version > target)
      continue;

    g_autofree char *doing
        = g_strdup_printf (_ ("migrate the schema to version %d (%s)"), m->version, m->summary);
    g_autofree char *bump = g_strdup_printf ("PRAGMA user_version = %d", m->version);
    if (!exec (db, "BEGIN IMMEDIATE", path, doing, error))
      return FALSE;
    if (!exec (db, m->sql, path, doing, error) || !exec (db, bump, path, doing, error)
        || !exec (db, "COMMIT", path, doing, error)) {
      sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
    g_info ("Migrated %s to schema version %d (%s)", path, m->version, m->summary);
  }
  return TRUE;
}

static gboolean
check_access (const char *state_dir, const char *path, GError **error)
{
  /* SQLite's own message for these is "unable to open database file", which names
   * neither the file nor the reason. */
  if (access (state_dir, W_OK | X_OK) != 0) {
    int saved = errno;
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot use the state directory %s: %s"), state_dir, g_strerror (saved));
    return FALSE;
  }
  if (access (path, F_OK) == 0 && access (path, R_OK | W_OK) != 0) {
    int saved = errno;
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot open %s for reading and writing: %s; check its owner and mode"), path,
                 g_strerror (saved));
    return FALSE;
  }
  return TRUE;
}

static gboolean
configure (sqlite3 *db, const char *path, GError **error)
{
  /* Read first so a foreign or damaged file fails before anything is written to it. */
  if (!exec (db, "SELECT count(*) FROM sqlite_schema", path, _ ("read the database"), error))
    return FALSE;
  sqlite3_busy_timeout (db, BUSY_TIMEOUT_MS);
  return exec (db,
               "PRAGMA journal_mode = WAL;"
               /* In WAL mode NORMAL keeps every commit through a crash or kill -9 and never
                * corrupts; only a power cut may roll back the last commits. Paying an fsync
                * per commit (FULL) is kept for writes that promise more than that. */
               "PRAGMA synchronous = NORMAL;"
               "PRAGMA foreign_keys = ON;",
               path, _ ("configure the database"), error);
}

static gboolean
check_version (sqlite3 *db, const char *path, GError **error)
{
  int version;
  if (!read_version (db, path, &version, error))
    return FALSE;
  if (version <= sr_store_latest_version ())
    return TRUE;
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
               _ ("%s has schema version %d, but this smartragd (%s) knows versions up to %d: it "
                  "was written by a newer SmartRAG. Run that version again, or restore a backup "
                  "made with this one. The file was left untouched"),
               path, version, PACKAGE_VERSION, sr_store_latest_version ());
  return FALSE;
}

static void
finalize_statement (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

SrStore *
sr_store_open (const char *state_dir, GError **error)
{
  g_autofree char *path = g_build_filename (state_dir, SR_STORE_FILENAME, NULL);
  sqlite3 *db = NULL;

  if (!check_access (state_dir, path, error))
    return NULL;

  int rc = sqlite3_open_v2 (path, &db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
                                | SQLITE_OPEN_EXRESCODE,
                            NULL);
  if (rc != SQLITE_OK) {
    set_sqlite_error (db, error, path, _ ("open the database"));
    sqlite3_close (db);
    return NULL;
  }

  if (!check_version (db, path, error) || !configure (db, path, error)
      || !sr_store_migrate_to (db, sr_store_latest_version (), path, error)) {
    sqlite3_close (db);
    return NULL;
  }
  if (!sr_store_chunks_register_functions (db)) {
    set_sqlite_error (db, error, path, _ ("set up full-text search"));
    sqlite3_close (db);
    return NULL;
  }

  SrStore *store = g_new0 (SrStore, 1);
  store->path = g_steal_pointer (&path);
  store->db = db;
  store->statements
      = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, finalize_statement);
  return store;
}

void
sr_store_close (SrStore *store)
{
  if (store == NULL)
    return;
  g_hash_table_destroy (store->statements);
  /* A clean close checkpoints the WAL, so the next start reads one file. */
  if (sqlite3_close (store->db) != SQLITE_OK)
    g_warning ("Closing %s: %s", store->path, sqlite3_errmsg (store->db));
  g_free (store->path);
  g_free (store);
}

int
sr_store_schema_version (SrStore *store)
{
  int version = 0;
  g_autoptr (GError) error = NULL;
  if (!read_version (store->db, store->path, &version, &error))
    g_warning ("%s", error->message);
  return version;
}

sqlite3_stmt *
sr_store_statement (SrStore *store, const char *sql, GError **error)
{
  /* Keyed by address: callers pass string literals, so each statement is prepared once. */
  sqlite3_stmt *stmt = g_hash_table_lookup (store->statements, sql);
  if (stmt != NULL)
    return stmt;
  if (sqlite3_prepare_v3 (store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL)
      != SQLITE_OK) {
    sr_store_fail (store, error, _ ("prepare a query"));
    return NULL;
  }
  g_hash_table_insert (store->statements, (gpointer) sql, stmt);
  return stmt;
}

gboolean
sr_store_begin (SrStore *store, GError **error)
{
  return exec (store->db, "BEGIN IMMEDIATE", store->path, _ ("start a transaction"), error);
}

gboolean
sr_store_commit (SrStore *store, GError **error)
{
  if (exec (store->db, "COMMIT", store->path, _ ("commit a transaction"), error))
    return TRUE;
  sr_store_rollback (store);
  return FALSE;
}

void
sr_store_rollback (SrStore *store)
{
  if (sqlite3_get_autocommit (store->db))
    return;
  sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
}

gboolean
sr_store_json_parse (SrStore *store, const char *text, char **type, char **minified, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store,
                            "SELECT CASE WHEN json_valid(?1) THEN json_type(?1) END,"
                            "       CASE WHEN json_valid(?1) THEN json(?1) END",
                            error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, text, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return sr_store_fail (store, error, _ ("parse JSON"));
  if (sqlite3_column_type (stmt, 0) == SQLITE_NULL)
    return FALSE;
  *type = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  *minified = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  return TRUE;
}

gboolean
sr_store_check_writable (SrStore *store, GError **error)
{
  /* BEGIN IMMEDIATE takes the write lock, so a read-only or locked database shows here.
   * It must not wait for a lock held elsewhere: health is asked on the main loop. */
  sqlite3_busy_timeout (store->db, 0);
  int rc = sqlite3_exec (store->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  sqlite3_busy_timeout (store->db, BUSY_TIMEOUT_MS);
  if (rc == SQLITE_OK) {
    sr_store_rollback (store);
    return TRUE;
  }
  if ((rc & 0xff) == SQLITE_BUSY) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BUSY,
                 _ ("%s is locked by another writer right now"), store->path);
    return FALSE;
  }
  return sr_store_fail (store, error, _ ("start a transaction"));
}
