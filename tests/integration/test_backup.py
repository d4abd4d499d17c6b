#!/usr/bin/python3
"""Backup, Restore and Optimize: consistent copies while writing, checked restores, retention."""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import threading

from gi.repository import Gio, GLib

import harness
from harness import (ACCESS_DENIED, ACTION_ADMIN, ACTION_USE, DAEMON_IFACE, DAEMON_PATH,
                     INVALID_ARGS, session_id)

DOCUMENT_IFACE = "org.smartrag.Daemon.Document"
QUERY_IFACE = "org.smartrag.Daemon.Query"
BUSY = "org.smartrag.Error.Busy"

TEXTS = [
    ("harbour.txt", "The harbour of Lindenfeld was built in 1871. Fishing boats still land "
     "their catch there every morning. A lighthouse guards the entrance of the harbour."),
    ("market.txt", "The market opens on Saturdays. Farmers sell cheese, apples and honey. "
     "The honey of the Lindenfeld hills is famous for its dark colour."),
    ("school.txt", "The old school closed in 1990. Its building now houses the town library, "
     "which lends books, films and board games."),
]


def backup_options(**values):
    return GLib.Variant("(a{sv})", ({k: GLib.Variant("s", v) for k, v in values.items()},))


def read_manifest(path):
    with open(os.path.join(path, "manifest.json")) as f:
        return json.load(f)


def write_manifest(path, manifest):
    with open(os.path.join(path, "manifest.json"), "w") as f:
        json.dump(manifest, f)


def database_parts(backup):
    """The manifest entries that, joined in order, are the backup's database."""
    entries = read_manifest(backup)["files"]
    parts = sorted((e for e in entries if e["path"].startswith("database/")),
                   key=lambda e: e["path"])
    return parts or [e for e in entries if e["path"] == "smartrag.db"]


def join_database(backup, to):
    """Writes the backup's database, joined from its segments, to @to."""
    with open(to, "wb") as out:
        for part in database_parts(backup):
            with open(os.path.join(backup, part["path"]), "rb") as f:
                out.write(f.read())
    return to


def rewrite_as_whole(backup, change=None):
    """Turns @backup into the format that held the database whole, as smartrag.db, after
    running @change on that file (a connection) if given; the manifest says so."""
    db = join_database(backup, os.path.join(backup, "smartrag.db"))
    if change is not None:
        with sqlite3.connect(db) as conn:
            change(conn)
    shutil.rmtree(os.path.join(backup, "database"))
    with open(db, "rb") as f:
        data = f.read()
    manifest = read_manifest(backup)
    manifest["format"] = 1
    manifest["files"] = [e for e in manifest["files"] if not e["path"].startswith("database/")]
    manifest["files"].append({"path": "smartrag.db", "size": len(data),
                              "sha256": hashlib.sha256(data).hexdigest()})
    write_manifest(backup, manifest)
    return manifest


def copy_as_state(backup, to):
    """What an administrator does to use a backup by hand: copies it, with the database
    joined into smartrag.db."""
    shutil.copytree(backup, to, ignore=shutil.ignore_patterns("database", "manifest.json"))
    join_database(backup, os.path.join(to, "smartrag.db"))


def rows(db_path, sql, *args):
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        return db.execute(sql, args).fetchall()


class BackupTestCase(harness.IntegrationTest):

    def setUp(self):
        super().setUp()
        self.polkit.set_allowed([ACTION_USE])
        self.backups = os.path.join(self.workdir, "backups")

    def start(self, **config):
        config.setdefault("backup_directory", self.backups)
        return self.start_daemon(**config)

    def backup(self, endpoint, timeout_ms=60000, **values):
        reply = endpoint.call(DAEMON_PATH, DAEMON_IFACE, "Backup", backup_options(**values),
                              timeout_ms=timeout_ms)
        return reply.unpack()[0]

    def restore(self, endpoint, path):
        endpoint.call(DAEMON_PATH, DAEMON_IFACE, "Restore", GLib.Variant("(s)", (path,)),
                      timeout_ms=60000)

    def optimize(self, endpoint):
        reply = endpoint.call(DAEMON_PATH, DAEMON_IFACE, "Optimize", timeout_ms=60000)
        return harness.typed_dict(reply.get_child_value(0))

    def add_text(self, endpoint, session, title, text):
        reply = endpoint.call(session, DOCUMENT_IFACE, "AddText",
                              GLib.Variant("(ssa{sv})", (title, text, {})))
        return reply.unpack()[0]

    def documents(self, endpoint, session):
        reply = endpoint.call(session, DOCUMENT_IFACE, "ListDocuments")
        return reply.unpack()[0]

    def wait_settled(self, endpoint, session, timeout=30):
        def settled():
            docs = self.documents(endpoint, session)
            return all(d["state"] in ("ready", "failed") for d in docs) and docs
        docs = harness.wait_for(settled, timeout, 0.1)
        self.assertTrue(docs, "documents did not settle")
        return docs

    def ask(self, endpoint, session, question):
        return endpoint.call(session, QUERY_IFACE, "AskAndWait",
                             GLib.Variant("(sa{sv})", (question, {}))).unpack()

    def search(self, endpoint, session, text, k=5):
        reply = endpoint.call(session, QUERY_IFACE, "Search",
                              GLib.Variant("(sa{sv})", (text, {"k": GLib.Variant("u", k)})))
        return [(h["document_id"], h["chunk"], h["text"]) for h in reply.unpack()[0]]

    def messages(self, endpoint, session):
        reply = endpoint.call(session, harness.SESSION_IFACE, "GetMessages",
                              GLib.Variant("(uu)", (0, 1000)))
        return [(m["role"], m["content"]) for m in reply.unpack()[0]]

    def seeded(self, endpoint):
        """A session with TEXTS, ready, and one exchange in its conversation."""
        session = self.create_session(endpoint, title="Lindenfeld")
        for title, text in TEXTS:
            self.add_text(endpoint, session, title, text)
        self.wait_settled(endpoint, session)
        self.ask(endpoint, session, "When was the harbour built?")
        return session

    def state_of(self, endpoint):
        """What a client sees: every session with its title, messages and documents."""
        seen = {}
        for path in self.list_sessions(endpoint):
            docs = sorted((d["id"], d["filename"]) for d in self.documents(endpoint, path))
            seen[session_id(path)] = (self.get(endpoint, path, "Title")[1],
                                      self.messages(endpoint, path), docs)
        return seen


def expected_state(backup):
    """The same, read from the backup's own database."""
    backup = backup.rstrip("/")
    # Beside the backup directory, where the daemon never looks.
    outside = os.path.dirname(os.path.dirname(backup))
    db = join_database(backup, os.path.join(outside, os.path.basename(backup) + ".db"))
    seen = {}
    for sid, title in rows(db, "SELECT id, title FROM sessions"):
        messages = rows(db, "SELECT role, content FROM messages WHERE session_id = ? "
                        "ORDER BY id", sid)
        docs = sorted(rows(db, "SELECT id, filename FROM documents WHERE session_id = ?", sid))
        seen[sid] = (title, [tuple(m) for m in messages], [tuple(d) for d in docs])
    return seen


class Writer(threading.Thread):
    """Adds documents and asks questions on a connection of its own until stopped."""

    def __init__(self, test, session):
        super().__init__(daemon=True)
        self.test, self.session = test, session
        self.endpoint = harness.client.Endpoint(test.bus.address)
        self.stop_event = threading.Event()
        self.rounds = 0
        self.errors = []

    def run(self):
        try:
            while not self.stop_event.is_set():
                n = self.rounds
                self.test.add_text(self.endpoint, self.session, f"note-{n}.txt",
                                   f"Note {n}: the ferry to Lindenfeld leaves at {n % 24}h.")
                self.test.ask(self.endpoint, self.session, f"When does ferry {n} leave?")
                self.rounds += 1
        except Exception as error:  # the test thread reports it
            self.errors.append(error)
        finally:
            self.endpoint.close()

    def finish(self):
        self.stop_event.set()
        self.join(30)
        self.test.assertEqual(self.errors, [])


class RoundTripTests(BackupTestCase):

    def test_round_trip_while_writing(self):
        self.start()
        me = self.client()
        session = self.seeded(me)
        writer = Writer(self, session)
        writer.start()
        self.assertTrue(harness.wait_for(lambda: writer.rounds >= 2, 20), "the writer is stuck")
        backup = self.backup(me, comment="before the ferry notes")
        rounds_at_backup = writer.rounds
        self.assertTrue(harness.wait_for(lambda: writer.rounds >= rounds_at_backup + 2, 20))
        writer.finish()

        self.assertEqual(os.path.dirname(backup), self.backups)
        manifest = read_manifest(backup)
        self.assertEqual(manifest["comment"], "before the ferry notes")
        expected = expected_state(backup)
        # One moment: questions and answers take turns; the last question may still have
        # been waiting for its answer then.
        _title, messages, docs = expected[session_id(session)]
        roles = [role for role, _ in messages]
        turns = ["user", "assistant"] * (len(roles) // 2) + ["user"] * (len(roles) % 2)
        self.assertEqual(roles, turns)
        self.assertGreaterEqual(len(docs), len(TEXTS) + 2)
        self.assertNotEqual(self.state_of(me), expected)

        self.restore(me, backup)
        self.assertEqual(self.state_of(me), expected)
        # The daemon goes on working on the restored state: documents the snapshot caught
        # while they were being indexed are indexed again.
        self.wait_settled(me, session)
        all_hits = self.search(me, session, "ferry Lindenfeld honey", k=100)
        self.assertGreater(len(all_hits), len(TEXTS))
        self.ask(me, session, "Where do farmers sell honey?")
        self.assertEqual(self.messages(me, session)[:len(messages)], messages)
        self.assertEqual(len(self.messages(me, session)), len(messages) + 2)

        # A daemon started cold on a copy of the backup finds the same.
        cold_state = os.path.join(self.workdir, "cold")
        copy_as_state(backup, cold_state)
        self.stop_daemon(self.daemons[0])
        self.start(state_dir=cold_state)
        other = self.client()
        self.wait_settled(other, session)
        cold_hits = self.search(other, session, "ferry Lindenfeld honey", k=100)
        # Every chunk, so the same set; the ferry notes differ by an hour only, and among
        # such near ties the order is the vector index's own. The best hit is clear.
        self.assertEqual(sorted(cold_hits), sorted(all_hits))
        self.assertEqual(cold_hits[0], all_hits[0])

    def test_restored_state_survives_a_restart(self):
        daemon = self.start()
        me = self.client()
        session = self.seeded(me)
        backup = self.backup(me)
        later = self.create_session(me, title="after the backup")
        self.restore(me, os.path.join(self.backups, "latest"))
        self.assertNotIn(later, self.list_sessions(me))
        self.stop_daemon(daemon)
        daemon.start()
        me = self.client()
        self.assertEqual(self.state_of(me), expected_state(backup))
        self.assertEqual(self.list_sessions(me), [session])
        # Nothing of the swap is left beside the state.
        self.assertEqual(sorted(os.listdir(daemon.state_dir)),
                         ["files", "index", "smartrag.db", "smartrag.db-shm", "smartrag.db-wal"])

    def test_swap_cut_short_is_finished_at_start(self):
        daemon = self.start()
        me = self.client()
        self.seeded(me)
        backup = self.backup(me)
        self.create_session(me, title="after the backup")
        self.stop_daemon(daemon)
        # What a restore leaves when the daemon dies after moving the database aside.
        state = daemon.state_dir
        staging = os.path.join(state, "restore-staging")
        copy_as_state(backup, staging)
        os.mkdir(os.path.join(state, "restore-previous"))
        os.rename(os.path.join(state, "smartrag.db"),
                  os.path.join(state, "restore-previous", "smartrag.db"))
        with open(os.path.join(state, "restore-swap"), "w") as f:
            f.write("forward")
        daemon.start()
        self.assertIn("Finished a restore that a crash had interrupted", daemon.log())
        self.assertEqual(self.state_of(self.client()), expected_state(backup))
        self.assertEqual(sorted(n for n in os.listdir(state) if n.startswith("restore")), [])


class RefusalTests(BackupTestCase):

    def setUp(self):
        super().setUp()
        self.start()
        self.me = self.client()
        self.session = self.seeded(self.me)
        self.good = self.backup(self.me)
        # Changes after the backup, which a refused restore must leave alone.
        self.create_session(self.me, title="after the backup")
        self.live = self.state_of(self.me)

    def copy(self, name):
        path = os.path.join(self.backups, name)
        shutil.copytree(self.good, path)
        return path

    def assert_refused(self, path, *contains, name=INVALID_ARGS):
        self.assertBusError(name, self.restore, self.me, path, contains=contains)
        self.assertEqual(self.state_of(self.me), self.live)

    def stored_file(self, backup):
        entry = next(e for e in read_manifest(backup)["files"] if e["path"].startswith("files/"))
        return entry["path"]

    def test_flipped_byte(self):
        bad = self.copy("20000101T000000.000001Z")
        target = os.path.join(bad, self.stored_file(bad))
        os.chmod(target, 0o600)
        with open(target, "r+b") as f:
            first = f.read(1)
            f.seek(0)
            f.write(bytes([first[0] ^ 0x01]))
        self.assert_refused(bad, "does not match the SHA-256", "Nothing was changed")

    def test_missing_file(self):
        bad = self.copy("20000101T000000.000002Z")
        missing = self.stored_file(bad)
        os.remove(os.path.join(bad, missing))
        self.assert_refused(bad, f"{missing} is missing")

    def test_edited_manifest(self):
        bad = self.copy("20000101T000000.000003Z")
        manifest = read_manifest(bad)
        manifest["files"][0]["size"] += 1
        write_manifest(bad, manifest)
        self.assert_refused(bad, "where its manifest says")

        manifest["files"][0]["size"] -= 1
        dropped = manifest["files"].pop()
        write_manifest(bad, manifest)
        self.assert_refused(bad, f"{dropped['path']} is not listed in its manifest")

        with open(os.path.join(bad, "manifest.json"), "w") as f:
            f.write("{\"format\": 1,")
        self.assert_refused(bad, "manifest", "is damaged")

    def test_newer_schema(self):
        bad = self.copy("20000101T000000.000004Z")
        manifest = rewrite_as_whole(bad, lambda db: db.execute("PRAGMA user_version = 999"))
        manifest["schema_version"] = 999
        write_manifest(bad, manifest)
        self.assert_refused(bad, "schema version 999", "newer SmartRAG")

    def test_a_database_segment_missing_or_flipped(self):
        bad = self.copy("20000101T000000.000006Z")
        segment = os.path.join(bad, database_parts(bad)[-1]["path"])
        os.chmod(segment, 0o600)
        with open(segment, "r+b") as f:
            f.seek(100)
            byte = f.read(1)
            f.seek(100)
            f.write(bytes([byte[0] ^ 0x80]))
        self.assert_refused(bad, "database/", "does not match the SHA-256")
        manifest = read_manifest(bad)
        manifest["files"] = [e for e in manifest["files"] if e["path"] != "database/000000"]
        write_manifest(bad, manifest)
        # The database of these tests is one segment; gaps between more are for unit tests.
        self.assert_refused(bad, "the database is not listed")

    def test_paths_outside_the_backup_directory(self):
        outside = os.path.join(self.workdir, "elsewhere")
        shutil.copytree(self.good, outside)
        self.assert_refused(outside, "lies outside that directory")
        self.assert_refused(os.path.join(self.backups, "..", "elsewhere"), "outside")
        os.symlink(outside, os.path.join(self.backups, "20000101T000000.000005Z"))
        self.assert_refused(os.path.join(self.backups, "20000101T000000.000005Z"), "outside")
        # A bare name is a backup's in the backup directory; other relative paths are refused.
        self.assert_refused(os.path.join("backups", os.path.basename(self.good)),
                            "must be absolute")
        self.assert_refused("..", "must be absolute")
        self.assert_refused("nothing-here", "not a backup")
        self.assert_refused(self.daemons[0].state_dir, "outside")
        self.assert_refused(os.path.join(self.backups, "nothing-here"), "not a backup")

    def test_bad_options(self):
        for options, text in (({"directory": "/tmp"}, "directory"),
                              ({"comment": "x" * 1025}, "longer than 1024 bytes"),
                              ({"comment": "a\nb"}, "control character")):
            self.assertBusError(INVALID_ARGS, self.backup, self.me, contains=text, **options)
        self.assertBusError(INVALID_ARGS, self.me.call, DAEMON_PATH, DAEMON_IFACE, "Backup",
                            GLib.Variant("(a{sv})", ({"comment": GLib.Variant("u", 1)},)),
                            contains="comment")
        self.assertEqual(sorted(os.listdir(self.backups)),
                         sorted([os.path.basename(self.good), "latest"]))


class BusyWindowTests(BackupTestCase):
    """Restore's pause, held open by an upload that has not ended: what callers meet."""

    def start_upload(self, endpoint, session):
        """AddFile from a pipe whose other end the test holds: in flight until it closes."""
        read_end, write_end = os.pipe()
        outcome = {}

        def done(connection, result):
            try:
                outcome["reply"] = connection.call_with_unix_fd_list_finish(result)[0].unpack()
            except GLib.Error as error:
                outcome["error"] = harness.client.bus_error_from_glib(error)

        fds = Gio.UnixFDList.new_from_array([read_end])
        endpoint.connection.call_with_unix_fd_list(
            harness.BUS_NAME, session, DOCUMENT_IFACE, "AddFile",
            GLib.Variant("(hsa{sv})", (0, "late.txt", {})), None, Gio.DBusCallFlags.NONE,
            60000, fds, None, done)
        endpoint.connection.flush_sync(None)
        return write_end, outcome

    def test_calls_during_the_pause_get_busy_until_the_swap(self):
        daemon = self.start()
        me = self.client()
        session = self.seeded(me)
        backup = self.backup(me)
        self.create_session(me, title="after the backup")
        write_end, upload = self.start_upload(me, session)
        os.write(write_end, b"The ferry leaves at noon. ")
        [restore] = me.start_calls(1, DAEMON_PATH, DAEMON_IFACE, "Restore",
                                   GLib.Variant("(s)", (backup,)), timeout_ms=60000)
        harness.wait_for(lambda: "waiting for work in flight to end" in daemon.log(), 20)

        other = self.client()
        for method, args in (("ListSessions", None),
                             ("CreateSession", GLib.Variant("(a{sv})", ({},))),
                             ("Backup", backup_options())):
            self.assertBusError(BUSY, other.call, DAEMON_PATH, DAEMON_IFACE, method, args,
                                contains=["A backup is being restored"])
        self.assertEqual(me.collect(0.2), {})

        # The upload ends: the pause is quiet, the backup is swapped in, calls go through.
        os.write(write_end, b"It returns at six.")
        os.close(write_end)
        outcome = me.collect(30)[str(restore)]
        self.assertNotIn("error", outcome, outcome)
        context = GLib.MainContext.default()
        harness.wait_for(lambda: context.iteration(False) and False or upload, 10, 0.01)
        self.assertIn("reply", upload, upload)
        # The upload finished before the swap, so the restored state does not hold it.
        self.assertEqual(self.state_of(other), expected_state(backup))


class DiskFullTests(BackupTestCase):

    def small_disk(self, size):
        """A file system of @size for the backups: a tmpfs, which needs root."""
        if os.geteuid() != 0:
            self.skipTest("mounting a small file system needs root")
        os.mkdir(self.backups, 0o700)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700",
                                  "tmpfs", self.backups], capture_output=True, text=True)
        if mounted.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
        self.addCleanup(self.unmount)

    def unmount(self):
        if os.path.ismount(self.backups):
            subprocess.run(["umount", "-l", self.backups], check=True)

    def test_a_full_disk_fails_the_backup_and_leaves_nothing(self):
        self.small_disk("64k")
        daemon = self.start()
        me = self.client()
        session = self.seeded(me)
        before = self.state_of(me)
        self.assertBusError("org.freedesktop.DBus.Error.Failed", self.backup, me,
                            contains=["is full; free some space and try again"])
        self.assertEqual(os.listdir(self.backups), [])
        self.assertEqual(self.state_of(me), before)
        # The daemon goes on serving, and the next backup, with room, is whole.
        self.ask(me, session, "When was the harbour built?")
        self.unmount()
        backup = self.backup(me)
        self.assertEqual(expected_state(backup), self.state_of(me))
        self.assertIn("Backup into", daemon.log())


class AdministrationTests(BackupTestCase):

    def test_only_administrators(self):
        daemon = self.start()
        backup = self.backup(self.client())
        nobody = self.client(self.nobody())
        calls = (("Backup", backup_options()), ("Restore", GLib.Variant("(s)", (backup,))),
                 ("Optimize", None))
        for method, args in calls:
            self.assertBusError(ACCESS_DENIED, nobody.call, DAEMON_PATH, DAEMON_IFACE, method,
                                args)
        self.polkit.set_allowed([ACTION_USE, ACTION_ADMIN])
        path = nobody.call(DAEMON_PATH, DAEMON_IFACE, "Backup", backup_options()).unpack()[0]
        self.assertTrue(path.startswith(self.backups + "/"))
        nobody.call(DAEMON_PATH, DAEMON_IFACE, "Optimize", timeout_ms=30000)
        nobody.call(DAEMON_PATH, DAEMON_IFACE, "Restore", GLib.Variant("(s)", (backup,)),
                    timeout_ms=30000)
        self.assertIn("Restored the backup", daemon.log())

    def test_retention_keeps_exactly_n(self):
        self.start(backup_keep="2")
        me = self.client()
        self.seeded(me)
        made = [self.backup(me) for _ in range(4)]
        kept = sorted(n for n in os.listdir(self.backups) if n != "latest")
        self.assertEqual(kept, [os.path.basename(p) for p in made[2:]])
        self.assertEqual(os.readlink(os.path.join(self.backups, "latest")),
                         os.path.basename(made[-1]))

    def test_second_backup_links_unchanged_files(self):
        self.start()
        me = self.client()
        session = self.seeded(me)
        self.search(me, session, "harbour")  # loads the index, saved at the latest at stop
        first = self.backup(me)
        second = self.backup(me)
        stored = [e["path"] for e in read_manifest(first)["files"]
                  if e["path"].startswith("files/")]
        self.assertEqual(len(stored), len(TEXTS))
        for relative in stored:
            a, b = (os.stat(os.path.join(p, relative)) for p in (first, second))
            self.assertEqual(a.st_ino, b.st_ino, relative)
            self.assertGreaterEqual(b.st_nlink, 2)
        # Nothing was committed in between: the database is shared too.
        a, b = (os.stat(os.path.join(p, "database/000000")) for p in (first, second))
        self.assertEqual(a.st_ino, b.st_ino)
        self.assertEqual(read_manifest(first)["files"], read_manifest(second)["files"])

        # A new document is copied, and the database with it; the others stay shared.
        self.add_text(me, session, "mill.txt", "The windmill grinds flour on Tuesdays.")
        self.wait_settled(me, session)
        third_path = self.backup(me)
        third = read_manifest(third_path)
        self.assertEqual(len([e for e in third["files"] if e["path"].startswith("files/")]),
                         len(TEXTS) + 1)
        c = os.stat(os.path.join(third_path, "database/000000"))
        self.assertNotEqual(b.st_ino, c.st_ino)
        self.assertNotEqual(expected_state(second), expected_state(third_path))

        # After a restore, the next backup holds the restored database, not the last one.
        self.restore(me, second)
        fourth = self.backup(me)
        self.assertEqual(expected_state(fourth), expected_state(second))
        self.assertEqual(self.state_of(me), expected_state(second))

    def test_optimize_report(self):
        self.start()
        me = self.client()
        session = self.seeded(me)
        report = self.optimize(me)
        types = {"bytes_before": "t", "bytes_after": "t", "free_pages_before": "t",
                 "free_pages_after": "t", "page_size": "u", "chunks": "t", "messages": "t",
                 "analyzed": "b", "fts_merge_steps": "u", "vacuumed": "b",
                 "index_compacted": "b", "seconds": "d"}
        self.assertEqual({k: v[0] for k, v in report.items()}, types)
        self.assertEqual(report["chunks"][1], len(TEXTS))
        self.assertEqual(report["messages"][1], 2)
        self.assertTrue(report["analyzed"][1])
        self.assertFalse(report["vacuumed"][1])

        # A large document removed leaves free pages: then VACUUM pays.
        big = " ".join(f"Paragraph {i} of the long chronicle of Lindenfeld." for i in range(20000))
        doc = self.add_text(me, session, "chronicle.txt", big)
        self.wait_settled(me, session)
        me.call(session, DOCUMENT_IFACE, "RemoveDocument", GLib.Variant("(s)", (doc,)))
        report = self.optimize(me)
        self.assertTrue(report["vacuumed"][1], report)
        self.assertLess(report["bytes_after"][1], report["bytes_before"][1])
        self.assertLess(report["free_pages_after"][1], report["free_pages_before"][1])
        # Everything still works.
        self.assertTrue(self.search(me, session, "honey"))


if __name__ == "__main__":
    harness.main()
