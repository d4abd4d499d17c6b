/* The schema history: one entry per version, each applied in one transaction. */
#include "store/migrations.h"

/* Append only: a released migration is never edited, a later one changes what it made. */
static const SrMigration migrations[] = {
  {
      1,
      "users and sessions",
      "CREATE TABLE users ("
      "  uid INTEGER PRIMARY KEY CHECK (uid BETWEEN 0 AND 4294967295),"
      "  created_at INTEGER NOT NULL,"
      "  last_seen INTEGER NOT NULL"
      ") STRICT;"
      "CREATE TABLE sessions ("
      "  id TEXT PRIMARY KEY NOT NULL"
      "     CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),"
      "  owner_uid INTEGER NOT NULL REFERENCES users (uid) ON DELETE RESTRICT,"
      "  title TEXT NOT NULL DEFAULT '',"
      "  context TEXT NOT NULL DEFAULT '{}'"
      "     CHECK (json_valid(context) AND json_type(context) = 'object'),"
      "  created_at INTEGER NOT NULL,"
      "  last_active INTEGER NOT NULL,"
      /* seconds of inactivity before removal; NULL follows the daemon default, 0 never */
      "  expire_after INTEGER CHECK (expire_after IS NULL OR expire_after >= 0),"
      /* kept by the tables that later versions add, so reading them is O(1) */
      "  message_count INTEGER NOT NULL DEFAULT 0 CHECK (message_count >= 0),"
      "  document_count INTEGER NOT NULL DEFAULT 0 CHECK (document_count >= 0)"
      ") STRICT;"
      "CREATE INDEX sessions_by_owner ON sessions (owner_uid, created_at);"
      "CREATE INDEX sessions_by_activity ON sessions (last_active);",
  },
};

const SrMigration *
sr_migrations (guint *n_migrations)
{
  *n_migrations = G_N_ELEMENTS (migrations);
  return migrations;
}
