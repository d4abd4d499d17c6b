/* Free text as FTS5 query pieces: the words a person typed, never FTS5 syntax. */
#include "store/fts.h"

char *
sr_store_fts_quote (const char *word)
{
  g_auto (GStrv) parts = g_strsplit (word, "\"", -1);
  g_autofree char *escaped = g_strjoinv ("\"\"", parts);
  return g_strdup_printf ("\"%s\"", escaped);
}

GPtrArray *
sr_store_fts_phrases (const char *text)
{
  g_autoptr (GPtrArray) phrases = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_auto (GStrv) words = g_str_tokenize_and_fold (text, NULL, NULL);

  for (guint i = 0; words[i] != NULL; i++) {
    char *phrase = sr_store_fts_quote (words[i]);
    if (g_hash_table_contains (seen, phrase)) {
      g_free (phrase);
      continue;
    }
    g_hash_table_add (seen, phrase);
    g_ptr_array_add (phrases, phrase);
  }
  return g_steal_pointer (&phrases);
}
