/* The real helper, confined: documents come through, and misbehaviour fails cleanly. */
#define _GNU_SOURCE /* gettid */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* The children of @parent, from /proc; with the first line of each one's stat in @stats. */
static GArray *
children_of (pid_t parent, GPtrArray *stats)
{
  g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
  GArray *children = g_array_new (FALSE, FALSE, sizeof (pid_t));
  const char *name;

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
    if (ppid != parent)
      continue;
    pid_t pid = (pid_t) atoi (name);
    g_array_append_val (children, pid);
    if (stats != NULL)
      g_ptr_array_add (stats, g_steal_pointer (&stat));
  }
  return children;
}

/* The arguments a process was started with; none for a zombie. */
static GStrv
command_line (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/cmdline", (int) pid);
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  if (g_file_get_contents (path, &contents, &length, NULL))
    for (gsize at = 0; at < length; at += strlen (contents + at) + 1)
      g_strv_builder_add (builder, contents + at);
  return g_strv_builder_end (builder);
}

/* The fork server among our children that was started with @argument (its program, or an
 * option a wrapper adds), or 0. */
static pid_t
server_with (const char *argument)
{
  g_autoptr (GArray) children = children_of (getpid (), NULL);
  for (guint i = 0; i < children->len; i++) {
    pid_t pid = g_array_index (children, pid_t, i);
    g_auto (GStrv) argv = command_line (pid);
    if (g_strv_contains ((const char *const *) argv, argument)
        && g_strv_contains ((const char *const *) argv, "--serve"))
      return pid;
  }
  return 0;
}

/* Every reader must have been killed and reaped: our only children are the fork servers,
 * idle and with no children of their own, running or not; zombies have no command line. */
static void
assert_no_children (void)
{
  g_autoptr (GPtrArray) stats = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) children = children_of (getpid (), stats);

  for (guint i = 0; i < children->len; i++) {
    pid_t pid = g_array_index (children, pid_t, i);
    g_auto (GStrv) argv = command_line (pid);
    if (!g_strv_contains ((const char *const *) argv, "--serve"))
      g_error ("process %d (%s) was left behind", (int) pid, (char *) stats->pdata[i]);
    g_autoptr (GPtrArray) child_stats = g_ptr_array_new_with_free_func (g_free);
    g_autoptr (GArray) grandchildren = children_of (pid, child_stats);
    if (grandchildren->len > 0)
      g_error ("the fork server %d left process %s behind", (int) pid,
               (char *) child_stats->pdata[0]);
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

/* A script at @name in the temporary folder that runs the fault helper with --fault=@fault
 * (none if NULL) and the daemon's arguments, as a wrapper around the helper would. Written
 * anew each time: the daemon must notice that the program at a path has changed. */
static char *
write_wrapper (const char *name, const char *fault)
{
  g_autofree char *wrapper = g_build_filename (tmpdir, name, NULL);
  g_autofree char *option = fault != NULL ? g_strdup_printf (" --fault=%s", fault) : g_strdup ("");
  g_autofree char *script
      = g_strdup_printf ("#!/bin/sh\nexec '%s'%s \"$@\"\n", faults_helper (), option);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (wrapper, script, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (wrapper, 0700), ==, 0);
  return g_steal_pointer (&wrapper);
}

/* Runs the fault helper and checks the code, a phrase of the message and the time taken. */
static void
check_fault (const char *fault, const SrSandboxLimits *limits, SmartragError code,
             const char *phrase, double max_seconds)
{
  g_autofree char *wrapper = write_wrapper ("fault-helper", fault);
  g_autoptr (GError) error = NULL;

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

/* The child is killed and reaped; its fork server stays and serves the next document. */
static void
test_cancel (void)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *wrapper = write_wrapper ("hang-helper", "hang:input.txt");
  g_autoptr (GError) error = NULL;
  int fd = open_content ("input.txt", "text\n", 5);

  GThread *timer = g_thread_new ("cancel", run_cancel_timer, cancellable);
  g_autoptr (SrExtracted) extracted
      = sr_sandbox_extract (wrapper, fd, "input.txt", NULL, cancellable, &error);
  g_thread_join (timer);
  close (fd);

  g_assert_null (extracted);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED);
  assert_no_children ();
  pid_t server = server_with ("--fault=hang:input.txt");
  g_assert_cmpint (server, >, 0);

  g_clear_error (&error);
  g_autoptr (SrExtracted) next = extract (wrapper, "next.txt", "next\n", 5, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (server_with ("--fault=hang:input.txt"), ==, server);

  /* Cancelled before it starts: nothing is sent at all. */
  g_clear_error (&error);
  fd = open_content ("input.txt", "text\n", 5);
  g_autoptr (SrExtracted) none
      = sr_sandbox_extract (wrapper, fd, "input.txt", NULL, cancellable, &error);
  close (fd);
  g_assert_null (none);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_CANCELLED);
  assert_no_children ();
  g_unlink (wrapper);
}

#define CONCURRENT_THREADS   4
#define CONCURRENT_DOCUMENTS 12

/* One thread's share: text, Markdown to detect and a PDF, each with its own words and its
 * own limits, so that answers cannot be mixed up between requests. */
static gpointer
extract_many (gpointer data)
{
  guint thread = GPOINTER_TO_UINT (data);

  for (guint i = 0; i < CONCURRENT_DOCUMENTS; i++) {
    g_autofree char *name = g_strdup_printf ("t%u-%u.%s", thread, i, i % 3 == 2 ? "pdf" : "txt");
    g_autofree char *words = g_strdup_printf ("Words of thread %u document %u", thread, i);
    g_autoptr (GString) content = NULL;
    if (i % 3 == 2) {
      const char *pages[] = { words };
      content = make_pdf (pages, 1);
    } else {
      content = g_string_new (i % 3 == 1 ? "# Heading\n\n" : "");
      g_string_append_printf (content, "%s.\n", words);
    }
    SrSandboxLimits limits;
    sr_sandbox_limits_init (&limits);
    limits.max_pages = 10 + thread * CONCURRENT_DOCUMENTS + i;
    int fd = open_content (name, content->str, content->len);
    g_autoptr (GError) error = NULL;

    if (i % 3 == 1) {
      SrFormat format = SR_FORMAT_UNKNOWN;
      g_assert_true (sr_sandbox_detect (helper (), fd, name, &limits, NULL, &format, &error));
      g_assert_no_error (error);
      g_assert_cmpint (format, ==, SR_FORMAT_MARKDOWN);
      g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
    }
    g_autoptr (SrExtracted) extracted
        = sr_sandbox_extract (helper (), fd, name, &limits, NULL, &error);
    close (fd);
    g_assert_no_error (error);
    g_autofree char *text = all_text (extracted);
    g_assert_nonnull (strstr (text, words));
  }
  return NULL;
}

/* Several workers share one fork server. */
static void
test_concurrent (void)
{
  GThread *threads[CONCURRENT_THREADS];
  for (guint i = 0; i < CONCURRENT_THREADS; i++)
    threads[i] = g_thread_new ("extract", extract_many, GUINT_TO_POINTER (i));
  for (guint i = 0; i < CONCURRENT_THREADS; i++)
    g_thread_join (threads[i]);
  assert_no_children ();

  g_autoptr (GArray) children = children_of (getpid (), NULL);
  guint servers = 0;
  for (guint i = 0; i < children->len; i++) {
    g_auto (GStrv) argv = command_line (g_array_index (children, pid_t, i));
    servers += argv[0] != NULL && g_str_equal (argv[0], helper ());
  }
  g_assert_cmpuint (servers, ==, 1);
}

static void
assert_text_extracts (const char *helper_path)
{
  static const char content[] = "Still read.\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) extracted
      = extract (helper_path, "still.txt", content, strlen (content), NULL, &error);
  g_assert_no_error (error);
  g_autofree char *text = all_text (extracted);
  g_assert_nonnull (strstr (text, "Still read."));
}

/* Waits until @pid has exited; it stays a zombie until its parent reaps it. */
static void
await_zombie (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  for (guint i = 0; i < 1000; i++) {
    g_autofree char *stat = NULL;
    if (!g_file_get_contents (path, &stat, NULL, NULL) || strstr (stat, ") Z ") != NULL)
      return;
    g_usleep (G_USEC_PER_SEC / 100);
  }
  g_error ("process %d did not exit", (int) pid);
}

/* A fork server that died is replaced without the caller noticing: found dead before the
 * next request, or dying while it is sent. */
static void
test_server_killed (void)
{
  assert_text_extracts (helper ());
  pid_t first = server_with (helper ());
  g_assert_cmpint (first, >, 0);
  g_assert_cmpint (kill (first, SIGKILL), ==, 0);
  await_zombie (first);

  assert_text_extracts (helper ());
  pid_t second = server_with (helper ());
  g_assert_cmpint (second, >, 0);
  g_assert_cmpint (second, !=, first);
  g_assert_cmpint (kill (second, SIGKILL), ==, 0);

  assert_text_extracts (helper ());
  g_assert_cmpint (server_with (helper ()), !=, second);
}

/* A child that hangs is killed at the deadline; its server lives on. */
static void
test_hung_child (void)
{
  g_autofree char *wrapper = write_wrapper ("stuck-helper", "hang:stuck.txt");
  SrSandboxLimits limits = tight_limits ();
  limits.wall_timeout_seconds = 1;
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) stuck = extract (wrapper, "stuck.txt", "text\n", 5, &limits, &error);
  g_assert_null (stuck);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "took longer than 1 s"));
  pid_t server = server_with ("--fault=hang:stuck.txt");
  g_assert_cmpint (server, >, 0);

  assert_text_extracts (wrapper);
  g_assert_cmpint (server_with ("--fault=hang:stuck.txt"), ==, server);
  g_unlink (wrapper);
}

/* A program replaced at the same path gets a server of its own. */
static void
test_helper_replaced (void)
{
  g_autofree char *wrapper = write_wrapper ("changing-helper", "crash");
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) crashed = extract (wrapper, "input.txt", "text\n", 5, NULL, &error);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);

  g_free (write_wrapper ("changing-helper", NULL));
  assert_text_extracts (wrapper);
  g_unlink (wrapper);
}

/* A program that exits at once, as one without --serve would, is an error naming it. */
static void
test_broken_helper (void)
{
  g_autofree char *wrapper = g_build_filename (tmpdir, "broken-helper", NULL);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (wrapper, "#!/bin/sh\nexit 2\n", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (wrapper, 0700), ==, 0);

  g_autoptr (SrExtracted) extracted = extract (wrapper, "input.txt", "text\n", 5, NULL, &error);
  g_test_message ("%s", error ? error->message : "(none)");
  g_assert_null (extracted);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, wrapper));
  g_unlink (wrapper);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

/* A child's stderr is a pipe of its request: were it the daemon's stderr, and that a file,
 * RLIMIT_FSIZE would kill the child with SIGXFSZ for a complaint. What it says goes to the
 * debug log when the document fails, and never to the daemon's stderr. */
static void
test_child_stderr (void)
{
  g_autofree char *wrapper = write_wrapper ("complaining-helper", "complain");
  g_autofree char *log_path = g_build_filename (tmpdir, "stderr.log", NULL);
  int log_fd = open (log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int saved_stderr = dup (STDERR_FILENO);
  g_assert_cmpint (log_fd, >=, 0);
  g_assert_cmpint (saved_stderr, >=, 0);
  g_assert_cmpint (dup2 (log_fd, STDERR_FILENO), ==, STDERR_FILENO);

  assert_text_extracts (wrapper);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) unsupported = extract (wrapper, "program.bin",
                                                 "\x7f"
                                                 "ELF\x02\x01\x01",
                                                 7, NULL, &error);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT);

  g_assert_cmpint (dup2 (saved_stderr, STDERR_FILENO), ==, STDERR_FILENO);
  close (saved_stderr);
  close (log_fd);
  g_autofree char *logged = NULL;
  g_assert_true (g_file_get_contents (log_path, &logged, NULL, NULL));
  g_assert_cmpstr (logged, ==, "");
  g_unlink (log_path);
  g_unlink (wrapper);
}

/* The niceness of process @pid. */
static int
niceness_of (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  int nice = 0;
  g_assert_true (g_file_get_contents (path, &stat, NULL, NULL));
  const char *after_comm = strrchr (stat, ')');
  g_assert_nonnull (after_comm);
  g_assert_cmpint (sscanf (after_comm + 2,
                           "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %d",
                           &nice),
                   ==, 1);
  return nice;
}

static int
nicer (void)
{
  return MIN (getpriority (PRIO_PROCESS, 0) + 7, 19);
}

static gpointer
extract_nicely (gpointer data)
{
  g_assert_cmpint (setpriority (PRIO_PROCESS, (id_t) gettid (), nicer ()), ==, 0);
  SrSandboxLimits limits = tight_limits ();
  limits.wall_timeout_seconds = 3;
  int fd = open_content ("slow.txt", "text\n", 5);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) extracted
      = sr_sandbox_extract (data, fd, "slow.txt", &limits, NULL, &error);
  close (fd);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE);
  return NULL;
}

/* A reader runs as nice as the thread that waits for it, as an executed helper did, so
 * that workers' documents yield to the main loop whichever thread started the server. */
static void
test_niceness (void)
{
  if (getpriority (PRIO_PROCESS, 0) >= 19) {
    g_test_skip ("already as nice as can be");
    return;
  }
  g_autofree char *wrapper = write_wrapper ("slow-helper", "hang:slow.txt");
  assert_text_extracts (wrapper);
  pid_t server = server_with ("--fault=hang:slow.txt");
  g_assert_cmpint (server, >, 0);

  GThread *thread = g_thread_new ("nice", extract_nicely, wrapper);
  pid_t child = 0;
  for (guint i = 0; i < 200 && child == 0; i++) {
    g_autoptr (GArray) children = children_of (server, NULL);
    if (children->len > 0)
      child = g_array_index (children, pid_t, 0);
    else
      g_usleep (G_USEC_PER_SEC / 100);
  }
  g_assert_cmpint (child, >, 0);
  g_assert_cmpint (niceness_of (child), ==, nicer ());
  g_thread_join (thread);
  assert_no_children ();
  g_unlink (wrapper);
}

/* The descriptors of process @pid, as "number → target" lines. */
static char *
describe_fds (pid_t pid)
{
  g_autofree char *dir_path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL) {
    g_autofree char *path = g_build_filename (dir_path, name, NULL);
    g_autofree char *target = g_file_read_link (path, NULL);
    g_ptr_array_add (lines, g_strdup_printf ("%s → %s", name, target ? target : "?"));
  }
  g_ptr_array_sort (lines, compare_strings);
  g_ptr_array_add (lines, NULL);
  return g_strjoinv ("\n", (char **) lines->pdata);
}

/* After many requests, good and bad, the server holds what it started with and nothing
 * else: /dev/null as stdin and stdout, the daemon's stderr, its socket. */
static void
test_server_leaks_nothing (void)
{
  SrSandboxLimits small;
  sr_sandbox_limits_init (&small);
  small.max_file_bytes = 4;

  for (guint i = 0; i < 40; i++) {
    static const char content[] = "Some words.\n";
    g_autoptr (GError) error = NULL;
    g_autoptr (SrExtracted) extracted = extract (helper (), "words.txt", content, strlen (content),
                                                 i % 2 == 0 ? NULL : &small, &error);
    if (i % 2 == 0)
      g_assert_no_error (error);
    else
      g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE);
  }
  pid_t server = server_with (helper ());
  g_assert_cmpint (server, >, 0);

  g_autofree char *fds = describe_fds (server);
  g_test_message ("descriptors of the fork server:\n%s", fds);
  g_auto (GStrv) lines = g_strsplit (fds, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 4);
  g_assert_cmpstr (lines[0], ==, "0 → /dev/null");
  g_assert_cmpstr (lines[1], ==, "1 → /dev/null");
  g_assert_true (g_str_has_prefix (lines[2], "2 → "));
  g_assert_true (g_str_has_prefix (lines[3], "3 → socket:"));
  assert_no_children ();
}

/* Shutting down reaps every server; the next request starts one again. */
static void
test_shutdown (void)
{
  assert_text_extracts (helper ());
  sr_sandbox_shutdown ();
  g_autoptr (GArray) children = children_of (getpid (), NULL);
  g_assert_cmpuint (children->len, ==, 0);

  assert_text_extracts (helper ());
  g_assert_cmpint (server_with (helper ()), >, 0);
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
  g_test_add_func ("/extract/sandbox/server/concurrent", test_concurrent);
  g_test_add_func ("/extract/sandbox/server/killed", test_server_killed);
  g_test_add_func ("/extract/sandbox/server/hung-child", test_hung_child);
  g_test_add_func ("/extract/sandbox/server/helper-replaced", test_helper_replaced);
  g_test_add_func ("/extract/sandbox/server/broken-helper", test_broken_helper);
  g_test_add_func ("/extract/sandbox/server/child-stderr", test_child_stderr);
  g_test_add_func ("/extract/sandbox/server/niceness", test_niceness);
  g_test_add_func ("/extract/sandbox/server/leaks-nothing", test_server_leaks_nothing);
  g_test_add_func ("/extract/sandbox/server/shutdown", test_shutdown);

  int status = g_test_run ();
  /* Reaped here rather than killed when the process ends, so that a coverage build's
   * servers write their counts. */
  sr_sandbox_shutdown ();
  g_assert_cmpint (g_rmdir (tmpdir), ==, 0);
  g_free (tmpdir);
  return status;
}
