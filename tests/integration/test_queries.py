#!/usr/bin/python3
"""Questions over the bus: Ask streams its answer to the asker alone, AskAndWait, Cancel, limits."""

import json
import time

from gi.repository import GLib

import harness
from harness import ACCESS_DENIED, INVALID_ARGS, denied_message, session_id
from test_conversations import export_to_pipe, items
from test_documents import DocumentTestCase, make_pdf

QUERY_IFACE = "org.smartrag.Daemon.Query"
BUSY = "org.smartrag.Error.Busy"
NOT_FOUND = "org.smartrag.Error.NotFound"
TOO_LARGE = "org.smartrag.Error.TooLarge"
CANCELLED = "org.smartrag.Error.Cancelled"

CITY = [
    ("harbour.txt", "The harbour of Lindenfeld was built in 1871. Fishing boats still land "
     "their catch there every morning.\n\nA lighthouse guards the entrance of the harbour."),
    ("market.txt", "The market opens on Saturdays. Farmers sell cheese, apples and honey. "
     "The honey of the Lindenfeld hills is famous for its dark colour."),
    ("school.txt", "The old school closed in 1990. Its building now houses the town library, "
     "which lends books, films and board games."),
]


def options(**values):
    types = {"k": "u", "history": "b", "backend": "s", "model": "s", "temperature": "d",
             "max_tokens": "u"}
    return {name: GLib.Variant(types[name], value) for name, value in values.items()}


class QueryTestCase(DocumentTestCase):
    """A session holding the CITY documents, and helpers that ask and follow answers."""

    daemon_config = {}

    def setUp(self):
        super().setUp()
        for name, text in CITY:
            self.assertEqual(self.wait_settled(self.add_text(name, text))[-1], "ready")
        self.me.subscribe(interface=QUERY_IFACE, member=None)

    def ask(self, question, endpoint=None, **opts):
        reply = (endpoint or self.me).call(self.session, QUERY_IFACE, "Ask",
                                           GLib.Variant("(sa{sv})", (question, options(**opts))))
        return reply.unpack()[0]

    def ask_and_wait(self, question, **opts):
        reply = self.me.call(self.session, QUERY_IFACE, "AskAndWait",
                             GLib.Variant("(sa{sv})", (question, options(**opts))))
        return reply.unpack()

    def follow(self, query_id, endpoint=None, timeout=20):
        """The Query signals for @query_id, in order, up to and with Finished or Failed."""
        endpoint = endpoint or self.me
        seen = []

        def ended(signals):
            return any(s["member"] in ("Finished", "Failed")
                       and harness.variant_from_text(s["args"]).unpack()[0] == query_id
                       for s in signals)

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not ended(seen):
            seen += endpoint.wait_signals(0.5, until=ended) if endpoint is self.me else \
                endpoint.wait_signals(0.5)
        events = [(s["member"], harness.variant_from_text(s["args"]).unpack()) for s in seen]
        mine = [(member, args) for member, args in events if args[0] == query_id]
        self.assertTrue(mine and mine[-1][0] in ("Finished", "Failed"),
                        f"query {query_id} did not end; signals: {events}")
        return mine

    def assertBusError(self, name, call, *args, **kwargs):
        with self.assertRaises(harness.BusError) as caught:
            call(*args, **kwargs)
        self.assertEqual(caught.exception.name, name, caught.exception.message)
        return caught.exception.message


class AskTests(QueryTestCase):

    def test_answer_streams_with_sources(self):
        query_id = self.ask("When was the harbour built?")
        self.assertRegex(query_id, harness.ID_PATTERN)
        events = self.follow(query_id)
        members = [member for member, _ in events]
        self.assertEqual(members[0], "Sources")
        self.assertEqual(members[-1], "Finished")
        self.assertEqual(set(members[1:-1]), {"Token"}, members)

        sources = events[0][1][1]
        self.assertEqual(sources[0]["filename"], "harbour.txt")
        self.assertIn("1871", sources[0]["text"])
        answer = "".join(args[1] for member, args in events if member == "Token")
        self.assertIn("1871", answer)
        self.assertIn("[1]", answer)

        stats = events[-1][1][1]
        self.assertEqual(stats["backend"], "builtin")
        self.assertEqual(stats["model"], "extractive")
        self.assertEqual(stats["answer_tokens"], members.count("Token"))
        self.assertGreater(stats["ttft_ms"], 0)
        self.assertGreaterEqual(stats["total_ms"], stats["ttft_ms"])
        # The question and the answer are part of the conversation now.
        self.assertEqual(self.get(self.me, self.session, "MessageCount"), ("u", 2))

    def test_counts_are_announced(self):
        self.me.subscribe()  # PropertiesChanged
        answer, _, _ = self.ask_and_wait("When was the harbour built?")

        def counts(signals):
            seen = []
            for s in signals:
                if s["member"] == "PropertiesChanged" and s["path"] == self.session:
                    _iface, changed, _ = harness.variant_from_text(s["args"]).unpack()
                    seen.append(changed.get("MessageCount"))
            return seen

        signals = self.me.wait_signals(5, until=lambda s: 2 in counts(s))
        self.assertEqual([c for c in counts(signals) if c is not None], [1, 2])
        doc = self.add_text("new.txt", "A new document about the harbour.")
        signals = self.me.wait_signals(5, until=lambda s: any(
            s["member"] == "PropertiesChanged" and "DocumentCount" in s["args"] for s in s))
        changed = [harness.variant_from_text(s["args"]).unpack()[1] for s in signals
                   if s["member"] == "PropertiesChanged"]
        self.assertIn(4, [c.get("DocumentCount") for c in changed], doc)

    def test_ask_and_wait_returns_the_same_answer(self):
        query_id = self.ask("Which honey is famous?")
        streamed = "".join(args[1] for member, args in self.follow(query_id) if member == "Token")
        answer, sources, stats = self.ask_and_wait("Which honey is famous?", history=False)
        self.assertEqual(answer, streamed)
        self.assertEqual(sources[0]["filename"], "market.txt")
        self.assertEqual(stats["backend"], "builtin")
        self.assertEqual(self.get(self.me, self.session, "MessageCount"), ("u", 4))

    def test_the_conversation_keeps_questions_and_answers(self):
        first, sources, _ = self.ask_and_wait("When was the harbour built?")
        second, _, _ = self.ask_and_wait("What does the library lend?")
        messages = items(self.me.call(self.session, harness.SESSION_IFACE, "GetMessages",
                                      GLib.Variant("(uu)", (0, 0))))
        self.assertEqual([m["role"][1] for m in messages],
                         ["user", "assistant", "user", "assistant"])
        self.assertEqual(messages[0]["content"][1], "When was the harbour built?")
        self.assertEqual(messages[1]["content"][1], first)
        self.assertEqual(messages[3]["content"][1], second)
        self.assertEqual(messages[1]["state"][1], "complete")
        self.assertEqual(messages[1]["backend"][1], "builtin")
        self.assertEqual(messages[0]["query_id"][1], messages[1]["query_id"][1])
        stored = messages[1]["sources"][1]
        self.assertEqual([s["document_id"] for s in stored],
                         [s["document_id"] for s in sources])
        self.assertEqual(stored[0]["text"], sources[0]["text"])

        found = items(self.me.call(self.session, harness.SESSION_IFACE, "SearchMessages",
                                   GLib.Variant("(su)", ("library", 0))))
        self.assertEqual({m["content"][1] for m in found},
                         {"What does the library lend?", second})

        exported = json.loads(export_to_pipe(self.me, self.session, "json"))
        self.assertEqual([m["content"] for m in exported["messages"]],
                         [m["content"][1] for m in messages])
        self.assertEqual(exported["messages"][1]["sources"][0]["filename"], "harbour.txt")
        markdown = export_to_pipe(self.me, self.session, "markdown")
        self.assertIn("When was the harbour built?", markdown)
        self.assertIn("harbour.txt", markdown)
        self.assertIn(first, markdown)

    def test_documents_without_the_answer_say_so(self):
        answer, _sources, _stats = self.ask_and_wait("Who won the chess tournament in Oslo?")
        self.assertNotIn("[1]", answer)
        self.assertIn("not", answer)

    def test_answers_go_to_the_asker_alone(self):
        # Another connection of the same user, and another user, both listening.
        twin = self.client()
        twin.subscribe(interface=QUERY_IFACE, member=None)
        other = self.client(self.nobody())
        other.subscribe(interface=QUERY_IFACE, member=None)
        query_id = self.ask("What does the library lend?")
        self.assertEqual(self.follow(query_id)[-1][0], "Finished")
        self.assertEqual(twin.wait_signals(1.0), [])
        self.assertEqual(other.wait_signals(1.0), [])

    def test_other_users_cannot_ask_or_cancel(self):
        other = self.client(self.nobody())
        query_id = self.ask("When did the school close?")
        for method, args in (("Ask", GLib.Variant("(sa{sv})", ("school", {}))),
                             ("AskAndWait", GLib.Variant("(sa{sv})", ("school", {}))),
                             ("Cancel", GLib.Variant("(s)", (query_id,)))):
            message = self.assertBusError(ACCESS_DENIED, other.call, self.session, QUERY_IFACE,
                                          method, args)
            self.assertEqual(message, denied_message(session_id(self.session)))
        self.assertEqual(self.follow(query_id)[-1][0], "Finished")

    def test_cancel(self):
        query_id = self.ask("Tell me about the lighthouse and the harbour")
        try:
            self.me.call(self.session, QUERY_IFACE, "Cancel", GLib.Variant("(s)", (query_id,)))
            cancelled = True
        except harness.BusError as error:
            # The answer may have been quicker than the Cancel.
            self.assertEqual(error.name, NOT_FOUND)
            cancelled = False
        events = self.follow(query_id)
        if cancelled:
            self.assertEqual(events[-1][0], "Failed")
            self.assertEqual(events[-1][1][1], CANCELLED)
        else:
            self.assertEqual(events[-1][0], "Finished")
        # A finished query cannot be cancelled.
        message = self.assertBusError(NOT_FOUND, self.me.call, self.session, QUERY_IFACE,
                                      "Cancel", GLib.Variant("(s)", (query_id,)))
        self.assertIn(query_id, message)

    def test_bad_questions_and_options(self):
        for question, opts, name, phrase in (
                ("", {}, INVALID_ARGS, "Invalid question: it is empty"),
                ("   \n", {}, INVALID_ARGS, "Invalid question: it is empty"),
                ("harbour", {"k": 0}, INVALID_ARGS, "Invalid k"),
                ("harbour", {"k": 101}, INVALID_ARGS, "Invalid k"),
                ("harbour", {"backend": "gpt"}, INVALID_ARGS, "Invalid backend 'gpt'"),
                ("harbour", {"temperature": 3.5}, INVALID_ARGS, "Invalid temperature"),
                ("harbour", {"max_tokens": 10 ** 6}, INVALID_ARGS, "Invalid max_tokens"),
                ("x" * 20000, {}, TOO_LARGE, "at most 16384 bytes")):
            message = self.assertBusError(name, self.ask, question, **opts)
            self.assertIn(phrase, message)
        message = self.assertBusError(
            INVALID_ARGS, self.me.call, self.session, QUERY_IFACE, "Ask",
            GLib.Variant("(sa{sv})", ("harbour", {"k": GLib.Variant("s", "five")})))
        self.assertIn("Invalid option 'k'", message)
        message = self.assertBusError(
            INVALID_ARGS, self.me.call, self.session, QUERY_IFACE, "Ask",
            GLib.Variant("(sa{sv})", ("harbour", {"colour": GLib.Variant("s", "red")})))
        self.assertIn("Unknown option 'colour'", message)
        # Nothing of the refused questions was kept.
        self.assertEqual(self.get(self.me, self.session, "MessageCount"), ("u", 0))
        # Options of every type a client may send for a number.
        answer, _, _ = self.ask_and_wait("harbour", temperature=0.5, k=2, history=False,
                                         backend="auto", max_tokens=100)
        self.assertIn("[1]", answer)
        self.assertEqual(self.get(self.me, self.session, "MessageCount"), ("u", 2))

    def test_unknown_session(self):
        missing = harness.session_path(harness.random_id())
        with self.assertRaises(harness.BusError) as caught:
            self.me.call(missing, QUERY_IFACE, "Ask", GLib.Variant("(sa{sv})", ("x", {})))
        self.assertEqual(caught.exception.name, ACCESS_DENIED)

    def test_multi_page_pdf_answer_cites_its_page(self):
        pdf = make_pdf(["Chapter one is about the river.",
                        "The bridge over the river was painted green in 2004.",
                        "Chapter three is about the mountains."])
        doc = self.add_file(pdf, "guide.pdf")
        self.assertEqual(self.wait_settled(doc)[-1], "ready")
        answer, sources, _stats = self.ask_and_wait("What colour was the bridge painted?")
        self.assertIn("green", answer)
        self.assertEqual(sources[0]["filename"], "guide.pdf")
        self.assertEqual(sources[0]["page"], 2)


class BusyTests(QueryTestCase):
    daemon_config = {"max_queries_per_user": "1"}

    def test_one_question_at_a_time(self):
        args = GLib.Variant("(sa{sv})", ("When was the harbour built?", {}))
        self.me.start_calls(5, self.session, QUERY_IFACE, "Ask", args)
        outcomes = list(self.me.collect(20).values())
        busy = [o for o in outcomes if o.get("error") == BUSY]
        asked = [o for o in outcomes if "reply" in o]
        self.assertEqual(len(busy) + len(asked), 5, outcomes)
        self.assertGreaterEqual(len(busy), 1, outcomes)
        self.assertIn("Too many questions at once", busy[0]["message"])
        for outcome in asked:
            query_id = harness.variant_from_text(outcome["reply"]).unpack()[0]
            self.assertEqual(self.follow(query_id)[-1][0], "Finished")
        # Once answered, the next question is taken.
        self.assertIn("1871", self.ask_and_wait("When was the harbour built?")[0])


if __name__ == "__main__":
    harness.main()
