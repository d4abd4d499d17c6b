/* API tokens: created, listed and revoked by their owner, and checked for HTTP over TCP. */
#include "service/tokens.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <string.h>

#include "common/durations.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/unichar.h"

/* last_used tells a person whether a token is still in use, not which request used it:
 * noting it once a minute keeps authenticating a read. */
#define TOUCH_INTERVAL_US (60 * G_USEC_PER_SEC)

gboolean
sr_tokens_check_name (const char *name, GError **error)
{
  size_t len = strlen (name);

  if (len > SR_TOKEN_NAME_MAX_BYTES)
    return sr_invalid_args (error, _ ("Invalid token name: longer than %d bytes (%zu)"),
                            SR_TOKEN_NAME_MAX_BYTES, len);
  if (sr_text_is_blank (name))
    return sr_invalid_args (error,
                            _ ("Invalid token name: empty; name it after where it is used, such "
                               "as \"backup script\""));
  if (!g_utf8_validate (name, -1, NULL))
    return sr_invalid_args (error, _ ("Invalid token name: not valid UTF-8"));
  const char *line_break = sr_text_find_line_break (name);
  if (line_break != NULL)
    return sr_invalid_args (error,
                            _ ("Invalid token name: control character at byte %td; a name is one "
                               "line of text"),
                            line_break - name);
  return TRUE;
}

static gboolean
check_quota (SrService *service, const SrCaller *caller, GError **error)
{
  guint64 max = sr_service_limits (service)->max_tokens_per_user;
  guint64 count;

  if (!sr_store_token_count_owned (sr_service_store (service), caller->uid, &count, error))
    return FALSE;
  if (count < max)
    return TRUE;
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE,
               _ ("You already have %" PRIu64 " tokens, the most allowed "
                  "([limits] max_tokens_per_user); revoke some first"),
               count);
  return FALSE;
}

static void
hash_secret (const guint8 *secret, guint8 *digest)
{
  g_autoptr (GChecksum) sha256 = g_checksum_new (G_CHECKSUM_SHA256);
  gsize length = SR_TOKEN_HASH_BYTES;

  g_checksum_update (sha256, secret, SR_TOKEN_SECRET_BYTES);
  g_checksum_get_digest (sha256, digest, &length);
  g_assert (length == SR_TOKEN_HASH_BYTES);
}

/* Frees a string that held a secret, so that it does not linger in freed memory. */
static void
free_secret (char *text)
{
  if (text == NULL)
    return;
  explicit_bzero (text, strlen (text));
  g_free (text);
}

static char *
format_token (const char *id, const guint8 *secret)
{
  char *hex = sr_hex_encode (secret, SR_TOKEN_SECRET_BYTES);
  char *token = g_strconcat (SR_TOKEN_PREFIX, id, "_", hex, NULL);
  free_secret (hex);
  return token;
}

gboolean
sr_tokens_create (SrService *service, const SrCaller *caller, const char *name, char **out_id,
                  char **out_token, GError **error)
{
  g_return_val_if_fail (name != NULL, FALSE);
  if (!sr_tokens_check_name (name, error) || !check_quota (service, caller, error))
    return FALSE;

  g_autoptr (SrTokenRecord) record = g_new0 (SrTokenRecord, 1);
  guint8 secret[SR_TOKEN_SECRET_BYTES];
  record->id = sr_id_new ();
  record->owner_uid = caller->uid;
  record->name = g_strdup (name);
  record->created_at = sr_now_us ();
  sr_random_bytes (secret, sizeof secret);
  hash_secret (secret, record->secret_sha256);
  char *token = format_token (record->id, secret);
  explicit_bzero (secret, sizeof secret);

  if (!sr_store_token_insert (sr_service_store (service), record, error)) {
    free_secret (token);
    return FALSE;
  }
  g_info ("Token %s created for uid %u by %s", record->id, caller->uid, caller->peer);
  *out_id = g_steal_pointer (&record->id);
  *out_token = token;
  return TRUE;
}

gboolean
sr_tokens_list (SrService *service, const SrCaller *caller, GPtrArray **out_tokens, GError **error)
{
  *out_tokens = sr_store_token_list (sr_service_store (service), caller->uid, error);
  return *out_tokens != NULL;
}

static gboolean
unknown_token (const char *id, GError **error)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT,
               _ ("Token '%s' does not exist or you may not access it"), id);
  return FALSE;
}

gboolean
sr_tokens_revoke (SrService *service, const SrCaller *caller, const char *id, GError **error)
{
  /* A malformed id is not quoted back: it may be the token itself. */
  if (g_str_has_prefix (id, SR_TOKEN_PREFIX))
    return sr_invalid_args (error,
                            _ ("Invalid token id: expected 32 lowercase hexadecimal characters, "
                               "the id CreateToken returned, not the token"));
  if (!sr_id_is_valid (id))
    return sr_invalid_args (error,
                            _ ("Invalid token id: expected 32 lowercase hexadecimal characters"));

  GError *local = NULL;
  if (!sr_store_token_delete (sr_service_store (service), id, caller->uid, &local)) {
    if (!g_error_matches (local, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND)) {
      g_propagate_error (error, local);
      return FALSE;
    }
    g_error_free (local);
    return unknown_token (id, error);
  }
  g_info ("Token %s of uid %u revoked by %s", id, caller->uid, caller->peer);
  sr_service_token_revoked (service, id, caller->uid);
  return TRUE;
}

static int
lower_hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Splits "srt_<id>_<secret>" into the id and the secret's bytes. */
static gboolean
parse_bearer (const char *bearer, char *id, guint8 *secret)
{
  const gsize prefix = sizeof SR_TOKEN_PREFIX - 1;

  if (bearer == NULL || strnlen (bearer, SR_TOKEN_LENGTH + 1) != SR_TOKEN_LENGTH
      || strncmp (bearer, SR_TOKEN_PREFIX, prefix) != 0 || bearer[prefix + SR_ID_LENGTH] != '_')
    return FALSE;
  memcpy (id, bearer + prefix, SR_ID_LENGTH);
  id[SR_ID_LENGTH] = '\0';
  if (!sr_id_is_valid (id))
    return FALSE;
  const char *hex = bearer + prefix + SR_ID_LENGTH + 1;
  for (gsize i = 0; i < SR_TOKEN_SECRET_BYTES; i++) {
    int high = lower_hex_value (hex[2 * i]);
    int low = lower_hex_value (hex[2 * i + 1]);
    if (high < 0 || low < 0)
      return FALSE;
    secret[i] = (guint8) (high << 4 | low);
  }
  return TRUE;
}

/* Looks at every byte whatever the first difference, so the time taken says nothing about
 * how much of a guess was right. */
static gboolean
digests_equal (const guint8 *a, const guint8 *b)
{
  volatile guint8 difference = 0;
  for (gsize i = 0; i < SR_TOKEN_HASH_BYTES; i++)
    difference |= a[i] ^ b[i];
  return difference == 0;
}

static gboolean
unauthenticated (GError **error)
{
  g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNAUTHENTICATED,
                       _ ("The API token is not valid: it is incomplete, mistyped or revoked; "
                          "create a new one with CreateToken"));
  return FALSE;
}

static void
note_use (SrService *service, const SrTokenRecord *record)
{
  gint64 now = sr_now_us ();
  g_autoptr (GError) error = NULL;
  gboolean done;

  /* A clock set back makes last_used lie in the future; noting the present fixes it. */
  if (record->last_used <= now && now - record->last_used < TOUCH_INTERVAL_US)
    return;
  if (!sr_store_token_touch (sr_service_store (service), record->id, now, &done, &error))
    g_warning ("Cannot note the use of token %s: %s", record->id, error->message);
  else if (!done)
    g_debug ("Token %s: its use is noted later, the database is being written", record->id);
}

gboolean
sr_tokens_authenticate (SrService *service, const char *bearer, guint32 *out_uid,
                        char **out_token_id, GError **error)
{
  static const guint8 no_token[SR_TOKEN_HASH_BYTES] = { 0 };
  char id[SR_ID_LENGTH + 1];
  guint8 secret[SR_TOKEN_SECRET_BYTES];
  guint8 digest[SR_TOKEN_HASH_BYTES];
  GError *local = NULL;

  if (!parse_bearer (bearer, id, secret)) {
    g_debug ("A bearer token was refused: it is not srt_<id>_<secret>");
    return unauthenticated (error);
  }
  hash_secret (secret, digest);
  explicit_bzero (secret, sizeof secret);

  g_autoptr (SrTokenRecord) record = sr_store_token_lookup (sr_service_store (service), id, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  /* An unknown id costs the same comparison as a wrong secret. */
  gboolean equal = digests_equal (digest, record != NULL ? record->secret_sha256 : no_token);
  if (record == NULL || !equal) {
    g_debug ("Bearer token %s was refused: %s", id, record == NULL ? "unknown" : "wrong secret");
    return unauthenticated (error);
  }
  note_use (service, record);
  *out_uid = record->owner_uid;
  if (out_token_id != NULL)
    *out_token_id = g_steal_pointer (&record->id);
  return TRUE;
}
