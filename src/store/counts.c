/* How many sessions and documents there are, read in constant time for metrics. */
#include "store/counts.h"

#include <glib/gi18n.h>
#include <string.h>

const char *const sr_document_states[SR_DOCUMENT_N_STATES] = {
  "stored", "parsing", "indexing", "ready", "failed",
};

#define DOCUMENTS_PREFIX "documents:"

static void
take_count (SrStoreCounts *counts, const char *name, guint64 count)
{
  if (g_str_equal (name, "sessions")) {
    counts->sessions = count;
    return;
  }
  if (!g_str_has_prefix (name, DOCUMENTS_PREFIX))
    return;
  const char *state = name + strlen (DOCUMENTS_PREFIX);
  for (guint i = 0; i < SR_DOCUMENT_N_STATES; i++)
    if (g_str_equal (state, sr_document_states[i]))
      counts->documents[i] = count;
}

static gboolean
read_kept (SrStore *store, SrStoreCounts *counts, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store, "SELECT name, count FROM counts", error);
  if (stmt == NULL)
    return FALSE;
  int status;
  while ((status = sqlite3_step (stmt)) == SQLITE_ROW)
    take_count (counts, (const char *) sqlite3_column_text (stmt, 0),
                (guint64) MAX (sqlite3_column_int64 (stmt, 1), 0));
  if (status != SQLITE_DONE)
    return sr_store_fail (store, error, _ ("read the counts of sessions and documents"));
  return TRUE;
}

static gboolean
count_active (SrStore *store, gint64 active_since, guint64 *count, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = sr_store_statement (store, "SELECT count(*) FROM sessions WHERE last_active >= ?1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, active_since);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return sr_store_fail (store, error, _ ("count sessions"));
  *count = (guint64) sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

gboolean
sr_store_counts_read (SrStore *store, gint64 active_since, SrStoreCounts *counts, GError **error)
{
  memset (counts, 0, sizeof *counts);
  return read_kept (store, counts, error)
         && count_active (store, active_since, &counts->active_sessions, error);
}
