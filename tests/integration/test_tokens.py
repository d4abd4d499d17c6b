#!/usr/bin/python3
"""API tokens over the bus: create, list, revoke; personal to their owner; polkit; limits."""

import re
import time

from gi.repository import GLib

import harness
from harness import (ACCESS_DENIED, ACTION_USE, DAEMON_IFACE, DAEMON_PATH, INVALID_ARGS,
                     ID_PATTERN, random_id)

TOKEN_PATTERN = re.compile(r"^srt_([0-9a-f]{32})_[0-9a-f]{64}$")
TOO_LARGE = "org.smartrag.Error.TooLarge"


def unknown_message(token_id):
    return f"Token '{token_id}' does not exist or you may not access it"


class TokenTests(harness.IntegrationTest):

    def setUp(self):
        super().setUp()
        self.nobody_account = self.nobody()
        self.polkit.set_allowed([ACTION_USE])

    def create_token(self, endpoint, name):
        token_id, token = endpoint.call(DAEMON_PATH, DAEMON_IFACE, "CreateToken",
                                        GLib.Variant("(s)", (name,))).unpack()
        self.assertRegex(token_id, ID_PATTERN)
        match = TOKEN_PATTERN.match(token)
        self.assertIsNotNone(match, token)
        self.assertEqual(match.group(1), token_id)
        return token_id, token

    def list_tokens(self, endpoint):
        return endpoint.call(DAEMON_PATH, DAEMON_IFACE, "ListTokens").unpack()[0]

    def revoke(self, endpoint, token_id):
        endpoint.call(DAEMON_PATH, DAEMON_IFACE, "RevokeToken", GLib.Variant("(s)", (token_id,)))

    def assert_unknown(self, endpoint, token_id):
        self.assertBusError(ACCESS_DENIED, self.revoke, endpoint, token_id,
                            message=unknown_message(token_id))

    def test_create_list_revoke(self):
        daemon = self.start_daemon()
        me = self.client(self.nobody_account)
        before = time.time_ns() // 1000
        first_id, first = self.create_token(me, "backup script")
        second_id, second = self.create_token(me, "Laptop \u2713")
        after = time.time_ns() // 1000
        self.assertNotEqual(first, second)

        listed = self.list_tokens(me)
        self.assertEqual([(i, n) for i, n, _ in listed],
                         [(first_id, "backup script"), (second_id, "Laptop \u2713")])
        for _, _, created_at in listed:
            self.assertGreaterEqual(created_at, before)
            self.assertLessEqual(created_at, after)

        self.revoke(me, first_id)
        self.assertEqual([i for i, _, _ in self.list_tokens(me)], [second_id])
        self.assert_unknown(me, first_id)

        # The token is shown once, to its caller: never logged, never stored.
        self.stop_daemon(daemon)
        secrets = [token.rsplit("_", 1)[1] for token in (first, second)]
        for secret in secrets:
            self.assertNotIn(secret, daemon.log())
        for name in ("smartrag.db", "smartrag.db-wal"):
            try:
                with open(f"{daemon.state_dir}/{name}", "rb") as f:
                    stored = f.read()
            except FileNotFoundError:
                continue
            for secret in secrets:
                self.assertNotIn(secret.encode(), stored)
                self.assertNotIn(bytes.fromhex(secret), stored)

    def test_tokens_are_kept_across_a_restart(self):
        daemon = self.start_daemon()
        token_id, _ = self.create_token(self.client(self.nobody_account), "cron")
        self.stop_daemon(daemon)
        daemon.start()
        self.assertEqual([i for i, _, _ in self.list_tokens(self.client(self.nobody_account))],
                         [token_id])

    def test_another_user_cannot_list_or_revoke_mine(self):
        self.start_daemon()
        mine = self.client(self.nobody_account)
        other = self.client(self.second_account())
        root = self.client()
        token_id, _ = self.create_token(mine, "mine")
        others_id, _ = self.create_token(other, "theirs")

        self.assertEqual([i for i, _, _ in self.list_tokens(other)], [others_id])
        # Tokens are personal: not even root sees or revokes another user's.
        self.assertEqual(self.list_tokens(root), [])
        for endpoint in (other, root):
            self.assert_unknown(endpoint, token_id)
            self.assert_unknown(endpoint, random_id())
        self.assertEqual([i for i, _, _ in self.list_tokens(mine)], [token_id])

    def test_creating_needs_polkit_but_listing_and_revoking_do_not(self):
        self.start_daemon()
        me = self.client(self.nobody_account)
        token_id, _ = self.create_token(me, "before")

        self.polkit.set_allowed([])
        refused = self.client(self.nobody_account)
        self.assertBusError(ACCESS_DENIED, self.create_token, refused, "after",
                            contains=[ACTION_USE, "polkit"])
        self.assertEqual([i for i, _, _ in self.list_tokens(refused)], [token_id])
        # Taking a credential back works for someone whose authorization was withdrawn.
        self.revoke(refused, token_id)
        self.assertEqual(self.list_tokens(refused), [])

    def test_bad_names_and_ids(self):
        self.start_daemon()
        # With polkit saying no, a bad name is still answered as a bad name: it is
        # checked first, so a bad call never prompts anyone.
        self.polkit.set_allowed([])
        me = self.client(self.nobody_account)
        cases = {
            "": "Invalid token name: empty; name it after where it is used, such as "
                "\"backup script\"",
            "x" * 129: "Invalid token name: longer than 128 bytes (129)",
            "two\nlines": "Invalid token name: control character at byte 3; a name is one "
                          "line of text",
        }
        for name, message in cases.items():
            with self.subTest(name=name):
                self.assertBusError(INVALID_ARGS, self.create_token, me, name, message=message)
        self.assertBusError(INVALID_ARGS, self.revoke, me, "../etc",
                            message="Invalid token id: expected 32 lowercase hexadecimal "
                                    "characters")

    def test_limit_per_user(self):
        self.start_daemon(max_tokens_per_user="2")
        me = self.client(self.nobody_account)
        first_id, _ = self.create_token(me, "1")
        self.create_token(me, "2")
        self.assertBusError(TOO_LARGE, self.create_token, me, "3",
                            message="You already have 2 tokens, the most allowed ([limits] "
                                    "max_tokens_per_user); revoke some first")
        self.create_token(self.client(), "root's own")
        self.revoke(me, first_id)
        self.create_token(me, "3")


if __name__ == "__main__":
    harness.main()
