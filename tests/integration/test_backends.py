#!/usr/bin/python3
"""Model-server backends end to end: the daemon against the fake Ollama and OpenAI servers."""

import json
import os
import socket
import subprocess
import time
import urllib.request

from gi.repository import GLib

import harness
from harness import DAEMON_IFACE, DAEMON_PATH, INVALID_ARGS, SESSION_IFACE
from test_queries import CANCELLED, QUERY_IFACE, QueryTestCase

BACKEND_UNAVAILABLE = "org.smartrag.Error.BackendUnavailable"
FAKES_DIR = os.path.join(harness.SOURCE_DIR, "tests", "fakes")
# What the fakes stream unless told otherwise (tests/fakes/fakebase.py).
FAKE_TOKENS = ["The", " harbour", " was", " built", " in", " 1871", " [1]."]


class FakeServer:
    """tests/fakes/@script on a port of its own; it exits when we close its stdin."""

    def __init__(self, script):
        self.proc = subprocess.Popen(
            [harness.PYTHON, os.path.join(FAKES_DIR, script), "--port", "0", "--exit-with-stdin"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=harness.minimal_env())
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        # The fake is on loopback: no proxy from the environment may stand between.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=10) as reply:
            return json.loads(reply.read())

    def control(self, **behaviour):
        self._call("POST", "/_control", behaviour)

    def requests(self, path):
        return [r for r in self._call("GET", "/_requests") if r["path"] == path]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.terminate()
            self.proc.wait(10)
        self.proc.stdout.close()
        if not self.proc.stdin.closed:
            self.proc.stdin.close()


def unused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BackendTestCase(QueryTestCase):
    """A daemon answering with a model server; setUp starts @fake_script first."""

    fake_script = None

    def daemon_settings(self):
        return {}

    def setUp(self):
        self.fake = FakeServer(self.fake_script) if self.fake_script else None
        self.daemon_config = self.daemon_settings()
        try:
            super().setUp()
        except BaseException:
            self.stop_fake()
            raise

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            self.stop_fake()

    def stop_fake(self):
        if self.fake is not None:
            self.fake.stop()

    def tokens(self, events):
        return [args[1] for member, args in events if member == "Token"]

    def messages(self):
        reply = self.me.call(self.session, SESSION_IFACE, "GetMessages",
                             GLib.Variant("(uu)", (0, 0)))
        return reply.unpack()[0]

    def generation_health(self):
        reply = self.me.call(DAEMON_PATH, DAEMON_IFACE, "GetHealth")
        return reply.unpack()[1]["generation"]

    def wait_generation_health(self, predicate, timeout=10):
        """The generation component once @predicate holds (a probe runs in the background)."""
        deadline = time.monotonic() + timeout
        while True:
            health = self.generation_health()
            if predicate(health) or time.monotonic() > deadline:
                return health
            time.sleep(0.1)


class OllamaTests(BackendTestCase):
    fake_script = "fake_ollama.py"

    def daemon_settings(self):
        return {"backend": "ollama", "ollama_url": self.fake.url, "ollama_keep_alive": "10m"}

    def test_tokens_stream_in_order(self):
        events = self.follow(self.ask("When was the harbour built?", temperature=0.1))
        members = [member for member, _ in events]
        self.assertEqual(members[0], "Sources")
        self.assertEqual(members[-1], "Finished")
        self.assertEqual(self.tokens(events), FAKE_TOKENS)
        stats = events[-1][1][1]
        self.assertEqual(stats["backend"], "ollama")
        self.assertEqual(stats["model"], "llama3.2")
        self.assertEqual(stats["answer_tokens"], len(FAKE_TOKENS))
        self.assertEqual(stats["prompt_tokens"], 26)

        chat = self.fake.requests("/api/chat")[-1]["body"]
        self.assertEqual(chat["model"], "llama3.2")
        self.assertTrue(chat["stream"])
        self.assertEqual(chat["keep_alive"], "600s")
        self.assertEqual(chat["options"], {"temperature": 0.1})
        question = chat["messages"][-1]["content"]
        self.assertIn("[1] harbour.txt\nThe harbour of Lindenfeld was built in 1871.", question)
        self.assertTrue(question.endswith("Question: When was the harbour built?"), question)

        stored = self.messages()
        self.assertEqual([m["role"] for m in stored], ["user", "assistant"])
        self.assertEqual(stored[1]["content"], "".join(FAKE_TOKENS))
        self.assertEqual(stored[1]["state"], "complete")
        self.assertEqual(stored[1]["backend"], "ollama")
        self.assertEqual(stored[1]["model"], "llama3.2")

    def test_second_question_carries_the_first_exchange(self):
        self.fake.control(tokens=["It", " was", " 1871", " [1]."])
        self.follow(self.ask("When was the harbour built?"))
        self.fake.control(tokens=["On", " Saturdays", " [1]."])
        self.follow(self.ask("And when does the market open?"))

        chats = self.fake.requests("/api/chat")
        self.assertEqual(len(chats), 2)
        first, second = chats[0]["body"]["messages"], chats[1]["body"]["messages"]
        self.assertEqual([m["role"] for m in first], ["system", "user"])
        self.assertEqual([m["role"] for m in second], ["system", "user", "assistant", "user"])
        self.assertEqual(second[1]["content"], "When was the harbour built?")
        self.assertEqual(second[2]["content"], "It was 1871 [1].")
        self.assertTrue(second[3]["content"].endswith("Question: And when does the market open?"))

        # history=false leaves the conversation out.
        self.follow(self.ask("Is there a lighthouse?", history=False))
        third = self.fake.requests("/api/chat")[2]["body"]["messages"]
        self.assertEqual([m["role"] for m in third], ["system", "user"])

    def test_server_down_before_the_question(self):
        self.fake.stop()
        events = self.follow(self.ask("When was the harbour built?"))
        self.assertEqual(events[-1][0], "Failed")
        _query, error, message = events[-1][1]
        self.assertEqual(error, BACKEND_UNAVAILABLE)
        self.assertEqual(message, f"Cannot reach Ollama at {self.fake.url}: connection refused — "
                                  "is 'ollama serve' running?")
        self.assertEqual(self.tokens(events), [])
        stored = self.messages()
        self.assertEqual(stored[-1]["state"], "failed")
        self.assertEqual(stored[-1]["error"], message)
        self.assertEqual(stored[-1]["backend"], "ollama")

    def test_server_dies_mid_stream(self):
        self.fake.control(cut_after=3, token_delay=0.05)
        events = self.follow(self.ask("When was the harbour built?"))
        self.assertEqual(events[-1][0], "Failed")
        _query, error, message = events[-1][1]
        self.assertEqual(error, BACKEND_UNAVAILABLE)
        self.assertIn(self.fake.url, message)
        self.assertEqual(self.tokens(events), FAKE_TOKENS[:3])
        # What was said is kept, marked incomplete.
        stored = self.messages()
        self.assertEqual(stored[-1]["role"], "assistant")
        self.assertEqual(stored[-1]["state"], "incomplete")
        self.assertEqual(stored[-1]["content"], "".join(FAKE_TOKENS[:3]))
        self.assertEqual(stored[-1]["error"], message)

    def test_cancel_mid_stream(self):
        self.fake.control(token_delay=0.3)
        query_id = self.ask("When was the harbour built?")
        self.me.wait_signals(10, until=lambda signals: any(s["member"] == "Token"
                                                          for s in signals))
        started = time.monotonic()
        self.me.call(self.session, QUERY_IFACE, "Cancel", GLib.Variant("(s)", (query_id,)))
        events = self.follow(query_id)
        self.assertLess(time.monotonic() - started, 0.2)
        self.assertEqual(events[-1][0], "Failed")
        self.assertEqual(events[-1][1][1], CANCELLED)
        stored = self.messages()[-1]
        self.assertEqual(stored["state"], "incomplete")
        self.assertEqual(stored["error"], "The question was cancelled")
        self.assertTrue(stored["content"].startswith(FAKE_TOKENS[0]), stored["content"])

    def test_a_stop_during_answers_and_ingestion_loses_nothing(self):
        self.fake.control(token_delay=0.3)
        # Long enough to be indexing still when the stop comes.
        text = "\n\n".join(f"Paragraph {i} tells of the harbour's {i}th ship." for i in range(40000))
        document = self.add_text("Ships", text)
        query_id = self.ask("When was the harbour built?")
        self.me.wait_signals(10, until=lambda signals: any(s["member"] == "Token"
                                                          for s in signals))
        self.assertNotEqual(self.get_document(document)["state"], "ready")
        started = time.monotonic()
        self.smartragd.signal()
        # The answer in flight ends whole, and the daemon exits within the drain limit.
        events = self.follow(query_id)
        self.assertEqual(events[-1][0], "Finished")
        self.assertEqual(self.smartragd.wait_exit(10), 0)
        self.assertLess(time.monotonic() - started, 5 + 2)

        self.smartragd.start()
        self.me = self.client()
        stored = self.messages()[-1]
        self.assertEqual((stored["role"], stored["state"]), ("assistant", "complete"))
        self.assertEqual(stored["content"], "".join(FAKE_TOKENS))
        # The acknowledged document is there and is indexed to the end after the restart.
        state = harness.wait_for(
            lambda: self.get_document(document)["state"] in ("ready", "failed")
            and self.get_document(document), 60)
        self.assertTrue(state, self.get_document(document))
        self.assertEqual(state["state"], "ready", state)
        self.assertGreater(state["chunks"], 100)

    def test_asker_leaving_cancels(self):
        self.fake.control(token_delay=0.3)
        asker = self.client()
        asker.subscribe(interface=QUERY_IFACE, member="Token")
        self.ask("When was the harbour built?", endpoint=asker)
        asker.wait_signals(10, until=lambda signals: bool(signals))
        asker.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(self.messages()) < 2:
            time.sleep(0.05)
        stored = self.messages()[-1]
        self.assertEqual(stored["role"], "assistant")
        self.assertEqual(stored["state"], "incomplete")
        self.assertEqual(stored["error"], "The asker left before the answer ended")
        # The server's stream was given up too, long before it would have ended.
        self.assertLess(len(stored["content"]), len("".join(FAKE_TOKENS)))

    def test_missing_model(self):
        self.fake.control(models=["mistral:latest"])
        events = self.follow(self.ask("When was the harbour built?"))
        self.assertEqual(events[-1][1][1], BACKEND_UNAVAILABLE)
        self.assertEqual(events[-1][1][2], f"Model 'llama3.2' not found on Ollama at "
                                           f"{self.fake.url} — run 'ollama pull llama3.2'")
        health = self.wait_generation_health(lambda h: h.get("has_model") is False)
        self.assertEqual(health["status"], "degraded")
        self.assertTrue(health["reachable"])
        self.assertIn("ollama pull llama3.2", health["message"])

    def test_health(self):
        health = self.wait_generation_health(lambda h: "reachable" in h)
        self.assertEqual(health["status"], "ok", health)
        self.assertEqual(health["backend"], "ollama")
        self.assertEqual(health["active"], "ollama")
        self.assertEqual(health["model"], "llama3.2")
        self.assertEqual(health["url"], self.fake.url)
        self.assertTrue(health["reachable"])
        self.assertTrue(health["has_model"])
        self.assertGreater(health["checked_at"], 0)
        self.assertEqual(self.get(self.me, DAEMON_PATH, "GenerationBackend",
                                  interface=DAEMON_IFACE), ("s", "ollama"))

    def test_backend_option(self):
        stats = self.ask_and_wait("When was the harbour built?", backend="builtin")[2]
        self.assertEqual(stats["backend"], "builtin")
        self.assertEqual(stats["model"], "extractive")
        self.assertEqual(self.ask_and_wait("When was the harbour built?",
                                           backend="ollama")[2]["backend"], "ollama")
        message = self.assertBusError(INVALID_ARGS, self.ask, "harbour?", backend="openai")
        self.assertEqual(message, "Invalid backend 'openai': expected one of auto, builtin, "
                                  "ollama (what this daemon is configured with)")


class DeadOllamaTests(BackendTestCase):
    """backend=ollama with nothing listening: the daemon starts, questions fail."""

    def daemon_settings(self):
        self.url = f"http://127.0.0.1:{unused_port()}"
        return {"backend": "ollama", "ollama_url": self.url}

    def test_starts_and_says_so(self):
        health = self.wait_generation_health(lambda h: "reachable" in h)
        self.assertEqual(health["status"], "degraded")
        self.assertFalse(health["reachable"])
        self.assertIn("connection refused", health["message"])
        message = self.assertBusError(BACKEND_UNAVAILABLE, self.ask_and_wait, "harbour?")
        self.assertIn(self.url, message)


class AutoTests(BackendTestCase):
    """auto with no Ollama: the builtin generator answers."""

    def daemon_settings(self):
        self.url = f"http://127.0.0.1:{unused_port()}"
        return {"backend": "auto", "ollama_url": self.url}

    def test_builtin_answers(self):
        events = self.follow(self.ask("When was the harbour built?"))
        self.assertEqual(events[-1][0], "Finished")
        self.assertIn("1871", "".join(self.tokens(events)))
        self.assertEqual(events[-1][1][1]["backend"], "builtin")
        self.assertEqual(self.messages()[-1]["backend"], "builtin")

        health = self.wait_generation_health(lambda h: "reachable" in h)
        self.assertEqual(health["status"], "ok")
        self.assertEqual(health["backend"], "auto")
        self.assertEqual(health["active"], "builtin")
        self.assertEqual(health["url"], self.url)
        self.assertFalse(health["reachable"])
        self.assertIn("the builtin generator answers meanwhile", health["message"])


class AutoWithOllamaTests(BackendTestCase):
    fake_script = "fake_ollama.py"

    def daemon_settings(self):
        return {"backend": "auto", "ollama_url": self.fake.url, "ollama_preload": "true"}

    def test_ollama_answers_and_was_preloaded(self):
        events = self.follow(self.ask("When was the harbour built?"))
        self.assertEqual(self.tokens(events), FAKE_TOKENS)
        self.assertEqual(events[-1][1][1]["backend"], "ollama")
        # The property says what is configured; which one answers is the answer's (and
        # health's) to say.
        self.assertEqual(self.get(self.me, DAEMON_PATH, "GenerationBackend",
                                  interface=DAEMON_IFACE), ("s", "auto"))
        loads = [r for r in self.fake.requests("/api/chat") if not r["body"]["messages"]]
        self.assertEqual(len(loads), 1)


class OpenAITests(BackendTestCase):
    fake_script = "fake_openai.py"
    KEY = "sk-integration-test"

    def daemon_settings(self):
        key_file = os.path.join(self.class_dir, "openai.key")
        with open(key_file, "w") as f:
            f.write(self.KEY + "\n")
        os.chmod(key_file, 0o644)
        return {"backend": "openai", "openai_url": self.fake.url + "/v1",
                "openai_model": "fake-model", "openai_api_key_file": key_file}

    def setUp(self):
        super().setUp()
        self.fake.control(api_key=self.KEY)

    def test_end_to_end(self):
        events = self.follow(self.ask("When was the harbour built?", max_tokens=50))
        self.assertEqual(self.tokens(events), FAKE_TOKENS)
        stats = events[-1][1][1]
        self.assertEqual(stats["backend"], "openai")
        self.assertEqual(stats["model"], "fake-model")
        self.assertEqual(stats["prompt_tokens"], 31)
        self.assertEqual(stats["answer_tokens"], len(FAKE_TOKENS))
        request = self.fake.requests("/v1/chat/completions")[-1]
        self.assertEqual(request["headers"]["authorization"], f"Bearer {self.KEY}")
        self.assertEqual(request["body"]["stream_options"], {"include_usage": True})
        self.assertEqual(request["body"]["max_tokens"], 50)
        # The key never reaches the log.
        self.assertNotIn(self.KEY, self.smartragd.log())


class ConfigTests(harness.IntegrationTest):
    polkit_needed = False

    def test_openai_without_url_is_refused(self):
        daemon = self.new_daemon(backend="openai").start(wait_ready=False)
        self.assertEqual(daemon.wait_exit(10), 1)
        self.assertIn('[generation] openai_url = "": expected the URL', daemon.log())

    def test_unreadable_key_file_is_refused(self):
        daemon = self.new_daemon(backend="openai", openai_url="http://127.0.0.1:9/v1",
                                 openai_api_key_file="/nonexistent/openai.key")
        daemon.start(wait_ready=False)
        self.assertEqual(daemon.wait_exit(10), 1)
        self.assertIn("Cannot read the API key file ([generation] openai_api_key_file)",
                      daemon.log())


if __name__ == "__main__":
    harness.main()
