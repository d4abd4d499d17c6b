"""What the fake model servers share: the HTTP loop, the control endpoints, chunked streams.

A test steers a fake with POST /_control (a JSON object of behaviours, merged into the
current ones; {} with "reset": true first restores the defaults), reads every request the
fake received with GET /_requests (newest last), and empties that list with POST /_reset.
Behaviours (all optional):

  tokens             the answer, as the pieces to stream ("The", " harbour", …)
  first_token_delay  seconds before the first piece
  token_delay        seconds between pieces
  fail_status        answer the next chat requests with this HTTP status…
  fail_body          …and this JSON body (default: the server's usual error shape)
  cut_after          close the connection after this many pieces, mid-stream, without
                     ending the chunked body
  end_early_after    end the body cleanly after this many pieces, without the last line
                     ("done": true, or [DONE])
  error_after        after this many pieces, send an error line and end
  error_message      the message of fail_body/error_after
  garbage_after      after this many pieces, send a line that is not JSON, then go on
  models             the models the server has (lists and accepts)
  times              how many chat requests the behaviours apply to; then the defaults
                     return (absent: until changed)

Run as `python3 fake_X.py --port 0`: the first line on stdout is the port it listens on.
"""

import argparse
import copy
import http.server
import json
import os
import socket
import sys
import threading
import time

DEFAULTS = {
    "tokens": ["The", " harbour", " was", " built", " in", " 1871", " [1]."],
    "first_token_delay": 0.0,
    "token_delay": 0.0,
    "fail_status": 0,
    "fail_body": None,
    "cut_after": -1,
    "end_early_after": -1,
    "error_after": -1,
    "error_message": "the model runner stopped unexpectedly",
    "garbage_after": -1,
    "times": None,
}


class State:
    def __init__(self, defaults):
        self.lock = threading.Lock()
        self.defaults = dict(DEFAULTS, **defaults)
        self.behaviour = copy.deepcopy(self.defaults)
        self.requests = []

    def control(self, changes):
        with self.lock:
            if changes.pop("reset", False):
                self.behaviour = copy.deepcopy(self.defaults)
            self.behaviour.update(changes)

    def take_chat_behaviour(self):
        """The behaviour for one chat request; counts down "times"."""
        with self.lock:
            current = copy.deepcopy(self.behaviour)
            times = self.behaviour.get("times")
            if times is not None:
                if times <= 1:
                    models = self.behaviour.get("models")
                    self.behaviour = copy.deepcopy(self.defaults)
                    self.behaviour["models"] = models
                else:
                    self.behaviour["times"] = times - 1
            return current

    def peek(self, key):
        with self.lock:
            return copy.deepcopy(self.behaviour.get(key))

    def record(self, entry):
        with self.lock:
            self.requests.append(entry)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake"
    # Set by serve(): the fake's routes, {(method, path): function(handler, body)}.
    routes = {}
    state = None

    def log_message(self, fmt, *args):  # quiet: tests read /_requests instead
        pass

    def setup(self):
        super().setup()
        # Real model servers (Ollama is written in Go, whose sockets send at once) do not
        # hold small writes back; Python's do, and a first token written 20 ms after the
        # headers would wait for the client's delayed acknowledgement.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self):
        # A client that gives up on a stream (cancel, timeout) closes the connection
        # under us: that is a test going as planned, not an error to print.
        try:
            super().handle()
        except (ConnectionError, OSError):
            pass

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw:
            return None, raw
        try:
            return json.loads(raw), raw
        except ValueError:
            return None, raw

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self, content_type):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def send_chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def cut(self):
        """Closes the connection at once, mid-body."""
        self.wfile.flush()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def handle_any(self, method):
        path = self.path.split("?", 1)[0]
        body, raw = self.read_body()
        if (method, path) == ("POST", "/_control"):
            self.state.control(body or {})
            return self.send_json(200, {"ok": True})
        if (method, path) == ("GET", "/_requests"):
            with self.state.lock:
                return self.send_json(200, list(self.state.requests))
        if (method, path) == ("POST", "/_reset"):
            with self.state.lock:
                self.state.requests.clear()
            return self.send_json(200, {"ok": True})
        self.state.record({
            "method": method,
            "path": path,
            # The client's port: the same one twice means a connection was used again.
            "peer_port": self.client_address[1],
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body if body is not None else raw.decode(errors="replace"),
        })
        route = self.routes.get((method, path))
        if route is None:
            return self.not_found(path)
        try:
            route(self, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def not_found(self, path):
        self.send_json(404, {"error": f"no route {path}"})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


def stream_pieces(handler, behaviour, emit_piece, on_cut, on_error, on_garbage):
    """Sends the behaviour's pieces with its delays and faults. Returns False when the
    stream was stopped (cut or error) and nothing more may follow."""
    tokens = behaviour["tokens"]
    if behaviour["first_token_delay"] > 0:
        time.sleep(behaviour["first_token_delay"])
    for i, token in enumerate(tokens):
        if i == behaviour["cut_after"]:
            on_cut()
            return False
        if i == behaviour["error_after"]:
            on_error()
            return False
        if i == behaviour["garbage_after"]:
            on_garbage()
        if i == behaviour["end_early_after"]:
            handler.end_stream()
            return False
        if i > 0 and behaviour["token_delay"] > 0:
            time.sleep(behaviour["token_delay"])
        emit_piece(i, token)
    n = len(tokens)
    if n == behaviour["cut_after"]:
        on_cut()
        return False
    if n == behaviour["error_after"]:
        on_error()
        return False
    if n == behaviour["end_early_after"]:
        handler.end_stream()
        return False
    return True


def serve(routes, defaults, description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="exit when stdin closes (the test that started it has gone)")
    args = parser.parse_args()

    Handler.routes = routes
    Handler.state = State(defaults)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    if args.exit_with_stdin:
        def watch():
            while sys.stdin.buffer.read(4096):
                pass
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
