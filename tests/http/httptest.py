"""The http suite's fixtures: the integration harness's daemon, with its HTTP face on."""

import json
import socket
import subprocess

import harness
import httpclient
from httpclient import Reply

SESSIONS = "/api/v1/sessions"
SESSION_FIELDS = {"session_id", "title", "context", "created_at", "last_active",
                  "message_count", "document_count"}


class HttpTest(harness.IntegrationTest):
    """A daemon per test, serving HTTP on a socket in the test's directory and a free
    loopback port; requests go on fresh connections."""

    daemon_config = {}

    def setUp(self):
        super().setUp()
        self.smartragd = self.start_daemon(http=True, **self.daemon_config)

    def connect(self, tcp=False, daemon=None, timeout=10):
        daemon = daemon or self.smartragd
        if tcp:
            return httpclient.connection(port=daemon.http_port, timeout=timeout)
        return httpclient.connection(socket_path=daemon.http_socket, timeout=timeout)

    def call(self, method, path, body=None, tcp=False, daemon=None, **kwargs):
        conn = self.connect(tcp, daemon)
        try:
            return httpclient.request(conn, method, path, body, **kwargs)
        finally:
            conn.close()

    def call_as(self, account, method, path, body=None, headers=None, content_type=None):
        """The same as @account, from a process of that uid over the Unix socket."""
        with open(httpclient.__file__) as f:
            source = f.read()
        spec = {"socket": self.smartragd.http_socket, "method": method, "path": path,
                "body": json.dumps(body) if isinstance(body, (dict, list)) else body,
                "headers": headers,
                "content_type": content_type or ("application/json"
                                                 if isinstance(body, (dict, list)) else None)}
        out = subprocess.run(account.wrap([harness.PYTHON, "-c", source, json.dumps(spec)]),
                             capture_output=True, text=True, timeout=30, cwd="/",
                             env=harness.minimal_env())
        self.assertEqual(out.returncode, 0, out.stderr)
        return Reply.from_dict(json.loads(out.stdout))

    def raw(self, data, read_timeout=5, tcp=False):
        """Sends @data as it is on a new connection and returns what comes back until the
        daemon closes it or @read_timeout passes."""
        if tcp:
            sock = socket.create_connection(("127.0.0.1", self.smartragd.http_port))
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.smartragd.http_socket)
        sock.settimeout(read_timeout)
        try:
            sock.sendall(data)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except socket.timeout:
            pass
        finally:
            sock.close()
        return b"".join(chunks)

    # -- assertions ------------------------------------------------------------------

    def assertJsonReply(self, reply, status):
        self.assertEqual(reply.status, status, reply)
        self.assertEqual(reply.headers.get("content-type"), "application/json; charset=utf-8")
        return reply.json()

    def assertError(self, reply, status, slug, message=None, contains=()):
        """@reply is {"error": @slug, "message": …} with @status; returns the message."""
        body = self.assertJsonReply(reply, status)
        self.assertEqual(set(body), {"error", "message"}, body)
        self.assertEqual(body["error"], slug, body)
        if message is not None:
            self.assertEqual(body["message"], message)
        for text in ([contains] if isinstance(contains, str) else contains):
            self.assertIn(text, body["message"])
        return body["message"]

    def assertSession(self, session):
        self.assertEqual(set(session), SESSION_FIELDS, session)
        self.assertRegex(session["session_id"], harness.ID_PATTERN)
        for field in ("created_at", "last_active"):
            self.assertRegex(session[field], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertIsInstance(session["context"], dict)
        return session

    def create(self, body=None, **kwargs):
        reply = self.call("POST", SESSIONS, body if body is not None else {}, **kwargs)
        return self.assertSession(self.assertJsonReply(reply, 201))


main = harness.main
