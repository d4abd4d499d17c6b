/* smartrag.conf: loading, defaults and validation of every key. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  SR_LOG_ERROR,
  SR_LOG_WARNING,
  SR_LOG_INFO,
  SR_LOG_DEBUG,
} SrLogLevel;

/* What answers questions ([generation] backend). */
typedef enum {
  SR_GENERATION_AUTO, /* Ollama when it answers and has the model, else builtin */
  SR_GENERATION_BUILTIN,
  SR_GENERATION_OLLAMA,
  SR_GENERATION_OPENAI,
} SrGenerationBackend;

typedef enum {
  SR_EMBEDDING_BUILTIN,
  SR_EMBEDDING_OLLAMA,
  SR_EMBEDDING_OPENAI,
} SrEmbeddingBackend;

typedef struct {
  char *path; /* the file that was read, NULL when only defaults apply */

  /* [daemon] */
  SrLogLevel log_level;
  guint64 session_expiry;        /* seconds of inactivity; 0 keeps sessions forever */
  guint64 expiry_check_interval; /* seconds */
  guint64 shutdown_timeout;      /* seconds running work may take after SIGTERM */
  guint64 ingest_workers;        /* documents processed at once; 0: one per processor */

  /* [limits] */
  guint64 max_title_bytes;
  guint64 max_context_bytes;
  guint64 max_sessions_per_user; /* 0 means no limit */
  guint64 max_tokens_per_user;   /* API tokens one user may hold */
  guint64 max_file_size;         /* bytes of one uploaded file */
  guint64 max_text_size;         /* bytes of one AddText text */
  guint64 upload_idle_timeout;   /* seconds an upload may stall */
  /* Reading one document in the sandboxed helper */
  guint64 max_decompressed_size;   /* bytes inflated from DOCX, ODT and EPUB members */
  guint64 max_pages;               /* pages of a PDF */
  guint64 max_chunks_per_document; /* chunks the text of one document makes */
  guint64 max_extracted_size;      /* bytes of text extracted */
  guint64 extract_memory;          /* bytes of memory for the helper */
  guint64 extract_cpu_time;        /* seconds of CPU time for the helper */
  guint64 extract_timeout;         /* seconds from the helper's start to its exit */
  guint64 max_question_size;       /* bytes of one question */

  /* [query] */
  guint64 max_queries_per_user; /* questions of one user answered at once; 0: no limit */
  guint64 max_generations;      /* answers generated at once; later ones wait their turn */
  guint64 history_messages;     /* earlier messages of the conversation a prompt carries */

  /* [generation] */
  SrGenerationBackend generation_backend;
  char *ollama_url; /* http(s), without a trailing slash */
  char *ollama_model;
  guint64 ollama_keep_alive;   /* seconds Ollama keeps the model loaded after an answer */
  gboolean ollama_preload;     /* load the model at start */
  char *openai_url;            /* "" when no OpenAI-compatible server is configured */
  char *openai_model;          /* "": the server's own */
  char *openai_api_key_file;   /* "": no key */
  guint64 connect_timeout;     /* seconds to connect to a model server */
  guint64 first_token_timeout; /* seconds from the request to the first token */
  guint64 total_timeout;       /* seconds from the request to the end of the answer */

  /* [embedding] */
  SrEmbeddingBackend embedding_backend;
  char *embedding_ollama_url;
  char *embedding_ollama_model;
  char *embedding_openai_url;          /* "" unless set; needed for backend openai */
  char *embedding_openai_model;        /* "" unless set; needed for backend openai */
  char *embedding_openai_api_key_file; /* "" for no key */
  guint64 embedding_batch_size;        /* texts per request */
  guint64 embedding_timeout;           /* seconds to connect and for each wait */

  /* [backup] */
  char *backup_directory; /* "": the mode's own place */
  guint64 backup_keep;    /* complete backups kept; older ones are removed */

  /* [security] */
  guint64 authorization_cache; /* seconds a polkit "yes" is kept per bus connection */

  /* [http] */
  char *http_socket;             /* "auto" (the mode's place), "" (none) or an absolute path */
  char *http_listen;             /* "address:port" for TCP, "" for none */
  gboolean http_allow_remote;    /* a listen address other than loopback is allowed */
  guint64 http_max_body_size;    /* bytes of a request body */
  guint64 http_request_timeout;  /* seconds a client may take to send a request */
  guint64 http_rate_limit;       /* requests a second per API token; 0: no limit */
  guint64 http_rate_limit_burst; /* requests a token may make at once */
  guint64 http_local_rate_limit; /* requests a second per uid over the Unix socket; 0: none */
  guint64 http_local_rate_limit_burst;
  char *http_cors_origins; /* origins that may call from web pages, one space apart; "" */
} SrConfig;

SrConfig *sr_config_new (void);
void sr_config_free (SrConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrConfig, sr_config_free)

/* Reads @path over the defaults. A missing file is an error only when @must_exist.
 * Every bad value is reported (one line each, naming file, group, key, value and what
 * is expected) in one error; unknown groups and keys are appended to @warnings. */
SrConfig *sr_config_load (const char *path, gboolean must_exist, GPtrArray *warnings,
                          GError **error);

/* Every key the daemon knows, as "group.key" in the order of the key table, so that
 * tests can hold the documented configuration and the code to the same list. */
GStrv sr_config_known_keys (void);

/* The keys whose values differ between @before and @after, as "group.key" in the order
 * of sr_config_known_keys(): what a reload changes. */
GStrv sr_config_changed_keys (const SrConfig *before, const SrConfig *after);

/* An [http] listen value ("127.0.0.1:8765", "[::1]:0") as an address; NULL when @text is
 * not one. Only IP addresses are taken: a name would be resolved once, at start, to
 * whatever it meant then. */
GSocketAddress *sr_config_parse_listen (const char *text);

/* "auto", "builtin", "ollama", "openai" */
const char *sr_generation_backend_name (SrGenerationBackend backend);

G_END_DECLS
