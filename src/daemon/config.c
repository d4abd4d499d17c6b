/* smartrag.conf: loading, defaults and validation of every key. */
#include "daemon/config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <inttypes.h>
#include <string.h>

#include "common/durations.h"
#include "common/errors.h"

typedef enum {
  KEY_DURATION,
  KEY_UINT,
  KEY_SIZE,
  KEY_LOG_LEVEL,
  KEY_BOOLEAN,
  KEY_CHOICE,  /* one of KeySpec.choices, stored as its index (an enum) */
  KEY_NAME,    /* a model name: printable, no spaces; min and max bound its length */
  KEY_URL,     /* http:// or https://; min 0 allows nothing */
  KEY_PATH,    /* an absolute path, or nothing */
  KEY_SOCKET,  /* an absolute path that fits a Unix socket address, "auto", or nothing */
  KEY_LISTEN,  /* an IP address and port, or nothing */
  KEY_ORIGINS, /* web origins (scheme://host[:port]) apart by spaces or commas, or nothing */
} KeyType;

/* Every key the daemon knows; data/smartrag.conf documents the same list and a unit
 * test checks that the two agree. */
typedef struct {
  const char *group;
  const char *key;
  KeyType type;
  gsize offset;
  const char *fallback;
  guint64 min, max;           /* bounds of numbers, durations and sizes, lengths of names */
  const char *const *choices; /* of KEY_CHOICE */
  const char *example;        /* of a name or URL, for the hint */
} KeySpec;

static const char *const generation_backends[] = { "auto", "builtin", "ollama", "openai", NULL };
static const char *const embedding_backends[] = { "builtin", "ollama", "openai", NULL };

/* Longer names and URLs are no model's or server's. */
#define MAX_NAME_CHARS 256
#define MAX_URL_CHARS  2048
/* sun_path holds 108 bytes with the terminating NUL. */
#define MAX_SOCKET_PATH 107

#define FIELD(f) G_STRUCT_OFFSET (SrConfig, f)

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
  { "limits", "max_tokens_per_user", KEY_UINT, FIELD (max_tokens_per_user), "32", 1, 10000 },
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
  { "generation", "backend", KEY_CHOICE, FIELD (generation_backend), "auto", 0, 0,
    generation_backends },
  { "generation", "ollama_url", KEY_URL, FIELD (ollama_url), "http://127.0.0.1:11434", 1,
    MAX_URL_CHARS, NULL, "http://127.0.0.1:11434" },
  { "generation", "ollama_model", KEY_NAME, FIELD (ollama_model), "llama3.2", 1, MAX_NAME_CHARS,
    NULL, "llama3.2" },
  { "generation", "ollama_keep_alive", KEY_DURATION, FIELD (ollama_keep_alive), "5m", 0,
    7 * 24 * 3600 },
  { "generation", "ollama_preload", KEY_BOOLEAN, FIELD (ollama_preload), "false" },
  { "generation", "openai_url", KEY_URL, FIELD (openai_url), "", 0, MAX_URL_CHARS, NULL,
    "http://127.0.0.1:8080/v1" },
  { "generation", "openai_model", KEY_NAME, FIELD (openai_model), "", 0, MAX_NAME_CHARS, NULL,
    "llama-3.2-3b-instruct" },
  { "generation", "openai_api_key_file", KEY_PATH, FIELD (openai_api_key_file), "", 0, 0, NULL,
    "/etc/smartrag/openai.key" },
  { "generation", "connect_timeout", KEY_DURATION, FIELD (connect_timeout), "5s", 1, 300 },
  { "generation", "first_token_timeout", KEY_DURATION, FIELD (first_token_timeout), "60s", 1,
    3600 },
  { "generation", "total_timeout", KEY_DURATION, FIELD (total_timeout), "5m", 1, 24 * 3600 },
  { "embedding", "backend", KEY_CHOICE, FIELD (embedding_backend), "builtin", 0, 0,
    embedding_backends },
  { "embedding", "ollama_url", KEY_URL, FIELD (embedding_ollama_url), "http://127.0.0.1:11434", 1,
    MAX_URL_CHARS, NULL, "http://127.0.0.1:11434" },
  { "embedding", "ollama_model", KEY_NAME, FIELD (embedding_ollama_model), "nomic-embed-text", 1,
    MAX_NAME_CHARS, NULL, "nomic-embed-text" },
  { "embedding", "openai_url", KEY_URL, FIELD (embedding_openai_url), "", 0, MAX_URL_CHARS, NULL,
    "http://127.0.0.1:8080/v1" },
  { "embedding", "openai_model", KEY_NAME, FIELD (embedding_openai_model), "", 0, MAX_NAME_CHARS,
    NULL, "text-embedding-3-small" },
  { "embedding", "openai_api_key_file", KEY_PATH, FIELD (embedding_openai_api_key_file), "", 0, 0,
    NULL, "/etc/smartrag/openai.key" },
  { "embedding", "batch_size", KEY_UINT, FIELD (embedding_batch_size), "32", 1, 1024 },
  { "embedding", "timeout", KEY_DURATION, FIELD (embedding_timeout), "60s", 1, 3600 },
  { "backup", "directory", KEY_PATH, FIELD (backup_directory), "", 0, 0, NULL,
    "/var/backups/smartrag" },
  { "backup", "keep", KEY_UINT, FIELD (backup_keep), "7", 1, 1000 },
  { "security", "authorization_cache", KEY_DURATION, FIELD (authorization_cache), "10s", 0, 3600 },
  { "http", "socket", KEY_SOCKET, FIELD (http_socket), "auto" },
  { "http", "listen", KEY_LISTEN, FIELD (http_listen), "127.0.0.1:8765" },
  { "http", "allow_remote", KEY_BOOLEAN, FIELD (http_allow_remote), "false" },
  { "http", "max_body_size", KEY_SIZE, FIELD (http_max_body_size), "1M", 1024, 64 << 20 },
  { "http", "request_timeout", KEY_DURATION, FIELD (http_request_timeout), "30s", 1, 3600 },
  { "http", "rate_limit", KEY_UINT, FIELD (http_rate_limit), "20", 0, 1000000 },
  { "http", "rate_limit_burst", KEY_UINT, FIELD (http_rate_limit_burst), "40", 1, 1000000 },
  { "http", "local_rate_limit", KEY_UINT, FIELD (http_local_rate_limit), "200", 0, 1000000 },
  { "http", "local_rate_limit_burst", KEY_UINT, FIELD (http_local_rate_limit_burst), "400", 1,
    1000000 },
  { "http", "cors_origins", KEY_ORIGINS, FIELD (http_cors_origins), "" },
};

static const char *const log_levels[] = { "error", "warning", "info", "debug" };
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

static void
set_text (guint8 *field, const char *text)
{
  g_free (*(char **) field);
  *(char **) field = g_strdup (text);
}

/* Printable characters other than spaces, as model names are ("llama3.2:1b",
 * "org/model-7B"): a space or control character is a typo or a pasted line. */
static gboolean
is_name (const char *text, const KeySpec *spec)
{
  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;
  glong chars = g_utf8_strlen (text, -1);
  if ((guint64) chars < spec->min || (guint64) chars > spec->max)
    return FALSE;
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (g_unichar_isspace (c) || !g_unichar_isprint (c))
      return FALSE;
  }
  return TRUE;
}

/* An http or https URL with a host and nothing a base URL cannot have. Credentials are
 * refused: URLs are logged and shown by GetHealth, and a key belongs in a key file. */
static gboolean
is_url (const char *text, const KeySpec *spec)
{
  if (strlen (text) > spec->max)
    return FALSE;
  g_autoptr (GUri) uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return FALSE;
  const char *scheme = g_uri_get_scheme (uri);
  const char *host = g_uri_get_host (uri);
  return (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "https") == 0)
         && host != NULL && *host != '\0' && g_uri_get_userinfo (uri) == NULL
         && g_uri_get_query (uri) == NULL && g_uri_get_fragment (uri) == NULL;
}

static char *
without_trailing_slashes (const char *text)
{
  gsize length = strlen (text);
  while (length > 0 && text[length - 1] == '/')
    length--;
  return g_strndup (text, length);
}

GSocketAddress *
sr_config_parse_listen (const char *text)
{
  g_autofree char *host = NULL;
  const char *port;

  if (text[0] == '[') {
    const char *close = strchr (text, ']');
    if (close == NULL || close[1] != ':')
      return NULL;
    host = g_strndup (text + 1, (gsize) (close - text - 1));
    port = close + 2;
  } else {
    const char *colon = strrchr (text, ':');
    /* An IPv6 address needs its brackets to be told from its port. */
    if (colon == NULL || memchr (text, ':', (gsize) (colon - text)) != NULL)
      return NULL;
    host = g_strndup (text, (gsize) (colon - text));
    port = colon + 1;
  }
  guint64 number;
  if (!g_ascii_isdigit (port[0])
      || !g_ascii_string_to_unsigned (port, 10, 0, G_MAXUINT16, &number, NULL))
    return NULL;
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (host);
  if (address == NULL)
    return NULL;
  return g_inet_socket_address_new (address, (guint16) number);
}

static gboolean
is_socket_path (const char *text)
{
  return g_str_equal (text, "auto") || *text == '\0'
         || (g_path_is_absolute (text) && strlen (text) <= MAX_SOCKET_PATH
             && g_utf8_validate (text, -1, NULL));
}

static gboolean
parse_address (const KeySpec *spec, const char *text, SrConfig *config, char **expected)
{
  guint8 *field = (guint8 *) config + spec->offset;
  if (spec->type == KEY_SOCKET) {
    if (is_socket_path (text)) {
      set_text (field, text);
      return TRUE;
    }
    *expected = g_strdup_printf (_ ("an absolute file name of at most %d bytes such as "
                                    "/run/smartrag/http.sock, auto, or nothing"),
                                 MAX_SOCKET_PATH);
    return FALSE;
  }
  g_autoptr (GSocketAddress) address = *text != '\0' ? sr_config_parse_listen (text) : NULL;
  if (*text == '\0' || address != NULL) {
    set_text (field, text);
    return TRUE;
  }
  *expected = g_strdup (_ ("an IP address and port such as 127.0.0.1:8765 or [::1]:8765 (port 0 "
                           "takes any free port), or nothing"));
  return FALSE;
}

/* An origin as browsers send it in Origin: the scheme and host in lower case, the port
 * only when it is not the scheme's own; NULL for anything else, a path included. */
static char *
normal_origin (const char *text)
{
  g_autoptr (GUri) uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return NULL;
  const char *host = g_uri_get_host (uri);
  if (host == NULL || *host == '\0' || g_uri_get_userinfo (uri) != NULL
      || *g_uri_get_path (uri) != '\0' || g_uri_get_query (uri) != NULL
      || g_uri_get_fragment (uri) != NULL || !g_utf8_validate (text, -1, NULL))
    return NULL;
  g_autofree char *scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);
  g_autofree char *lower = g_ascii_strdown (host, -1);
  int port = g_uri_get_port (uri);
  if ((g_str_equal (scheme, "http") && port == 80)
      || (g_str_equal (scheme, "https") && port == 443))
    port = -1;
  return g_uri_join (G_URI_FLAGS_NONE, scheme, NULL, lower, port, "", NULL, NULL);
}

/* Kept as the origins in their normal form, one space apart. "*" is refused: every web
 * page could then use the API with whatever token it gets hold of. */
static gboolean
parse_origins (const KeySpec *spec, const char *text, SrConfig *config, char **expected)
{
  g_auto (GStrv) words = g_strsplit_set (text, " \t,", -1);
  g_autoptr (GPtrArray) origins = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; words[i] != NULL; i++) {
    if (*words[i] == '\0')
      continue;
    char *origin = normal_origin (words[i]);
    if (origin == NULL) {
      *expected = g_strdup (_ ("web origins such as https://app.example.org or "
                               "http://localhost:3000 (scheme, host and port, no path), apart "
                               "by spaces or commas, or nothing; * is not accepted"));
      return FALSE;
    }
    g_ptr_array_add (origins, origin);
  }
  g_ptr_array_add (origins, NULL);
  g_autofree char *joined = g_strjoinv (" ", (char **) origins->pdata);
  set_text ((guint8 *) config + spec->offset, joined);
  return TRUE;
}

static gboolean
parse_value (const KeySpec *spec, const char *text, SrConfig *config, char **expected)
{
  guint8 *field = (guint8 *) config + spec->offset;

  switch (spec->type) {
  case KEY_BOOLEAN:
    if (g_str_equal (text, "true") || g_str_equal (text, "false")) {
      *(gboolean *) field = g_str_equal (text, "true");
      return TRUE;
    }
    *expected = g_strdup (_ ("true or false"));
    return FALSE;

  case KEY_CHOICE:
    for (guint i = 0; spec->choices[i] != NULL; i++) {
      if (g_str_equal (text, spec->choices[i])) {
        *(int *) field = (int) i;
        return TRUE;
      }
    }
    {
      g_autofree char *list = g_strjoinv (", ", (char **) spec->choices);
      *expected = g_strdup_printf (_ ("one of %s"), list);
    }
    return FALSE;

  case KEY_NAME:
    if (is_name (text, spec)) {
      set_text (field, text);
      return TRUE;
    }
    if (spec->min == 0)
      *expected = g_strdup_printf (_ ("a model name such as %s (at most %" PRIu64 " characters, "
                                      "no spaces), or nothing"),
                                   spec->example, spec->max);
    else
      *expected = g_strdup_printf (_ ("a model name such as %s (at most %" PRIu64 " characters, "
                                      "no spaces)"),
                                   spec->example, spec->max);
    return FALSE;

  case KEY_URL:
    if ((*text == '\0' && spec->min == 0) || is_url (text, spec)) {
      g_autofree char *url = without_trailing_slashes (text);
      set_text (field, url);
      return TRUE;
    }
    if (spec->min == 0)
      *expected = g_strdup_printf (_ ("an http:// or https:// URL without user name, password, "
                                      "query or fragment, such as %s, or nothing"),
                                   spec->example);
    else
      *expected = g_strdup_printf (_ ("an http:// or https:// URL without user name, password, "
                                      "query or fragment, such as %s"),
                                   spec->example);
    return FALSE;

  case KEY_PATH:
    if (*text == '\0' || (g_path_is_absolute (text) && g_utf8_validate (text, -1, NULL))) {
      set_text (field, text);
      return TRUE;
    }
    *expected = g_strdup_printf (_ ("an absolute file name such as %s, or nothing"), spec->example);
    return FALSE;

  case KEY_SOCKET:
  case KEY_LISTEN:
    return parse_address (spec, text, config, expected);

  case KEY_ORIGINS:
    return parse_origins (spec, text, config, expected);

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

/* Keys whose field is a string the configuration owns. */
static gboolean
holds_string (KeyType type)
{
  switch (type) {
  case KEY_NAME:
  case KEY_URL:
  case KEY_PATH:
  case KEY_SOCKET:
  case KEY_LISTEN:
  case KEY_ORIGINS:
    return TRUE;
  default:
    return FALSE;
  }
}

void
sr_config_free (SrConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->path);
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (holds_string (keys[i].type))
      g_free (*(char **) ((guint8 *) config + keys[i].offset));
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

/* Keys that are valid alone but not with each other; reported in the same form. */
static void
check_together (const SrConfig *config, const char *path, GString *problems)
{
  if (config->generation_backend == SR_GENERATION_OPENAI && *config->openai_url == '\0')
    g_string_append_printf (problems,
                            _ ("%s: [generation] openai_url = \"\": expected the URL of the "
                               "OpenAI-compatible server, such as http://127.0.0.1:8080/v1, "
                               "since backend = openai"),
                            path);
  if (config->embedding_backend == SR_EMBEDDING_OPENAI
      && (*config->embedding_openai_url == '\0' || *config->embedding_openai_model == '\0'))
    g_string_append_printf (problems,
                            _ ("%s%s: [embedding] backend = \"openai\": expected openai_url and "
                               "openai_model to be set as well"),
                            problems->len ? "\n" : "", path);
  /* Nothing on the wire is encrypted, and a peer on the network has no uid to check. */
  g_autoptr (GSocketAddress) tcp = sr_config_parse_listen (config->http_listen);
  if (tcp != NULL && !config->http_allow_remote
      && !g_inet_address_get_is_loopback (
          g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (tcp))))
    g_string_append_printf (problems,
                            _ ("%s%s: [http] listen = \"%s\": expected a loopback address such as "
                               "127.0.0.1:8765 or [::1]:8765, since allow_remote = false; set "
                               "allow_remote = true to serve other machines"),
                            problems->len ? "\n" : "", path, config->http_listen);
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
  if (problems->len == 0)
    check_together (config, path, problems);
  if (problems->len > 0) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS, problems->str);
    return NULL;
  }
  return g_steal_pointer (&config);
}

static gboolean
same_value (const KeySpec *spec, const SrConfig *a, const SrConfig *b)
{
  const guint8 *x = (const guint8 *) a + spec->offset;
  const guint8 *y = (const guint8 *) b + spec->offset;
  if (holds_string (spec->type))
    return g_strcmp0 (*(char *const *) x, *(char *const *) y) == 0;
  switch (spec->type) {
  case KEY_BOOLEAN:
    return *(const gboolean *) x == *(const gboolean *) y;
  case KEY_CHOICE:
    return *(const int *) x == *(const int *) y;
  case KEY_LOG_LEVEL:
    return *(const SrLogLevel *) x == *(const SrLogLevel *) y;
  case KEY_DURATION:
  case KEY_UINT:
  case KEY_SIZE:
    return *(const guint64 *) x == *(const guint64 *) y;
  default:
    g_assert_not_reached ();
  }
}

GStrv
sr_config_changed_keys (const SrConfig *before, const SrConfig *after)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++) {
    if (same_value (&keys[i], before, after))
      continue;
    g_autofree char *name = g_strdup_printf ("%s.%s", keys[i].group, keys[i].key);
    g_strv_builder_add (builder, name);
  }
  return g_strv_builder_end (builder);
}

GStrv
sr_config_known_keys (void)
{
  GStrv names = g_new0 (char *, G_N_ELEMENTS (keys) + 1);
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    names[i] = g_strdup_printf ("%s.%s", keys[i].group, keys[i].key);
  return names;
}

const char *
sr_generation_backend_name (SrGenerationBackend backend)
{
  g_return_val_if_fail ((guint) backend < G_N_ELEMENTS (generation_backends) - 1, "auto");
  return generation_backends[backend];
}
