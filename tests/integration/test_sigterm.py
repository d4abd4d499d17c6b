#!/usr/bin/python3
"""SIGTERM during calls: every call answered, work drained, exit 0, nothing acknowledged lost."""

import signal
import sys
import time

import harness
from harness import (ACTION_USE, DAEMON_IFACE, DAEMON_PATH, SHUTTING_DOWN, options,
                     read_text, variant_from_text, wait_for)


class SigtermTests(harness.IntegrationTest):

    def setUp(self):
        super().setUp()
        self.polkit.set_allowed([ACTION_USE])

    def outcomes(self, finished):
        """Splits collected call outcomes into created paths and errors."""
        created, errors = [], []
        for outcome in finished.values():
            if "reply" in outcome:
                created.append(variant_from_text(outcome["reply"]).unpack()[0])
            else:
                errors.append((outcome["error"], outcome["message"]))
        return created, errors

    def polkit_questions(self):
        return read_text(self.polkit.log_path).count("CheckAuthorization")

    def test_calls_racing_sigterm_are_all_answered(self):
        daemon = self.start_daemon(shutdown_timeout="5s")
        # Several connections, each below the bus's limit of 128 pending replies.
        senders = [self.client() for _ in range(4)]
        per_sender = 120
        for sender in senders:
            sender.start_calls(per_sender, DAEMON_PATH, DAEMON_IFACE, "CreateSession",
                               options(title="racing"), timeout_ms=20000)
        senders[0].collect(10, wanted=5)
        daemon.signal(signal.SIGTERM)
        stopped_at = time.monotonic()

        finished = {}
        for n, sender in enumerate(senders):
            outcomes = sender.collect(15)
            self.assertEqual(len(outcomes), per_sender, "some calls got no outcome at all")
            finished.update({f"{n}/{k}": v for k, v in outcomes.items()})
        code = daemon.wait_exit(10)
        self.assertEqual(code, 0)
        self.assertLess(time.monotonic() - stopped_at, 5 + 1)
        self.assertIn("STOPPING=1", daemon.notifications)

        created, errors = self.outcomes(finished)
        self.assertGreaterEqual(len(created), 5)
        self.assertEqual([e for e in errors if e[0] != SHUTTING_DOWN], [],
                         "calls that got neither a result nor ShuttingDown")
        for name, message in errors:
            self.assertIn("shutting down", message)
        print(f"{len(created)} created, {len(errors)} refused", file=sys.stderr)

        daemon.start()
        listed = self.list_sessions(self.client())
        self.assertEqual(sorted(listed), sorted(created),
                         "sessions after restart differ from the acknowledged ones")

    def test_work_in_flight_finishes_before_exit(self):
        nobody = self.nobody()
        daemon = self.start_daemon(shutdown_timeout="10s")
        root = self.client()
        self.polkit.hang([ACTION_USE])
        asked_before = self.polkit_questions()
        waiting = self.client(nobody)
        waiting.start_calls(5, DAEMON_PATH, DAEMON_IFACE, "CreateSession",
                            options(title="in flight"))
        self.assertTrue(wait_for(lambda: self.polkit_questions() - asked_before >= 5, 10),
                        "the daemon did not ask polkit five times")

        daemon.signal(signal.SIGTERM)
        time.sleep(0.5)
        self.assertTrue(daemon.running(), "smartragd exited with work in flight")
        # New work is refused with a reason, while reading state still works.
        self.assertBusError(SHUTTING_DOWN, self.create_session, root,
                            contains="shutting down")
        self.assertEqual(self.get(root, DAEMON_PATH, "Version", interface=DAEMON_IFACE)[0],
                         "s")

        self.polkit.release()
        created, errors = self.outcomes(waiting.collect(10))
        self.assertEqual(errors, [])
        self.assertEqual(len(created), 5)
        self.assertEqual(daemon.wait_exit(10), 0)

        daemon.start()
        self.assertEqual(sorted(self.list_sessions(self.client(nobody))), sorted(created))

    def test_work_that_never_finishes_is_cut_off_at_the_drain_limit(self):
        nobody = self.nobody()
        daemon = self.start_daemon(shutdown_timeout="1s")
        self.polkit.hang([ACTION_USE])
        asked_before = self.polkit_questions()
        stuck = self.client(nobody)
        stuck.start_calls(2, DAEMON_PATH, DAEMON_IFACE, "CreateSession", options(),
                          timeout_ms=20000)
        self.assertTrue(wait_for(lambda: self.polkit_questions() - asked_before >= 2, 10))

        daemon.signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        self.assertEqual(daemon.wait_exit(10), 0)
        elapsed = time.monotonic() - stopped_at
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 4)
        self.assertIn("did not finish within 1s", daemon.log())

        # The cut-off callers are told why before the daemon goes, like any call that
        # comes during the stop, rather than left to the bus's NoReply.
        finished = stuck.collect(5)
        self.assertEqual(len(finished), 2)
        created, errors = self.outcomes(finished)
        self.assertEqual(created, [])
        self.assertEqual([name for name, _ in errors], [SHUTTING_DOWN] * 2, errors)


class BusLossTests(harness.IntegrationTest):
    """Not a signal, but the other way a daemon must stop: its bus goes away."""

    polkit_needed = False

    def test_daemon_exits_with_failure_when_the_bus_goes_away(self):
        daemon = self.start_daemon()
        self.create_session(self.client())
        self.bus.stop()
        code = daemon.wait_exit(5)
        self.assertIsNotNone(code, "smartragd kept running without its bus")
        # Non-zero, so that systemd's Restart= brings it back.
        self.assertNotEqual(code, 0)
        self.assertIn("D-Bus connection is gone", daemon.log())


if __name__ == "__main__":
    harness.main()
