/* The SQLite database: opening, pragmas, schema migrations and cached statements. */
#pragma once

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

typedef struct SrStore SrStore;

#define SR_STORE_FILENAME "smartrag.db"

/* Opens (creating when absent) smartrag.db in @state_dir and migrates it to the newest
 * schema. A database that is corrupt, unwritable or from a newer SmartRAG is refused with
 * an error that says what to do, and is never modified. */
SrStore *sr_store_open (const char *state_dir, GError **error);
void sr_store_close (SrStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrStore, sr_store_close)

/* Another connection to the same database, for a thread other than the one using
 * @store: taken from a pool, or opened. Give it back with sr_store_release() before the
 * database is closed. All connections share one write lock: sr_store_begin() on any of
 * them waits for a transaction under way on another, and a statement that meets a lock
 * waits for that transaction to end. */
SrStore *sr_store_acquire (SrStore *store, GError **error);
void sr_store_release (SrStore *connection);
typedef SrStore SrStoreLease;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrStoreLease, sr_store_release)

const char *sr_store_path (SrStore *store);
sqlite3 *sr_store_db (SrStore *store);

/* The schema version this build writes, and the one the open database has. */
int sr_store_latest_version (void);
int sr_store_schema_version (SrStore *store);

/* Applies the migrations from the database's version up to @target (tests use an
 * older target to build databases as earlier releases left them). */
gboolean sr_store_migrate_to (sqlite3 *db, int target, const char *path, GError **error);

/* A prepared statement kept for the life of the store; reset and unbound when the
 * g_autoptr holding it goes out of scope. */
sqlite3_stmt *sr_store_statement (SrStore *store, const char *sql, GError **error);

gboolean sr_store_begin (SrStore *store, GError **error);
/* One snapshot for several reads: what other connections commit meanwhile stays unseen
 * until sr_store_end_read(). Inside a transaction already, the reads are part of it and
 * @started is FALSE. */
gboolean sr_store_begin_read (SrStore *store, gboolean *started, GError **error);
void sr_store_end_read (SrStore *store, gboolean started);
/* What a module keeps with one connection, as g_object_set_data_full() does with an
 * object: caches valid for the connection's snapshot. Freed when the connection closes. */
gpointer sr_store_get_data (SrStore *store, const char *key);
void sr_store_set_data_full (SrStore *store, const char *key, gpointer data,
                             GDestroyNotify destroy);
/* The write lock alone, around a single statement outside a transaction: what a thread
 * other than the main one writes must not look like another process's lock to health. */
void sr_store_lock_writes (SrStore *store);
/* The same without waiting: FALSE when another transaction of ours holds the lock, for a
 * write on the main loop that can as well be done later. */
gboolean sr_store_try_lock_writes (SrStore *store);
void sr_store_unlock_writes (SrStore *store);
/* Whether another thread waits for the write lock this connection holds. */
gboolean sr_store_writers_waiting (SrStore *store);
/* Inside a long transaction: when another thread waits to write, commits what is written
 * so far, lets it (and any other waiting) write, and begins again; @yielded becomes TRUE.
 * A long job calls this between its steps so that the main loop never waits long for a
 * write of its own. On error no transaction is open. */
gboolean sr_store_yield (SrStore *store, gboolean *yielded, GError **error);
gboolean sr_store_commit (SrStore *store, GError **error);
void sr_store_rollback (SrStore *store);
/* Runs @work in a transaction of its own: committed when it returns TRUE, rolled back
 * when it fails. */
typedef gboolean (*SrStoreWork) (SrStore *store, gconstpointer data, GError **error);
gboolean sr_store_in_transaction (SrStore *store, SrStoreWork work, gconstpointer data,
                                  GError **error);

/* Turns the last SQLite failure into a SMARTRAG_ERROR saying what was being done. */
gboolean sr_store_fail (SrStore *store, GError **error, const char *doing);
/* Steps a statement that returns no rows; on failure, sr_store_fail() with @doing. */
gboolean sr_store_step_done (SrStore *store, sqlite3_stmt *stmt, const char *doing, GError **error);
/* Records that @uid did something at @now: the users row every owned row refers to. */
gboolean sr_store_user_seen (SrStore *store, guint32 uid, gint64 now, const char *doing,
                             GError **error);

/* Parses @text with SQLite's strict (RFC 8259) JSON parser, the one the tables' CHECK
 * constraints use. FALSE when it is not JSON; otherwise @type is SQLite's json_type of
 * the top value ("object", "array", "text", "integer", "real", "true", "false", "null")
 * and @minified the text without insignificant white space, numbers and escapes kept
 * exactly as written. */
gboolean sr_store_json_parse (SrStore *store, const char *text, char **type, char **minified,
                              GError **error);

/* Proves the database answers and can take a write lock, without writing or waiting:
 * TRUE while one of this process's connections is writing, SMARTRAG_ERROR_BUSY when
 * another process holds the lock. */
gboolean sr_store_check_writable (SrStore *store, GError **error);

static inline void
sr_statement_release (sqlite3_stmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sr_statement_release)

G_END_DECLS
