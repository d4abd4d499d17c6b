#!/usr/bin/python3
"""polkit allow and deny for org.smartrag.use and org.smartrag.admin; root needs no polkit."""

import subprocess
import time

import harness
from harness import (ACCESS_DENIED, ACTION_ADMIN, ACTION_USE, DAEMON_IFACE, DAEMON_PATH,
                     denied_message, options, session_id)


class PolkitTests(harness.IntegrationTest):

    def setUp(self):
        super().setUp()
        self.nobody_account = self.nobody()

    def create_denied(self, endpoint, action=ACTION_USE):
        return self.assertBusError(ACCESS_DENIED, self.create_session, endpoint,
                                   contains=action)

    def test_use_denied_then_allowed(self):
        self.start_daemon()
        self.polkit.set_allowed([])
        refused = self.client(self.nobody_account)
        error = self.create_denied(refused)
        self.assertIn("polkit", error.message)
        self.assertEqual(self.list_sessions(refused), [])

        self.polkit.set_allowed([ACTION_USE])
        allowed = self.client(self.nobody_account)
        path = self.create_session(allowed, title="allowed")
        self.assertEqual(self.list_sessions(allowed), [path])
        self.assertEqual(self.get(allowed, path, "Owner"), ("u", self.nobody_account.uid))

    def test_without_a_cache_a_revoked_authorization_applies_at_once(self):
        self.start_daemon(authorization_cache="0")
        endpoint = self.client(self.nobody_account)
        self.polkit.set_allowed([ACTION_USE])
        self.create_session(endpoint)
        self.polkit.set_allowed([])
        self.create_denied(endpoint)

    def test_a_cached_authorization_belongs_to_one_connection(self):
        self.start_daemon(authorization_cache="1h")
        first = self.client(self.nobody_account)
        self.polkit.set_allowed([ACTION_USE])
        self.create_session(first)
        self.polkit.set_allowed([])
        # The same connection keeps its answer ...
        self.create_session(first)
        # ... a new connection of the same uid is asked afresh.
        second = self.client(self.nobody_account)
        self.create_denied(second)
        self.assertEqual(len(self.list_sessions(second)), 2)

    def test_admin_may_delete_another_users_session(self):
        owner_account = self.second_account()
        self.start_daemon()
        self.polkit.set_allowed([ACTION_USE])
        owner = self.client(owner_account)
        path = self.create_session(owner, title="owned by the second account")

        admin = self.client(self.nobody_account)
        self.assertBusError(ACCESS_DENIED, self.delete, admin, path,
                            message=denied_message(session_id(path)))
        self.assertEqual(self.list_sessions(owner), [path])

        self.polkit.set_allowed([ACTION_USE, ACTION_ADMIN])
        admin = self.client(self.nobody_account)
        self.delete(admin, path)
        self.assertEqual(self.list_sessions(owner), [])

    def test_admin_denied_looks_like_a_missing_session(self):
        owner_account = self.second_account()
        self.start_daemon()
        self.polkit.set_allowed([ACTION_USE])
        path = self.create_session(self.client(owner_account))
        stranger = self.client(self.nobody_account)
        missing = harness.session_path(harness.random_id())
        for target in (path, missing):
            self.assertBusError(ACCESS_DENIED, self.delete, stranger, target,
                                message=denied_message(session_id(target)))

    def test_root_needs_no_polkit(self):
        self.start_daemon()
        self.polkit.set_allowed([ACTION_USE])
        theirs = self.create_session(self.client(self.nobody_account), title="theirs")

        self.polkit.set_allowed([])
        root = self.client()
        mine = self.create_session(root)
        self.assertEqual(self.list_sessions(root), [mine])
        # Root administers every session without asking.
        self.assertEqual(self.get(root, theirs, "Owner"), ("u", self.nobody_account.uid))
        self.set(root, theirs, "Title", "renamed by root")
        self.delete(root, theirs)
        self.assertEqual(self.list_sessions(self.client(self.nobody_account)), [])

    def test_a_burst_of_calls_waiting_for_polkit_is_authorized(self):
        # More questions to polkit at once than the bus lets one connection have
        # unanswered (128 on a default system bus), from two connections that each stay
        # below it.
        self.start_daemon()
        self.polkit.set_allowed([ACTION_USE])
        self.polkit.hang([ACTION_USE])
        senders = [self.client(self.nobody_account) for _ in range(2)]
        for sender in senders:
            sender.start_calls(100, DAEMON_PATH, DAEMON_IFACE, "CreateSession",
                               options(title="burst"), timeout_ms=20000)
        self.assertTrue(harness.wait_for(
            lambda: "CheckAuthorization" in harness.read_text(self.polkit.log_path), 10))
        time.sleep(1)
        self.polkit.release()

        refused = []
        for sender in senders:
            outcomes = sender.collect(15)
            self.assertEqual(len(outcomes), 100)
            refused += [(o["error"], o["message"]) for o in outcomes.values() if "error" in o]
        self.assertEqual(refused[:3], [], f"{len(refused)} of 200 calls were refused")
        self.assertEqual(len(self.list_sessions(senders[0])), 200)

    def test_command_line_tools_as_another_user(self):
        self.start_daemon()
        self.polkit.set_allowed([ACTION_USE])
        created = self.run_as_nobody(
            ["busctl", f"--address={self.bus.address}", "call", harness.BUS_NAME,
             DAEMON_PATH, DAEMON_IFACE, "CreateSession", "a{sv}", "1", "title", "s", "cli"])
        self.assertEqual(created.returncode, 0, created.stderr)
        self.assertTrue(created.stdout.startswith(f'o "{harness.SESSION_PREFIX}/'),
                        created.stdout)

        self.polkit.set_allowed([])
        refused = self.run_as_nobody(
            ["gdbus", "call", "--address", self.bus.address, "--dest", harness.BUS_NAME,
             "--object-path", DAEMON_PATH, "--method", f"{DAEMON_IFACE}.CreateSession", "{}"])
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn(ACCESS_DENIED, refused.stderr)
        self.assertIn(ACTION_USE, refused.stderr)

    def run_as_nobody(self, argv):
        return subprocess.run(self.nobody_account.wrap(argv), capture_output=True, text=True,
                              timeout=20, cwd="/", env=harness.minimal_env())


class NoPolkitTests(harness.IntegrationTest):
    """A system-mode daemon whose bus has no polkit refuses, promptly and clearly."""

    polkit_needed = False

    def test_create_refused_when_polkit_is_missing(self):
        nobody = self.nobody()
        self.start_daemon()
        endpoint = self.client(nobody)
        error = self.assertBusError(ACCESS_DENIED, endpoint.call, DAEMON_PATH, DAEMON_IFACE,
                                    "CreateSession", options(), timeout_ms=5000,
                                    contains=ACTION_USE)
        self.assertIn("polkit", error.message)
        self.create_session(self.client())


if __name__ == "__main__":
    harness.main()
