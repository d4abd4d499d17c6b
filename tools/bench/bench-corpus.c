/* Shared by the benchmarks that add documents: generated text, filling a session, targets. */
#include "bench-corpus.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Bytes of generated text per chunk while the session has none to count: about what the
 * chunker makes of this text with its overlaps (one chunk per 690 bytes). */
#define GUESSED_BYTES_PER_CHUNK 680.0
/* A fill asks for this much more text than the rate says, so that one fill usually reaches
 * its goal; one that falls short is topped up by the next. */
#define FILL_MARGIN 1.03

/* ---- calls ---- */

gboolean
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

gboolean
new_call (sd_bus *bus, const char *path, const char *interface, const char *member,
          sd_bus_message **m, GError **error)
{
  int r = sd_bus_message_new_method_call (bus, m, BUS_NAME, path, interface, member);
  if (r < 0)
    return fail (error, "cannot build %s.%s: %s", interface, member, g_strerror (-r));
  return TRUE;
}

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
char *
generate_document (Corpus *c, gsize bytes)
{
  GString *text = g_string_sized_new (bytes + 256);
  while (text->len < bytes) {
    gint32 sentences = g_rand_int_range (c->rand, 3, 8);
    for (gint32 i = 0; i < sentences; i++)
      append_sentence (text, &c->vocabulary, c->rand);
    g_string_truncate (text, text->len - 1);
    g_string_append (text, "\n\n");
  }
  return g_string_free (text, FALSE);
}

/* Keyword queries: two to four content words, the kind a search box gets. */
char *
generate_keywords (Corpus *c)
{
  GString *query = g_string_new (NULL);
  gint32 words = g_rand_int_range (c->rand, 2, 5);
  for (gint32 i = 0; i < words; i++)
    g_string_append_printf (
        query, "%s%s", i ? " " : "",
        vocabulary_pick (&c->vocabulary, c->rand, G_N_ELEMENTS (function_words)));
  return g_string_free (query, FALSE);
}

/* Questions as people type them: their function words match nearly every chunk. */
char *
generate_question (Corpus *c)
{
  guint first = G_N_ELEMENTS (function_words);
  return g_strdup_printf ("what is the %s of the %s",
                          vocabulary_pick (&c->vocabulary, c->rand, first),
                          vocabulary_pick (&c->vocabulary, c->rand, first));
}

gboolean
is_function_word (const char *word)
{
  for (guint i = 0; i < G_N_ELEMENTS (function_words); i++)
    if (g_str_equal (word, function_words[i]))
      return TRUE;
  return FALSE;
}

void
corpus_init (Corpus *c, BenchDaemon *d, int seed)
{
  c->d = d;
  c->rand = g_rand_new_with_seed ((guint32) seed);
  vocabulary_init (&c->vocabulary, c->rand);
}

void
corpus_clear (Corpus *c)
{
  g_clear_pointer (&c->rand, g_rand_free);
  g_clear_pointer (&c->vocabulary.cumulative, g_free);
  g_clear_pointer (&c->vocabulary.words, g_strfreev);
  g_clear_pointer (&c->session_path, g_free);
  g_clear_pointer (&c->session_id, g_free);
}

/* ---- probing the daemon while it works ---- */

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

void
prober_start (Prober *p, const char *address, gint64 timeout_us)
{
  *p = (Prober){
    .address = address,
    .timeout_us = timeout_us,
    .ping_ms = g_array_new (FALSE, FALSE, sizeof (double)),
    .health_ms = g_array_new (FALSE, FALSE, sizeof (double)),
  };
  p->thread = g_thread_new ("prober", probe_thread, p);
}

gboolean
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

void
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

/* ---- session, ingest ---- */

gboolean
create_session (Corpus *c, const char *title, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  const char *path;

  if (!new_call (c->d->client, BUS_PATH, BUS_NAME, "CreateSession", &m, error))
    return FALSE;
  /* expire_after 0: a long run must not lose its session to the default expiry. */
  int r = sd_bus_message_append (m, "a{sv}", 2, "title", "s", title, "expire_after", "u", 0);
  if (r < 0)
    return fail (error, "cannot build CreateSession: %s", g_strerror (-r));
  if (!call (m, CALL_TIMEOUT_US, &reply, NULL, error))
    return FALSE;
  if ((r = sd_bus_message_read (reply, "o", &path)) < 0)
    return fail (error, "CreateSession: unexpected reply: %s", g_strerror (-r));
  if (!g_str_has_prefix (path, SESSION_PATH_PREFIX))
    return fail (error, "CreateSession returned %s", path);
  c->session_path = g_strdup (path);
  c->session_id = g_strdup (path + strlen (SESSION_PATH_PREFIX));
  return TRUE;
}

typedef struct {
  guint total;      /* documents to add */
  AddBuilder build; /* makes the call that adds one */
  gpointer build_data;
  GHashTable *added; /* document ids the calls returned */
  GHashTable *ready; /* document ids that reached "ready" */
  GPtrArray *slots;  /* pending calls and the signal match, released together */
  GPtrArray *calls;  /* one AddCall per call sent */
  GArray *add_ms;    /* call to reply: how long storing keeps a client waiting */
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
  guint number; /* from 1, in the order sent */
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
    ingest_fail (in, "adding document %u failed: %s", add->number,
                 e->message ? e->message : e->name);
    return 0;
  }
  int r = sd_bus_message_read (reply, "s", &id);
  if (r < 0)
    ingest_fail (in, "adding document %u: unexpected reply: %s", add->number, g_strerror (-r));
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
send_next (Corpus *c, Ingest *in, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  sd_bus_slot *slot = NULL;
  AddCall *add = g_new0 (AddCall, 1);
  add->in = in;
  add->number = in->sent + 1;
  g_ptr_array_add (in->calls, add);

  if (!in->build (c, in->sent, in->build_data, &m, error))
    return FALSE;
  add->sent_ns = now_ns ();
  /* A generous timeout: a reply held up by a busy main loop is a finding to report. */
  int r = sd_bus_call_async (NULL, &slot, m, on_added, add, SLOW_CALL_TIMEOUT_US);
  if (r < 0)
    return fail (error, "cannot send %s: %s", sd_bus_message_get_member (m), g_strerror (-r));
  g_ptr_array_add (in->slots, slot);
  in->sent++;
  in->in_flight++;
  return TRUE;
}

static gboolean
ingest_done (Ingest *in)
{
  if (g_hash_table_size (in->added) < in->total)
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
ingest_loop (Corpus *c, Ingest *in, GError **error)
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
                   g_hash_table_size (in->ready), in->total,
                   (int) (INGEST_TIMEOUT_US / G_USEC_PER_SEC / 60));
    while (in->in_flight < ADD_WINDOW && in->sent < in->total)
      if (!send_next (c, in, error))
        return FALSE;
    int r = sd_bus_process (c->d->client, NULL);
    if (r < 0)
      return fail (error, "the bus connection failed: %s", g_strerror (-r));
    if (r == 0 && (r = sd_bus_wait (c->d->client, 100 * 1000)) < 0 && r != -EINTR)
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
  g_clear_pointer (&in->added, g_hash_table_unref);
  g_clear_pointer (&in->ready, g_hash_table_unref);
  g_clear_error (&in->error);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Ingest, ingest_clear)

void
ingest_result_clear (IngestResult *r)
{
  g_clear_pointer (&r->ping_ms, g_array_unref);
  g_clear_pointer (&r->health_ms, g_array_unref);
  g_clear_pointer (&r->add_ms, g_array_unref);
}

gboolean
count_chunks (Corpus *c, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  guint64 documents = 0, chunks = 0;
  int r;

  if (!new_call (c->d->client, c->session_path, DOCUMENT_INTERFACE, "ListDocuments", &m, error)
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
  c->documents = documents;
  c->chunks = chunks;
  return TRUE;
}

gboolean
measure_ingest_calls (Corpus *c, guint documents, AddBuilder build, gpointer data,
                      IngestResult *out, GError **error)
{
  g_auto (Ingest) in = {
    .total = documents,
    .build = build,
    .build_data = data,
    .added = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    .ready = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    .slots = g_ptr_array_new_with_free_func (slot_unref),
    .calls = g_ptr_array_new_with_free_func (g_free),
    .add_ms = g_array_new (FALSE, FALSE, sizeof (double)),
  };
  g_auto (Prober) prober = { 0 };
  sd_bus_slot *match = NULL;

  out->documents = documents;
  int r = sd_bus_match_signal (c->d->client, &match, BUS_NAME, c->session_path, DOCUMENT_INTERFACE,
                               "DocumentChanged", on_document_changed, &in);
  if (r < 0)
    return fail (error, "cannot listen to DocumentChanged: %s", g_strerror (-r));
  g_ptr_array_add (in.slots, match);

  prober_start (&prober, c->d->bus_address, SLOW_CALL_TIMEOUT_US);
  gint64 start = now_ns ();
  gboolean ok = ingest_loop (c, &in, error);
  if (!prober_stop (&prober, ok ? error : NULL) || !ok)
    return FALSE;
  out->seconds = (double) (in.last_ready_ns - start) / 1e9;
  out->ping_ms = g_steal_pointer (&prober.ping_ms);
  out->health_ms = g_steal_pointer (&prober.health_ms);
  out->health_not_ok = prober.health_not_ok;
  out->add_ms = g_steal_pointer (&in.add_ms);
  if (!count_chunks (c, error))
    return FALSE;
  out->chunks_after = c->chunks;
  return TRUE;
}

static gboolean
add_text_call (Corpus *c, guint i, gpointer data, sd_bus_message **m, GError **error)
{
  GPtrArray *texts = data;
  g_autofree char *title = g_strdup_printf ("Benchmark document %u", i + 1);
  if (!new_call (c->d->client, c->session_path, DOCUMENT_INTERFACE, "AddText", m, error))
    return FALSE;
  int r = sd_bus_message_append (*m, "ssa{sv}", title, (const char *) texts->pdata[i], 0);
  if (r < 0)
    return fail (error, "cannot build AddText: %s", g_strerror (-r));
  return TRUE;
}

gboolean
measure_ingest (Corpus *c, guint64 total, gsize document_bytes, IngestResult *out, GError **error)
{
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  for (guint64 made = 0; made < total;) {
    char *text = generate_document (c, MIN (document_bytes, total - made));
    made += strlen (text);
    out->bytes += strlen (text);
    g_ptr_array_add (texts, text);
  }
  /* Counted first: the chunks per byte so far guide the next fill. */
  c->text_bytes += out->bytes;
  return measure_ingest_calls (c, texts->len, add_text_call, texts, out, error);
}

guint64
text_for_chunks (Corpus *c, guint64 target_chunks)
{
  if (target_chunks <= c->chunks)
    return 0;
  double per_chunk
      = c->chunks > 0 ? (double) c->text_bytes / (double) c->chunks : GUESSED_BYTES_PER_CHUNK;
  return (guint64) ((double) (target_chunks - c->chunks) * per_chunk * FILL_MARGIN) + 1;
}

/* ---- filling a session to a size ---- */

gboolean
corpus_fill (Corpus *c, guint64 chunks_goal, gsize document_bytes, FillResult *out, GError **error)
{
  while (c->chunks < chunks_goal) {
    IngestResult step = { 0 };
    guint64 more = text_for_chunks (c, chunks_goal);
    progress ("filling the session: %" G_GUINT64_FORMAT
              " chunks, %.1f MB more text to reach %" G_GUINT64_FORMAT,
              c->chunks, more / 1e6, chunks_goal);
    gboolean ok = measure_ingest (c, more, document_bytes, &step, error);
    out->fills++;
    out->documents += step.documents;
    out->bytes += step.bytes;
    out->seconds += step.seconds;
    ingest_result_clear (&step);
    if (!ok)
      return FALSE;
  }
  out->chunks = c->chunks;
  progress ("%" G_GUINT64_FORMAT " chunks: waiting for the vector graph to take them all",
            c->chunks);
  return wait_graph_ready (c->d, &out->graph_backlog_s, error);
}

void
add_fill (Json *json, const char *name, FillResult *f)
{
  json_begin_object (json, name);
  add_int (json, "fills", f->fills);
  add_int (json, "documents", f->documents);
  add_int (json, "text_bytes", (gint64) f->bytes);
  add_number (json, "seconds", f->seconds);
  add_number (json, "mb_per_second", f->seconds > 0 ? f->bytes / 1e6 / f->seconds : 0);
  add_int (json, "session_chunks", (gint64) f->chunks);
  add_number (json, "graph_backlog_after_fill_s", f->graph_backlog_s);
  json_end_object (json);
}

/* ---- search ---- */

gboolean
search (sd_bus *bus, const char *session_path, const char *text, gint64 timeout_us, double *ms,
        guint *hits, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  int r;

  if (!new_call (bus, session_path, QUERY_INTERFACE, "Search", &m, error))
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

gboolean
ping (sd_bus *bus, double *ms, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  return new_call (bus, BUS_PATH, "org.freedesktop.DBus.Peer", "Ping", &m, error)
         && call (m, CALL_TIMEOUT_US, &reply, ms, error);
}

/* A figure of GetHealth's index component: "waiting" (vectors not in a graph yet),
 * "memory_bytes" (what the daemon counts for its graphs). */
gboolean
read_index_figure (BenchDaemon *d, const char *name, guint64 *value, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  double ms;
  const char *status, *component, *key;
  int r;

  if (!new_call (d->client, BUS_PATH, BUS_NAME, "GetHealth", &m, error)
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
gboolean
wait_graph_ready (BenchDaemon *d, double *seconds, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  for (;;) {
    guint64 waiting = 0;
    if (!check_interrupted (error) || !read_index_figure (d, "waiting", &waiting, error))
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

/* ---- the report ---- */

gboolean
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
