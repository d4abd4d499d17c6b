"""A D-Bus client connection for the tests: in-process, or a process of another uid."""

import json
import re
import sys
import time

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

BUS_NAME = "org.smartrag.Daemon"
DAEMON_PATH = "/org/smartrag/Daemon"
DAEMON_IFACE = "org.smartrag.Daemon"
SESSION_IFACE = "org.smartrag.Daemon.Session"
SESSION_PREFIX = DAEMON_PATH + "/session"
PROPERTIES_IFACE = "org.freedesktop.DBus.Properties"

# Errors that never reached the bus get names of their own, so that a test can tell a
# timeout from an error the daemon sent.
LOCAL_TIMEOUT = "local.TimedOut"
LOCAL_ERROR = "local.Error"

_REMOTE_ERROR = re.compile(r"^GDBus\.Error:([^:\s]+): (.*)$", re.DOTALL)


class BusError(Exception):
    """A failed call: the D-Bus error name and the message the peer gave."""

    def __init__(self, name, message):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def bus_error_from_glib(error):
    match = _REMOTE_ERROR.match(error.message or "")
    if match:
        return BusError(match.group(1), match.group(2))
    if error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT):
        return BusError(LOCAL_TIMEOUT, error.message)
    return BusError(LOCAL_ERROR, error.message)


def variant_to_text(value):
    return None if value is None else value.print_(True)


def variant_from_text(text):
    return None if text is None else GLib.Variant.parse(None, text, None, None)


class Endpoint:
    """A connection to the bus with the few operations the tests need."""

    def __init__(self, address):
        flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
                 | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
        self.context = GLib.MainContext.default()
        self.connection = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
        self.connection.set_exit_on_close(False)
        self.signals = []
        self.pending = {}
        self.finished = {}
        self._next_call = 0
        self._subscriptions = []

    def unique_name(self):
        return self.connection.get_unique_name()

    def call(self, path, interface, method, args=None, destination=BUS_NAME,
             timeout_ms=10000):
        try:
            return self.connection.call_sync(destination, path, interface, method, args,
                                             None, Gio.DBusCallFlags.NONE, timeout_ms, None)
        except GLib.Error as error:
            raise bus_error_from_glib(error) from None

    def start_calls(self, count, path, interface, method, args=None, destination=BUS_NAME,
                    timeout_ms=20000):
        """Sends @count calls without waiting; collect() gathers their outcomes."""
        ids = []
        for _ in range(count):
            call_id = self._next_call
            self._next_call += 1
            self.pending[call_id] = True
            self.connection.call(destination, path, interface, method, args, None,
                                 Gio.DBusCallFlags.NONE, timeout_ms, None,
                                 self._call_done, call_id)
            ids.append(call_id)
        # Everything is on its way to the bus before the caller does anything else.
        self.connection.flush_sync(None)
        return ids

    def _call_done(self, connection, result, call_id):
        try:
            reply = connection.call_finish(result)
            self.finished[call_id] = {"reply": variant_to_text(reply)}
        except GLib.Error as error:
            failure = bus_error_from_glib(error)
            self.finished[call_id] = {"error": failure.name, "message": failure.message}
        self.pending.pop(call_id, None)

    def collect(self, timeout, wanted=None):
        """Runs the loop until every started call (or @wanted of them) has an outcome."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            if wanted is not None and len(self.finished) >= wanted:
                break
            self.context.iteration(False) or time.sleep(0.002)
        return {str(k): v for k, v in self.finished.items()}

    def subscribe(self, interface=PROPERTIES_IFACE, member="PropertiesChanged",
                  sender=BUS_NAME, path=None):
        def on_signal(_conn, sender_name, object_path, iface, signal, params):
            self.signals.append({"sender": sender_name, "path": object_path,
                                 "interface": iface, "member": signal,
                                 "args": variant_to_text(params)})

        self._subscriptions.append(self.connection.signal_subscribe(
            sender, interface, member, path, None, Gio.DBusSignalFlags.NONE, on_signal))
        # The match rule is in place once the bus has answered a round trip after it.
        self.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId", None,
                  destination="org.freedesktop.DBus")

    def wait_signals(self, seconds, until=None, path=None):
        """Dispatches signals for @seconds, or until @until(signals) holds or one for
        @path has come; returns them."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if until is not None and until(self.signals):
                break
            if path is not None and any(s["path"] == path for s in self.signals):
                break
            self.context.iteration(False) or time.sleep(0.01)
        signals, self.signals = self.signals, []
        return signals

    def close(self):
        for sub in self._subscriptions:
            self.connection.signal_unsubscribe(sub)
        self._subscriptions = []
        try:
            self.connection.close_sync(None)
        except GLib.Error:
            pass


def _serve(address):
    """The remote side: one request per line, one answer per line."""
    endpoint = Endpoint(address)
    print(json.dumps({"unique_name": endpoint.unique_name()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        try:
            answer = _dispatch(endpoint, op, request)
        except BusError as error:
            answer = {"error": error.name, "message": error.message}
        print(json.dumps(answer), flush=True)
        if op == "close":
            break


def _dispatch(endpoint, op, request):
    if op == "call":
        request["args"] = variant_from_text(request.get("args"))
        return {"reply": variant_to_text(endpoint.call(**request))}
    if op == "start_calls":
        request["args"] = variant_from_text(request.get("args"))
        return {"ids": endpoint.start_calls(**request)}
    if op == "collect":
        return {"finished": endpoint.collect(request["seconds"], request.get("wanted"))}
    if op == "subscribe":
        endpoint.subscribe(**request)
        return {}
    if op == "wait_signals":
        return {"signals": endpoint.wait_signals(**request)}
    if op == "close":
        endpoint.close()
        return {}
    raise ValueError(f"unknown request {op!r}")


if __name__ == "__main__":
    _serve(sys.argv[1])
