#!/usr/bin/python3
"""The HTTP server: listeners, health, TCP without a token, limits, timeouts, stopping."""

import os
import signal
import socket
import time

from gi.repository import GLib

import harness
import httpclient
import httptest
from httptest import SESSIONS


class Health(httptest.HttpTest):

    def test_health_over_both_listeners_without_identity(self):
        _, components = self.client().call(
            harness.DAEMON_PATH, harness.DAEMON_IFACE, "GetHealth").unpack()
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                reply = self.call("GET", "/health", tcp=tcp)
                body = self.assertJsonReply(reply, 200)
                self.assertEqual(set(body), {"status", "components"})
                self.assertIn(body["status"], ("ok", "degraded"))
                self.assertEqual(set(body["components"]), set(components))
                self.assertLessEqual({"db", "index", "embedding", "generation", "disk", "memory"},
                                     set(components))
                for name, component in body["components"].items():
                    self.assertIn(component["status"], ("ok", "degraded", "failing"), name)
                    self.assertIsInstance(component["message"], str)
                self.assertEqual(reply.headers["cache-control"], "no-store")

    def test_same_components_as_get_health(self):
        status, components = self.client().call(
            harness.DAEMON_PATH, harness.DAEMON_IFACE, "GetHealth").unpack()
        body = self.assertJsonReply(self.call("GET", "/health"), 200)
        self.assertEqual(set(body["components"]), set(components))
        self.assertEqual(body["components"]["db"]["schema_version"],
                         components["db"]["schema_version"])
        self.assertEqual(body["components"]["db"]["path"], components["db"]["path"])


class Metrics(httptest.HttpTest):

    def sample(self, text, name, **labels):
        """The value of one sample line, or None."""
        want = ",".join(f'{k}="{v}"' for k, v in labels.items())
        prefix = f"{name}{{{want}}} " if labels else f"{name} "
        for line in text.splitlines():
            if line.startswith(prefix):
                return float(line[len(prefix):])
        return None

    def test_metrics_count_requests_by_route_pattern(self):
        sid = self.create()["session_id"]
        for _ in range(3):
            self.assertJsonReply(self.call("GET", f"{SESSIONS}/{sid}"), 200)
        self.call("GET", "/nothing")
        reply = self.call("GET", "/metrics")
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.headers["content-type"],
                         "text/plain; version=0.0.4; charset=utf-8")
        text = reply.body.decode()
        for family in ("smartrag_queries_total", "smartrag_query_duration_seconds",
                       "smartrag_active_sessions", "smartrag_documents_total",
                       "smartrag_http_requests_total"):
            self.assertIn(f"# TYPE {family} ", text)
        self.assertEqual(self.sample(text, "smartrag_http_requests_total", method="GET",
                                     route="/api/v1/sessions/{id}", status="200"), 3)
        self.assertEqual(self.sample(text, "smartrag_http_requests_total", method="GET",
                                     route="unmatched", status="404"), 1)
        self.assertEqual(self.sample(text, "smartrag_sessions"), 1)
        self.assertNotIn(sid, text)

    def test_metrics_need_an_identity(self):
        self.assertError(self.call("GET", "/metrics", tcp=True), 401, "unauthenticated")


class Tcp(httptest.HttpTest):

    def test_every_route_but_health_needs_a_token(self):
        sid = self.create()["session_id"]
        for method, path in (("GET", SESSIONS), ("POST", SESSIONS),
                             ("GET", f"{SESSIONS}/{sid}"), ("PATCH", f"{SESSIONS}/{sid}"),
                             ("DELETE", f"{SESSIONS}/{sid}")):
            with self.subTest(method=method, path=path):
                reply = self.call(method, path, {} if method in ("POST", "PATCH") else None,
                                  tcp=True)
                self.assertError(reply, 401, "unauthenticated",
                                 "This request needs an API token in an 'Authorization: "
                                 f"Bearer' header; over the Unix socket "
                                 f"{self.smartragd.http_socket} no token is needed")
                self.assertEqual(reply.headers["www-authenticate"], 'Bearer realm="smartrag"')
        # A token this daemon cannot check is no identity either.
        reply = self.call("GET", SESSIONS, tcp=True,
                          headers={"Authorization": "Bearer 0123456789abcdef"})
        self.assertError(reply, 401, "unauthenticated")
        self.assertEqual(len(self.assertJsonReply(self.call("GET", SESSIONS), 200)["sessions"]),
                         1)

    def create_token(self, endpoint, name="http tests"):
        return endpoint.call(harness.DAEMON_PATH, harness.DAEMON_IFACE, "CreateToken",
                             GLib.Variant("(s)", (name,))).unpack()

    def bearer(self, token):
        return {"Authorization": f"Bearer {token}"}

    def test_a_token_acts_as_its_owner(self):
        self.polkit.set_allowed([harness.ACTION_USE])
        nobody = self.nobody()
        _, token = self.create_token(self.client(nobody))
        theirs = self.call_as(nobody, "POST", SESSIONS, {"title": "nobody's"})
        mine = self.create()["session_id"]  # root's, over the Unix socket

        listed = self.assertJsonReply(self.call("GET", SESSIONS, tcp=True,
                                                headers=self.bearer(token)), 200)
        self.assertEqual([x["session_id"] for x in listed["sessions"]],
                         [theirs.json()["session_id"]])
        # A token grants its owner's rights and no more: root's sessions stay unseen.
        self.assertError(self.call("GET", f"{SESSIONS}/{mine}", tcp=True,
                                   headers=self.bearer(token)), 404, "not_found")
        created = self.assertJsonReply(self.call("POST", SESSIONS, {"title": "over tcp"},
                                                 tcp=True, headers=self.bearer(token)), 201)
        listed = self.call_as(nobody, "GET", SESSIONS)
        self.assertIn(created["session_id"],
                      [x["session_id"] for x in listed.json()["sessions"]])
        # The scheme's case does not matter (RFC 7235).
        self.assertJsonReply(self.call("GET", SESSIONS, tcp=True,
                                       headers={"Authorization": f"bearer {token}"}), 200)

    def test_root_token_is_no_administrator(self):
        nobody = self.nobody()
        theirs = self.call_as(nobody, "POST", SESSIONS, {"title": "nobody's"}).json()
        _, token = self.create_token(self.client())
        # Over the socket root administers every session; with a token it does not.
        self.assertJsonReply(self.call("GET", f"{SESSIONS}/{theirs['session_id']}"), 200)
        self.assertError(self.call("GET", f"{SESSIONS}/{theirs['session_id']}", tcp=True,
                                   headers=self.bearer(token)), 404, "not_found")

    def test_wrong_and_revoked_tokens(self):
        me = self.client()
        token_id, token = self.create_token(me)
        refused = ("The API token is not valid: it is incomplete, mistyped or revoked; "
                   "create a new one with CreateToken")
        for wrong in (token[:-1] + ("0" if token[-1] != "0" else "1"), token[:-10], "srt_",
                      "Basic " + token):
            with self.subTest(wrong=wrong):
                headers = ({"Authorization": wrong} if wrong.startswith("Basic")
                           else self.bearer(wrong))
                reply = self.call("GET", SESSIONS, tcp=True, headers=headers)
                self.assertEqual(reply.status, 401, reply)
                if not wrong.startswith("Basic"):
                    self.assertError(reply, 401, "unauthenticated", refused)
        self.assertJsonReply(self.call("GET", SESSIONS, tcp=True, headers=self.bearer(token)),
                             200)
        me.call(harness.DAEMON_PATH, harness.DAEMON_IFACE, "RevokeToken",
                GLib.Variant("(s)", (token_id,)))
        self.assertError(self.call("GET", SESSIONS, tcp=True, headers=self.bearer(token)), 401,
                         "unauthenticated", refused)

    def test_connections_clients_leave_are_closed(self):
        """A client that closes its connection after a reply (curl, a script) must not
        leave its descriptor open in the daemon: a thousand of them would stop it."""
        fd_dir = f"/proc/{self.smartragd.proc.pid}/fd"
        before = len(os.listdir(fd_dir))
        for i in range(120):
            self.assertEqual(self.call("GET", "/health", tcp=i % 2 == 0).status, 200)
        deadline = time.monotonic() + 10
        while len(os.listdir(fd_dir)) > before + 4:
            self.assertLess(time.monotonic(), deadline,
                            f"{len(os.listdir(fd_dir))} descriptors, {before} before")
            time.sleep(0.2)
        # Kept connections are not touched: one still serves after the sweeps.
        conn = self.connect(tcp=True)
        try:
            for _ in range(2):
                self.assertEqual(httpclient.request(conn, "GET", "/health").status, 200)
                time.sleep(1.5)
        finally:
            conn.close()

    def test_unknown_paths_and_methods_over_tcp(self):
        self.assertError(self.call("GET", "/nothing", tcp=True), 404, "not_found")
        self.assertError(self.call("PUT", SESSIONS, tcp=True), 405, "method_not_allowed")

    def test_keep_alive_over_tcp(self):
        conn = self.connect(tcp=True)
        try:
            for _ in range(3):
                reply = httptest.httpclient.request(conn, "GET", "/health")
                self.assertEqual(reply.status, 200)
        finally:
            conn.close()


class Limits(httptest.HttpTest):
    daemon_config = {"max_body_size": "1K"}

    def test_a_body_over_the_limit(self):
        reply = self.call("POST", SESSIONS, '{"title": "' + "x" * 2000 + '"}',
                          content_type="application/json")
        self.assertError(reply, 413, "too_large",
                         "The request body is too large: this request takes at most 1.0\u00a0KiB")
        self.assertEqual(reply.headers.get("connection"), "close")
        # At the limit it is read.
        body = '{"title": "' + "x" * (1024 - 13) + '"}'
        self.assertEqual(len(body), 1024)
        self.assertError(self.call("POST", SESSIONS, body, content_type="application/json"),
                         400, "invalid_argument", "Invalid title: longer than 512 bytes (1011)")

    def test_a_chunked_body_over_the_limit(self):
        chunk = b"x" * 700
        data = (b"POST /api/v1/sessions HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n%s\r\n" % (len(chunk), chunk) * 2 + b"0\r\n\r\n")
        answer = self.raw(data)
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer)
        self.assertIn(b'"error":"too_large"', answer)

    def test_a_declared_size_over_the_limit_is_refused_before_the_body(self):
        # With Expect: 100-continue the client waits: the refusal comes without any body.
        data = (b"POST /api/v1/sessions HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\nContent-Length: 10485760\r\n"
                b"Expect: 100-continue\r\n\r\n")
        answer = self.raw(data, read_timeout=5)
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer)
        self.assertIn(b'"error":"too_large"', answer)

    def test_content_types(self):
        refused = {"text/plain": "this one's type is text/plain",
                   "application/json; charset=latin-1": "this one's type is application/json",
                   "application/x-www-form-urlencoded":
                   "this one's type is application/x-www-form-urlencoded",
                   None: "this one has no type"}
        for content_type, end in refused.items():
            with self.subTest(content_type=content_type):
                reply = self.call("POST", SESSIONS, '{"title": "t"}', content_type=content_type)
                self.assertError(reply, 415, "unsupported_format",
                                 "The request body must be JSON in UTF-8, sent with "
                                 f"'Content-Type: application/json'; {end}")
        for content_type in ("application/json", "application/json; charset=UTF-8",
                             "Application/JSON"):
            with self.subTest(content_type=content_type):
                reply = self.call("POST", SESSIONS, '{"title": "t"}', content_type=content_type)
                self.assertEqual(reply.status, 201, reply)
        # Without a body there is nothing to type.
        self.assertEqual(self.call("POST", SESSIONS).status, 201)


class Timeouts(httptest.HttpTest):
    daemon_config = {"request_timeout": "1s"}

    def test_a_request_that_stops_arriving_is_cut_off(self):
        started = time.monotonic()
        answer = self.raw(b"GET /health HTTP/1.1\r\nHost: local", read_timeout=10)
        elapsed = time.monotonic() - started
        self.assertNotIn(b"200 OK", answer)
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 5)
        self.assertJsonReply(self.call("GET", "/health"), 200)

    def test_a_body_that_stops_arriving_is_cut_off(self):
        started = time.monotonic()
        answer = self.raw(b"POST /api/v1/sessions HTTP/1.1\r\nHost: localhost\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
                          read_timeout=10)
        self.assertLess(time.monotonic() - started, 5)
        self.assertNotIn(b"201", answer)
        self.assertEqual(self.assertJsonReply(self.call("GET", SESSIONS), 200), {"sessions": []})

    def test_an_idle_connection_is_closed(self):
        started = time.monotonic()
        self.assertEqual(self.raw(b"", read_timeout=10), b"")
        self.assertLess(time.monotonic() - started, 5)


class Protocol(httptest.HttpTest):

    def test_http_1_0_without_host_over_the_socket(self):
        answer = self.raw(b"GET /health HTTP/1.0\r\n\r\n")
        self.assertTrue(answer.startswith(b"HTTP/1.0 200 "), answer)
        self.assertTrue(self.smartragd.running())

    def test_what_cannot_be_parsed_is_refused(self):
        # Not a body of unknown length (a bad Content-Length or Transfer-Encoding): libsoup
        # 3.2 keeps the path of such a request, which LeakSanitizer reports at exit.
        for data in (b"NONSENSE\r\n\r\n", b"GET /health HTTP/1.1\r\nHost: a/b\r\n\r\n",
                     b"GET /health HTTP/1.1\r\n\r\n"):
            with self.subTest(request=data):
                answer = self.raw(data)
                self.assertRegex(answer, rb"^HTTP/1\.[01] 400 ")
        self.assertJsonReply(self.call("GET", "/health"), 200)

    def test_headers_too_large(self):
        reply = self.call("GET", "/health", headers={"X-Pad": "a" * 20_000})
        self.assertJsonReply(reply, 200)
        reply = self.call("GET", "/health", headers={"X-Pad": "a" * 40_000})
        self.assertError(reply, 431, "headers_too_large",
                         contains="The request's headers are too large")
        # Past 64 KiB libsoup drops the connection before a request exists.
        try:
            answer = self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: "
                              + b"a" * 100_000 + b"\r\n\r\n")
        except ConnectionResetError:
            answer = b""
        self.assertEqual(answer, b"")
        self.assertJsonReply(self.call("GET", "/health"), 200)

    def test_path_parameters_are_decoded_and_quoted_safely(self):
        reply = self.call("GET", f"{SESSIONS}/%ff%0a")
        self.assertError(reply, 400, "invalid_argument", contains="Invalid session id")
        reply = self.call("GET", "/%ff")
        self.assertError(reply, 404, "not_found")


class Listeners(harness.IntegrationTest):
    """Starting and stopping: the socket file, stale ones, one in use."""

    polkit_needed = False

    def socket_path(self):
        return os.path.join(self.workdir, "http.sock")

    def test_socket_made_0666_and_removed_at_stop(self):
        path = self.socket_path()
        daemon = self.start_daemon(http=True, socket=path)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o666)
        self.assertIsNotNone(daemon.http_port)
        status = [n for n in daemon.notifications if n.startswith("STATUS=")][-1]
        self.assertEqual(status, f"STATUS=Serving org.smartrag.Daemon and HTTP on unix:{path}, "
                                 f"http://127.0.0.1:{daemon.http_port}/")
        self.stop_daemon(daemon)
        self.assertFalse(os.path.exists(path))

    def test_a_stale_socket_is_replaced(self):
        path = self.socket_path()
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(path)
        stale.close()
        daemon = self.start_daemon(http=True, socket=path)
        self.assertIn("Removed the HTTP socket", daemon.log())
        self.assertTrue(os.path.exists(path))

    def test_a_socket_in_use_stops_the_start(self):
        path = self.socket_path()
        first = self.start_daemon(http=True, socket=path)
        second = self.new_daemon(http=True, socket=path)
        second.start(wait_ready=False)
        self.assertEqual(second.wait_exit(10), 1)
        self.assertIn(f"Another program serves the socket {path} (is smartragd running "
                      "already?); stop it, or set [http] socket to another file", second.log())
        self.assertTrue(first.running())
        self.assertTrue(os.path.exists(path))

    def test_a_file_in_the_way_stops_the_start(self):
        path = self.socket_path()
        with open(path, "w") as f:
            f.write("not a socket")
        daemon = self.new_daemon(http=True, socket=path)
        daemon.start(wait_ready=False)
        self.assertEqual(daemon.wait_exit(10), 1)
        self.assertIn(f"{path} exists and is not a socket", daemon.log())

    def test_a_port_in_use_stops_the_start(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            daemon = self.new_daemon(http=True, listen=f"127.0.0.1:{port}")
            daemon.start(wait_ready=False)
            self.assertEqual(daemon.wait_exit(10), 1)
            self.assertIn(f"Cannot listen for HTTP on 127.0.0.1:{port}", daemon.log())
        finally:
            taken.close()

    def test_http_can_be_off(self):
        daemon = self.start_daemon(socket="", listen="")
        self.assertIsNone(daemon.http_port)
        self.assertIn("No HTTP API", daemon.log())


class Stopping(httptest.HttpTest):

    def open_request(self):
        """A POST whose headers are in and whose body is not finished."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.smartragd.http_socket)
        body = b'{"title": "in flight"}'
        sock.sendall(b"POST /api/v1/sessions HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body[:5])
        return sock, body[5:]

    def test_requests_in_flight_finish_and_new_changes_are_refused(self):
        sock, rest = self.open_request()
        time.sleep(0.3)
        self.smartragd.signal(signal.SIGTERM)
        time.sleep(0.3)
        self.assertTrue(self.smartragd.running())

        self.assertError(self.call("POST", SESSIONS, {}), 503, "shutting_down")
        self.assertJsonReply(self.call("GET", "/health"), 200)

        sock.settimeout(10)
        sock.sendall(rest)
        answer = sock.recv(65536)
        sock.close()
        self.assertTrue(answer.startswith(b"HTTP/1.1 201 "), answer)
        self.assertEqual(self.smartragd.wait_exit(10), 0)
        self.assertFalse(os.path.exists(self.smartragd.http_socket))


if __name__ == "__main__":
    httptest.main()
