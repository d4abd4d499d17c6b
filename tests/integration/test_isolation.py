#!/usr/bin/python3
"""Users cannot see, touch, list or watch each other's sessions, nor probe their ids."""

import xml.etree.ElementTree as ET

from gi.repository import GLib

import harness
from harness import (ACCESS_DENIED, ACTION_USE, SESSION_IFACE, SESSION_PREFIX,
                     PROPERTIES_IFACE, BusError, denied_message, random_id, session_id,
                     session_path)


def child_nodes(xml):
    return {node.get("name") for node in ET.fromstring(xml).findall("node")}


class IsolationTests(harness.IntegrationTest):

    def setUp(self):
        super().setUp()
        self.nobody_account = self.nobody()
        self.other_account = self.second_account()
        self.polkit.set_allowed([ACTION_USE])
        self.start_daemon()
        self.root = self.client()
        self.stranger = self.client(self.nobody_account)
        self.other = self.client(self.other_account)
        self.root_session = self.create_session(self.root, title="root's")
        self.other_session = self.create_session(self.other, title="other's")
        self.own_session = self.create_session(self.stranger, title="mine")

    def probes(self, path):
        """Every way of reaching a session object, each returning the call's outcome."""
        title = GLib.Variant("(ss)", (SESSION_IFACE, "Title"))
        return {
            "Delete": lambda: self.stranger.call(path, SESSION_IFACE, "Delete"),
            "Get": lambda: self.stranger.call(path, PROPERTIES_IFACE, "Get", title),
            "Get Owner": lambda: self.stranger.call(
                path, PROPERTIES_IFACE, "Get", GLib.Variant("(ss)", (SESSION_IFACE, "Owner"))),
            "GetAll": lambda: self.stranger.call(path, PROPERTIES_IFACE, "GetAll",
                                                 GLib.Variant("(s)", (SESSION_IFACE,))),
            "Set": lambda: self.stranger.call(
                path, PROPERTIES_IFACE, "Set",
                GLib.Variant("(ssv)", (SESSION_IFACE, "Title", GLib.Variant("s", "mine now")))),
            "Introspect": lambda: self.stranger.call(
                path, "org.freedesktop.DBus.Introspectable", "Introspect"),
        }

    def test_a_strangers_session_looks_like_a_missing_one(self):
        missing = session_path(random_id())
        for path in (self.root_session, self.other_session, missing):
            expected = denied_message(session_id(path))
            for what, probe in self.probes(path).items():
                with self.subTest(session=path, call=what):
                    with self.assertRaises(BusError) as caught:
                        probe()
                    self.assertEqual((caught.exception.name, caught.exception.message),
                                     (ACCESS_DENIED, expected))

        # Nothing the stranger tried changed anything.
        self.assertEqual(self.get(self.root, self.root_session, "Title"), ("s", "root's"))
        self.assertEqual(self.get(self.other, self.other_session, "Title"), ("s", "other's"))
        self.assertEqual(self.list_sessions(self.other), [self.other_session])

    def test_own_session_works_for_a_non_root_user(self):
        props = self.get_all(self.stranger, self.own_session)
        self.assertEqual(props["Owner"], ("u", self.nobody_account.uid))
        self.assertEqual(props["Title"], ("s", "mine"))
        self.set(self.stranger, self.own_session, "Title", "still mine")
        self.assertEqual(self.get(self.stranger, self.own_session, "Title"), ("s", "still mine"))
        xml = self.introspect(self.stranger, self.own_session)
        interfaces = {i.get("name") for i in ET.fromstring(xml).findall("interface")}
        self.assertIn(SESSION_IFACE, interfaces)

    def test_listing_and_enumeration_show_only_own_sessions(self):
        self.assertEqual(self.list_sessions(self.stranger), [self.own_session])
        self.assertEqual(self.list_sessions(self.other), [self.other_session])
        self.assertEqual(self.list_sessions(self.root), [self.root_session])

        ids = {p: session_id(p) for p in (self.root_session, self.other_session,
                                          self.own_session)}
        self.assertEqual(child_nodes(self.introspect(self.stranger, SESSION_PREFIX)),
                         {ids[self.own_session]})
        self.assertEqual(child_nodes(self.introspect(self.other, SESSION_PREFIX)),
                         {ids[self.other_session]})
        # Root administers every session, so it may see them all.
        self.assertEqual(child_nodes(self.introspect(self.root, SESSION_PREFIX)),
                         set(ids.values()))

    def test_property_changes_reach_only_the_owner(self):
        for endpoint in (self.root, self.stranger, self.other):
            endpoint.subscribe()

        self.set(self.root, self.root_session, "Title", "root's, renamed")
        self.set(self.other, self.other_session, "Context", '{"secret": "other"}')

        def paths(signals):
            return [s["path"] for s in signals]

        got = self.root.wait_signals(3, until=lambda s: self.root_session in paths(s))
        self.assertIn(self.root_session, paths(got))
        got_root = paths(got) + paths(self.root.wait_signals(0.3))
        self.assertNotIn(self.other_session, got_root)

        got_other = self.other.wait_signals(3, path=self.other_session)
        self.assertEqual(paths(got_other), [self.other_session])

        self.assertEqual(self.stranger.wait_signals(1), [])
        # The stranger's subscription works: its own session's changes do arrive.
        self.set(self.stranger, self.own_session, "Title", "mine, renamed")
        self.assertEqual(paths(self.stranger.wait_signals(3, path=self.own_session)),
                         [self.own_session])


if __name__ == "__main__":
    harness.main()
