#!/usr/bin/python3
"""Embedding servers: Ollama and OpenAI-compatible embedders against tests/fakes/fake_embed.py,
documents that wait for a server that does not answer, re-embedding after a change."""

import json
import os
import sqlite3
import subprocess
import time
import urllib.request

import harness
from test_documents import DocumentTestCase

FAKE = os.path.join(harness.SOURCE_DIR, "tests", "fakes", "fake_embed.py")
DIMENSIONS = 24
# The OpenAI side of the fake wants it; the Ollama side ignores it.
API_KEY = "sk-test-4b1d"

LIGHTHOUSE = "The lighthouse keeper polishes the great lens every evening at dusk."
BREAD = "Sourdough bread needs flour, water, salt and a patient baker."
GLACIERS = "Glaciers carve deep valleys into the mountains over thousands of years."


class FakeServer:
    """fake_embed.py in a process of its own; stop() makes its port refuse connections."""

    def __init__(self, port=0):
        self.proc = subprocess.Popen(
            [harness.PYTHON, FAKE, "--port", str(port), "--dimensions", str(DIMENSIONS),
             "--model", "fake-embed", "--model", "other-embed", "--api-key", API_KEY],
            stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"

    def control(self, **settings):
        request = urllib.request.Request(f"{self.url}/control",
                                         data=json.dumps(settings).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def requests(self):
        with urllib.request.urlopen(f"{self.url}/requests", timeout=10) as answer:
            return json.load(answer)["requests"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


class EmbedderTests(DocumentTestCase):

    def setUp(self):
        self.fake = FakeServer()
        self.daemon_config = {
            "embedding_backend": "ollama",
            "embedding_ollama_url": self.fake.url,
            "embedding_ollama_model": "fake-embed",
        }
        super().setUp()

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            self.fake.stop()

    def health(self):
        reply = self.me.call(harness.DAEMON_PATH, harness.DAEMON_IFACE, "GetHealth")
        status, components = reply.unpack()
        return status, components["embedding"]

    def wait_health(self, predicate, what, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            status, embedding = self.health()
            if predicate(embedding):
                return status, embedding
            self.assertLess(time.monotonic(), deadline, f"{what}: {embedding}")
            time.sleep(0.1)

    def wait_message(self, document_id, timeout=20):
        """The first DocumentChanged of @document_id that carries a message."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for signal in self.me.wait_signals(0.2):
                doc, state, _progress, message = harness.variant_from_text(
                    signal["args"]).unpack()
                self.states.setdefault(doc, []).append(state)
                if doc == document_id and message:
                    return state, message
        self.fail(f"document {document_id} announced no message")

    def wait_state(self, document_id, state, message=None, timeout=40):
        """Polled: a document resumed at start has no adder to tell."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.get_document(document_id)
            if info["state"] == state and message in (None, info["message"]):
                return info
            self.assertLess(time.monotonic(), deadline, f"still {info}")
            time.sleep(0.1)

    def stored_models(self):
        path = os.path.join(self.smartragd.state_dir, "smartrag.db")
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return dict(db.execute(
                "SELECT embedding_model, count(*) FROM chunks GROUP BY embedding_model"))

    def restart_with(self, **values):
        self.stop_daemon(self.smartragd)
        config = self.write_config(name=f"restart-{len(self.daemons)}.conf", max_file_size="64K",
                                   **values)
        self.smartragd = self.new_daemon(state_dir=self.smartragd.state_dir,
                                         config=config).start()

    def test_ollama_documents_are_found(self):
        status, embedding = self.wait_health(lambda e: e["server"] != "unknown",
                                             "the server was never asked")
        self.assertEqual(status, "ok")
        self.assertEqual(embedding["backend"], "ollama")
        self.assertEqual(embedding["model"], "ollama:fake-embed")
        self.assertEqual(embedding["url"], self.fake.url)
        self.assertEqual(embedding["server"], "available")
        self.assertEqual(embedding["dimensions"], DIMENSIONS)
        self.assertGreater(embedding["checked_at"], 0)
        self.assertEqual(self.get(self.me, harness.DAEMON_PATH, "EmbeddingBackend",
                                  interface=harness.DAEMON_IFACE), ("s", "ollama"))

        doc = self.add_text("Lighthouse", LIGHTHOUSE)
        self.assertEqual(self.wait_settled(doc)[-1], "ready")
        self.assertEqual(self.search("lighthouse keeper", k=1)[0]["document_id"], doc)
        # No word of it is in the document: the server's vectors alone find it.
        self.assertEqual(self.search("zebra", k=1)[0]["document_id"], doc)

        requests = self.fake.requests()
        self.assertTrue(requests)
        self.assertTrue(all(r["path"] == "/api/embed" and r["model"] == "fake-embed"
                            and r["truncate"] is True for r in requests), requests)
        self.assertEqual(self.stored_models(), {"ollama:fake-embed": 1})

    def test_document_waits_while_the_server_is_down(self):
        first = self.add_text("Lighthouse", LIGHTHOUSE)
        self.assertEqual(self.wait_settled(first)[-1], "ready")
        port = self.fake.port
        self.fake.stop()

        doc = self.add_text("Glaciers", GLACIERS)
        state, message = self.wait_message(doc)
        expected = (f"Waiting for the embedding server: Cannot reach Ollama at {self.fake.url}: "
                    "connection refused — is 'ollama serve' running?")
        self.assertEqual((state, message), ("indexing", expected))
        info = self.get_document(doc)
        self.assertEqual((info["state"], info["message"]), ("indexing", expected))

        status, embedding = self.health()
        self.assertEqual(status, "degraded")
        self.assertEqual(embedding["status"], "degraded")
        self.assertEqual(embedding["server"], "unavailable")
        self.assertEqual(embedding["documents_waiting"], 1)
        self.assertIn(self.fake.url, embedding["message"])
        # Searching neither fails nor waits: the words are searched alone.
        started = time.monotonic()
        self.assertEqual(self.search("lighthouse keeper", k=1)[0]["document_id"], first)
        self.assertLess(time.monotonic() - started, 2)

        # Nothing is lost across a restart either: taken up again, it waits again.
        self.restart_with(**self.daemon_config)
        self.wait_state(doc, "indexing", expected)

        self.fake = FakeServer(port)
        self.wait_state(doc, "ready")
        self.assertEqual(self.search("glaciers valleys", k=1)[0]["document_id"], doc)
        status, embedding = self.wait_health(lambda e: e["documents_waiting"] == 0,
                                             "documents still wait")
        self.assertEqual(embedding["server"], "available")

    def test_another_embedder_re_embeds_in_the_background(self):
        docs = [self.add_text("Lighthouse", LIGHTHOUSE), self.add_text("Bread", BREAD),
                self.add_text("Glaciers", GLACIERS)]
        for doc in docs:
            self.assertEqual(self.wait_settled(doc)[-1], "ready")
        self.assertEqual(self.stored_models(), {"ollama:fake-embed": 3})

        key_file = os.path.join(self.workdir, "openai.key")
        with open(key_file, "w") as f:
            f.write(f"  {API_KEY}\n")
        os.chmod(key_file, 0o600)
        # Slow enough to watch the work, and to search while it goes on.
        self.fake.control(delay=0.5)
        self.restart_with(embedding_backend="openai",
                          embedding_openai_url=f"{self.fake.url}/v1",
                          embedding_openai_model="other-embed",
                          embedding_openai_api_key_file=key_file,
                          embedding_batch_size="1")
        status, embedding = self.wait_health(
            lambda e: e["reembed_counted"] and e["dimensions"] > 0, "never counted")
        self.assertEqual(embedding["model"], "openai:other-embed")
        self.assertEqual(self.search("sourdough baker", k=1)[0]["document_id"], docs[1])

        self.fake.control(reset=True)
        status, embedding = self.wait_health(lambda e: e["reembed_left"] == 0,
                                             "re-embedding did not finish")
        self.assertEqual(status, "ok")
        self.assertEqual(embedding["reembedded"] + embedding["reembed_skipped"], 3)
        self.assertEqual(embedding["reembed_skipped"], 0)
        self.assertEqual(self.stored_models(), {"openai:other-embed": 3})
        openai = [r for r in self.fake.requests() if r["path"] == "/v1/embeddings"]
        self.assertTrue(openai)
        self.assertTrue(all(r["model"] == "other-embed" and r["inputs"] == 1
                            and r["authorization"] == f"Bearer {API_KEY}" for r in openai), openai)

        for text, doc in (("lighthouse lens", docs[0]), ("flour water salt", docs[1]),
                          ("glaciers", docs[2])):
            self.assertEqual(self.search(text, k=1)[0]["document_id"], doc)
        self.assertEqual(len(self.search("zebra", k=3)), 3)
        log = self.smartragd.log()
        self.assertNotIn("CRITICAL", log)
        self.assertNotIn(API_KEY, log)


if __name__ == "__main__":
    harness.main()
