/* Unit tests for service/tokens: create, list, revoke, authenticate, limits, listeners. */
#include "service/tokens.h"

#include <string.h>

#include "common/durations.h"
#include "common/errors.h"
#include "unit-helpers.h"

#define MINUTE_US (G_GINT64_CONSTANT (60) * G_USEC_PER_SEC)

static const SrCaller alice = { 1000, FALSE, ":1.10" };
static const SrCaller bob = { 1001, FALSE, ":1.11" };
static const SrCaller admin = { 1002, TRUE, ":1.12" };

static const char refused[] = "The API token is not valid: it is incomplete, mistyped or "
                              "revoked; create a new one with CreateToken";

typedef struct {
  char *dir;
  SrService *service;
} Fixture;

static const SrLimits default_limits = {
  .max_title_bytes = 512,
  .max_context_bytes = 65536,
  .max_tokens_per_user = 32,
};

static const SrLimits three_tokens = {
  .max_title_bytes = 512,
  .max_context_bytes = 65536,
  .max_tokens_per_user = 3,
};

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = sr_test_make_tmpdir ();
  SrStore *store = sr_store_open (f->dir, &error);
  g_assert_no_error (error);
  f->service = sr_service_new (store, f->dir, data ? data : &default_limits);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->service, sr_service_free);
  sr_test_remove_tree (f->dir);
  g_free (f->dir);
}

static sqlite3 *
db (Fixture *f)
{
  return sr_store_db (sr_service_store (f->service));
}

static gint64
query_int (Fixture *f, const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db (f), sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  gint64 value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return value;
}

static void
exec_ok (Fixture *f, const char *sql)
{
  g_assert_cmpint (sqlite3_exec (db (f), sql, NULL, NULL, NULL), ==, SQLITE_OK);
}

/* A new token of @caller's; its id goes to @id when that is not NULL. */
static char *
create (Fixture *f, const SrCaller *caller, const char *name, char **id)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *new_id = NULL;
  char *token = NULL;

  g_assert_true (sr_tokens_create (f->service, caller, name, &new_id, &token, &error));
  g_assert_no_error (error);
  g_assert_true (sr_id_is_valid (new_id));
  if (id != NULL)
    *id = g_steal_pointer (&new_id);
  return token;
}

static void
assert_authenticates (Fixture *f, const char *token, const SrCaller *owner, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *token_id = NULL;
  guint32 uid = G_MAXUINT32;

  g_assert_true (sr_tokens_authenticate (f->service, token, &uid, &token_id, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (uid, ==, owner->uid);
  g_assert_cmpstr (token_id, ==, id);
}

static void
assert_refused (Fixture *f, const char *bearer)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *token_id = NULL;
  guint32 uid = 4242;

  g_test_message ("bearer \"%s\"", bearer ? bearer : "(null)");
  g_assert_false (sr_tokens_authenticate (f->service, bearer, &uid, &token_id, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNAUTHENTICATED);
  g_assert_cmpstr (error->message, ==, refused);
  g_assert_cmpuint (uid, ==, 4242);
  g_assert_null (token_id);
}

static GPtrArray *
list (Fixture *f, const SrCaller *caller)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *tokens = NULL;
  g_assert_true (sr_tokens_list (f->service, caller, &tokens, &error));
  g_assert_no_error (error);
  return tokens;
}

static void
test_create_list_authenticate (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;
  gint64 before = sr_now_us ();
  g_autofree char *token = create (f, &alice, "backup script", &id);
  gint64 after = sr_now_us ();

  /* srt_<id>_<64 lowercase hexadecimal characters> */
  g_assert_cmpuint (strlen (token), ==, SR_TOKEN_LENGTH);
  g_assert_true (g_str_has_prefix (token, "srt_"));
  g_assert_cmpmem (token + 4, SR_ID_LENGTH, id, SR_ID_LENGTH);
  g_assert_cmpint (token[4 + SR_ID_LENGTH], ==, '_');
  for (const char *p = token + 4 + SR_ID_LENGTH + 1; *p != '\0'; p++)
    g_assert_true (g_ascii_isdigit (*p) || (*p >= 'a' && *p <= 'f'));

  g_autoptr (GPtrArray) mine = list (f, &alice);
  g_assert_cmpuint (mine->len, ==, 1);
  SrTokenRecord *listed = mine->pdata[0];
  g_assert_cmpstr (listed->id, ==, id);
  g_assert_cmpstr (listed->name, ==, "backup script");
  g_assert_cmpuint (listed->owner_uid, ==, alice.uid);
  g_assert_cmpint (listed->created_at, >=, before);
  g_assert_cmpint (listed->created_at, <=, after);
  g_assert_cmpint (listed->last_used, ==, 0);

  assert_authenticates (f, token, &alice, id);
  /* The id is optional for a face that does not track tokens. */
  guint32 uid = 0;
  g_assert_true (sr_tokens_authenticate (f->service, token, &uid, NULL, NULL));
  g_assert_cmpuint (uid, ==, alice.uid);

  /* Two tokens of one name are two tokens. */
  g_autofree char *second_id = NULL;
  g_autofree char *second = create (f, &alice, "backup script", &second_id);
  g_assert_cmpstr (second, !=, token);
  assert_authenticates (f, second, &alice, second_id);
  g_autoptr (GPtrArray) both = list (f, &alice);
  g_assert_cmpuint (both->len, ==, 2);
  g_assert_cmpstr (((SrTokenRecord *) both->pdata[0])->id, ==, id); /* oldest first */
}

static gboolean
contains (GBytes *haystack, const void *needle, gsize length)
{
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (haystack, &size);
  for (gsize at = 0; at + length <= size; at++)
    if (memcmp (data + at, needle, length) == 0)
      return TRUE;
  return FALSE;
}

static void
decode_hex (const char *hex, guint8 *out, gsize length)
{
  for (gsize i = 0; i < length; i++)
    out[i]
        = (guint8) (g_ascii_xdigit_value (hex[2 * i]) << 4 | g_ascii_xdigit_value (hex[2 * i + 1]));
}

/* Neither the secret nor the token is in the table or the database's files; the SHA-256
 * of the secret's bytes is. */
static void
test_hash_only (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *token = create (f, &alice, "laptop", &id);
  const char *hex = token + strlen (token) - 2 * SR_TOKEN_SECRET_BYTES;
  guint8 secret[SR_TOKEN_SECRET_BYTES];
  decode_hex (hex, secret, sizeof secret);

  g_autoptr (GChecksum) sha256 = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sha256, secret, sizeof secret);
  g_autofree char *expected = g_strdup (g_checksum_get_string (sha256));
  g_autofree char *sql = g_strdup_printf (
      "SELECT count(*) FROM tokens WHERE id = '%s' AND hex(secret_sha256) = upper('%s')", id,
      expected);
  g_assert_cmpint (query_int (f, sql), ==, 1);

  /* Every column of every row, as text and as bytes. */
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db (f), "SELECT * FROM tokens", -1, &stmt, NULL), ==,
                   SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count (stmt); c++) {
      g_autoptr (GBytes) value
          = g_bytes_new (sqlite3_column_blob (stmt, c), sqlite3_column_bytes (stmt, c));
      g_assert_false (contains (value, hex, 2 * SR_TOKEN_SECRET_BYTES));
      g_assert_false (contains (value, secret, sizeof secret));
    }
  }
  sqlite3_finalize (stmt);

  static const char *const files[] = { "smartrag.db", "smartrag.db-wal" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree char *path = g_build_filename (f->dir, files[i], NULL);
    if (!g_file_test (path, G_FILE_TEST_EXISTS))
      continue;
    g_autoptr (GBytes) bytes = sr_test_read_bytes (path);
    g_assert_false (contains (bytes, hex, 16));
    g_assert_false (contains (bytes, secret, sizeof secret));
  }
}

static void
test_wrong_secret (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *token = create (f, &alice, "ci", &id);
  gsize last = strlen (token) - 1;

  for (gsize at = last - 2 * SR_TOKEN_SECRET_BYTES + 1; at <= last; at += 9) {
    g_autofree char *guess = g_strdup (token);
    guess[at] = guess[at] == '0' ? '1' : '0';
    assert_refused (f, guess);
  }
  /* Another token's secret with this id. */
  g_autofree char *other = create (f, &alice, "other", NULL);
  g_autofree char *mixed = g_strdup (token);
  memcpy (mixed + last - 2 * SR_TOKEN_SECRET_BYTES + 1,
          other + last - 2 * SR_TOKEN_SECRET_BYTES + 1, 2 * SR_TOKEN_SECRET_BYTES);
  assert_refused (f, mixed);
  assert_authenticates (f, token, &alice, id);
}

static void
test_malformed (Fixture *f, gconstpointer data)
{
  g_autofree char *token = create (f, &alice, "ci", NULL);
  g_autofree char *upper = g_ascii_strup (token, -1);
  g_autofree char *longer = g_strconcat (token, "0", NULL);
  g_autofree char *shorter = g_strndup (token, strlen (token) - 1);
  g_autofree char *spaced = g_strconcat (" ", token, NULL);
  g_autofree char *trailing = g_strconcat (token, "\n", NULL);
  g_autofree char *bearer = g_strconcat ("Bearer ", token, NULL);
  g_autofree char *prefix = g_strdup (token);
  prefix[0] = 'x';
  g_autofree char *separator = g_strdup (token);
  separator[4 + SR_ID_LENGTH] = '-';
  g_autofree char *odd = g_strdup (token);
  odd[strlen (odd) - 1] = 'g';
  g_autofree char *id_only = g_strndup (token, 4 + SR_ID_LENGTH);
  const char *const bad[] = {
    "",       "srt_", "srt__", upper,     longer, shorter, spaced,
    trailing, bearer, prefix,  separator, odd,    id_only, token + 4,
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_refused (f, bad[i]);
  assert_refused (f, NULL);
}

/* A well-formed token that nobody made. */
static void
test_unknown (Fixture *f, gconstpointer data)
{
  g_autofree char *id = sr_id_new ();
  g_autofree char *made_up = g_strconcat (
      "srt_", id, "_", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NULL);
  assert_refused (f, made_up);
}

static void
test_revoke (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *token = create (f, &alice, "old", &id);
  g_autofree char *kept_id = NULL;
  g_autofree char *kept = create (f, &alice, "kept", &kept_id);

  g_assert_true (sr_tokens_revoke (f->service, &alice, id, &error));
  g_assert_no_error (error);
  assert_refused (f, token);
  assert_authenticates (f, kept, &alice, kept_id);
  g_autoptr (GPtrArray) left = list (f, &alice);
  g_assert_cmpuint (left->len, ==, 1);
  g_assert_cmpstr (((SrTokenRecord *) left->pdata[0])->id, ==, kept_id);

  /* A second revocation finds nothing, and says so as for any unknown id. */
  g_autofree char *expected
      = g_strdup_printf ("Token '%s' does not exist or you may not access it", id);
  g_assert_false (sr_tokens_revoke (f->service, &alice, id, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
assert_unknown (Fixture *f, const SrCaller *caller, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *expected
      = g_strdup_printf ("Token '%s' does not exist or you may not access it", id);
  g_assert_false (sr_tokens_revoke (f->service, caller, id, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT);
  g_assert_cmpstr (error->message, ==, expected);
}

/* Someone else's token cannot be revoked, by an administrator either, and the answer is
 * the one for an id that does not exist. Listings are personal too. */
static void
test_others_tokens (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *token = create (f, &alice, "mine", &id);
  g_autofree char *nobodys = sr_id_new ();
  g_autofree char *admins_id = NULL;
  g_autofree char *admins = create (f, &admin, "admin's", &admins_id);

  assert_unknown (f, &bob, id);
  assert_unknown (f, &bob, nobodys);
  assert_unknown (f, &admin, id);
  assert_authenticates (f, token, &alice, id);

  g_autoptr (GPtrArray) bobs = list (f, &bob);
  g_assert_cmpuint (bobs->len, ==, 0);
  g_autoptr (GPtrArray) admin_sees = list (f, &admin);
  g_assert_cmpuint (admin_sees->len, ==, 1);
  g_assert_cmpstr (((SrTokenRecord *) admin_sees->pdata[0])->id, ==, admins_id);
}

static void
assert_revoke_invalid (Fixture *f, const char *id, const char *message)
{
  g_autoptr (GError) error = NULL;
  g_assert_false (sr_tokens_revoke (f->service, &alice, id, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==, message);
}

/* A malformed id is refused as such; the token given instead of its id is not echoed. */
static void
test_revoke_malformed_id (Fixture *f, gconstpointer data)
{
  static const char plain[] = "Invalid token id: expected 32 lowercase hexadecimal characters";
  g_autofree char *id = NULL;
  g_autofree char *token = create (f, &alice, "pasted", &id);
  g_autofree char *upper = g_ascii_strup (id, -1);

  assert_revoke_invalid (f, "", plain);
  assert_revoke_invalid (f, upper, plain);
  assert_revoke_invalid (f, "../../etc/passwd", plain);
  assert_revoke_invalid (f, token,
                         "Invalid token id: expected 32 lowercase hexadecimal characters, the id "
                         "CreateToken returned, not the token");
  assert_authenticates (f, token, &alice, id);
}

static void
assert_bad_name (Fixture *f, const char *name, const char *message)
{
  g_autoptr (GError) error = NULL;
  char *id = NULL;
  char *token = NULL;

  g_assert_false (sr_tokens_create (f->service, &alice, name, &id, &token, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==, message);
  g_assert_null (id);
  g_assert_null (token);
}

static void
test_names (Fixture *f, gconstpointer data)
{
  g_autofree char *longest = g_strnfill (SR_TOKEN_NAME_MAX_BYTES, 'n');
  g_autofree char *too_long = g_strnfill (SR_TOKEN_NAME_MAX_BYTES + 1, 'n');
  static const char empty[] = "Invalid token name: empty; name it after where it is used, such as "
                              "\"backup script\"";

  g_autofree char *a = create (f, &alice, longest, NULL);
  g_autofree char *b
      = create (f, &alice, "Caf\xc3\xa9 \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac", NULL);
  assert_bad_name (f, too_long, "Invalid token name: longer than 128 bytes (129)");
  assert_bad_name (f, "", empty);
  assert_bad_name (f, "   ", empty);
  assert_bad_name (f, "bad \xff byte", "Invalid token name: not valid UTF-8");
  assert_bad_name (f, "two\nlines",
                   "Invalid token name: control character at byte 3; a name is one line of text");
  assert_bad_name (f, "tab\there",
                   "Invalid token name: control character at byte 3; a name is one line of text");
  assert_bad_name (f, "line\xe2\x80\xa8separator",
                   "Invalid token name: control character at byte 4; a name is one line of text");
  g_autoptr (GPtrArray) made = list (f, &alice);
  g_assert_cmpuint (made->len, ==, 2);
}

static void
assert_at_limit (Fixture *f, const SrCaller *caller)
{
  g_autoptr (GError) error = NULL;
  char *id = NULL;
  char *token = NULL;

  g_assert_false (sr_tokens_create (f->service, caller, "one more", &id, &token, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE);
  g_assert_cmpstr (error->message, ==,
                   "You already have 3 tokens, the most allowed ([limits] max_tokens_per_user); "
                   "revoke some first");
  g_assert_null (token);
}

/* The limit is per user and frees up as tokens are revoked. */
static void
test_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *first_id = NULL;
  g_autofree char *first = create (f, &alice, "1", &first_id);
  g_autofree char *second = create (f, &alice, "2", NULL);
  g_autofree char *third = create (f, &alice, "3", NULL);

  assert_at_limit (f, &alice);
  g_autofree char *bobs = create (f, &bob, "bob's", NULL);
  g_assert_true (sr_tokens_revoke (f->service, &alice, first_id, &error));
  g_assert_no_error (error);
  g_autofree char *fourth = create (f, &alice, "4", NULL);
  assert_at_limit (f, &alice);
}

typedef struct {
  GPtrArray *ids;
  GArray *uids;
} Heard;

static void
on_revoked (const char *token_id, guint32 owner_uid, gpointer user_data)
{
  Heard *heard = user_data;
  g_ptr_array_add (heard->ids, g_strdup (token_id));
  g_array_append_val (heard->uids, owner_uid);
}

static void
test_listener (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  Heard heard = { ids, uids };
  g_autofree char *id = NULL;
  g_autofree char *token = create (f, &bob, "stream", &id);

  sr_service_add_token_listener (f->service, on_revoked, &heard);
  /* Refused revocations tell nobody. */
  g_assert_false (sr_tokens_revoke (f->service, &alice, id, &error));
  g_clear_error (&error);
  g_assert_false (sr_tokens_revoke (f->service, &bob, "nonsense", &error));
  g_clear_error (&error);
  g_assert_cmpuint (ids->len, ==, 0);

  g_assert_true (sr_tokens_revoke (f->service, &bob, id, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpstr (ids->pdata[0], ==, id);
  g_assert_cmpuint (g_array_index (uids, guint32, 0), ==, bob.uid);
}

static gint64
last_used (Fixture *f, const char *id)
{
  g_autofree char *sql
      = g_strdup_printf ("SELECT coalesce(last_used, 0) FROM tokens WHERE id = '%s'", id);
  return query_int (f, sql);
}

static void
set_last_used (Fixture *f, const char *id, gint64 value)
{
  g_autofree char *sql = g_strdup_printf (
      "UPDATE tokens SET last_used = %" G_GINT64_FORMAT " WHERE id = '%s'", value, id);
  exec_ok (f, sql);
}

/* A use is noted at most once a minute, so most requests only read. */
static void
test_last_used (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *token = create (f, &alice, "cron", &id);

  gint64 before = sr_now_us ();
  assert_authenticates (f, token, &alice, id);
  gint64 first = last_used (f, id);
  g_assert_cmpint (first, >=, before);
  g_assert_cmpint (first, <=, sr_now_us ());

  gint64 recent = sr_now_us () - MINUTE_US / 2;
  set_last_used (f, id, recent);
  assert_authenticates (f, token, &alice, id);
  g_assert_cmpint (last_used (f, id), ==, recent);

  gint64 stale = sr_now_us () - 2 * MINUTE_US;
  set_last_used (f, id, stale);
  assert_authenticates (f, token, &alice, id);
  g_assert_cmpint (last_used (f, id), >, stale + MINUTE_US);

  /* A clock set back left it in the future: the next use puts it right. */
  gint64 future = sr_now_us () + 24 * 60 * MINUTE_US;
  set_last_used (f, id, future);
  assert_authenticates (f, token, &alice, id);
  g_assert_cmpint (last_used (f, id), <=, sr_now_us ());

  g_autoptr (GPtrArray) listed = list (f, &alice);
  g_assert_cmpint (((SrTokenRecord *) listed->pdata[0])->last_used, ==, last_used (f, id));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func, limits)                                                                    \
  g_test_add (path, Fixture, limits, fixture_set_up, func, fixture_tear_down)
  ADD ("/tokens/create-list-authenticate", test_create_list_authenticate, NULL);
  ADD ("/tokens/hash-only", test_hash_only, NULL);
  ADD ("/tokens/authenticate/wrong-secret", test_wrong_secret, NULL);
  ADD ("/tokens/authenticate/malformed", test_malformed, NULL);
  ADD ("/tokens/authenticate/unknown", test_unknown, NULL);
  ADD ("/tokens/authenticate/last-used", test_last_used, NULL);
  ADD ("/tokens/revoke", test_revoke, NULL);
  ADD ("/tokens/revoke/others-tokens", test_others_tokens, NULL);
  ADD ("/tokens/revoke/malformed-id", test_revoke_malformed_id, NULL);
  ADD ("/tokens/revoke/listener", test_listener, NULL);
  ADD ("/tokens/names", test_names, NULL);
  ADD ("/tokens/limit", test_limit, &three_tokens);
#undef ADD

  return g_test_run ();
}
