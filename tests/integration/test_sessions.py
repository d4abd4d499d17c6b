#!/usr/bin/python3
"""Sessions over the bus: properties, changes, delete, health, version, restart."""

import json
import os
import subprocess
import time

from gi.repository import GLib

import harness
from harness import (ACCESS_DENIED, DAEMON_IFACE, DAEMON_PATH, PROPERTIES_IFACE, SESSION_IFACE,
                     denied_message, session_id, typed_dict, variant_from_text)

SESSION_PROPERTIES = {
    "Id": "s", "Title": "s", "Owner": "u", "CreatedAt": "t", "LastActive": "t",
    "Context": "s", "MessageCount": "u", "DocumentCount": "u",
}


def compact(obj):
    # The daemon only drops insignificant white space: escapes stay as the client wrote
    # them, and json.dumps writes non-ASCII as \u escapes by default.
    return json.dumps(obj, separators=(",", ":"))


class SessionTests(harness.IntegrationTest):

    def setUp(self):
        super().setUp()
        # Without root the daemon asks polkit even for its own user.
        self.polkit.set_allowed([harness.ACTION_USE])
        self.smartragd = self.start_daemon()
        self.me = self.client()

    def test_create_list_and_read_every_property(self):
        context = {"topic": "release notes", "tags": ["a", "b"], "city": "München",
                   "nested": {"n": 3, "none": None, "yes": True}}
        before = time.time_ns() // 1000
        path = self.create_session(
            self.me, title="Quarterly report",
            context=json.dumps(context, indent=2),
            expire_after=GLib.Variant("u", 3600))
        after = time.time_ns() // 1000
        sid = session_id(path)

        self.assertEqual(self.list_sessions(self.me), [path])

        props = self.get_all(self.me, path)
        self.assertEqual({k: t for k, (t, _) in props.items()}, SESSION_PROPERTIES)
        values = {k: v for k, (_, v) in props.items()}
        self.assertEqual(values["Id"], sid)
        self.assertEqual(values["Title"], "Quarterly report")
        self.assertEqual(values["Owner"], os.geteuid())
        self.assertGreaterEqual(values["CreatedAt"], before)
        self.assertLessEqual(values["CreatedAt"], after)
        self.assertEqual(values["LastActive"], values["CreatedAt"])
        # Stored compact, same content.
        self.assertEqual(json.loads(values["Context"]), context)
        self.assertEqual(values["Context"], compact(context))
        self.assertEqual(values["MessageCount"], 0)
        self.assertEqual(values["DocumentCount"], 0)

        # Get answers each property on its own with the same type and value.
        for name, wire_type in SESSION_PROPERTIES.items():
            self.assertEqual(self.get(self.me, path, name), (wire_type, values[name]), name)

    def test_defaults_and_several_sessions_listed_in_creation_order(self):
        first = self.create_session(self.me)
        second = self.create_session(self.me, title="two", expire_after="7d")
        third = self.create_session(self.me, expire_after=GLib.Variant("t", 60))
        self.assertEqual(self.list_sessions(self.me), [first, second, third])
        props = self.get_all(self.me, first)
        self.assertEqual(props["Title"], ("s", ""))
        self.assertEqual(props["Context"], ("s", "{}"))
        self.assertEqual(len({session_id(p) for p in (first, second, third)}), 3)

    def test_writing_title_and_context_notifies_the_owner(self):
        path = self.create_session(self.me, title="before")
        created = self.get(self.me, path, "LastActive")[1]
        self.me.subscribe()
        # Another connection of the same user that has talked to the daemon.
        other = self.client()
        self.list_sessions(other)
        other.subscribe()

        time.sleep(0.002)  # LastActive is in µs; make sure it can move
        self.set(self.me, path, "Title", "after")
        changed = self.changes(self.me, path)
        self.assertEqual(changed["Title"], ("s", "after"))
        self.assertEqual(changed["LastActive"][0], "t")
        self.assertGreater(changed["LastActive"][1], created)
        self.assertEqual(self.changes(other, path), changed)
        self.assertEqual(self.get(self.me, path, "Title"), ("s", "after"))
        self.assertEqual(self.get(self.me, path, "LastActive"), changed["LastActive"])

        self.set(self.me, path, "Context", '{ "lang" : "de",  "list": [1, 2, {"k": "v w"}] }')
        changed = self.changes(self.me, path)
        expected = compact({"lang": "de", "list": [1, 2, {"k": "v w"}]})
        self.assertEqual(changed["Context"], ("s", expected))
        self.assertEqual(self.changes(other, path), changed)
        self.assertEqual(self.get(self.me, path, "Context"), ("s", expected))

    def changes(self, endpoint, path):
        """The one PropertiesChanged for @path that @endpoint receives next."""
        signals = endpoint.wait_signals(3, until=lambda got: any(s["path"] == path
                                                                  for s in got))
        signals = [s for s in signals if s["path"] == path]
        self.assertEqual(len(signals), 1, f"PropertiesChanged for {path}: {signals}")
        args = variant_from_text(signals[0]["args"])
        self.assertEqual(args.get_type_string(), "(sa{sv}as)")
        self.assertEqual(args.get_child_value(0).get_string(), SESSION_IFACE)
        self.assertEqual(args.get_child_value(2).unpack(), [])
        return typed_dict(args.get_child_value(1))

    def test_delete(self):
        keep = self.create_session(self.me, title="keep")
        gone = self.create_session(self.me, title="gone")
        self.delete(self.me, gone)
        self.assertEqual(self.list_sessions(self.me), [keep])
        message = denied_message(session_id(gone))
        self.assertBusError(ACCESS_DENIED, self.get, self.me, gone, "Title", message=message)
        self.assertBusError(ACCESS_DENIED, self.delete, self.me, gone, message=message)
        self.assertEqual(self.get(self.me, keep, "Title"), ("s", "keep"))

    def test_health(self):
        reply = self.me.call(DAEMON_PATH, DAEMON_IFACE, "GetHealth")
        self.assertEqual(reply.get_type_string(), "(sa{sv})")
        status = reply.get_child_value(0).get_string()
        components = typed_dict(reply.get_child_value(1))
        self.assertEqual(set(components),
                         {"db", "disk", "memory", "index", "generation", "embedding"})

        order = ["ok", "degraded", "failing"]
        worst = "ok"
        details = {}
        for name, (wire_type, value) in components.items():
            self.assertEqual(wire_type, "a{sv}", name)
            details[name] = typed_dict(reply.get_child_value(1).lookup_value(name, None))
            self.assertIn(details[name]["status"][1], order, name)
            self.assertEqual(details[name]["message"][0], "s")
            self.assertTrue(details[name]["message"][1], name)
            worst = max(worst, details[name]["status"][1], key=order.index)
        self.assertEqual(status, worst)

        db = details["db"]
        self.assertEqual(db["status"][1], "ok", db["message"][1])
        self.assertEqual(db["path"], ("s", os.path.join(self.smartragd.state_dir, "smartrag.db")))
        self.assertEqual(db["schema_version"][0], "u")
        self.assertGreaterEqual(db["schema_version"][1], 1)
        self.assertEqual(db["latency_us"][0], "t")
        disk = details["disk"]
        self.assertEqual(disk["path"], ("s", self.smartragd.state_dir))
        self.assertEqual(disk["free_bytes"][0], "t")
        self.assertEqual(disk["total_bytes"][0], "t")
        self.assertLessEqual(disk["free_bytes"][1], disk["total_bytes"][1])
        memory = details["memory"]
        for name in ("resident_bytes", "available_bytes", "total_bytes"):
            self.assertEqual(memory[name][0], "t", name)
            self.assertGreater(memory[name][1], 0, name)
        self.assertLess(memory["available_bytes"][1], memory["total_bytes"][1])
        self.assertLess(memory["resident_bytes"][1], memory["total_bytes"][1])
        index = details["index"]
        self.assertEqual(index["status"][1], "ok")
        self.assertEqual(index["sessions_loaded"], ("u", 0))
        for name in ("vectors", "waiting", "memory_bytes"):
            self.assertEqual(index[name], ("t", 0), name)
        # The tests' daemons answer with the builtin generator unless a test says otherwise.
        generation = details["generation"]
        self.assertEqual(generation["status"][1], "ok")
        self.assertEqual(generation["backend"], ("s", "builtin"))
        self.assertEqual(generation["active"], ("s", "builtin"))
        self.assertEqual(generation["model"], ("s", "extractive"))
        self.assertNotIn("url", generation)
        # The default embedder needs no server (test_embedders.py covers the others).
        embedding = details["embedding"]
        self.assertEqual(embedding["status"][1], "ok")
        self.assertEqual(embedding["backend"], ("s", "builtin"))
        self.assertTrue(embedding["model"][1].startswith("builtin-"), embedding["model"])
        self.assertNotIn("url", embedding)
        self.assertEqual(embedding["dimensions"], ("u", 384))
        self.assertEqual(embedding["server"], ("s", "available"))
        self.assertEqual(embedding["documents_waiting"], ("u", 0))
        for name in ("reembed_left", "reembedded", "reembed_skipped", "checked_at"):
            self.assertEqual(embedding[name], ("t", 0), name)

    def test_version(self):
        printed = subprocess.run([harness.SMARTRAGD, "--version"], capture_output=True,
                                 text=True, check=True).stdout.split()
        self.assertEqual(printed[0], "smartragd")
        self.assertEqual(self.get(self.me, DAEMON_PATH, "Version", interface=DAEMON_IFACE),
                         ("s", printed[1]))
        reply = self.me.call(DAEMON_PATH, PROPERTIES_IFACE, "GetAll",
                             GLib.Variant("(s)", (DAEMON_IFACE,)))
        # The harness configures the builtin backends, so that no server of the machine
        # takes part.
        self.assertEqual(typed_dict(reply.get_child_value(0)),
                         {"Version": ("s", printed[1]), "EmbeddingBackend": ("s", "builtin"),
                          "GenerationBackend": ("s", "builtin")})

    def test_sessions_survive_a_restart(self):
        paths = [
            self.create_session(self.me, title="one", context='{"a": 1}'),
            self.create_session(self.me, title="two", expire_after="0"),
            self.create_session(self.me),
        ]
        self.set(self.me, paths[2], "Title", "three, renamed")
        self.set(self.me, paths[2], "Context", '{"b": [true, false]}')
        self.delete(self.me, paths[1])
        del paths[1]
        before = {p: self.get_all(self.me, p) for p in paths}

        self.stop_daemon(self.smartragd)
        database = os.path.join(self.smartragd.state_dir, "smartrag.db")
        self.assertTrue(os.path.exists(database))
        # A clean stop leaves the write-ahead log folded into the database.
        self.assertFalse(os.path.exists(database + "-wal"))

        self.smartragd.start()
        again = self.client()
        self.assertEqual(self.list_sessions(again), paths)
        for p in paths:
            self.assertEqual(self.get_all(again, p), before[p], p)

    def test_command_line_tools(self):
        created = subprocess.run(
            ["busctl", f"--address={self.bus.address}", "call", harness.BUS_NAME, DAEMON_PATH,
             DAEMON_IFACE, "CreateSession", "a{sv}", "2", "title", "s", "from busctl",
             "expire_after", "s", "1h"],
            capture_output=True, text=True, timeout=20)
        self.assertEqual(created.returncode, 0, created.stderr)
        path = created.stdout.split()[1].strip('"')
        listed = subprocess.run(
            ["gdbus", "call", "--address", self.bus.address, "--dest", harness.BUS_NAME,
             "--object-path", path, "--method", "org.freedesktop.DBus.Properties.Get",
             SESSION_IFACE, "Title"],
            capture_output=True, text=True, timeout=20)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertEqual(listed.stdout.strip(), "(<'from busctl'>,)")
        refused = subprocess.run(
            ["busctl", f"--address={self.bus.address}", "call", harness.BUS_NAME, DAEMON_PATH,
             DAEMON_IFACE, "CreateSession", "a{sv}", "1", "colour", "s", "red"],
            capture_output=True, text=True, timeout=20)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("Unknown option 'colour'", refused.stderr)


if __name__ == "__main__":
    harness.main()
