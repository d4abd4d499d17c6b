#!/usr/bin/python3
"""SmartRAG over HTTP from a script: make a session, upload a document, ask about it.

Standard library only. Over the daemon's Unix socket no token is needed (the kernel
tells the daemon who you are); over TCP, set SMARTRAG_TOKEN to a token made with
CreateToken. Usage:

    basic_integration.py FILE "QUESTION"                   # the user daemon's socket
    SMARTRAG_URL=http://127.0.0.1:8765 SMARTRAG_TOKEN=srt_… basic_integration.py FILE "QUESTION"
"""

import http.client
import json
import mimetypes
import os
import socket
import sys
import time
import uuid
from urllib.parse import urlparse


class UnixConnection(http.client.HTTPConnection):
    """HTTP over the daemon's Unix socket."""

    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class SmartRAG:
    def __init__(self, url=None, token=None, socket_path=None):
        self.url, self.token = url, token
        runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
        self.socket_path = socket_path or os.path.join(runtime, "smartrag", "http.sock")

    def connect(self):
        if self.url:
            parsed = urlparse(self.url)
            return http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=60)
        return UnixConnection(self.socket_path)

    def call(self, method, path, body=None, content_type="application/json"):
        headers = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        if body is not None:
            headers["Content-Type"] = content_type
        conn = self.connect()
        try:
            conn.request(method, path, body=body, headers=headers)
            reply = conn.getresponse()
            data = reply.read()
        finally:
            conn.close()
        result = json.loads(data) if data else {}
        if reply.status >= 400:
            raise RuntimeError(f"{method} {path}: {reply.status} {result.get('error')}: "
                               f"{result.get('message')}")
        return result

    def create_session(self, title):
        return self.call("POST", "/api/v1/sessions", {"title": title})["session_id"]

    def upload(self, session_id, path):
        """multipart/form-data with the parts the API names: session_id and file."""
        boundary = uuid.uuid4().hex
        name = os.path.basename(path)
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        with open(path, "rb") as f:
            content = f.read()
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"session_id\"\r\n\r\n"
                f"{session_id}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{name}\"\r\nContent-Type: {kind}\r\n\r\n").encode()
        body += content + f"\r\n--{boundary}--\r\n".encode()
        return self.call("POST", "/api/v1/documents/upload", body,
                         f"multipart/form-data; boundary={boundary}")["document_id"]

    def wait_ready(self, document_id, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            document = self.call("GET", f"/api/v1/documents/{document_id}")
            if document["state"] in ("ready", "failed"):
                return document
            if time.monotonic() > deadline:
                raise TimeoutError(f"document {document_id} is still {document['state']}")
            time.sleep(0.2)

    def query(self, session_id, question, k=5):
        return self.call("POST", "/api/v1/query",
                         {"session_id": session_id, "query": question, "k": k})


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, question = sys.argv[1], sys.argv[2]
    rag = SmartRAG(os.environ.get("SMARTRAG_URL"), os.environ.get("SMARTRAG_TOKEN"))
    session_id = rag.create_session("basic integration")
    document = rag.wait_ready(rag.upload(session_id, path))
    if document["state"] != "ready":
        sys.exit(f"{path} could not be read: {document['message']}")
    result = rag.query(session_id, question)
    print(result["answer"])
    for number, source in enumerate(result["sources"], 1):
        page = f", page {source['page']}" if source.get("page") else ""
        print(f"[{number}] {source['filename']}{page}")
    print(f"session {session_id}; answered by {result['timings'].get('backend')} "
          f"in {result['timings'].get('total_ms', 0):.0f} ms")


if __name__ == "__main__":
    main()
