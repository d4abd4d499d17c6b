"""Integration fixtures: private system-like bus, polkit mock, smartragd, other uids."""

import json
import os
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import client
from client import (BUS_NAME, DAEMON_IFACE, DAEMON_PATH, PROPERTIES_IFACE, SESSION_IFACE,
                    SESSION_PREFIX, BusError, Endpoint, variant_from_text, variant_to_text)
from gi.repository import GLib

PYTHON = "/usr/bin/python3"
SMARTRAGD = os.environ.get("SMARTRAGD", "")
# The file parser built next to the daemon; an installed daemon finds its own.
EXTRACT_HELPER = os.environ.get("SMARTRAG_EXTRACT_HELPER", "")
SOURCE_DIR = os.environ.get("SMARTRAG_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(
                                os.path.abspath(__file__)))))
INTERFACE_XML = os.path.join(SOURCE_DIR, "data", "dbus-1", "interfaces",
                             "org.smartrag.Daemon.xml")

ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
SHUTTING_DOWN = "org.smartrag.Error.ShuttingDown"
ACTION_USE = "org.smartrag.use"
ACTION_ADMIN = "org.smartrag.admin"
SECOND_ACCOUNT = "smartrag-test2"

ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")

# The group of every key the daemon knows, so tests can say session_expiry="2s". A key
# whose name another group uses too goes by a longer name, mapped to "group.key":
# embedding_backend="ollama" writes backend=ollama in [embedding].
CONFIG_GROUPS = {
    "log_level": "daemon",
    "session_expiry": "daemon",
    "expiry_check_interval": "daemon",
    "shutdown_timeout": "daemon",
    "ingest_workers": "daemon",
    "max_title_bytes": "limits",
    "max_context_bytes": "limits",
    "max_sessions_per_user": "limits",
    "max_tokens_per_user": "limits",
    "max_file_size": "limits",
    "max_text_size": "limits",
    "upload_idle_timeout": "limits",
    "max_decompressed_size": "limits",
    "max_pages": "limits",
    "max_chunks_per_document": "limits",
    "max_extracted_size": "limits",
    "extract_memory": "limits",
    "extract_cpu_time": "limits",
    "extract_timeout": "limits",
    "max_question_size": "limits",
    "max_queries_per_user": "query",
    "max_generations": "query",
    "history_messages": "query",
    "backend": "generation",
    "ollama_url": "generation",
    "ollama_model": "generation",
    "ollama_keep_alive": "generation",
    "ollama_preload": "generation",
    "openai_url": "generation",
    "openai_model": "generation",
    "openai_api_key_file": "generation",
    "connect_timeout": "generation",
    "first_token_timeout": "generation",
    "total_timeout": "generation",
    "embedding_backend": "embedding.backend",
    "embedding_ollama_url": "embedding.ollama_url",
    "embedding_ollama_model": "embedding.ollama_model",
    "embedding_openai_url": "embedding.openai_url",
    "embedding_openai_model": "embedding.openai_model",
    "embedding_openai_api_key_file": "embedding.openai_api_key_file",
    "embedding_batch_size": "embedding.batch_size",
    "embedding_timeout": "embedding.timeout",
    "backup_directory": "backup.directory",
    "backup_keep": "backup.keep",
    "authorization_cache": "security",
    "socket": "http",
    "listen": "http",
    "allow_remote": "http",
    "max_body_size": "http",
    "request_timeout": "http",
    "rate_limit": "http",
    "rate_limit_burst": "http",
    "local_rate_limit": "http",
    "local_rate_limit_burst": "http",
    "cors_origins": "http",
}
# No polkit answer is kept unless a test asks for it: each call is decided afresh.
CONFIG_DEFAULTS = {
    "log_level": "debug",
    "authorization_cache": "0",
    "shutdown_timeout": "5s",
    # Answers the same on every machine, whether or not an Ollama runs there.
    "backend": "builtin",
    # No HTTP unless a test asks (new_daemon(http=True)): the defaults, port 8765 and
    # /run/smartrag/http.sock, would collide between tests running at once.
    "socket": "",
    "listen": "",
}

# No <limit> elements: dbus-daemon's built-in limits are the ones a stock system bus has
# (128 pending replies per connection, for one).
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow send_type="signal"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


def is_root():
    return os.geteuid() == 0


def session_path(session_id):
    return f"{SESSION_PREFIX}/{session_id}"


def session_id(path):
    prefix = SESSION_PREFIX + "/"
    assert path.startswith(prefix), path
    return path[len(prefix):]


def random_id():
    return os.urandom(16).hex()


def denied_message(sid):
    return f"Session '{sid}' does not exist or you may not access it"


def options(**values):
    """CreateSession's (a{sv}) argument; plain strings become 's' variants."""
    entries = {k: v if isinstance(v, GLib.Variant) else GLib.Variant("s", v)
               for k, v in values.items()}
    return GLib.Variant("(a{sv})", (entries,))


def typed_dict(variant):
    """An a{sv} as {key: (type string, python value)}, keeping the wire types."""
    out = {}
    for i in range(variant.n_children()):
        entry = variant.get_child_value(i)
        key = entry.get_child_value(0).get_string()
        value = entry.get_child_value(1).get_variant()
        out[key] = (value.get_type_string(), value.unpack())
    return out


def wait_for(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class Account:
    def __init__(self, name):
        entry = pwd.getpwnam(name)
        self.name = name
        self.uid = entry.pw_uid
        self.gid = entry.pw_gid

    def wrap(self, argv):
        """@argv run as this account, without any supplementary group of ours."""
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                *argv]


def ensure_account(name):
    """A real passwd entry (dbus-daemon refuses uids without one); made once, kept."""
    for _ in range(50):
        try:
            return Account(name)
        except KeyError:
            pass
        # Another test file may be creating it at the same moment; useradd then fails on
        # the passwd lock and the next round finds the account.
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", name],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.1)
    return Account(name)


def minimal_env(**extra):
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/",
        "GIO_USE_VFS": "local",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra)
    return env


class PrivateBus:
    """dbus-daemon with a system-bus-like policy that every uid may connect to."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "bus")
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "system_bus_socket")
        self.address = f"unix:path={self.socket}"
        config = os.path.join(self.dir, "bus.conf")
        with open(config, "w") as f:
            f.write(BUS_CONFIG.format(socket=self.socket))
        self.log_path = os.path.join(workdir, "dbus-daemon.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                ["dbus-daemon", f"--config-file={config}", "--nofork", "--nosyslog",
                 "--print-address=1"],
                stdout=subprocess.PIPE, stderr=log, env=minimal_env())
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.strip():
            raise RuntimeError(f"dbus-daemon did not start: {read_text(self.log_path)}")
        os.chmod(self.socket, 0o777)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc.stdout.close()


class PolkitMock:
    """python3-dbusmock's polkitd template: SetAllowed() decides which actions pass."""

    AUTHORITY = "/org/freedesktop/PolicyKit1/Authority"
    MOCK_IFACE = "org.freedesktop.DBus.Mock"

    def __init__(self, bus, workdir):
        self.bus = bus
        self.log_path = os.path.join(workdir, "polkitd-mock.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [PYTHON, "-m", "dbusmock", "--system", "--template", "polkitd"],
                stdout=log, stderr=subprocess.STDOUT,
                env=minimal_env(DBUS_SYSTEM_BUS_ADDRESS=bus.address))
        self.control = Endpoint(bus.address)
        if not wait_for(self._has_owner, 15):
            raise RuntimeError(f"the polkit mock did not start: {read_text(self.log_path)}")

    def _has_owner(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"the polkit mock exited: {read_text(self.log_path)}")
        reply = self.control.call("/org/freedesktop/DBus", "org.freedesktop.DBus",
                                  "NameHasOwner",
                                  GLib.Variant("(s)", ("org.freedesktop.PolicyKit1",)),
                                  destination="org.freedesktop.DBus")
        return reply.unpack()[0]

    def _mock(self, method, args=None):
        return self.control.call(self.AUTHORITY, self.MOCK_IFACE, method, args,
                                 destination="org.freedesktop.PolicyKit1")

    def set_allowed(self, actions):
        self._mock("SetAllowed", GLib.Variant("(as)", (list(actions),)))

    def hang(self, actions):
        """CheckAuthorization for @actions gets no answer until release()."""
        self._mock("SimulateHangActions", GLib.Variant("(as)", (list(actions),)))

    def release(self):
        self._mock("SimulateHangActions", GLib.Variant("(as)", ([],)))
        self._mock("ReleaseHangingCalls")

    def stop(self):
        self.control.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class Daemon:
    """One smartragd process on the private bus; READY comes through our NOTIFY_SOCKET."""

    def __init__(self, bus, workdir, state_dir, config, account=None, args=(), name="smartragd",
                 http_socket=None):
        self.bus = bus
        self.workdir = workdir
        self.name = name
        self.state_dir = state_dir
        self.config = config
        self.account = account
        self.args = list(args)
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.proc = None
        self.notify = None
        self.notifications = []
        self.runs = 0
        self.stopping = False
        # The HTTP face: the Unix socket's path, and the TCP port the daemon took (a test
        # daemon listens on port 0, and READY's status line names the port it got).
        self.http_socket = http_socket
        self.http_port = None

    def argv(self):
        return [SMARTRAGD, f"--address={self.bus.address}", f"--state-dir={self.state_dir}",
                f"--config={self.config}", *self.args]

    def start(self, wait_ready=True, timeout=10):
        self.runs += 1
        self.stopping = False
        if self.notify is not None:
            self.notify.close()
        notify_path = os.path.join(self.workdir, f"{self.name}-notify-{self.runs}")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(notify_path)
        os.chmod(notify_path, 0o777)
        self.notifications = []
        argv = self.argv()
        if self.account is not None:
            argv = self.account.wrap(argv)
        with open(self.log_path, "ab") as log:
            log.write(f"=== start {self.runs}: {' '.join(argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=log, cwd="/",
                env=minimal_env(G_DEBUG="fatal-criticals", NOTIFY_SOCKET=notify_path,
                                G_MESSAGES_DEBUG="all", SMARTRAG_EXTRACT_HELPER=EXTRACT_HELPER))
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def _drain_notify(self, timeout):
        ready, _, _ = select.select([self.notify], [], [], timeout)
        while ready:
            data = self.notify.recv(4096).decode(errors="replace")
            self.notifications.extend(data.split("\n"))
            ready, _, _ = select.select([self.notify], [], [], 0)

    def wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        while "READY=1" not in self.notifications:
            if self.proc.poll() is not None:
                raise AssertionError(f"smartragd exited with {self.proc.returncode} before "
                                     f"READY=1:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"smartragd sent no READY=1 within {timeout}s")
            self._drain_notify(0.05)
        self.http_port = self._http_port()
        # READY=1 promises that clients can call now, so the name must already be ours.
        probe = Endpoint(self.bus.address)
        try:
            probe.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
                       GLib.Variant("(s)", (BUS_NAME,)), destination="org.freedesktop.DBus")
        except BusError as error:
            raise AssertionError(f"READY=1 came before {BUS_NAME} was owned: {error}") from None
        finally:
            probe.close()

    def _http_port(self):
        for line in reversed(self.notifications):
            found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            if line.startswith("STATUS=") and found:
                return int(found.group(1))
        return None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum=signal.SIGTERM):
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.stopping = True
        self.proc.send_signal(signum)

    def reload(self, timeout=10):
        """SIGHUP, then the notifications from RELOADING=1 up to the READY=1 that ends it."""
        self._drain_notify(0)
        seen = len(self.notifications)
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while True:
            told = self.notifications[seen:]
            if "RELOADING=1" in told and "READY=1" in told[told.index("RELOADING=1"):]:
                return told
            if self.proc.poll() is not None:
                raise AssertionError(f"smartragd exited with {self.proc.returncode} on "
                                     f"SIGHUP:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no RELOADING=1 and READY=1 within {timeout}s of SIGHUP: "
                                     f"{told}")
            self._drain_notify(0.05)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            if self.notify is not None:
                self._drain_notify(0)

    def stop(self, timeout=10):
        """SIGTERM, then the exit status (None if it did not exit in time)."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        # A daemon that is already stopping is only waited for.
        if not self.stopping:
            self.signal(signal.SIGTERM)
        code = self.wait_exit(timeout)
        if code is None:
            self.dump_stacks()
            self.proc.kill()
            self.proc.wait()
        return code

    def dump_stacks(self):
        """Every thread's stack, into the daemon's log: a daemon that does not stop is stuck
        somewhere, and the log is printed with the failure."""
        if shutil.which("gdb") is None:
            return
        result = subprocess.run(["gdb", "-p", str(self.proc.pid), "-batch", "-nx",
                                 "-ex", "thread apply all bt"],
                                capture_output=True, text=True, timeout=120)
        with open(self.log_path, "a") as log:
            log.write(f"=== threads of a smartragd that did not stop\n{result.stdout}\n")

    def close(self):
        if self.running():
            self.proc.kill()
            self.proc.wait()
        if self.notify is not None:
            self.notify.close()
            self.notify = None

    def log(self):
        return read_text(self.log_path)


class RemoteEndpoint:
    """An Endpoint in a process of another uid, driven over a pipe."""

    def __init__(self, address, account, workdir):
        # The checkout may be unreadable to other users, so the client runs from a copy.
        script = os.path.join(workdir, "bus", "client.py")
        if not os.path.exists(script):
            shutil.copy(client.__file__, script)
            os.chmod(script, 0o644)
        self.account = account
        self.stderr_path = os.path.join(workdir, f"client-{account.name}-{time.monotonic_ns()}.log")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(account.wrap([PYTHON, script, address]),
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err, cwd="/", env=minimal_env(), text=True)
        # The first line says the connection is up.
        self._read(20)

    def _read(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the client running as {self.account.name} gave no answer: "
                               f"{read_text(self.stderr_path)}")
        return json.loads(line)

    def _request(self, op, timeout=30, **fields):
        self.proc.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.proc.stdin.flush()
        answer = self._read(timeout)
        if "error" in answer:
            raise BusError(answer["error"], answer["message"])
        return answer

    def call(self, path, interface, method, args=None, destination=BUS_NAME,
             timeout_ms=10000):
        answer = self._request("call", timeout=timeout_ms / 1000 + 10, path=path,
                               interface=interface, method=method,
                               args=variant_to_text(args), destination=destination,
                               timeout_ms=timeout_ms)
        return variant_from_text(answer["reply"])

    def start_calls(self, count, path, interface, method, args=None, destination=BUS_NAME,
                    timeout_ms=20000):
        return self._request("start_calls", count=count, path=path, interface=interface,
                             method=method, args=variant_to_text(args),
                             destination=destination, timeout_ms=timeout_ms)["ids"]

    def collect(self, timeout, wanted=None):
        return self._request("collect", timeout=timeout + 10, seconds=timeout,
                             wanted=wanted)["finished"]

    def subscribe(self, **match):
        self._request("subscribe", **match)

    def wait_signals(self, seconds, path=None):
        return self._request("wait_signals", timeout=seconds + 10, seconds=seconds,
                             path=path)["signals"]

    def close(self):
        if self.proc.poll() is None:
            try:
                self._request("close", timeout=5)
            except (RuntimeError, BrokenPipeError, BusError):
                pass
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


class IntegrationTest(unittest.TestCase):
    """One private bus (and polkit mock) per test class; daemons and clients per test."""

    polkit_needed = True

    @classmethod
    def setUpClass(cls):
        if not SMARTRAGD or not os.access(SMARTRAGD, os.X_OK):
            raise unittest.SkipTest("SMARTRAGD does not name the smartragd binary")
        cls.class_dir = tempfile.mkdtemp(prefix="smartrag-it-")
        os.chmod(cls.class_dir, 0o755)
        cls.bus = None
        cls.polkit = None
        try:
            cls.bus = PrivateBus(cls.class_dir)
            if cls.polkit_needed:
                cls.polkit = PolkitMock(cls.bus, cls.class_dir)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.polkit is not None:
            cls.polkit.stop()
        if cls.bus is not None:
            cls.bus.stop()
        shutil.rmtree(cls.class_dir, ignore_errors=True)

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="test-", dir=self.class_dir)
        os.chmod(self.workdir, 0o755)
        self.daemons = []
        self.clients = []
        if self.polkit is not None:
            self.polkit.release()
            self.polkit.set_allowed([])

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            self.dump_logs()
        return outcome

    def dump_logs(self):
        out = sys.stderr
        for daemon in getattr(self, "daemons", []):
            out.write(f"\n----- smartragd log ({daemon.log_path}) -----\n{daemon.log()}"
                      f"----- end of smartragd log -----\n")
        if self.polkit is not None:
            tail = read_text(self.polkit.log_path)[-3000:]
            out.write(f"----- polkit mock log (tail) -----\n{tail}\n")
        out.flush()

    def tearDown(self):
        for endpoint in self.clients:
            try:
                endpoint.close()
            except Exception:  # a failed client must not hide the test's own result
                pass
        unclean = []
        for daemon in self.daemons:
            if daemon.running():
                code = daemon.stop()
                if code != 0:
                    unclean.append(f"smartragd exited with {code} on SIGTERM")
            daemon.close()
        self.assertEqual(unclean, [])

    # -- fixtures --------------------------------------------------------------------

    def write_config(self, name="smartrag.conf", **values):
        merged = dict(CONFIG_DEFAULTS, **values)
        groups = {}
        for option, value in merged.items():
            group, _, key = CONFIG_GROUPS[option].partition(".")
            groups.setdefault(group, []).append(f"{key or option}={value}")
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            for group, lines in groups.items():
                f.write(f"[{group}]\n" + "\n".join(lines) + "\n\n")
        return path

    def new_state_dir(self, name="state"):
        path = os.path.join(self.workdir, name)
        os.mkdir(path, 0o700)
        return path

    def new_daemon(self, state_dir=None, config=None, account=None, args=(), http=False,
                   **config_values):
        """A daemon, not started yet; other keyword arguments become config keys. With
        @http it serves HTTP on a socket in the test's directory and on a free port."""
        name = f"smartragd-{len(self.daemons)}"
        # Never the machine's own backup directory.
        config_values.setdefault("backup_directory", os.path.join(self.workdir, f"{name}-backups"))
        if http:
            config_values.setdefault("socket", os.path.join(self.workdir, f"{name}-http.sock"))
            config_values.setdefault("listen", "127.0.0.1:0")
        if config is None:
            config = self.write_config(name=f"smartrag-{len(self.daemons)}.conf",
                                       **config_values)
        if state_dir is None:
            state_dir = self.new_state_dir(f"state-{len(self.daemons)}")
        daemon = Daemon(self.bus, self.workdir, state_dir, config, account, args, name=name,
                        http_socket=config_values.get("socket") or None)
        self.daemons.append(daemon)
        return daemon

    def start_daemon(self, **kwargs):
        return self.new_daemon(**kwargs).start()

    def stop_daemon(self, daemon, timeout=10):
        code = daemon.stop(timeout)
        self.assertEqual(code, 0, "smartragd did not exit cleanly on SIGTERM")
        self.assertIn("STOPPING=1", daemon.notifications)
        return code

    def client(self, account=None):
        """A fresh bus connection, as @account (an Account) or as ourselves."""
        if account is None:
            endpoint = Endpoint(self.bus.address)
        else:
            endpoint = RemoteEndpoint(self.bus.address, account, self.class_dir)
        self.clients.append(endpoint)
        return endpoint

    def require_root(self):
        if not is_root():
            self.skipTest("acting as other uids needs root")

    def nobody(self):
        self.require_root()
        return Account("nobody")

    def second_account(self):
        self.require_root()
        return ensure_account(SECOND_ACCOUNT)

    # -- the daemon's API ------------------------------------------------------------

    def create_session(self, endpoint, **values):
        reply = endpoint.call(DAEMON_PATH, DAEMON_IFACE, "CreateSession", options(**values))
        path = reply.unpack()[0]
        self.assertTrue(path.startswith(SESSION_PREFIX + "/"), path)
        self.assertRegex(session_id(path), ID_PATTERN)
        return path

    def list_sessions(self, endpoint):
        return endpoint.call(DAEMON_PATH, DAEMON_IFACE, "ListSessions").unpack()[0]

    def get_all(self, endpoint, path):
        reply = endpoint.call(path, PROPERTIES_IFACE, "GetAll",
                              GLib.Variant("(s)", (SESSION_IFACE,)))
        return typed_dict(reply.get_child_value(0))

    def get(self, endpoint, path, name, interface=SESSION_IFACE):
        reply = endpoint.call(path, PROPERTIES_IFACE, "Get",
                              GLib.Variant("(ss)", (interface, name)))
        value = reply.get_child_value(0).get_variant()
        return value.get_type_string(), value.unpack()

    def set(self, endpoint, path, name, value):
        if not isinstance(value, GLib.Variant):
            value = GLib.Variant("s", value)
        endpoint.call(path, PROPERTIES_IFACE, "Set",
                      GLib.Variant("(ssv)", (SESSION_IFACE, name, value)))

    def delete(self, endpoint, path):
        endpoint.call(path, SESSION_IFACE, "Delete")

    def introspect(self, endpoint, path):
        return endpoint.call(path, "org.freedesktop.DBus.Introspectable",
                             "Introspect").unpack()[0]

    def assertBusError(self, name, func, *args, message=None, contains=(), **kwargs):
        """@func(*args) fails with D-Bus error @name; returns the error."""
        with self.assertRaises(BusError, msg=f"expected {name}") as caught:
            func(*args, **kwargs)
        error = caught.exception
        self.assertEqual(error.name, name, error.message)
        if message is not None:
            self.assertEqual(error.message, message)
        for text in ([contains] if isinstance(contains, str) else contains):
            self.assertIn(text, error.message)
        return error


def main():
    program = unittest.main(verbosity=2, exit=False)
    result = program.result
    if not result.wasSuccessful():
        sys.exit(1)
    # meson's "skipped" status, when nothing could run here (not root, no binary).
    if result.skipped and len(result.skipped) >= result.testsRun:
        sys.exit(77)
    sys.exit(0)
