/* Unit tests for format detection: content first, the file name second. */
#include "ingest/readers.h"

#include <string.h>

#include "common/errors.h"

#include "fixtures.h"

static SrFormat
detect (const char *data, const char *filename)
{
  return sr_format_detect ((const guint8 *) data, strlen (data), filename);
}

static SrFormat
detect_bytes (GBytes *bytes, const char *filename)
{
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (bytes, &length);
  return sr_format_detect (data, length, filename);
}

static void
test_text_and_markdown (void)
{
  g_assert_cmpint (detect ("plain words\n", "a.txt"), ==, SR_FORMAT_TEXT);
  g_assert_cmpint (detect ("plain words\n", NULL), ==, SR_FORMAT_TEXT);
  g_assert_cmpint (detect ("Caf\xe9 cr\xe8me\n", "latin1.txt"), ==, SR_FORMAT_TEXT);
  g_assert_cmpint (detect ("plain words\n", "notes.md"), ==, SR_FORMAT_MARKDOWN);
  g_assert_cmpint (detect ("plain words\n", "NOTES.MARKDOWN"), ==, SR_FORMAT_MARKDOWN);
  g_assert_cmpint (detect ("# Title\n\ntext\n", "notes.txt"), ==, SR_FORMAT_MARKDOWN);
  g_assert_cmpint (detect ("intro\n## One\nx\n## Two\n", "notes.txt"), ==, SR_FORMAT_MARKDOWN);
  /* One "#" line deep inside is a comment, not a Markdown document. */
  g_assert_cmpint (detect ("intro\n# comment\nmore\n", "notes.txt"), ==, SR_FORMAT_TEXT);
  g_assert_cmpint (detect ("#hashtag\n", "a.txt"), ==, SR_FORMAT_TEXT);
  /* The name does not make a text file Markdown unless it says text. */
  g_assert_cmpint (detect ("# Title\n\ntext\n", "script.sh"), ==, SR_FORMAT_TEXT);
  /* Empty: text, which the reader then refuses as empty. */
  g_assert_cmpint (sr_format_detect ((const guint8 *) "", 0, "empty.txt"), ==, SR_FORMAT_TEXT);
}

/* What AddText gives is text (HTML, Markdown or plain), whatever it starts with. */
static void
test_typed (void)
{
  const char *pdf_like = "%PDF-1.7 is how a PDF starts";
  const char *html_like = "<html> starts a page";
  g_assert_cmpint (detect (pdf_like, "note"), ==, SR_FORMAT_PDF);
  g_assert_cmpint (sr_format_detect_typed ((const guint8 *) pdf_like, strlen (pdf_like), "note"),
                   ==, SR_FORMAT_TEXT);
  g_assert_cmpint (
      sr_format_detect_typed ((const guint8 *) html_like, strlen (html_like), "Page notes"), ==,
      SR_FORMAT_HTML);
  /* Binary junk stays junk: typed text is no excuse for control characters. */
  g_assert_cmpint (sr_format_detect_typed ((const guint8 *) "PK\3\4\0\1", 6, "text"), ==,
                   SR_FORMAT_UNKNOWN);
  /* Markdown by the same rules as files: a name that says so, or headings in a .txt. */
  const char *markdown = "# Guide\n\nSome text.\n";
  g_assert_cmpint (
      sr_format_detect_typed ((const guint8 *) markdown, strlen (markdown), "guide.txt"), ==,
      SR_FORMAT_MARKDOWN);
  g_assert_cmpint (sr_format_detect_typed ((const guint8 *) "plain", 5, "guide.md"), ==,
                   SR_FORMAT_MARKDOWN);
}

static void
test_html (void)
{
  g_assert_cmpint (detect ("<!DOCTYPE html><p>x", "page.txt"), ==, SR_FORMAT_HTML);
  g_assert_cmpint (detect ("\xef\xbb\xbf  <html lang=en><body>x", NULL), ==, SR_FORMAT_HTML);
  g_assert_cmpint (detect ("<?xml version=\"1.0\"?>\n<html xmlns=\"x\">", NULL), ==,
                   SR_FORMAT_HTML);
  g_assert_cmpint (detect ("<p>fragment</p>", "frag.html"), ==, SR_FORMAT_HTML);
  g_assert_cmpint (detect ("<p>fragment</p>", "frag.txt"), ==, SR_FORMAT_TEXT);
  g_assert_cmpint (detect ("Write <html> tags like this.", "how.txt"), ==, SR_FORMAT_TEXT);
}

static void
test_binary (void)
{
  static const char *const pages[] = { "page", NULL };
  g_autoptr (GBytes) pdf = fixture_pdf (pages, NULL);
  g_assert_cmpint (detect_bytes (pdf, "misnamed.txt"), ==, SR_FORMAT_PDF);
  g_autoptr (GBytes) docx = fixture_docx ();
  g_assert_cmpint (detect_bytes (docx, "x.bin"), ==, SR_FORMAT_DOCX);
  g_autoptr (GBytes) odt = fixture_odt ();
  g_assert_cmpint (detect_bytes (odt, "x.docx"), ==, SR_FORMAT_ODT);
  g_autoptr (GBytes) epub = fixture_epub (TRUE);
  g_assert_cmpint (detect_bytes (epub, NULL), ==, SR_FORMAT_EPUB);

  const FixtureMember other[] = { { "readme.txt", "just a zip", 0, FALSE } };
  g_autoptr (GBytes) zip = fixture_zip (other, 1);
  g_assert_cmpint (detect_bytes (zip, "a.docx"), ==, SR_FORMAT_UNKNOWN);
  g_assert_cmpint (sr_format_detect ((const guint8 *) "PK\x03\x04garbage", 11, "a.docx"), ==,
                   SR_FORMAT_UNKNOWN);

  g_autoptr (GRand) rand = g_rand_new_with_seed (1);
  guint8 junk[2048];
  for (gsize i = 0; i < sizeof junk; i++)
    junk[i] = (guint8) g_rand_int_range (rand, 0, 256);
  g_assert_cmpint (sr_format_detect (junk, sizeof junk, "junk.txt"), ==, SR_FORMAT_UNKNOWN);
  g_assert_cmpint (sr_format_detect ((const guint8 *) "text\0more", 9, "nul.txt"), ==,
                   SR_FORMAT_UNKNOWN);
}

/* What the daemon decides from the head alone agrees with detection on the whole file. */
static void
assert_head_agrees (const guint8 *data, gsize length, const char *filename)
{
  gboolean zip_archive = TRUE;
  SrFormat whole = sr_format_detect (data, length, filename);
  SrFormat head
      = sr_format_detect_head (data, MIN (length, SR_FORMAT_HEAD_BYTES), filename, &zip_archive);
  g_assert_false (zip_archive);
  g_assert_cmpint (head == SR_FORMAT_UNKNOWN, ==, whole == SR_FORMAT_UNKNOWN);
}

static void
test_head (void)
{
  static const char *const pages[] = { "page", NULL };
  g_autoptr (GBytes) pdf = fixture_pdf (pages, NULL);
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (pdf, &length);
  gboolean zip_archive = TRUE;
  g_assert_cmpint (sr_format_detect_head (data, length, "a.txt", &zip_archive), ==, SR_FORMAT_PDF);
  g_assert_false (zip_archive);

  /* Zip archives are only recognised: their members decide, elsewhere. */
  g_autoptr (GBytes) docx = fixture_docx ();
  data = g_bytes_get_data (docx, &length);
  g_assert_cmpint (sr_format_detect_head (data, 8, "a.docx", &zip_archive), ==, SR_FORMAT_UNKNOWN);
  g_assert_true (zip_archive);

  /* Long text: wherever the sample's end cuts a multi-byte character, the head says text
   * as the whole file does; binary data after the head does not change the verdict. */
  g_autoptr (GString) text = g_string_new (NULL);
  for (guint shift = 0; shift < 4; shift++) {
    g_string_assign (text, "");
    for (guint i = 0; i < shift; i++)
      g_string_append_c (text, 'x');
    while (text->len < SR_FORMAT_HEAD_BYTES + 100)
      g_string_append (text, "Grüße aus Köln. ");
    assert_head_agrees ((const guint8 *) text->str, text->len, "long.txt");
    g_assert_cmpint (sr_format_detect ((const guint8 *) text->str, text->len, "long.txt"), ==,
                     SR_FORMAT_TEXT);
  }
  g_autoptr (GString) mixed = g_string_new_len (text->str, text->len);
  g_string_append_len (mixed, "\0\0\0\x01\x02", 5);
  assert_head_agrees ((const guint8 *) mixed->str, mixed->len, "mixed.txt");
  g_autoptr (GString) late_nul = g_string_new_len (text->str, 1000);
  g_string_append_len (late_nul, "\0", 1);
  assert_head_agrees ((const guint8 *) late_nul->str, late_nul->len, "nul.txt");
}

static void
assert_unsupported (const char *head, gsize length, const char *phrase)
{
  g_autoptr (GError) error = NULL;
  sr_format_set_unsupported (&error, (const guint8 *) head, length);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNSUPPORTED_FORMAT);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, phrase));
  g_assert_nonnull (strstr (error->message, sr_format_supported_list ()));
}

static void
test_unsupported_messages (void)
{
  assert_unsupported ("\x89PNG\r\n\x1a\n\0\0", 10,
                      "The file is a PNG image, which is not supported");
  assert_unsupported ("\x7f\x45LF\x02\x01", 6, "a program (ELF)");
  assert_unsupported ("\x1f\x8b\x08\0", 4, "a gzip archive");
  assert_unsupported ("PK\x03\x04\x14\0", 6, "a zip archive that is not a DOCX, ODT or EPUB");
  assert_unsupported ("\xff\xfeH\0i\0", 6, "text in UTF-16");
  assert_unsupported ("\xff\xfe\0\0H\0\0\0", 8, "text in UTF-32");
  assert_unsupported ("\x01\x02\x03", 3, "not supported or it is not a document");
  assert_unsupported ("", 0, "not supported or it is not a document");
}

static void
test_names (void)
{
  g_assert_cmpstr (sr_format_name (SR_FORMAT_EPUB), ==, "epub");
  g_assert_cmpstr (sr_format_name (SR_FORMAT_UNKNOWN), ==, "unknown");
  g_assert_nonnull (strstr (sr_format_supported_list (), "Markdown"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/detect/text-and-markdown", test_text_and_markdown);
  g_test_add_func ("/detect/typed", test_typed);
  g_test_add_func ("/detect/html", test_html);
  g_test_add_func ("/detect/binary", test_binary);
  g_test_add_func ("/detect/names", test_names);
  g_test_add_func ("/detect/head", test_head);
  g_test_add_func ("/detect/unsupported-messages", test_unsupported_messages);
  int status = g_test_run ();
  fixture_cleanup ();
  return status;
}
