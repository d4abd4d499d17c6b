/* Documents benchmark: ingest, bus latency meanwhile, and Search against FTS5, as JSON. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-common.h"
#include "bench-store-floor.h"

#define DOCUMENT_INTERFACE BUS_NAME ".Document"
#define QUERY_INTERFACE    BUS_NAME ".Query"
#define DATABASE_FILENAME  "smartrag.db"

/* Every wait is bounded, so a hung daemon or bus ends the run with an error, not a hang.
 * Calls get more room than in the foundation benchmark: a blocked main loop must show up
 * as a slow figure in the report, not as a failed run. */
#define CALL_TIMEOUT_US      (60 * G_USEC_PER_SEC)
#define SLOW_CALL_TIMEOUT_US (20 * 60 * G_USEC_PER_SEC) /* a first Search that rebuilds */
#define READY_TIMEOUT_US     (60 * G_USEC_PER_SEC)
#define STOP_TIMEOUT_US      (120 * G_USEC_PER_SEC) /* a stop saves the vector index */
#define INGEST_TIMEOUT_US    (30 * 60 * G_USEC_PER_SEC)

/* Pause between two probes: frequent enough to catch a stall of a few milliseconds,
 * sparse enough that the prober does not take a core from the daemon. */
#define PROBE_INTERVAL_US 2000
/* AddText calls in flight at once: the daemon stores the next while it indexes one. */
#define ADD_WINDOW     4
#define SEARCH_K       5
#define WARMUP_QUERIES 20
#define VOCABULARY     20000

/* The targets. */
#define TARGET_INGEST_MB_S        10.0
#define TARGET_HEALTH_P99_MS      5.0
#define TARGET_SEARCH_P95_MS      10.0
#define TARGET_SEARCH_AT_CHUNK    100000
#define TARGET_SEARCH_P95_1M_MS   25.0
#define TARGET_SEARCH_AT_1M_CHUNK 1000000

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

typedef struct {
  double *cumulative; /* Zipf weights, summed */
  char **words;
  guint n;
} Vocabulary;

typedef struct {
  BenchDaemon d;

  /* parameters */
  char *build_type;
  char *tmp_parent;
  int ingest_mb;
  int document_kb;
  int fill_document_kb;
  int queries;
  int questions;
  GArray *sizes;        /* guint64: the larger session sizes, in chunks, rising */
  gint64 rebuild_up_to; /* no first Search without the index file above this size */
  int seed;
  gboolean keep;

  /* resources, all released by bench_cleanup */
  char *state_dir;
  char *session_path;
  char *session_id;
  GRand *rand;
  Vocabulary vocabulary;

  /* what the run found */
  guint64 documents;
  guint64 chunks;
  guint64 text_bytes;
} Bench;

/* ---- calls ---- */

static gboolean
call (sd_bus_message *m, gint64 timeout_us, sd_bus_message **reply, double *ms, GError **error)
{
  g_auto (sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
  gint64 start = now_ns ();
  int r = sd_bus_call (NULL, m, timeout_us, &bus_error, reply);
  gint64 end = now_ns ();

  if (r < 0 && interrupted)
    return check_interrupted (error);
  if (r < 0)
    return fail (error, "%s.%s failed: %s", sd_bus_message_get_interface (m),
                 sd_bus_message_get_member (m),
                 bus_error.message ? bus_error.message : g_strerror (-r));
  if (ms != NULL)
    *ms = (double) (end - start) / 1e6;
  return TRUE;
}

static gboolean
new_call (sd_bus *bus, const char *path, const char *interface, const char *member,
          sd_bus_message **m, GError **error)
{
  int r = sd_bus_message_new_method_call (bus, m, BUS_NAME, path, interface, member);
  if (r < 0)
    return fail (error, "cannot build %s.%s: %s", interface, member, g_strerror (-r));
  return TRUE;
}

/* ---- the daemon ---- */

/* ---- statistics ---- */

/* ---- generated text ---- */

/* Function words take the top ranks, as in English; the rest are made-up words of two to
 * four syllables, so that the text has an English-like spread of common and rare words
 * without shipping a corpus. */
static const char *const function_words[] = {
  "the",   "of",   "and",   "to",  "in",   "a",   "is",    "that", "for",  "it",
  "as",    "was",  "with",  "be",  "by",   "on",  "not",   "this", "are",  "or",
  "from",  "at",   "which", "but", "have", "an",  "had",   "they", "you",  "were",
  "their", "one",  "all",   "we",  "can",  "has", "there", "been", "if",   "more",
  "when",  "will", "would", "who", "so",   "no",  "into",  "than", "them", "these",
};

static const char *const syllables[] = {
  "ka",  "lo",  "mi",  "ren", "sta", "tor", "vel", "an",  "dur", "is",  "po",  "gra", "men", "ther",
  "qui", "sol", "bar", "nek", "tri", "zu",  "fal", "hem", "or",  "pla", "ses", "ul",  "wen", "cro",
  "di",  "ga",  "ble", "ton", "mar", "ep",  "sin", "ro",  "ta",  "ven", "ik",  "lu",
};

static void
vocabulary_init (Vocabulary *v, GRand *rand)
{
  guint n_function = G_N_ELEMENTS (function_words);
  double sum = 0;

  v->n = VOCABULARY;
  v->words = g_new0 (char *, v->n + 1);
  v->cumulative = g_new (double, v->n);
  for (guint i = 0; i < v->n; i++) {
    if (i < n_function) {
      v->words[i] = g_strdup (function_words[i]);
    } else {
      GString *word = g_string_new (NULL);
      gint32 parts = g_rand_int_range (rand, 2, 5);
      for (gint32 p = 0; p < parts; p++)
        g_string_append (word, syllables[g_rand_int_range (rand, 0, G_N_ELEMENTS (syllables))]);
      v->words[i] = g_string_free (word, FALSE);
    }
    /* Zipf's law with the exponent usually measured for English. */
    sum += 1.0 / pow (i + 1, 1.07);
    v->cumulative[i] = sum;
  }
}

/* A word by Zipf rank, from @first on; the search is over the cumulative weights. */
static const char *
vocabulary_pick (Vocabulary *v, GRand *rand, guint first)
{
  double low = first > 0 ? v->cumulative[first - 1] : 0;
  double x = g_rand_double_range (rand, low, v->cumulative[v->n - 1]);
  guint lo = first, hi = v->n - 1;
  while (lo < hi) {
    guint mid = (lo + hi) / 2;
    if (v->cumulative[mid] < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return v->words[lo];
}

static void
append_sentence (GString *text, Vocabulary *v, GRand *rand)
{
  gint32 words = g_rand_int_range (rand, 6, 19);
  for (gint32 i = 0; i < words; i++) {
    const char *word = vocabulary_pick (v, rand, 0);
    if (i == 0) {
      g_string_append_c (text, g_ascii_toupper (word[0]));
      g_string_append (text, word + 1);
      continue;
    }
    g_string_append (text, i > 2 && g_rand_int_range (rand, 0, 9) == 0 ? ", " : " ");
    g_string_append (text, word);
  }
  g_string_append (text, ". ");
}

/* Paragraphs of three to seven sentences until the text holds about @bytes bytes. */
static char *
generate_document (Bench *b, gsize bytes)
{
  GString *text = g_string_sized_new (bytes + 256);
  while (text->len < bytes) {
    gint32 sentences = g_rand_int_range (b->rand, 3, 8);
    for (gint32 i = 0; i < sentences; i++)
      append_sentence (text, &b->vocabulary, b->rand);
    g_string_truncate (text, text->len - 1);
    g_string_append (text, "\n\n");
  }
  return g_string_free (text, FALSE);
}

/* Keyword queries: two to four content words, the kind a search box gets. */
static char *
generate_keywords (Bench *b)
{
  GString *query = g_string_new (NULL);
  gint32 words = g_rand_int_range (b->rand, 2, 5);
  for (gint32 i = 0; i < words; i++)
    g_string_append_printf (
        query, "%s%s", i ? " " : "",
        vocabulary_pick (&b->vocabulary, b->rand, G_N_ELEMENTS (function_words)));
  return g_string_free (query, FALSE);
}

/* Questions as people type them: their function words match nearly every chunk. */
static char *
generate_question (Bench *b)
{
  guint first = G_N_ELEMENTS (function_words);
  return g_strdup_printf ("what is the %s of the %s",
                          vocabulary_pick (&b->vocabulary, b->rand, first),
                          vocabulary_pick (&b->vocabulary, b->rand, first));
}

/* ---- probing the daemon while it works ---- */

/* A thread with its own connection that takes turns calling Peer.Ping and GetHealth
 * until told to stop: its figures show how long the main loop keeps callers waiting. */
typedef struct {
  const char *address;
  gint64 timeout_us;
  gint stop;
  GThread *thread;
  GArray *ping_ms;
  GArray *health_ms;
  guint health_not_ok;
  GError *error;
} Prober;

static gboolean
probe_once (sd_bus *bus, Prober *p, GError **error)
{
  g_autoptr (sd_bus_message) ping = NULL;
  g_autoptr (sd_bus_message) health = NULL;
  g_autoptr (sd_bus_message) ping_reply = NULL;
  g_autoptr (sd_bus_message) health_reply = NULL;
  const char *status = NULL;
  double ping_ms, health_ms;

  if (!new_call (bus, BUS_PATH, "org.freedesktop.DBus.Peer", "Ping", &ping, error)
      || !call (ping, p->timeout_us, &ping_reply, &ping_ms, error)
      || !new_call (bus, BUS_PATH, BUS_NAME, "GetHealth", &health, error)
      || !call (health, p->timeout_us, &health_reply, &health_ms, error))
    return FALSE;
  int r = sd_bus_message_read (health_reply, "s", &status);
  if (r < 0)
    return fail (error, "GetHealth: unexpected reply: %s", g_strerror (-r));
  if (!g_str_equal (status, "ok"))
    p->health_not_ok++;
  g_array_append_val (p->ping_ms, ping_ms);
  g_array_append_val (p->health_ms, health_ms);
  return TRUE;
}

static gpointer
probe_thread (gpointer data)
{
  Prober *p = data;
  g_autoptr (sd_bus) bus = NULL;

  if (!connect_bus (p->address, &bus, &p->error))
    return NULL;
  while (!g_atomic_int_get (&p->stop) && !interrupted) {
    if (!probe_once (bus, p, &p->error))
      return NULL;
    g_usleep (PROBE_INTERVAL_US);
  }
  return NULL;
}

static void
prober_start (Prober *p, Bench *b, gint64 timeout_us)
{
  *p = (Prober){
    .address = b->d.bus_address,
    .timeout_us = timeout_us,
    .ping_ms = g_array_new (FALSE, FALSE, sizeof (double)),
    .health_ms = g_array_new (FALSE, FALSE, sizeof (double)),
  };
  p->thread = g_thread_new ("prober", probe_thread, p);
}

/* Stops the thread; FALSE with its error if a probe failed. */
static gboolean
prober_stop (Prober *p, GError **error)
{
  g_atomic_int_set (&p->stop, 1);
  g_thread_join (g_steal_pointer (&p->thread));
  if (p->error != NULL) {
    g_propagate_prefixed_error (error, g_steal_pointer (&p->error), "probing the daemon: ");
    return FALSE;
  }
  if (p->health_ms->len == 0)
    return fail (error, "no probe finished while the daemon worked");
  return TRUE;
}

static void
prober_clear (Prober *p)
{
  if (p->thread != NULL) {
    g_atomic_int_set (&p->stop, 1);
    g_thread_join (g_steal_pointer (&p->thread));
  }
  g_clear_error (&p->error);
  g_clear_pointer (&p->ping_ms, g_array_unref);
  g_clear_pointer (&p->health_ms, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Prober, prober_clear)

/* ---- session, ingest ---- */

static gboolean
create_session (Bench *b, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  const char *path;

  if (!new_call (b->d.client, BUS_PATH, BUS_NAME, "CreateSession", &m, error))
    return FALSE;
  /* expire_after 0: a long run must not lose its session to the default expiry. */
  int r = sd_bus_message_append (m, "a{sv}", 2, "title", "s", "Documents benchmark", "expire_after",
                                 "u", 0);
  if (r < 0)
    return fail (error, "cannot build CreateSession: %s", g_strerror (-r));
  if (!call (m, CALL_TIMEOUT_US, &reply, NULL, error))
    return FALSE;
  if ((r = sd_bus_message_read (reply, "o", &path)) < 0)
    return fail (error, "CreateSession: unexpected reply: %s", g_strerror (-r));
  if (!g_str_has_prefix (path, SESSION_PATH_PREFIX))
    return fail (error, "CreateSession returned %s", path);
  b->session_path = g_strdup (path);
  b->session_id = g_strdup (path + strlen (SESSION_PATH_PREFIX));
  return TRUE;
}

typedef struct {
  GPtrArray *texts;  /* generated before the clock starts */
  GHashTable *added; /* document ids AddText returned */
  GHashTable *ready; /* document ids that reached "ready" */
  GPtrArray *slots;  /* pending calls and the signal match, released together */
  GPtrArray *calls;  /* one AddCall per AddText sent */
  GArray *add_ms;    /* AddText call to reply: how long storing keeps a client waiting */
  guint sent;
  guint in_flight;
  GError *error; /* the first failure */
  gint64 last_ready_ns;
} Ingest;

static void ingest_fail (Ingest *in, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
ingest_fail (Ingest *in, const char *format, ...)
{
  if (in->error != NULL)
    return;
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  in->error = g_error_new_literal (bench_error_quark (), 0, message);
}

static int
on_document_changed (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Ingest *in = userdata;
  const char *id, *state, *message;
  double progress;
  int r = sd_bus_message_read (m, "ssds", &id, &state, &progress, &message);

  if (r < 0)
    ingest_fail (in, "DocumentChanged: unexpected arguments: %s", g_strerror (-r));
  else if (g_str_equal (state, "failed"))
    ingest_fail (in, "document %s failed: %s", id, message);
  else if (g_str_equal (state, "ready") && g_hash_table_add (in->ready, g_strdup (id)))
    in->last_ready_ns = now_ns ();
  return 0;
}

typedef struct {
  Ingest *in;
  gint64 sent_ns;
} AddCall;

static int
on_added (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  AddCall *add = userdata;
  Ingest *in = add->in;
  const sd_bus_error *e = sd_bus_message_get_error (reply);
  const char *id;
  double ms = (double) (now_ns () - add->sent_ns) / 1e6;

  in->in_flight--;
  g_array_append_val (in->add_ms, ms);
  if (e != NULL) {
    ingest_fail (in, "AddText failed: %s", e->message ? e->message : e->name);
    return 0;
  }
  int r = sd_bus_message_read (reply, "s", &id);
  if (r < 0)
    ingest_fail (in, "AddText: unexpected reply: %s", g_strerror (-r));
  else
    g_hash_table_add (in->added, g_strdup (id));
  return 0;
}

static void
slot_unref (gpointer slot)
{
  sd_bus_slot_unref (slot);
}

static gboolean
send_next (Bench *b, Ingest *in, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  sd_bus_slot *slot = NULL;
  g_autofree char *title = g_strdup_printf ("Benchmark document %u", in->sent + 1);
  AddCall *add = g_new0 (AddCall, 1);
  add->in = in;
  g_ptr_array_add (in->calls, add);

  if (!new_call (b->d.client, b->session_path, DOCUMENT_INTERFACE, "AddText", &m, error))
    return FALSE;
  int r = sd_bus_message_append (m, "ssa{sv}", title, (const char *) in->texts->pdata[in->sent], 0);
  if (r < 0)
    return fail (error, "cannot build AddText: %s", g_strerror (-r));
  add->sent_ns = now_ns ();
  /* A generous timeout: a reply held up by a busy main loop is a finding to report. */
  r = sd_bus_call_async (NULL, &slot, m, on_added, add, SLOW_CALL_TIMEOUT_US);
  if (r < 0)
    return fail (error, "cannot send AddText: %s", g_strerror (-r));
  g_ptr_array_add (in->slots, slot);
  in->sent++;
  in->in_flight++;
  return TRUE;
}

static gboolean
ingest_done (Ingest *in)
{
  if (g_hash_table_size (in->added) < in->texts->len)
    return FALSE;
  GHashTableIter iter;
  gpointer id;
  g_hash_table_iter_init (&iter, in->added);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    if (!g_hash_table_contains (in->ready, id))
      return FALSE;
  return TRUE;
}

/* Sends every text, a few calls in flight at a time, and dispatches replies and
 * DocumentChanged signals until every document is ready. */
static gboolean
ingest_loop (Bench *b, Ingest *in, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + INGEST_TIMEOUT_US;

  while (!ingest_done (in)) {
    if (!check_interrupted (error))
      return FALSE;
    if (in->error != NULL) {
      g_propagate_error (error, g_steal_pointer (&in->error));
      return FALSE;
    }
    if (g_get_monotonic_time () >= deadline)
      return fail (error, "%u of %u documents were ready after %d minutes",
                   g_hash_table_size (in->ready), in->texts->len,
                   (int) (INGEST_TIMEOUT_US / G_USEC_PER_SEC / 60));
    while (in->in_flight < ADD_WINDOW && in->sent < in->texts->len)
      if (!send_next (b, in, error))
        return FALSE;
    int r = sd_bus_process (b->d.client, NULL);
    if (r < 0)
      return fail (error, "the bus connection failed: %s", g_strerror (-r));
    if (r == 0 && (r = sd_bus_wait (b->d.client, 100 * 1000)) < 0 && r != -EINTR)
      return fail (error, "waiting on the bus failed: %s", g_strerror (-r));
  }
  return TRUE;
}

static void
ingest_clear (Ingest *in)
{
  g_clear_pointer (&in->slots, g_ptr_array_unref);
  g_clear_pointer (&in->calls, g_ptr_array_unref);
  g_clear_pointer (&in->add_ms, g_array_unref);
  g_clear_pointer (&in->texts, g_ptr_array_unref);
  g_clear_pointer (&in->added, g_hash_table_unref);
  g_clear_pointer (&in->ready, g_hash_table_unref);
  g_clear_error (&in->error);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Ingest, ingest_clear)

typedef struct {
  guint documents;
  guint64 bytes;
  double seconds;
  guint64 chunks_after;
  GArray *ping_ms;
  GArray *health_ms;
  GArray *add_ms;
  guint health_not_ok;
} IngestResult;

static void
ingest_result_clear (IngestResult *r)
{
  g_clear_pointer (&r->ping_ms, g_array_unref);
  g_clear_pointer (&r->health_ms, g_array_unref);
  g_clear_pointer (&r->add_ms, g_array_unref);
}

/* Sums the chunks of the session's documents, checking that every one is ready. */
static gboolean
count_chunks (Bench *b, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  guint64 documents = 0, chunks = 0;
  int r;

  if (!new_call (b->d.client, b->session_path, DOCUMENT_INTERFACE, "ListDocuments", &m, error)
      || !call (m, CALL_TIMEOUT_US, &reply, NULL, error))
    return FALSE;
  if ((r = sd_bus_message_enter_container (reply, 'a', "a{sv}")) < 0)
    return fail (error, "ListDocuments: unexpected reply: %s", g_strerror (-r));
  while ((r = sd_bus_message_enter_container (reply, 'a', "{sv}")) > 0) {
    const char *key, *state = "";
    guint32 n = 0;
    while ((r = sd_bus_message_enter_container (reply, 'e', "sv")) > 0) {
      if ((r = sd_bus_message_read (reply, "s", &key)) < 0)
        break;
      if (g_str_equal (key, "state"))
        r = sd_bus_message_read (reply, "v", "s", &state);
      else if (g_str_equal (key, "chunks"))
        r = sd_bus_message_read (reply, "v", "u", &n);
      else
        r = sd_bus_message_skip (reply, "v");
      if (r < 0 || (r = sd_bus_message_exit_container (reply)) < 0)
        break;
    }
    if (r < 0 || (r = sd_bus_message_exit_container (reply)) < 0)
      break;
    if (!g_str_equal (state, "ready"))
      return fail (error, "a document is '%s' after the ingest, not ready", state);
    documents++;
    chunks += n;
  }
  if (r < 0)
    return fail (error, "ListDocuments: unexpected reply: %s", g_strerror (-r));
  b->documents = documents;
  b->chunks = chunks;
  return TRUE;
}

/* Adds @total bytes of text in documents of @document_bytes and times from the first
 * AddText to the last document reaching "ready", while a prober measures the bus. */
static gboolean
measure_ingest (Bench *b, guint64 total, gsize document_bytes, IngestResult *out, GError **error)
{
  g_auto (Ingest) in = {
    .texts = g_ptr_array_new_with_free_func (g_free),
    .added = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    .ready = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    .slots = g_ptr_array_new_with_free_func (slot_unref),
    .calls = g_ptr_array_new_with_free_func (g_free),
    .add_ms = g_array_new (FALSE, FALSE, sizeof (double)),
  };
  g_auto (Prober) prober = { 0 };
  sd_bus_slot *match = NULL;

  for (guint64 made = 0; made < total;) {
    char *text = generate_document (b, MIN (document_bytes, total - made));
    made += strlen (text);
    out->bytes += strlen (text);
    g_ptr_array_add (in.texts, text);
  }
  out->documents = in.texts->len;
  int r = sd_bus_match_signal (b->d.client, &match, BUS_NAME, b->session_path, DOCUMENT_INTERFACE,
                               "DocumentChanged", on_document_changed, &in);
  if (r < 0)
    return fail (error, "cannot listen to DocumentChanged: %s", g_strerror (-r));
  g_ptr_array_add (in.slots, match);

  prober_start (&prober, b, SLOW_CALL_TIMEOUT_US);
  gint64 start = now_ns ();
  gboolean ok = ingest_loop (b, &in, error);
  if (!prober_stop (&prober, ok ? error : NULL) || !ok)
    return FALSE;
  out->seconds = (double) (in.last_ready_ns - start) / 1e9;
  out->ping_ms = g_steal_pointer (&prober.ping_ms);
  out->health_ms = g_steal_pointer (&prober.health_ms);
  out->health_not_ok = prober.health_not_ok;
  out->add_ms = g_steal_pointer (&in.add_ms);
  b->text_bytes += out->bytes;
  if (!count_chunks (b, error))
    return FALSE;
  out->chunks_after = b->chunks;
  return TRUE;
}

/* ---- search ---- */

static gboolean
search (Bench *b, const char *text, gint64 timeout_us, double *ms, guint *hits, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  int r;

  if (!new_call (b->d.client, b->session_path, QUERY_INTERFACE, "Search", &m, error))
    return FALSE;
  if ((r = sd_bus_message_append (m, "sa{sv}", text, 1, "k", "u", SEARCH_K)) < 0)
    return fail (error, "cannot build Search: %s", g_strerror (-r));
  if (!call (m, timeout_us, &reply, ms, error))
    return FALSE;
  *hits = 0;
  if ((r = sd_bus_message_enter_container (reply, 'a', "a{sv}")) < 0)
    return fail (error, "Search: unexpected reply: %s", g_strerror (-r));
  while ((r = sd_bus_message_skip (reply, "a{sv}")) > 0)
    (*hits)++;
  if (r < 0)
    return fail (error, "Search: unexpected reply: %s", g_strerror (-r));
  return TRUE;
}

/* FTS5 alone, run by the benchmark on its own read-only connection: the statement the
 * daemon once searched with (BM25 over every match, joined and sorted), cut at k. It stays
 * the yardstick the daemon's own ranking is compared with. */
typedef struct {
  sqlite3 *db;
  sqlite3_stmt *stmt;
} FullText;

static void
full_text_clear (FullText *f)
{
  g_clear_pointer (&f->stmt, sqlite3_finalize);
  g_clear_pointer (&f->db, sqlite3_close);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FullText, full_text_clear)

static gboolean
full_text_open (Bench *b, FullText *f, GError **error)
{
  g_autofree char *path = g_build_filename (b->state_dir, DATABASE_FILENAME, NULL);
  int rc = sqlite3_open_v2 (path, &f->db, SQLITE_OPEN_READONLY, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (
        f->db,
        "SELECT c.id, c.document_id, d.filename, c.ordinal, coalesce(c.page, 0), c.heading,"
        " c.text, bm25(chunks_fts) AS rank"
        " FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid"
        " JOIN documents d ON d.id = c.document_id"
        " WHERE chunks_fts MATCH ?1 AND c.session_id = ?2"
        " ORDER BY rank, c.text, c.id LIMIT ?3",
        -1, &f->stmt, NULL);
  if (rc != SQLITE_OK)
    return fail (error, "cannot query %s: %s", path,
                 f->db ? sqlite3_errmsg (f->db) : sqlite3_errstr (rc));
  return TRUE;
}

/* Each folded word quoted, joined by OR, as the daemon once built it. */
static char *
fts_query (const char *text)
{
  GString *query = g_string_new (NULL);
  g_auto (GStrv) words = g_str_tokenize_and_fold (text, NULL, NULL);
  for (guint i = 0; words[i] != NULL; i++) {
    g_auto (GStrv) parts = g_strsplit (words[i], "\"", -1);
    g_autofree char *escaped = g_strjoinv ("\"\"", parts);
    g_string_append_printf (query, "%s\"%s\"", query->len ? " OR " : "", escaped);
  }
  return g_string_free (query, FALSE);
}

static gboolean
full_text_search (Bench *b, FullText *f, const char *text, double *ms, guint *hits, GError **error)
{
  gint64 start = now_ns ();
  g_autofree char *match = fts_query (text);
  int rc;

  sqlite3_reset (f->stmt);
  sqlite3_bind_text (f->stmt, 1, match, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (f->stmt, 2, b->session_id, -1, SQLITE_STATIC);
  sqlite3_bind_int (f->stmt, 3, SEARCH_K);
  *hits = 0;
  while ((rc = sqlite3_step (f->stmt)) == SQLITE_ROW) {
    /* Read what a hit carries, as the daemon does. */
    for (int c = 0; c < 8; c++)
      (void) sqlite3_column_text (f->stmt, c);
    (*hits)++;
  }
  *ms = (double) (now_ns () - start) / 1e6;
  if (rc != SQLITE_DONE)
    return fail (error, "full-text query for '%s': %s", text, sqlite3_errmsg (f->db));
  return TRUE;
}

static gboolean
ping (Bench *b, double *ms, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  return new_call (b->d.client, BUS_PATH, "org.freedesktop.DBus.Peer", "Ping", &m, error)
         && call (m, CALL_TIMEOUT_US, &reply, ms, error);
}

typedef enum {
  RUN_SEARCH,
  RUN_FULL_TEXT,
  RUN_PING,
  N_RUNS,
} RunKind;

static const char *const run_names[N_RUNS] = {
  [RUN_SEARCH] = "search_hybrid_over_bus",
  [RUN_FULL_TEXT] = "fts5_only_in_process",
  [RUN_PING] = "ping_baseline",
};

typedef struct {
  GArray *ms[N_RUNS];
  guint64 hits[N_RUNS];
  guint empty[N_RUNS]; /* queries that found nothing */
} QueryRun;

static void
query_run_init (QueryRun *q)
{
  for (int k = 0; k < N_RUNS; k++)
    q->ms[k] = g_array_new (FALSE, FALSE, sizeof (double));
}

static void
query_run_clear (QueryRun *q)
{
  for (int k = 0; k < N_RUNS; k++)
    g_clear_pointer (&q->ms[k], g_array_unref);
}

static gboolean
run_one (Bench *b, FullText *f, RunKind kind, const char *text, QueryRun *out, GError **error)
{
  double ms = 0;
  guint hits = 0;
  gboolean ok = FALSE;

  switch (kind) {
  case RUN_SEARCH:
    ok = search (b, text, CALL_TIMEOUT_US, &ms, &hits, error);
    break;
  case RUN_FULL_TEXT:
    ok = full_text_search (b, f, text, &ms, &hits, error);
    break;
  case RUN_PING:
    ok = ping (b, &ms, error);
    hits = 1;
    break;
  case N_RUNS:
    g_assert_not_reached ();
  }
  if (!ok || out == NULL)
    return ok;
  g_array_append_val (out->ms[kind], ms);
  out->hits[kind] += hits;
  if (hits == 0)
    out->empty[kind]++;
  return TRUE;
}

/* Hybrid Search, the FTS5 baseline and Ping take turns in rotating order for each query,
 * so that all three see the same machine at the same moment. */
static gboolean
measure_queries (Bench *b, FullText *f, GPtrArray *queries, QueryRun *out, GError **error)
{
  for (guint i = 0; i < MIN (WARMUP_QUERIES, queries->len); i++)
    for (int k = 0; k < N_RUNS; k++)
      if (!run_one (b, f, k, queries->pdata[i], NULL, error))
        return FALSE;
  for (guint i = 0; i < queries->len; i++) {
    if (!check_interrupted (error))
      return FALSE;
    for (int j = 0; j < N_RUNS; j++)
      if (!run_one (b, f, (i + j) % N_RUNS, queries->pdata[i], out, error))
        return FALSE;
  }
  return TRUE;
}

/* ---- one session size ---- */

typedef struct {
  double search_ms;
  guint hits;
  double probe_max_ms; /* the slowest Ping or GetHealth answered while this Search ran */
  guint probes;
  double graph_ready_s; /* from the Search until the graph held every vector */
} FirstSearch;

typedef struct {
  guint64 documents;
  guint64 chunks;
  guint64 index_file_bytes;
  guint64 rss_before_kb;     /* restarted daemon, nothing searched yet */
  guint64 rss_after_load_kb; /* after the first Search loaded the saved index */
  guint64 graph_bytes;       /* the daemon's own count for the loaded graph */
  double backlog_s;          /* after the ingest, until the graph held every vector */
  FirstSearch load;
  FirstSearch rebuild;
  gboolean rebuilt; /* rebuild was measured */
  QueryRun keywords;
  QueryRun questions;
} SizeResult;

static void
size_result_clear (SizeResult *s)
{
  query_run_clear (&s->keywords);
  query_run_clear (&s->questions);
}

/* The first Search of a session loads its vector index (or starts rebuilding it) on a
 * worker thread; a prober alongside shows whether anyone else waits meanwhile. */
static gboolean
first_search (Bench *b, const char *text, FirstSearch *out, GError **error)
{
  g_auto (Prober) prober = { 0 };
  prober_start (&prober, b, SLOW_CALL_TIMEOUT_US);
  /* Let the prober connect and settle into its rhythm before the Search starts. */
  g_usleep (50 * 1000);
  gboolean ok = search (b, text, SLOW_CALL_TIMEOUT_US, &out->search_ms, &out->hits, error);
  g_usleep (20 * 1000);
  if (!prober_stop (&prober, ok ? error : NULL) || !ok)
    return FALSE;
  /* A stall delays whichever call is in flight, Ping or GetHealth: take the slower. */
  g_array_sort (prober.health_ms, compare_doubles);
  g_array_sort (prober.ping_ms, compare_doubles);
  out->probe_max_ms = MAX (g_array_index (prober.health_ms, double, prober.health_ms->len - 1),
                           g_array_index (prober.ping_ms, double, prober.ping_ms->len - 1));
  out->probes = prober.health_ms->len;
  return TRUE;
}

/* A figure of GetHealth's index component: "waiting" (vectors not in a graph yet),
 * "memory_bytes" (what the daemon counts for its graphs). */
static gboolean
read_index_figure (Bench *b, const char *name, guint64 *value, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  double ms;
  const char *status, *component, *key;
  int r;

  if (!new_call (b->d.client, BUS_PATH, BUS_NAME, "GetHealth", &m, error)
      || !call (m, CALL_TIMEOUT_US, &reply, &ms, error))
    return FALSE;
  if ((r = sd_bus_message_read (reply, "s", &status)) < 0
      || (r = sd_bus_message_enter_container (reply, 'a', "{sv}")) < 0)
    return fail (error, "GetHealth: unexpected reply: %s", g_strerror (-r));
  while ((r = sd_bus_message_enter_container (reply, 'e', "sv")) > 0) {
    if ((r = sd_bus_message_read (reply, "s", &component)) < 0)
      break;
    if (!g_str_equal (component, "index")) {
      if ((r = sd_bus_message_skip (reply, "v")) < 0
          || (r = sd_bus_message_exit_container (reply)) < 0)
        break;
      continue;
    }
    if ((r = sd_bus_message_enter_container (reply, 'v', "a{sv}")) < 0
        || (r = sd_bus_message_enter_container (reply, 'a', "{sv}")) < 0)
      break;
    while ((r = sd_bus_message_enter_container (reply, 'e', "sv")) > 0) {
      if ((r = sd_bus_message_read (reply, "s", &key)) < 0)
        break;
      if (g_str_equal (key, name))
        r = sd_bus_message_read (reply, "v", "t", value);
      else
        r = sd_bus_message_skip (reply, "v");
      if (r < 0 || (r = sd_bus_message_exit_container (reply)) < 0)
        break;
      if (g_str_equal (key, name))
        return TRUE;
    }
    break;
  }
  return fail (error, "GetHealth: no index.%s in the reply (%s)", name,
               r < 0 ? g_strerror (-r) : "absent");
}

/* Waits until the daemon's vector graphs hold every vector: searches compare vectors
 * still waiting one by one, which is not the steady state the queries measure. */
static gboolean
wait_graph_ready (Bench *b, double *seconds, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  for (;;) {
    guint64 waiting = 0;
    if (!check_interrupted (error) || !read_index_figure (b, "waiting", &waiting, error))
      return FALSE;
    if (waiting == 0)
      break;
    if (g_get_monotonic_time () - start > INGEST_TIMEOUT_US)
      return fail (error, "the vector graph still has %" G_GUINT64_FORMAT " changes waiting",
                   waiting);
    g_usleep (100 * 1000);
  }
  *seconds = (g_get_monotonic_time () - start) / 1e6;
  return TRUE;
}

static char *
index_file (Bench *b)
{
  g_autofree char *name = g_strconcat (b->session_id, ".hnsw", NULL);
  return g_build_filename (b->state_dir, "index", name, NULL);
}

/* At the session's current size: the saved index's size, the first Search from it and
 * the memory it takes, every query, then the first Search after losing the file. */
static gboolean
measure_size (Bench *b, GPtrArray *keywords, GPtrArray *questions, SizeResult *out, GError **error)
{
  g_autofree char *path = index_file (b);
  GStatBuf st;

  out->documents = b->documents;
  out->chunks = b->chunks;
  progress ("%" G_GUINT64_FORMAT " chunks: waiting for the vector graph to take them all",
            b->chunks);
  if (!wait_graph_ready (b, &out->backlog_s, error))
    return FALSE;
  /* A stop saves the index: what a restart finds. */
  if (!stop_daemon (&b->d, error))
    return FALSE;
  if (g_stat (path, &st) != 0)
    return fail (error, "the daemon saved no vector index at %s: %s", path, g_strerror (errno));
  out->index_file_bytes = (guint64) st.st_size;

  progress ("%" G_GUINT64_FORMAT " chunks: first Search from the saved index", b->chunks);
  if (!start_daemon (&b->d, b->state_dir, NULL, error))
    return FALSE;
  settle ();
  if (!read_rss_kb (b->d.daemon_pid, &out->rss_before_kb, error)
      || !first_search (b, keywords->pdata[0], &out->load, error)
      || !wait_graph_ready (b, &out->load.graph_ready_s, error))
    return FALSE;
  settle ();
  if (!read_rss_kb (b->d.daemon_pid, &out->rss_after_load_kb, error)
      || !read_index_figure (b, "memory_bytes", &out->graph_bytes, error))
    return FALSE;

  progress ("%" G_GUINT64_FORMAT " chunks: %u keyword queries and %u questions", b->chunks,
            keywords->len, questions->len);
  g_auto (FullText) full_text = { 0 };
  if (!full_text_open (b, &full_text, error)
      || !measure_queries (b, &full_text, keywords, &out->keywords, error)
      || !measure_queries (b, &full_text, questions, &out->questions, error))
    return FALSE;
  full_text_clear (&full_text);

  if (b->chunks > (guint64) b->rebuild_up_to)
    return TRUE;
  out->rebuilt = TRUE;
  progress ("%" G_GUINT64_FORMAT " chunks: first Search without the index file", b->chunks);
  if (!stop_daemon (&b->d, error))
    return FALSE;
  if (g_unlink (path) != 0)
    return fail (error, "cannot remove %s: %s", path, g_strerror (errno));
  return start_daemon (&b->d, b->state_dir, NULL, error)
         && first_search (b, keywords->pdata[0], &out->rebuild, error)
         && wait_graph_ready (b, &out->rebuild.graph_ready_s, error);
}

/* ---- the report ---- */

/* Each larger size, and the fill that grew the session to it. */
typedef struct {
  IngestResult fill;
  SizeResult size;
} Larger;

typedef struct {
  IngestResult ingest;
  StoreFloor floor; /* the same documents' chunks written by SQLite alone */
  SizeResult small;
  Larger *larger; /* n_larger of them */
  guint n_larger;
} Results;

static void
results_init (Results *r, guint n_larger)
{
  query_run_init (&r->small.keywords);
  query_run_init (&r->small.questions);
  r->larger = g_new0 (Larger, n_larger);
  r->n_larger = n_larger;
  for (guint i = 0; i < n_larger; i++) {
    query_run_init (&r->larger[i].size.keywords);
    query_run_init (&r->larger[i].size.questions);
  }
}

static void
results_clear (Results *r)
{
  ingest_result_clear (&r->ingest);
  size_result_clear (&r->small);
  for (guint i = 0; i < r->n_larger; i++) {
    ingest_result_clear (&r->larger[i].fill);
    size_result_clear (&r->larger[i].size);
  }
  g_free (r->larger);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Results, results_clear)

static double
percentile_of (GArray *samples, double q)
{
  g_array_sort (samples, compare_doubles);
  return percentile (samples, q);
}

static void
add_ingest (Json *json, const char *name, const char *state, IngestResult *r)
{
  guint slow = 0;
  for (guint i = 0; i < r->health_ms->len; i++)
    slow += g_array_index (r->health_ms, double, i) >= TARGET_HEALTH_P99_MS;

  json_begin_object (json, name);
  add_string (json, "state", state);
  add_int (json, "documents", r->documents);
  add_int (json, "text_bytes", (gint64) r->bytes);
  add_number (json, "seconds", r->seconds);
  add_number (json, "mb_per_second", r->bytes / 1e6 / r->seconds);
  add_int (json, "session_chunks_after", (gint64) r->chunks_after);
  json_begin_object (json, "latency_ms_meanwhile");
  add_latency (json, "ping_baseline", r->ping_ms, TRUE);
  add_latency (json, "get_health", r->health_ms, TRUE);
  add_latency (json, "add_text", r->add_ms, TRUE);
  json_end_object (json);
  add_int (json, "get_health_at_or_over_5ms", slow);
  add_int (json, "get_health_not_ok", r->health_not_ok);
  json_end_object (json);
}

static void
add_first_search (Json *json, const char *name, FirstSearch *f)
{
  json_begin_object (json, name);
  add_number (json, "search_ms", f->search_ms);
  add_int (json, "hits", f->hits);
  add_number (json, "probe_max_ms_meanwhile", f->probe_max_ms);
  add_int (json, "probes_meanwhile", f->probes);
  add_number (json, "graph_complete_after_s", f->graph_ready_s);
  json_end_object (json);
}

static void
add_query_run (Json *json, const char *name, const char *what, QueryRun *q)
{
  json_begin_object (json, name);
  add_string (json, "queries", what);
  for (int k = 0; k < N_RUNS; k++) {
    json_begin_object (json, run_names[k]);
    add_latency (json, "latency_ms", q->ms[k], TRUE);
    if (k != RUN_PING) {
      add_number (json, "hits_mean", (double) q->hits[k] / MAX (q->ms[k]->len, 1));
      add_int (json, "queries_without_hits", q->empty[k]);
    }
    json_end_object (json);
  }
  json_end_object (json);
}

static void
add_size (Json *json, SizeResult *s)
{
  g_autofree char *name = g_strdup_printf ("chunks_%" G_GUINT64_FORMAT, s->chunks);
  json_begin_object (json, name);
  add_int (json, "documents", (gint64) s->documents);
  add_int (json, "chunks", (gint64) s->chunks);
  add_number (json, "graph_backlog_after_ingest_s", s->backlog_s);
  add_int (json, "index_file_bytes", (gint64) s->index_file_bytes);
  add_number (json, "index_file_mb", s->index_file_bytes / 1048576.0);
  add_int (json, "rss_kb_before_first_search", (gint64) s->rss_before_kb);
  add_int (json, "rss_kb_after_index_loaded", (gint64) s->rss_after_load_kb);
  add_number (json, "index_rss_growth_mb",
              ((double) s->rss_after_load_kb - (double) s->rss_before_kb) / 1024.0);
  add_number (json, "graph_mb_reported_by_daemon", s->graph_bytes / 1048576.0);
  json_begin_object (json, "first_search");
  add_first_search (json, "from_saved_index", &s->load);
  if (s->rebuilt)
    add_first_search (json, "rebuilt_from_database", &s->rebuild);
  else
    add_string (json, "rebuilt_from_database", "not measured at this size (--rebuild-up-to)");
  json_end_object (json);
  add_query_run (json, "keywords", "two to four content words", &s->keywords);
  add_query_run (json, "questions", "'what is the X of the Y'", &s->questions);
  json_end_object (json);
}

static void
add_memory (Json *json, SizeResult *s)
{
  double scale = 100000.0 / (double) MAX (s->chunks, 1);
  json_begin_object (json, "index_memory_per_100k_chunks");
  add_int (json, "measured_at_chunks", (gint64) s->chunks);
  add_number (json, "rss_growth_mb",
              ((double) s->rss_after_load_kb - (double) s->rss_before_kb) / 1024.0 * scale);
  add_number (json, "index_file_mb", s->index_file_bytes / 1048576.0 * scale);
  /* The resident growth also counts the database pages the first Search mapped. */
  add_number (json, "graph_mb_reported_by_daemon", s->graph_bytes / 1048576.0 * scale);
  json_end_object (json);
}

static gboolean
add_target (Json *json, const char *name, const char *measured_as, gboolean measured, double value,
            double limit, gboolean at_least, const char *unit)
{
  gboolean pass = measured && (at_least ? value >= limit : value < limit);
  json_begin_object (json, name);
  add_string (json, "measured_as", measured_as);
  if (measured)
    add_number (json, "value", value);
  else
    add_string (json, "value", "not measured");
  add_number (json, "limit", limit);
  add_string (json, "unit", unit);
  add_string (json, "kind", at_least ? "at least" : "below");
  add_bool (json, "pass", pass);
  json_end_object (json);
  return pass;
}

/* What one SQLite writer takes for the ingest's chunks: with every write behind one lock,
 * no ingest of these documents can be faster. */
static void
add_store_floor (Json *json, Results *r)
{
  StoreFloor *f = &r->floor;
  json_begin_object (json, "store_floor_baseline");
  add_string (json, "what",
              "the ingest's chunks, vectors and full-text index written again by SQLite alone, "
              "one transaction per document, one thread, same schema and settings");
  add_int (json, "documents", f->documents);
  add_int (json, "chunks", (gint64) f->chunks);
  add_int (json, "chunk_text_bytes", (gint64) f->text_bytes);
  add_number (json, "seconds", f->seconds);
  /* Over the documents' own bytes, as ingest.mb_per_second is. */
  add_number (json, "mb_per_second", f->seconds > 0 ? r->ingest.bytes / 1e6 / f->seconds : 0);
  json_end_object (json);
}

/* The smallest size measured with at least @chunks, or NULL. */
static SizeResult *
size_at_least (Results *r, guint64 chunks)
{
  for (guint i = 0; i < r->n_larger; i++)
    if (r->larger[i].size.chunks >= chunks)
      return &r->larger[i].size;
  return NULL;
}

static gboolean
add_search_target (Json *json, Results *r, const char *name, guint64 chunks, double limit)
{
  SizeResult *s = size_at_least (r, chunks);
  g_autofree char *as = g_strdup_printf (
      "keywords search_hybrid_over_bus p95 at the first size of at least %" G_GUINT64_FORMAT
      " chunks",
      chunks);
  return add_target (json, name, as, s != NULL,
                     s != NULL ? percentile_of (s->keywords.ms[RUN_SEARCH], 0.95) : 0, limit, FALSE,
                     "ms");
}

static void
add_targets (Json *json, Results *r)
{
  gboolean all = TRUE;
  double health_p99 = percentile_of (r->ingest.health_ms, 0.99);
  for (guint i = 0; i < r->n_larger; i++)
    health_p99 = MAX (health_p99, percentile_of (r->larger[i].fill.health_ms, 0.99));

  json_begin_object (json, "targets");
  all &= add_target (json, "ingest_throughput", "ingest.mb_per_second", TRUE,
                     r->ingest.bytes / 1e6 / r->ingest.seconds, TARGET_INGEST_MB_S, TRUE, "MB/s");
  all &= add_target (json, "get_health_p99_while_ingesting",
                     "worst get_health p99 of ingest and fills", TRUE, health_p99,
                     TARGET_HEALTH_P99_MS, FALSE, "ms");
  all &= add_search_target (json, r, "search_p95_at_100k_chunks", TARGET_SEARCH_AT_CHUNK,
                            TARGET_SEARCH_P95_MS);
  all &= add_search_target (json, r, "search_p95_at_1m_chunks", TARGET_SEARCH_AT_1M_CHUNK,
                            TARGET_SEARCH_P95_1M_MS);
  json_end_object (json);
  add_bool (json, "all_targets_pass", all);
}

static void
add_daemon (Json *json, Bench *b)
{
  json_begin_object (json, "daemon");
  add_string (json, "path", b->d.daemon_path);
  add_string (json, "extract_helper",
              b->d.extract_helper ? b->d.extract_helper : "(installed path)");
  add_string (json, "version", b->d.daemon_version ? b->d.daemon_version : "unknown");
  add_string (json, "build_type", b->build_type);
  add_string (json, "mode",
              b->d.system_mode ? "system (caller is root, no polkit)" : "user (--user, no polkit)");
  add_string (json, "config", "every key default (builtin embedder)");
  add_int (json, "unclean_exits", b->d.unclean_exits);
  json_end_object (json);
}

static void
add_parameters (Json *json, Bench *b)
{
  json_begin_object (json, "parameters");
  add_int (json, "ingest_mb", b->ingest_mb);
  add_int (json, "document_kb", b->document_kb);
  add_int (json, "fill_document_kb", b->fill_document_kb);
  json_begin_array (json, "sizes");
  for (guint i = 0; i < b->sizes->len; i++)
    add_int (json, NULL, (gint64) g_array_index (b->sizes, guint64, i));
  json_end_array (json);
  add_int (json, "rebuild_up_to", b->rebuild_up_to);
  add_int (json, "queries", b->queries);
  add_int (json, "questions", b->questions);
  add_int (json, "warmup_queries", WARMUP_QUERIES);
  add_int (json, "k", SEARCH_K);
  add_int (json, "add_window", ADD_WINDOW);
  add_number (json, "probe_interval_ms", PROBE_INTERVAL_US / 1000.0);
  add_int (json, "vocabulary", VOCABULARY);
  add_int (json, "seed", b->seed);
  json_end_object (json);
}

static char *
report (Bench *b, Results *r)
{
  Json writer = { g_string_new (NULL), 0, TRUE };
  Json *json = &writer;

  json_begin_object (json, NULL);
  add_string (json, "benchmark", "documents");
  add_machine (json, &b->d);
  add_daemon (json, b);
  add_parameters (json, b);
  add_ingest (json, "ingest", "the session's vector index loaded (one Search on the empty session)",
              &r->ingest);
  add_store_floor (json, r);
  json_begin_object (json, "fills");
  for (guint i = 0; i < r->n_larger; i++) {
    g_autofree char *name
        = g_strdup_printf ("to_%" G_GUINT64_FORMAT "_chunks", r->larger[i].size.chunks);
    add_ingest (json, name, "the same session grown to this size, index loaded",
                &r->larger[i].fill);
  }
  json_end_object (json);
  json_begin_object (json, "sizes");
  add_size (json, &r->small);
  for (guint i = 0; i < r->n_larger; i++)
    add_size (json, &r->larger[i].size);
  json_end_object (json);
  SizeResult *for_memory = size_at_least (r, TARGET_SEARCH_AT_CHUNK);
  add_memory (json, for_memory != NULL ? for_memory : &r->small);
  add_targets (json, r);
  json_end_object (json);

  g_string_append_c (json->out, '\n');
  return g_string_free (json->out, FALSE);
}

/* ---- the run ---- */

static gboolean
prepare (Bench *b, GError **error)
{
  /* An empty file: the defaults are measured, and no configuration of this machine leaks in. */
  if (!bench_daemon_prepare (&b->d, b->tmp_parent, "", error))
    return FALSE;
  b->state_dir = g_build_filename (b->d.dir, "state", NULL);
  b->rand = g_rand_new_with_seed ((guint32) b->seed);
  vocabulary_init (&b->vocabulary, b->rand);
  return TRUE;
}

static GPtrArray *
generate_queries (Bench *b, guint n, char *(*generate) (Bench *) )
{
  GPtrArray *queries = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (queries, generate (b));
  return queries;
}

static gboolean
run (Bench *b, Results *r, GError **error)
{
  double ms;
  guint hits;

  if (!prepare (b, error))
    return FALSE;
  g_autoptr (GPtrArray) keywords = generate_queries (b, b->queries, generate_keywords);
  g_autoptr (GPtrArray) questions = generate_queries (b, b->questions, generate_question);
  if (!start_daemon (&b->d, b->state_dir, NULL, error) || !read_version (&b->d, error)
      || !create_session (b, error))
    return FALSE;
  /* A session in use has its index loaded, so that each ready document also goes to
   * its graph while others call: the daemon's busiest case. */
  if (!search (b, keywords->pdata[0], CALL_TIMEOUT_US, &ms, &hits, error))
    return FALSE;

  progress ("ingesting %d MB in documents of %d kB", b->ingest_mb, b->document_kb);
  if (!measure_ingest (b, (guint64) b->ingest_mb * 1000000, (gsize) b->document_kb * 1000,
                       &r->ingest, error)
      || !measure_size (b, keywords, questions, &r->small, error))
    return FALSE;

  for (guint i = 0; i < r->n_larger; i++) {
    guint64 target = g_array_index (b->sizes, guint64, i);
    if (target <= b->chunks)
      return fail (error,
                   "--sizes: %" G_GUINT64_FORMAT " chunks is not more than the session "
                   "already has (%" G_GUINT64_FORMAT ")",
                   target, b->chunks);
    /* Enough text for the size at the rate of chunks per byte seen so far. */
    double per_chunk = (double) b->text_bytes / (double) b->chunks;
    guint64 more = (guint64) ((double) (target - b->chunks) * per_chunk * 1.03) + 1;
    progress ("filling the session to %" G_GUINT64_FORMAT " chunks (%" G_GUINT64_FORMAT
              " MB more text)",
              target, more / 1000000);
    if (!measure_ingest (b, more, (gsize) b->fill_document_kb * 1000, &r->larger[i].fill, error)
        || !measure_size (b, keywords, questions, &r->larger[i].size, error))
      return FALSE;
  }
  if (!stop_daemon (&b->d, error))
    return FALSE;
  progress ("the store floor: the ingest's chunks written again by SQLite alone");
  g_autofree char *database = g_build_filename (b->state_dir, DATABASE_FILENAME, NULL);
  return bench_store_floor (database, b->d.dir, r->ingest.documents, &r->floor, error);
}

static void
bench_cleanup (Bench *b)
{
  bench_daemon_clear (&b->d, b->keep);
  g_free (b->state_dir);
  g_free (b->session_path);
  g_free (b->session_id);
  g_clear_pointer (&b->rand, g_rand_free);
  g_free (b->vocabulary.cumulative);
  g_strfreev (b->vocabulary.words);
  g_clear_pointer (&b->sizes, g_array_unref);
}

/* "100000,1000000": sizes in chunks, each larger than the one before. */
static gboolean
parse_sizes (Bench *b, const char *text, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  b->sizes = g_array_new (FALSE, FALSE, sizeof (guint64));
  for (guint i = 0; parts[i] != NULL; i++) {
    guint64 size = 0;
    if (*parts[i] == '\0' && parts[1] == NULL)
      break; /* "": no larger size */
    if (!g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 1, G_MAXINT32, &size, NULL)
        || (b->sizes->len > 0 && size <= g_array_index (b->sizes, guint64, b->sizes->len - 1)))
      return fail (error, "--sizes: '%s' is not a rising list of chunk counts", text);
    g_array_append_val (b->sizes, size);
  }
  return TRUE;
}

static gboolean
parse_arguments (Bench *b, int *argc, char ***argv, GError **error)
{
  g_autofree char *sizes = NULL;
  g_autofree char *daemon = NULL;
  g_autofree char *build_type = NULL;
  g_autofree char *dbus_daemon = NULL;
  g_autofree char *helper = NULL;
  const GOptionEntry entries[] = {
    { "daemon", 0, 0, G_OPTION_ARG_FILENAME, &daemon,
      "The smartragd to measure (default: $SMARTRAGD, else the one built with this benchmark)",
      "PATH" },
    { "extract-helper", 0, 0, G_OPTION_ARG_FILENAME, &helper,
      "The smartrag-extract the daemon runs (default: $SMARTRAG_EXTRACT_HELPER, else this "
      "build's for this build's daemon, else the daemon's own)",
      "PATH" },
    { "dbus-daemon", 0, 0, G_OPTION_ARG_FILENAME, &dbus_daemon,
      "The dbus-daemon for the private bus (default: from PATH)", "PATH" },
    { "build-type", 0, 0, G_OPTION_ARG_STRING, &build_type,
      "Build type to report for the daemon (default: this build's, or unknown with --daemon)",
      "TYPE" },
    { "ingest-mb", 0, 0, G_OPTION_ARG_INT, &b->ingest_mb,
      "Megabytes of text in the measured ingest (default 8)", "N" },
    { "document-kb", 0, 0, G_OPTION_ARG_INT, &b->document_kb,
      "Kilobytes per document in the measured ingest (default 200)", "N" },
    { "fill-document-kb", 0, 0, G_OPTION_ARG_INT, &b->fill_document_kb,
      "Kilobytes per document when filling to the larger size (default 1000)", "N" },
    { "sizes", 0, 0, G_OPTION_ARG_STRING, &sizes,
      "The larger session sizes, in chunks, comma-separated; empty skips them (default "
      "100000)",
      "LIST" },
    { "rebuild-up-to", 0, 0, G_OPTION_ARG_INT64, &b->rebuild_up_to,
      "Measure the first Search without the index file only at sizes up to N chunks "
      "(default 200000: a rebuild takes minutes per million)",
      "N" },
    { "queries", 0, 0, G_OPTION_ARG_INT, &b->queries, "Keyword queries per size (default 500)",
      "N" },
    { "questions", 0, 0, G_OPTION_ARG_INT, &b->questions,
      "Question-like queries per size (default 100)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &b->seed, "Seed of the generated text (default 1)", "N" },
    { "keep", 0, 0, G_OPTION_ARG_NONE, &b->keep,
      "Keep the temporary directory with the daemon's log and state", NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("[SMARTRAGD]");
  g_option_context_set_summary (context,
                                "Measures smartragd's ingest throughput, its bus latency while "
                                "ingesting and Search latency against FTS5\non a private bus, "
                                "and prints one JSON document.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 2)
    return fail (error, "unexpected argument '%s'", (*argv)[2]);
  if (b->ingest_mb < 1 || b->document_kb < 1 || b->fill_document_kb < 1 || b->queries < 1
      || b->questions < 1 || b->rebuild_up_to < 0)
    return fail (error, "sizes and query counts must be at least 1, --rebuild-up-to at least 0");
  if (!parse_sizes (b, sizes != NULL ? sizes : "100000", error))
    return FALSE;

  /* Only the daemon built next to this benchmark is known to have this build's type. */
  gboolean built_here = FALSE;
  if (*argc == 2) {
    g_free (daemon);
    daemon = g_strdup ((*argv)[1]);
  } else if (daemon == NULL && g_getenv ("SMARTRAGD") != NULL) {
    daemon = g_strdup (g_getenv ("SMARTRAGD"));
  } else if (daemon == NULL) {
    daemon = g_strdup (SMARTRAGD_PATH);
    built_here = TRUE;
  }
  if (!g_file_test (daemon, G_FILE_TEST_IS_EXECUTABLE))
    return fail (error, "%s is not an executable smartragd", daemon);
  if (helper == NULL && g_getenv ("SMARTRAG_EXTRACT_HELPER") != NULL)
    helper = g_strdup (g_getenv ("SMARTRAG_EXTRACT_HELPER"));
  else if (helper == NULL && built_here)
    helper = g_strdup (SMARTRAG_EXTRACT_PATH);
  if (helper != NULL && !g_file_test (helper, G_FILE_TEST_IS_EXECUTABLE))
    return fail (error, "%s is not an executable smartrag-extract", helper);

  b->d.daemon_path = g_steal_pointer (&daemon);
  b->d.extract_helper = g_steal_pointer (&helper);
  b->d.dbus_daemon = dbus_daemon ? g_steal_pointer (&dbus_daemon) : g_strdup ("dbus-daemon");
  b->build_type = build_type ? g_steal_pointer (&build_type)
                             : g_strdup (built_here ? SMARTRAGD_BUILD_TYPE : "unknown");
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_set_prgname ("bench-documents");
  Bench bench = {
    .ingest_mb = 8,
    .document_kb = 200,
    .fill_document_kb = 1000,
    .rebuild_up_to = 200000,
    .queries = 500,
    .questions = 100,
    .seed = 1,
    .tmp_parent = (char *) g_get_tmp_dir (),
    .d = {
      .ready_timeout_us = READY_TIMEOUT_US,
      .stop_timeout_us = STOP_TIMEOUT_US,
      .notify_fd = -1,
      /* Root needs no polkit; anyone else runs the daemon in user mode on the private bus. */
      .system_mode = geteuid () == 0,
    },
  };
  g_auto (Results) results = { 0 };
  g_autoptr (GError) error = NULL;

  if (!parse_arguments (&bench, &argc, &argv, &error)) {
    g_printerr ("%s: %s\n", g_get_prgname (), error->message);
    return 2;
  }
  install_signal_handlers ();
  results_init (&results, bench.sizes->len);

  bench.d.load_before = load_average ();
  gboolean ok = run (&bench, &results, &error);
  bench.d.load_after = load_average ();
  g_autofree char *json = ok ? report (&bench, &results) : NULL;
  bench_cleanup (&bench);
  g_free (bench.build_type);

  if (!ok) {
    g_printerr ("%s: %s\n", g_get_prgname (), error->message);
    return 1;
  }
  fputs (json, stdout);
  return 0;
}
