#!/usr/bin/python3
"""SIGHUP: the configuration read again; what can change applies, a bad file changes nothing."""

import os

import harness
from harness import (ACTION_USE, DAEMON_IFACE, DAEMON_PATH, INVALID_ARGS, read_text, wait_for)


class ReloadTests(harness.IntegrationTest):

    def setUp(self):
        super().setUp()
        self.polkit.set_allowed([ACTION_USE])
        self.config = None

    def configure(self, **values):
        self.config = self.write_config(name="reload.conf", **values)
        return self.config

    def start(self, **values):
        return self.start_daemon(config=self.configure(**values))

    def assertTitleRefused(self, endpoint, title):
        self.assertBusError(INVALID_ARGS, self.create_session, endpoint, title=title,
                            contains="Invalid title: longer than")

    def test_changed_limit_takes_effect(self):
        daemon = self.start(max_title_bytes="16")
        bus = self.client()
        title = "a title of 30 bytes, no more.."
        self.assertTitleRefused(bus, title)

        self.configure(max_title_bytes="64")
        told = daemon.reload()
        self.assertTrue(any(line.startswith("MONOTONIC_USEC=") for line in told), told)
        self.create_session(bus, title=title)
        self.assertTitleRefused(bus, "x" * 65)
        self.assertIn("now in effect: limits.max_title_bytes", daemon.log())
        # The status systemd shows is the serving one again.
        statuses = [line for line in told if line.startswith("STATUS=")]
        self.assertTrue(statuses[-1].startswith("STATUS=Serving org.smartrag.Daemon"), told)

    def test_invalid_file_keeps_the_running_configuration(self):
        daemon = self.start(max_title_bytes="16")
        bus = self.client()
        self.configure(max_title_bytes="lots")
        told = daemon.reload()
        self.assertTrue(daemon.running())
        self.assertIn("Configuration not reloaded; the one in effect stays", daemon.log())
        self.assertIn('max_title_bytes = "lots"', daemon.log())
        self.assertTrue(any("the configuration was not reloaded" in line for line in told), told)
        # Still serving, still with the old limit.
        bus.call(DAEMON_PATH, DAEMON_IFACE, "GetHealth")
        self.assertTitleRefused(bus, "seventeen bytes!!")
        self.create_session(bus, title="sixteen bytes!!!")

        # A file that went away is refused too, since the daemon was told to read it.
        os.unlink(self.config)
        daemon.reload()
        self.assertTrue(daemon.running())
        self.assertIn("cannot read", daemon.log())
        self.assertTitleRefused(bus, "seventeen bytes!!")

    def test_keys_for_a_restart_are_named(self):
        daemon = self.start(ingest_workers="2")
        self.configure(ingest_workers="3", max_sessions_per_user="5")
        daemon.reload()
        log = daemon.log()
        self.assertIn("now in effect: limits.max_sessions_per_user", log)
        self.assertIn("take effect only after a restart: daemon.ingest_workers", log)

    def test_log_level(self):
        daemon = self.start()
        bus = self.client()
        self.create_session(bus, title="logged")
        self.assertTrue(wait_for(lambda: "created for uid" in read_text(daemon.log_path), 5),
                        "no info line for the first session")
        self.configure(log_level="warning")
        daemon.reload()
        before = len(daemon.log())
        self.create_session(bus, title="not logged")
        # A warning still comes through: the reload after it, naming a key for a restart.
        self.configure(log_level="warning", ingest_workers="7")
        daemon.reload()
        after = daemon.log()[before:]
        self.assertIn("take effect only after a restart: daemon.ingest_workers", after)
        self.assertNotIn("created for uid", after)


if __name__ == "__main__":
    harness.main()
