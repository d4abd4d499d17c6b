#!/usr/bin/python3
"""Documents over the bus: adding by descriptor and text, processing, search, isolation."""

import os
import time

from gi.repository import Gio, GLib

import harness
from harness import ACCESS_DENIED, denied_message, session_id

DOCUMENT_IFACE = "org.smartrag.Daemon.Document"
QUERY_IFACE = "org.smartrag.Daemon.Query"

MENU = """# Café du Nord

The café opens at eight in the morning and closes at six.

## Prices

The soup of the day costs four euros; bread is free.
"""


class DocumentTests(harness.IntegrationTest):

    def setUp(self):
        super().setUp()
        self.polkit.set_allowed([harness.ACTION_USE])
        self.smartragd = self.start_daemon(max_file_size="64K")
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

    def test_hostile_files_fail_alone(self):
        junk = self.add_file(bytes(range(256)) * 40, "notes.txt")
        empty = self.add_file(b"", "empty.txt")
        pdf = self.add_file(b"%PDF-1.7\n1 0 obj << /Type /Catalog", "cut.pdf")
        for doc in (junk, empty, pdf):
            self.assertEqual(self.wait_settled(doc)[-1], "failed")
            message = self.get_document(doc)["message"]
            self.assertTrue(message, f"{doc} failed without a message")
        self.assertIn("UTF-8", self.get_document(junk)["message"])

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


if __name__ == "__main__":
    harness.main()
