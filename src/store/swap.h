/* Putting a restored state in place of the live one, so that a crash at any point leaves one. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The restored state is staged here first, beside the live one (same file system), with
 * the live layout: smartrag.db, files/, index/. */
char *sr_swap_staging_dir (const char *state_dir);

/* Swaps the staged state in: a marker file is written first, then each part of the live
 * state moves aside and its staged counterpart into place. Until the marker is removed, a
 * crash is finished by sr_swap_recover() at the next start, so the next start sees the
 * staged state whole. The database must be closed. */
gboolean sr_swap_commit (const char *state_dir, GError **error);
/* After sr_swap_commit(): puts the state that was moved aside back, the same way. */
gboolean sr_swap_undo (const char *state_dir, GError **error);
/* At start, before the database opens: finishes a swap a crash interrupted. Returns
 * TRUE when one was finished (it says so in the log). */
gboolean sr_swap_recover (const char *state_dir, gboolean *finished, GError **error);
/* Removes the staged and the moved-aside state (slow for a large one: not on the loop). */
gboolean sr_swap_discard (const char *state_dir, GError **error);

G_END_DECLS
