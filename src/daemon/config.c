/* smartrag.conf: loading, defaults and validation of every key. */
#include "daemon/config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <inttypes.h>

#include "common/durations.h"
#include "common/errors.h"

typedef enum {
  KEY_DURATION,
  KEY_UINT,
  KEY_SIZE,
  KEY_LOG_LEVEL,
  KEY_TEXT,              /* min to max characters, no control characters */
  KEY_URL,               /* http or https; empty allowed when min is 0 */
  KEY_PATH,              /* absolute, or empty */
  KEY_EMBEDDING_BACKEND, /* SrEmbeddingBackend */
} KeyType;

/* Every key the daemon knows; data/smartrag.conf documents the same list and a unit
 * test checks that the two agree. */
typedef struct {
  const char *group;
  const char *key;
  KeyType type;
  gsize offset;
  const char *fallback;
  guint64 min, max; /* bounds of numbers, durations and sizes; lengths of texts */
} KeySpec;

#define FIELD(f) G_STRUCT_OFFSET (SrConfig, f)
/* Longest model name, and longest URL or path, in characters. */
#define MAX_NAME_CHARS 256
#define MAX_TEXT_CHARS 4096

static const KeySpec keys[] = {
  { "daemon", "log_level", KEY_LOG_LEVEL, FIELD (log_level), "info", 0, 0 },
  { "daemon", "session_expiry", KEY_DURATION, FIELD (session_expiry), "24h", 0,
    (guint64) 3650 * 24 * 3600 },
  { "daemon", "expiry_check_interval", KEY_DURATION, FIELD (expiry_check_interval), "10m", 1,
    24 * 3600 },
  { "daemon", "shutdown_timeout", KEY_DURATION, FIELD (shutdown_timeout), "30s", 0, 3600 },
  { "daemon", "ingest_workers", KEY_UINT, FIELD (ingest_workers), "0", 0, 256 },
  { "limits", "max_title_bytes", KEY_UINT, FIELD (max_title_bytes), "512", 1, 65536 },
  { "limits", "max_context_bytes", KEY_UINT, FIELD (max_context_bytes), "65536", 2,
    16 * 1024 * 1024 },
  { "limits", "max_sessions_per_user", KEY_UINT, FIELD (max_sessions_per_user), "10000", 0,
    G_MAXUINT32 },
  { "limits", "max_file_size", KEY_SIZE, FIELD (max_file_size), "100M", 1024,
    G_GUINT64_CONSTANT (64) << 30 },
  { "limits", "max_text_size", KEY_SIZE, FIELD (max_text_size), "10M", 1024, 64 << 20 },
  { "limits", "upload_idle_timeout", KEY_DURATION, FIELD (upload_idle_timeout), "30s", 1, 3600 },
  { "limits", "max_decompressed_size", KEY_SIZE, FIELD (max_decompressed_size), "512M", 1 << 20,
    G_GUINT64_CONSTANT (64) << 30 },
  { "limits", "max_pages", KEY_UINT, FIELD (max_pages), "5000", 1, 1000000 },
  { "limits", "max_chunks_per_document", KEY_UINT, FIELD (max_chunks_per_document), "100000", 1,
    100000000 },
  { "limits", "max_extracted_size", KEY_SIZE, FIELD (max_extracted_size), "64M", 64 << 10,
    G_GUINT64_CONSTANT (2) << 30 },
  { "limits", "extract_memory", KEY_SIZE, FIELD (extract_memory), "1G", 64 << 20,
    G_GUINT64_CONSTANT (64) << 30 },
  { "limits", "extract_cpu_time", KEY_DURATION, FIELD (extract_cpu_time), "60s", 1, 24 * 3600 },
  { "limits", "extract_timeout", KEY_DURATION, FIELD (extract_timeout), "120s", 1, 24 * 3600 },
  { "limits", "max_question_size", KEY_SIZE, FIELD (max_question_size), "16K", 256, 1 << 20 },
  { "query", "max_queries_per_user", KEY_UINT, FIELD (max_queries_per_user), "4", 0, 1000 },
  { "query", "max_generations", KEY_UINT, FIELD (max_generations), "2", 1, 256 },
  { "query", "history_messages", KEY_UINT, FIELD (history_messages), "6", 0, 100 },
  { "embedding", "backend", KEY_EMBEDDING_BACKEND, FIELD (embedding_backend), "builtin", 0, 0 },
  { "embedding", "ollama_url", KEY_URL, FIELD (embedding_ollama_url), "http://127.0.0.1:11434", 1,
    MAX_TEXT_CHARS },
  { "embedding", "ollama_model", KEY_TEXT, FIELD (embedding_ollama_model), "nomic-embed-text", 1,
    MAX_NAME_CHARS },
  { "embedding", "openai_url", KEY_URL, FIELD (embedding_openai_url), "", 0, MAX_TEXT_CHARS },
  { "embedding", "openai_model", KEY_TEXT, FIELD (embedding_openai_model), "", 0, MAX_NAME_CHARS },
  { "embedding", "openai_api_key_file", KEY_PATH, FIELD (embedding_openai_api_key_file), "", 0,
    MAX_TEXT_CHARS },
  { "embedding", "batch_size", KEY_UINT, FIELD (embedding_batch_size), "32", 1, 1024 },
  { "embedding", "timeout", KEY_DURATION, FIELD (embedding_timeout), "60s", 1, 3600 },
  { "security", "authorization_cache", KEY_DURATION, FIELD (authorization_cache), "10s", 0, 3600 },
};

static const char *const log_levels[] = { "error", "warning", "info", "debug" };
static const char *const embedding_backends[] = { "builtin", "ollama", "openai" };

static gboolean
key_is_text (KeyType type)
{
  return type == KEY_TEXT || type == KEY_URL || type == KEY_PATH;
}

static gboolean
is_printable (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

static gboolean
text_fits (const KeySpec *spec, const char *text)
{
  glong length = g_utf8_strlen (text, -1);
  return g_utf8_validate (text, -1, NULL) && is_printable (text) && (guint64) length >= spec->min
         && (guint64) length <= spec->max;
}

/* A model name as a server knows it: "nomic-embed-text", "hf.co/org/model:Q8_0". */
static gboolean
parse_text (const KeySpec *spec, const char *text, char **expected)
{
  if (text_fits (spec, text))
    return TRUE;
  if (spec->min == 0)
    *expected = g_strdup_printf (_ ("a name of at most %" PRIu64 " characters, without control "
                                    "characters, or nothing"),
                                 spec->max);
  else
    *expected = g_strdup_printf (_ ("a name of %" PRIu64 " to %" PRIu64 " characters, without "
                                    "control characters"),
                                 spec->min, spec->max);
  return FALSE;
}

/* A server's address. No user name or password: the URL appears in messages and logs,
 * and a key belongs in a file of its own. */
static gboolean
parse_url (const KeySpec *spec, const char *text, char **expected)
{
  if (*text == '\0' && spec->min == 0)
    return TRUE;
  g_autoptr (GUri) uri = text_fits (spec, text) ? g_uri_parse (text, G_URI_FLAGS_NONE, NULL) : NULL;
  const char *scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  const char *host = uri != NULL ? g_uri_get_host (uri) : NULL;
  if (scheme != NULL && (g_str_equal (scheme, "http") || g_str_equal (scheme, "https"))
      && host != NULL && *host != '\0' && g_uri_get_userinfo (uri) == NULL
      && g_uri_get_query (uri) == NULL && g_uri_get_fragment (uri) == NULL)
    return TRUE;
  const char *hint = _ ("an http:// or https:// URL such as http://127.0.0.1:11434, without user "
                        "name, password, query or fragment");
  *expected = spec->min == 0 ? g_strdup_printf (_ ("%s, or nothing"), hint) : g_strdup (hint);
  return FALSE;
}

static gboolean
parse_path (const KeySpec *spec, const char *text, char **expected)
{
  if (*text == '\0' || (g_path_is_absolute (text) && text_fits (spec, text)))
    return TRUE;
  *expected = g_strdup (_ ("an absolute path such as /etc/smartrag/embedding.key, or nothing"));
  return FALSE;
}

static gboolean
parse_embedding_backend (const char *text, SrEmbeddingBackend *backend, char **expected)
{
  for (guint i = 0; i < G_N_ELEMENTS (embedding_backends); i++) {
    if (g_str_equal (text, embedding_backends[i])) {
      *backend = (SrEmbeddingBackend) i;
      return TRUE;
    }
  }
  *expected = g_strdup (_ ("one of builtin, ollama, openai"));
  return FALSE;
}

/* In the notation the file takes, so a hint can be copied back: "64G", "1K", "1000". */
static char *
format_size (guint64 bytes)
{
  static const char suffixes[] = "GMK";
  for (guint i = 0; i < 3; i++) {
    guint shift = 10 * (3 - i);
    if (bytes > 0 && bytes % (G_GUINT64_CONSTANT (1) << shift) == 0)
      return g_strdup_printf ("%" G_GUINT64_FORMAT "%c", bytes >> shift, suffixes[i]);
  }
  return g_strdup_printf ("%" G_GUINT64_FORMAT, bytes);
}

/* "512K", "100M", "2G" (powers of 1024) or plain bytes. */
static gboolean
parse_size (const char *text, guint64 *bytes)
{
  static const char suffixes[] = "KMG";
  char *end = NULL;

  if (!g_ascii_isdigit (text[0]))
    return FALSE;
  errno = 0;
  guint64 value = g_ascii_strtoull (text, &end, 10);
  if (errno != 0)
    return FALSE;
  if (*end == '\0') {
    *bytes = value;
    return TRUE;
  }
  const char *unit = strchr (suffixes, g_ascii_toupper (*end));
  if (unit == NULL || end[1] != '\0')
    return FALSE;
  guint shift = 10 * (guint) (unit - suffixes + 1);
  if (value > (G_MAXUINT64 >> shift))
    return FALSE;
  *bytes = value << shift;
  return TRUE;
}

static gboolean
parse_value (const KeySpec *spec, const char *text, SrConfig *config, char **expected)
{
  guint8 *field = (guint8 *) config + spec->offset;

  switch (spec->type) {
  case KEY_LOG_LEVEL:
    for (guint i = 0; i < G_N_ELEMENTS (log_levels); i++) {
      if (g_str_equal (text, log_levels[i])) {
        *(SrLogLevel *) field = (SrLogLevel) i;
        return TRUE;
      }
    }
    *expected = g_strdup (_ ("one of error, warning, info, debug"));
    return FALSE;

  case KEY_DURATION: {
    guint64 seconds;
    if (sr_duration_parse (text, &seconds) && seconds >= spec->min && seconds <= spec->max) {
      *(guint64 *) field = seconds;
      return TRUE;
    }
    g_autofree char *max = sr_duration_format (spec->max);
    if (spec->min == 0)
      *expected = g_strdup_printf (_ ("a duration such as 30s, 15m, 24h or 7d, at most %s, "
                                      "or 0"),
                                   max);
    else
      *expected = g_strdup_printf (
          _ ("a duration such as 30s, 15m, 24h or 7d, from %" PRIu64 "s to %s"), spec->min, max);
    return FALSE;
  }

  case KEY_SIZE: {
    guint64 bytes;
    if (parse_size (text, &bytes) && bytes >= spec->min && bytes <= spec->max) {
      *(guint64 *) field = bytes;
      return TRUE;
    }
    g_autofree char *min = format_size (spec->min);
    g_autofree char *max = format_size (spec->max);
    *expected = g_strdup_printf (_ ("a size such as 512K, 100M or 2G, from %s to %s"), min, max);
    return FALSE;
  }

  case KEY_TEXT:
  case KEY_URL:
  case KEY_PATH: {
    gboolean ok = spec->type == KEY_TEXT  ? parse_text (spec, text, expected)
                  : spec->type == KEY_URL ? parse_url (spec, text, expected)
                                          : parse_path (spec, text, expected);
    if (ok) {
      g_free (*(char **) field);
      *(char **) field = g_strdup (text);
    }
    return ok;
  }

  case KEY_EMBEDDING_BACKEND:
    return parse_embedding_backend (text, (SrEmbeddingBackend *) field, expected);

  case KEY_UINT: {
    guint64 value;
    g_autoptr (GError) local = NULL;
    if (g_ascii_string_to_unsigned (text, 10, spec->min, spec->max, &value, &local)) {
      *(guint64 *) field = value;
      return TRUE;
    }
    *expected
        = g_strdup_printf (_ ("a whole number from %" PRIu64 " to %" PRIu64), spec->min, spec->max);
    return FALSE;
  }
  }
  g_assert_not_reached ();
}

static const KeySpec *
find_key (const char *group, const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (g_str_equal (keys[i].group, group) && g_str_equal (keys[i].key, key))
      return &keys[i];
  return NULL;
}

static gboolean
group_is_known (const char *group)
{
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (g_str_equal (keys[i].group, group))
      return TRUE;
  return FALSE;
}

SrConfig *
sr_config_new (void)
{
  SrConfig *config = g_new0 (SrConfig, 1);
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++) {
    g_autofree char *expected = NULL;
    gboolean ok = parse_value (&keys[i], keys[i].fallback, config, &expected);
    g_assert (ok);
  }
  return config;
}

void
sr_config_free (SrConfig *config)
{
  if (config == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (key_is_text (keys[i].type))
      g_free (*(char **) ((guint8 *) config + keys[i].offset));
  g_free (config->path);
  g_free (config);
}

static void
warn_unknown (GKeyFile *file, const char *path, GPtrArray *warnings)
{
  g_auto (GStrv) groups = g_key_file_get_groups (file, NULL);
  for (guint g = 0; groups[g] != NULL; g++) {
    if (!group_is_known (groups[g])) {
      g_ptr_array_add (warnings,
                       g_strdup_printf (_ ("%s: unknown group [%s] is ignored"), path, groups[g]));
      continue;
    }
    g_auto (GStrv) names = g_key_file_get_keys (file, groups[g], NULL, NULL);
    for (guint k = 0; names != NULL && names[k] != NULL; k++)
      if (find_key (groups[g], names[k]) == NULL)
        g_ptr_array_add (warnings, g_strdup_printf (_ ("%s: unknown key '%s' in [%s] is ignored"),
                                                    path, names[k], groups[g]));
  }
}

/* The keys that only make sense together. */
static void
check_embedding (const SrConfig *config, const char *path, GString *problems)
{
  if (config->embedding_backend == SR_EMBEDDING_OPENAI
      && (*config->embedding_openai_url == '\0' || *config->embedding_openai_model == '\0'))
    g_string_append_printf (problems, "%s%s: [embedding] backend = \"openai\": %s %s",
                            problems->len ? "\n" : "", path, _ ("expected"),
                            _ ("openai_url and openai_model to be set as well"));
}

SrConfig *
sr_config_load (const char *path, gboolean must_exist, GPtrArray *warnings, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autoptr (SrConfig) config = sr_config_new ();
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) local = NULL;

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &local)) {
    if (!must_exist && g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return g_steal_pointer (&config);
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS, _ ("%s: cannot read: %s"),
                 path, local->message);
    return NULL;
  }
  config->path = g_strdup (path);

  if (warnings != NULL)
    warn_unknown (file, path, warnings);

  g_autoptr (GString) problems = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++) {
    g_autofree char *text = g_key_file_get_value (file, keys[i].group, keys[i].key, NULL);
    if (text == NULL)
      continue;
    g_strstrip (text);
    g_autofree char *expected = NULL;
    if (!parse_value (&keys[i], text, config, &expected))
      g_string_append_printf (problems, "%s%s: [%s] %s = \"%s\": %s %s", problems->len ? "\n" : "",
                              path, keys[i].group, keys[i].key, text, _ ("expected"), expected);
  }
  check_embedding (config, path, problems);
  if (problems->len > 0) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS, problems->str);
    return NULL;
  }
  return g_steal_pointer (&config);
}

GStrv
sr_config_known_keys (void)
{
  GStrv names = g_new0 (char *, G_N_ELEMENTS (keys) + 1);
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    names[i] = g_strdup_printf ("%s.%s", keys[i].group, keys[i].key);
  return names;
}
