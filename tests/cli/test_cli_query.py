#!/usr/bin/python3
"""smartrag-cli query, history, search and export; Ctrl-C cancels a streamed answer."""

import json
import re
import select
import signal
import time

import clitest
from clitest import EXIT_BACKEND, EXIT_INTERRUPTED, EXIT_USAGE
from test_backends import FakeServer, unused_port

TEA = "# Brewing tea\n\n## Green tea\n\nSteep green tea for two minutes at 80 degrees.\n"
QUESTION = "How long should green tea steep?"


def read_until(proc, text, timeout):
    """stdout of @proc until it holds @text (or it ends, or @timeout passes)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            chunk = proc.stdout.read1(4096)
            if not chunk:
                break
            seen += chunk
    return seen.decode()


class QueryCommands(clitest.CliTest):

    def setUp(self):
        super().setUp()
        self.session = self.new_session("Tea")
        self.ok("upload", "--wait", "--session", self.session, self.write("tea.md", TEA))

    def test_answer_sources_and_json(self):
        text = self.ok("query", "--session", self.session, QUESTION).out
        self.assertIn("two minutes at 80 degrees. [1]", text)
        self.assertIn("\nSources:\n  [1] tea.md — Brewing tea > Green tea\n", text)

        answer = self.ok("query", "--json", "-k", "1", "--session", self.session, QUESTION).json()
        self.assertRegex(answer["query_id"], r"^[0-9a-f]{32}$")
        self.assertIn("two minutes", answer["answer"])
        self.assertEqual([s["filename"] for s in answer["sources"]], ["tea.md"])
        self.assertEqual(answer["stats"]["backend"], "builtin")

        self.fails(EXIT_USAGE, "query", "--session", self.session, contains="Missing argument")

    def test_history_search_export(self):
        self.ok("query", "--session", self.session, QUESTION)
        history = self.ok("history", "--session", self.session).out
        self.assertRegex(history, rf"(?m)^\[[-0-9 :]+\] You: {re.escape(QUESTION)}$")
        self.assertRegex(history, r"(?m)^\[[-0-9 :]+\] SmartRAG: .*two minutes")
        messages = self.ok("history", "--json", "--session", self.session).json()["messages"]
        self.assertEqual([m["role"] for m in messages], ["user", "assistant"])
        self.assertEqual(messages[1]["sources"][0]["filename"], "tea.md")

        found = self.ok("search", "--json", "--session", self.session, "degrees").json()
        self.assertEqual([m["role"] for m in found["messages"]], ["assistant"])
        self.assertEqual(self.ok("search", "--session", self.session, "volcano").out, "")

        markdown = self.ok("export", "--session", self.session).out
        self.assertTrue(markdown.startswith("# Tea\n"), markdown)
        path = f"{self.workdir}/tea.json"
        self.ok("export", "--session", self.session, "--format", "json", "--output", path)
        with open(path) as f:
            exported = json.load(f)
        self.assertEqual(exported["session"]["id"], self.session)
        self.assertEqual(len(exported["messages"]), 2)
        self.fails(EXIT_USAGE, "export", "--format", "pdf",
                   contains="Invalid format 'pdf': expected json or markdown")


class StreamedAnswers(clitest.CliTest):
    """A fake Ollama that streams slowly, so that tokens and Ctrl-C can be watched."""

    def setUp(self):
        self.fake = FakeServer("fake_ollama.py")
        self.daemon_config = {"backend": "ollama", "ollama_url": self.fake.url}
        try:
            super().setUp()
            self.session = self.new_session("Harbour")
            self.ok("upload", "--wait", "--session", self.session,
                    self.write("harbour.txt", "The harbour was built in 1871.\n"))
        except BaseException:
            self.fake.stop()
            raise

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            self.fake.stop()

    def test_tokens_print_as_they_arrive(self):
        self.fake.control(token_delay=0.4)
        proc = self.spawn("query", "--session", self.session, "When was the harbour built?")
        try:
            seen = read_until(proc, " harbour", 20)
            # The first words are out while the rest is still being generated.
            self.assertIsNone(proc.poll(), seen)
            self.assertTrue(seen.startswith("The harbour"), seen)
            out, err = proc.communicate(timeout=20)
        finally:
            proc.kill() if proc.poll() is None else None
        self.assertEqual(proc.returncode, 0, err)
        text = seen + out.decode()
        self.assertIn("The harbour was built in 1871 [1].\n\nSources:\n  [1] harbour.txt", text)

    def test_ctrl_c_cancels(self):
        self.fake.control(token_delay=1.0)
        proc = self.spawn("query", "--session", self.session, "When was the harbour built?")
        try:
            seen = read_until(proc, "The", 20)
            self.assertIn("The", seen)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=20)
        finally:
            proc.kill() if proc.poll() is None else None
        self.assertEqual(proc.returncode, EXIT_INTERRUPTED, err)
        self.assertIn("Cancelled; the answer so far is kept", err.decode())
        messages = self.ok("history", "--json", "--session", self.session).json()["messages"]
        self.assertEqual(messages[-1]["state"], "incomplete")


class UnreachableModelServer(clitest.CliTest):

    def setUp(self):
        self.daemon_config = {"backend": "ollama",
                              "ollama_url": f"http://127.0.0.1:{unused_port()}"}
        super().setUp()

    def test_backend_unavailable(self):
        session = self.new_session()
        self.ok("upload", "--wait", "--session", session, self.write("a.txt", "Apples are red.\n"))
        result = self.fails(EXIT_BACKEND, "query", "--session", session, "What colour?",
                            contains=("The answer stopped", "Cannot reach Ollama at"))
        self.assertEqual(len(result.err.splitlines()), 1, result)
        failed = self.cli("query", "--json", "--session", session, "What colour?")
        self.assertEqual(failed.code, EXIT_BACKEND, failed)
        self.assertEqual(failed.json()["error"], "org.smartrag.Error.BackendUnavailable")


if __name__ == "__main__":
    clitest.main()
