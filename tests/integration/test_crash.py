#!/usr/bin/python3
"""Crash safety: SIGKILL while documents arrive loses nothing that was acknowledged."""

import os
import random
import signal
import time

from gi.repository import GLib

import harness

DOCUMENT_IFACE = "org.smartrag.Daemon.Document"
QUERY_IFACE = "org.smartrag.Daemon.Query"

TOPICS = ["harbour", "orchard", "glacier", "library", "bakery", "observatory", "vineyard",
          "lighthouse", "market", "railway", "monastery", "quarry"]
QUERIES = ["when does the harbour open", "apples in the orchard", "glacier ice thickness",
           "library opening hours", "fresh bread", "telescope at night"]


FILLER = ["quiet", "old", "busy", "narrow", "famous", "windy", "painted", "local", "small",
          "northern", "restored", "seasonal"]


def document_text(title, rng):
    # Lengths and wording vary, so no two documents score exactly alike: tied hits would
    # be ordered by row id, which differs between two databases.
    topic = rng.choice(TOPICS)
    other = rng.choice(TOPICS)
    words = " ".join(rng.sample(FILLER, rng.randint(1, 6)))
    return (f"{title} describes the {topic}. The {topic} is visited by {rng.randint(2, 900)} "
            f"people each week, mostly in the morning.\n\nNear the {topic} there is a {other}, "
            f"{words}, which keeps its own hours and records.")


class CrashTests(harness.IntegrationTest):

    def setUp(self):
        super().setUp()
        self.polkit.set_allowed([harness.ACTION_USE])

    def add_texts(self, endpoint, session, texts):
        for title, text in texts.items():
            endpoint.start_calls(1, session, DOCUMENT_IFACE, "AddText",
                                 GLib.Variant("(ssa{sv})", (title, text, {})))

    def documents(self, endpoint, session):
        reply = endpoint.call(session, DOCUMENT_IFACE, "ListDocuments")
        return reply.unpack()[0]

    def wait_all_settled(self, endpoint, session, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            docs = self.documents(endpoint, session)
            if all(d["state"] in ("ready", "failed") for d in docs):
                return docs
            time.sleep(0.1)
        self.fail("documents did not settle: "
                  f"{[(d['title'], d['state']) for d in self.documents(endpoint, session)]}")

    def search(self, endpoint, session, text):
        """Every hit with its score and text, sorted: hits whose fused scores tie exactly
        are ordered by row id, and row ids differ between two databases."""
        reply = endpoint.call(session, QUERY_IFACE, "Search",
                              GLib.Variant("(sa{sv})", (text, {"k": GLib.Variant("u", 100)})))
        return sorted((round(hit["score"], 9), hit["filename"], hit["text"])
                      for hit in reply.unpack()[0])

    def test_sigkill_while_adding_loses_nothing_acknowledged(self):
        seed = int(os.environ.get("SMARTRAG_CRASH_SEED", time.time_ns() % 100000))
        print(f"crash test seed: {seed} (set SMARTRAG_CRASH_SEED to repeat)")
        rng = random.Random(seed)
        daemon = self.start_daemon()
        session = self.create_session(self.client(), title="Crash")
        sent, acknowledged = {}, set()

        for round_ in range(4):
            endpoint = self.client()
            texts = {f"doc-{round_}-{i:02d}": "" for i in range(12)}
            for title in texts:
                texts[title] = document_text(title, rng)
            sent.update(texts)
            self.add_texts(endpoint, session, texts)
            time.sleep(rng.uniform(0.0, 0.25))
            daemon.signal(signal.SIGKILL)
            self.assertIsNotNone(daemon.wait_exit(5))
            for outcome in endpoint.collect(3).values():
                if "reply" in outcome:
                    acknowledged.add(harness.variant_from_text(outcome["reply"]).unpack()[0])
            daemon.start()

        me = self.client()
        docs = self.wait_all_settled(me, session)
        present = {d["id"]: d for d in docs}
        missing = acknowledged - present.keys()
        self.assertFalse(missing, f"acknowledged documents lost: {missing}")
        for doc in docs:
            self.assertEqual(doc["state"], "ready", doc)
            self.assertIn(doc["title"], sent)
        print(f"{len(acknowledged)} acknowledged, {len(docs)} present after 4 kills")

        answers = {query: self.search(me, session, query) for query in QUERIES}
        self.stop_daemon(daemon)

        # The same documents added to a fresh daemon give the same answers.
        self.start_daemon(state_dir=self.new_state_dir("clean"))
        other = self.client()
        clean_session = self.create_session(other, title="Clean")
        self.add_texts(other, clean_session, {d["title"]: sent[d["title"]] for d in docs})
        other.collect(30)
        self.wait_all_settled(other, clean_session)
        for query in QUERIES:
            self.assertEqual(answers[query], self.search(other, clean_session, query), query)


if __name__ == "__main__":
    harness.main()
