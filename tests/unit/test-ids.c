/* Unit tests for common/ids: fresh ids and their validation, random bytes, hexadecimal. */
#include "common/ids.h"

#include <string.h>

static gboolean
is_lower_hex (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  return TRUE;
}

static void
test_new_shape (void)
{
  for (guint i = 0; i < 100; i++) {
    g_autofree char *id = sr_id_new ();
    g_assert_cmpuint (strlen (id), ==, SR_ID_LENGTH);
    g_assert_true (is_lower_hex (id));
    g_assert_true (sr_id_is_valid (id));
  }
}

static void
test_new_unique (void)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < 10000; i++) {
    char *id = sr_id_new ();
    g_assert_false (g_hash_table_contains (seen, id));
    g_hash_table_add (seen, id);
  }
}

/* 10,000 ids use every hex digit in every position; a stuck nibble would show here. */
static void
test_new_spread (void)
{
  guint16 seen[SR_ID_LENGTH] = { 0 };

  for (guint i = 0; i < 10000; i++) {
    g_autofree char *id = sr_id_new ();
    for (guint j = 0; j < SR_ID_LENGTH; j++)
      seen[j] |= 1u << g_ascii_xdigit_value (id[j]);
  }
  for (guint j = 0; j < SR_ID_LENGTH; j++)
    g_assert_cmphex (seen[j], ==, 0xffff);
}

static void
test_is_valid (void)
{
  static const char *const good[] = {
    "00000000000000000000000000000000",
    "ffffffffffffffffffffffffffffffff",
    "0123456789abcdef0123456789abcdef",
  };
  static const char *const bad[] = {
    "",
    "0",
    "0123456789abcdef0123456789abcde",   /* 31 */
    "0123456789abcdef0123456789abcdef0", /* 33 */
    "0123456789ABCDEF0123456789ABCDEF",  /* upper case */
    "0123456789abcdef0123456789abcdeF",
    "0123456789abcdef0123456789abcdeg",
    "g123456789abcdef0123456789abcdef",
    "0123456789abcdef 123456789abcdef",
    "0123456789abcdef-123456789abcdef",
    "../../../../../../../../../../..",
    "0123456789abcdef0123456789abcde/",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    g_assert_true (sr_id_is_valid (good[i]));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_test_message ("id \"%s\"", bad[i]);
    g_assert_false (sr_id_is_valid (bad[i]));
  }
  g_assert_false (sr_id_is_valid (NULL));
}

/* The check stops at the first bad character, so a short string is never read past
 * its end (AddressSanitizer watches this one). */
static void
test_is_valid_short_buffer (void)
{
  for (guint len = 0; len < SR_ID_LENGTH; len++) {
    char *text = g_malloc (len + 1);
    memset (text, 'a', len);
    text[len] = '\0';
    g_assert_false (sr_id_is_valid (text));
    g_free (text);
  }
}

static void
test_hex_encode (void)
{
  static const guint8 bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
  g_autofree char *empty = sr_hex_encode (bytes, 0);
  g_autofree char *text = sr_hex_encode (bytes, sizeof bytes);

  g_assert_cmpstr (empty, ==, "");
  g_assert_cmpstr (text, ==, "00017f80abff");
}

/* Secrets are made of these bytes: a buffer is filled to its end, and two differ. */
static void
test_random_bytes (void)
{
  guint8 a[64] = { 0 };
  guint8 b[64] = { 0 };
  guint8 seen = 0;

  sr_random_bytes (a, sizeof a);
  sr_random_bytes (b, sizeof b);
  g_assert_true (memcmp (a, b, sizeof a) != 0);
  for (guint i = sizeof a - 8; i < sizeof a; i++)
    seen |= a[i] | b[i];
  g_assert_cmpuint (seen, !=, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ids/new/shape", test_new_shape);
  g_test_add_func ("/ids/new/unique", test_new_unique);
  g_test_add_func ("/ids/new/spread", test_new_spread);
  g_test_add_func ("/ids/is-valid", test_is_valid);
  g_test_add_func ("/ids/is-valid/short-buffer", test_is_valid_short_buffer);
  g_test_add_func ("/ids/hex-encode", test_hex_encode);
  g_test_add_func ("/ids/random-bytes", test_random_bytes);
  return g_test_run ();
}
