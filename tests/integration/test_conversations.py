#!/usr/bin/python3
"""Conversations over the bus: GetMessages, SearchMessages and Export, with isolation."""

import json
import os
import sqlite3

from gi.repository import Gio, GLib

import harness
from harness import ACCESS_DENIED, INVALID_ARGS, SESSION_IFACE, denied_message, session_id

SOURCES = [{"document_id": "a" * 32, "filename": "menu.pdf", "chunk": 2, "page": 3,
            "heading": "Prices", "text": "The soup costs four euros.", "score": 0.5},
           {"document_id": "b" * 32, "filename": "notes.md", "chunk": 0, "heading": "",
            "text": "Bread is free.", "score": 0.25}]


def items(reply):
    """The messages of an (aa{sv}) reply, each as {key: (type, value)}."""
    messages = reply.get_child_value(0)
    return [harness.typed_dict(messages.get_child_value(i)) for i in range(messages.n_children())]


def export(endpoint, session, fmt, fd):
    """Export @session to @fd (ours stays open); the fd list sends a duplicate."""
    fds = Gio.UnixFDList.new_from_array([os.dup(fd)])
    try:
        endpoint.connection.call_with_unix_fd_list_sync(
            harness.BUS_NAME, session, SESSION_IFACE, "Export",
            GLib.Variant("(sh)", (fmt, 0)), None, Gio.DBusCallFlags.NONE, 10000, fds, None)
    except GLib.Error as error:
        raise harness.client.bus_error_from_glib(error) from None


def export_to_pipe(endpoint, session, fmt):
    # Small enough for the pipe's buffer, so the call can finish before we read.
    read_end, write_end = os.pipe()
    try:
        export(endpoint, session, fmt, write_end)
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        return f.read().decode()


class ConversationTests(harness.IntegrationTest):

    def setUp(self):
        super().setUp()
        self.polkit.set_allowed([harness.ACTION_USE])
        self.smartragd = self.start_daemon()
        self.me = self.client()
        self.session = self.create_session(self.me, title="Lunch")

    def get_messages(self, endpoint, offset=0, limit=0):
        return items(endpoint.call(self.session, SESSION_IFACE, "GetMessages",
                                   GLib.Variant("(uu)", (offset, limit))))

    def search_messages(self, endpoint, text, limit=0):
        return items(endpoint.call(self.session, SESSION_IFACE, "SearchMessages",
                                   GLib.Variant("(su)", (text, limit))))

    def export(self, fmt, fd):
        export(self.me, self.session, fmt, fd)

    def export_to_pipe(self, fmt):
        return export_to_pipe(self.me, self.session, fmt)

    def insert_exchange(self):
        """What Ask will write, written here with SQLite while the daemon runs."""
        sid = session_id(self.session)
        path = os.path.join(self.smartragd.state_dir, "smartrag.db")
        with sqlite3.connect(path, timeout=10) as db:
            db.execute("INSERT INTO messages (session_id, query_id, role, content, created_at)"
                       " VALUES (?, 'q1', 'user', 'How much is the soup at the café?',"
                       " 1700000000000000)", (sid,))
            db.execute("INSERT INTO messages (session_id, query_id, role, content,"
                       " sources_json, state, error, backend, model, ttft_ms, total_ms,"
                       " prompt_tokens, answer_tokens, created_at) VALUES (?, 'q1',"
                       " 'assistant', 'Four euros [1].', ?, 'incomplete', 'Cancelled',"
                       " 'builtin', 'extractive', 1.5, 4.25, 300, 4, 1700000001000000)",
                       (sid, json.dumps(SOURCES)))
        db.close()

    def test_empty_conversation(self):
        self.assertEqual(self.get_messages(self.me), [])
        self.assertEqual(self.get_messages(self.me, offset=5, limit=1000), [])
        self.assertEqual(self.search_messages(self.me, "café"), [])
        self.assertEqual(self.get(self.me, self.session, "MessageCount"), ("u", 0))

        exported = json.loads(self.export_to_pipe("json"))
        self.assertEqual(exported["messages"], [])
        self.assertEqual(exported["session"]["id"], session_id(self.session))
        self.assertEqual(exported["session"]["title"], "Lunch")
        self.assertRegex(exported["session"]["created_at"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        markdown = self.export_to_pipe("markdown")
        self.assertTrue(markdown.startswith("# Lunch\n"), markdown)
        self.assertIn(session_id(self.session), markdown)

    def test_messages_on_the_wire(self):
        self.insert_exchange()
        self.assertEqual(self.get(self.me, self.session, "MessageCount"), ("u", 2))
        question, answer = self.get_messages(self.me)
        self.assertEqual(question["role"], ("s", "user"))
        self.assertEqual(question["query_id"], ("s", "q1"))
        self.assertEqual(question["created_at"], ("t", 1700000000000000))
        self.assertEqual(question["id"][0], "t")
        self.assertNotIn("sources", question)
        self.assertNotIn("error", question)

        self.assertEqual(answer["state"], ("s", "incomplete"))
        self.assertEqual(answer["error"], ("s", "Cancelled"))
        self.assertEqual(answer["backend"], ("s", "builtin"))
        self.assertEqual(answer["ttft_ms"], ("d", 1.5))
        self.assertEqual(answer["prompt_tokens"], ("u", 300))
        kind, sources = answer["sources"]
        self.assertEqual(kind, "aa{sv}")
        self.assertEqual(sources[0], SOURCES[0])
        self.assertNotIn("page", sources[1])

        self.assertEqual([m["role"][1] for m in self.get_messages(self.me, offset=1)],
                         ["assistant"])
        found = self.search_messages(self.me, 'CAFE "NEAR(" AND *')
        self.assertEqual([m["role"][1] for m in found], ["user"])

        with open(os.path.join(self.workdir, "export.md"), "w+b") as f:
            self.export("markdown", f.fileno())
            f.seek(0)
            markdown = f.read().decode()
        self.assertIn("- [1] menu.pdf, p. 3 — Prices\n- [2] notes.md\n", markdown)
        self.assertIn("*Incomplete answer: Cancelled*", markdown)

    def test_bad_arguments(self):
        self.assertBusError(INVALID_ARGS, self.get_messages, self.me, limit=1001,
                            message="Invalid limit: expected 1 to 1000 messages, or 0 for 100")
        self.assertBusError(INVALID_ARGS, self.search_messages, self.me, "  ",
                            message="Invalid search text: it is empty")
        self.assertBusError(INVALID_ARGS, self.search_messages, self.me, "x" * 4097,
                            message="Invalid search text: longer than 4096 bytes")
        read_end, write_end = os.pipe()
        try:
            self.assertBusError(INVALID_ARGS, self.export, "xml", write_end,
                                message='Invalid format \'xml\': expected "json" or "markdown"')
            self.assertBusError(INVALID_ARGS, self.export, "json", read_end,
                                message="Invalid fd: not open for writing")
        finally:
            os.close(read_end)
            os.close(write_end)

    def test_other_users_are_denied(self):
        other = self.client(self.nobody())
        sid = session_id(self.session)
        for method, args in (("GetMessages", GLib.Variant("(uu)", (0, 10))),
                             ("SearchMessages", GLib.Variant("(su)", ("soup", 10)))):
            self.assertBusError(ACCESS_DENIED, other.call, self.session, SESSION_IFACE, method,
                                args, message=denied_message(sid))
        # An administrator may read it.
        self.polkit.set_allowed([harness.ACTION_USE, harness.ACTION_ADMIN])
        reply = other.call(self.session, SESSION_IFACE, "GetMessages",
                           GLib.Variant("(uu)", (0, 10)))
        self.assertEqual(reply.unpack(), ([],))


if __name__ == "__main__":
    harness.main()
