#!/usr/bin/python3
"""Sessions over HTTP: every route, their errors, other uids, and the same sessions on the bus."""

import datetime
import json
import os

import harness
import httptest
from harness import SESSION_IFACE, denied_message, random_id, variant_from_text
from httptest import SESSIONS


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


class SessionRoutes(httptest.HttpTest):

    def test_create_read_and_list(self):
        before = datetime.datetime.now(datetime.timezone.utc)
        reply = self.call("POST", SESSIONS, {"title": "Quarterly report",
                                             "context": {"city": "München", "n": [1, 2]}})
        session = self.assertSession(self.assertJsonReply(reply, 201))
        after = datetime.datetime.now(datetime.timezone.utc)
        sid = session["session_id"]
        self.assertEqual(reply.headers["location"], f"{SESSIONS}/{sid}")
        self.assertEqual(session["title"], "Quarterly report")
        self.assertEqual(session["context"], {"city": "München", "n": [1, 2]})
        self.assertEqual((session["message_count"], session["document_count"]), (0, 0))
        created = parse_time(session["created_at"])
        self.assertLessEqual(before - datetime.timedelta(seconds=1), created)
        self.assertLessEqual(created, after + datetime.timedelta(seconds=1))
        self.assertEqual(session["last_active"], session["created_at"])

        self.assertEqual(self.assertJsonReply(self.call("GET", f"{SESSIONS}/{sid}"), 200),
                         session)
        listed = self.assertJsonReply(self.call("GET", SESSIONS), 200)
        self.assertEqual(listed, {"sessions": [session]})

    def test_empty_body_and_empty_object_create_untitled_sessions(self):
        reply = self.call("POST", SESSIONS)
        first = self.assertSession(self.assertJsonReply(reply, 201))
        second = self.create({})
        self.assertEqual((first["title"], first["context"]), ("", {}))
        self.assertEqual((second["title"], second["context"]), ("", {}))
        listed = self.assertJsonReply(self.call("GET", SESSIONS), 200)["sessions"]
        self.assertEqual([s["session_id"] for s in listed],
                         [first["session_id"], second["session_id"]])

    def test_context_numbers_and_escapes_are_kept_as_written(self):
        text = ('{"context": {"big": 12345678901234567890, "huge": 1e400, "price": 1.50,'
                ' "tab": "a\\tb", "smile": "\\ud83d\\ude00"}}')
        reply = self.call("POST", SESSIONS, text, content_type="application/json")
        self.assertEqual(reply.status, 201, reply)
        raw = reply.body.decode()
        self.assertIn('"context":{"big":12345678901234567890,"huge":1e400,"price":1.50,'
                      '"tab":"a\\tb","smile":"\\ud83d\\ude00"}', raw)

    def test_expire_after_takes_seconds_or_a_duration(self):
        for value in (3600, "7d", 0):
            self.create({"expire_after": value})
        reply = self.call("POST", SESSIONS, {"expire_after": "soon"})
        self.assertError(reply, 400, "invalid_argument",
                         "Invalid field 'expire_after': expected a whole number of seconds or a "
                         "duration such as \"7d\"")
        reply = self.call("POST", SESSIONS, {"expire_after": 1.5})
        self.assertError(reply, 400, "invalid_argument", contains="'expire_after'")
        reply = self.call("POST", SESSIONS, {"expire_after": 11 * 365 * 86400})
        self.assertError(reply, 400, "invalid_argument", contains="expire_after")

    def test_patch_title_context_both_and_nothing(self):
        sid = self.create({"title": "old", "context": {"a": 1}})["session_id"]
        path = f"{SESSIONS}/{sid}"

        changed = self.assertJsonReply(self.call("PATCH", path, {"title": "new"}), 200)
        self.assertEqual((changed["title"], changed["context"]), ("new", {"a": 1}))
        changed = self.assertJsonReply(self.call("PATCH", path, {"context": {"b": 2}}), 200)
        self.assertEqual((changed["title"], changed["context"]), ("new", {"b": 2}))
        changed = self.assertJsonReply(
            self.call("PATCH", path, {"title": "both", "context": {}}), 200)
        self.assertEqual((changed["title"], changed["context"]), ("both", {}))
        unchanged = self.assertJsonReply(self.call("PATCH", path, {}), 200)
        self.assertEqual(unchanged, changed)
        self.assertGreaterEqual(changed["last_active"], changed["created_at"])
        self.assertEqual(self.assertJsonReply(self.call("GET", path), 200), changed)

    def test_a_bad_patch_changes_nothing(self):
        session = self.create({"title": "kept", "context": {"k": 1}})
        path = f"{SESSIONS}/{session['session_id']}"
        for body, field in (({"title": "fine", "context": "{}"}, "context"),
                            ({"title": 5, "context": {}}, "title")):
            reply = self.call("PATCH", path, body)
            self.assertError(reply, 400, "invalid_argument", contains=f"'{field}'")
        reply = self.call("PATCH", path, {"title": "line\nbreak", "context": {"new": 1}})
        self.assertError(reply, 400, "invalid_argument", contains="Invalid title")
        reply = self.call("PATCH", path, {"title": "changed", "context": {"deep": [[[]]]},
                                          "colour": "red"})
        self.assertError(reply, 400, "invalid_argument",
                         "Unknown field 'colour'; PATCH /api/v1/sessions/{id} takes title, "
                         "context")
        self.assertEqual(self.assertJsonReply(self.call("GET", path), 200), session)

    def test_delete(self):
        sid = self.create()["session_id"]
        path = f"{SESSIONS}/{sid}"
        reply = self.call("DELETE", path)
        self.assertEqual(reply.status, 204, reply)
        self.assertEqual(reply.body, b"")
        for method in ("GET", "DELETE", "PATCH"):
            reply = self.call(method, path, {} if method == "PATCH" else None)
            self.assertError(reply, 404, "not_found", denied_message(sid))
        self.assertEqual(self.assertJsonReply(self.call("GET", SESSIONS), 200), {"sessions": []})

    def test_unknown_and_malformed_ids(self):
        sid = random_id()
        for method in ("GET", "PATCH", "DELETE"):
            reply = self.call(method, f"{SESSIONS}/{sid}", {} if method == "PATCH" else None)
            self.assertError(reply, 404, "not_found", denied_message(sid))
        reply = self.call("GET", f"{SESSIONS}/NOT-AN-ID")
        self.assertError(reply, 400, "invalid_argument",
                         "Invalid session id 'NOT-AN-ID': expected 32 lowercase hexadecimal "
                         "characters")

    def test_methods_a_path_does_not_take(self):
        for method, path, allow in (("PUT", SESSIONS, "POST, GET"),
                                    ("DELETE", SESSIONS, "POST, GET"),
                                    ("POST", f"{SESSIONS}/{random_id()}", "GET, PATCH, DELETE"),
                                    ("POST", "/health", "GET")):
            with self.subTest(method=method, path=path):
                reply = self.call(method, path)
                self.assertError(reply, 405, "method_not_allowed",
                                 f"{path} does not take {method}; it takes {allow}")
                self.assertEqual(reply.headers["allow"], allow)

    def test_unknown_paths(self):
        for path in ("/", "/api/v1", f"{SESSIONS}/", f"{SESSIONS}/{random_id()}/nothing",
                     "/api/v2/sessions"):
            with self.subTest(path=path):
                self.assertError(self.call("GET", path), 404, "not_found",
                                 f"Nothing is served at {path}")


class BadBodies(httptest.HttpTest):

    def post(self, text, content_type="application/json"):
        return self.call("POST", SESSIONS, text, content_type=content_type)

    def test_malformed_json_says_where(self):
        cases = {
            '{"title": "a",}': "at byte 14: expected a field name in double quotes",
            '{"title" "a"}': "at byte 9: expected ':' after the field name",
            "{'title': 'a'}": "at byte 1: expected a field name in double quotes",
            '{"title": "a"} {}': "at byte 15: expected the end of the body after the object",
            '{"title": tru}': "at byte 10: expected a value",
            '{"n": 01}': "at byte 7: expected ',' or '}'",
            '{"n": .5}': "at byte 6: expected a value",
            '{"t": "a\\x"}': "at byte 8: unknown escape in a string",
            '{"t": "a\tb"}': "at byte 8: a control character in a string must be escaped",
            '{"t": "\\u0000"}': "at byte 7: \\u0000 is not allowed",
            '{"t": "\\ud800"}': "at byte 7: a \\u escape is half of a surrogate pair",
            '{"t": "open': "at byte 11: a string is not closed",
            '{/* c */}': "at byte 1: expected a field name in double quotes",
            "": None,
        }
        for text, where in cases.items():
            with self.subTest(body=text):
                reply = self.post(text)
                if where is None:
                    self.assertEqual(reply.status, 201, reply)
                    continue
                self.assertError(reply, 400, "invalid_argument",
                                 f"Invalid JSON in the request body {where}")

    def test_the_body_must_be_an_object(self):
        for text, kind in (('["title"]', "an array"), ('"x"', "a string"), ("3", "a number"),
                           ("null", "null")):
            with self.subTest(body=text):
                self.assertError(self.post(text), 400, "invalid_argument",
                                 f"The request body must be a JSON object, not {kind}")

    def test_wrong_field_types_name_the_field(self):
        cases = [
            ({"title": 5}, "Invalid field 'title': expected a string, got a number"),
            ({"title": None}, "Invalid field 'title': expected a string, got null"),
            ({"title": ["a"]}, "Invalid field 'title': expected a string, got an array"),
            ({"context": "{}"}, "Invalid field 'context': expected a JSON object, got a string"),
            ({"context": [1]}, "Invalid field 'context': expected a JSON object, got an array"),
            ({"expire_after": True}, "Invalid field 'expire_after': expected a whole number of "
                                     "seconds or a duration such as \"7d\", got a boolean"),
            ({"colour": "red"}, "Unknown field 'colour'; POST /api/v1/sessions takes title, "
                                "context, expire_after"),
        ]
        for body, message in cases:
            with self.subTest(body=body):
                self.assertError(self.call("POST", SESSIONS, body), 400, "invalid_argument",
                                 message)

    def test_a_field_given_twice(self):
        reply = self.post('{"title": "a", "t\\u0069tle": "b"}')
        self.assertError(reply, 400, "invalid_argument", "Field 'title' is given twice")

    def test_deep_nesting_is_refused_before_parsing(self):
        # json-glib would overflow the stack on this; the daemon must answer and live on.
        reply = self.post('{"context": ' + "[" * 200000 + "]" * 200000 + "}")
        self.assertError(reply, 400, "invalid_argument",
                         "Invalid JSON in the request body at byte 139: nested deeper than "
                         "128 levels")
        nested = {"a": {}}
        for _ in range(70):
            nested = {"a": nested}
        reply = self.call("POST", SESSIONS, {"context": nested})
        self.assertError(reply, 400, "invalid_argument",
                         "Invalid context: nested deeper than 64 levels")
        self.assertJsonReply(self.call("GET", "/health"), 200)

    def test_invalid_utf8(self):
        reply = self.post(b'{"title": "\xff"}')
        self.assertError(reply, 400, "invalid_argument",
                         "The request body is not valid UTF-8 text")

    def test_service_checks_still_apply(self):
        reply = self.call("POST", SESSIONS, {"title": "x" * 600})
        self.assertError(reply, 400, "invalid_argument",
                         "Invalid title: longer than 512 bytes (600)")


class OtherUsers(httptest.HttpTest):

    def setUp(self):
        super().setUp()
        self.nobody_account = self.nobody()
        self.mine = self.create({"title": "root's"})

    def test_socket_is_open_to_every_local_user(self):
        self.assertEqual(os.stat(self.smartragd.http_socket).st_mode & 0o777, 0o666)
        reply = self.call_as(self.nobody_account, "GET", "/health")
        self.assertEqual(reply.status, 200, reply)

    def test_another_uid_sees_nothing_of_the_first(self):
        sid = self.mine["session_id"]
        listed = self.call_as(self.nobody_account, "GET", SESSIONS)
        self.assertEqual(self.assertJsonReply(listed, 200), {"sessions": []})
        for method, body in (("GET", None), ("PATCH", {"title": "mine now"}), ("DELETE", None)):
            with self.subTest(method=method):
                foreign = self.call_as(self.nobody_account, method, f"{SESSIONS}/{sid}", body)
                missing_id = random_id()
                missing = self.call_as(self.nobody_account, method, f"{SESSIONS}/{missing_id}",
                                       body)
                self.assertError(foreign, 404, "not_found", denied_message(sid))
                self.assertError(missing, 404, "not_found", denied_message(missing_id))
        self.assertEqual(self.assertJsonReply(self.call("GET", f"{SESSIONS}/{sid}"), 200),
                         self.mine)

    def test_each_uid_lists_its_own(self):
        created = self.call_as(self.nobody_account, "POST", SESSIONS, {"title": "nobody's"})
        theirs = self.assertSession(self.assertJsonReply(created, 201))
        listed = self.call_as(self.nobody_account, "GET", SESSIONS)
        self.assertEqual(self.assertJsonReply(listed, 200), {"sessions": [theirs]})
        own = self.assertJsonReply(self.call("GET", SESSIONS), 200)
        self.assertEqual(own, {"sessions": [self.mine]})
        # Root administers: it may read another's session by id, as on the bus.
        read = self.call("GET", f"{SESSIONS}/{theirs['session_id']}")
        self.assertEqual(self.assertJsonReply(read, 200), theirs)


class SameSessionsOnTheBus(httptest.HttpTest):

    def test_created_over_http_seen_over_the_bus(self):
        session = self.create({"title": "both faces", "context": {"x": 1}})
        me = self.client()
        path = harness.session_path(session["session_id"])
        self.assertEqual(self.list_sessions(me), [path])
        props = {k: v for k, (_, v) in self.get_all(me, path).items()}
        self.assertEqual(props["Title"], "both faces")
        self.assertEqual(json.loads(props["Context"]), {"x": 1})
        self.assertEqual(props["Owner"], os.geteuid())

    def test_created_over_the_bus_seen_over_http(self):
        me = self.client()
        path = self.create_session(me, title="from the bus", context='{"y": 2}')
        sid = harness.session_id(path)
        session = self.assertJsonReply(self.call("GET", f"{SESSIONS}/{sid}"), 200)
        self.assertEqual((session["title"], session["context"]), ("from the bus", {"y": 2}))
        created_us = self.get(me, path, "CreatedAt")[1]
        created = parse_time(session["created_at"])
        self.assertEqual(int(created.timestamp() * 1_000_000 + 0.5), created_us)

    def test_another_uid_over_both_faces(self):
        nobody = self.nobody()
        created = self.call_as(nobody, "POST", SESSIONS, {"title": "nobody's"})
        theirs = self.assertSession(self.assertJsonReply(created, 201))
        their_bus = self.client(nobody)
        self.assertEqual(self.list_sessions(their_bus),
                         [harness.session_path(theirs["session_id"])])
        self.assertEqual(self.list_sessions(self.client()), [])

    def test_a_change_over_http_is_announced_on_the_bus(self):
        me = self.client()
        sid = self.create({"title": "before"})["session_id"]
        path = harness.session_path(sid)
        # The bus announces changes to the owner's connections that have called it.
        self.assertEqual(self.list_sessions(me), [path])
        me.subscribe()
        self.call("PATCH", f"{SESSIONS}/{sid}", {"title": "after"})
        signals = me.wait_signals(5, path=path)
        changed = [s for s in signals if s["path"] == path]
        self.assertEqual(len(changed), 1, signals)
        args = variant_from_text(changed[0]["args"]).unpack()
        self.assertEqual(args[0], SESSION_IFACE)
        self.assertEqual(args[1]["Title"], "after")
        self.assertIn("LastActive", args[1])
        self.assertEqual(self.get(me, path, "Title"), ("s", "after"))

    def test_deleted_over_http_gone_from_the_bus(self):
        me = self.client()
        sid = self.create()["session_id"]
        self.assertEqual(self.call("DELETE", f"{SESSIONS}/{sid}").status, 204)
        self.assertEqual(self.list_sessions(me), [])
        self.assertBusError(harness.ACCESS_DENIED, self.get, me, harness.session_path(sid),
                            "Title", message=denied_message(sid))


if __name__ == "__main__":
    httptest.main()
