/* Free text as FTS5 query pieces: the words a person typed, never FTS5 syntax. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @word as an FTS5 string: quoted, its quotes doubled, read by FTS5 as text only. */
char *sr_store_fts_quote (const char *word);

/* Each distinct word of @text, case-folded, quoted by sr_store_fts_quote(), so nothing in
 * @text is read as FTS5 syntax ("NEAR(", AND, *, column filters). In the order the words
 * first appear; empty when @text has no word. */
GPtrArray *sr_store_fts_phrases (const char *text);

G_END_DECLS
