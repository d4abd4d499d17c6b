#!/usr/bin/python3
"""Documents over HTTP: uploads streamed to disk, text, listing, reading, removal, limits."""

import os
import socket
import time

from gi.repository import GLib

import harness
import httpclient
import httptest
from harness import random_id, session_path
from test_documents import make_pdf

DOCUMENTS = "/api/v1/documents"
UPLOAD = f"{DOCUMENTS}/upload"
TEXT = f"{DOCUMENTS}/text"
QUERY_IFACE = "org.smartrag.Daemon.Query"
DOCUMENT_FIELDS = {"document_id", "session_id", "filename", "title", "format", "state",
                   "progress", "message", "size", "chunks", "created_at", "updated_at"}
TIME_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"

MENU = """# Café du Nord

The café opens at eight in the morning and closes at six.

## Prices

The soup of the day costs four euros; bread is free.
"""


def unknown_message(document_id):
    return f"Document '{document_id}' does not exist or you may not access it"


def padded_pdf(text, padding):
    """A one-page PDF that also holds @padding bytes in a stream no page uses: big to
    upload, small to read."""
    pdf = make_pdf([text])
    xref = pdf.rindex(b"\nxref\n") + 1
    count = int(pdf[xref:].split(b"\n")[1].split()[1])
    stream = (f"{count} 0 obj << /Length {padding} >> stream\n".encode() + b"x" * padding
              + b"\nendstream endobj\n")
    offsets = pdf[xref:].split(b"\n")[3:3 + count - 1]
    table = (f"xref\n0 {count + 1}\n0000000000 65535 f \n".encode() + b"\n".join(offsets)
             + f"\n{xref:010d} 00000 n \n".encode())
    trailer = (f"trailer << /Size {count + 1} /Root 1 0 R >>\nstartxref\n"
               f"{xref + len(stream)}\n%%EOF\n").encode()
    return pdf[:xref] + stream + table + trailer


class DocumentsTestCase(httptest.HttpTest):
    """A daemon with small limits, a session of root's, and helpers for documents."""

    daemon_config = {"max_file_size": "64K"}

    def setUp(self):
        super().setUp()
        self.polkit.set_allowed([harness.ACTION_USE])
        self.sid = self.create({"title": "Menus"})["session_id"]

    def upload(self, data, filename="menu.md", sid=None, tcp=False, headers=None, parts=None):
        body, content_type = httpclient.multipart(
            parts if parts is not None else [("session_id", sid or self.sid),
                                             ("file", filename, data)])
        return self.call("POST", UPLOAD, body, tcp=tcp, headers=headers,
                         content_type=content_type)

    def assertDocument(self, document):
        self.assertEqual(set(document), DOCUMENT_FIELDS, document)
        self.assertRegex(document["document_id"], harness.ID_PATTERN)
        for field in ("created_at", "updated_at"):
            self.assertRegex(document[field], TIME_PATTERN)
        return document

    def assertAdded(self, reply):
        document = self.assertDocument(self.assertJsonReply(reply, 202))
        self.assertEqual(reply.headers["location"], f"{DOCUMENTS}/{document['document_id']}")
        self.assertEqual(document["state"], "stored")
        return document

    def get_document(self, document_id, **kwargs):
        reply = self.call("GET", f"{DOCUMENTS}/{document_id}", **kwargs)
        return self.assertDocument(self.assertJsonReply(reply, 200))

    def list_documents(self, sid=None):
        reply = self.call("GET", f"{DOCUMENTS}?session_id={sid or self.sid}")
        return self.assertJsonReply(reply, 200)["documents"]

    def wait_settled(self, document_id, timeout=30, **kwargs):
        deadline = time.monotonic() + timeout
        while True:
            document = self.get_document(document_id, **kwargs)
            if document["state"] in ("ready", "failed") or time.monotonic() > deadline:
                return document
            time.sleep(0.1)

    def search(self, text, sid=None):
        reply = self.client().call(session_path(sid or self.sid), QUERY_IFACE, "Search",
                                   GLib.Variant("(sa{sv})", (text, {"k": GLib.Variant("u", 3)})))
        return reply.unpack()[0]

    def stored_files(self):
        """Every file under the state's files/, temporary ones included."""
        found = []
        for root, _, names in os.walk(os.path.join(self.smartragd.state_dir, "files")):
            found += [os.path.join(root, name) for name in names]
        return found

    def assertNothingStored(self, sid=None):
        self.assertEqual(self.list_documents(sid), [])
        self.assertEqual(self.stored_files(), [])


class Uploads(DocumentsTestCase):

    def test_upload_is_stored_read_and_found(self):
        document = self.assertAdded(self.upload(MENU, "menu.md"))
        self.assertEqual(document["session_id"], self.sid)
        self.assertEqual(document["filename"], "menu.md")
        self.assertEqual(document["size"], len(MENU.encode()))
        self.assertEqual((document["title"], document["format"], document["chunks"]), ("", "", 0))

        ready = self.wait_settled(document["document_id"])
        self.assertEqual(ready["state"], "ready", ready)
        self.assertEqual(ready["format"], "markdown")
        self.assertEqual(ready["progress"], 1.0)
        self.assertGreaterEqual(ready["chunks"], 1)
        self.assertEqual(ready["created_at"], document["created_at"])

        hits = self.search("how much is the soup")
        self.assertTrue(hits, "no hits")
        self.assertEqual(hits[0]["document_id"], document["document_id"])
        self.assertEqual(hits[0]["filename"], "menu.md")
        session = self.assertJsonReply(self.call("GET", f"{httptest.SESSIONS}/{self.sid}"), 200)
        self.assertEqual(session["document_count"], 1)

    def test_upload_over_tcp_with_a_token(self):
        _, token = self.client().call(harness.DAEMON_PATH, harness.DAEMON_IFACE, "CreateToken",
                                      GLib.Variant("(s)", ("uploads",))).unpack()
        bearer = {"Authorization": f"Bearer {token}"}
        self.assertError(self.upload(MENU, tcp=True), 401, "unauthenticated")
        self.assertError(self.call("GET", f"{DOCUMENTS}?session_id={self.sid}", tcp=True), 401,
                         "unauthenticated")

        document = self.assertAdded(self.upload(MENU, "menu.md", tcp=True, headers=bearer))
        ready = self.wait_settled(document["document_id"], tcp=True, headers=bearer)
        self.assertEqual(ready["state"], "ready", ready)
        listed = self.assertJsonReply(self.call("GET", f"{DOCUMENTS}?session_id={self.sid}",
                                                tcp=True, headers=bearer), 200)
        self.assertEqual([d["document_id"] for d in listed["documents"]],
                         [document["document_id"]])

    def test_session_id_before_or_after_the_file(self):
        first = self.assertAdded(self.upload(
            "", parts=[("session_id", self.sid), ("file", "a.txt", "Session first.")]))
        second = self.assertAdded(self.upload(
            "", parts=[("file", "b.txt", "Session last."), ("session_id", self.sid)]))
        self.assertEqual([d["document_id"] for d in self.list_documents()],
                         [first["document_id"], second["document_id"]])
        self.assertEqual([d["filename"] for d in self.list_documents()], ["a.txt", "b.txt"])

    def test_a_pdf(self):
        pdf = make_pdf(["The lemurs of Madagascar sleep through the day.",
                        "At night they look for fruit."])
        document = self.assertAdded(self.upload(pdf, "lemurs.pdf"))
        ready = self.wait_settled(document["document_id"])
        self.assertEqual((ready["state"], ready["format"]), ("ready", "pdf"), ready)
        hits = self.search("fruit at night")
        self.assertEqual(hits[0]["document_id"], document["document_id"])
        self.assertEqual(hits[0]["page"], 2)

    def test_empty_file(self):
        document = self.assertAdded(self.upload(b"", "empty.txt"))
        failed = self.wait_settled(document["document_id"])
        self.assertEqual(failed["state"], "failed")
        self.assertIn("empty", failed["message"])

    def test_paths_in_filenames_are_cleaned(self):
        for given, kept in (("../../etc/passwd", "passwd"), ("a/b\\c.txt", "c.txt"),
                            ("C:\\Users\\ann\\notes.txt", "notes.txt"),
                            ("/tmp/../x/Résumé.md", "Résumé.md")):
            with self.subTest(filename=given):
                document = self.assertAdded(self.upload(f"Text of {given}.", given))
                self.assertEqual(document["filename"], kept)
        for given, message in (("..", "Invalid filename: it names no file; give the file's name, "
                                      "such as report.pdf"),
                               ("", "Invalid filename: it names no file; give the file's name, "
                                    "such as report.pdf"),
                               ("dir/", "Invalid filename: it names no file; give the file's "
                                        "name, such as report.pdf"),
                               ("a\x01b.txt", "Invalid filename: it contains a control "
                                              "character")):
            with self.subTest(filename=given):
                self.assertError(self.upload("text", given), 400, "invalid_argument", message)
        # Only the store holds the bytes, under their hash.
        self.assertTrue(all("/files/" in path and "passwd" not in path
                            for path in self.stored_files()))

    def test_clients_that_leave(self):
        body, content_type = httpclient.multipart([("session_id", self.sid),
                                                   ("file", "gone.txt", "The client left.")])
        head = (f"POST {UPLOAD} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        for data in (head + body[:len(body) // 2], head + body):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.smartragd.http_socket)
            sock.sendall(data)
            sock.close()
        # The whole upload may be kept or not; the cut one leaves nothing, and the daemon
        # serves on.
        time.sleep(0.5)
        self.assertLessEqual(len(self.list_documents()), 1)
        self.assertLessEqual(len(self.stored_files()), 1)
        self.assertAdded(self.upload(MENU))

    def test_a_file_over_max_file_size(self):
        # Within the body's allowance for framing, but over the file's own limit.
        reply = self.upload(b"x" * (64 * 1024 + 1), "big.txt")
        self.assertError(reply, 413, "too_large",
                         "The file is larger than the limit of 65536 bytes")
        self.assertNothingStored()


class RoutesOfDocuments(DocumentsTestCase):
    daemon_config = {"max_file_size": "64K", "max_text_size": "1K"}

    def add_text(self, body, status=202):
        return self.assertJsonReply(self.call("POST", TEXT, body), status)

    def test_text(self):
        document = self.assertDocument(self.add_text(
            {"session_id": self.sid, "title": "Library", "text": "The library is closed on "
                                                                  "Mondays."}))
        self.assertEqual((document["title"], document["filename"]), ("Library", "Library"))
        ready = self.wait_settled(document["document_id"])
        self.assertEqual((ready["state"], ready["format"]), ("ready", "text"), ready)
        self.assertEqual(self.search("closed on monday")[0]["document_id"],
                         document["document_id"])
        untitled = self.add_text({"session_id": self.sid, "text": "No title."})
        self.assertEqual((untitled["title"], untitled["filename"]), ("", "text"))

        for body, message in (
                ({"session_id": self.sid}, "Missing field 'text'"),
                ({"text": "t"}, "Missing field 'session_id'"),
                ({"session_id": self.sid, "text": 5},
                 "Invalid field 'text': expected a string, got a number"),
                ({"session_id": self.sid, "text": "t", "tags": []},
                 "Unknown field 'tags'; POST /api/v1/documents/text takes session_id, title, "
                 "text")):
            with self.subTest(body=body):
                self.assertError(self.call("POST", TEXT, body), 400, "invalid_argument", message)
        self.assertError(self.call("POST", TEXT, {"session_id": self.sid, "text": "x" * 1025}),
                         413, "too_large", "The text is longer than the limit of 1024 bytes "
                         "([limits] max_text_size); add it as a file")
        # The body may hold twice the text, for escapes, and 64 KiB more.
        self.assertError(self.call("POST", TEXT, {"session_id": self.sid,
                                                  "text": "x" * (66 * 1024 + 1)}),
                         413, "too_large", "The request body is too large: this request takes "
                         "at most 66.0\u00a0KiB")
        self.assertError(self.call("POST", TEXT, "text=1", content_type="text/plain"), 415,
                         "unsupported_format")

    def test_list_get_and_delete(self):
        a = self.assertAdded(self.upload("First file.", "a.txt"))
        b = self.add_text({"session_id": self.sid, "title": "B", "text": "Second text."})
        listed = self.list_documents()
        self.assertEqual([d["document_id"] for d in listed],
                         [a["document_id"], b["document_id"]])
        for document in listed:
            self.assertDocument(document)

        self.assertEqual(self.get_document(a["document_id"])["filename"], "a.txt")
        reply = self.call("DELETE", f"{DOCUMENTS}/{a['document_id']}")
        self.assertEqual((reply.status, reply.body), (204, b""))
        self.assertError(self.call("GET", f"{DOCUMENTS}/{a['document_id']}"), 404, "not_found",
                         unknown_message(a["document_id"]))
        self.assertError(self.call("DELETE", f"{DOCUMENTS}/{a['document_id']}"), 404,
                         "not_found", unknown_message(a["document_id"]))
        self.assertEqual([d["document_id"] for d in self.list_documents()], [b["document_id"]])

        # Deleting the session takes its documents.
        self.assertEqual(self.call("DELETE", f"{httptest.SESSIONS}/{self.sid}").status, 204)
        self.assertError(self.call("GET", f"{DOCUMENTS}/{b['document_id']}"), 404, "not_found",
                         unknown_message(b["document_id"]))

    def test_bad_ids_and_queries(self):
        missing = random_id()
        self.assertError(self.call("GET", f"{DOCUMENTS}/{missing}"), 404, "not_found",
                         unknown_message(missing))
        self.assertError(self.call("GET", f"{DOCUMENTS}/not-an-id"), 400, "invalid_argument",
                         "Invalid document id: expected 32 lowercase hexadecimal characters")
        self.assertError(self.call("DELETE", f"{DOCUMENTS}/{missing.upper()}"), 400,
                         "invalid_argument")
        self.assertError(self.call("GET", DOCUMENTS), 400, "invalid_argument",
                         "Missing query parameter 'session_id': GET /api/v1/documents?"
                         "session_id=<id> lists the documents of one session")
        self.assertError(self.call("GET", f"{DOCUMENTS}?session_id={self.sid}&limit=3"), 400,
                         "invalid_argument", "Unknown parameter 'limit'; GET /api/v1/documents "
                         "takes session_id")
        self.assertError(self.call("GET", f"{DOCUMENTS}?session_id={self.sid}"
                                   f"&session_id={self.sid}"), 400, "invalid_argument",
                         "Parameter 'session_id' is given twice")
        self.assertError(self.call("GET", f"{DOCUMENTS}?session_id={missing}"), 404,
                         "not_found", harness.denied_message(missing))
        self.assertError(self.call("GET", f"{DOCUMENTS}?session_id=nope"), 400,
                         "invalid_argument")
        self.assertError(self.call("PUT", UPLOAD), 405, "method_not_allowed")
        self.assertError(self.call("GET", UPLOAD), 400, "invalid_argument")


class OtherUsers(DocumentsTestCase):

    def test_another_uid_sees_nothing(self):
        nobody = self.nobody()
        mine = self.assertAdded(self.upload(MENU, "menu.md"))["document_id"]
        missing = random_id()

        # The same answer, word for word but the id, for someone else's and for none.
        for method in ("GET", "DELETE"):
            with self.subTest(method=method):
                theirs = self.call_as(nobody, method, f"{DOCUMENTS}/{mine}")
                absent = self.call_as(nobody, method, f"{DOCUMENTS}/{missing}")
                self.assertError(theirs, 404, "not_found", unknown_message(mine))
                self.assertEqual(theirs.body.replace(mine.encode(), b"ID"),
                                 absent.body.replace(missing.encode(), b"ID"))
                self.assertEqual(theirs.status, absent.status)
        self.assertEqual(self.get_document(mine)["document_id"], mine)

        listed = self.call_as(nobody, "GET", f"{DOCUMENTS}?session_id={self.sid}")
        self.assertError(listed, 404, "not_found", harness.denied_message(self.sid))

        before = self.stored_files()
        for order in ("session first", "file first"):
            with self.subTest(order=order):
                parts = [("session_id", self.sid), ("file", "x.txt", "Not yours.")]
                if order == "file first":
                    parts.reverse()
                body, content_type = httpclient.multipart(parts)
                reply = self.call_as(nobody, "POST", UPLOAD, body.decode(),
                                     content_type=content_type)
                self.assertError(reply, 404, "not_found", harness.denied_message(self.sid))
        self.assertEqual(len(self.list_documents()), 1)
        self.assertEqual(self.stored_files(), before)

        # Root administers: another uid's documents are in reach over the socket.
        theirs = self.call_as(nobody, "POST", httptest.SESSIONS, {"title": "nobody's"}).json()
        body, content_type = httpclient.multipart([("session_id", theirs["session_id"]),
                                                   ("file", "n.txt", "Nobody's notes.")])
        added = self.call_as(nobody, "POST", UPLOAD, body.decode(), content_type=content_type)
        self.assertEqual(added.status, 202, added)
        self.assertEqual(self.get_document(added.json()["document_id"])["filename"], "n.txt")


class Malformed(DocumentsTestCase):

    def test_malformed_multipart(self):
        boundary = "smartrag-test-boundary-7MA4YWxkTrZu0gW"
        whole, content_type = httpclient.multipart([("session_id", self.sid),
                                                    ("file", "a.txt", "text")])
        cases = [
            (whole[:-len(boundary) - 8],
             f"it ends before the final boundary line '--{boundary}--'"),
            (b"", f"it holds no boundary line '--{boundary}'"),
            (whole.replace(b"\r\n", b"\n"), "a boundary line does not end with CRLF"),
            (httpclient.multipart([("session_id", self.sid)])[0],
             "there is no part 'file' with the file"),
            (httpclient.multipart([("file", "a.txt", "x")])[0],
             "there is no part 'session_id' naming the session"),
            (httpclient.multipart([("session_id", self.sid), ("file", "x")])[0],
             "part 'file' has no filename"),
            (httpclient.multipart([("session_id", self.sid), ("file", "a.txt", "1"),
                                   ("file", "b.txt", "2")])[0],
             "part 'file' comes twice; upload one file at a time"),
            (httpclient.multipart([("title", "T"), ("session_id", self.sid)])[0],
             "unknown part 'title'; an upload takes the parts file and session_id"),
            (httpclient.multipart([("session_id", self.sid), ("session_id", self.sid)])[0],
             "part 'session_id' comes twice"),
            (httpclient.multipart([("session_id", "s.txt", self.sid)])[0],
             "part 'session_id' is a file; send the session's id as a plain field"),
            (httpclient.multipart([("session_id", "x" * 300)])[0],
             "part 'session_id' is longer than 256 bytes"),
            (whole.replace(b"Content-Disposition: form-data; name=\"file\"",
                           b"Content-Disposition: attachment; name=\"file\""),
             "the Content-Disposition of part 2 is not form-data"),
            (whole.replace(b"Content-Type: application", b"X-Long: " + b"y" * 9000 +
                           b"\r\nContent-Type: application"),
             "the headers of part 2 are longer than 8192 bytes"),
        ]
        for body, detail in cases:
            with self.subTest(detail=detail):
                reply = self.call("POST", UPLOAD, body, content_type=content_type)
                self.assertError(reply, 400, "invalid_argument",
                                 f"Invalid multipart body: {detail}")
        # Long names are cut short, whatever their characters' widths.
        smile = "\U0001F600"
        for name, shown in ((smile * 51, smile * 51 + "…"), (smile * 60, smile * 60 + "…"),
                            ("é" * 100, "é" * 100), ("é" * 101, "é" * 60 + "…"),
                            ("x" * 201, "x" * 60 + "…")):
            with self.subTest(length=len(name)):
                body, _ = httpclient.multipart([(name, "1")])
                reply = self.call("POST", UPLOAD, body, content_type=content_type)
                self.assertError(reply, 400, "invalid_argument", f"Invalid multipart body: "
                                 f"unknown part '{shown}'; an upload takes the parts file and "
                                 "session_id")
        reply = self.call("POST", UPLOAD, httpclient.multipart([("session_id", "nope"),
                                                                ("file", "a.txt", "x")])[0],
                          content_type=content_type)
        self.assertError(reply, 400, "invalid_argument",
                         "Invalid session id 'nope': expected 32 lowercase hexadecimal characters")
        self.assertNothingStored()

    def test_wrong_content_types(self):
        body, _ = httpclient.multipart([("session_id", self.sid), ("file", "a.txt", "x")])
        not_multipart = ("An upload must be sent as 'Content-Type: multipart/form-data' with "
                         "the parts file and session_id")
        no_boundary = ("The upload's Content-Type needs a boundary parameter: 1 to 70 letters, "
                       "digits or characters of '()+_,-./:=? and space, not ending in a space")
        for content_type, message in (
                ("text/plain", not_multipart), ("application/json", not_multipart),
                ("multipart/mixed; boundary=smartrag-test-boundary-7MA4YWxkTrZu0gW",
                 not_multipart),
                (None, not_multipart), ("multipart/form-data", no_boundary),
                ("multipart/form-data; boundary=" + "b" * 71, no_boundary),
                ('multipart/form-data; boundary="a;b"', no_boundary)):
            with self.subTest(content_type=content_type):
                reply = self.call("POST", UPLOAD, body, content_type=content_type)
                self.assertError(reply, 415, "unsupported_format", message)
        # Quoted boundaries and any case of the type are fine.
        reply = self.call("POST", UPLOAD, body, content_type='Multipart/Form-Data; boundary='
                          '"smartrag-test-boundary-7MA4YWxkTrZu0gW"')
        self.assertAdded(reply)


class Limits(DocumentsTestCase):
    # The upload route takes max_file_size and 64 KiB for the framing: 128 KiB here.
    LIMIT = 128 * 1024

    def test_declared_size_over_the_limit(self):
        _, content_type = httpclient.multipart([])
        head = (f"POST {UPLOAD} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {self.LIMIT + 1}\r\n").encode()
        # With Expect: 100-continue the client waits, and the refusal comes before any body.
        answer = self.raw(head + b"Expect: 100-continue\r\n\r\n")
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer)
        self.assertIn(b'"error":"too_large"', answer)
        self.assertIn(b"this request takes at most 128.0\xc2\xa0KiB", answer)
        # Without it the body comes and is dropped unread.
        body, _ = httpclient.multipart([("session_id", self.sid),
                                        ("file", "big.txt", b"x" * self.LIMIT)])
        reply = self.call("POST", UPLOAD, body, content_type=content_type)
        self.assertError(reply, 413, "too_large",
                         "The request body is too large: this request takes at most "
                         "128.0\u00a0KiB")
        self.assertNothingStored()
        # At the limit the body is read, and the file refused for itself, over 64 KiB.
        framing = len(httpclient.multipart([("session_id", self.sid), ("file", "big.txt", b"")])[0])
        body, _ = httpclient.multipart([("session_id", self.sid),
                                        ("file", "big.txt", b"x" * (self.LIMIT - framing))])
        self.assertEqual(len(body), self.LIMIT)
        reply = self.call("POST", UPLOAD, body, content_type=content_type)
        self.assertError(reply, 413, "too_large",
                         f"The file is larger than the limit of {64 * 1024} bytes")
        self.assertNothingStored()

    def test_chunked_body_over_the_limit(self):
        _, content_type = httpclient.multipart([])
        head, _ = httpclient.multipart([("session_id", self.sid)])
        head = head[:head.rindex(b"--smartrag")]
        head += (b"--smartrag-test-boundary-7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; "
                 b'name="file"; filename="big.txt"\r\n\r\n')
        piece = b"y" * 16384
        chunks = [head] + [piece] * (self.LIMIT // len(piece) + 2)
        data = (f"POST {UPLOAD} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        data += b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
        answer = self.raw(data)
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer)
        self.assertIn(b'"error":"too_large"', answer)
        self.assertIn(b"Connection: close", answer)
        self.assertNothingStored()
        # The daemon still takes uploads.
        self.assertAdded(self.upload(MENU))


class LargeUpload(DocumentsTestCase):
    daemon_config = {"max_file_size": "32M"}
    SIZE = 20 * 1024 * 1024

    def peak_memory(self):
        with open(f"/proc/{self.smartragd.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        self.fail("no VmHWM")

    def sanitized(self):
        with open(f"/proc/{self.smartragd.proc.pid}/maps") as maps:
            return "libasan" in maps.read()

    def test_a_large_upload_is_not_held_in_memory(self):
        # A first upload lets the daemon make what every upload uses (buffers, threads).
        self.wait_settled(self.assertAdded(self.upload(MENU))["document_id"])
        pdf = padded_pdf("Lemurs sleep through the day.", self.SIZE)
        before = self.peak_memory()
        document = self.assertAdded(self.upload(pdf, "big.pdf"))
        grown = self.peak_memory() - before
        self.assertEqual(document["size"], len(pdf))
        # ASan keeps freed memory in quarantine, so its peak follows every byte received.
        if not self.sanitized():
            self.assertLess(grown, 8 * 1024 * 1024,
                            f"the daemon's peak memory grew by {grown} bytes for a "
                            f"{len(pdf)}-byte upload")
        ready = self.wait_settled(document["document_id"], timeout=60)
        self.assertEqual((ready["state"], ready["format"]), ("ready", "pdf"), ready)
        self.assertEqual(self.search("when do lemurs sleep")[0]["document_id"],
                         document["document_id"])


if __name__ == "__main__":
    httptest.main()
