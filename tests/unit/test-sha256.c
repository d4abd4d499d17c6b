/* Unit tests for common/sha256: the digest of bytes given whole or in any pieces. */
#include "common/sha256.h"

#include <string.h>

static void
digest_of (const guint8 *data, gsize length, gsize piece, char hex[SR_SHA256_HEX_LENGTH + 1])
{
  SrSha256 sha;
  sr_sha256_init (&sha);
  for (gsize done = 0; done < length; done += MIN (piece, length - done))
    sr_sha256_update (&sha, data + done, MIN (piece, length - done));
  sr_sha256_finish (&sha, hex);
}

/* The standard's own examples (FIPS 180-2, appendix B). */
static void
test_known_digests (void)
{
  char hex[SR_SHA256_HEX_LENGTH + 1];
  digest_of ((const guint8 *) "", 0, 1, hex);
  g_assert_cmpstr (hex, ==, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  digest_of ((const guint8 *) "abc", 3, 1, hex);
  g_assert_cmpstr (hex, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  digest_of ((const guint8 *) two_blocks, strlen (two_blocks), 7, hex);
  g_assert_cmpstr (hex, ==, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* Every length around the 64-byte block, in pieces that straddle blocks, as GLib has it. */
static void
test_pieces_agree_with_glib (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  guint8 data[1000];
  for (gsize i = 0; i < sizeof data; i++)
    data[i] = (guint8) g_rand_int (rand);
  const gsize pieces[] = { 1, 3, 63, 64, 65, 1000 };
  for (gsize length = 0; length <= sizeof data; length += length < 200 ? 1 : 97) {
    g_autofree char *expected = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, length);
    for (gsize p = 0; p < G_N_ELEMENTS (pieces); p++) {
      char hex[SR_SHA256_HEX_LENGTH + 1];
      digest_of (data, length, pieces[p], hex);
      g_assert_cmpstr (hex, ==, expected);
    }
  }
}

/* Finishing starts again: the next digest owes nothing to the last. */
static void
test_finish_starts_again (void)
{
  SrSha256 sha;
  char first[SR_SHA256_HEX_LENGTH + 1], second[SR_SHA256_HEX_LENGTH + 1];
  sr_sha256_init (&sha);
  sr_sha256_update (&sha, "abc", 3);
  sr_sha256_finish (&sha, first);
  sr_sha256_update (&sha, "abc", 3);
  sr_sha256_finish (&sha, second);
  g_assert_cmpstr (first, ==, second);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sha256/known-digests", test_known_digests);
  g_test_add_func ("/sha256/pieces-agree-with-glib", test_pieces_agree_with_glib);
  g_test_add_func ("/sha256/finish-starts-again", test_finish_starts_again);
  return g_test_run ();
}
