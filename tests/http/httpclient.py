"""HTTP to smartragd over its Unix socket or TCP port, with the standard library alone.

Run as a program (python3 -c "$(cat httpclient.py)" REQUEST), it makes one request
described by the JSON REQUEST and prints the reply as JSON: how a test asks as another
uid, whose process may not be able to read the checkout.
"""

import http.client
import json
import socket
import sys


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTPConnection over an AF_UNIX stream socket."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)

    def to_dict(self):
        return {"status": self.status, "headers": list(self.headers.items()),
                "body": self.body.decode("utf-8", "replace")}

    @classmethod
    def from_dict(cls, data):
        return cls(data["status"], data["headers"], data["body"].encode())

    def __repr__(self):
        return f"<Reply {self.status} {self.body[:300]!r}>"


def connection(socket_path=None, port=None, timeout=10):
    if socket_path is not None:
        return UnixHTTPConnection(socket_path, timeout)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def request(conn, method, path, body=None, headers=None, content_type=None):
    """One request on @conn; a dict or list @body is sent as JSON."""
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        content_type = content_type or "application/json"
    if isinstance(body, str):
        body = body.encode()
    if content_type is not None:
        headers["Content-Type"] = content_type
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return Reply(response.status, response.getheaders(), response.read())


def main():
    spec = json.loads(sys.argv[1])
    conn = connection(spec.get("socket"), spec.get("port"))
    try:
        reply = request(conn, spec["method"], spec["path"], spec.get("body"),
                        spec.get("headers"), spec.get("content_type"))
    finally:
        conn.close()
    print(json.dumps(reply.to_dict()))


if __name__ == "__main__":
    main()
