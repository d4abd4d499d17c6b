/* Unit tests for the readers: each format from generated fixtures, and hostile input. */
#include "ingest/readers.h"

#include <string.h>
#include <sys/resource.h>

#include "common/errors.h"
#include "fixtures.h"

static const SrExtractLimits limits = {
  .max_output_bytes = 16 << 20,
  .max_decompressed_bytes = 32 << 20,
  .max_pages = 100,
};

static SrExtracted *
read_ok (SrFormat format, const char *data, gsize length)
{
  g_autoptr (GError) error = NULL;
  SrExtracted *extracted
      = sr_read_document (format, (const guint8 *) data, length, &limits, &error);
  g_assert_no_error (error);
  g_assert_nonnull (extracted);
  g_assert_cmpint (extracted->format, ==, format);
  return extracted;
}

static SrExtracted *
read_bytes_ok (SrFormat format, GBytes *bytes)
{
  gsize length = 0;
  const char *data = g_bytes_get_data (bytes, &length);
  g_assert_cmpint (sr_format_detect ((const guint8 *) data, length, NULL), ==, format);
  return read_ok (format, data, length);
}

static void
assert_fails (SrFormat format, const void *data, gsize length, const SrExtractLimits *with,
              SmartragError code, const char *message_part)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) extracted
      = sr_read_document (format, data, length, with != NULL ? with : &limits, &error);
  g_assert_null (extracted);
  g_assert_error (error, SMARTRAG_ERROR, (gint) code);
  g_test_message ("message: %s", error->message);
  if (message_part != NULL)
    g_assert_nonnull (strstr (error->message, message_part));
}

static void
assert_section (SrExtracted *extracted, guint index, const char *text, guint page,
                const char *heading)
{
  g_assert_cmpuint (index, <, extracted->sections->len);
  SrSection *section = extracted->sections->pdata[index];
  g_assert_cmpstr (section->text, ==, text);
  g_assert_cmpuint (section->page, ==, page);
  g_assert_cmpstr (section->heading, ==, heading);
}

static gboolean
any_section_contains (SrExtracted *extracted, const char *needle)
{
  for (guint i = 0; i < extracted->sections->len; i++) {
    SrSection *section = extracted->sections->pdata[i];
    if (strstr (section->text, needle) != NULL || strstr (section->heading, needle) != NULL)
      return TRUE;
  }
  return extracted->title != NULL && strstr (extracted->title, needle) != NULL;
}

static void
test_text_utf8 (void)
{
  static const char text[] = "\xef\xbb\xbf"
                             "First line\r\nstill first.\r\n\r\n\r\nSecond ünïcödé\rthird line\n";
  g_autoptr (SrExtracted) extracted = read_ok (SR_FORMAT_TEXT, text, strlen (text));
  g_assert_cmpuint (extracted->sections->len, ==, 1);
  assert_section (extracted, 0, "First line\nstill first.\n\nSecond ünïcödé\nthird line", 0, "");
  g_assert_null (extracted->title);
}

static void
test_text_latin1 (void)
{
  static const char text[] = "Caf\xe9 cr\xe8me \x80 5\r\n\r\nSecond \xbfpara?\r\n";
  g_autoptr (SrExtracted) extracted = read_ok (SR_FORMAT_TEXT, text, strlen (text));
  assert_section (extracted, 0, "Café crème € 5\n\nSecond ¿para?", 0, "");
}

static void
test_text_junk (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);
  guint8 junk[4096];
  for (gsize i = 0; i < sizeof junk; i++)
    junk[i] = (guint8) g_rand_int_range (rand, 0, 256);
  assert_fails (SR_FORMAT_TEXT, junk, sizeof junk, NULL, SMARTRAG_ERROR_INVALID_ARGS,
                "not text in UTF-8 or Latin-1");
  /* No NUL at all, but control characters everywhere. */
  for (gsize i = 0; i < sizeof junk; i++)
    junk[i] = (guint8) g_rand_int_range (rand, 1, 32);
  assert_fails (SR_FORMAT_TEXT, junk, sizeof junk, NULL, SMARTRAG_ERROR_INVALID_ARGS,
                "not text in UTF-8 or Latin-1");
  assert_fails (SR_FORMAT_UNKNOWN, junk, sizeof junk, NULL, SMARTRAG_ERROR_UNSUPPORTED_FORMAT,
                "PDF, DOCX");
}

static void
test_empty (void)
{
  for (SrFormat format = SR_FORMAT_UNKNOWN; format <= SR_FORMAT_EPUB; format++)
    assert_fails (format, "", 0, NULL, SMARTRAG_ERROR_INVALID_ARGS, "empty");
  /* Only blank lines: a readable document with nothing in it. */
  g_autoptr (SrExtracted) extracted = read_ok (SR_FORMAT_TEXT, "\n \n\t\n", 5);
  g_assert_cmpuint (extracted->sections->len, ==, 0);
}

static void
test_output_limit (void)
{
  g_autoptr (GString) text = g_string_new (NULL);
  for (guint i = 0; i < 2000; i++)
    g_string_append (text, "A line of text that repeats.\n\n");
  SrExtractLimits small = limits;
  small.max_output_bytes = 10000;
  assert_fails (SR_FORMAT_TEXT, text->str, text->len, &small, SMARTRAG_ERROR_TOO_LARGE,
                "[limits] max_extracted_size");
  assert_fails (SR_FORMAT_MARKDOWN, text->str, text->len, &small, SMARTRAG_ERROR_TOO_LARGE, NULL);
  g_autoptr (GString) html = g_string_new ("<html><body>");
  for (guint i = 0; i < 2000; i++)
    g_string_append (html, "<p>A paragraph of HTML text.</p>");
  assert_fails (SR_FORMAT_HTML, html->str, html->len, &small, SMARTRAG_ERROR_TOO_LARGE, NULL);
}

static void
test_markdown (void)
{
  static const char text[] = "# Guide\n\nIntro *text*.\n\n## Install ##\n\nStep one.\n"
                             "Step two.\n\n```sh\n# not a heading\ncode line\n\n```\n\n"
                             "### Linux\n\nUse apt.\n\nSetext Title\n============\n\nBody.\n\n"
                             "# Other\n\n---\n\nEnd.\n";
  g_autoptr (SrExtracted) extracted = read_ok (SR_FORMAT_MARKDOWN, text, strlen (text));
  g_assert_cmpuint (extracted->sections->len, ==, 5);
  assert_section (extracted, 0, "Intro *text*.", 0, "Guide");
  assert_section (extracted, 1, "Step one.\nStep two.\n\n# not a heading\ncode line", 0,
                  "Guide > Install");
  assert_section (extracted, 2, "Use apt.", 0, "Guide > Install > Linux");
  assert_section (extracted, 3, "Body.", 0, "Setext Title");
  assert_section (extracted, 4, "End.", 0, "Other");
}

static void
test_html (void)
{
  static const char html[]
      = "<!DOCTYPE html><html><head><title>Page  Title</title>"
        "<style>body { color: red }</style><script>var secret = \"SCRIPTTEXT\";</script>"
        "</head><body><h1>Top</h1><p>Hello &amp; welcome&nbsp;here,<br>friend.</p>"
        "<script>alert(\"INBODY\")</script><h2>Sub <em>part</em></h2><div>Block one</div>"
        "<div>Block <b>two</b></div><noscript>NOSCRIPT</noscript><template>TEMPLATE</template>"
        "<ul><li>item a<li>item b</ul></body></html>";
  g_autoptr (SrExtracted) extracted = read_ok (SR_FORMAT_HTML, html, strlen (html));
  g_assert_cmpstr (extracted->title, ==, "Page Title");
  g_assert_cmpuint (extracted->sections->len, ==, 2);
  assert_section (extracted, 0, "Hello & welcome\u00a0here, friend.", 0, "Top");
  assert_section (extracted, 1, "Block one\n\nBlock two\n\nitem a\n\nitem b", 0, "Top > Sub part");
  for (const char *const *hidden
       = (const char *const[]){ "SCRIPTTEXT", "INBODY", "color", "NOSCRIPT", "TEMPLATE", NULL };
       *hidden != NULL; hidden++)
    g_assert_false (any_section_contains (extracted, *hidden));
}

static void
test_html_hostile (void)
{
  /* Deep nesting and broken markup: libxml2 recovers, the walk needs no stack. */
  g_autoptr (GString) html = g_string_new ("<html><body>");
  for (guint i = 0; i < 100000; i++)
    g_string_append (html, "<div><span>");
  g_string_append (html, "deep text<p>unclosed <b>bold <i>&bogus; &#xD800; \xff\xfe");
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) extracted
      = sr_read_document (SR_FORMAT_HTML, (const guint8 *) html->str, html->len, &limits, &error);
  /* libxml2 may stop at its depth limit; either way no crash and no warning. */
  if (extracted == NULL)
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
}

static void
test_pdf (void)
{
  static const char *const pages[]
      = { "Alpha page talks about apples.", "Beta page\n\nis about bananas.",
          "Gamma page covers cherries.", NULL };
  g_autoptr (GBytes) pdf = fixture_pdf (pages, "Fruit Guide");
  g_autoptr (SrExtracted) extracted = read_bytes_ok (SR_FORMAT_PDF, pdf);
  g_assert_cmpstr (extracted->title, ==, "Fruit Guide");
  g_assert_cmpuint (extracted->sections->len, ==, 3);
  static const char *const words[] = { "apples", "bananas", "cherries" };
  for (guint i = 0; i < 3; i++) {
    SrSection *section = extracted->sections->pdata[i];
    g_assert_cmpuint (section->page, ==, i + 1);
    g_assert_nonnull (strstr (section->text, words[i]));
    for (guint j = 0; j < 3; j++)
      if (j != i)
        g_assert_null (strstr (section->text, words[j]));
  }

  SrExtractLimits two_pages = limits;
  two_pages.max_pages = 2;
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (pdf, &length);
  assert_fails (SR_FORMAT_PDF, data, length, &two_pages, SMARTRAG_ERROR_TOO_LARGE, "3 pages");
}

static void
test_pdf_damaged (void)
{
  static const char *const pages[] = { "Only page.", NULL };
  g_autoptr (GBytes) pdf = fixture_pdf (pages, NULL);
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (pdf, &length);
  assert_fails (SR_FORMAT_PDF, data, 64, NULL, SMARTRAG_ERROR_INVALID_ARGS, "damaged");

  g_autoptr (GByteArray) corrupt = g_byte_array_new ();
  g_byte_array_append (corrupt, (const guint8 *) "%PDF-1.7\n", 9);
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  for (guint i = 0; i < 8192; i++) {
    guint8 byte = (guint8) g_rand_int_range (rand, 0, 256);
    g_byte_array_append (corrupt, &byte, 1);
  }
  assert_fails (SR_FORMAT_PDF, corrupt->data, corrupt->len, NULL, SMARTRAG_ERROR_INVALID_ARGS,
                "damaged");

  /* Cut in the middle: either poppler recovers some pages or it is refused, never worse. */
  for (gsize cut = length / 4; cut < length; cut += length / 4) {
    g_autoptr (GError) error = NULL;
    g_autoptr (SrExtracted) extracted
        = sr_read_document (SR_FORMAT_PDF, data, cut, &limits, &error);
    if (extracted == NULL)
      g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  }
}

static void
test_docx (void)
{
  g_autoptr (GBytes) docx = fixture_docx ();
  g_autoptr (SrExtracted) extracted = read_bytes_ok (SR_FORMAT_DOCX, docx);
  g_assert_cmpstr (extracted->title, ==, "Report 2024");
  g_assert_cmpuint (extracted->sections->len, ==, 2);
  assert_section (extracted, 0, "Run the installer.\n\nThen reboot.", 0, "Install");
  assert_section (extracted, 1, "Needs 2 GB of memory.", 0, "Install > Requirements");
  g_assert_false (any_section_contains (extracted, "deleted"));
}

static void
test_odt (void)
{
  g_autoptr (GBytes) odt = fixture_odt ();
  g_autoptr (SrExtracted) extracted = read_bytes_ok (SR_FORMAT_ODT, odt);
  g_assert_cmpstr (extracted->title, ==, "Field Notes");
  g_assert_cmpuint (extracted->sections->len, ==, 2);
  assert_section (extracted, 0, "First paragraph here.", 0, "Chapter One");
  assert_section (extracted, 1, "Second paragraph.\n\nThird paragraph.", 0,
                  "Chapter One > Details");
}

static void
test_epub (void)
{
  g_autoptr (GBytes) epub = fixture_epub (TRUE);
  g_autoptr (SrExtracted) extracted = read_bytes_ok (SR_FORMAT_EPUB, epub);
  g_assert_cmpstr (extracted->title, ==, "The Voyage");
  g_assert_cmpuint (extracted->sections->len, ==, 2);
  assert_section (extracted, 0, "The ship left the harbour at dawn.", 0, "Departure");
  assert_section (extracted, 1, "They reached the island after forty days.", 0,
                  "Arrival > The Port");
}

static void
test_epub_missing_package (void)
{
  g_autoptr (GBytes) epub = fixture_epub (FALSE);
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (epub, &length);
  assert_fails (SR_FORMAT_EPUB, data, length, NULL, SMARTRAG_ERROR_INVALID_ARGS,
                "OEBPS/content.opf");
}

static void
test_wrong_inner_files (void)
{
  const FixtureMember not_xml[] = { { "word/document.xml", "\x01\x02 not <xml", 0, FALSE } };
  g_autoptr (GBytes) docx = fixture_zip (not_xml, 1);
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (docx, &length);
  assert_fails (SR_FORMAT_DOCX, data, length, NULL, SMARTRAG_ERROR_INVALID_ARGS, "XML");
  assert_fails (SR_FORMAT_ODT, data, length, NULL, SMARTRAG_ERROR_INVALID_ARGS, "content.xml");
  assert_fails (SR_FORMAT_EPUB, data, length, NULL, SMARTRAG_ERROR_INVALID_ARGS, "container.xml");

  /* Entities are never expanded: a "billion laughs" is refused by libxml2's loop check
   * or read without its entities, never amplified. */
  static const char laughs[]
      = "<?xml version=\"1.0\"?><!DOCTYPE w:document [<!ENTITY a \"lol\">"
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
        "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">"
        "<w:body><w:p><w:r><w:t>safe &c;</w:t></w:r></w:p></w:body></w:document>";
  const FixtureMember entity[] = { { "word/document.xml", laughs, 0, FALSE } };
  g_autoptr (GBytes) docx_entities = fixture_zip (entity, 1);
  data = g_bytes_get_data (docx_entities, &length);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) extracted
      = sr_read_document (SR_FORMAT_DOCX, data, length, &limits, &error);
  if (extracted != NULL)
    assert_section (extracted, 0, "safe", 0, "");
  else
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);

  /* Truncated archive: refused, or read from the local headers when the members needed
   * are whole before the cut (as libarchive's streaming reader does). */
  g_autoptr (GBytes) good = fixture_docx ();
  data = g_bytes_get_data (good, &length);
  for (gsize cut = 10; cut < length; cut += length / 7) {
    g_autoptr (GError) cut_error = NULL;
    g_autoptr (SrExtracted) partial
        = sr_read_document (SR_FORMAT_DOCX, data, cut, &limits, &cut_error);
    if (partial != NULL)
      assert_section (partial, 0, "Run the installer.\n\nThen reboot.", 0, "Install");
    else
      g_assert_error (cut_error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  }
}

static glong
peak_rss_kib (void)
{
  struct rusage usage;
  g_assert_cmpint (getrusage (RUSAGE_SELF, &usage), ==, 0);
  return usage.ru_maxrss;
}

static void
check_bomb (gboolean lie)
{
  g_autoptr (GBytes) bomb = fixture_zip_bomb ((gsize) 200 << 20, lie);
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (bomb, &length);
  g_test_message ("bomb of %zu bytes", length);
  g_assert_cmpuint (length, <, 1 << 20);
  g_assert_cmpint (sr_format_detect (data, length, "bomb.docx"), ==, SR_FORMAT_DOCX);

  glong rss_before = peak_rss_kib ();
  gint64 start = g_get_monotonic_time ();
  assert_fails (SR_FORMAT_DOCX, data, length, NULL, SMARTRAG_ERROR_TOO_LARGE, "zip bomb");
  gint64 elapsed = g_get_monotonic_time () - start;
  glong grown = peak_rss_kib () - rss_before;
  g_test_message ("refused in %" G_GINT64_FORMAT " us; peak memory grew by %ld KiB", elapsed,
                  grown);
  g_assert_cmpint (elapsed, <, 5 * G_USEC_PER_SEC);
  /* The limit is 32 MiB; inflating the 200 MiB would show far more. */
  g_assert_cmpint (grown, <, 100 * 1024);
}

static void
test_zip_bomb (void)
{
  check_bomb (FALSE);
}

static void
test_zip_bomb_lying_sizes (void)
{
  check_bomb (TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/readers/text/utf8", test_text_utf8);
  g_test_add_func ("/readers/text/latin1", test_text_latin1);
  g_test_add_func ("/readers/text/junk", test_text_junk);
  g_test_add_func ("/readers/empty", test_empty);
  g_test_add_func ("/readers/output-limit", test_output_limit);
  g_test_add_func ("/readers/markdown", test_markdown);
  g_test_add_func ("/readers/html", test_html);
  g_test_add_func ("/readers/html/hostile", test_html_hostile);
  g_test_add_func ("/readers/pdf", test_pdf);
  g_test_add_func ("/readers/pdf/damaged", test_pdf_damaged);
  g_test_add_func ("/readers/docx", test_docx);
  g_test_add_func ("/readers/odt", test_odt);
  g_test_add_func ("/readers/epub", test_epub);
  g_test_add_func ("/readers/epub/missing-package", test_epub_missing_package);
  g_test_add_func ("/readers/zip/wrong-inner-files", test_wrong_inner_files);
  g_test_add_func ("/readers/zip/bomb", test_zip_bomb);
  g_test_add_func ("/readers/zip/bomb-lying-sizes", test_zip_bomb_lying_sizes);
  int status = g_test_run ();
  fixture_cleanup ();
  return status;
}
