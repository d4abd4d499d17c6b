/* Unit tests for the content-addressed file store (src/store/files.c). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "store/files.h"
#include "unit-helpers.h"

/* SHA-256 of "hello\n", as sha256sum prints it. */
#define HELLO_SHA "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

typedef struct {
  char *dir;
  char *files;
} Fixture;

static void
set_up (Fixture *f, gconstpointer data)
{
  f->dir = sr_test_make_tmpdir ();
  f->files = g_build_filename (f->dir, "files", NULL);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  sr_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->files);
}

static int
open_text (Fixture *f, const char *name, const char *contents, gssize length)
{
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  sr_test_write_file (path, contents, length);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  return fd;
}

static guint
count_entries (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;
  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
test_put_regular_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  SrStoredFile stored;
  int fd = open_text (f, "hello.txt", "hello\n", -1);

  g_assert_true (sr_files_put_fd (f->files, fd, 1024, 1000, &stored, &error));
  g_assert_no_error (error);
  close (fd);
  g_assert_cmpstr (stored.sha256, ==, HELLO_SHA);
  g_assert_cmpuint (stored.size, ==, 6);
  g_assert_false (stored.existed);

  g_autofree char *path = sr_files_path (f->files, HELLO_SHA);
  g_assert_true (g_str_has_suffix (path, "/files/58/" HELLO_SHA));
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "hello\n");

  /* Private to the daemon, and nothing left behind in the temporary folder. */
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_autofree char *tmp = g_build_filename (f->files, "tmp", NULL);
  g_assert_cmpuint (count_entries (tmp), ==, 0);
}

static void
test_same_bytes_kept_once (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  SrStoredFile first, second;
  int a = open_text (f, "a.txt", "hello\n", -1);
  int b = open_text (f, "b.txt", "hello\n", -1);

  g_assert_true (sr_files_put_fd (f->files, a, 1024, 1000, &first, &error));
  g_assert_true (sr_files_put_fd (f->files, b, 1024, 1000, &second, &error));
  g_assert_no_error (error);
  close (a);
  close (b);
  g_assert_false (first.existed);
  g_assert_true (second.existed);
  g_assert_cmpstr (first.sha256, ==, second.sha256);

  g_autofree char *shard = g_build_filename (f->files, "58", NULL);
  g_assert_cmpuint (count_entries (shard), ==, 1);
}

static void
test_empty_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  SrStoredFile stored;
  int fd = open_text (f, "empty", "", 0);

  g_assert_true (sr_files_put_fd (f->files, fd, 1024, 1000, &stored, &error));
  close (fd);
  g_assert_cmpuint (stored.size, ==, 0);
  g_assert_cmpstr (stored.sha256, ==,
                   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_over_the_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *big = g_strnfill (300 * 1024, 'x');
  SrStoredFile stored;
  int fd = open_text (f, "big", big, -1);

  g_assert_false (sr_files_put_fd (f->files, fd, 200 * 1024, 1000, &stored, &error));
  close (fd);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE);
  g_assert_cmpstr (error->message, ==, "The file is larger than the limit of 204800 bytes");

  /* Nothing of it is kept. */
  g_autofree char *tmp = g_build_filename (f->files, "tmp", NULL);
  g_assert_cmpuint (count_entries (tmp), ==, 0);
  g_assert_cmpuint (count_entries (f->files), ==, 1); /* only tmp/ */
}

typedef struct {
  int fd;
  guint chunks;
  guint pause_ms;
} Writer;

static gpointer
write_slowly (gpointer data)
{
  Writer *w = data;
  for (guint i = 0; i < w->chunks; i++) {
    g_assert_cmpint (write (w->fd, "0123456789", 10), ==, 10);
    g_usleep (w->pause_ms * 1000);
  }
  close (w->fd);
  return NULL;
}

/* A pipe delivers in pieces; a non-blocking one must be waited on, not spun on. */
static void
test_put_from_pipe (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  SrStoredFile stored;
  int fds[2];

  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  g_assert_cmpint (fcntl (fds[0], F_SETFL, O_NONBLOCK), ==, 0);
  Writer w = { fds[1], 20, 5 };
  GThread *writer = g_thread_new ("writer", write_slowly, &w);

  g_assert_true (sr_files_put_fd (f->files, fds[0], 1024, 1000, &stored, &error));
  g_assert_no_error (error);
  g_thread_join (writer);
  close (fds[0]);
  g_assert_cmpuint (stored.size, ==, 200);
}

static void
test_pipe_goes_silent (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  SrStoredFile stored;
  int fds[2];

  g_assert_cmpint (pipe2 (fds, O_CLOEXEC | O_NONBLOCK), ==, 0);
  g_assert_cmpint (write (fds[1], "partial", 7), ==, 7);
  g_assert_false (sr_files_put_fd (f->files, fds[0], 1024, 100, &stored, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==, "The file stopped arriving: nothing came for 100 ms");
  close (fds[0]);
  close (fds[1]);
  g_autofree char *tmp = g_build_filename (f->files, "tmp", NULL);
  g_assert_cmpuint (count_entries (tmp), ==, 0);
}

/* The same for a blocking pipe, which read() alone would wait on forever. */
static void
test_blocking_pipe_goes_silent (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  SrStoredFile stored;
  int fds[2];

  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  g_assert_cmpint (write (fds[1], "partial", 7), ==, 7);
  gint64 start = g_get_monotonic_time ();
  g_assert_false (sr_files_put_fd (f->files, fds[0], 1024, 100, &stored, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  close (fds[0]);
  close (fds[1]);
}

static void
test_bad_descriptors (Fixture *f, gconstpointer data)
{
  SrStoredFile stored;
  {
    g_autoptr (GError) error = NULL;
    int fd = open (f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_assert_false (sr_files_put_fd (f->files, fd, 1024, 1000, &stored, &error));
    close (fd);
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
    g_assert_cmpstr (error->message, ==, "The file descriptor is a directory, not a file");
  }
  {
    g_autoptr (GError) error = NULL;
    int fd = open_text (f, "w", "x", -1);
    int write_only = open (f->dir, O_WRONLY | O_TMPFILE | O_CLOEXEC, 0600);
    g_assert_false (sr_files_put_fd (f->files, write_only, 1024, 1000, &stored, &error));
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
    g_assert_true (g_str_has_prefix (error->message, "Cannot read the file descriptor: "));
    close (fd);
    close (write_only);
  }
}

static void
test_remove_and_clean (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  SrStoredFile stored;
  int fd = open_text (f, "hello.txt", "hello\n", -1);
  g_assert_true (sr_files_put_fd (f->files, fd, 1024, 1000, &stored, &error));
  close (fd);

  g_assert_true (sr_files_remove (f->files, HELLO_SHA, &error));
  g_assert_no_error (error);
  g_autofree char *path = sr_files_path (f->files, HELLO_SHA);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  /* Already gone is fine. */
  g_assert_true (sr_files_remove (f->files, HELLO_SHA, &error));

  /* What a crash mid-upload leaves is swept at start. */
  g_autofree char *left = g_build_filename (f->files, "tmp", "upload-abc123", NULL);
  sr_test_write_file (left, "half", -1);
  g_assert_cmpuint (sr_files_clean_temporary (f->files), ==, 1);
  g_assert_false (g_file_test (left, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (sr_files_clean_temporary (f->dir), ==, 0);
}

/* An upload still arriving leaves no name anywhere, and is stored like any descriptor. */
static void
test_unnamed_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  SrStoredFile stored;
  int fd = sr_files_open_unnamed (f->files, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_autofree char *tmp = g_build_filename (f->files, "tmp", NULL);
  g_assert_cmpuint (count_entries (tmp), ==, 0);

  g_assert_cmpint (write (fd, "hello\n", 6), ==, 6);
  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  g_assert_true (sr_files_put_fd (f->files, fd, 1024, 1000, &stored, &error));
  g_assert_no_error (error);
  close (fd);
  g_assert_cmpstr (stored.sha256, ==, HELLO_SHA);
  g_assert_cmpuint (count_entries (tmp), ==, 0);

  /* A folder it cannot write in is an error that names it. */
  g_autofree char *blocker = g_build_filename (f->dir, "blocker", NULL);
  sr_test_write_file (blocker, "", 0);
  g_autofree char *below = g_build_filename (blocker, "files", NULL);
  g_assert_cmpint (sr_files_open_unnamed (below, &error), ==, -1);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, below));
}

typedef struct {
  gboolean accept;
  guint calls;
  GByteArray *head;
  GByteArray *whole; /* what the descriptor gave */
  gboolean writable; /* whether the descriptor took a write */
} CheckRecord;

static gboolean
record_check (int fd, const guint8 *head, gsize head_length, gpointer user_data, GError **error)
{
  CheckRecord *record = user_data;
  guint8 buffer[4096];
  gssize n;

  record->calls++;
  g_byte_array_append (record->head, head, (guint) head_length);
  while ((n = read (fd, buffer, sizeof buffer)) > 0)
    g_byte_array_append (record->whole, buffer, (guint) n);
  record->writable = write (fd, "x", 1) == 1;
  if (record->accept)
    return TRUE;
  g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT, "not wanted");
  return FALSE;
}

static void
check_record_clear (CheckRecord *record)
{
  g_byte_array_unref (record->head);
  g_byte_array_unref (record->whole);
}

/* The check sees the first bytes and, read-only, all of them, before they are stored. */
static void
test_check_accepts (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  CheckRecord record = { TRUE, 0, g_byte_array_new (), g_byte_array_new (), FALSE };
  SrFilesCheck check = { 4, record_check, &record };
  SrStoredFile stored;
  int fd = open_text (f, "hello.txt", "hello\n", -1);

  g_assert_true (sr_files_put_fd_checked (f->files, fd, 1024, 1000, &check, &stored, &error));
  g_assert_no_error (error);
  close (fd);
  g_assert_cmpuint (record.calls, ==, 1);
  g_assert_cmpmem (record.head->data, record.head->len, "hell", 4);
  g_assert_cmpmem (record.whole->data, record.whole->len, "hello\n", 6);
  g_assert_false (record.writable);
  g_assert_cmpstr (stored.sha256, ==, HELLO_SHA);
  g_autofree char *path = sr_files_path (f->files, HELLO_SHA);
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "hello\n");
  check_record_clear (&record);
}

/* A refused upload leaves nothing, and the same bytes stored before stay where they are. */
static void
test_check_refuses (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  CheckRecord record = { FALSE, 0, g_byte_array_new (), g_byte_array_new (), FALSE };
  SrFilesCheck check = { 1 << 20, record_check, &record };
  SrStoredFile stored;
  int fd = open_text (f, "hello.txt", "hello\n", -1);

  g_assert_false (sr_files_put_fd_checked (f->files, fd, 1024, 1000, &check, &stored, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT);
  g_clear_error (&error);
  /* A head larger than the file is the whole file. */
  g_assert_cmpmem (record.head->data, record.head->len, "hello\n", 6);
  g_autofree char *path = sr_files_path (f->files, HELLO_SHA);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_autofree char *tmp = g_build_filename (f->files, "tmp", NULL);
  g_assert_cmpuint (count_entries (tmp), ==, 0);

  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  g_assert_true (sr_files_put_fd (f->files, fd, 1024, 1000, &stored, &error));
  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  g_assert_false (sr_files_put_fd_checked (f->files, fd, 1024, 1000, &check, &stored, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT);
  close (fd);
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "hello\n");
  g_assert_cmpuint (count_entries (tmp), ==, 0);
  check_record_clear (&record);
}

/* Bytes past the size limit never reach the check. */
static void
test_check_not_run_when_too_large (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  CheckRecord record = { TRUE, 0, g_byte_array_new (), g_byte_array_new (), FALSE };
  SrFilesCheck check = { 16, record_check, &record };
  SrStoredFile stored;
  int fd = open_text (f, "hello.txt", "hello\n", -1);

  g_assert_false (sr_files_put_fd_checked (f->files, fd, 5, 1000, &check, &stored, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE);
  close (fd);
  g_assert_cmpuint (record.calls, ==, 0);
  check_record_clear (&record);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, set_up, func, tear_down)
  ADD ("/files/put/regular", test_put_regular_file);
  ADD ("/files/put/dedupe", test_same_bytes_kept_once);
  ADD ("/files/put/empty", test_empty_file);
  ADD ("/files/put/too-large", test_over_the_limit);
  ADD ("/files/put/pipe", test_put_from_pipe);
  ADD ("/files/put/silent-pipe", test_pipe_goes_silent);
  ADD ("/files/put/blocking-silent-pipe", test_blocking_pipe_goes_silent);
  ADD ("/files/put/bad-descriptors", test_bad_descriptors);
  ADD ("/files/remove-and-clean", test_remove_and_clean);
  ADD ("/files/unnamed", test_unnamed_file);
  ADD ("/files/check/accepts", test_check_accepts);
  ADD ("/files/check/refuses", test_check_refuses);
  ADD ("/files/check/too-large", test_check_not_run_when_too_large);
  return g_test_run ();
}
