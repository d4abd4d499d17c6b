#!/usr/bin/python3
"""Questions and conversations over HTTP: JSON, server-sent events, WebSocket, and isolation."""

import asyncio
import json
import re
import socket
import time

from gi.repository import GLib

import harness
import httptest
from harness import DAEMON_IFACE, DAEMON_PATH, denied_message, session_path
from httptest import SESSIONS
from test_backends import FakeServer, unused_port
from test_conversations import export_to_pipe, items
from test_documents import DOCUMENT_IFACE
from test_queries import CITY

try:
    import websockets
except ImportError:  # the WebSocket tests skip themselves
    websockets = None

QUERY = "/api/v1/query"
STREAM = "/api/v1/query/stream"
STATS = {"backend", "model", "ttft_ms", "total_ms", "prompt_tokens", "answer_tokens"}
SOURCE_FIELDS = {"document_id", "filename", "chunk", "heading", "text", "score"}
SLOW_TOKENS = [f" word{i}" for i in range(40)]


def ws_path(sid):
    return f"/ws/query/{sid}"


class SseReader:
    """The events of a text/event-stream reply, read as they come."""

    def __init__(self, response):
        self.response = response
        self.comments = []

    def next(self):
        """(event, data as JSON) of the next event, or None at the end of the stream."""
        event, data = None, []
        while True:
            line = self.response.readline()
            if not line:
                return None
            line = line.decode().rstrip("\r\n")
            if line == "":
                if event is not None or data:
                    return event, json.loads("\n".join(data))
                continue
            if line.startswith(":"):
                self.comments.append(line)
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)

    def all(self):
        events = []
        while (event := self.next()) is not None:
            events.append(event)
        return events


class QueryHttpTest(httptest.HttpTest):
    """A session made over HTTP holding the CITY documents, which are added over the bus."""

    def setUp(self):
        super().setUp()
        self.me = self.client()
        self.session = self.create({"title": "Lindenfeld"})
        self.sid = self.session["session_id"]
        self.path = session_path(self.sid)
        for name, text in CITY:
            self.me.call(self.path, DOCUMENT_IFACE, "AddText",
                         GLib.Variant("(ssa{sv})", (name, text, {})))
        self.assertTrue(harness.wait_for(self.documents_ready, 20), "documents not ready")

    def documents_ready(self):
        reply = self.me.call(self.path, DOCUMENT_IFACE, "ListDocuments").unpack()[0]
        return len(reply) == len(CITY) and all(d["state"] == "ready" for d in reply)

    def ask(self, query="When was the harbour built?", **fields):
        return self.call("POST", QUERY, {"session_id": self.sid, "query": query, **fields})

    def open_stream(self, body, tcp=False, headers=None, timeout=30):
        """A POST to the stream route; returns the connection and its response."""
        conn = self.connect(tcp, timeout=timeout)
        conn.request("POST", STREAM, body=json.dumps(body),
                     headers={"Content-Type": "application/json", **(headers or {})})
        return conn, conn.getresponse()

    def stream(self, query="When was the harbour built?", **fields):
        conn, response = self.open_stream({"session_id": self.sid, "query": query, **fields})
        try:
            self.assertEqual(response.status, 200)
            return response, SseReader(response).all()
        finally:
            conn.close()

    def messages(self, query=""):
        reply = self.call("GET", f"{SESSIONS}/{self.sid}/messages{query}")
        return self.assertJsonReply(reply, 200)["messages"]

    def last_answer(self, timeout=10):
        """The newest answer once one is stored after the newest question."""
        def answered():
            found = self.messages()
            return found if found and found[-1]["role"] == "assistant" else None
        found = harness.wait_for(answered, timeout)
        self.assertTrue(found, "no answer was stored")
        return found[-1]

    def create_token(self):
        return self.me.call(DAEMON_PATH, DAEMON_IFACE, "CreateToken",
                            GLib.Variant("(s)", ("queries",))).unpack()

    def revoke(self, token_id):
        self.me.call(DAEMON_PATH, DAEMON_IFACE, "RevokeToken", GLib.Variant("(s)", (token_id,)))

    # -- WebSocket ------------------------------------------------------------------

    def ws(self, sid=None, token=None):
        if websockets is None:
            self.skipTest("python3-websockets is not installed")
        path = ws_path(sid or self.sid)
        if token is not None:
            return websockets.connect(f"ws://127.0.0.1:{self.smartragd.http_port}{path}",
                                      extra_headers={"Authorization": f"Bearer {token}"},
                                      open_timeout=10)
        return websockets.unix_connect(self.smartragd.http_socket, f"ws://localhost{path}",
                                       open_timeout=10)

    async def receive(self, ws, timeout=15):
        return json.loads(await asyncio.wait_for(ws.recv(), timeout))

    async def until_end(self, ws, timeout=20):
        """The messages up to the one that ends a question (done, or an error of it)."""
        seen = []
        while True:
            message = await self.receive(ws, timeout)
            seen.append(message)
            if message["type"] == "done" or (message["type"] == "error" and "query_id" in message):
                return seen


class JsonQueries(QueryHttpTest):

    def test_roadmap_client(self):
        """The example client: a session, then a question in it, answered with sources."""
        sid = self.create()["session_id"]
        reply = self.call("POST", QUERY, {"session_id": sid, "query": "Anything?"})
        body = self.assertJsonReply(reply, 200)
        self.assertEqual(set(body), {"answer", "sources", "query_id", "timings"})
        self.assertEqual(body["sources"], [])

        body = self.assertJsonReply(self.ask(k=2), 200)
        self.assertIn("1871", body["answer"])
        self.assertIn("[1]", body["answer"])
        self.assertRegex(body["query_id"], harness.ID_PATTERN)
        self.assertEqual(len(body["sources"]), 2)
        self.assertEqual(set(body["sources"][0]), SOURCE_FIELDS)
        self.assertEqual(body["sources"][0]["filename"], "harbour.txt")
        timings = body["timings"]
        self.assertEqual(set(timings), STATS)
        self.assertEqual((timings["backend"], timings["model"]), ("builtin", "extractive"))
        self.assertGreaterEqual(timings["total_ms"], timings["ttft_ms"])

        stored = self.messages()
        self.assertEqual([m["role"] for m in stored], ["user", "assistant"])
        self.assertEqual(stored[1]["content"], body["answer"])
        self.assertEqual(stored[1]["query_id"], body["query_id"])
        self.assertEqual(stored[1]["sources"], body["sources"])

    def test_options_reach_the_service(self):
        body = self.assertJsonReply(self.ask(k=1, history=False, backend="builtin",
                                             temperature=0.5, max_tokens=100), 200)
        self.assertEqual(len(body["sources"]), 1)
        self.assertError(self.ask(backend="gpt"), 400, "invalid_argument",
                         contains="Invalid backend 'gpt'")
        self.assertError(self.ask(k=0), 400, "invalid_argument",
                         "Invalid k: expected 1 to 100 sources")
        self.assertError(self.ask(temperature=3), 400, "invalid_argument",
                         "Invalid temperature: expected 0 to 2")

    def test_fields_are_checked_by_name(self):
        wrong = [({"query": "q"}, "Missing field 'session_id'"),
                 ({"session_id": self.sid}, "Missing field 'query'"),
                 ({"session_id": self.sid, "query": 5},
                  "Invalid field 'query': expected a string, got a number"),
                 ({"session_id": 5, "query": "q"},
                  "Invalid field 'session_id': expected a string, got a number"),
                 ({"session_id": self.sid, "query": "q", "k": "3"},
                  "Invalid field 'k': expected a whole number, got a string"),
                 ({"session_id": self.sid, "query": "q", "k": 1.5},
                  "Invalid field 'k': expected a whole number from 0 to 4294967295"),
                 ({"session_id": self.sid, "query": "q", "max_tokens": -1},
                  "Invalid field 'max_tokens': expected a whole number from 0 to 4294967295"),
                 ({"session_id": self.sid, "query": "q", "history": 1},
                  "Invalid field 'history': expected true or false, got a number"),
                 ({"session_id": self.sid, "query": "q", "temperature": "hot"},
                  "Invalid field 'temperature': expected a number, got a string"),
                 ({"session_id": self.sid, "query": "q", "model": None},
                  "Invalid field 'model': expected a string, got null"),
                 ({"session_id": self.sid, "query": "q", "colour": "red"},
                  "Unknown field 'colour'; POST /api/v1/query takes session_id, query, k, "
                  "history, backend, model, temperature, max_tokens"),
                 ({"session_id": self.sid, "query": " \n"}, "Invalid question: it is empty")]
        for route in (QUERY, STREAM):
            for body, message in wrong:
                with self.subTest(route=route, body=body):
                    self.assertError(self.call("POST", route, body), 400, "invalid_argument",
                                     message.replace(QUERY + " takes", route + " takes"))
        self.assertEqual(self.messages(), [])

    def test_unknown_and_malformed_sessions(self):
        other = harness.random_id()
        for route in (QUERY, STREAM):
            self.assertError(self.call("POST", route, {"session_id": other, "query": "q"}), 404,
                             "not_found", denied_message(other))
            self.assertError(self.call("POST", route, {"session_id": "nope", "query": "q"}), 400,
                             "invalid_argument")
        self.assertError(self.call("GET", f"{SESSIONS}/{other}/messages"), 404, "not_found",
                         denied_message(other))


class QuestionSize(QueryHttpTest):
    daemon_config = {"max_question_size": "256", "max_body_size": "2K"}

    def test_question_and_body_limits(self):
        self.assertJsonReply(self.ask("harbour " + "x" * 200), 200)
        message = self.assertError(self.ask("x" * 257), 413, "too_large")
        self.assertEqual(message, "Invalid question: expected UTF-8 of at most 256 bytes")
        self.assertError(self.ask("x" * 3000), 413, "too_large",
                         contains="The request body is too large")


class StreamedQueries(QueryHttpTest):

    def test_events_in_order_and_complete(self):
        response, events = self.stream(k=2)
        self.assertEqual(response.getheader("Content-Type"), "text/event-stream")
        self.assertEqual(response.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual(response.getheader("Cache-Control"), "no-store")
        names = [name for name, _ in events]
        self.assertEqual(names[0], "sources")
        self.assertEqual(names[-1], "done")
        self.assertEqual(set(names[1:-1]), {"token"}, names)

        sources = events[0][1]
        self.assertEqual(set(sources), {"query_id", "sources"})
        self.assertEqual(len(sources["sources"]), 2)
        self.assertEqual(sources["sources"][0]["filename"], "harbour.txt")
        answer = "".join(data["text"] for name, data in events if name == "token")
        done = events[-1][1]
        self.assertEqual(set(done), STATS | {"query_id"})
        self.assertEqual(done["query_id"], sources["query_id"])
        self.assertEqual(done["answer_tokens"], names.count("token"))

        stored = self.last_answer()
        self.assertEqual(stored["content"], answer)
        self.assertEqual(stored["state"], "complete")
        self.assertEqual(stored["query_id"], done["query_id"])

    def test_errors_before_the_stream_are_plain_replies(self):
        reply = self.call("POST", STREAM, {"session_id": self.sid})
        self.assertError(reply, 400, "invalid_argument", "Missing field 'query'")
        reply = self.call("POST", STREAM, "{", content_type="application/json")
        self.assertError(reply, 400, "invalid_argument", contains="Invalid JSON")


class DeadBackend(QueryHttpTest):

    def setUp(self):
        self.url = f"http://127.0.0.1:{unused_port()}"
        self.daemon_config = {"backend": "ollama", "ollama_url": self.url}
        super().setUp()

    def test_sse_error_event_and_json_error(self):
        _, events = self.stream()
        self.assertEqual([name for name, _ in events], ["sources", "error"])
        error = events[-1][1]
        self.assertEqual(set(error), {"error", "message", "query_id"})
        self.assertEqual(error["error"], "backend_unavailable")
        self.assertIn(self.url, error["message"])
        self.assertEqual(self.last_answer()["state"], "failed")

        message = self.assertError(self.ask(), 503, "backend_unavailable")
        self.assertIn(self.url, message)


class SlowBackend(QueryHttpTest):
    """The fake Ollama, told to take its time."""

    def setUp(self):
        self.fake = FakeServer("fake_ollama.py")
        self.daemon_config = {"backend": "ollama", "ollama_url": self.fake.url,
                              "max_queries_per_user": "1"}
        try:
            super().setUp()
        except BaseException:
            self.fake.stop()
            raise
        self.fake.control(tokens=SLOW_TOKENS, token_delay=0.2)

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            self.fake.stop()

    def cut(self, conn):
        """Closes the client's end at once, as a client that goes away."""
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()

    def test_client_leaving_an_sse_stream_cancels_its_answer(self):
        conn, response = self.open_stream({"session_id": self.sid, "query": "harbour?"})
        reader = SseReader(response)
        self.assertEqual(reader.next()[0], "sources")
        first = [reader.next()[1]["text"] for _ in range(3)]
        self.cut(conn)
        stored = self.last_answer()
        self.assertEqual(stored["state"], "incomplete")
        self.assertEqual(stored["error"], "The asker left before the answer ended")
        self.assertTrue(stored["content"].startswith("".join(first)), stored)
        self.assertLess(len(stored["content"]), len("".join(SLOW_TOKENS)))

    def test_client_leaving_before_the_first_token_is_noticed_at_once(self):
        self.fake.control(first_token_delay=30)
        for route in (STREAM, QUERY):
            conn = self.connect()
            conn.request("POST", route, body=json.dumps({"session_id": self.sid, "query": "q"}),
                         headers={"Content-Type": "application/json"})
            time.sleep(0.5)
            started = time.monotonic()
            self.cut(conn)
            stored = self.last_answer(timeout=5)
            self.assertLess(time.monotonic() - started, 5)
            self.assertEqual(stored["state"], "failed")
            # The generation slot and the user's one query are free again at once.
            self.fake.control(first_token_delay=0, token_delay=0)
            self.assertJsonReply(self.ask(), 200)
            self.fake.control(first_token_delay=30)

    def test_busy_is_429_with_retry_after(self):
        conn, response = self.open_stream({"session_id": self.sid, "query": "harbour?"})
        try:
            SseReader(response).next()
            reply = self.ask()
            self.assertError(reply, 429, "busy", contains="Too many questions at once")
            self.assertTrue(reply.headers["retry-after"].isdigit(), reply.headers)
        finally:
            conn.close()

    def test_keep_alive_comment_while_waiting(self):
        self.fake.control(first_token_delay=17, token_delay=0)
        conn, response = self.open_stream({"session_id": self.sid, "query": "harbour?"},
                                          timeout=60)
        try:
            reader = SseReader(response)
            events = reader.all()
        finally:
            conn.close()
        self.assertEqual(reader.comments, [": keep-alive"])
        self.assertEqual(events[-1][0], "done")

    def test_revoked_token_ends_the_stream(self):
        token_id, token = self.create_token()
        conn, response = self.open_stream({"session_id": self.sid, "query": "harbour?"},
                                          tcp=True, headers={"Authorization": f"Bearer {token}"})
        try:
            reader = SseReader(response)
            sources = reader.next()
            self.assertEqual(sources[0], "sources")
            self.assertEqual(reader.next()[0], "token")
            self.revoke(token_id)
            rest = reader.all()
        finally:
            conn.close()
        self.assertEqual(rest[-1][0], "error")
        self.assertEqual(rest[-1][1]["error"], "unauthenticated")
        self.assertEqual(rest[-1][1]["query_id"], sources[1]["query_id"])
        self.assertEqual(self.last_answer()["state"], "incomplete")
        self.assertLess(len(rest), len(SLOW_TOKENS))

    def test_revoked_token_fails_a_waiting_json_question(self):
        token_id, token = self.create_token()
        conn = self.connect(tcp=True)
        try:
            conn.request("POST", QUERY, body=json.dumps({"session_id": self.sid, "query": "q"}),
                         headers={"Content-Type": "application/json",
                                  "Authorization": f"Bearer {token}"})
            time.sleep(0.5)
            self.revoke(token_id)
            response = conn.getresponse()
            reply = httptest.Reply(response.status, response.getheaders(), response.read())
        finally:
            conn.close()
        self.assertError(reply, 401, "unauthenticated",
                         "The API token this stream was opened with has been revoked")
        self.assertEqual(self.last_answer()["state"], "incomplete")

    def test_a_stop_lets_answers_end_and_closes_sockets(self):
        self.fake.control(token_delay=0.02)

        async def scenario():
            async with self.ws() as ws:
                conn, response = self.open_stream({"session_id": self.sid, "query": "harbour?"})
                reader = SseReader(response)
                self.assertEqual(reader.next()[0], "sources")
                started = time.monotonic()
                self.smartragd.signal()
                events = reader.all()
                conn.close()
                self.assertEqual(events[-1][0], "done")
                # An idle socket is no work to wait for; it is told why it closes.
                told = await self.receive(ws)
                self.assertEqual((told["error"], told["message"]),
                                 ("shutting_down", "The daemon stopped"))
                with self.assertRaises(websockets.ConnectionClosed):
                    await self.receive(ws)
                self.assertEqual(self.smartragd.wait_exit(10), 0)
                self.assertLess(time.monotonic() - started, 4)
        asyncio.run(scenario())

    def test_websocket_cancel_busy_and_disconnect(self):
        async def scenario():
            async with self.ws() as ws:
                await ws.send(json.dumps({"query": "harbour?"}))
                sources = await self.receive(ws)
                self.assertEqual(sources["type"], "sources")
                self.assertEqual((await self.receive(ws))["type"], "chunk")
                # One question at a time: the second is refused, the first goes on.
                await ws.send(json.dumps({"query": "another?"}))
                while (busy := await self.receive(ws))["type"] == "chunk":
                    pass
                self.assertEqual(set(busy), {"type", "error", "message"})
                self.assertEqual(busy["error"], "busy")
                await ws.send(json.dumps({"type": "cancel"}))
                end = await self.until_end(ws)
                self.assertEqual(end[-1], {"type": "error", "error": "cancelled",
                                           "message": "The question was cancelled",
                                           "query_id": sources["query_id"]})
                await ws.send(json.dumps({"type": "cancel"}))
                nothing = await self.receive(ws)
                self.assertEqual(nothing["error"], "not_found")
                self.assertEqual(self.last_answer()["state"], "incomplete")

                # Then the client drops the connection without a closing handshake.
                await ws.send(json.dumps({"query": "harbour again?"}))
                self.assertEqual((await self.receive(ws))["type"], "sources")
                ws.transport.abort()
            stored = self.last_answer()
            self.assertEqual(stored["state"], "failed" if not stored["content"] else "incomplete")
            self.assertEqual(stored["error"], "The asker left before the answer ended")
        asyncio.run(scenario())
        self.assertEqual(len(self.messages()), 4)

    def test_revoked_token_closes_the_websocket(self):
        token_id, token = self.create_token()

        async def scenario():
            async with self.ws(token=token) as ws:
                await ws.send(json.dumps({"query": "harbour?"}))
                sources = await self.receive(ws)
                self.assertEqual((await self.receive(ws))["type"], "chunk")
                self.revoke(token_id)
                end = await self.until_end(ws)
                self.assertEqual(end[-1]["error"], "unauthenticated")
                self.assertEqual(end[-1]["query_id"], sources["query_id"])
                with self.assertRaises(websockets.ConnectionClosed) as closed:
                    await self.receive(ws)
                self.assertEqual(closed.exception.code, 1008)
        asyncio.run(scenario())
        self.assertEqual(self.last_answer()["state"], "incomplete")


class WebSocketQueries(QueryHttpTest):
    daemon_config = {"max_body_size": "4K"}

    def test_answer_streams_as_chunks(self):
        async def scenario():
            async with self.ws() as ws:
                for question in ("When was the harbour built?", "What does the market sell?"):
                    await ws.send(json.dumps({"query": question, "k": 2}))
                    seen = await self.until_end(ws)
                    types = [m["type"] for m in seen]
                    self.assertEqual(types[0], "sources")
                    self.assertEqual(types[-1], "done")
                    self.assertEqual(set(types[1:-1]), {"chunk"})
                    self.assertEqual(len(seen[0]["sources"]), 2)
                    self.assertEqual(set(seen[-1]), STATS | {"type", "query_id"})
                    self.assertEqual(seen[-1]["query_id"], seen[0]["query_id"])
                    stored = self.last_answer()
                    self.assertEqual(stored["content"], "".join(m["content"] for m in seen
                                                                if m["type"] == "chunk"))
                    self.assertEqual(stored["query_id"], seen[-1]["query_id"])
        asyncio.run(scenario())

    def test_bad_messages_are_answered_and_the_socket_stays(self):
        bad = [("{", "Invalid JSON"),
               ("[1]", "must be a JSON object"),
               (json.dumps({"type": "dance"}),
                "Unknown message type 'dance'; expected query or cancel"),
               (json.dumps({"type": 1}), "Invalid field 'type': expected a string, got a number"),
               (json.dumps({"query": "q", "k": "x"}),
                "Invalid field 'k': expected a whole number, got a string"),
               (json.dumps({"query": "q", "session_id": self.sid}),
                "Unknown field 'session_id'; a question message takes type, query, k, history, "
                "backend, model, temperature, max_tokens"),
               (json.dumps({"type": "cancel", "query": "q"}),
                "Unknown field 'query'; a cancel message takes type"),
               (json.dumps({}), "Missing field 'query'"),
               (b"\x00binary", "Messages are text")]

        async def scenario():
            async with self.ws() as ws:
                for message, text in bad:
                    await ws.send(message)
                    error = await self.receive(ws)
                    self.assertEqual(set(error), {"type", "error", "message"}, message)
                    self.assertEqual(error["error"], "invalid_argument")
                    self.assertIn(text, error["message"])
                await ws.send(json.dumps({"type": "query", "query": "harbour?"}))
                self.assertEqual((await self.until_end(ws))[-1]["type"], "done")
                # Keep-alive: the server answers pings.
                await asyncio.wait_for(await ws.ping(), 5)
                # A message over the size limit closes the socket at once: libsoup sends
                # no closing frame (1006) or only just (1009).
                await ws.send(json.dumps({"query": "x" * 5000}))
                with self.assertRaises(websockets.ConnectionClosed) as closed:
                    await self.receive(ws)
                self.assertIn(closed.exception.code, (1006, 1009))
        asyncio.run(scenario())

    def test_a_browser_sends_its_token_as_a_subprotocol(self):
        if websockets is None:
            self.skipTest("python3-websockets is not installed")
        _token_id, token = self.create_token()
        url = f"ws://127.0.0.1:{self.smartragd.http_port}{ws_path(self.sid)}"

        async def scenario():
            async with websockets.connect(url, subprotocols=["smartrag", f"smartrag.bearer.{token}"],
                                          open_timeout=10) as ws:
                # The server answers with the protocol, never with the token.
                self.assertEqual(ws.subprotocol, "smartrag")
                await ws.send(json.dumps({"query": "When was the harbour built?"}))
                self.assertEqual((await self.until_end(ws))[-1]["type"], "done")
            for offered in (["smartrag", "smartrag.bearer.srt_nope"], ["smartrag"]):
                with self.assertRaises(websockets.InvalidStatusCode) as caught:
                    async with websockets.connect(url, subprotocols=offered, open_timeout=10):
                        pass
                self.assertEqual(caught.exception.status_code, 401, offered)
        asyncio.run(scenario())

        handshake = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                     "Sec-WebSocket-Protocol": f"smartrag.bearer.{token}"}
        # The token alone is not a protocol the server speaks.
        self.assertError(self.call("GET", ws_path(self.sid), tcp=True, headers=handshake), 400,
                         "invalid_argument",
                         "Invalid WebSocket subprotocols: a client that offers any must offer "
                         "\"smartrag\" (and may send its token as \"smartrag.bearer.<token>\")")
        # Only a WebSocket route takes a token there.
        self.assertError(self.call("GET", "/api/v1/sessions", tcp=True, headers=handshake), 401,
                         "unauthenticated")

    def test_checks_come_before_the_upgrade(self):
        handshake = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
        other = harness.random_id()
        self.assertError(self.call("GET", ws_path(other), headers=handshake), 404, "not_found",
                         denied_message(other))
        self.assertError(self.call("GET", ws_path("nope"), headers=handshake), 400,
                         "invalid_argument")
        self.assertError(self.call("GET", ws_path(self.sid)), 400, "invalid_argument",
                         "This path takes a WebSocket handshake: WebSocket handshake expected")
        self.assertError(self.call("GET", ws_path(self.sid), tcp=True, headers=handshake), 401,
                         "unauthenticated")
        reply = self.call("POST", ws_path(self.sid), headers=handshake)
        self.assertError(reply, 405, "method_not_allowed")

        if websockets is None:
            return

        async def refused():
            with self.assertRaises(websockets.InvalidStatusCode) as caught:
                async with self.ws(sid=other):
                    pass
            self.assertEqual(caught.exception.status_code, 404)
        asyncio.run(refused())


class Conversations(QueryHttpTest):

    def setUp(self):
        super().setUp()
        self.questions = ["When was the harbour built?", "What does the market sell?",
                          "What happened to the old school?"]
        for question in self.questions:
            self.assertJsonReply(self.ask(question), 200)

    def bus_messages(self, offset=0, limit=0):
        return items(self.me.call(self.path, harness.SESSION_IFACE, "GetMessages",
                                  GLib.Variant("(uu)", (offset, limit))))

    def assertSameAsBus(self, http, bus):
        self.assertEqual(len(http), len(bus))
        for mine, theirs in zip(http, bus):
            mine = dict(mine)
            plain = {key: value for key, (_, value) in theirs.items()}
            created = plain.pop("created_at")
            self.assertEqual(mine.pop("created_at"),
                             time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created // 10**6))
                             + f".{created % 10**6:06d}Z")
            self.assertEqual(mine, plain)

    def test_messages_and_paging(self):
        everything = self.messages()
        self.assertEqual(len(everything), 6)
        self.assertEqual([m["content"] for m in everything[::2]], self.questions)
        self.assertSameAsBus(everything, self.bus_messages())
        self.assertEqual(self.messages("?offset=2&limit=2"), everything[2:4])
        self.assertSameAsBus(self.messages("?offset=2&limit=2"), self.bus_messages(2, 2))
        self.assertEqual(self.messages("?offset=6"), [])
        self.assertEqual(self.messages("?limit=0"), everything)
        self.assertEqual(self.messages("?offset=4&&limit=1&"), everything[4:5])

        path = f"{SESSIONS}/{self.sid}/messages"
        wrong = [("?limit=1001", "Invalid limit: expected 1 to 1000 messages, or 0 for 100"),
                 ("?offset=-1", "Invalid parameter 'offset': expected a whole number from 0 "
                                "to 4294967295"),
                 ("?limit=ten", "Invalid parameter 'limit': expected a whole number from 0 "
                                "to 4294967295"),
                 ("?limit=1&limit=2", "Parameter 'limit' is given twice"),
                 ("?page=2", "Unknown parameter 'page'; GET /api/v1/sessions/{id}/messages "
                             "takes offset, limit"),
                 ("?limit=%FF", "Invalid parameter 'limit': it is not UTF-8 text"),
                 ("?limit=%00", "Invalid query string in the URL: a bad %-escape"),
                 ("?limit", "Invalid parameter 'limit': expected a whole number")]
        for query, message in wrong:
            with self.subTest(query=query):
                self.assertError(self.call("GET", path + query), 400, "invalid_argument",
                                 contains=message)

    def test_search(self):
        path = f"{SESSIONS}/{self.sid}/messages/search"
        found = self.assertJsonReply(self.call("GET", path + "?q=harbour+built"), 200)["messages"]
        self.assertIn(self.questions[0], [m["content"] for m in found])
        bus = items(self.me.call(self.path, harness.SESSION_IFACE, "SearchMessages",
                                 GLib.Variant("(su)", ("harbour built", 0))))
        self.assertSameAsBus(found, bus)
        limited = self.assertJsonReply(self.call("GET", path + "?q=the&limit=1"), 200)
        self.assertEqual(len(limited["messages"]), 1)
        self.assertError(self.call("GET", path), 400, "invalid_argument",
                         "Invalid search text: it is empty")
        self.assertError(self.call("GET", path + "?q=x&offset=1"), 400, "invalid_argument",
                         contains="Unknown parameter 'offset'")

    def test_export_both_formats(self):
        path = f"{SESSIONS}/{self.sid}/export"
        for query, fmt, content_type in (("", "json", "application/json; charset=utf-8"),
                                         ("?format=json", "json",
                                          "application/json; charset=utf-8"),
                                         ("?format=markdown", "md",
                                          "text/markdown; charset=utf-8")):
            with self.subTest(query=query):
                reply = self.call("GET", path + query)
                self.assertEqual(reply.status, 200, reply)
                self.assertEqual(reply.headers["content-type"], content_type)
                self.assertEqual(reply.headers["content-disposition"],
                                 f'attachment; filename="conversation-{self.sid}.{fmt}"')
                self.assertEqual(reply.headers["transfer-encoding"], "chunked")
                bus = export_to_pipe(self.me, self.path, "markdown" if fmt == "md" else "json")
                if fmt == "json":
                    mine, theirs = json.loads(reply.body), json.loads(bus)
                    del mine["session"]["exported_at"], theirs["session"]["exported_at"]
                    self.assertEqual(mine, theirs)
                    self.assertEqual(len(mine["messages"]), 6)
                else:
                    pattern = re.compile(r"exported [^\n]*")
                    self.assertEqual(pattern.sub("", reply.body.decode()), pattern.sub("", bus))
        self.assertError(self.call("GET", path + "?format=xml"), 400, "invalid_argument",
                         "Invalid format 'xml': expected \"json\" or \"markdown\"")

    def test_large_export_streams(self):
        for i in range(40):
            self.assertJsonReply(self.ask("harbour market school " * 50 + str(i), k=5), 200)
        conn = self.connect()
        try:
            conn.request("GET", f"{SESSIONS}/{self.sid}/export")
            response = conn.getresponse()
            self.assertEqual(response.status, 200)
            exported = json.loads(response.read())
        finally:
            conn.close()
        self.assertEqual(len(exported["messages"]), 6 + 80)


class OtherUsers(QueryHttpTest):

    def test_another_uid_sees_nothing(self):
        nobody = self.nobody()
        self.assertJsonReply(self.ask(), 200)
        denied = denied_message(self.sid)
        body = {"session_id": self.sid, "query": "harbour?"}
        handshake = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
        calls = [("POST", QUERY, body, None), ("POST", STREAM, body, None),
                 ("GET", f"{SESSIONS}/{self.sid}/messages", None, None),
                 ("GET", f"{SESSIONS}/{self.sid}/messages/search?q=harbour", None, None),
                 ("GET", f"{SESSIONS}/{self.sid}/export?format=markdown", None, None),
                 ("GET", ws_path(self.sid), None, handshake)]
        unknown = harness.random_id()
        for method, path, payload, headers in calls:
            with self.subTest(path=path):
                reply = self.call_as(nobody, method, path, payload, headers=headers)
                self.assertError(reply, 404, "not_found", denied)
                # Exactly what an id that does not exist gets.
                swapped = path.replace(self.sid, unknown)
                other = dict(payload, session_id=unknown) if payload else None
                reply = self.call_as(nobody, method, swapped, other, headers=headers)
                self.assertError(reply, 404, "not_found", denied_message(unknown))
        self.assertEqual(len(self.messages()), 2)


if __name__ == "__main__":
    httptest.main()
