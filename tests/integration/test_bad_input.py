#!/usr/bin/python3
"""Bad input and unusable state or config give clear errors and change nothing."""

import hashlib
import json
import os
import sqlite3
import subprocess

from gi.repository import GLib

import harness
from harness import (DAEMON_IFACE, DAEMON_PATH, INVALID_ARGS, PROPERTIES_IFACE,
                     SESSION_IFACE, SESSION_PREFIX, UNKNOWN_OBJECT, BusError, options,
                     session_id)


class BusInputTests(harness.IntegrationTest):

    def setUp(self):
        super().setUp()
        self.polkit.set_allowed([harness.ACTION_USE])
        self.start_daemon()
        self.me = self.client()
        self.good = self.create_session(self.me, title="good", context='{"keep": true}')
        self.good_state = self.get_all(self.me, self.good)

    def assertGoodUnchanged(self):
        self.assertEqual(self.get_all(self.me, self.good), self.good_state)
        self.assertEqual(self.list_sessions(self.me), [self.good])

    def create_with(self, args):
        return self.me.call(DAEMON_PATH, DAEMON_IFACE, "CreateSession", args)

    def test_malformed_session_paths(self):
        sid = session_id(self.good)
        malformed = {
            "not hex": "zz" + sid[2:],
            "uppercase": sid.upper(),
            "too short": sid[:31],
            "too long": sid + "0",
            "underscore": sid[:31] + "_",
            "a word": "session",
            "extra element": sid + "/extra",
            "element between": "x/" + sid,
        }
        calls = {
            "Get": lambda p: self.get(self.me, p, "Title"),
            "GetAll": lambda p: self.get_all(self.me, p),
            "Set": lambda p: self.set(self.me, p, "Title", "hijacked"),
            "Delete": lambda p: self.delete(self.me, p),
            "Introspect": lambda p: self.introspect(self.me, p),
        }
        for case, tail in malformed.items():
            path = f"{SESSION_PREFIX}/{tail}"
            for what, call in calls.items():
                with self.subTest(path=case, call=what):
                    with self.assertRaises(BusError) as caught:
                        call(path)
                    error = caught.exception
                    self.assertIn(error.name, (INVALID_ARGS, UNKNOWN_OBJECT), error.message)
                    self.assertIn(path, error.message)
                    if error.name == INVALID_ARGS:
                        self.assertIn("32-character lowercase hexadecimal id", error.message)
        self.assertGoodUnchanged()

    def test_context_must_be_a_json_object(self):
        refused = {
            "[1, 2]": "expected a JSON object, got an array",
            '"text"': "expected a JSON object, got a string",
            "42": "expected a JSON object, got a number",
            "null": "expected a JSON object, got null",
            "": "Invalid context",
            "{bad": "not valid JSON",
            '{"a": 1,}': "not valid JSON",
            "[" * 100 + "]" * 100: "nested deeper than 64 levels",
            '{"a":' * 65 + "1" + "}" * 65: "nested deeper than 64 levels",
            '{"a": "' + "x" * 65536 + '"}': "longer than 65536 bytes",
        }
        for text, reason in refused.items():
            with self.subTest(context=text[:40]):
                error = self.assertBusError(INVALID_ARGS, self.create_session, self.me,
                                            context=text, contains=reason)
                self.assertTrue(error.message.startswith("Invalid context: "), error.message)
                self.assertBusError(INVALID_ARGS, self.set, self.me, self.good, "Context",
                                    text, contains=reason)
        self.assertGoodUnchanged()

    def test_context_edge_cases_that_are_fine(self):
        accepted = {
            # Brackets inside strings are not nesting.
            '{"s": "' + "[" * 100 + '"}': {"s": "[" * 100},
            '{"a":' * 64 + "1" + "}" * 64: None,
            ' \n{ "spaced" :\t[ 1 , 2 ] }\n': {"spaced": [1, 2]},
            '{"quote \\" and {": "}"}': {'quote " and {': "}"},
        }
        for text, expected in accepted.items():
            with self.subTest(context=text[:40]):
                path = self.create_session(self.me, context=text)
                stored = self.get(self.me, path, "Context")[1]
                if expected is not None:
                    self.assertEqual(json.loads(stored), expected)
                    self.assertNotIn(" :", stored)

    def test_context_must_be_strict_json(self):
        # Each of these would be stored as something other than what was sent: a second
        # value dropped, an assignment or comment stripped, a bad escape turned into text.
        lenient = ['{"a": 1} {"b": 2}', '{"a": 1}\n{"b": 2}', 'var x = {"a": 1}',
                   "{'a': 'b'}", '{"a": "\\x41"}', '{"a": 01}', '/* note */ {"a": 1}']
        for text in lenient:
            with self.subTest(context=text):
                self.assertBusError(INVALID_ARGS, self.create_session, self.me, context=text,
                                    contains="Invalid context")
                self.assertBusError(INVALID_ARGS, self.set, self.me, self.good, "Context",
                                    text, contains="Invalid context")
        self.assertGoodUnchanged()

    def test_titles(self):
        refused = {
            "x" * 513: "Invalid title: longer than 512 bytes (513)",
            "é" * 257: "Invalid title: longer than 512 bytes (514)",
            "two\nlines": "Invalid title: control character at byte 3",
            "tab\there": "Invalid title: control character at byte 3",
            "\x1b[31mred": "Invalid title: control character at byte 0",
            "del\x7f": "Invalid title: control character at byte 3",
            "c1\u0085": "Invalid title: control character at byte 2",
        }
        for title, reason in refused.items():
            with self.subTest(title=title[:20]):
                self.assertBusError(INVALID_ARGS, self.create_session, self.me, title=title,
                                    contains=reason)
                self.assertBusError(INVALID_ARGS, self.set, self.me, self.good, "Title", title,
                                    contains=reason)
        self.assertGoodUnchanged()
        for title in ("x" * 512, "é" * 256, "Ünïcödé 标题 🙂"):
            path = self.create_session(self.me, title=title)
            self.assertEqual(self.get(self.me, path, "Title"), ("s", title))

    def test_wrong_argument_types(self):
        def entry(key, value):
            return GLib.Variant.new_dict_entry(GLib.Variant("s", key), GLib.Variant("v", value))

        twice = GLib.Variant.new_tuple(GLib.Variant.new_array(
            GLib.VariantType("{sv}"),
            [entry("title", GLib.Variant("s", "a")), entry("title", GLib.Variant("s", "b"))]))
        cases = {
            "a string for a{sv}": (GLib.Variant("(s)", ("title",)), "expecting 'a{sv}'"),
            "no argument": (None, "expecting 'a{sv}'"),
            "a{ss}": (GLib.Variant("(a{ss})", ({"title": "x"},)), "expecting 'a{sv}'"),
            "an extra argument": (GLib.Variant("(a{sv}s)", ({}, "x")), "expecting 'a{sv}'"),
            "title as u": (options(title=GLib.Variant("u", 1)), "Invalid option 'title'"),
            "context as as": (options(context=GLib.Variant("as", ["{}"])),
                              "Invalid option 'context'"),
            "expire_after as i": (options(expire_after=GLib.Variant("i", 5)),
                                  "Invalid option 'expire_after'"),
            "expire_after as b": (options(expire_after=GLib.Variant("b", True)),
                                  "Invalid option 'expire_after'"),
            "expire_after not a duration": (options(expire_after="forever"),
                                            "Invalid option 'expire_after'"),
            "expire_after negative": (options(expire_after="-5"),
                                      "Invalid option 'expire_after'"),
            "expire_after beyond 2^63": (options(expire_after=GLib.Variant("t", 2 ** 63)),
                                         "Invalid option 'expire_after'"),
            "expire_after beyond ten years": (
                options(expire_after=GLib.Variant("t", 11 * 365 * 86400)), "expire_after"),
            "unknown option": (options(colour="red"), "Unknown option 'colour'"),
            "option given twice": (twice, "Option 'title' is given twice"),
        }
        for case, (args, reason) in cases.items():
            with self.subTest(case=case):
                self.assertBusError(INVALID_ARGS, self.create_with, args, contains=reason)
        self.assertBusError(INVALID_ARGS, self.me.call, DAEMON_PATH, DAEMON_IFACE,
                            "ListSessions", GLib.Variant("(s)", ("x",)))
        self.assertBusError(INVALID_ARGS, self.set, self.me, self.good, "Title",
                            GLib.Variant("u", 3))
        self.assertBusError(INVALID_ARGS, self.me.call, self.good, SESSION_IFACE, "Delete",
                            GLib.Variant("(s)", ("now",)))
        self.assertGoodUnchanged()

    def test_property_misuse(self):
        for name, value in (("Owner", GLib.Variant("u", 0)), ("Id", GLib.Variant("s", "x")),
                            ("LastActive", GLib.Variant("t", 0))):
            self.assertBusError("org.freedesktop.DBus.Error.PropertyReadOnly", self.set,
                                self.me, self.good, name, value)
        self.assertBusError("org.freedesktop.DBus.Error.PropertyReadOnly", self.me.call,
                            DAEMON_PATH, PROPERTIES_IFACE, "Set",
                            GLib.Variant("(ssv)", (DAEMON_IFACE, "Version",
                                                   GLib.Variant("s", "9"))))
        self.assertBusError("org.freedesktop.DBus.Error.UnknownProperty", self.get, self.me,
                            self.good, "Nope")
        self.assertBusError("org.freedesktop.DBus.Error.UnknownMethod", self.me.call,
                            self.good, SESSION_IFACE, "Explode")
        self.assertGoodUnchanged()


class LimitTests(harness.IntegrationTest):

    def test_configured_limits(self):
        self.polkit.set_allowed([harness.ACTION_USE])
        self.start_daemon(max_title_bytes="8", max_context_bytes="16", max_sessions_per_user="2")
        me = self.client()
        self.assertBusError(INVALID_ARGS, self.create_session, me, title="123456789",
                            contains="longer than 8 bytes (9)")
        self.assertBusError(INVALID_ARGS, self.create_session, me,
                            context='{"a": "123456789"}', contains="longer than 16 bytes")
        self.create_session(me, title="12345678", context='{"a": "1234567"}')
        self.create_session(me)
        error = self.assertBusError("org.smartrag.Error.TooLarge", self.create_session, me,
                                    contains="max_sessions_per_user")
        self.assertIn("2 sessions", error.message)
        self.assertEqual(len(self.list_sessions(me)), 2)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class StartupFailureTests(harness.IntegrationTest):

    polkit_needed = False

    def fails_to_start(self, daemon, *expected):
        """@daemon exits non-zero within a few seconds, saying each of @expected."""
        daemon.start(wait_ready=False)
        code = daemon.wait_exit(5)
        self.assertIsNotNone(code, "smartragd kept running")
        self.assertNotEqual(code, 0)
        self.assertNotIn("READY=1", daemon.notifications)
        log = daemon.log()
        for text in expected:
            self.assertIn(text, log)
        return log

    def database_in(self, state_dir):
        return os.path.join(state_dir, "smartrag.db")

    def assertUntouched(self, state_dir, before):
        self.assertEqual(digest(self.database_in(state_dir)), before)
        self.assertEqual(os.listdir(state_dir), ["smartrag.db"])

    def test_random_bytes_database(self):
        daemon = self.new_daemon()
        db = self.database_in(daemon.state_dir)
        with open(db, "wb") as f:
            f.write(os.urandom(16384))
        before = digest(db)
        self.fails_to_start(daemon, db, "is not a SmartRAG database or is damaged")
        self.assertUntouched(daemon.state_dir, before)

    def test_damaged_database_behind_a_valid_header(self):
        daemon = self.new_daemon()
        db = self.database_in(daemon.state_dir)
        with open(db, "wb") as f:
            f.write(b"SQLite format 3\0" + os.urandom(4080))
        before = digest(db)
        self.fails_to_start(daemon, db, "is not a SmartRAG database or is damaged")
        self.assertUntouched(daemon.state_dir, before)

    def test_database_from_a_newer_version(self):
        daemon = self.new_daemon()
        db = self.database_in(daemon.state_dir)
        connection = sqlite3.connect(db)
        connection.execute("CREATE TABLE future (x)")
        connection.execute("PRAGMA user_version = 999")
        connection.commit()
        connection.close()
        before = digest(db)
        self.fails_to_start(daemon, db, "schema version 999", "newer")
        self.assertUntouched(daemon.state_dir, before)

    def test_unwritable_state_directory(self):
        state = os.path.join(self.workdir, "readonly-state")
        os.mkdir(state, 0o755 if harness.is_root() else 0o555)
        # Root may write anywhere, so the daemon runs as nobody for this.
        account = harness.Account("nobody") if harness.is_root() else None
        daemon = self.new_daemon(state_dir=state, account=account)
        self.fails_to_start(daemon, f"Cannot use the state directory {state}")
        self.assertEqual(os.listdir(state), [])

    def test_database_owned_by_someone_else(self):
        daemon = self.new_daemon()
        daemon.start()
        self.stop_daemon(daemon)
        db = self.database_in(daemon.state_dir)
        if harness.is_root():
            os.chmod(daemon.state_dir, 0o777)
            os.chmod(db, 0o644)
            daemon.account = harness.Account("nobody")
        else:
            os.chmod(db, 0o444)
        before = digest(db)
        self.fails_to_start(daemon, db, "for reading and writing")
        self.assertUntouched(daemon.state_dir, before)

    def test_state_directory_cannot_be_made(self):
        blocker = os.path.join(self.workdir, "a-file")
        open(blocker, "w").close()
        state = os.path.join(blocker, "state")
        self.fails_to_start(self.new_daemon(state_dir=state),
                            f"Cannot create the state directory {state}")

    def test_bad_configuration(self):
        config = os.path.join(self.workdir, "bad.conf")
        with open(config, "w") as f:
            f.write("[daemon]\nsession_expiry=forever\nlog_level=loud\n"
                    "[limits]\nmax_title_bytes=0\nmax_pages=0\nextract_memory=1K\n"
                    "extract_timeout=forever\n")
        checked = subprocess.run([harness.SMARTRAGD, "--check-config", f"--config={config}"],
                                 capture_output=True, text=True, timeout=10)
        self.assertNotEqual(checked.returncode, 0)
        for text in (f'{config}: [daemon] session_expiry = "forever": expected',
                     f'{config}: [daemon] log_level = "loud": expected',
                     f'{config}: [limits] max_title_bytes = "0": expected',
                     f'{config}: [limits] max_pages = "0": expected a whole number from 1 to',
                     f'{config}: [limits] extract_memory = "1K": expected a size such as 512K, '
                     '100M or 2G, from 64M to 64G',
                     f'{config}: [limits] extract_timeout = "forever": expected a duration'):
            self.assertIn(text, checked.stderr)
        # The daemon itself refuses the same file before touching any state.
        daemon = self.new_daemon(config=config)
        self.fails_to_start(daemon, "session_expiry")
        self.assertEqual(os.listdir(daemon.state_dir), [])

    def test_check_config_accepts_a_valid_file_and_warns_of_unknown_keys(self):
        config = self.write_config(session_expiry="2h")
        with open(config, "a") as f:
            f.write("[daemon]\ncolour=red\n[extra]\nkey=value\n")
        checked = subprocess.run([harness.SMARTRAGD, "--check-config", f"--config={config}"],
                                 capture_output=True, text=True, timeout=10)
        self.assertEqual(checked.returncode, 0, checked.stderr)
        self.assertIn("unknown key 'colour' in [daemon]", checked.stderr)
        self.assertIn("unknown group [extra]", checked.stderr)
        self.assertIn("configuration is valid", checked.stdout)

    def test_check_config_of_a_missing_file(self):
        config = os.path.join(self.workdir, "missing.conf")
        checked = subprocess.run([harness.SMARTRAGD, "--check-config", f"--config={config}"],
                                 capture_output=True, text=True, timeout=10)
        self.assertNotEqual(checked.returncode, 0)
        self.assertIn(config, checked.stderr)


if __name__ == "__main__":
    harness.main()
