/* Test documents made on the fly: PDF with cairo, zip containers with libarchive. */
#include "fixtures.h"

#include <archive.h>
#include <archive_entry.h>
#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <string.h>

static cairo_status_t
append_bytes (void *closure, const unsigned char *data, unsigned int length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

GBytes *
fixture_pdf (const char *const *pages, const char *title)
{
  GByteArray *out = g_byte_array_new ();
  cairo_surface_t *surface = cairo_pdf_surface_create_for_stream (append_bytes, out, 595, 842);
  if (title != NULL)
    cairo_pdf_surface_set_metadata (surface, CAIRO_PDF_METADATA_TITLE, title);
  cairo_t *cr = cairo_create (surface);
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, 12);
  for (guint i = 0; pages[i] != NULL; i++) {
    g_auto (GStrv) lines = g_strsplit (pages[i], "\n", -1);
    for (guint j = 0; lines[j] != NULL; j++) {
      cairo_move_to (cr, 50, 60 + 16 * j);
      cairo_show_text (cr, lines[j]);
    }
    cairo_show_page (cr);
  }
  cairo_destroy (cr);
  cairo_surface_finish (surface);
  g_assert_cmpint (cairo_surface_status (surface), ==, CAIRO_STATUS_SUCCESS);
  cairo_surface_destroy (surface);
  return g_byte_array_free_to_bytes (out);
}

static la_ssize_t
write_bytes (struct archive *archive, void *closure, const void *data, size_t length)
{
  g_byte_array_append (closure, data, (guint) length);
  return (la_ssize_t) length;
}

static void
add_member (struct archive *archive, const char *name, const char *data, gsize length,
            gboolean stored)
{
  if (stored)
    g_assert_cmpint (archive_write_zip_set_compression_store (archive), ==, ARCHIVE_OK);
  else
    g_assert_cmpint (archive_write_zip_set_compression_deflate (archive), ==, ARCHIVE_OK);
  struct archive_entry *entry = archive_entry_new ();
  archive_entry_set_pathname (entry, name);
  archive_entry_set_filetype (entry, AE_IFREG);
  archive_entry_set_perm (entry, 0644);
  archive_entry_set_size (entry, (la_int64_t) length);
  g_assert_cmpint (archive_write_header (archive, entry), ==, ARCHIVE_OK);
  archive_entry_free (entry);
  if (data != NULL) {
    g_assert_cmpint (archive_write_data (archive, data, length), ==, (la_ssize_t) length);
    return;
  }
  /* NULL data: zeros, written a block at a time so that a bomb costs no memory here. */
  g_autofree char *zeros = g_malloc0 (1 << 20);
  for (gsize done = 0; done < length;) {
    gsize n = MIN (length - done, (gsize) 1 << 20);
    g_assert_cmpint (archive_write_data (archive, zeros, n), ==, (la_ssize_t) n);
    done += n;
  }
}

static struct archive *
zip_writer (GByteArray *out)
{
  struct archive *archive = archive_write_new ();
  g_assert_cmpint (archive_write_set_format_zip (archive), ==, ARCHIVE_OK);
  archive_write_set_bytes_in_last_block (archive, 1);
  g_assert_cmpint (archive_write_open (archive, out, NULL, write_bytes, NULL), ==, ARCHIVE_OK);
  return archive;
}

GBytes *
fixture_zip (const FixtureMember *members, guint n_members)
{
  GByteArray *out = g_byte_array_new ();
  struct archive *archive = zip_writer (out);
  for (guint i = 0; i < n_members; i++)
    add_member (archive, members[i].name, members[i].data,
                members[i].length != 0 ? members[i].length : strlen (members[i].data),
                members[i].stored);
  g_assert_cmpint (archive_write_close (archive), ==, ARCHIVE_OK);
  archive_write_free (archive);
  return g_byte_array_free_to_bytes (out);
}

#define W_NS "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\""

GBytes *
fixture_docx (void)
{
  static const char document[]
      = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
        "<w:document " W_NS "><w:body>"
        "<w:p><w:pPr><w:pStyle w:val=\"Title\"/></w:pPr><w:r><w:t>Annual Report</w:t></w:r></w:p>"
        "<w:p><w:pPr><w:pStyle w:val=\"Heading1\"/></w:pPr><w:r><w:t>Install</w:t></w:r></w:p>"
        "<w:p><w:r><w:t xml:space=\"preserve\">Run the </w:t></w:r>"
        "<w:r><w:t>installer.</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Then reboot.</w:t></w:r></w:p>"
        "<w:p><w:pPr><w:pStyle w:val=\"Heading2\"/></w:pPr><w:r><w:t>Requirements</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Needs 2 GB of memory.</w:t></w:r>"
        "<w:r><w:delText>deleted words</w:delText></w:r></w:p>"
        "</w:body></w:document>";
  static const char core[]
      = "<?xml version=\"1.0\"?><cp:coreProperties "
        "xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" "
        "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>Report 2024</dc:title>"
        "</cp:coreProperties>";
  const FixtureMember members[] = {
    { "[Content_Types].xml", "<Types/>", 0, FALSE },
    { "word/document.xml", document, 0, FALSE },
    { "docProps/core.xml", core, 0, FALSE },
  };
  return fixture_zip (members, G_N_ELEMENTS (members));
}

GBytes *
fixture_odt (void)
{
  static const char content[]
      = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<office:document-content "
        "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
        "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\">"
        "<office:body><office:text>"
        "<text:h text:outline-level=\"1\">Chapter One</text:h>"
        "<text:p>First<text:s/>paragraph here.</text:p>"
        "<text:h text:outline-level=\"2\">Details</text:h>"
        "<text:p>Second paragraph.</text:p>"
        "<text:p>Third <office:annotation><text:p>a comment</text:p></office:annotation>"
        "paragraph.</text:p>"
        "</office:text></office:body></office:document-content>";
  static const char meta[]
      = "<?xml version=\"1.0\"?><office:document-meta "
        "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
        "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><office:meta><dc:title>Field Notes"
        "</dc:title></office:meta></office:document-meta>";
  const FixtureMember members[] = {
    { "mimetype", "application/vnd.oasis.opendocument.text", 0, TRUE },
    { "content.xml", content, 0, FALSE },
    { "meta.xml", meta, 0, FALSE },
  };
  return fixture_zip (members, G_N_ELEMENTS (members));
}

GBytes *
fixture_epub (gboolean with_package)
{
  static const char container[]
      = "<?xml version=\"1.0\"?><container version=\"1.0\" "
        "xmlns=\"urn:oasis:names:tc:opendocument:xmlns:container\"><rootfiles>"
        "<rootfile full-path=\"OEBPS/content.opf\" media-type=\"application/oebps-package+xml\"/>"
        "</rootfiles></container>";
  static const char package[]
      = "<?xml version=\"1.0\"?><package xmlns=\"http://www.idpf.org/2007/opf\" version=\"3.0\">"
        "<metadata xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>The Voyage</dc:title>"
        "</metadata><manifest>"
        "<item id=\"c1\" href=\"Text/one.xhtml\" media-type=\"application/xhtml+xml\"/>"
        "<item id=\"c2\" href=\"Text/chapter%202.xhtml#start\" "
        "media-type=\"application/xhtml+xml\"/>"
        "</manifest><spine><itemref idref=\"c1\"/><itemref idref=\"c2\"/></spine></package>";
  static const char one[]
      = "<?xml version=\"1.0\" encoding=\"utf-8\"?><html xmlns=\"http://www.w3.org/1999/xhtml\">"
        "<head><title>Ch 1</title></head><body><h1>Departure</h1>"
        "<p>The ship left the harbour at dawn.</p></body></html>";
  static const char two[]
      = "<?xml version=\"1.0\" encoding=\"utf-8\"?><html xmlns=\"http://www.w3.org/1999/xhtml\">"
        "<head><title>Ch 2</title></head><body><h1>Arrival</h1><h2>The Port</h2>"
        "<p>They reached the island after forty days.</p></body></html>";
  /* Chapter two first in the archive: reading order must come from the spine. */
  const FixtureMember members[] = {
    { "mimetype", "application/epub+zip", 0, TRUE },
    { "META-INF/container.xml", container, 0, FALSE },
    { "OEBPS/Text/chapter 2.xhtml", two, 0, FALSE },
    { "OEBPS/Text/one.xhtml", one, 0, FALSE },
    { "OEBPS/content.opf", package, 0, FALSE },
  };
  return fixture_zip (members, G_N_ELEMENTS (members) - (with_package ? 0 : 1));
}

/* Overwrites the uncompressed size in every local and central header. */
static void
lie_about_sizes (guint8 *zip, gsize length, guint32 claimed)
{
  for (gsize i = 0; i + 46 <= length; i++) {
    if (memcmp (zip + i, "PK\x03\x04", 4) == 0)
      memcpy (zip + i + 22, &claimed, 4);
    else if (memcmp (zip + i, "PK\x01\x02", 4) == 0)
      memcpy (zip + i + 24, &claimed, 4);
  }
}

GBytes *
fixture_zip_bomb (gsize inflated, gboolean lie)
{
  const FixtureMember members[] = {
    { "[Content_Types].xml", "<Types/>", 0, FALSE },
    { "word/document.xml", NULL, inflated, FALSE },
  };
  GByteArray *out = g_byte_array_new ();
  struct archive *archive = zip_writer (out);
  for (guint i = 0; i < G_N_ELEMENTS (members); i++)
    add_member (archive, members[i].name, members[i].data,
                members[i].length != 0 ? members[i].length : strlen (members[i].data),
                members[i].stored);
  g_assert_cmpint (archive_write_close (archive), ==, ARCHIVE_OK);
  archive_write_free (archive);
  if (lie)
    lie_about_sizes (out->data, out->len, GUINT32_TO_LE (1000));
  return g_byte_array_free_to_bytes (out);
}

void
fixture_cleanup (void)
{
  cairo_debug_reset_static_data ();
  FcFini ();
}
