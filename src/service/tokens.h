/* API tokens: created, listed and revoked by their owner, and checked for HTTP over TCP. */
#pragma once

#include <glib.h>

#include "auth/caller.h"
#include "common/ids.h"
#include "service/service.h"
#include "store/tokens.h"

G_BEGIN_DECLS

#define SR_TOKEN_NAME_MAX_BYTES 128
/* A token is "srt_<id>_<secret>": the prefix makes it easy to find in a leaked file, the
 * id (32 hexadecimal characters) finds its row, the secret is 64 hexadecimal characters
 * (32 random bytes). Hexadecimal, unlike base64url, has no '-', so a double click selects
 * the whole token. */
#define SR_TOKEN_PREFIX       "srt_"
#define SR_TOKEN_SECRET_BYTES 32
#define SR_TOKEN_LENGTH       (sizeof SR_TOKEN_PREFIX - 1 + SR_ID_LENGTH + 1 + 2 * SR_TOKEN_SECRET_BYTES)

/* A token's name: one line of UTF-8, not blank, at most SR_TOKEN_NAME_MAX_BYTES bytes.
 * Faces check it before asking for authorization, so a bad call never prompts anyone. */
gboolean sr_tokens_check_name (const char *name, GError **error);

/* Makes a token for the caller named @name (one line of UTF-8, 1 to
 * SR_TOKEN_NAME_MAX_BYTES bytes). @out_token is the only copy of the secret there will ever
 * be: only its hash is stored, and it is never logged. TOO_LARGE when the caller holds
 * [limits] max_tokens_per_user tokens already. */
gboolean sr_tokens_create (SrService *service, const SrCaller *caller, const char *name,
                           char **out_id, char **out_token, GError **error);

/* The caller's own tokens (SrTokenRecord, hashes left zero), oldest first. Tokens are
 * personal: an administrator sees only theirs too. */
gboolean sr_tokens_list (SrService *service, const SrCaller *caller, GPtrArray **out_tokens,
                         GError **error);

/* Deletes one of the caller's tokens and tells the token listeners. UNKNOWN_OBJECT, with
 * one message, for a token that does not exist and for someone else's, so ids cannot be
 * probed; INVALID_ARGS for a malformed id. */
gboolean sr_tokens_revoke (SrService *service, const SrCaller *caller, const char *id,
                           GError **error);

/* Checks a bearer token: on success the uid it acts as and its id (for the token
 * listeners). UNAUTHENTICATED with one message for anything wrong with it (malformed,
 * unknown, revoked, wrong secret); FAILED only when the database fails. One read by
 * primary key, and a write at most once a minute per token that never waits: meant for
 * the main loop, whose database connection it uses, as every operation here does. */
gboolean sr_tokens_authenticate (SrService *service, const char *bearer, guint32 *out_uid,
                                 char **out_token_id, GError **error);

G_END_DECLS
