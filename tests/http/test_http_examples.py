#!/usr/bin/python3
"""The clients in examples/, run as a user would: the roadmap's workflow end to end."""

import os
import subprocess
import sys

from gi.repository import GLib

import harness
import httpclient
import httptest
from test_documents import make_pdf

EXAMPLES = os.path.join(os.environ.get("SMARTRAG_SOURCE_DIR", "."), "examples")
PAGES = ["The lighthouse keeper rows to the village every Tuesday.",
         "The lamp of the lighthouse burns whale oil and is trimmed at dusk."]
QUESTION = "What does the lamp of the lighthouse burn?"


class Examples(httptest.HttpTest):
    """Each example against the real daemon, over the Unix socket and over TCP."""

    def setUp(self):
        harness.IntegrationTest.setUp(self)
        # The examples find the socket where a user daemon puts it: under XDG_RUNTIME_DIR.
        self.runtime = os.path.join(self.workdir, "runtime")
        os.makedirs(os.path.join(self.runtime, "smartrag"), exist_ok=True)
        self.smartragd = self.start_daemon(
            http=True, socket=os.path.join(self.runtime, "smartrag", "http.sock"))
        self.pdf = os.path.join(self.workdir, "lighthouse.pdf")
        with open(self.pdf, "wb") as f:
            f.write(make_pdf(PAGES))

    def token(self):
        _, token = self.client().call(harness.DAEMON_PATH, harness.DAEMON_IFACE, "CreateToken",
                                      GLib.Variant("(s)", ("examples",))).unpack()
        return token

    def run_example(self, args, tcp=False, timeout=60):
        env = dict(os.environ, XDG_RUNTIME_DIR=self.runtime)
        if tcp:
            env.update(SMARTRAG_URL=f"http://127.0.0.1:{self.smartragd.http_port}",
                       SMARTRAG_TOKEN=self.token())
        result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
        self.assertEqual(result.returncode, 0,
                         f"{args[0]} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def assertAnswered(self, output):
        self.assertIn("whale oil", output)
        self.assertIn("lighthouse.pdf", output)

    def test_basic_integration_with_a_pdf_over_the_socket(self):
        # The roadmap's workflow: session, PDF upload, ready, question, answer and sources.
        output = self.run_example([sys.executable, os.path.join(EXAMPLES, "basic_integration.py"),
                                   self.pdf, QUESTION])
        self.assertAnswered(output)
        self.assertIn("[1] lighthouse.pdf, page 2", output)
        self.assertRegex(output, r"answered by builtin in \d+ ms")

    def test_basic_integration_over_tcp_with_a_token(self):
        output = self.run_example([sys.executable, os.path.join(EXAMPLES, "basic_integration.py"),
                                   self.pdf, QUESTION], tcp=True)
        self.assertIn("[1] lighthouse.pdf, page 2", output)

    def test_curl_walkthrough(self):
        # A question with quotes: the script must write it into JSON correctly.
        question = 'What does the "lamp" of the lighthouse burn?'
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                output = self.run_example(["bash", os.path.join(EXAMPLES, "curl-walkthrough.sh"),
                                           self.pdf, question], tcp=tcp)
                self.assertIn("== health\nok\n", output)
                self.assertRegex(output, r"[0-9a-f]{32} is ready")
                self.assertIn("event: token", output)
                self.assertIn("event: done", output)
                self.assertAnswered(output)
                self.assertIn("# curl walkthrough", output)

    def test_websocket_client(self):
        session_id = self.create({"title": "websocket example"})["session_id"]
        with open(self.pdf, "rb") as f:
            body, content_type = httpclient.multipart(
                [("session_id", session_id), ("file", "lighthouse.pdf", f.read())])
        reply = self.call("POST", "/api/v1/documents/upload", body, content_type=content_type)
        document_id = self.assertJsonReply(reply, 202)["document_id"]
        self.assertTrue(harness.wait_for(lambda: self.assertJsonReply(
            self.call("GET", f"/api/v1/documents/{document_id}"), 200)["state"] == "ready", 30))
        output = self.run_example([sys.executable, os.path.join(EXAMPLES, "ws_client.py"),
                                   session_id, QUESTION], tcp=True)
        self.assertAnswered(output)
        self.assertIn("[1] lighthouse.pdf", output)

if __name__ == "__main__":
    httptest.main()
