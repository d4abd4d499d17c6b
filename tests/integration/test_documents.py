#!/usr/bin/python3
"""Documents over the bus: adding by descriptor and text, processing, search, isolation."""

import io
import os
import time
import zipfile

from gi.repository import Gio, GLib

import harness
from harness import ACCESS_DENIED, denied_message, session_id

DOCUMENT_IFACE = "org.smartrag.Daemon.Document"
QUERY_IFACE = "org.smartrag.Daemon.Query"
UNSUPPORTED = "org.smartrag.Error.UnsupportedFormat"
SUPPORTED_LIST = "plain text (UTF-8 or Latin-1), Markdown, HTML, PDF, DOCX, ODT, EPUB"

MENU = """# Café du Nord

The café opens at eight in the morning and closes at six.

## Prices

The soup of the day costs four euros; bread is free.
"""


W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
ODF_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')


def make_zip(members):
    """A zip archive of (name, text) pairs; "mimetype" is stored, as ODF and EPUB want."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in members:
            method = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(zipfile.ZipInfo(name), text, compress_type=method)
    return out.getvalue()


def make_docx(paragraphs):
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    return make_zip([("[Content_Types].xml", "<Types/>"),
                     ("word/document.xml",
                      f'<?xml version="1.0"?><w:document {W_NS}><w:body>{body}'
                      "</w:body></w:document>")])


def make_odt(paragraph):
    return make_zip([("mimetype", "application/vnd.oasis.opendocument.text"),
                     ("content.xml",
                      f'<?xml version="1.0"?><office:document-content {ODF_NS}><office:body>'
                      f"<office:text><text:p>{paragraph}</text:p></office:text></office:body>"
                      "</office:document-content>")])


def make_epub(paragraph):
    return make_zip([
        ("mimetype", "application/epub+zip"),
        ("META-INF/container.xml",
         '<?xml version="1.0"?><container version="1.0" '
         'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
         '<rootfile full-path="content.opf" media-type="application/oebps-package+xml"/>'
         "</rootfiles></container>"),
        ("content.opf",
         '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
         '<metadata/><manifest><item id="c1" href="one.xhtml" '
         'media-type="application/xhtml+xml"/></manifest><spine><itemref idref="c1"/>'
         "</spine></package>"),
        ("one.xhtml",
         '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>'
         f"<p>{paragraph}</p></body></html>"),
    ])


def make_pdf(pages):
    """A PDF with one line of text per page and a correct cross-reference table."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>",
               "<< /Type /Pages /Kids [%s] /Count %d >>" % (
                   " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages))), len(pages)),
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET"
        objects.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       f"/Contents {5 + 2 * i} 0 R /Resources << /Font << /F1 3 0 R >> >> >>")
        objects.append(f"<< /Length {len(stream)} >> stream\n{stream}\nendstream")
    pdf = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += f"{number} 0 obj {body} endobj\n".encode()
    xref = len(pdf)
    pdf += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    pdf += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    pdf += (f"trailer << /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n"
            "%%EOF\n").encode()
    return pdf


class DocumentTestCase(harness.IntegrationTest):
    """A daemon with @daemon_config, a session, and helpers to add and follow documents."""

    daemon_config = {"max_file_size": "64K"}

    def setUp(self):
        super().setUp()
        self.polkit.set_allowed([harness.ACTION_USE])
        self.smartragd = self.start_daemon(**self.daemon_config)
        self.me = self.client()
        self.session = self.create_session(self.me, title="Menus")
        self.me.subscribe(interface=DOCUMENT_IFACE, member="DocumentChanged")
        self.states = {}  # document id → the states DocumentChanged announced

    def add_file(self, contents, filename):
        path = os.path.join(self.class_dir, "upload-" + filename)
        with open(path, "wb") as f:
            f.write(contents)
        # The list takes the descriptor and closes it.
        fds = Gio.UnixFDList.new_from_array([os.open(path, os.O_RDONLY)])
        try:
            reply, _ = self.me.connection.call_with_unix_fd_list_sync(
                harness.BUS_NAME, self.session, DOCUMENT_IFACE, "AddFile",
                GLib.Variant("(hsa{sv})", (0, filename, {})), None, Gio.DBusCallFlags.NONE,
                10000, fds, None)
        except GLib.Error as error:
            raise harness.client.bus_error_from_glib(error) from None
        return reply.unpack()[0]

    def add_text(self, title, text):
        reply = self.me.call(self.session, DOCUMENT_IFACE, "AddText",
                             GLib.Variant("(ssa{sv})", (title, text, {})))
        return reply.unpack()[0]

    def wait_settled(self, document_id, timeout=20):
        """The states DocumentChanged announced for @document_id until ready or failed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.states.get(document_id, [])
            if states and states[-1] in ("ready", "failed"):
                return states
            # Signals for other documents are kept for their own turn.
            for signal in self.me.wait_signals(0.2):
                doc, state, _progress, _message = harness.variant_from_text(
                    signal["args"]).unpack()
                self.states.setdefault(doc, []).append(state)
        self.fail(f"document {document_id} did not settle; states seen: "
                  f"{self.states.get(document_id)}")

    def get_document(self, document_id):
        reply = self.me.call(self.session, DOCUMENT_IFACE, "GetDocument",
                             GLib.Variant("(s)", (document_id,)))
        return reply.unpack()[0]

    def search(self, text, k=3, endpoint=None):
        reply = (endpoint or self.me).call(self.session, QUERY_IFACE, "Search",
                                           GLib.Variant("(sa{sv})", (text, {"k": GLib.Variant("u", k)})))
        return reply.unpack()[0]



class DocumentTests(DocumentTestCase):

    def test_file_is_parsed_indexed_and_found(self):
        doc = self.add_file(MENU.encode(), "menu.md")
        states = self.wait_settled(doc)
        self.assertEqual(states[0], "parsing")
        self.assertEqual(states[-1], "ready")

        info = self.get_document(doc)
        self.assertEqual(info["filename"], "menu.md")
        self.assertEqual(info["state"], "ready")
        self.assertEqual(info["format"], "markdown")
        self.assertGreaterEqual(info["chunks"], 1)
        self.assertEqual(info["size"], len(MENU.encode()))
        self.assertEqual(self.get(self.me, self.session, "DocumentCount"), ("u", 1))

        hits = self.search("how much is the soup")
        self.assertTrue(hits, "no hits")
        self.assertIn("soup of the day", hits[0]["text"])
        self.assertEqual(hits[0]["heading"], "Café du Nord > Prices")
        self.assertEqual(hits[0]["document_id"], doc)
        self.assertEqual(hits[0]["filename"], "menu.md")
        self.assertNotIn("page", hits[0])
        # Accents fold both ways.
        self.assertIn("opens at eight", self.search("cafe opening", k=1)[0]["text"])

    def test_text_documents_and_removal(self):
        doc = self.add_text("Library", "The library is closed on Mondays and public holidays.")
        self.assertEqual(self.wait_settled(doc)[-1], "ready")
        self.assertEqual(self.search("closed on monday", k=1)[0]["document_id"], doc)

        self.me.call(self.session, DOCUMENT_IFACE, "RemoveDocument", GLib.Variant("(s)", (doc,)))
        self.assertEqual(self.search("closed on monday"), [])
        with self.assertRaises(harness.BusError) as caught:
            self.get_document(doc)
        self.assertEqual(caught.exception.name, "org.smartrag.Error.NotFound")

    def test_text_is_read_as_text(self):
        # Typed text is never a binary format, whatever it starts with; the same
        # bytes sent as a file are a (broken) PDF.
        note = "%PDF-1.7 is the version line of a PDF file. <html> starts a web page."
        doc = self.add_text("File formats", note)
        self.assertEqual(self.wait_settled(doc)[-1], "ready")
        self.assertEqual(self.get_document(doc)["format"], "text")
        self.assertEqual(self.search("version line", k=1)[0]["document_id"], doc)
        as_file = self.add_file(note.encode(), "note.txt")
        self.assertEqual(self.wait_settled(as_file)[-1], "failed")
        self.assertIn("PDF", self.get_document(as_file)["message"])

    def test_hostile_files_fail_alone(self):
        empty = self.add_file(b"", "empty.txt")
        pdf = self.add_file(b"%PDF-1.7\n1 0 obj << /Type /Catalog", "cut.pdf")
        docx = self.add_file(make_zip([("word/document.xml", "<w:document")]), "broken.docx")
        for doc in (empty, pdf, docx):
            self.assertEqual(self.wait_settled(doc)[-1], "failed")
            message = self.get_document(doc)["message"]
            self.assertTrue(message, f"{doc} failed without a message")
        self.assertIn("empty", self.get_document(empty)["message"])
        self.assertIn("PDF", self.get_document(pdf)["message"])
        self.assertIn("not well-formed XML", self.get_document(docx)["message"])

        # Binary junk, whatever its name, is refused at once.
        with self.assertRaises(harness.BusError) as caught:
            self.add_file(bytes(range(256)) * 40, "notes.txt")
        self.assertEqual(caught.exception.name, UNSUPPORTED)

        # Over the size limit: refused at once, nothing stored.
        with self.assertRaises(harness.BusError) as caught:
            self.add_file(b"x" * (64 * 1024 + 1), "big.txt")
        self.assertEqual(caught.exception.name, "org.smartrag.Error.TooLarge")

        # The daemon still serves, and good documents still get through.
        good = self.add_text("", "Still working after hostile input.")
        self.assertEqual(self.wait_settled(good)[-1], "ready")
        self.assertEqual(self.me.call(harness.DAEMON_PATH, harness.DAEMON_IFACE,
                                      "GetHealth").unpack()[0], "ok")

    def index_health(self):
        reply = self.me.call(harness.DAEMON_PATH, harness.DAEMON_IFACE, "GetHealth")
        return reply.unpack()[1]["index"]

    def wait_index_idle(self):
        deadline = time.monotonic() + 30
        while (index := self.index_health())["waiting"] > 0:
            self.assertLess(time.monotonic(), deadline, f"index backlog stays: {index}")
            time.sleep(0.05)
        return index

    def stored_files(self):
        """Every file under files/ in the state directory, the temporary folder included."""
        found = []
        for root, _dirs, names in os.walk(os.path.join(self.smartragd.state_dir, "files")):
            found.extend(os.path.join(root, name) for name in names)
        return sorted(found)

    def test_unsupported_files_are_refused_at_add(self):
        kept = self.add_text("Kept", "This document was added before the refused ones.")
        self.assertEqual(self.wait_settled(kept)[-1], "ready")
        before = self.stored_files()
        refused = {
            "photo.png": (b"\x89PNG\r\n\x1a\n" + os.urandom(2000), "a PNG image"),
            "tool": (b"\x7fELF\x02\x01\x01\x00" + bytes(2000), "a program (ELF)"),
            "notes.txt": (b"\x7fELF\x02\x01\x01\x00" + bytes(2000), "a program (ELF)"),
            "backup.tar.gz": (b"\x1f\x8b\x08\x00" + os.urandom(2000), "a gzip archive"),
            "report.docx": (make_zip([("readme.txt", "just a zip")]),
                            "a zip archive that is not a DOCX, ODT or EPUB document"),
            "cut.docx": (make_docx(["Cut short"])[:60],
                         "a zip archive that is not a DOCX, ODT or EPUB document"),
            "junk.txt": (bytes(range(256)) * 16, "not supported or it is not a document"),
            "utf16.txt": ("Grüße aus Köln\n".encode("utf-16"), "text in UTF-16"),
        }
        for name, (contents, phrase) in refused.items():
            with self.subTest(file=name):
                error = self.assertBusError(UNSUPPORTED, self.add_file, contents, name,
                                            contains=phrase)
                self.assertIn(SUPPORTED_LIST, error.message)
        self.assertBusError(UNSUPPORTED, self.add_text, "escapes", "\x1b" * 100,
                            contains="The text cannot be read as a document")

        # Nothing was committed and no byte of them is left, not even in tmp/.
        listed = self.me.call(self.session, DOCUMENT_IFACE, "ListDocuments").unpack()[0]
        self.assertEqual([d["id"] for d in listed], [kept])
        self.assertEqual(self.get(self.me, self.session, "DocumentCount"), ("u", 1))
        self.assertEqual(self.stored_files(), before)
        self.assertEqual(self.me.wait_signals(0.5), [])
        self.assertIn("Refused photo.png", self.smartragd.log())

    def test_office_formats_are_taken_and_read(self):
        documents = {
            "report.docx": (make_docx(["The quarterly report mentions zebras."]), "docx"),
            "notes.odt": (make_odt("The field notes mention giraffes."), "odt"),
            "novel.epub": (make_epub("The novel mentions penguins."), "epub"),
            # The content decides, not the name.
            "misnamed.txt": (make_docx(["The misnamed file mentions otters."]), "docx"),
            "pages.pdf": (make_pdf(["The first page mentions lemurs."]), "pdf"),
        }
        added = {name: self.add_file(contents, name)
                 for name, (contents, _format) in documents.items()}
        for name, doc in added.items():
            with self.subTest(file=name):
                self.assertEqual(self.wait_settled(doc)[-1], "ready",
                                 self.get_document(doc)["message"])
                self.assertEqual(self.get_document(doc)["format"], documents[name][1])
        self.assertEqual(self.search("otters", k=1)[0]["document_id"], added["misnamed.txt"])

    def test_search_survives_restart(self):
        doc = self.add_text("Opening hours", "The museum opens at ten on Sundays.")
        self.assertEqual(self.wait_settled(doc)[-1], "ready")
        before = self.search("museum sunday")
        # The session's graph is loaded by its first search and takes every vector.
        index = self.wait_index_idle()
        self.assertEqual(index["sessions_loaded"], 1)
        self.assertEqual(index["vectors"], self.get_document(doc)["chunks"])
        self.assertGreater(index["memory_bytes"], 0)
        self.stop_daemon(self.smartragd)
        self.smartragd.start()
        self.me = self.client()
        self.assertEqual(self.search("museum sunday"), before)
        # A deleted index file is rebuilt from the database.
        index_dir = os.path.join(self.smartragd.state_dir, "index")
        for name in os.listdir(index_dir):
            os.unlink(os.path.join(index_dir, name))
        self.stop_daemon(self.smartragd)
        self.smartragd.start()
        self.me = self.client()
        self.assertEqual(self.search("museum sunday"), before)

    def test_other_users_see_nothing(self):
        doc = self.add_text("Private", "Nobody else may read this sentence.")
        self.assertEqual(self.wait_settled(doc)[-1], "ready")
        other = self.client(self.nobody())
        for method, args in (("ListDocuments", None),
                             ("GetDocument", GLib.Variant("(s)", (doc,))),
                             ("RemoveDocument", GLib.Variant("(s)", (doc,))),
                             ("AddText", GLib.Variant("(ssa{sv})", ("x", "y", {})))):
            with self.assertRaises(harness.BusError) as caught:
                other.call(self.session, DOCUMENT_IFACE, method, args)
            self.assertEqual(caught.exception.name, ACCESS_DENIED, method)
            self.assertEqual(caught.exception.message, denied_message(session_id(self.session)))
        with self.assertRaises(harness.BusError) as caught:
            other.call(self.session, QUERY_IFACE, "Search",
                       GLib.Variant("(sa{sv})", ("sentence", {})))
        self.assertEqual(caught.exception.name, ACCESS_DENIED)
        # The owner's document is untouched.
        self.assertEqual(self.get_document(doc)["state"], "ready")


class ParsingLimitTests(DocumentTestCase):
    """The [limits] of parsing reach the sandboxed reader and name themselves when hit."""

    daemon_config = {"max_pages": "1", "max_chunks_per_document": "3",
                     "max_decompressed_size": "1M"}

    def assertFailsNaming(self, doc, *phrases):
        self.assertEqual(self.wait_settled(doc)[-1], "failed")
        message = self.get_document(doc)["message"]
        for phrase in phrases:
            self.assertIn(phrase, message)

    def test_max_pages(self):
        three = self.add_file(make_pdf(["Page one.", "Page two.", "Page three."]), "three.pdf")
        self.assertFailsNaming(three, "The PDF has 3 pages, more than the limit of 1",
                               "[limits] max_pages")
        one = self.add_file(make_pdf(["A single page about lemurs."]), "one.pdf")
        self.assertEqual(self.wait_settled(one)[-1], "ready")

    def test_max_chunks_per_document(self):
        paragraphs = "\n\n".join(f"Paragraph {i} says something about topic {i}. " * 12
                                   for i in range(10))
        big = self.add_text("big.txt", paragraphs)
        self.assertFailsNaming(big, "more than 3 chunks", "[limits] max_chunks_per_document")
        small = self.add_text("small.txt", "A short text makes one chunk.")
        self.assertEqual(self.wait_settled(small)[-1], "ready")

    def test_max_decompressed_size(self):
        bomb = self.add_file(make_docx(["word " * 400000]), "large.docx")
        self.assertFailsNaming(bomb, "unpacks to more than 1.0\u00a0MiB",
                               "[limits] max_decompressed_size")


if __name__ == "__main__":
    harness.main()
