#!/usr/bin/python3
"""Idle sessions expire periodically and at start; expire_after=0 keeps one forever."""

import time

from gi.repository import GLib

import harness
from harness import ACCESS_DENIED, denied_message, session_id, wait_for


class ExpiryTests(harness.IntegrationTest):

    def setUp(self):
        super().setUp()
        self.polkit.set_allowed([harness.ACTION_USE])

    def test_idle_session_removed_periodically(self):
        daemon = self.start_daemon(session_expiry="2s", expiry_check_interval="1s")
        me = self.client()
        created = time.monotonic()
        idle = self.create_session(me, title="idle")
        never = self.create_session(me, title="never", expire_after=GLib.Variant("u", 0))
        longer = self.create_session(me, title="an hour", expire_after="1h")

        gone = wait_for(lambda: idle not in self.list_sessions(me), 8, interval=0.2)
        elapsed = time.monotonic() - created
        self.assertTrue(gone, "the idle session was still there after 8s")
        # Not before its two seconds of inactivity were up.
        self.assertGreaterEqual(elapsed, 1.95)
        self.assertEqual(self.list_sessions(me), [never, longer])
        self.assertBusError(ACCESS_DENIED, self.get, me, idle, "Title",
                            message=denied_message(session_id(idle)))
        self.assertIn(f"Session {session_id(idle)} expired", daemon.log())

    def test_expired_while_stopped_removed_at_start(self):
        # The periodic check never comes round here: only the start-up pass can remove it.
        daemon = self.start_daemon(session_expiry="1h", expiry_check_interval="1d")
        me = self.client()
        short = self.create_session(me, title="two seconds", expire_after=GLib.Variant("t", 2))
        default = self.create_session(me, title="default")
        never = self.create_session(me, title="never", expire_after="0")
        self.stop_daemon(daemon)

        time.sleep(2.2)
        daemon.start()
        me = self.client()
        self.assertEqual(self.list_sessions(me), [default, never])
        self.assertIn(f"Session {session_id(short)} expired", daemon.log())

    def test_activity_postpones_expiry(self):
        self.start_daemon(session_expiry="3s", expiry_check_interval="1s")
        me = self.client()
        busy = self.create_session(me, title="busy")
        idle = self.create_session(me, title="idle")
        # Writing a property counts as activity: keep one session busy throughout.
        for i in range(8):
            time.sleep(0.5)
            self.set(me, busy, "Title", f"busy {i}")

        def idle_gone():
            self.set(me, busy, "Title", "still busy")
            return idle not in self.list_sessions(me)

        self.assertTrue(wait_for(idle_gone, 4, interval=0.5))
        self.assertEqual(self.list_sessions(me), [busy])


if __name__ == "__main__":
    harness.main()
