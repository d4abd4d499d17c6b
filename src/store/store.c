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
#include "store/pre-migration.h"

/* How long a statement waits for a lock another connection holds. */
#define BUSY_TIMEOUT_MS 5000

/* What the connections to one database share. Every write transaction of the process
 * holds the write lock, so a connection that finds the database locked waits on it, woken
 * the moment the writer commits, instead of sleeping in SQLite's coarse steps. The lock is
 * a ticket lock: writers take turns in the order they came, so a long job that commits in
 * steps lets the main loop's short writes in between instead of taking the lock back
 * before they wake. */
typedef struct {
  GMutex write_lock; /* guards the three fields below */
  GCond write_turn;
  guint64 next_ticket;
  guint64 serving;
  GThread *writer; /* the thread whose turn it is, NULL when none writes */
  guint blocked;   /* statements outside a transaction waiting in the busy handler */
  GMutex pool_lock;
  GPtrArray *idle; /* SrStore: connections for other threads, not in use */
  guint leased;
} Family;

struct SrStore {
  char *path;
  sqlite3 *db;
  GHashTable *statements; /* SQL text (static) → sqlite3_stmt */
  Family *family;         /* owned by the first connection, borrowed by the others */
  SrStore *primary;       /* NULL on the first connection */
  gboolean writing;       /* this connection holds the family's write lock */
  GData *data;            /* sr_store_set_data_full() */
  gint64 busy_since;
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
  /* Until the connection has its own busy handler (wait_for_writer). */
  sqlite3_busy_timeout (db, BUSY_TIMEOUT_MS);
  /* On every connection: searches run on whichever one their thread has. */
  if (!sr_store_chunks_register_functions (db)) {
    set_sqlite_error (db, error, path, _ ("set up full-text search"));
    return FALSE;
  }
  return exec (db,
               "PRAGMA journal_mode = WAL;"
               /* In WAL mode NORMAL keeps every commit through a crash or kill -9 and never
                * corrupts; only a power cut may roll back the last commits. Paying an fsync
                * per commit (FULL) is kept for writes that promise more than that. */
               "PRAGMA synchronous = NORMAL;"
               /* Not mapped: SQLite drops a connection's whole mapping when any other
                * connection has written since its last read, and maps and faults the pages
                * in again. Every question writes its messages, so the next search paid
                * for that: at 100,000 chunks, Search with one write between searches took
                * p50 53-76 ms mapped against 17-18 ms read through the page cache (13 ms
                * either way without writes). */
               "PRAGMA mmap_size = 0;"
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

/* A database that holds data and is about to be migrated is copied first; a new one
 * (version 0) has nothing to keep. */
static gboolean
copy_if_migrating (sqlite3 *db, const char *path, GError **error)
{
  int version;
  if (!read_version (db, path, &version, error))
    return FALSE;
  if (version == 0 || version >= sr_store_latest_version ())
    return TRUE;
  return sr_store_copy_before_migration (db, path, version, sr_store_latest_version (), error);
}

static void
finalize_statement (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

/* SQLite's busy handler: another connection of this process holds the write lock, or
 * (rarely) another process does. */
static int
wait_for_writer (void *data, int attempts)
{
  SrStore *store = data;
  Family *family = store->family;
  gint64 now = g_get_monotonic_time ();

  if (attempts == 0)
    store->busy_since = now;
  if (now - store->busy_since > BUSY_TIMEOUT_MS * (gint64) 1000)
    return 0;
  GThread *writer = g_atomic_pointer_get (&family->writer);
  if (writer != NULL && writer != g_thread_self ()) {
    /* Counted, so that a long job that yields (sr_store_yield) lets this one in too. */
    gint64 deadline = g_get_monotonic_time () + 100 * G_TIME_SPAN_MILLISECOND;
    g_mutex_lock (&family->write_lock);
    family->blocked++;
    guint64 turn = family->serving;
    while (family->writer != NULL && family->serving == turn)
      if (!g_cond_wait_until (&family->write_turn, &family->write_lock, deadline))
        break;
    family->blocked--;
    g_cond_broadcast (&family->write_turn);
    g_mutex_unlock (&family->write_lock);
    return 1;
  }
  /* A lock taken outside a transaction of ours, or by another process: poll briefly. */
  g_usleep (MIN (attempts + 1, 10) * 100);
  return 1;
}

static void
use_busy_handler (SrStore *store)
{
  sqlite3_busy_handler (store->db, wait_for_writer, store);
}

static SrStore *
store_new (char *path, sqlite3 *db, Family *family, SrStore *primary)
{
  SrStore *store = g_new0 (SrStore, 1);
  store->path = path;
  store->db = db;
  store->statements
      = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, finalize_statement);
  store->family = family;
  store->primary = primary;
  use_busy_handler (store);
  return store;
}

static int
open_flags (void)
{
  return SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
}

SrStore *
sr_store_open (const char *state_dir, GError **error)
{
  g_autofree char *path = g_build_filename (state_dir, SR_STORE_FILENAME, NULL);
  sqlite3 *db = NULL;

  if (!check_access (state_dir, path, error))
    return NULL;

  int rc = sqlite3_open_v2 (path, &db, open_flags (), NULL);
  if (rc != SQLITE_OK) {
    set_sqlite_error (db, error, path, _ ("open the database"));
    sqlite3_close (db);
    return NULL;
  }

  if (!check_version (db, path, error) || !configure (db, path, error)
      || !copy_if_migrating (db, path, error)
      || !sr_store_migrate_to (db, sr_store_latest_version (), path, error)) {
    sqlite3_close (db);
    return NULL;
  }
  Family *family = g_new0 (Family, 1);
  g_mutex_init (&family->write_lock);
  g_cond_init (&family->write_turn);
  g_mutex_init (&family->pool_lock);
  family->idle = g_ptr_array_new ();
  return store_new (g_steal_pointer (&path), db, family, NULL);
}

static void
close_connection (SrStore *store)
{
  g_hash_table_destroy (store->statements);
  g_datalist_clear (&store->data);
  /* A clean close of the last connection checkpoints the WAL, so the next start reads
   * one file. */
  if (sqlite3_close (store->db) != SQLITE_OK)
    g_warning ("Closing %s: %s", store->path, sqlite3_errmsg (store->db));
  g_free (store->path);
  g_free (store);
}

void
sr_store_close (SrStore *store)
{
  if (store == NULL)
    return;
  g_return_if_fail (store->primary == NULL);
  Family *family = store->family;
  /* Threads give their connections back before the database is closed. */
  if (family->leased > 0)
    g_critical ("Closing %s while %u connection(s) are in use", store->path, family->leased);
  for (guint i = 0; i < family->idle->len; i++)
    close_connection (family->idle->pdata[i]);
  g_ptr_array_unref (family->idle);
  close_connection (store);
  g_mutex_clear (&family->write_lock);
  g_cond_clear (&family->write_turn);
  g_mutex_clear (&family->pool_lock);
  g_free (family);
}

SrStore *
sr_store_acquire (SrStore *store, GError **error)
{
  SrStore *primary = store->primary != NULL ? store->primary : store;
  Family *family = primary->family;
  SrStore *connection = NULL;

  g_mutex_lock (&family->pool_lock);
  if (family->idle->len > 0)
    connection = g_ptr_array_steal_index_fast (family->idle, family->idle->len - 1);
  family->leased++;
  g_mutex_unlock (&family->pool_lock);
  if (connection != NULL)
    return connection;

  sqlite3 *db = NULL;
  gboolean opened = sqlite3_open_v2 (primary->path, &db, open_flags (), NULL) == SQLITE_OK;
  if (!opened)
    set_sqlite_error (db, error, primary->path, _ ("open the database"));
  /* The schema is the primary's: no migration, only the same settings. */
  if (!opened || !configure (db, primary->path, error)) {
    sqlite3_close (db);
    g_mutex_lock (&family->pool_lock);
    family->leased--;
    g_mutex_unlock (&family->pool_lock);
    return NULL;
  }
  return store_new (g_strdup (primary->path), db, family, primary);
}

void
sr_store_release (SrStore *connection)
{
  if (connection == NULL)
    return;
  g_return_if_fail (connection->primary != NULL);
  Family *family = connection->family;
  if (connection->writing) {
    g_critical ("A connection to %s was given back inside a transaction", connection->path);
    sr_store_rollback (connection);
  }
  g_mutex_lock (&family->pool_lock);
  g_ptr_array_add (family->idle, connection);
  family->leased--;
  g_mutex_unlock (&family->pool_lock);
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

void
sr_store_lock_writes (SrStore *store)
{
  Family *family = store->family;
  g_mutex_lock (&family->write_lock);
  guint64 ticket = family->next_ticket++;
  while (family->serving != ticket)
    g_cond_wait (&family->write_turn, &family->write_lock);
  g_atomic_pointer_set (&family->writer, g_thread_self ());
  g_mutex_unlock (&family->write_lock);
  store->writing = TRUE;
}

gboolean
sr_store_try_lock_writes (SrStore *store)
{
  if (store->writing)
    return FALSE;
  Family *family = store->family;
  g_mutex_lock (&family->write_lock);
  /* Only when no one writes or waits: a ticket taken now would wait its turn. */
  gboolean idle = family->serving == family->next_ticket;
  if (idle) {
    family->next_ticket++;
    g_atomic_pointer_set (&family->writer, g_thread_self ());
  }
  g_mutex_unlock (&family->write_lock);
  store->writing = idle;
  return idle;
}

void
sr_store_unlock_writes (SrStore *store)
{
  if (!store->writing)
    return;
  Family *family = store->family;
  store->writing = FALSE;
  g_mutex_lock (&family->write_lock);
  g_atomic_pointer_set (&family->writer, NULL);
  family->serving++;
  g_cond_broadcast (&family->write_turn);
  g_mutex_unlock (&family->write_lock);
}

gboolean
sr_store_writers_waiting (SrStore *store)
{
  Family *family = store->family;
  g_mutex_lock (&family->write_lock);
  gboolean waiting = family->next_ticket - family->serving > 1 || family->blocked > 0;
  g_mutex_unlock (&family->write_lock);
  return waiting;
}

/* After a commit: lets the statements that waited in the busy handler write before this
 * thread takes the lock again, as the waiting transactions do by their tickets. */
static void
let_blocked_through (Family *family)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_MILLISECOND;
  g_mutex_lock (&family->write_lock);
  while (family->blocked > 0)
    if (!g_cond_wait_until (&family->write_turn, &family->write_lock, deadline))
      break;
  g_mutex_unlock (&family->write_lock);
}

gboolean
sr_store_yield (SrStore *store, gboolean *yielded, GError **error)
{
  if (!store->writing || !sr_store_writers_waiting (store))
    return TRUE;
  if (!sr_store_commit (store, error))
    return FALSE;
  *yielded = TRUE;
  let_blocked_through (store->family);
  /* A new ticket: every transaction that was waiting goes first. */
  return sr_store_begin (store, error);
}

gboolean
sr_store_begin (SrStore *store, GError **error)
{
  if (store->writing) {
    /* Taking the lock again would wait for ourselves. */
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot start a transaction in %s: one is already open"), store->path);
    return FALSE;
  }
  sr_store_lock_writes (store);
  if (exec (store->db, "BEGIN IMMEDIATE", store->path, _ ("start a transaction"), error))
    return TRUE;
  sr_store_unlock_writes (store);
  return FALSE;
}

gboolean
sr_store_begin_read (SrStore *store, gboolean *started, GError **error)
{
  *started = FALSE;
  if (!sqlite3_get_autocommit (store->db))
    return TRUE;
  /* Deferred, so never the write lock; reading the header takes the snapshot now, so
   * that every statement of the read sees the same database. */
  if (!exec (store->db, "BEGIN; PRAGMA schema_version", store->path, _ ("start reading"), error)) {
    sr_store_end_read (store, TRUE);
    return FALSE;
  }
  *started = TRUE;
  return TRUE;
}

void
sr_store_end_read (SrStore *store, gboolean started)
{
  if (started && !sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "COMMIT", NULL, NULL, NULL);
}

gpointer
sr_store_get_data (SrStore *store, const char *key)
{
  return g_datalist_get_data (&store->data, key);
}

void
sr_store_set_data_full (SrStore *store, const char *key, gpointer data, GDestroyNotify destroy)
{
  g_datalist_set_data_full (&store->data, key, data, destroy);
}

gboolean
sr_store_commit (SrStore *store, GError **error)
{
  if (exec (store->db, "COMMIT", store->path, _ ("commit a transaction"), error)) {
    sr_store_unlock_writes (store);
    return TRUE;
  }
  sr_store_rollback (store);
  return FALSE;
}

void
sr_store_rollback (SrStore *store)
{
  if (!sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
  sr_store_unlock_writes (store);
}

gboolean
sr_store_in_transaction (SrStore *store, SrStoreWork work, gconstpointer data, GError **error)
{
  if (!sr_store_begin (store, error))
    return FALSE;
  if (!work (store, data, error)) {
    sr_store_rollback (store);
    return FALSE;
  }
  return sr_store_commit (store, error);
}

gboolean
sr_store_step_done (SrStore *store, sqlite3_stmt *stmt, const char *doing, GError **error)
{
  if (sqlite3_step (stmt) == SQLITE_DONE)
    return TRUE;
  return sr_store_fail (store, error, doing);
}

gboolean
sr_store_user_seen (SrStore *store, guint32 uid, gint64 now, const char *doing, GError **error)
{
  g_autoptr (sqlite3_stmt) user
      = sr_store_statement (store,
                            "INSERT INTO users (uid, created_at, last_seen) VALUES (?1, ?2, ?2) "
                            "ON CONFLICT (uid) DO UPDATE SET last_seen = excluded.last_seen",
                            error);
  if (user == NULL)
    return FALSE;
  sqlite3_bind_int64 (user, 1, uid);
  sqlite3_bind_int64 (user, 2, now);
  return sr_store_step_done (store, user, doing, error);
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
  /* A transaction of ours under way proves the database writable, and waiting for it
   * would stall the main loop, where health is asked. */
  if (!sr_store_try_lock_writes (store))
    return TRUE;

  /* BEGIN IMMEDIATE takes the write lock, so a read-only database, or one locked by
   * another process, shows here; it must not wait. */
  sqlite3_busy_timeout (store->db, 0);
  int rc = sqlite3_exec (store->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  use_busy_handler (store);
  if (rc == SQLITE_OK) {
    sr_store_rollback (store);
    return TRUE;
  }
  sr_store_unlock_writes (store);
  if ((rc & 0xff) == SQLITE_BUSY) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BUSY,
                 _ ("%s is locked by another writer right now"), store->path);
    return FALSE;
  }
  return sr_store_fail (store, error, _ ("start a transaction"));
}
