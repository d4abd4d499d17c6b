#!/usr/bin/python3
"""The API around the routes: its OpenAPI document and page, request rates, and CORS."""

import importlib.util
import json
import os
import re
import subprocess
import time

from gi.repository import GLib

import harness
import httptest
from httptest import SESSIONS

OPENAPI = "/api/v1/openapi.json"
SOURCE_DIR = os.environ.get("SMARTRAG_SOURCE_DIR",
                            os.path.join(os.path.dirname(__file__), "..", ".."))


def load_checker():
    path = os.path.join(SOURCE_DIR, "tests", "data", "check-openapi.py")
    spec = importlib.util.spec_from_file_location("check_openapi", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def create_token(test, name="api tests"):
    """A new API token of the test's own uid."""
    return test.client().call(harness.DAEMON_PATH, harness.DAEMON_IFACE, "CreateToken",
                              GLib.Variant("(s)", (name,))).unpack()[1]


class OpenApi(httptest.HttpTest):

    def test_the_document_is_served_to_anyone(self):
        with open(os.path.join(SOURCE_DIR, "data", "http", "openapi.json"), "rb") as f:
            source = f.read()
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                reply = self.call("GET", OPENAPI, tcp=tcp)
                self.assertEqual(reply.status, 200, reply)
                self.assertEqual(reply.headers["content-type"], "application/json; charset=utf-8")
                self.assertEqual(reply.body, source)
                self.assertEqual(reply.headers["cache-control"], "no-cache")
                self.assertRegex(reply.headers["etag"], r'^"[0-9a-f]{32}"$')
        document = json.loads(source)
        self.assertEqual(load_checker().Checker(document).check(), [])
        version = subprocess.run([os.environ["SMARTRAGD"], "--version"], capture_output=True,
                                 text=True, check=True).stdout.split()[-1]
        self.assertEqual(document["info"]["version"], version)

    def test_etag_revalidation(self):
        etag = self.call("GET", OPENAPI).headers["etag"]
        for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            with self.subTest(sent=sent):
                reply = self.call("GET", OPENAPI, headers={"If-None-Match": sent})
                self.assertEqual(reply.status, 304, reply)
                self.assertEqual(reply.body, b"")
                self.assertEqual(reply.headers["etag"], etag)
        reply = self.call("GET", OPENAPI, headers={"If-None-Match": '"0123"'})
        self.assertEqual(reply.status, 200)

    def test_docs_page(self):
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                reply = self.call("GET", "/docs", tcp=tcp)
                self.assertEqual(reply.status, 200, reply)
                self.assertEqual(reply.headers["content-type"], "text/html; charset=utf-8")
                policy = reply.headers["content-security-policy"]
                self.assertIn("default-src 'none'", policy)
                for directive in ("script-src", "style-src", "connect-src"):
                    self.assertIn(f"{directive} 'self'", policy)
                self.assertNotIn("unsafe-inline", policy)
                page = reply.body.decode()
                # Works offline: no reference to another host, nothing inline to run.
                self.assertIsNone(re.search(r"https?://", page), page)
                self.assertNotIn("<style", page)
                self.assertIsNone(re.search(r"<script>", page))
                self.assertIn('src="/docs/docs.js"', page)
                self.assertIn('href="/docs/docs.css"', page)

    def test_docs_assets(self):
        for name, kind in (("docs.js", "text/javascript; charset=utf-8"),
                           ("docs.css", "text/css; charset=utf-8")):
            with self.subTest(name=name):
                reply = self.call("GET", f"/docs/{name}", tcp=True)
                self.assertEqual(reply.status, 200, reply)
                self.assertEqual(reply.headers["content-type"], kind)
                self.assertIsNone(re.search(r"https?://", reply.body.decode()))
                self.assertIn("etag", reply.headers)
        self.assertError(self.call("GET", "/docs/other.js"), 404, "not_found",
                         "Nothing is served at /docs/other.js")


class RateLimits(httptest.HttpTest):
    daemon_config = {"rate_limit": "1", "rate_limit_burst": "3",
                     "local_rate_limit": "1", "local_rate_limit_burst": "5"}

    def exhaust(self, burst, **kwargs):
        """Requests until one is refused; the first @burst must go. Returns the 429."""
        for sent in range(burst + 3):
            reply = self.call("GET", SESSIONS, **kwargs)
            if reply.status == 429:
                self.assertGreaterEqual(sent, burst)
                return reply
            self.assertJsonReply(reply, 200)
        self.fail(f"no 429 after {burst + 3} requests")

    def test_a_token_over_its_rate_waits_and_recovers(self):
        token = create_token(self)
        refused = self.exhaust(3, tcp=True, headers=bearer(token))
        message = self.assertError(refused, 429, "rate_limited")
        self.assertRegex(message, r"^Too many requests with this API token: it may make 1 a "
                                  r"second, 3 at once \(\[http\] rate_limit, rate_limit_burst\); "
                                  r"try again in 1 s$")
        self.assertEqual(refused.headers["retry-after"], "1")
        time.sleep(int(refused.headers["retry-after"]))
        self.assertJsonReply(self.call("GET", SESSIONS, tcp=True, headers=bearer(token)), 200)

    def test_tokens_are_limited_apart(self):
        first, second = create_token(self, "first"), create_token(self, "second")
        self.exhaust(3, tcp=True, headers=bearer(first))
        self.assertJsonReply(self.call("GET", SESSIONS, tcp=True, headers=bearer(second)), 200)
        self.assertError(self.call("GET", SESSIONS, tcp=True, headers=bearer(first)), 429,
                         "rate_limited")
        # The token's owner is not limited over the socket by what the token used.
        self.assertJsonReply(self.call("GET", SESSIONS), 200)

    def test_local_callers_are_limited_per_uid(self):
        nobody = self.nobody()
        refused = self.exhaust(5)
        self.assertError(refused, 429, "rate_limited",
                         "Too many requests from uid 0 over the Unix socket: it may make 1 a "
                         "second, 5 at once ([http] local_rate_limit, local_rate_limit_burst); "
                         "try again in 1 s")
        self.assertEqual(refused.headers["retry-after"], "1")
        self.assertEqual(self.call_as(nobody, "GET", SESSIONS).status, 200)

    def test_requests_without_identity_are_not_counted(self):
        for _ in range(6):
            self.assertJsonReply(self.call("GET", "/health", tcp=True), 200)
            self.assertError(self.call("GET", SESSIONS, tcp=True), 401, "unauthenticated")


class NoRateLimits(httptest.HttpTest):
    daemon_config = {"rate_limit": "0", "local_rate_limit": "0"}

    def test_zero_means_no_limit(self):
        token = create_token(self)
        for _ in range(30):
            self.assertJsonReply(self.call("GET", SESSIONS, tcp=True, headers=bearer(token)),
                                 200)
            self.assertJsonReply(self.call("GET", SESSIONS), 200)


APP = "https://app.example.org"
PREFLIGHT = {"Origin": APP, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}


def cors_headers(reply):
    return {k: v for k, v in reply.headers.items() if k.startswith("access-control-")}


class Cors(httptest.HttpTest):
    daemon_config = {"cors_origins": f"{APP}, http://localhost:3000"}

    def test_a_preflight_from_an_allowed_origin(self):
        # Browsers send preflights without credentials: no token is needed.
        reply = self.call("OPTIONS", SESSIONS, tcp=True, headers=PREFLIGHT)
        self.assertEqual(reply.status, 204, reply)
        self.assertEqual(reply.body, b"")
        self.assertEqual(cors_headers(reply), {
            "access-control-allow-origin": APP,
            "access-control-allow-methods": "POST, GET",
            "access-control-allow-headers": "Authorization, Content-Type, If-None-Match",
            "access-control-max-age": "600",
        })
        self.assertEqual(reply.headers["vary"], "Origin")
        reply = self.call("OPTIONS", f"{SESSIONS}/0123", tcp=True,
                          headers={**PREFLIGHT, "Origin": "http://localhost:3000",
                                   "Access-Control-Request-Method": "DELETE"})
        self.assertEqual(reply.status, 204, reply)
        self.assertEqual(reply.headers["access-control-allow-origin"], "http://localhost:3000")
        self.assertEqual(reply.headers["access-control-allow-methods"], "GET, PATCH, DELETE")

    def test_a_preflight_from_another_origin(self):
        for origin in ("https://evil.example", "https://app.example.org:8443",
                       "http://app.example.org", "null"):
            with self.subTest(origin=origin):
                reply = self.call("OPTIONS", SESSIONS, tcp=True,
                                  headers={**PREFLIGHT, "Origin": origin})
                self.assertError(reply, 403, "forbidden",
                                 f"Web pages from {origin} may not use this API; [http] "
                                 "cors_origins lists the origins that may")
                self.assertEqual(cors_headers(reply), {})

    def test_a_preflight_for_a_path_nothing_is_served_at(self):
        reply = self.call("OPTIONS", "/nothing", tcp=True, headers=PREFLIGHT)
        self.assertError(reply, 404, "not_found")

    def test_options_that_is_no_preflight(self):
        reply = self.call("OPTIONS", SESSIONS, tcp=True, headers={"Origin": APP})
        self.assertError(reply, 405, "method_not_allowed")
        self.assertEqual(reply.headers["allow"], "POST, GET")

    def test_replies_to_an_allowed_origin_carry_its_name(self):
        token = create_token(self)
        for headers, status in ((bearer(token), 200), ({}, 401)):
            with self.subTest(status=status):
                reply = self.call("GET", SESSIONS, tcp=True, headers={**headers, "Origin": APP})
                self.assertEqual(reply.status, status, reply)
                self.assertEqual(reply.headers["access-control-allow-origin"], APP)
                self.assertIn("Retry-After", reply.headers["access-control-expose-headers"])
                self.assertEqual(reply.headers["vary"], "Origin")
                self.assertNotIn("access-control-allow-credentials", reply.headers)

    def test_replies_to_other_origins_carry_none(self):
        reply = self.call("GET", "/health", tcp=True, headers={"Origin": "https://evil.example"})
        self.assertEqual(reply.status, 200)
        self.assertEqual(cors_headers(reply), {})
        self.assertEqual(reply.headers["vary"], "Origin")
        reply = self.call("GET", "/health", tcp=True)
        self.assertEqual(cors_headers(reply), {})


class CorsOff(httptest.HttpTest):

    def test_off_by_default(self):
        reply = self.call("OPTIONS", SESSIONS, tcp=True, headers=PREFLIGHT)
        self.assertError(reply, 405, "method_not_allowed")
        self.assertEqual(reply.headers["allow"], "POST, GET")
        self.assertEqual(cors_headers(reply), {})
        reply = self.call("GET", "/health", tcp=True, headers={"Origin": APP})
        self.assertEqual(reply.status, 200)
        self.assertEqual(cors_headers(reply), {})
        self.assertNotIn("vary", reply.headers)


if __name__ == "__main__":
    httptest.main()
