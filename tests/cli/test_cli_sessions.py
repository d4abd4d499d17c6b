#!/usr/bin/python3
"""smartrag-cli: status, sessions, tokens, usage, errors, German, admin methods."""

import json
import os
import time

import clitest
import harness
from clitest import (EXIT_DENIED, EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE)


class SessionCommands(clitest.CliTest):

    def test_status(self):
        started = time.monotonic()
        text = self.ok("status").out
        self.assertLess(time.monotonic() - started, 5)
        self.assertIn("SmartRAG 0.1.0: ok", text)
        for component in ("db", "disk", "index", "generation", "embedding", "memory"):
            self.assertRegex(text, rf"(?m)^  {component} +ok ")
        status = self.ok("status", "--json").json()
        self.assertEqual(status["version"], "0.1.0")
        self.assertEqual(status["generation_backend"], "builtin")
        self.assertEqual(status["status"], "ok")
        self.assertEqual(status["components"]["db"]["status"], "ok")
        self.assertIsInstance(status["components"]["disk"]["free_bytes"], int)

    def test_create_list_show_delete(self):
        first = self.new_session("Holiday plans", )
        second = self.ok("sessions", "create", "--json", "--title", "Reading",
                         "--context", '{"genre": "crime"}', "--expire-after", "7d").json()
        self.assertEqual(second["title"], "Reading")
        self.assertEqual(second["context"], {"genre": "crime"})
        self.assertEqual(second["document_count"], 0)
        self.assertRegex(second["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

        listed = self.ok("sessions", "list", "--json").json()["sessions"]
        self.assertEqual([s["session_id"] for s in listed], [first, second["session_id"]])
        table = self.ok("sessions", "list").out.splitlines()
        self.assertIn("TITLE", table[0])
        self.assertTrue(table[1].startswith(first) and table[1].endswith("Holiday plans"), table)

        shown = self.ok("sessions", "show", first).out
        self.assertRegex(shown, rf"(?m)^Session: +{first}$")
        self.assertRegex(shown, r"(?m)^Title: +Holiday plans$")
        self.assertEqual(self.ok("sessions", "show", "--json", first).json()["owner"], 0)

        self.assertIn(f"Session {first} deleted", self.ok("sessions", "delete", first).out)
        self.fails(EXIT_NOT_FOUND, "sessions", "show", first,
                   contains=harness.denied_message(first))
        self.fails(EXIT_NOT_FOUND, "sessions", "delete", first,
                   contains="'smartrag-cli sessions list' shows yours")

    def test_refused_input(self):
        self.fails(EXIT_REFUSED, "sessions", "create", "--context", "[1, 2]",
                   contains=("Cannot create the session",
                             "Invalid context: expected a JSON object, got an array"))
        self.fails(EXIT_REFUSED, "sessions", "create", "--title", "x" * 600,
                   contains="Invalid title: longer than 512 bytes")

    def test_usage(self):
        self.assertIn("sessions", self.ok("--help").out)
        self.assertIn("--title", self.ok("sessions", "create", "--help").out)
        self.assertIn("create", self.ok("sessions", "--help").out)
        self.fails(EXIT_USAGE, contains="No command given")
        self.fails(EXIT_USAGE, "frobnicate", contains="Unknown command 'frobnicate'")
        self.fails(EXIT_USAGE, "sessions", "rename", contains="Unknown command 'sessions rename'")
        self.fails(EXIT_USAGE, "sessions", "show", contains="Missing argument")
        self.fails(EXIT_USAGE, "sessions", "show", "nope",
                   contains="Invalid session id 'nope': expected 32 lowercase hexadecimal")
        self.fails(EXIT_USAGE, "status", "--user",
                   contains="--system, --user and --address exclude each other")

    def test_polkit_refuses(self):
        nobody = self.nobody()
        self.fails(EXIT_DENIED, "sessions", "create", account=nobody,
                   contains=("Cannot create the session",
                             "polkit does not allow org.smartrag.use for you"))
        self.polkit.set_allowed([harness.ACTION_USE])
        theirs = self.ok("sessions", "create", account=nobody).out.strip()
        # Root lists only its own sessions; nobody sees only theirs.
        self.assertEqual(self.ok("sessions", "list", "--json").json()["sessions"], [])
        listed = self.ok("sessions", "list", "--json", account=nobody).json()["sessions"]
        self.assertEqual([s["session_id"] for s in listed], [theirs])
        self.assertEqual(listed[0]["owner"], nobody.uid)

    def test_tokens(self):
        created = self.ok("token", "create", "--json", "backup script").json()
        self.assertRegex(created["token"], rf"^srt_{created['id']}_[0-9a-f]{{64}}$")
        plain = self.cli("token", "create", "laptop")
        self.assertEqual(plain.code, 0, plain)
        self.assertRegex(plain.out.strip(), r"^srt_[0-9a-f]{32}_[0-9a-f]{64}$")
        self.assertIn("not shown again", plain.err)

        listed = self.ok("token", "list", "--json").json()["tokens"]
        self.assertEqual([t["name"] for t in listed], ["backup script", "laptop"])
        self.assertNotIn("srt_", self.ok("token", "list").out)
        self.ok("token", "revoke", created["id"])
        self.assertEqual(len(self.ok("token", "list", "--json").json()["tokens"]), 1)
        self.fails(EXIT_NOT_FOUND, "token", "revoke", created["id"],
                   contains="'smartrag-cli token list' shows yours")
        self.fails(EXIT_REFUSED, "token", "create", "", contains="Invalid token name: empty")

    def test_backup_restore_and_optimize(self):
        kept = self.ok("sessions", "create", "--title", "kept").out.strip()
        made = self.ok("backup", "--comment", "before the test", "--json").json()
        with open(os.path.join(made["path"], "manifest.json")) as f:
            self.assertEqual(json.load(f)["comment"], "before the test")
        lost = self.ok("sessions", "create", "--title", "made after the backup").out.strip()

        self.assertEqual(self.ok("restore", "latest").out,
                         "Restored from latest\n")
        listed = [s["session_id"] for s in self.ok("sessions", "list", "--json").json()["sessions"]]
        self.assertIn(kept, listed)
        self.assertNotIn(lost, listed)
        self.fails(EXIT_REFUSED, "restore", "/etc", contains="is not a backup in the backup "
                   "directory")

        report = self.ok("optimize", "--json").json()
        self.assertIn("vacuumed", report)
        self.assertRegex(self.ok("optimize").out, r"(?m)^vacuumed +(true|false)$")

    def test_german(self):
        if not clitest.LOCALEDIR:
            self.skipTest("SMARTRAG_LOCALEDIR does not name the build's translations")
        german = self.cli_env(LANGUAGE="de")
        self.assertIn("Befehle:", self.ok("--help", env=german).out)
        self.assertIn("Erzeugungs-Backend:", self.ok("status", env=german).out)
        missing = harness.random_id()
        self.fails(EXIT_NOT_FOUND, "sessions", "show", missing, env=german,
                   contains="Die Sitzung kann nicht gelesen werden")
        self.fails(EXIT_USAGE, "sessions", "show", "nope", env=german,
                   contains="Ungültige Sitzungs-ID 'nope'")


class Unreachable(clitest.CliTest):
    start_daemon_in_setup = False
    polkit_needed = False

    def test_no_daemon_on_the_bus(self):
        self.fails(EXIT_UNREACHABLE, "status",
                   contains=f"SmartRAG is not running on the bus at {self.bus.address}; "
                            f"start smartragd with --address={self.bus.address}")

    def test_no_bus(self):
        address = f"unix:path={self.workdir}/no-such-socket"
        self.fails(EXIT_UNREACHABLE, "sessions", "list", address=address,
                   contains=f"Cannot connect to the bus at {address}")


if __name__ == "__main__":
    clitest.main()
