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
  {
      2,
      "documents, their files and chunks, with full-text search",
      /* Uploaded bytes, content-addressed: several documents may share one file. */
      "CREATE TABLE files ("
      "  sha256 TEXT PRIMARY KEY NOT NULL"
      "     CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),"
      "  size INTEGER NOT NULL CHECK (size >= 0),"
      "  created_at INTEGER NOT NULL"
      ") STRICT;"
      "CREATE TABLE documents ("
      "  id TEXT PRIMARY KEY NOT NULL"
      "     CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),"
      "  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,"
      "  file_sha256 TEXT NOT NULL REFERENCES files (sha256) ON DELETE RESTRICT,"
      "  filename TEXT NOT NULL,"
      "  title TEXT NOT NULL DEFAULT '',"
      "  format TEXT NOT NULL DEFAULT '',"
      "  state TEXT NOT NULL DEFAULT 'stored'"
      "     CHECK (state IN ('stored', 'parsing', 'indexing', 'ready', 'failed')),"
      "  progress REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),"
      "  message TEXT NOT NULL DEFAULT '',"
      "  chunk_count INTEGER NOT NULL DEFAULT 0 CHECK (chunk_count >= 0),"
      "  created_at INTEGER NOT NULL,"
      "  updated_at INTEGER NOT NULL"
      ") STRICT;"
      "CREATE INDEX documents_by_session ON documents (session_id, created_at);"
      "CREATE INDEX documents_by_file ON documents (file_sha256);"
      /* What a restart must pick up again. */
      "CREATE INDEX documents_unfinished ON documents (state)"
      "  WHERE state IN ('stored', 'parsing', 'indexing');"
      /* The rowid is the chunk's label in the session's vector index. */
      "CREATE TABLE chunks ("
      "  id INTEGER PRIMARY KEY,"
      "  document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,"
      "  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,"
      "  ordinal INTEGER NOT NULL CHECK (ordinal >= 0),"
      "  page INTEGER CHECK (page IS NULL OR page > 0),"
      "  heading TEXT NOT NULL DEFAULT '',"
      "  text TEXT NOT NULL,"
      /* float32 values in host order, and what made them; NULL until embedded */
      "  embedding BLOB,"
      "  embedding_model TEXT,"
      "  UNIQUE (document_id, ordinal)"
      ") STRICT;"
      "CREATE INDEX chunks_by_session ON chunks (session_id);"
      "CREATE VIRTUAL TABLE chunks_fts USING fts5 ("
      "  text, heading, content = 'chunks', content_rowid = 'id',"
      "  tokenize = 'unicode61 remove_diacritics 2');"
      "CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN"
      "  INSERT INTO chunks_fts (rowid, text, heading) VALUES (new.id, new.text, new.heading);"
      "END;"
      "CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN"
      "  INSERT INTO chunks_fts (chunks_fts, rowid, text, heading)"
      "  VALUES ('delete', old.id, old.text, old.heading);"
      "END;"
      "CREATE TRIGGER chunks_fts_update AFTER UPDATE OF text, heading ON chunks BEGIN"
      "  INSERT INTO chunks_fts (chunks_fts, rowid, text, heading)"
      "  VALUES ('delete', old.id, old.text, old.heading);"
      "  INSERT INTO chunks_fts (rowid, text, heading) VALUES (new.id, new.text, new.heading);"
      "END;"
      /* DocumentCount stays a column read, whoever adds or removes documents. */
      "CREATE TRIGGER documents_count_insert AFTER INSERT ON documents BEGIN"
      "  UPDATE sessions SET document_count = document_count + 1 WHERE id = new.session_id;"
      "END;"
      "CREATE TRIGGER documents_count_delete AFTER DELETE ON documents BEGIN"
      "  UPDATE sessions SET document_count = max(document_count - 1, 0)"
      "  WHERE id = old.session_id;"
      "END;",
  },
  {
      3,
      "the chunk ids of a session's vectors without reading the chunks",
      /* Loading a vector index compares its labels with these ids; covered by the index,
       * that reads a few pages instead of every chunk with its text and vector. */
      "DROP INDEX chunks_by_session;"
      "CREATE INDEX chunks_by_session ON chunks (session_id, embedding_model);",
  },
  {
      4,
      "conversations: questions and answers, with full-text search",
      /* The rowid is the conversation's order. */
      "CREATE TABLE messages ("
      "  id INTEGER PRIMARY KEY,"
      "  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,"
      "  query_id TEXT NOT NULL DEFAULT '',"
      "  role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),"
      "  content TEXT NOT NULL,"
      "  sources_json TEXT NOT NULL DEFAULT '[]'"
      "     CHECK (json_valid(sources_json) AND json_type(sources_json) = 'array'),"
      "  state TEXT NOT NULL DEFAULT 'complete'"
      "     CHECK (state IN ('complete', 'incomplete', 'failed')),"
      "  error TEXT NOT NULL DEFAULT '',"
      "  backend TEXT NOT NULL DEFAULT '',"
      "  model TEXT NOT NULL DEFAULT '',"
      "  ttft_ms REAL NOT NULL DEFAULT 0 CHECK (ttft_ms >= 0),"
      "  total_ms REAL NOT NULL DEFAULT 0 CHECK (total_ms >= 0),"
      "  prompt_tokens INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),"
      "  answer_tokens INTEGER NOT NULL DEFAULT 0 CHECK (answer_tokens >= 0),"
      "  created_at INTEGER NOT NULL"
      ") STRICT;"
      "CREATE INDEX messages_by_session ON messages (session_id, id);"
      /* The session id is indexed as a word of its own: a search asks for it AND the
       * words, so FTS5 reads the session's part of each word's list, not every session's.
       * Searches give it no weight. */
      "CREATE VIRTUAL TABLE messages_fts USING fts5 ("
      "  content, session_id, content = 'messages', content_rowid = 'id',"
      "  tokenize = 'unicode61 remove_diacritics 2');"
      "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
      "  INSERT INTO messages_fts (rowid, content, session_id)"
      "  VALUES (new.id, new.content, new.session_id);"
      "END;"
      "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
      "  INSERT INTO messages_fts (messages_fts, rowid, content, session_id)"
      "  VALUES ('delete', old.id, old.content, old.session_id);"
      "END;"
      "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, session_id ON messages BEGIN"
      "  INSERT INTO messages_fts (messages_fts, rowid, content, session_id)"
      "  VALUES ('delete', old.id, old.content, old.session_id);"
      "  INSERT INTO messages_fts (rowid, content, session_id)"
      "  VALUES (new.id, new.content, new.session_id);"
      "END;"
      /* MessageCount stays a column read, whoever adds or removes messages. */
      "CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN"
      "  UPDATE sessions SET message_count = message_count + 1 WHERE id = new.session_id;"
      "END;"
      "CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN"
      "  UPDATE sessions SET message_count = max(message_count - 1, 0)"
      "  WHERE id = old.session_id;"
      "END;",
  },
  {
      5,
      "a version of the chunks' words, which merging the full-text index leaves alone",
      /* Search keeps word counts for as long as this holds. The data version changes with
       * every commit, merges of the full-text index included, which left a search after
       * a large upload counting its common words again and again. */
      "CREATE TABLE chunk_words ("
      "  id INTEGER PRIMARY KEY CHECK (id = 1),"
      "  version INTEGER NOT NULL"
      ") STRICT;"
      "INSERT INTO chunk_words (id, version) VALUES (1, 0);"
      "CREATE TRIGGER chunk_words_insert AFTER INSERT ON chunks BEGIN"
      "  UPDATE chunk_words SET version = version + 1;"
      "END;"
      "CREATE TRIGGER chunk_words_delete AFTER DELETE ON chunks BEGIN"
      "  UPDATE chunk_words SET version = version + 1;"
      "END;"
      "CREATE TRIGGER chunk_words_update AFTER UPDATE OF text, heading ON chunks BEGIN"
      "  UPDATE chunk_words SET version = version + 1;"
      "END;",
  },
  {
      6,
      "API tokens, kept as hashes of their secrets",
      /* Authentication reads one row by id for every request; without a rowid that is one
       * search of one b-tree. Only SHA-256 of the secret is kept: the secret is 32 random
       * bytes, so a plain hash cannot be reversed and needs no salt or slow function. */
      "CREATE TABLE tokens ("
      "  id TEXT PRIMARY KEY NOT NULL"
      "     CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),"
      /* A credential must not outlive its user. */
      "  owner_uid INTEGER NOT NULL REFERENCES users (uid) ON DELETE CASCADE,"
      "  name TEXT NOT NULL CHECK (name <> ''),"
      "  secret_sha256 BLOB NOT NULL CHECK (length(secret_sha256) = 32),"
      "  created_at INTEGER NOT NULL,"
      /* NULL until the token is first used; kept to the minute, not to the request */
      "  last_used INTEGER CHECK (last_used IS NULL OR last_used >= 0)"
      ") STRICT, WITHOUT ROWID;"
      "CREATE INDEX tokens_by_owner ON tokens (owner_uid, created_at);",
  },
  {
      7,
      "counts of sessions and of documents by state, kept by triggers",
      /* Metrics read these at every scrape, on the main loop: counting the rows instead
       * reads every document (90 ms and more at 200,000). A count never goes below zero,
       * and no CHECK can make a write fail over a count. */
      "CREATE TABLE counts ("
      "  name TEXT PRIMARY KEY NOT NULL,"
      "  count INTEGER NOT NULL DEFAULT 0"
      ") STRICT, WITHOUT ROWID;"
      "INSERT INTO counts (name, count) SELECT 'sessions', count(*) FROM sessions;"
      "INSERT INTO counts (name) VALUES ('documents:stored'), ('documents:parsing'),"
      "  ('documents:indexing'), ('documents:ready'), ('documents:failed');"
      "INSERT INTO counts (name, count)"
      "  SELECT 'documents:' || state, count(*) FROM documents WHERE true GROUP BY state"
      "  ON CONFLICT (name) DO UPDATE SET count = excluded.count;"
      "CREATE TRIGGER counts_sessions_insert AFTER INSERT ON sessions BEGIN"
      "  UPDATE counts SET count = count + 1 WHERE name = 'sessions';"
      "END;"
      "CREATE TRIGGER counts_sessions_delete AFTER DELETE ON sessions BEGIN"
      "  UPDATE counts SET count = max(count - 1, 0) WHERE name = 'sessions';"
      "END;"
      /* Documents deleted with their session run these too: foreign key actions fire
       * triggers. */
      "CREATE TRIGGER counts_documents_insert AFTER INSERT ON documents BEGIN"
      "  UPDATE counts SET count = count + 1 WHERE name = 'documents:' || new.state;"
      "END;"
      "CREATE TRIGGER counts_documents_delete AFTER DELETE ON documents BEGIN"
      "  UPDATE counts SET count = max(count - 1, 0) WHERE name = 'documents:' || old.state;"
      "END;"
      "CREATE TRIGGER counts_documents_state AFTER UPDATE OF state ON documents"
      "  WHEN old.state <> new.state BEGIN"
      "  UPDATE counts SET count = max(count - 1, 0) WHERE name = 'documents:' || old.state;"
      "  UPDATE counts SET count = count + 1 WHERE name = 'documents:' || new.state;"
      "END;",
  },
};

const SrMigration *
sr_migrations (guint *n_migrations)
{
  *n_migrations = G_N_ELEMENTS (migrations);
  return migrations;
}
