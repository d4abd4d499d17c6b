/* The real helper, confined: documents come through, and misbehaviour fails cleanly. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "fixtures.h"
#include "ingest/sandbox.h"

static char *tmpdir;

static const char *
helper (void)
{
  const char *path = g_getenv ("SR_EXTRACT_HELPER");
  g_assert_nonnull (path);
  return path;
}

static const char *
faults_helper (void)
{
  const char *path = g_getenv ("SR_EXTRACT_FAULTS_HELPER");
  g_assert_nonnull (path);
  return path;
}

/* An fd on a fresh file, as the daemon would hold one. */
static int
open_content (const char *name, const void *data, gsize length)
{
  g_autofree char *path = g_build_filename (tmpdir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, data, (gssize) length, &error);
  g_assert_no_error (error);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_unlink (path);
  return fd;
}

/* Every helper must have been reaped and killed: no child of ours may be left. */
static void
assert_no_children (void)
{
  g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;
  pid_t self = getpid ();

  g_assert_nonnull (proc);
  while ((name = g_dir_read_name (proc)) != NULL) {
    g_autofree char *path = g_build_filename ("/proc", name, "stat", NULL);
    g_autofree char *stat = NULL;
    if (!g_ascii_isdigit (name[0]) || !g_file_get_contents (path, &stat, NULL, NULL))
      continue;
    const char *after_comm = strrchr (stat, ')');
    int ppid = 0;
    g_assert_nonnull (after_comm);
    g_assert_cmpint (sscanf (after_comm + 2, "%*c %d", &ppid), ==, 1);
    if (ppid == self)
      g_error ("process %s (%s) was left behind", name, stat);
  }
}

static SrExtracted *
extract (const char *helper_path, const char *name, const void *data, gsize length,
         const SrSandboxLimits *limits, GError **error)
{
  int fd = open_content (name, data, length);
  SrExtracted *extracted = sr_sandbox_extract (helper_path, fd, name, limits, NULL, error);
  close (fd);
  assert_no_children ();
  return extracted;
}

static char *
all_text (const SrExtracted *extracted)
{
  GString *text = g_string_new (NULL);
  for (guint i = 0; i < extracted->sections->len; i++) {
    const SrSection *section = g_ptr_array_index (extracted->sections, i);
    g_string_append_printf (text, "[%u|%s]%s\n", section->page, section->heading, section->text);
  }
  return g_string_free (text, FALSE);
}

static void
test_text (void)
{
  static const char content[] = "Plain words in a file.\n\nA second paragraph, Grüße.\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) extracted
      = extract (helper (), "notes.txt", content, strlen (content), NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (extracted->format, ==, SR_FORMAT_TEXT);
  g_autofree char *text = all_text (extracted);
  g_assert_nonnull (strstr (text, "Plain words in a file."));
  g_assert_nonnull (strstr (text, "A second paragraph, Grüße."));
}

static void
test_html (void)
{
  static const char content[]
      = "<!DOCTYPE html><html><head><title>The Title</title>"
        "<script>var secret = 'script text';</script><style>p { color: red }</style></head>"
        "<body><h1>Chapter</h1><p>Body text of the chapter.</p></body></html>";
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) extracted
      = extract (helper (), "page.html", content, strlen (content), NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (extracted->format, ==, SR_FORMAT_HTML);
  g_assert_cmpstr (extracted->title, ==, "The Title");
  g_autofree char *text = all_text (extracted);
  g_assert_nonnull (strstr (text, "Body text of the chapter."));
  g_assert_nonnull (strstr (text, "Chapter"));
  g_assert_null (strstr (text, "script text"));
  g_assert_null (strstr (text, "color"));
}

/* Builds a PDF with one line of text per page, with a correct cross-reference table. */
static GString *
make_pdf (const char *const *pages, guint n_pages)
{
  GString *pdf = g_string_new ("%PDF-1.4\n");
  g_autoptr (GArray) offsets = g_array_new (FALSE, FALSE, sizeof (gsize));
  guint n_objects = 3 + 2 * n_pages;
  g_autoptr (GString) kids = g_string_new (NULL);

  for (guint i = 0; i < n_pages; i++)
    g_string_append_printf (kids, "%u 0 R ", 4 + 2 * i);
#define OBJ(...)                                                                                   \
  do {                                                                                             \
    gsize at = pdf->len;                                                                           \
    g_array_append_val (offsets, at);                                                              \
    g_string_append_printf (pdf, __VA_ARGS__);                                                     \
  } while (0)
  OBJ ("1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n");
  OBJ ("2 0 obj << /Type /Pages /Kids [%s] /Count %u >> endobj\n", kids->str, n_pages);
  OBJ ("3 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\n");
  for (guint i = 0; i < n_pages; i++) {
    g_autofree char *stream = g_strdup_printf ("BT /F1 12 Tf 72 720 Td (%s) Tj ET", pages[i]);
    OBJ ("%u 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %u 0 R "
         "/Resources << /Font << /F1 3 0 R >> >> >> endobj\n",
         4 + 2 * i, 5 + 2 * i);
    OBJ ("%u 0 obj << /Length %zu >> stream\n%s\nendstream endobj\n", 5 + 2 * i, strlen (stream),
         stream);
  }
#undef OBJ
  gsize xref = pdf->len;
  g_string_append_printf (pdf, "xref\n0 %u\n0000000000 65535 f \n", n_objects + 1);
  for (guint i = 0; i < n_objects; i++)
    g_string_append_printf (pdf, "%010zu 00000 n \n", g_array_index (offsets, gsize, i));
  g_string_append_printf (pdf, "trailer << /Size %u /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n",
                          n_objects + 1, xref);
  return pdf;
}

/* poppler under the filter: font configuration cannot be opened, text still comes out. */
static void
test_pdf (void)
{
  static const char *const pages[] = { "First page words", "Second page words" };
  g_autoptr (GString) pdf = make_pdf (pages, G_N_ELEMENTS (pages));
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) extracted
      = extract (helper (), "report.pdf", pdf->str, pdf->len, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (extracted->format, ==, SR_FORMAT_PDF);
  g_autofree char *text = all_text (extracted);
  g_test_message ("%s", text);
  g_assert_nonnull (strstr (text, "First page words"));
  g_assert_nonnull (strstr (text, "Second page words"));
  gboolean second_on_page_2 = FALSE;
  for (guint i = 0; i < extracted->sections->len; i++) {
    const SrSection *section = g_ptr_array_index (extracted->sections, i);
    if (strstr (section->text, "Second page words") != NULL)
      second_on_page_2 = section->page == 2;
  }
  g_assert_true (second_on_page_2);
}

static void
test_unsupported (void)
{
  guint8 junk[4096];
  for (gsize i = 0; i < sizeof junk; i++)
    junk[i] = (guint8) ((i * 7919) >> 3);
  memcpy (junk,
          "\x7f"
          "ELF\x02\x01\x01",
          7);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) extracted
      = extract (helper (), "program.bin", junk, sizeof junk, NULL, &error);

  g_assert_null (extracted);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT);
  g_test_message ("%s", error->message);
}

static gboolean
detect (const char *name, const void *data, gsize length, SrFormat *format, GError **error)
{
  int fd = open_content (name, data, length);
  gboolean ok = sr_sandbox_detect (helper (), fd, name, NULL, NULL, format, error);
  close (fd);
  assert_no_children ();
  return ok;
}

static void
assert_detected (const char *name, GBytes *bytes, SrFormat expected)
{
  g_autoptr (GError) error = NULL;
  SrFormat format = SR_FORMAT_TEXT;
  gsize length = 0;
  const void *data = g_bytes_get_data (bytes, &length);
  g_test_message ("%s", name);
  g_assert_true (detect (name, data, length, &format, &error));
  g_assert_no_error (error);
  g_assert_cmpint (format, ==, expected);
}

/* The helper tells zip-based formats from their members, and any other zip from them. */
static void
test_detect (void)
{
  g_autoptr (GBytes) docx = fixture_docx ();
  g_autoptr (GBytes) odt = fixture_odt ();
  g_autoptr (GBytes) epub = fixture_epub (TRUE);
  const FixtureMember other[] = { { "readme.txt", "just a zip", 0, FALSE } };
  g_autoptr (GBytes) zip = fixture_zip (other, 1);
  g_autoptr (GBytes) cut = g_bytes_new_from_bytes (docx, 0, 40);
  g_autoptr (GBytes) text = g_bytes_new_static ("# Notes\n\nwords\n", 15);
  assert_detected ("report.bin", docx, SR_FORMAT_DOCX);
  assert_detected ("a.docx", odt, SR_FORMAT_ODT);
  assert_detected ("book", epub, SR_FORMAT_EPUB);
  assert_detected ("a.docx", zip, SR_FORMAT_UNKNOWN);
  assert_detected ("a.docx", cut, SR_FORMAT_UNKNOWN);
  assert_detected ("notes.txt", text, SR_FORMAT_MARKDOWN);

  /* A helper that cannot run is an error, not a verdict. */
  g_autoptr (GError) error = NULL;
  SrFormat format = SR_FORMAT_TEXT;
  int fd = open_content ("a.docx", "PK\x03\x04", 4);
  g_assert_false (sr_sandbox_detect ("/nonexistent/smartrag-extract", fd, "a.docx", NULL, NULL,
                                     &format, &error));
  close (fd);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
}

static void
test_file_too_large (void)
{
  SrSandboxLimits limits;
  sr_sandbox_limits_init (&limits);
  limits.max_file_bytes = 16;
  static const char content[] = "more than sixteen bytes of text\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) extracted
      = extract (helper (), "big.txt", content, strlen (content), &limits, &error);

  g_assert_null (extracted);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "16 bytes"));
}

static void
test_missing_helper (void)
{
  int fd = open_content ("a.txt", "a", 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) extracted
      = sr_sandbox_extract ("/nonexistent/smartrag-extract", fd, "a.txt", NULL, NULL, &error);
  close (fd);
  g_assert_null (extracted);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "/nonexistent/smartrag-extract"));
}

/* Runs the fault helper and checks the code, a phrase of the message and the time taken. */
static void
check_fault (const char *fault, const SrSandboxLimits *limits, SmartragError code,
             const char *phrase, double max_seconds)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *wrapper = g_build_filename (tmpdir, "fault-helper", NULL);
  g_autofree char *script
      = g_strdup_printf ("#!/bin/sh\nexec '%s' --fault=%s \"$@\"\n", faults_helper (), fault);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (wrapper, script, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (wrapper, 0700), ==, 0);

  gint64 start = g_get_monotonic_time ();
  g_autoptr (SrExtracted) extracted = extract (wrapper, "input.txt", "text\n", 5, limits, &error);
  double seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_unlink (wrapper);

  g_test_message ("--fault=%s: %.2f s: %s", fault, seconds, error ? error->message : "(none)");
  g_assert_null (extracted);
  g_assert_error (error, SMARTRAG_ERROR, (int) code);
  g_assert_nonnull (strstr (error->message, phrase));
  g_assert_cmpfloat (seconds, <, max_seconds);
}

static SrSandboxLimits
tight_limits (void)
{
  SrSandboxLimits limits;
  sr_sandbox_limits_init (&limits);
  limits.wall_timeout_seconds = 20;
  return limits;
}

static void
test_fault_crash (void)
{
  SrSandboxLimits limits = tight_limits ();
  check_fault ("crash", &limits, SMARTRAG_ERROR_FAILED, "crashed on input.txt (SIGSEGV)", 10);
}

static void
test_fault_hang (void)
{
  SrSandboxLimits limits = tight_limits ();
  limits.wall_timeout_seconds = 1;
  check_fault ("hang", &limits, SMARTRAG_ERROR_TOO_LARGE, "took longer than 1 s", 5);
}

static void
test_fault_spin (void)
{
  SrSandboxLimits limits = tight_limits ();
  limits.cpu_seconds = 1;
  check_fault ("spin", &limits, SMARTRAG_ERROR_TOO_LARGE, "more than 1 s of processor time", 10);
}

static void
test_fault_oom (void)
{
  SrSandboxLimits limits = tight_limits ();
  limits.max_memory_bytes = 256 << 20;
  check_fault ("oom", &limits, SMARTRAG_ERROR_TOO_LARGE, "MiB of memory", 10);
}

static void
test_fault_garbage (void)
{
  SrSandboxLimits limits = tight_limits ();
  check_fault ("garbage", &limits, SMARTRAG_ERROR_FAILED, "malformed output", 10);
}

static void
test_fault_bigoutput (void)
{
  SrSandboxLimits limits = tight_limits ();
  limits.max_output_bytes = 4 << 20;
  check_fault ("bigoutput", &limits, SMARTRAG_ERROR_TOO_LARGE, "MiB of text", 10);
}

/* The filter refuses opening files: the helper gets EPERM instead of the contents. */
static void
test_fault_open (void)
{
  SrSandboxLimits limits = tight_limits ();
  check_fault ("open", &limits, SMARTRAG_ERROR_FAILED, g_strerror (EPERM), 10);
}

/* Calls outside the allow-list kill the helper. */
static void
test_fault_socket (void)
{
  SrSandboxLimits limits = tight_limits ();
  check_fault ("socket", &limits, SMARTRAG_ERROR_FAILED, "sandbox forbids", 10);
}

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static gpointer
run_cancel_timer (gpointer data)
{
  g_usleep (G_USEC_PER_SEC / 5);
  cancel_later (data);
  return NULL;
}

static void
test_cancel (void)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *wrapper = g_build_filename (tmpdir, "hang-helper", NULL);
  g_autofree char *script
      = g_strdup_printf ("#!/bin/sh\nexec '%s' --fault=hang \"$@\"\n", faults_helper ());
  g_autoptr (GError) error = NULL;
  g_file_set_contents (wrapper, script, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (wrapper, 0700), ==, 0);
  int fd = open_content ("input.txt", "text\n", 5);

  GThread *timer = g_thread_new ("cancel", run_cancel_timer, cancellable);
  g_autoptr (SrExtracted) extracted
      = sr_sandbox_extract (wrapper, fd, "input.txt", NULL, cancellable, &error);
  g_thread_join (timer);
  close (fd);
  g_unlink (wrapper);

  g_assert_null (extracted);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED);
  assert_no_children ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("smartrag-extract-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);

  g_test_add_func ("/extract/sandbox/text", test_text);
  g_test_add_func ("/extract/sandbox/html", test_html);
  g_test_add_func ("/extract/sandbox/pdf", test_pdf);
  g_test_add_func ("/extract/sandbox/unsupported", test_unsupported);
  g_test_add_func ("/extract/sandbox/detect", test_detect);
  g_test_add_func ("/extract/sandbox/file-too-large", test_file_too_large);
  g_test_add_func ("/extract/sandbox/missing-helper", test_missing_helper);
  g_test_add_func ("/extract/sandbox/fault/crash", test_fault_crash);
  g_test_add_func ("/extract/sandbox/fault/hang", test_fault_hang);
  g_test_add_func ("/extract/sandbox/fault/spin", test_fault_spin);
  g_test_add_func ("/extract/sandbox/fault/oom", test_fault_oom);
  g_test_add_func ("/extract/sandbox/fault/garbage", test_fault_garbage);
  g_test_add_func ("/extract/sandbox/fault/bigoutput", test_fault_bigoutput);
  g_test_add_func ("/extract/sandbox/fault/open", test_fault_open);
  g_test_add_func ("/extract/sandbox/fault/socket", test_fault_socket);
  g_test_add_func ("/extract/sandbox/cancel", test_cancel);

  int status = g_test_run ();
  g_assert_cmpint (g_rmdir (tmpdir), ==, 0);
  g_free (tmpdir);
  return status;
}
