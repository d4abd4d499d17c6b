#!/usr/bin/python3
"""The live introspection equals data/dbus-1/interfaces/org.smartrag.Daemon.xml."""

import os
import xml.etree.ElementTree as ET

from gi.repository import GLib

import harness
from harness import DAEMON_PATH, SESSION_PREFIX


def annotations(element):
    return {a.get("name"): a.get("value") for a in element.findall("annotation")}


def describe_args(element, default_direction):
    return [(arg.get("name"), arg.get("type"), arg.get("direction", default_direction))
            for arg in element.findall("arg")]


def describe_interface(element):
    """What an interface promises, without comments, order of members or whitespace."""
    return {
        "annotations": annotations(element),
        "methods": {m.get("name"): {"args": describe_args(m, "in"),
                                    "annotations": annotations(m)}
                    for m in element.findall("method")},
        "properties": {p.get("name"): {"type": p.get("type"), "access": p.get("access"),
                                       "annotations": annotations(p)}
                       for p in element.findall("property")},
        "signals": {s.get("name"): {"args": describe_args(s, "out"),
                                    "annotations": annotations(s)}
                    for s in element.findall("signal")},
    }


def our_interfaces(xml_text):
    root = ET.fromstring(xml_text)
    return {i.get("name"): describe_interface(i) for i in root.findall("interface")
            if i.get("name").startswith("org.smartrag.")}


class IntrospectionTests(harness.IntegrationTest):

    maxDiff = None

    def setUp(self):
        super().setUp()
        self.polkit.set_allowed([harness.ACTION_USE])

    def reference(self):
        self.assertTrue(os.path.exists(harness.INTERFACE_XML),
                        f"{harness.INTERFACE_XML} is missing")
        with open(harness.INTERFACE_XML, encoding="utf-8") as f:
            return our_interfaces(f.read())

    def test_reference_is_well_formed(self):
        reference = self.reference()
        self.assertIn("org.smartrag.Daemon", reference)
        self.assertIn("org.smartrag.Daemon.Session", reference)
        for iface, description in reference.items():
            for kind in ("methods", "signals"):
                for name, member in description[kind].items():
                    for arg_name, arg_type, direction in member["args"]:
                        self.assertTrue(arg_name, f"{iface}.{name}: an argument has no name")
                        self.assertTrue(GLib.Variant.is_signature(arg_type),
                                        f"{iface}.{name}({arg_name}): bad type {arg_type}")
                        self.assertIn(direction, ("in", "out"))
            for name, prop in description["properties"].items():
                self.assertTrue(GLib.Variant.is_signature(prop["type"]), f"{iface}.{name}")
                self.assertIn(prop["access"], ("read", "write", "readwrite"), name)

    def test_live_introspection_equals_the_reference(self):
        self.start_daemon()
        me = self.client()
        path = self.create_session(me, title="introspected")

        daemon_object = our_interfaces(self.introspect(me, DAEMON_PATH))
        session_object = our_interfaces(self.introspect(me, path))
        self.assertEqual(set(daemon_object), {"org.smartrag.Daemon"})
        self.assertEqual(set(session_object) & set(daemon_object), set())

        live = dict(daemon_object, **session_object)
        reference = self.reference()
        self.assertEqual(sorted(live), sorted(reference),
                         "interfaces served differ from the reference XML")
        for name in reference:
            with self.subTest(interface=name):
                self.assertEqual(live[name], reference[name])

    def test_session_prefix_node_lists_sessions(self):
        self.start_daemon()
        me = self.client()
        paths = [self.create_session(me) for _ in range(2)]
        root = ET.fromstring(self.introspect(me, SESSION_PREFIX))
        self.assertEqual({n.get("name") for n in root.findall("node")},
                         {harness.session_id(p) for p in paths})
        daemon_root = ET.fromstring(self.introspect(me, DAEMON_PATH))
        self.assertIn("session", {n.get("name") for n in daemon_root.findall("node")})


if __name__ == "__main__":
    harness.main()
