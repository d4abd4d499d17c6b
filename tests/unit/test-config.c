/* Unit tests for daemon/config: defaults, parsing, validation messages, warnings. */
#include "daemon/config.h"

#include <string.h>
#include <sys/stat.h>

#include "common/errors.h"
#include "unit-helpers.h"

#define DURATION_HINT "a duration such as 30s, 15m, 24h or 7d, "
/* One character longer than a model name may be. */
#define NAME_257                                                                                   \
  "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm" \
  "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm" \
  "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"
/* With "/tmp/" in front, the longest path a Unix socket address holds (107 bytes). */
#define SOCKET_107                                                                                 \
  "ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss" \
  "ssssssss"

typedef struct {
  char *dir;
  char *path; /* smartrag.conf in dir, not yet written */
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = sr_test_make_tmpdir ();
  f->path = g_build_filename (f->dir, "smartrag.conf", NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  sr_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

static SrConfig *
load_text (Fixture *f, const char *text, GPtrArray *warnings, GError **error)
{
  sr_test_write_file (f->path, text, -1);
  return sr_config_load (f->path, TRUE, warnings, error);
}

static SrConfig *
load_ok (Fixture *f, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  SrConfig *config = load_text (f, text, warnings, &error);
  g_assert_no_error (error);
  g_assert_nonnull (config);
  g_assert_cmpuint (warnings->len, ==, 0);
  return config;
}

/* Loads a file that sets one key and checks the one-line error it must produce. */
static void
assert_rejected (Fixture *f, const char *group, const char *key, const char *value,
                 const char *expected)
{
  g_autofree char *text = g_strdup_printf ("[%s]\n%s = %s\n", group, key, value);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrConfig) config = load_text (f, text, NULL, &error);
  g_autofree char *message
      = g_strdup_printf ("%s: [%s] %s = \"%s\": expected %s", f->path, group, key, value, expected);

  g_test_message ("[%s] %s = %s", group, key, value);
  g_assert_null (config);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==, message);
}

static void
assert_defaults (const SrConfig *config)
{
  g_assert_cmpint (config->log_level, ==, SR_LOG_INFO);
  g_assert_cmpuint (config->session_expiry, ==, 24 * 3600);
  g_assert_cmpuint (config->expiry_check_interval, ==, 10 * 60);
  g_assert_cmpuint (config->shutdown_timeout, ==, 30);
  g_assert_cmpuint (config->ingest_workers, ==, 0);
  g_assert_cmpuint (config->max_title_bytes, ==, 512);
  g_assert_cmpuint (config->max_context_bytes, ==, 65536);
  g_assert_cmpuint (config->max_sessions_per_user, ==, 10000);
  g_assert_cmpuint (config->max_tokens_per_user, ==, 32);
  g_assert_cmpuint (config->authorization_cache, ==, 10);
  g_assert_cmpstr (config->backup_directory, ==, "");
  g_assert_cmpuint (config->backup_keep, ==, 7);
  g_assert_cmpuint (config->max_file_size, ==, 100 << 20);
  g_assert_cmpuint (config->max_text_size, ==, 10 << 20);
  g_assert_cmpuint (config->upload_idle_timeout, ==, 30);
  g_assert_cmpuint (config->max_decompressed_size, ==, 512 << 20);
  g_assert_cmpuint (config->max_pages, ==, 5000);
  g_assert_cmpuint (config->max_chunks_per_document, ==, 100000);
  g_assert_cmpuint (config->max_extracted_size, ==, 64 << 20);
  g_assert_cmpuint (config->extract_memory, ==, 1 << 30);
  g_assert_cmpuint (config->extract_cpu_time, ==, 60);
  g_assert_cmpuint (config->extract_timeout, ==, 120);
  g_assert_cmpuint (config->max_question_size, ==, 16 << 10);
  g_assert_cmpuint (config->max_queries_per_user, ==, 4);
  g_assert_cmpuint (config->max_generations, ==, 2);
  g_assert_cmpuint (config->history_messages, ==, 6);
  g_assert_cmpint (config->generation_backend, ==, SR_GENERATION_AUTO);
  g_assert_cmpstr (config->ollama_url, ==, "http://127.0.0.1:11434");
  g_assert_cmpstr (config->ollama_model, ==, "llama3.2");
  g_assert_cmpuint (config->ollama_keep_alive, ==, 5 * 60);
  g_assert_false (config->ollama_preload);
  g_assert_cmpstr (config->openai_url, ==, "");
  g_assert_cmpstr (config->openai_model, ==, "");
  g_assert_cmpstr (config->openai_api_key_file, ==, "");
  g_assert_cmpuint (config->connect_timeout, ==, 5);
  g_assert_cmpuint (config->first_token_timeout, ==, 60);
  g_assert_cmpuint (config->total_timeout, ==, 5 * 60);
  g_assert_cmpint (config->embedding_backend, ==, SR_EMBEDDING_BUILTIN);
  g_assert_cmpstr (config->embedding_ollama_url, ==, "http://127.0.0.1:11434");
  g_assert_cmpstr (config->embedding_ollama_model, ==, "nomic-embed-text");
  g_assert_cmpstr (config->embedding_openai_url, ==, "");
  g_assert_cmpstr (config->embedding_openai_model, ==, "");
  g_assert_cmpstr (config->embedding_openai_api_key_file, ==, "");
  g_assert_cmpuint (config->embedding_batch_size, ==, 32);
  g_assert_cmpuint (config->embedding_timeout, ==, 60);
  g_assert_cmpstr (config->http_socket, ==, "auto");
  g_assert_cmpstr (config->http_listen, ==, "127.0.0.1:8765");
  g_assert_false (config->http_allow_remote);
  g_assert_cmpuint (config->http_max_body_size, ==, 1 << 20);
  g_assert_cmpuint (config->http_request_timeout, ==, 30);
  g_assert_cmpuint (config->http_rate_limit, ==, 20);
  g_assert_cmpuint (config->http_rate_limit_burst, ==, 40);
  g_assert_cmpuint (config->http_local_rate_limit, ==, 200);
  g_assert_cmpuint (config->http_local_rate_limit_burst, ==, 400);
  g_assert_cmpstr (config->http_cors_origins, ==, "");
}

static void
test_defaults (void)
{
  g_autoptr (SrConfig) config = sr_config_new ();
  g_assert_null (config->path);
  assert_defaults (config);
}

static void
test_missing_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (SrConfig) config = sr_config_load (f->path, FALSE, warnings, &error);

  g_assert_no_error (error);
  g_assert_nonnull (config);
  g_assert_null (config->path);
  g_assert_cmpuint (warnings->len, ==, 0);
  assert_defaults (config);
}

static void
test_missing_file_must_exist (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrConfig) config = sr_config_load (f->path, TRUE, NULL, &error);
  g_autofree char *prefix = g_strdup_printf ("%s: cannot read: ", f->path);

  g_assert_null (config);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_assert_nonnull (strstr (error->message, g_strerror (ENOENT)));
}

static void
test_empty_file (Fixture *f, gconstpointer data)
{
  g_autoptr (SrConfig) config = load_ok (f, "# nothing set\n\n");
  g_assert_cmpstr (config->path, ==, f->path);
  assert_defaults (config);
}

static void
test_empty_groups (Fixture *f, gconstpointer data)
{
  g_autoptr (SrConfig) config = load_ok (f, "[daemon]\n[limits]\n[security]\n");
  assert_defaults (config);
}

static void
test_every_key (Fixture *f, gconstpointer data)
{
  g_autoptr (SrConfig) config = load_ok (f, "[daemon]\n"
                                            "log_level = debug\n"
                                            "session_expiry = 2d\n"
                                            "expiry_check_interval = 90\n"
                                            "shutdown_timeout = 2m\n"
                                            "[limits]\n"
                                            "max_title_bytes = 100\n"
                                            "max_context_bytes = 4096\n"
                                            "max_sessions_per_user = 0\n"
                                            "[security]\n"
                                            "authorization_cache = 0\n");

  g_assert_cmpstr (config->path, ==, f->path);
  g_assert_cmpint (config->log_level, ==, SR_LOG_DEBUG);
  g_assert_cmpuint (config->session_expiry, ==, 2 * 24 * 3600);
  g_assert_cmpuint (config->expiry_check_interval, ==, 90);
  g_assert_cmpuint (config->shutdown_timeout, ==, 120);
  g_assert_cmpuint (config->max_title_bytes, ==, 100);
  g_assert_cmpuint (config->max_context_bytes, ==, 4096);
  g_assert_cmpuint (config->max_sessions_per_user, ==, 0);
  g_assert_cmpuint (config->authorization_cache, ==, 0);
}

/* Setting one key leaves every other at its default. */
static void
test_partial (Fixture *f, gconstpointer data)
{
  g_autoptr (SrConfig) config = load_ok (f, "[limits]\nmax_title_bytes = 64\n");
  g_autoptr (SrConfig) defaults = sr_config_new ();

  g_assert_cmpuint (config->max_title_bytes, ==, 64);
  config->max_title_bytes = defaults->max_title_bytes;
  assert_defaults (config);
}

static void
test_log_levels (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *name;
    SrLogLevel level;
  } levels[] = {
    { "error", SR_LOG_ERROR },
    { "warning", SR_LOG_WARNING },
    { "info", SR_LOG_INFO },
    { "debug", SR_LOG_DEBUG },
  };

  for (guint i = 0; i < G_N_ELEMENTS (levels); i++) {
    g_autofree char *text = g_strdup_printf ("[daemon]\nlog_level=%s\n", levels[i].name);
    g_autoptr (SrConfig) config = load_ok (f, text);
    g_assert_cmpint (config->log_level, ==, levels[i].level);
  }
}

static void
test_whitespace (Fixture *f, gconstpointer data)
{
  g_autoptr (SrConfig) config = load_ok (f, "[daemon]\n"
                                            "  log_level   =   warning   \n"
                                            "session_expiry=\t7d\t\n");
  g_assert_cmpint (config->log_level, ==, SR_LOG_WARNING);
  g_assert_cmpuint (config->session_expiry, ==, 7 * 24 * 3600);
}

/* What each key accepts at its edges and what it refuses just past them, with the
 * hint it gives. Every key of the table must be here (checked below). */
static const struct {
  const char *group;
  const char *key;
  const char *good[6];
  guint64 good_values[6];
  const char *bad[12];
  const char *expected;
  const char *good_texts[6]; /* of keys whose values are text: what is kept */
} key_cases[] = {
  { "daemon",
    "log_level",
    { "error", "debug" },
    { SR_LOG_ERROR, SR_LOG_DEBUG },
    { "loud", "INFO", "Debug", "", "3", "info debug", "warn" },
    "one of error, warning, info, debug" },
  { "daemon",
    "session_expiry",
    { "0", "1", "24h", "3650d", "87600h" },
    { 0, 1, 86400, 315360000, 315360000 },
    { "-1", "-1h", "3651d", "1.5h", "forever", "24 h", "1y", "never", "" },
    DURATION_HINT "at most 521w 3d, or 0" },
  { "daemon",
    "expiry_check_interval",
    { "1", "1s", "1d", "86400", "10m" },
    { 1, 1, 86400, 86400, 600 },
    { "0", "0s", "86401", "25h", "2d", "-5m", "ten", "10M" },
    DURATION_HINT "from 1s to 1d" },
  { "daemon",
    "shutdown_timeout",
    { "0", "1h", "3600", "45s" },
    { 0, 3600, 3600, 45 },
    { "3601", "61m", "2h", "-30s", "30 s", "half" },
    DURATION_HINT "at most 1h, or 0" },
  { "daemon",
    "ingest_workers",
    { "0", "256", "1" },
    { 0, 256, 1 },
    { "257", "-1", "two", "" },
    "a whole number from 0 to 256" },
  { "limits",
    "max_title_bytes",
    { "1", "65536", "512" },
    { 1, 65536, 512 },
    { "0", "65537", "-1", "-512", "12abc", "1.5", "0x10", "lots", "1e3", "" },
    "a whole number from 1 to 65536" },
  { "limits",
    "max_context_bytes",
    { "2", "16777216", "4096" },
    { 2, 16777216, 4096 },
    { "1", "0", "16777217", "-65536", "64k", "16MiB", "+4096", "" },
    "a whole number from 2 to 16777216" },
  { "limits",
    "max_sessions_per_user",
    { "0", "1", "4294967295" },
    { 0, 1, 4294967295u },
    { "4294967296", "-1", "many", "10 000", "18446744073709551616" },
    "a whole number from 0 to 4294967295" },
  { "limits",
    "max_tokens_per_user",
    { "1", "10000", "32" },
    { 1, 10000, 32 },
    { "0", "10001", "-1", "lots", "3.5", "" },
    "a whole number from 1 to 10000" },
  { "limits",
    "max_file_size",
    { "1024", "1K", "100M", "64G", "2g" },
    { 1024, 1024, 100u << 20, G_GUINT64_CONSTANT (64) << 30, G_GUINT64_CONSTANT (2) << 30 },
    { "1023", "0", "65G", "1T", "1.5G", "100 M", "100MB", "-1K", "M", "" },
    "a size such as 512K, 100M or 2G, from 1K to 64G" },
  { "limits",
    "max_text_size",
    { "1K", "64M", "10m" },
    { 1024, 64u << 20, 10u << 20 },
    { "65M", "1000", "lots", "" },
    "a size such as 512K, 100M or 2G, from 1K to 64M" },
  { "limits",
    "upload_idle_timeout",
    { "1", "1h", "30s" },
    { 1, 3600, 30 },
    { "0", "3601", "2h", "-1s" },
    DURATION_HINT "from 1s to 1h" },
  { "limits",
    "max_decompressed_size",
    { "1M", "64G", "512m" },
    { 1 << 20, G_GUINT64_CONSTANT (64) << 30, 512u << 20 },
    { "1023K", "0", "65G", "lots", "" },
    "a size such as 512K, 100M or 2G, from 1M to 64G" },
  { "limits",
    "max_pages",
    { "1", "1000000", "5000" },
    { 1, 1000000, 5000 },
    { "0", "1000001", "-1", "many", "" },
    "a whole number from 1 to 1000000" },
  { "limits",
    "max_chunks_per_document",
    { "1", "100000000", "100000" },
    { 1, 100000000, 100000 },
    { "0", "100000001", "-5", "1e5", "" },
    "a whole number from 1 to 100000000" },
  { "limits",
    "max_extracted_size",
    { "64K", "2G", "64M" },
    { 64 << 10, G_GUINT64_CONSTANT (2) << 30, 64u << 20 },
    { "63K", "0", "3G", "64MB", "" },
    "a size such as 512K, 100M or 2G, from 64K to 2G" },
  { "limits",
    "extract_memory",
    { "64M", "64G", "1g" },
    { 64u << 20, G_GUINT64_CONSTANT (64) << 30, 1u << 30 },
    { "63M", "0", "65G", "1GiB", "" },
    "a size such as 512K, 100M or 2G, from 64M to 64G" },
  { "limits",
    "extract_cpu_time",
    { "1", "1d", "60s", "5m" },
    { 1, 86400, 60, 300 },
    { "0", "86401", "2d", "-1s", "" },
    DURATION_HINT "from 1s to 1d" },
  { "limits",
    "extract_timeout",
    { "1s", "24h", "120" },
    { 1, 86400, 120 },
    { "0", "25h", "forever", "" },
    DURATION_HINT "from 1s to 1d" },
  { "limits",
    "max_question_size",
    { "256", "1M", "16K" },
    { 256, 1 << 20, 16 << 10 },
    { "255", "0", "2M", "lots", "" },
    "a size such as 512K, 100M or 2G, from 256 to 1M" },
  { "query",
    "max_queries_per_user",
    { "0", "1000", "4" },
    { 0, 1000, 4 },
    { "1001", "-1", "four", "" },
    "a whole number from 0 to 1000" },
  { "query",
    "max_generations",
    { "1", "256", "2" },
    { 1, 256, 2 },
    { "0", "257", "-2", "" },
    "a whole number from 1 to 256" },
  { "query",
    "history_messages",
    { "0", "100", "6" },
    { 0, 100, 6 },
    { "101", "-1", "six", "" },
    "a whole number from 0 to 100" },
  { "generation",
    "backend",
    /* openai needs openai_url too: see test_openai_needs_url */
    { "auto", "builtin", "ollama" },
    { SR_GENERATION_AUTO, SR_GENERATION_BUILTIN, SR_GENERATION_OLLAMA },
    { "Auto", "llama", "", "openai ollama", "none" },
    "one of auto, builtin, ollama, openai" },
  { "generation",
    "ollama_url",
    { "http://127.0.0.1:11434", "https://models.example.org/ollama/", "http://[::1]:11434",
      "HTTP://localhost" },
    { 0 },
    { "", "127.0.0.1:11434", "ftp://host/", "http://", "http://user:pw@host:11434",
      "http://host/?a=1", "http://host/#x", "unix:/run/ollama.sock", "http//host" },
    "an http:// or https:// URL without user name, password, query or fragment, such as "
    "http://127.0.0.1:11434",
    { "http://127.0.0.1:11434", "https://models.example.org/ollama", "http://[::1]:11434",
      "HTTP://localhost" } },
  { "generation",
    "ollama_model",
    { "llama3.2", "llama3.2:1b", "library/mistral:7b-instruct-q4_K_M" },
    { 0 },
    { "", "llama 3", "a\tb", "llama\x7f" },
    "a model name such as llama3.2 (at most 256 characters, no spaces)",
    { "llama3.2", "llama3.2:1b", "library/mistral:7b-instruct-q4_K_M" } },
  { "generation",
    "ollama_keep_alive",
    { "0", "5m", "7d", "1h" },
    { 0, 300, 7 * 86400, 3600 },
    { "-1", "8d", "forever", "5 m", "" },
    DURATION_HINT "at most 1w, or 0" },
  { "generation",
    "ollama_preload",
    { "true", "false" },
    { TRUE, FALSE },
    { "yes", "1", "True", "" },
    "true or false" },
  { "generation",
    "openai_url",
    { "", "http://127.0.0.1:8080/v1", "https://llm.example.org/v1/" },
    { 0 },
    { "127.0.0.1:8080", "http://key@host/v1", "file:///v1" },
    "an http:// or https:// URL without user name, password, query or fragment, such as "
    "http://127.0.0.1:8080/v1, or nothing",
    { "", "http://127.0.0.1:8080/v1", "https://llm.example.org/v1" } },
  { "generation",
    "openai_model",
    { "", "gpt-4o-mini", "meta-llama/Llama-3.2-3B-Instruct" },
    { 0 },
    { "two words", "tab\there" },
    "a model name such as llama-3.2-3b-instruct (at most 256 characters, no spaces), or "
    "nothing",
    { "", "gpt-4o-mini", "meta-llama/Llama-3.2-3B-Instruct" } },
  { "generation",
    "openai_api_key_file",
    { "", "/etc/smartrag/openai.key" },
    { 0 },
    { "openai.key", "./key", "~/key" },
    "an absolute file name such as /etc/smartrag/openai.key, or nothing",
    { "", "/etc/smartrag/openai.key" } },
  { "generation",
    "connect_timeout",
    { "1", "5m", "5s" },
    { 1, 300, 5 },
    { "0", "301", "1h", "" },
    DURATION_HINT "from 1s to 5m" },
  { "generation",
    "first_token_timeout",
    { "1s", "1h", "60" },
    { 1, 3600, 60 },
    { "0", "61m", "" },
    DURATION_HINT "from 1s to 1h" },
  { "generation",
    "total_timeout",
    { "1s", "1d", "5m" },
    { 1, 86400, 300 },
    { "0", "25h", "" },
    DURATION_HINT "from 1s to 1d" },
  { "embedding",
    "backend",
    /* openai needs openai_url and openai_model too: see test_embedding_openai_needs_server */
    { "builtin", "ollama" },
    { SR_EMBEDDING_BUILTIN, SR_EMBEDDING_OLLAMA },
    { "Ollama", "llama", "", "openai-compatible", "builtin ollama", "0", "auto" },
    "one of builtin, ollama, openai" },
  { "embedding",
    "ollama_url",
    { "http://127.0.0.1:11434", "https://ollama.example/", "http://[::1]:11434",
      "http://gpu-box:11434/ollama" },
    { 0 },
    { "", "127.0.0.1:11434", "ftp://host", "http://", "http://user:pw@host:11434",
      "http://host:11434/?a=b", "http://host/#x", "file:///x" },
    "an http:// or https:// URL without user name, password, query or fragment, such as "
    "http://127.0.0.1:11434",
    { "http://127.0.0.1:11434", "https://ollama.example", "http://[::1]:11434",
      "http://gpu-box:11434/ollama" } },
  { "embedding",
    "ollama_model",
    { "nomic-embed-text", "all-minilm:l6-v2", "hf.co/org/model:Q8_0" },
    { 0 },
    { "", "tab\there", NAME_257 },
    "a model name such as nomic-embed-text (at most 256 characters, no spaces)",
    { "nomic-embed-text", "all-minilm:l6-v2", "hf.co/org/model:Q8_0" } },
  { "embedding",
    "openai_url",
    { "", "http://127.0.0.1:8080/v1" },
    { 0 },
    { "localhost:8080", "http://key:secret@host/v1", "https://host/v1?key=1" },
    "an http:// or https:// URL without user name, password, query or fragment, such as "
    "http://127.0.0.1:8080/v1, or nothing",
    { "", "http://127.0.0.1:8080/v1" } },
  { "embedding",
    "openai_model",
    { "", "text-embedding-3-small" },
    { 0 },
    { "a\tb", NAME_257 },
    "a model name such as text-embedding-3-small (at most 256 characters, no spaces), or "
    "nothing",
    { "", "text-embedding-3-small" } },
  { "embedding",
    "openai_api_key_file",
    { "", "/etc/smartrag/openai.key" },
    { 0 },
    { "key.txt", "./key" },
    "an absolute file name such as /etc/smartrag/openai.key, or nothing",
    { "", "/etc/smartrag/openai.key" } },
  { "embedding",
    "batch_size",
    { "1", "1024", "32" },
    { 1, 1024, 32 },
    { "0", "1025", "-1", "many", "" },
    "a whole number from 1 to 1024" },
  { "embedding",
    "timeout",
    { "1", "1h", "60s" },
    { 1, 3600, 60 },
    { "0", "3601", "2h", "-1s", "" },
    DURATION_HINT "from 1s to 1h" },
  { "backup",
    "directory",
    { "", "/var/backups/smartrag" },
    { 0 },
    { "backups", "./backups", "~/backups" },
    "an absolute file name such as /var/backups/smartrag, or nothing",
    { "", "/var/backups/smartrag" } },
  { "backup",
    "keep",
    { "1", "1000", "7" },
    { 1, 1000, 7 },
    { "0", "1001", "-1", "seven", "" },
    "a whole number from 1 to 1000" },
  { "security",
    "authorization_cache",
    { "0", "3600", "1h", "10s" },
    { 0, 3600, 3600, 10 },
    { "3601", "2h", "-10s", "10x", "1.5m" },
    DURATION_HINT "at most 1h, or 0" },
  { "http",
    "socket",
    { "auto", "", "/run/smartrag/http.sock", "/tmp/" SOCKET_107 },
    { 0 },
    { "http.sock", "./http.sock", "~/http.sock", "Auto", "/tmp/" SOCKET_107 "x" },
    "an absolute file name of at most 107 bytes such as /run/smartrag/http.sock, auto, or "
    "nothing",
    { "auto", "", "/run/smartrag/http.sock", "/tmp/" SOCKET_107 } },
  { "http",
    "listen",
    { "", "127.0.0.1:8765", "[::1]:8765", "127.0.0.1:0", "127.1.2.3:65535" },
    { 0 },
    { "8765", "127.0.0.1", "localhost:8765", "::1:8765", "[::1]", "[::1]8765", "127.0.0.1:65536",
      "127.0.0.1:-1", "127.0.0.1:http", "127.0.0.1: 80", "[localhost]:80" },
    "an IP address and port such as 127.0.0.1:8765 or [::1]:8765 (port 0 takes any free port), "
    "or nothing",
    { "", "127.0.0.1:8765", "[::1]:8765", "127.0.0.1:0", "127.1.2.3:65535" } },
  { "http",
    "allow_remote",
    { "true", "false" },
    { TRUE, FALSE },
    { "yes", "1", "" },
    "true or false" },
  { "http",
    "max_body_size",
    { "1K", "64M", "1m" },
    { 1024, 64u << 20, 1u << 20 },
    { "1023", "65M", "0", "lots", "" },
    "a size such as 512K, 100M or 2G, from 1K to 64M" },
  { "http",
    "request_timeout",
    { "1", "1h", "30s" },
    { 1, 3600, 30 },
    { "0", "3601", "-1s", "" },
    DURATION_HINT "from 1s to 1h" },
  { "http",
    "rate_limit",
    { "0", "1000000", "20" },
    { 0, 1000000, 20 },
    { "1000001", "-1", "2.5", "fast", "" },
    "a whole number from 0 to 1000000" },
  { "http",
    "rate_limit_burst",
    { "1", "1000000", "40" },
    { 1, 1000000, 40 },
    { "0", "1000001", "-1", "" },
    "a whole number from 1 to 1000000" },
  { "http",
    "local_rate_limit",
    { "0", "1000000", "200" },
    { 0, 1000000, 200 },
    { "1000001", "-5", "" },
    "a whole number from 0 to 1000000" },
  { "http",
    "local_rate_limit_burst",
    { "1", "1000000", "400" },
    { 1, 1000000, 400 },
    { "0", "1000001", "many", "" },
    "a whole number from 1 to 1000000" },
  { "http",
    "cors_origins",
    { "", "https://app.example.org", "HTTPS://App.Example.org:443, http://localhost:3000",
      "http://[::1]:8080 http://127.0.0.1:80", "app://x ,, https://b.example:8443" },
    { 0 },
    { "*", "app.example.org", "https://app.example.org/", "https://a.example/x",
      "https://user@a.example", "https://a.example?x=1", "https://a.example#top", "null",
      "https://a.example *", "https://" },
    "web origins such as https://app.example.org or http://localhost:3000 (scheme, host and "
    "port, no path), apart by spaces or commas, or nothing; * is not accepted",
    { "", "https://app.example.org", "https://app.example.org http://localhost:3000",
      "http://[::1]:8080 http://127.0.0.1", "app://x https://b.example:8443" } },
};

static guint64
field_value (const SrConfig *config, const char *group, const char *key)
{
  if (g_str_equal (group, "embedding") && g_str_equal (key, "backend"))
    return config->embedding_backend;
  if (g_str_equal (key, "log_level"))
    return config->log_level;
  if (g_str_equal (key, "session_expiry"))
    return config->session_expiry;
  if (g_str_equal (key, "expiry_check_interval"))
    return config->expiry_check_interval;
  if (g_str_equal (key, "shutdown_timeout"))
    return config->shutdown_timeout;
  if (g_str_equal (key, "ingest_workers"))
    return config->ingest_workers;
  if (g_str_equal (key, "max_title_bytes"))
    return config->max_title_bytes;
  if (g_str_equal (key, "max_context_bytes"))
    return config->max_context_bytes;
  if (g_str_equal (key, "max_sessions_per_user"))
    return config->max_sessions_per_user;
  if (g_str_equal (key, "max_tokens_per_user"))
    return config->max_tokens_per_user;
  if (g_str_equal (key, "authorization_cache"))
    return config->authorization_cache;
  if (g_str_equal (key, "keep"))
    return config->backup_keep;
  if (g_str_equal (key, "max_file_size"))
    return config->max_file_size;
  if (g_str_equal (key, "max_text_size"))
    return config->max_text_size;
  if (g_str_equal (key, "upload_idle_timeout"))
    return config->upload_idle_timeout;
  if (g_str_equal (key, "max_decompressed_size"))
    return config->max_decompressed_size;
  if (g_str_equal (key, "max_pages"))
    return config->max_pages;
  if (g_str_equal (key, "max_chunks_per_document"))
    return config->max_chunks_per_document;
  if (g_str_equal (key, "max_extracted_size"))
    return config->max_extracted_size;
  if (g_str_equal (key, "extract_memory"))
    return config->extract_memory;
  if (g_str_equal (key, "extract_cpu_time"))
    return config->extract_cpu_time;
  if (g_str_equal (key, "extract_timeout"))
    return config->extract_timeout;
  if (g_str_equal (key, "max_question_size"))
    return config->max_question_size;
  if (g_str_equal (key, "max_queries_per_user"))
    return config->max_queries_per_user;
  if (g_str_equal (key, "max_generations"))
    return config->max_generations;
  if (g_str_equal (key, "history_messages"))
    return config->history_messages;
  if (g_str_equal (key, "backend"))
    return config->generation_backend;
  if (g_str_equal (key, "ollama_keep_alive"))
    return config->ollama_keep_alive;
  if (g_str_equal (key, "ollama_preload"))
    return config->ollama_preload;
  if (g_str_equal (key, "connect_timeout"))
    return config->connect_timeout;
  if (g_str_equal (key, "first_token_timeout"))
    return config->first_token_timeout;
  if (g_str_equal (key, "total_timeout"))
    return config->total_timeout;
  if (g_str_equal (key, "batch_size"))
    return config->embedding_batch_size;
  if (g_str_equal (key, "timeout"))
    return config->embedding_timeout;
  if (g_str_equal (key, "allow_remote"))
    return config->http_allow_remote;
  if (g_str_equal (key, "max_body_size"))
    return config->http_max_body_size;
  if (g_str_equal (key, "request_timeout"))
    return config->http_request_timeout;
  if (g_str_equal (key, "rate_limit"))
    return config->http_rate_limit;
  if (g_str_equal (key, "rate_limit_burst"))
    return config->http_rate_limit_burst;
  if (g_str_equal (key, "local_rate_limit"))
    return config->http_local_rate_limit;
  if (g_str_equal (key, "local_rate_limit_burst"))
    return config->http_local_rate_limit_burst;
  g_error ("test-config does not know the field of key %s", key);
}

/* The value of a key that holds text; NULL for the others. */
static const char *
field_text (const SrConfig *config, const char *group, const char *key)
{
  gboolean embedding = g_str_equal (group, "embedding");
  if (g_str_equal (key, "ollama_url"))
    return embedding ? config->embedding_ollama_url : config->ollama_url;
  if (g_str_equal (key, "ollama_model"))
    return embedding ? config->embedding_ollama_model : config->ollama_model;
  if (g_str_equal (key, "openai_url"))
    return embedding ? config->embedding_openai_url : config->openai_url;
  if (g_str_equal (key, "openai_model"))
    return embedding ? config->embedding_openai_model : config->openai_model;
  if (g_str_equal (key, "openai_api_key_file"))
    return embedding ? config->embedding_openai_api_key_file : config->openai_api_key_file;
  if (g_str_equal (key, "directory"))
    return config->backup_directory;
  if (g_str_equal (key, "socket"))
    return config->http_socket;
  if (g_str_equal (key, "listen"))
    return config->http_listen;
  if (g_str_equal (key, "cors_origins"))
    return config->http_cors_origins;
  return NULL;
}

static void
test_key_table_covered (void)
{
  g_auto (GStrv) known = sr_config_known_keys ();

  g_assert_cmpuint (g_strv_length (known), ==, G_N_ELEMENTS (key_cases));
  for (guint i = 0; i < G_N_ELEMENTS (key_cases); i++) {
    g_autofree char *name = g_strdup_printf ("%s.%s", key_cases[i].group, key_cases[i].key);
    g_assert_true (g_strv_contains ((const char *const *) known, name));
    for (guint j = 0; j < i; j++)
      g_assert_cmpstr (known[i], !=, known[j]);
  }
}

static void
test_accepted_values (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < G_N_ELEMENTS (key_cases); i++) {
    for (guint j = 0; key_cases[i].good[j] != NULL; j++) {
      g_autofree char *text = g_strdup_printf ("[%s]\n%s = %s\n", key_cases[i].group,
                                               key_cases[i].key, key_cases[i].good[j]);
      g_autoptr (SrConfig) config = load_ok (f, text);
      g_test_message ("[%s] %s = %s", key_cases[i].group, key_cases[i].key, key_cases[i].good[j]);
      const char *kept = field_text (config, key_cases[i].group, key_cases[i].key);
      if (kept != NULL)
        g_assert_cmpstr (kept, ==, key_cases[i].good_texts[j]);
      else
        g_assert_cmpuint (field_value (config, key_cases[i].group, key_cases[i].key), ==,
                          key_cases[i].good_values[j]);
    }
  }
}

static void
test_rejected_values (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < G_N_ELEMENTS (key_cases); i++)
    for (guint j = 0; key_cases[i].bad[j] != NULL; j++)
      assert_rejected (f, key_cases[i].group, key_cases[i].key, key_cases[i].bad[j],
                       key_cases[i].expected);
}

static void
test_bad_duration (Fixture *f, gconstpointer data)
{
  assert_rejected (f, "daemon", "session_expiry", "5x", DURATION_HINT "at most 521w 3d, or 0");
}

static void
test_out_of_range (Fixture *f, gconstpointer data)
{
  assert_rejected (f, "limits", "max_title_bytes", "100000", "a whole number from 1 to 65536");
  assert_rejected (f, "daemon", "expiry_check_interval", "2d", DURATION_HINT "from 1s to 1d");
}

static void
test_negative (Fixture *f, gconstpointer data)
{
  assert_rejected (f, "limits", "max_sessions_per_user", "-1",
                   "a whole number from 0 to 4294967295");
  assert_rejected (f, "security", "authorization_cache", "-5s", DURATION_HINT "at most 1h, or 0");
}

/* The OpenAI-compatible embedder has no default server or model: both must be named. */
static void
test_openai_needs_url_and_model (Fixture *f, gconstpointer data)
{
  static const char *const incomplete[] = {
    "[embedding]\nbackend = openai\n",
    "[embedding]\nbackend = openai\nopenai_url = http://127.0.0.1:8080/v1\n",
    "[embedding]\nbackend = openai\nopenai_model = e5\n",
  };
  for (guint i = 0; i < G_N_ELEMENTS (incomplete); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (SrConfig) config = load_text (f, incomplete[i], NULL, &error);
    g_autofree char *expected
        = g_strdup_printf ("%s: [embedding] backend = \"openai\": expected openai_url and "
                           "openai_model to be set as well",
                           f->path);
    g_assert_null (config);
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
    g_assert_cmpstr (error->message, ==, expected);
  }

  g_autoptr (SrConfig) config = load_ok (f, "[embedding]\n"
                                            "backend = openai\n"
                                            "openai_url = http://127.0.0.1:8080/v1\n"
                                            "openai_model = e5\n"
                                            "openai_api_key_file = /etc/smartrag/key\n");
  g_assert_cmpint (config->embedding_backend, ==, SR_EMBEDDING_OPENAI);
  g_assert_cmpstr (config->embedding_openai_url, ==, "http://127.0.0.1:8080/v1");
  g_assert_cmpstr (config->embedding_openai_model, ==, "e5");
  g_assert_cmpstr (config->embedding_openai_api_key_file, ==, "/etc/smartrag/key");
}

static void
test_bad_log_level (Fixture *f, gconstpointer data)
{
  assert_rejected (f, "daemon", "log_level", "verbose", "one of error, warning, info, debug");
}

static void
test_not_a_number (Fixture *f, gconstpointer data)
{
  assert_rejected (f, "limits", "max_context_bytes", "big", "a whole number from 2 to 16777216");
  assert_rejected (f, "daemon", "shutdown_timeout", "soon", DURATION_HINT "at most 1h, or 0");
}

/* Every problem is reported at once, one line each in key-table order, and a valid key
 * in the same file does not hide them. */
static void
test_multiple_errors (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrConfig) config = load_text (f,
                                           "[security]\n"
                                           "authorization_cache = 2h\n"
                                           "[limits]\n"
                                           "max_title_bytes = 0\n"
                                           "max_context_bytes = 4096\n"
                                           "[daemon]\n"
                                           "log_level = chatty\n"
                                           "session_expiry = 1 day\n",
                                           NULL, &error);
  g_autofree char *expected = g_strdup_printf (
      "%1$s: [daemon] log_level = \"chatty\": expected one of error, warning, info, debug\n"
      "%1$s: [daemon] session_expiry = \"1 day\": expected " DURATION_HINT "at most 521w 3d, or 0\n"
      "%1$s: [limits] max_title_bytes = \"0\": expected a whole number from 1 to 65536\n"
      "%1$s: [security] authorization_cache = \"2h\": expected " DURATION_HINT "at most 1h, or 0",
      f->path);

  g_assert_null (config);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==, expected);
}

/* The OpenAI-compatible backend needs its server's URL; the error names the key. */
static void
test_openai_needs_url (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrConfig) config = load_text (f, "[generation]\nbackend = openai\n", NULL, &error);
  g_autofree char *expected
      = g_strdup_printf ("%s: [generation] openai_url = \"\": expected the URL of the "
                         "OpenAI-compatible server, such as http://127.0.0.1:8080/v1, since "
                         "backend = openai",
                         f->path);

  g_assert_null (config);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==, expected);

  g_autoptr (SrConfig) configured = load_ok (f, "[generation]\nbackend = openai\n"
                                                "openai_url = http://127.0.0.1:8080/v1\n");
  g_assert_cmpint (configured->generation_backend, ==, SR_GENERATION_OPENAI);
  g_assert_cmpstr (sr_generation_backend_name (configured->generation_backend), ==, "openai");
}

/* Serving HTTP beyond this machine takes a second, deliberate line. */
static void
test_remote_listen_needs_allow_remote (Fixture *f, gconstpointer data)
{
  static const char *const remote[] = { "0.0.0.0:8765", "192.168.1.5:80", "[::]:8765" };
  for (guint i = 0; i < G_N_ELEMENTS (remote); i++) {
    g_autofree char *text = g_strdup_printf ("[http]\nlisten = %s\n", remote[i]);
    g_autoptr (GError) error = NULL;
    g_autoptr (SrConfig) config = load_text (f, text, NULL, &error);
    g_autofree char *expected
        = g_strdup_printf ("%s: [http] listen = \"%s\": expected a loopback address such as "
                           "127.0.0.1:8765 or [::1]:8765, since allow_remote = false; set "
                           "allow_remote = true to serve other machines",
                           f->path, remote[i]);
    g_assert_null (config);
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
    g_assert_cmpstr (error->message, ==, expected);

    g_autofree char *allowed
        = g_strdup_printf ("[http]\nlisten = %s\nallow_remote = true\n", remote[i]);
    g_autoptr (SrConfig) configured = load_ok (f, allowed);
    g_assert_cmpstr (configured->http_listen, ==, remote[i]);
    g_assert_true (configured->http_allow_remote);
  }
}

static void
test_parse_listen (void)
{
  g_autoptr (GSocketAddress) v4 = sr_config_parse_listen ("127.0.0.1:8765");
  g_autoptr (GSocketAddress) v6 = sr_config_parse_listen ("[::1]:0");
  g_autofree char *v4_host
      = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (v4)));
  g_autofree char *v6_host
      = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (v6)));

  g_assert_cmpstr (v4_host, ==, "127.0.0.1");
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (v4)), ==, 8765);
  g_assert_cmpstr (v6_host, ==, "::1");
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (v6)), ==, 0);
  g_assert_null (sr_config_parse_listen (""));
  g_assert_null (sr_config_parse_listen ("[::1"));
}

static void
test_unknown_group_and_key (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (SrConfig) config = load_text (f,
                                           "[daemon]\n"
                                           "log_level = error\n"
                                           "log_levle = debug\n"
                                           "[web]\n"
                                           "port = 8765\n"
                                           "[limits]\n"
                                           "max_title_bytes = 20\n"
                                           "max_upload_bytes = 7\n",
                                           warnings, &error);
  g_autofree char *w1
      = g_strdup_printf ("%s: unknown key 'log_levle' in [daemon] is ignored", f->path);
  g_autofree char *w2 = g_strdup_printf ("%s: unknown group [web] is ignored", f->path);
  g_autofree char *w3 = g_strdup_printf ("%s: unknown key 'max_upload_bytes' in [limits] is "
                                         "ignored",
                                         f->path);

  g_assert_no_error (error);
  g_assert_nonnull (config);
  g_assert_cmpint (config->log_level, ==, SR_LOG_ERROR);
  g_assert_cmpuint (config->max_title_bytes, ==, 20);
  g_assert_cmpuint (warnings->len, ==, 3);
  g_assert_cmpstr (warnings->pdata[0], ==, w1);
  g_assert_cmpstr (warnings->pdata[1], ==, w2);
  g_assert_cmpstr (warnings->pdata[2], ==, w3);
}

/* Warnings are optional to collect; unknown names still are not errors. */
static void
test_unknown_without_warning_list (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrConfig) config = load_text (f, "[nonsense]\na = b\n[daemon]\nb = c\n", NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (config);
  assert_defaults (config);
}

/* Bad values and unknown names together: the error is returned and the warnings still
 * name what was ignored. */
static void
test_unknown_with_errors (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (SrConfig) config
      = load_text (f, "[daemon]\nlog_level = x\n[extra]\n", warnings, &error);

  g_assert_null (config);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpuint (warnings->len, ==, 1);
  g_assert_true (g_str_has_suffix (warnings->pdata[0], "unknown group [extra] is ignored"));
}

/* A reload tells which keys it changed: one of each kind of value here, and a key written
 * with its default value, which changes nothing. */
static void
test_changed_keys (Fixture *f, gconstpointer data)
{
  g_autoptr (SrConfig) defaults = sr_config_new ();
  g_autoptr (SrConfig) config = load_ok (f, "[daemon]\nlog_level = debug\nsession_expiry = 2h\n"
                                            "shutdown_timeout = 30s\n"
                                            "ingest_workers = 3\n"
                                            "[limits]\nmax_file_size = 1G\n"
                                            "[generation]\nbackend = builtin\n"
                                            "ollama_url = http://127.0.0.1:11435\n"
                                            "ollama_preload = true\n"
                                            "[http]\ncors_origins = http://localhost:3000\n");
  const char *const expected[]
      = { "daemon.log_level",          "daemon.session_expiry", "daemon.ingest_workers",
          "limits.max_file_size",      "generation.backend",    "generation.ollama_url",
          "generation.ollama_preload", "http.cors_origins",     NULL };

  g_auto (GStrv) changed = sr_config_changed_keys (defaults, config);
  g_assert_cmpstrv (changed, expected);
  g_auto (GStrv) back = sr_config_changed_keys (config, defaults);
  g_assert_cmpstrv (back, expected);
  g_auto (GStrv) none = sr_config_changed_keys (config, config);
  g_assert_cmpstrv (none, ((const char *const[]){ NULL }));
}

static void
test_syntax_error (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrConfig) config
      = load_text (f, "[daemon]\nthis line has no equals sign\n", NULL, &error);
  g_autofree char *prefix = g_strdup_printf ("%s: cannot read: ", f->path);

  g_assert_null (config);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_true (g_str_has_prefix (error->message, prefix));
}

static void
test_directory (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrConfig) config = NULL;
  g_autofree char *prefix = g_strdup_printf ("%s: cannot read: ", f->path);

  g_assert_cmpint (g_mkdir (f->path, 0700), ==, 0);
  /* Present but not a file: an error even when the file is optional. */
  config = sr_config_load (f->path, FALSE, NULL, &error);
  g_assert_null (config);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_true (g_str_has_prefix (error->message, prefix));
}

/* Runs as root too: the subprocess drops to an account the mode bits apply to. */
static void
test_unreadable (void)
{
  if (g_test_subprocess ()) {
    const char *path = g_getenv ("SR_TEST_CONFIG_PATH");
    g_autoptr (GError) error = NULL;
    g_assert_nonnull (path);
    sr_test_drop_root ();
    /* Present but unreadable is an error even when the file is optional. */
    g_autoptr (SrConfig) config = sr_config_load (path, FALSE, NULL, &error);
    g_autofree char *prefix = g_strdup_printf ("%s: cannot read: ", path);
    g_assert_null (config);
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
    g_assert_true (g_str_has_prefix (error->message, prefix));
    g_assert_nonnull (strstr (error->message, g_strerror (EACCES)));
    return;
  }
  if (!sr_test_can_drop_root ()) {
    g_test_skip ("running as root without a 'nobody' account to drop to");
    return;
  }

  g_autofree char *dir = sr_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "smartrag.conf", NULL);
  sr_test_write_file (path, "[daemon]\nlog_level = debug\n", -1);
  g_assert_cmpint (g_chmod (path, 0), ==, 0);
  g_assert_cmpint (g_chmod (dir, 0755), ==, 0);

  g_setenv ("SR_TEST_CONFIG_PATH", path, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_unsetenv ("SR_TEST_CONFIG_PATH");
  sr_test_remove_tree (dir);
  g_test_trap_assert_passed ();
}

#define DOCUMENTED_CONFIG SR_SOURCE_ROOT "/data/smartrag.conf"

/* The shipped file documents each key as a commented-out "#key=value" line (spaces
 * allowed) under its group. Returns "group.key" → the documented value, and the same
 * assignments uncommented as a loadable key file. */
static GHashTable *
read_documented (char **uncommented)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_file_get_contents (DOCUMENTED_CONFIG, &text, NULL, &error);
  g_assert_no_error (error);

  g_autoptr (GRegex) group_re = g_regex_new ("^\\[([^]]+)\\]\\s*$", 0, 0, &error);
  g_assert_no_error (error);
  g_autoptr (GRegex) key_re
      = g_regex_new ("^#?\\s*([a-z][a-z0-9_]*)\\s*=\\s*(.*?)\\s*$", 0, 0, &error);
  g_assert_no_error (error);

  GHashTable *documented = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GString) out = g_string_new (NULL);
  g_autofree char *group = NULL;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++) {
    g_autoptr (GMatchInfo) match = NULL;
    if (g_regex_match (group_re, lines[i], 0, &match)) {
      g_free (group);
      group = g_match_info_fetch (match, 1);
      g_string_append_printf (out, "[%s]\n", group);
      continue;
    }
    g_clear_pointer (&match, g_match_info_unref);
    if (!g_regex_match (key_re, lines[i], 0, &match))
      continue;
    g_autofree char *key = g_match_info_fetch (match, 1);
    g_autofree char *value = g_match_info_fetch (match, 2);
    g_test_message ("documented: [%s] %s = %s", group, key, value);
    g_assert_nonnull (group);
    g_autofree char *name = g_strdup_printf ("%s.%s", group, key);
    /* Documented once: a second line would leave readers guessing which one counts. */
    g_assert_false (g_hash_table_contains (documented, name));
    g_string_append_printf (out, "%s=%s\n", key, value);
    g_hash_table_insert (documented, g_steal_pointer (&name), g_steal_pointer (&value));
  }
  *uncommented = g_string_free (g_steal_pointer (&out), FALSE);
  return documented;
}

static void
test_documented_every_key (void)
{
  g_autofree char *uncommented = NULL;
  g_autoptr (GHashTable) documented = read_documented (&uncommented);
  g_auto (GStrv) known = sr_config_known_keys ();

  for (guint i = 0; known[i] != NULL; i++) {
    g_test_message ("key %s", known[i]);
    g_assert_true (g_hash_table_contains (documented, known[i]));
  }
  /* And nothing is documented that the daemon would warn about. */
  GHashTableIter iter;
  gpointer name;
  g_hash_table_iter_init (&iter, documented);
  while (g_hash_table_iter_next (&iter, &name, NULL)) {
    g_test_message ("documented %s", (const char *) name);
    g_assert_true (g_strv_contains ((const char *const *) known, name));
  }
}

/* The file says the commented values are the defaults: uncommented, they must load
 * cleanly and change nothing. */
static void
test_documented_values_are_defaults (Fixture *f, gconstpointer data)
{
  g_autofree char *uncommented = NULL;
  g_autoptr (GHashTable) documented = read_documented (&uncommented);
  g_autoptr (SrConfig) config = load_ok (f, uncommented);

  g_test_message ("%s", uncommented);
  assert_defaults (config);
}

static void
test_documented_file_loads (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (SrConfig) config = sr_config_load (DOCUMENTED_CONFIG, TRUE, warnings, &error);

  g_assert_no_error (error);
  g_assert_nonnull (config);
  g_assert_cmpuint (warnings->len, ==, 0);
  assert_defaults (config);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  g_test_add_func ("/config/defaults", test_defaults);
  ADD ("/config/missing-file", test_missing_file);
  ADD ("/config/missing-file/must-exist", test_missing_file_must_exist);
  ADD ("/config/empty-file", test_empty_file);
  ADD ("/config/empty-groups", test_empty_groups);
  ADD ("/config/every-key", test_every_key);
  ADD ("/config/partial", test_partial);
  ADD ("/config/log-levels", test_log_levels);
  ADD ("/config/whitespace", test_whitespace);
  g_test_add_func ("/config/key-table-covered", test_key_table_covered);
  ADD ("/config/accepted-values", test_accepted_values);
  ADD ("/config/rejected-values", test_rejected_values);
  ADD ("/config/error/bad-duration", test_bad_duration);
  ADD ("/config/error/out-of-range", test_out_of_range);
  ADD ("/config/error/negative", test_negative);
  ADD ("/config/error/bad-log-level", test_bad_log_level);
  ADD ("/config/error/openai-needs-url-and-model", test_openai_needs_url_and_model);
  ADD ("/config/error/not-a-number", test_not_a_number);
  ADD ("/config/error/multiple", test_multiple_errors);
  ADD ("/config/error/openai-needs-url", test_openai_needs_url);
  ADD ("/config/error/remote-listen-needs-allow-remote", test_remote_listen_needs_allow_remote);
  g_test_add_func ("/config/parse-listen", test_parse_listen);
  ADD ("/config/warning/unknown-group-and-key", test_unknown_group_and_key);
  ADD ("/config/warning/without-list", test_unknown_without_warning_list);
  ADD ("/config/warning/with-errors", test_unknown_with_errors);
  ADD ("/config/changed-keys", test_changed_keys);
  ADD ("/config/error/syntax", test_syntax_error);
  ADD ("/config/error/directory", test_directory);
  g_test_add_func ("/config/error/unreadable", test_unreadable);
  g_test_add_func ("/config/documented/every-key", test_documented_every_key);
  ADD ("/config/documented/values-are-defaults", test_documented_values_are_defaults);
  g_test_add_func ("/config/documented/file-loads", test_documented_file_loads);
#undef ADD

  return g_test_run ();
}
