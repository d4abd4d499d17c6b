/* Putting a restored state in place of the live one, so that a crash at any point leaves one. */
#include "store/swap.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "common/errors.h"
#include "store/durable.h"
#include "store/store.h"

#define STAGING "restore-staging"
#define ASIDE   "restore-previous"
#define MARKER  "restore-swap"

/* The parts of the state, each moved whole; the database's WAL and shared memory go with
 * it (after a clean close there are none), so an old WAL never meets a new database. */
static const char *const parts[] = { SR_STORE_FILENAME, "files", "index" };
static const char *const companions[] = { SR_STORE_FILENAME "-wal", SR_STORE_FILENAME "-shm" };

char *
sr_swap_staging_dir (const char *state_dir)
{
  return g_build_filename (state_dir, STAGING, NULL);
}

static gboolean
exists (const char *path)
{
  GStatBuf st;
  return g_lstat (path, &st) == 0;
}

static gboolean
move (const char *from, const char *to, GError **error)
{
  if (!exists (from) || g_rename (from, to) == 0)
    return TRUE;
  int saved = errno;
  return sr_error_set (error, SMARTRAG_ERROR_FAILED, _ ("Cannot move %s to %s: %s"), from, to,
                       g_strerror (saved));
}

/* Moves the live @part to @outgoing and @incoming's into its place. Repeatable: once the
 * incoming part is in place there is nothing left to move. */
static gboolean
move_part (const char *state_dir, const char *part, const char *incoming, const char *outgoing,
           GError **error)
{
  g_autofree char *in = g_build_filename (incoming, part, NULL);
  g_autofree char *live = g_build_filename (state_dir, part, NULL);
  g_autofree char *out = g_build_filename (outgoing, part, NULL);
  if (!exists (in))
    return TRUE;
  gboolean database = g_str_equal (part, SR_STORE_FILENAME);
  for (guint i = 0; database && i < G_N_ELEMENTS (companions); i++) {
    g_autofree char *from = g_build_filename (state_dir, companions[i], NULL);
    g_autofree char *to = g_build_filename (outgoing, companions[i], NULL);
    if (!move (from, to, error))
      return FALSE;
  }
  return sr_durable_remove_tree (out, error) && move (live, out, error) && move (in, live, error);
}

/* @direction "forward" brings the staged state in, "back" the one moved aside. */
static gboolean
run (const char *state_dir, const char *direction, GError **error)
{
  gboolean forward = g_str_equal (direction, "forward");
  g_autofree char *staging = g_build_filename (state_dir, STAGING, NULL);
  g_autofree char *aside = g_build_filename (state_dir, ASIDE, NULL);
  const char *incoming = forward ? staging : aside;
  const char *outgoing = forward ? aside : staging;
  if (!sr_durable_mkdir (outgoing, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    if (!move_part (state_dir, parts[i], incoming, outgoing, error))
      return FALSE;
  return sr_durable_sync_dir (state_dir, error) && sr_durable_sync_dir (outgoing, error);
}

static gboolean
swap (const char *state_dir, const char *direction, GError **error)
{
  g_autofree char *marker = g_build_filename (state_dir, MARKER, NULL);
  if (!sr_durable_write_atomic (marker, direction, strlen (direction), error)
      || !run (state_dir, direction, error))
    return FALSE;
  if (g_unlink (marker) != 0) {
    int saved = errno;
    return sr_error_set (error, SMARTRAG_ERROR_FAILED, _ ("Cannot remove %s: %s"), marker,
                         g_strerror (saved));
  }
  return sr_durable_sync_dir (state_dir, error);
}

gboolean
sr_swap_commit (const char *state_dir, GError **error)
{
  return swap (state_dir, "forward", error);
}

gboolean
sr_swap_undo (const char *state_dir, GError **error)
{
  return swap (state_dir, "back", error);
}

gboolean
sr_swap_recover (const char *state_dir, gboolean *finished, GError **error)
{
  g_autofree char *marker = g_build_filename (state_dir, MARKER, NULL);
  g_autofree char *direction = NULL;
  *finished = FALSE;
  if (!g_file_get_contents (marker, &direction, NULL, NULL))
    return sr_swap_discard (state_dir, error);
  if (!g_str_equal (direction, "forward") && !g_str_equal (direction, "back"))
    return sr_error_set (error, SMARTRAG_ERROR_FAILED,
                         _ ("Cannot finish the interrupted restore: %s is damaged; move %s and "
                            "%s aside by hand"),
                         marker, STAGING, ASIDE);
  g_info ("Finishing a restore that was interrupted (%s)", direction);
  if (!swap (state_dir, direction, error))
    return FALSE;
  *finished = TRUE;
  return sr_swap_discard (state_dir, error);
}

gboolean
sr_swap_discard (const char *state_dir, GError **error)
{
  g_autofree char *staging = g_build_filename (state_dir, STAGING, NULL);
  g_autofree char *aside = g_build_filename (state_dir, ASIDE, NULL);
  return sr_durable_remove_tree (staging, error) && sr_durable_remove_tree (aside, error);
}
