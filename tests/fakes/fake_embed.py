#!/usr/bin/env python3
"""A fake embedding server for tests: Ollama's /api/embed and OpenAI's /v1/embeddings.

Standard library only. The first line on stdout is the port it listens on (on 127.0.0.1;
--port 0, the default, picks a free one). A vector is the text's words hashed into
--dimensions signed buckets, scaled by 3 so that a client must normalise it: the same
text always gives the same vector, and texts that share words lie close together.

Failures are chosen while it runs, by POSTing a JSON object to /control:
  {"fail": {"status": 500, "message": "…", "times": 1}}
      the next `times` embedding requests (all of them when absent or -1) get that HTTP
      status with the error body the backend sends (Ollama {"error": "…"}, OpenAI
      {"error": {"message": "…", …}})
  {"dimensions": 12}        vectors of another length from now on
  {"wrong_count": 1}        one vector fewer than texts (negative: more)
  {"malformed": "text"}     answer 200 with this body
  {"delay": 0.5}            wait this many seconds before each answer
  {"hang_up": true}         close the connection without answering
  {"shuffle": true}         OpenAI's "data" in reverse order (each item keeps its index)
  {"refuse": "word"}        a request with a text holding "word" gets 400 (the server
                            answers others: a text it cannot take)
  {"reset": true}           none of the above (applied first)
GET /requests lists the embedding requests so far ({"requests": [{"path", "model",
"inputs", "authorization"}]}); POST /control {"clear_requests": true} forgets them.
Unknown models get the backend's 404; unknown paths a plain "404 page not found".
"""

import argparse
import hashlib
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORD = re.compile(r"\w+", re.UNICODE)
SCALE = 3.0


def vector_of(text, dimensions):
    vector = [0.0] * dimensions
    for word in WORD.findall(text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        bucket = int.from_bytes(digest[:4], "little") % dimensions
        vector[bucket] += SCALE if digest[4] & 1 else -SCALE
    return vector


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.models = set(args.model or ["fake-embed"])
        self.api_key = args.api_key
        self.base_dimensions = args.dimensions
        self.requests = []
        self.reset()

    def reset(self):
        self.dimensions = self.base_dimensions
        self.fail = None
        self.wrong_count = 0
        self.malformed = None
        self.delay = 0.0
        self.hang_up = False
        self.shuffle = False
        self.refuse = None

    def control(self, settings):
        with self.lock:
            if settings.get("reset"):
                self.reset()
            if settings.get("clear_requests"):
                self.requests = []
            if "fail" in settings:
                fail = settings["fail"]
                self.fail = None if fail is None else dict(fail, times=fail.get("times", -1))
            for key in ("dimensions", "wrong_count", "malformed", "delay", "hang_up", "shuffle",
                        "refuse"):
                if key in settings:
                    setattr(self, key, settings[key])

    def take_failure(self):
        """The failure this request gets, if any, counting it down."""
        with self.lock:
            if self.fail is None:
                return None
            fail = dict(self.fail)
            if self.fail["times"] > 0:
                self.fail["times"] -= 1
                if self.fail["times"] == 0:
                    self.fail = None
            return fail


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-embed/1"

    def log_message(self, format, *args):  # quiet: tests read stdout for the port only
        pass

    @property
    def state(self):
        return self.server.state

    def send_body(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status, value):
        self.send_body(status, json.dumps(value))

    def read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def do_GET(self):
        if self.path == "/requests":
            with self.state.lock:
                self.send_json(200, {"requests": list(self.state.requests)})
            return
        self.send_body(404, "404 page not found", "text/plain")

    def do_POST(self):
        body = self.read_json()
        if self.path == "/control":
            self.state.control(body or {})
            self.send_json(200, {"ok": True})
            return
        if self.path == "/api/embed":
            self.embed(body, ollama=True)
            return
        if self.path == "/v1/embeddings":
            self.embed(body, ollama=False)
            return
        self.send_body(404, "404 page not found", "text/plain")

    def error(self, ollama, status, message, code=None):
        if ollama:
            self.send_json(status, {"error": message})
        else:
            self.send_json(status, {"error": {"message": message, "type": "invalid_request_error",
                                              "param": None, "code": code}})

    def embed(self, body, ollama):
        if body is None or not isinstance(body, dict):
            self.error(ollama, 400, "invalid JSON in the request body")
            return
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        model = body.get("model")
        with self.state.lock:
            self.state.requests.append({
                "path": self.path, "model": model,
                "inputs": len(texts) if isinstance(texts, list) else None,
                "authorization": self.headers.get("Authorization"),
                "truncate": body.get("truncate"),
            })
            delay, hang_up = self.state.delay, self.state.hang_up
            dimensions, wrong_count = self.state.dimensions, self.state.wrong_count
            malformed, shuffle = self.state.malformed, self.state.shuffle
            refuse = self.state.refuse
        if delay:
            time.sleep(delay)
        if hang_up:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if not ollama and self.state.api_key is not None:
            if self.headers.get("Authorization") != f"Bearer {self.state.api_key}":
                self.error(ollama, 401, "Incorrect API key provided.", "invalid_api_key")
                return
        failure = self.state.take_failure()
        if failure is not None:
            self.error(ollama, failure.get("status", 500), failure.get("message", "boom"))
            return
        if model not in self.state.models:
            if ollama:
                self.error(True, 404, f'model "{model}" not found, try pulling it first')
            else:
                self.error(False, 404, f"The model `{model}` does not exist.",
                           "model_not_found")
            return
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            self.error(ollama, 400, "input must be a string or a list of strings")
            return
        if refuse is not None and any(refuse in text for text in texts):
            self.error(ollama, 400, "the input cannot be embedded")
            return
        if malformed is not None:
            self.send_body(200, malformed)
            return
        vectors = [vector_of(text, dimensions) for text in texts]
        if wrong_count > 0:
            vectors = vectors[:max(len(vectors) - wrong_count, 0)]
        elif wrong_count < 0:
            vectors += [vector_of("extra", dimensions)] * -wrong_count
        if ollama:
            self.send_json(200, {"model": model, "embeddings": vectors,
                                 "total_duration": 1000, "load_duration": 10,
                                 "prompt_eval_count": len(texts)})
            return
        data = [{"object": "embedding", "index": i, "embedding": v}
                for i, v in enumerate(vectors)]
        if shuffle:
            data.reverse()
        self.send_json(200, {"object": "list", "data": data, "model": model,
                             "usage": {"prompt_tokens": len(texts),
                                       "total_tokens": len(texts)}})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--model", action="append",
                        help="a model the server has (repeatable; default fake-embed)")
    parser.add_argument("--dimensions", type=int, default=32)
    parser.add_argument("--api-key", help="OpenAI requests must carry it as a Bearer token")
    args = parser.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
