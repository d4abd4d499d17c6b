/* Unit tests for the document operations (src/service/documents.c). */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "common/errors.h"
#include "service/documents.h"
#include "service/sessions.h"
#include "store/files.h"
#include "unit-helpers.h"

static const SrCaller alice = { 1000, FALSE, ":1.10" };
static const SrCaller bob = { 1001, FALSE, ":1.11" };

static const SrLimits limits = {
  .max_title_bytes = 512,
  .max_context_bytes = 65536,
  .max_file_bytes = 64 * 1024,
  .max_text_bytes = 1024,
  .upload_idle_timeout_ms = 1000,
};

typedef struct {
  char *dir;
  SrService *service;
  char *session;
  GAsyncResult *result;
} Fixture;

static void
set_up (Fixture *f, gconstpointer data)
{
  f->dir = sr_test_make_tmpdir ();
  f->service = sr_test_service_with_session (f->dir, &limits, &alice, &f->session);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  sr_service_free (f->service);
  sr_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->session);
}

static void
on_added (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;
  f->result = g_object_ref (result);
}

/* Runs the main loop until the operation is done, as the daemon's loop would. */
static SrDocumentRecord *
wait_added (Fixture *f, GError **error)
{
  while (f->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  SrDocumentRecord *doc = sr_documents_add_finish (f->result, error);
  g_clear_object (&f->result);
  return doc;
}

static SrDocumentRecord *
add_file (Fixture *f, const SrCaller *caller, const char *contents, gssize length,
          const char *filename, GError **error)
{
  g_autofree char *path = g_build_filename (f->dir, "upload", NULL);
  sr_test_write_file (path, contents, length);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  sr_documents_add_fd_async (f->service, caller, f->session, fd, filename, on_added, f);
  /* The service keeps its own copy of the descriptor. */
  close (fd);
  return wait_added (f, error);
}

static void
test_add_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrDocumentRecord) doc
      = add_file (f, &alice, "hello\n", -1, "/home/alice/Documents/notes.txt", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (doc->filename, ==, "notes.txt");
  g_assert_cmpstr (doc->state, ==, "stored");
  g_assert_cmpuint (doc->size, ==, 6);

  /* Durable before the answer: the bytes are in place under their hash. */
  g_autofree char *path = sr_files_path (sr_service_files_dir (f->service), doc->file_sha256);
  g_autofree char *stored = NULL;
  g_assert_true (g_file_get_contents (path, &stored, NULL, NULL));
  g_assert_cmpstr (stored, ==, "hello\n");

  g_autoptr (SrSessionRecord) s = sr_sessions_get (f->service, &alice, f->session, &error);
  g_assert_cmpuint (s->document_count, ==, 1);
}

static void
test_add_text (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  sr_documents_add_text_async (f->service, &alice, f->session, "Meeting notes",
                               "We meet on Tuesdays.", on_added, f);
  g_autoptr (SrDocumentRecord) doc = wait_added (f, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (doc->title, ==, "Meeting notes");
  g_assert_cmpstr (doc->filename, ==, "Meeting notes");
  g_assert_cmpuint (doc->size, ==, 20);

  g_autofree char *big = g_strnfill (1025, 'x');
  sr_documents_add_text_async (f->service, &alice, f->session, "", big, on_added, f);
  g_autoptr (SrDocumentRecord) none = wait_added (f, &error);
  g_assert_null (none);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE);
  g_clear_error (&error);

  sr_documents_add_text_async (f->service, &alice, f->session, "", "caf\xe9", on_added, f);
  g_autoptr (SrDocumentRecord) bad = wait_added (f, &error);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==, "Invalid text: not valid UTF-8");
}

static void
test_filenames (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *given, *kept;
  } good[] = {
    { "report.pdf", "report.pdf" },
    { "../../etc/passwd", "passwd" },
    { "C:\\Users\\me\\Résumé.docx", "Résumé.docx" },
  };
  static const char *const bad[] = { "", "dir/", "..", "a/.", "tab\there", "x\xff" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *kept = sr_documents_clean_filename (good[i].given, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (kept, ==, good[i].kept);
  }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *kept = sr_documents_clean_filename (bad[i], &error);
    g_assert_null (kept);
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
    g_assert_true (g_str_has_prefix (error->message, "Invalid filename: "));
  }
  g_autofree char *long_name = g_strnfill (256, 'n');
  g_autoptr (GError) error = NULL;
  g_autofree char *kept = sr_documents_clean_filename (long_name, &error);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
}

static void
test_too_large_keeps_nothing (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *big = g_strnfill (64 * 1024 + 1, 'x');
  g_autoptr (SrDocumentRecord) doc = add_file (f, &alice, big, -1, "big.txt", &error);
  g_assert_null (doc);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE);
  g_autoptr (GError) list_error = NULL;
  g_autoptr (GPtrArray) docs = sr_documents_list (f->service, &alice, f->session, &list_error);
  g_assert_cmpuint (docs->len, ==, 0);
}

static guint
count_stored_files (Fixture *f)
{
  const char *files = sr_service_files_dir (f->service);
  g_autoptr (GDir) dir = g_dir_open (files, 0, NULL);
  const char *shard;
  guint n = 0;
  while (dir != NULL && (shard = g_dir_read_name (dir)) != NULL) {
    g_autofree char *path = g_build_filename (files, shard, NULL);
    g_autoptr (GDir) inner = g_dir_open (path, 0, NULL);
    while (inner != NULL && g_dir_read_name (inner) != NULL)
      n++;
  }
  return n;
}

/* Refused at once, from the bytes whatever the name, and nothing is kept. */
static void
test_unsupported_keeps_nothing (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *name;
    const char *bytes;
    gsize length;
    const char *phrase;
  } refused[] = {
    { "photo.png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, "a PNG image" },
    { "notes.txt", "\x7f\x45LF\x02\x01\x01\0\0\0", 10, "a program (ELF)" },
    { "data.txt", "\x01\x02\x03\x04\0\xff\xfe\x80", 8, "it is not a document" },
    { "utf16.txt", "\xff\xfeH\0i\0\n\0", 8, "text in UTF-16" },
    { "backup.tar.gz", "\x1f\x8b\x08\0\0\0\0\0", 8, "a gzip archive" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++) {
    g_autoptr (GError) error = NULL;
    g_test_message ("%s", refused[i].name);
    g_autoptr (SrDocumentRecord) doc = add_file (
        f, &alice, refused[i].bytes, (gssize) refused[i].length, refused[i].name, &error);
    g_assert_null (doc);
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT);
    g_assert_nonnull (strstr (error->message, refused[i].phrase));
    g_assert_nonnull (strstr (error->message, "supported formats are plain text"));
  }

  g_autoptr (GError) error = NULL;
  g_autofree char *controls = g_strnfill (64, '\x1b');
  sr_documents_add_text_async (f->service, &alice, f->session, "", controls, on_added, f);
  g_autoptr (SrDocumentRecord) text = wait_added (f, &error);
  g_assert_null (text);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT);
  g_assert_nonnull (strstr (error->message, "The text cannot be read as a document"));
  g_clear_error (&error);

  g_autoptr (GPtrArray) docs = sr_documents_list (f->service, &alice, f->session, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (docs->len, ==, 0);
  g_assert_cmpuint (count_stored_files (f), ==, 0);

  /* Without the document reader (it starts with document processing), a zip cannot be
   * looked into here: it is taken, and parsing tells later. */
  g_autoptr (SrDocumentRecord) zip = add_file (f, &alice, "PK\x03\x04junk", 8, "a.zip", &error);
  g_assert_no_error (error);
  g_assert_nonnull (zip);
}

static void
test_other_users (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrDocumentRecord) doc = add_file (f, &alice, "mine", -1, "a.txt", &error);
  g_assert_no_error (error);

  /* Bob learns nothing: adding, listing, reading and removing fail as for a random id. */
  g_autoptr (SrDocumentRecord) added = add_file (f, &bob, "his", -1, "b.txt", &error);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT);
  g_clear_error (&error);
  g_autoptr (GPtrArray) list = sr_documents_list (f->service, &bob, f->session, &error);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT);
  g_clear_error (&error);
  g_autoptr (SrDocumentRecord) got
      = sr_documents_get (f->service, &bob, f->session, doc->id, &error);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT);
  g_clear_error (&error);
  g_assert_false (sr_documents_remove (f->service, &bob, f->session, doc->id, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT);
}

/* By id alone, the document's session decides; an absent id and another user's read alike,
 * and an administrator reaches every one. */
static void
test_by_id_alone (Fixture *f, gconstpointer data)
{
  static const SrCaller root = { 0, TRUE, ":1.1" };
  g_autoptr (GError) error = NULL;
  g_autoptr (SrDocumentRecord) doc = add_file (f, &alice, "mine", -1, "a.txt", &error);
  g_assert_no_error (error);

  g_autoptr (SrDocumentRecord) mine = sr_documents_get_any (f->service, &alice, doc->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (mine->session_id, ==, f->session);
  g_autoptr (SrDocumentRecord) as_admin = sr_documents_get_any (f->service, &root, doc->id, &error);
  g_assert_no_error (error);

  g_autofree char *unknown = g_strnfill (32, 'a');
  g_autoptr (SrDocumentRecord) theirs = sr_documents_get_any (f->service, &bob, doc->id, &error);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT);
  g_autofree char *expected
      = g_strdup_printf ("Document '%s' does not exist or you may not access it", doc->id);
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);
  g_assert_false (sr_documents_remove_any (f->service, &bob, doc->id, &error));
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);
  g_autoptr (SrDocumentRecord) none = sr_documents_get_any (f->service, &alice, unknown, &error);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT);
  g_clear_error (&error);
  g_autoptr (SrDocumentRecord) bad = sr_documents_get_any (f->service, &alice, "../x", &error);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  g_assert_true (sr_documents_remove_any (f->service, &alice, doc->id, &error));
  g_assert_no_error (error);
  g_assert_false (sr_documents_remove_any (f->service, &alice, doc->id, &error));
  g_assert_cmpstr (error->message, ==, expected);
}

/* The same bytes twice are kept once, and go with the last document using them. */
static void
test_dedupe_and_remove (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrDocumentRecord) a = add_file (f, &alice, "same bytes", -1, "a.txt", &error);
  g_autoptr (SrDocumentRecord) b = add_file (f, &alice, "same bytes", -1, "b.txt", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (a->file_sha256, ==, b->file_sha256);
  g_autofree char *path = sr_files_path (sr_service_files_dir (f->service), a->file_sha256);

  g_assert_true (sr_documents_remove (f->service, &alice, f->session, a->id, &error));
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_true (sr_documents_remove (f->service, &alice, f->session, b->id, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  g_assert_false (sr_documents_remove (f->service, &alice, f->session, b->id, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_autoptr (SrDocumentRecord) none
      = sr_documents_get (f->service, &alice, f->session, "not-an-id", &error);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, set_up, func, tear_down)
  ADD ("/documents/add-file", test_add_file);
  ADD ("/documents/add-text", test_add_text);
  ADD ("/documents/filenames", test_filenames);
  ADD ("/documents/too-large", test_too_large_keeps_nothing);
  ADD ("/documents/unsupported", test_unsupported_keeps_nothing);
  ADD ("/documents/other-users", test_other_users);
  ADD ("/documents/by-id-alone", test_by_id_alone);
  ADD ("/documents/dedupe-and-remove", test_dedupe_and_remove);
  return g_test_run ();
}
