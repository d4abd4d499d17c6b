/* Shared by the unit tests: scratch directories, file snapshots, dropping root, a service. */
#pragma once

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "service/sessions.h"

G_BEGIN_DECLS

/* A fresh private directory; remove it with sr_test_remove_tree(). */
static inline char *
sr_test_make_tmpdir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("smartrag-unit-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_nonnull (dir);
  return dir;
}

/* Tests make read-only directories on purpose, so permissions are restored on the way
 * down before anything is unlinked. */
static inline void
sr_test_remove_tree (const char *path)
{
  if (path == NULL)
    return;
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
    g_chmod (path, 0700);
    g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
    const char *name;
    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      sr_test_remove_tree (child);
    }
    if (g_rmdir (path) != 0)
      g_printerr ("# cannot remove %s: %s\n", path, g_strerror (errno));
    return;
  }
  if (g_unlink (path) != 0 && errno != ENOENT)
    g_printerr ("# cannot remove %s: %s\n", path, g_strerror (errno));
}

static inline void
sr_test_write_file (const char *path, const char *contents, gssize length)
{
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, contents, length, &error);
  g_assert_no_error (error);
}

static inline GBytes *
sr_test_read_bytes (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (g_steal_pointer (&contents), length);
}

static inline void
sr_test_assert_bytes_equal (GBytes *expected, GBytes *actual)
{
  g_assert_cmpmem (g_bytes_get_data (expected, NULL), g_bytes_get_size (expected),
                   g_bytes_get_data (actual, NULL), g_bytes_get_size (actual));
}

/* Permission tests mean nothing to root, who passes every mode check, so a subprocess
 * that runs as root becomes "nobody" first. Returns FALSE (and the test should skip)
 * when that is impossible. */
static inline gboolean
sr_test_can_drop_root (void)
{
  return geteuid () != 0 || getpwnam ("nobody") != NULL;
}

static inline void
sr_test_drop_root (void)
{
  if (geteuid () != 0)
    return;
  struct passwd *nobody = getpwnam ("nobody");
  g_assert_nonnull (nobody);
  if (setgroups (0, NULL) != 0 || setgid (nobody->pw_gid) != 0 || setuid (nobody->pw_uid) != 0)
    g_error ("cannot become nobody: %s", g_strerror (errno));
  /* A uid change makes the process undumpable, which stops LeakSanitizer from
   * inspecting it at exit. */
  prctl (PR_SET_DUMPABLE, 1, 0, 0, 0);
}

/* A service on a new database in @dir, with one session of @owner's, whose id goes to
 * @session_id. */
static inline SrService *
sr_test_service_with_session (const char *dir, const SrLimits *limits, const SrCaller *owner,
                              char **session_id)
{
  g_autoptr (GError) error = NULL;
  SrStore *store = sr_store_open (dir, &error);
  g_assert_no_error (error);
  SrService *service = sr_service_new (store, dir, limits);
  SrSessionSpec spec = SR_SESSION_SPEC_INIT;
  g_autoptr (SrSessionRecord) s = sr_sessions_create (service, owner, &spec, &error);
  g_assert_no_error (error);
  *session_id = g_strdup (s->id);
  return service;
}

G_END_DECLS
