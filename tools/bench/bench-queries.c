/* Queries benchmark: Ask, AskAndWait and Search, alone and crowded; time to first token; JSON. */
#define _GNU_SOURCE /* pipe2 */

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <math.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench-common.h"
#include "bench-corpus.h"

#define READY_TIMEOUT_US (60 * G_USEC_PER_SEC)
#define STOP_TIMEOUT_US  (120 * G_USEC_PER_SEC) /* a stop saves the vector index */
/* The whole crowd phase; a daemon that stops answering ends the run here. */
#define CROWD_TIMEOUT_US (30 * 60 * G_USEC_PER_SEC)

#define WARMUP_QUESTIONS 20
/* Each asker's first questions are not counted: they include the daemon learning who the
 * new connection is, and all askers starting in the same instant. */
#define WARMUP_ROUNDS 2
/* The crowd's own Ping connection waits this long after each answer, so that it samples the
 * bus without adding a busy caller of its own. */
#define CROWD_PING_INTERVAL_US (10 * 1000)
/* Tries per answerable question to find a chunk with a sentence of enough content words. */
#define CHUNK_TRIES    100
#define QUESTION_WORDS 3

/* The targets. */
#define TARGET_ASK_P95_MS    50.0
#define TARGET_ASK_AT_CHUNKS 100000
#define TARGET_CROWD_ASKERS  50
#define TARGET_CROWD_FACTOR  2.0
/* "Concurrent askers" are people: each reads an answer before the next question. Asked
 * back to back, 50 connections keep both cores busy and wait for each other (reported too,
 * as the daemon's capacity); no daemon keeps their p95 within 2x of one asker's. */
#define TARGET_CROWD_THINK_MS       5000
#define TARGET_TTFT_OVERHEAD_P95_MS 5.0

#define BUSY_ERROR "org.smartrag.Error.Busy"

/* The fake Ollama of phase 4: how it is started and how it answers. Its delays stand for a
 * model's prefill and decoding; what counts is what the daemon adds to them. */
#define FAKE_START_TIMEOUT_US  (10 * G_USEC_PER_SEC)
#define FAKE_STOP_TIMEOUT_US   (5 * G_USEC_PER_SEC)
#define FAKE_HTTP_TIMEOUT_S    60
#define FAKE_MODEL             "llama3.2"
#define FAKE_FIRST_TOKEN_DELAY 0.020 /* seconds */
#define FAKE_TOKEN_DELAY       0.010
/* Phase 4's session: one document, so that retrieval takes little of the time measured. */
#define TTFT_DOCUMENT_BYTES 200000

static const char *const fake_tokens[] = {
  "The", " answer", " is", " in", " the", " sources", " [1].",
};

/* One uid asks every question, so the per-user limit must not refuse the crowd. The builtin
 * generator is named, not left to "auto", so that no model server of this machine takes
 * part; every other key keeps its default (builtin embedder, max_generations=2). */
static const char daemon_config[] = "[query]\n"
                                    "max_queries_per_user=0\n"
                                    "[generation]\n"
                                    "backend=builtin\n";
/* Phase 4: the same, answered by the fake Ollama on this port. */
static const char fake_config_template[] = "[query]\n"
                                           "max_queries_per_user=0\n"
                                           "[generation]\n"
                                           "backend=ollama\n"
                                           "ollama_url=http://127.0.0.1:%u\n"
                                           "ollama_model=" FAKE_MODEL "\n";

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

typedef struct {
  BenchDaemon d;

  /* parameters */
  char *build_type;
  char *tmp_parent;
  gint64 chunks_goal;
  int fill_document_kb;
  int questions;
  int answerable;
  int askers;
  int rounds;
  int think_ms;
  int ttft_questions;
  char *python;
  char *fake_ollama;
  int seed;
  gboolean keep;

  /* resources, all released by bench_cleanup */
  char *state_dir;
  Corpus corpus;
} Bench;

/* ---- answers ---- */

typedef struct {
  double ttft_ms; /* as the daemon counts them, from the question's arrival */
  double total_ms;
  guint32 answer_tokens;
} AnswerStats;

typedef struct {
  guint sources;
  gboolean cited; /* the answer cites a source, as an answer from the documents does */
  AnswerStats stats;
} Answer;

static gboolean
cites_a_source (const char *answer)
{
  for (const char *p = strchr (answer, '['); p != NULL; p = strchr (p + 1, '['))
    if (g_ascii_isdigit (p[1]))
      return TRUE;
  return FALSE;
}

/* The a{sv} of Finished and of AskAndWait's reply. */
static gboolean
read_stats (sd_bus_message *m, AnswerStats *out, GError **error)
{
  const char *key;
  int r = sd_bus_message_enter_container (m, 'a', "{sv}");
  while (r >= 0 && (r = sd_bus_message_enter_container (m, 'e', "sv")) > 0) {
    if ((r = sd_bus_message_read (m, "s", &key)) < 0)
      break;
    if (g_str_equal (key, "ttft_ms"))
      r = sd_bus_message_read (m, "v", "d", &out->ttft_ms);
    else if (g_str_equal (key, "total_ms"))
      r = sd_bus_message_read (m, "v", "d", &out->total_ms);
    else if (g_str_equal (key, "answer_tokens"))
      r = sd_bus_message_read (m, "v", "u", &out->answer_tokens);
    else
      r = sd_bus_message_skip (m, "v");
    if (r >= 0)
      r = sd_bus_message_exit_container (m);
  }
  if (r >= 0)
    r = sd_bus_message_exit_container (m);
  if (r < 0)
    return fail (error, "unexpected answer statistics: %s", g_strerror (-r));
  return TRUE;
}

/* AskAndWait's reply: the answer, its sources and its statistics. */
static gboolean
read_answer (sd_bus_message *reply, Answer *out, GError **error)
{
  const char *text;
  int r;

  if ((r = sd_bus_message_read (reply, "s", &text)) < 0
      || (r = sd_bus_message_enter_container (reply, 'a', "a{sv}")) < 0)
    return fail (error, "AskAndWait: unexpected reply: %s", g_strerror (-r));
  out->sources = 0;
  while ((r = sd_bus_message_skip (reply, "a{sv}")) > 0)
    out->sources++;
  if (r < 0 || (r = sd_bus_message_exit_container (reply)) < 0)
    return fail (error, "AskAndWait: unexpected sources: %s", g_strerror (-r));
  if (*text == '\0')
    return fail (error, "AskAndWait returned an empty answer");
  out->cited = cites_a_source (text);
  return read_stats (reply, &out->stats, error);
}

static gboolean
new_question (sd_bus *bus, const char *session_path, const char *member, const char *question,
              sd_bus_message **m, GError **error)
{
  if (!new_call (bus, session_path, QUERY_INTERFACE, member, m, error))
    return FALSE;
  /* No options: k, history and the backend as a client that names none gets them. */
  int r = sd_bus_message_append (*m, "sa{sv}", question, 0);
  if (r < 0)
    return fail (error, "cannot build %s: %s", member, g_strerror (-r));
  return TRUE;
}

static gboolean
ask_and_wait (Bench *b, const char *question, double *ms, Answer *answer, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  return new_question (b->d.client, b->corpus.session_path, "AskAndWait", question, &m, error)
         && call (m, CALL_TIMEOUT_US, &reply, ms, error) && read_answer (reply, answer, error);
}

/* ---- Ask and its signals ---- */

/* The answer to one Ask, as its signals arrive on the asking connection. */
typedef struct {
  char *query_id; /* NULL until Ask returned it */
  gint64 first_token_ns;
  gint64 finished_ns;
  guint tokens;
  GString *answer;
  AnswerStats stats;
  gboolean done;
  GError *error;
} Stream;

static void
stream_reset (Stream *s)
{
  g_clear_pointer (&s->query_id, g_free);
  g_clear_error (&s->error);
  g_string_truncate (s->answer, 0);
  s->first_token_ns = s->finished_ns = 0;
  s->tokens = 0;
  s->done = FALSE;
  s->stats = (AnswerStats){ 0 };
}

static void
stream_clear (Stream *s)
{
  g_clear_pointer (&s->query_id, g_free);
  g_clear_error (&s->error);
  if (s->answer != NULL)
    g_string_free (g_steal_pointer (&s->answer), TRUE);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Stream, stream_clear)

static void
stream_end (Stream *s, gint64 now, GError *error)
{
  s->finished_ns = now;
  s->done = TRUE;
  if (error != NULL && s->error == NULL)
    s->error = error;
  else if (error != NULL)
    g_error_free (error);
}

static int
on_query_signal (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Stream *s = userdata;
  gint64 now = now_ns ();
  const char *member = sd_bus_message_get_member (m);
  const char *id, *text, *name, *message;
  GError *error = NULL;

  if (sd_bus_message_read (m, "s", &id) < 0 || s->query_id == NULL || s->done
      || !g_str_equal (id, s->query_id))
    return 0;
  if (g_str_equal (member, "Token")) {
    if (sd_bus_message_read (m, "s", &text) < 0) {
      stream_end (s, now, g_error_new_literal (bench_error_quark (), 0, "Token: bad arguments"));
      return 0;
    }
    if (s->tokens++ == 0)
      s->first_token_ns = now;
    g_string_append (s->answer, text);
  } else if (g_str_equal (member, "Finished")) {
    read_stats (m, &s->stats, &error);
    stream_end (s, now, error);
  } else if (g_str_equal (member, "Failed")) {
    if (sd_bus_message_read (m, "ss", &name, &message) < 0)
      name = message = "(unreadable)";
    stream_end (s, now, g_error_new (bench_error_quark (), 0, "Ask failed: %s: %s", name, message));
  }
  return 0;
}

/* Dispatches the asking connection until the stream's Finished or Failed. */
static gboolean
wait_stream (sd_bus *bus, Stream *s, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + CALL_TIMEOUT_US;
  while (!s->done) {
    if (!check_interrupted (error))
      return FALSE;
    gint64 left = deadline - g_get_monotonic_time ();
    if (left <= 0)
      return fail (error, "query %s did not end within %d s", s->query_id,
                   (int) (CALL_TIMEOUT_US / G_USEC_PER_SEC));
    int r = sd_bus_process (bus, NULL);
    if (r < 0)
      return fail (error, "the bus connection failed: %s", g_strerror (-r));
    if (r == 0 && (r = sd_bus_wait (bus, (guint64) left)) < 0 && r != -EINTR)
      return fail (error, "waiting on the bus failed: %s", g_strerror (-r));
  }
  if (s->error != NULL) {
    g_propagate_error (error, g_steal_pointer (&s->error));
    return FALSE;
  }
  if (s->tokens == 0)
    return fail (error, "query %s finished without a Token", s->query_id);
  return TRUE;
}

typedef struct {
  double reply_ms;       /* Ask's own reply */
  double first_token_ms; /* from sending Ask to the first Token */
  double finished_ms;    /* to Finished */
  gboolean cited;
  AnswerStats stats;
} Streamed;

/* Asks, and times the reply, the first Token and Finished from the moment Ask was sent. */
static gboolean
ask_streamed (Bench *b, const char *session_path, Stream *s, const char *question, Streamed *out,
              GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  const char *id;

  stream_reset (s);
  if (!new_question (b->d.client, session_path, "Ask", question, &m, error))
    return FALSE;
  gint64 start = now_ns ();
  if (!call (m, CALL_TIMEOUT_US, &reply, &out->reply_ms, error))
    return FALSE;
  int r = sd_bus_message_read (reply, "s", &id);
  if (r < 0)
    return fail (error, "Ask: unexpected reply: %s", g_strerror (-r));
  s->query_id = g_strdup (id);
  if (!wait_stream (b->d.client, s, error))
    return FALSE;
  out->first_token_ms = (double) (s->first_token_ns - start) / 1e6;
  out->finished_ms = (double) (s->finished_ns - start) / 1e6;
  out->cited = cites_a_source (s->answer->str);
  out->stats = s->stats;
  return TRUE;
}

/* ---- questions ---- */

/* The words of a chunk that are not function words, lower case, sentence by sentence. */
static char *
question_from_sentence (const char *sentence, GRand *rand)
{
  g_autoptr (GPtrArray) words = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) parts = g_strsplit_set (sentence, " ,.\n", -1);
  for (guint i = 0; parts[i] != NULL; i++) {
    char *word = g_ascii_strdown (parts[i], -1);
    if (*word == '\0' || is_function_word (word)) {
      g_free (word);
      continue;
    }
    g_ptr_array_add (words, word);
  }
  if (words->len < QUESTION_WORDS)
    return NULL;
  /* Three neighbouring words, as someone who read the sentence would recall them. */
  guint first = (guint) g_rand_int_range (rand, 0, (gint32) (words->len - QUESTION_WORDS + 1));
  return g_strdup_printf ("what is said of %s, %s and %s", (char *) words->pdata[first],
                          (char *) words->pdata[first + 1], (char *) words->pdata[first + 2]);
}

static char *
question_from_chunk (const char *text, GRand *rand)
{
  g_auto (GStrv) sentences = g_strsplit (text, ". ", -1);
  guint n = g_strv_length (sentences);
  /* Start at a random sentence and take the first that has enough content words. */
  guint start = n > 0 ? (guint) g_rand_int_range (rand, 0, (gint32) n) : 0;
  for (guint i = 0; i < n; i++) {
    char *question = question_from_sentence (sentences[(start + i) % n], rand);
    if (question != NULL)
      return question;
  }
  return NULL;
}

typedef struct {
  sqlite3 *db;
  sqlite3_stmt *range;
  sqlite3_stmt *chunk;
} ChunkReader;

static void
chunk_reader_clear (ChunkReader *c)
{
  g_clear_pointer (&c->range, sqlite3_finalize);
  g_clear_pointer (&c->chunk, sqlite3_finalize);
  g_clear_pointer (&c->db, sqlite3_close);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ChunkReader, chunk_reader_clear)

static gboolean
chunk_reader_open (Bench *b, ChunkReader *c, GError **error)
{
  g_autofree char *path = g_build_filename (b->state_dir, DATABASE_FILENAME, NULL);
  int rc = sqlite3_open_v2 (path, &c->db, SQLITE_OPEN_READONLY, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (c->db, "SELECT min(id), max(id) FROM chunks WHERE session_id = ?1", -1,
                             &c->range, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (
        c->db, "SELECT text FROM chunks WHERE session_id = ?1 AND id >= ?2 ORDER BY id LIMIT 1", -1,
        &c->chunk, NULL);
  if (rc != SQLITE_OK)
    return fail (error, "cannot read the chunks in %s: %s", path,
                 c->db ? sqlite3_errmsg (c->db) : sqlite3_errstr (rc));
  return TRUE;
}

/* The text of a chunk of the session picked at random (by id, which the daemon hands out
 * rising, so every chunk is about as likely). */
static char *
random_chunk (Bench *b, ChunkReader *c, GRand *rand, GError **error)
{
  sqlite3_reset (c->range);
  sqlite3_bind_text (c->range, 1, b->corpus.session_id, -1, SQLITE_STATIC);
  if (sqlite3_step (c->range) != SQLITE_ROW || sqlite3_column_type (c->range, 0) == SQLITE_NULL) {
    fail (error, "the session has no chunks to ask about: %s", sqlite3_errmsg (c->db));
    return NULL;
  }
  gint64 low = sqlite3_column_int64 (c->range, 0), high = sqlite3_column_int64 (c->range, 1);
  gint64 id = low + (gint64) (g_rand_double (rand) * (double) (high - low + 1));

  sqlite3_reset (c->chunk);
  sqlite3_bind_text (c->chunk, 1, b->corpus.session_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (c->chunk, 2, MIN (id, high));
  if (sqlite3_step (c->chunk) != SQLITE_ROW) {
    fail (error, "cannot read a chunk: %s", sqlite3_errmsg (c->db));
    return NULL;
  }
  return g_strdup ((const char *) sqlite3_column_text (c->chunk, 0));
}

/* Questions made of three neighbouring words of a sentence of a random chunk: the builtin
 * generator finds that sentence among the sources and answers with it. */
static GPtrArray *
answerable_questions (Bench *b, guint n, GError **error)
{
  g_auto (ChunkReader) reader = { 0 };
  g_autoptr (GPtrArray) questions = g_ptr_array_new_with_free_func (g_free);
  /* A generator of its own, so that these questions depend on the seed alone. */
  g_autoptr (GRand) rand = g_rand_new_with_seed ((guint32) b->seed);

  if (!chunk_reader_open (b, &reader, error))
    return NULL;
  for (guint tries = 0; questions->len < n; tries++) {
    if (tries >= n * CHUNK_TRIES) {
      fail (error, "found only %u chunks with a sentence of %d content words", questions->len,
            QUESTION_WORDS);
      return NULL;
    }
    g_autofree char *text = random_chunk (b, &reader, rand, error);
    if (text == NULL)
      return NULL;
    char *question = question_from_chunk (text, rand);
    if (question != NULL)
      g_ptr_array_add (questions, question);
  }
  return g_steal_pointer (&questions);
}

static GPtrArray *
generated_questions (Corpus *c, guint n)
{
  GPtrArray *questions = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (questions, generate_question (c));
  return questions;
}

/* ---- CPU time ---- */

/* CPU time of the daemon, the bus and the benchmark at one moment: over a phase, it says
 * which of them was busy, and whether the daemon used more than one core. */
typedef struct {
  gint64 ns;
  double daemon_s;
  double bus_s;
  double self_s;
} CpuMark;

static void
cpu_mark (Bench *b, CpuMark *mark)
{
  mark->ns = now_ns ();
  mark->daemon_s = process_cpu_seconds (b->d.daemon_pid);
  mark->bus_s = process_cpu_seconds (b->d.bus_pid);
  mark->self_s = process_cpu_seconds (getpid ());
}

static void
add_cpu (Json *json, const CpuMark *start, const CpuMark *end)
{
  double seconds = MAX ((double) (end->ns - start->ns) / 1e9, 1e-9);
  json_begin_object (json, "cpu_percent_of_one_core");
  add_number (json, "smartragd", 100.0 * (end->daemon_s - start->daemon_s) / seconds);
  add_number (json, "dbus_daemon", 100.0 * (end->bus_s - start->bus_s) / seconds);
  add_number (json, "benchmark", 100.0 * (end->self_s - start->self_s) / seconds);
  json_end_object (json);
}

/* ---- one asker ---- */

typedef enum {
  RUN_ASK_AND_WAIT,
  RUN_ASK,
  RUN_SEARCH,
  RUN_PING,
  N_RUNS,
} RunKind;

typedef enum {
  SERIES_ASK_AND_WAIT,
  SERIES_ASK_REPLY,
  SERIES_ASK_FIRST_TOKEN,
  SERIES_ASK_FINISHED,
  SERIES_DAEMON_TTFT,
  SERIES_DAEMON_TOTAL,
  SERIES_SEARCH,
  SERIES_PING,
  N_SERIES,
} Series;

/* What one set of questions measured, each series in milliseconds. */
typedef struct {
  GArray *ms[N_SERIES];
  guint cited_waited;   /* AskAndWait answers that cite a source */
  guint cited_streamed; /* the same for Ask */
  guint64 sources;      /* of AskAndWait */
  guint64 answer_tokens;
  guint64 search_hits;
  guint searches_without_hits;
} SetResult;

static void
set_result_init (SetResult *s)
{
  for (int k = 0; k < N_SERIES; k++)
    s->ms[k] = g_array_new (FALSE, FALSE, sizeof (double));
}

static void
set_result_clear (SetResult *s)
{
  for (int k = 0; k < N_SERIES; k++)
    g_clear_pointer (&s->ms[k], g_array_unref);
}

static void
record (SetResult *out, Series series, double ms)
{
  if (out != NULL)
    g_array_append_val (out->ms[series], ms);
}

static gboolean
run_ask_and_wait (Bench *b, const char *question, SetResult *out, GError **error)
{
  double ms;
  Answer answer = { 0 };
  if (!ask_and_wait (b, question, &ms, &answer, error))
    return FALSE;
  record (out, SERIES_ASK_AND_WAIT, ms);
  if (out != NULL) {
    out->cited_waited += answer.cited;
    out->sources += answer.sources;
    out->answer_tokens += answer.stats.answer_tokens;
  }
  return TRUE;
}

static gboolean
run_ask (Bench *b, Stream *stream, const char *question, SetResult *out, GError **error)
{
  Streamed streamed = { 0 };
  if (!ask_streamed (b, b->corpus.session_path, stream, question, &streamed, error))
    return FALSE;
  record (out, SERIES_ASK_REPLY, streamed.reply_ms);
  record (out, SERIES_ASK_FIRST_TOKEN, streamed.first_token_ms);
  record (out, SERIES_ASK_FINISHED, streamed.finished_ms);
  record (out, SERIES_DAEMON_TTFT, streamed.stats.ttft_ms);
  record (out, SERIES_DAEMON_TOTAL, streamed.stats.total_ms);
  if (out != NULL)
    out->cited_streamed += streamed.cited;
  return TRUE;
}

static gboolean
run_search (Bench *b, const char *question, SetResult *out, GError **error)
{
  double ms;
  guint hits;
  if (!search (b->d.client, b->corpus.session_path, question, CALL_TIMEOUT_US, &ms, &hits, error))
    return FALSE;
  record (out, SERIES_SEARCH, ms);
  if (out != NULL) {
    out->search_hits += hits;
    out->searches_without_hits += hits == 0;
  }
  return TRUE;
}

/* One question one way; @out NULL for a warm-up round. */
static gboolean
run_one (Bench *b, Stream *stream, RunKind kind, const char *question, SetResult *out,
         GError **error)
{
  double ms;
  switch (kind) {
  case RUN_ASK_AND_WAIT:
    return run_ask_and_wait (b, question, out, error);
  case RUN_ASK:
    return run_ask (b, stream, question, out, error);
  case RUN_SEARCH:
    return run_search (b, question, out, error);
  case RUN_PING:
    if (!ping (b->d.client, &ms, error))
      return FALSE;
    record (out, SERIES_PING, ms);
    return TRUE;
  case N_RUNS:
    break;
  }
  g_assert_not_reached ();
}

/* AskAndWait, Ask, Search and Ping take turns in rotating order for each question, so that
 * all four see the same machine at the same moment. */
static gboolean
measure_set (Bench *b, Stream *stream, GPtrArray *questions, SetResult *out, GError **error)
{
  for (guint i = 0; i < MIN (WARMUP_QUESTIONS, questions->len); i++)
    for (int k = 0; k < N_RUNS; k++)
      if (!run_one (b, stream, k, questions->pdata[i], NULL, error))
        return FALSE;
  for (guint i = 0; i < questions->len; i++) {
    if (!check_interrupted (error))
      return FALSE;
    for (int j = 0; j < N_RUNS; j++)
      if (!run_one (b, stream, (i + j) % N_RUNS, questions->pdata[i], out, error))
        return FALSE;
  }
  return TRUE;
}

/* Ask's signals are unicast to the asking connection; the match rule lets sd-bus hand them
 * to the stream rather than drop them. */
static gboolean
measure_single (Bench *b, GPtrArray *generated, GPtrArray *answerable, SetResult *out_generated,
                SetResult *out_answerable, CpuMark cpu[2], GError **error)
{
  g_auto (Stream) stream = { .answer = g_string_new (NULL) };
  sd_bus_slot *slot = NULL;
  int r = sd_bus_match_signal (b->d.client, &slot, NULL, b->corpus.session_path, QUERY_INTERFACE,
                               NULL, on_query_signal, &stream);
  if (r < 0)
    return fail (error, "cannot listen to the Query signals: %s", g_strerror (-r));
  progress ("one asker: %u generated and %u answerable questions, four ways each", generated->len,
            answerable->len);
  cpu_mark (b, &cpu[0]);
  gboolean ok = measure_set (b, &stream, generated, out_generated, error)
                && measure_set (b, &stream, answerable, out_answerable, error);
  cpu_mark (b, &cpu[1]);
  sd_bus_slot_unref (slot);
  return ok;
}

/* ---- many askers ---- */

typedef struct Crowd Crowd;

/* One client connection that asks in a loop: the next question once the last is answered
 * and, in a paced crowd, read (a think time). */
typedef struct {
  Crowd *crowd;
  sd_bus *bus;
  guint index;
  guint asked; /* questions answered so far, warm-up included */
  gint64 sent_ns;
  gint64 next_ns; /* while thinking: when it asks next; 0 while asking or done */
} Asker;

/* A connection of its own that pings now and then while the crowd asks. */
typedef struct {
  sd_bus *bus;
  gboolean in_flight;
  gint64 sent_ns;
  gint64 next_ns;
} Pinger;

struct Crowd {
  const char *session_path;
  GPtrArray *questions;
  guint rounds;    /* counted questions per asker, after WARMUP_ROUNDS */
  double think_ms; /* mean think time; 0 asks again at once */
  GRand *rand;
  Asker *askers;
  guint n_askers;
  guint done; /* askers that asked all their questions */
  guint answered;
  gint64 start_ns;
  gint64 end_ns;
  GArray *ms;
  GArray *ping_ms;
  guint cited;
  Pinger pinger;
  GError *error; /* the first failure */
};

static void crowd_fail (Crowd *c, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
crowd_fail (Crowd *c, const char *format, ...)
{
  if (c->error != NULL)
    return;
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  c->error = g_error_new_literal (bench_error_quark (), 0, message);
}

static int on_crowd_answer (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error);

/* People read an answer before they ask again, each for as long as it takes them: think
 * times drawn from an exponential distribution make the questions of many askers arrive
 * as independent events do (a Poisson stream). */
static gint64
think_ns (Crowd *c)
{
  double u = g_rand_double (c->rand); /* [0, 1) */
  return (gint64) (-log (1.0 - u) * c->think_ms * 1e6);
}

static gboolean
send_question (Asker *a, GError **error)
{
  Crowd *c = a->crowd;
  g_autoptr (sd_bus_message) m = NULL;
  /* Each asker walks the questions from its own place, so that the askers ask different
   * questions at any one time. */
  guint i = (a->index * c->rounds + a->asked) % c->questions->len;
  if (!new_question (a->bus, c->session_path, "AskAndWait", c->questions->pdata[i], &m, error))
    return FALSE;
  a->sent_ns = now_ns ();
  a->next_ns = 0;
  /* A floating slot: the connection frees it with the reply. */
  int r = sd_bus_call_async (a->bus, NULL, m, on_crowd_answer, a, CALL_TIMEOUT_US);
  if (r < 0)
    return fail (error, "cannot send AskAndWait: %s", g_strerror (-r));
  return TRUE;
}

static int
on_crowd_answer (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Asker *a = userdata;
  Crowd *c = a->crowd;
  gint64 now = now_ns ();
  const sd_bus_error *e = sd_bus_message_get_error (reply);
  g_autoptr (GError) error = NULL;
  Answer answer = { 0 };

  if (e != NULL && sd_bus_error_has_name (e, BUSY_ERROR)) {
    crowd_fail (c, "asker %u was refused with %s (%s): a refused question fails the run",
                a->index + 1, e->name, e->message ? e->message : "");
    return 0;
  }
  if (e != NULL) {
    crowd_fail (c, "asker %u: AskAndWait failed: %s", a->index + 1,
                e->message ? e->message : e->name);
    return 0;
  }
  if (!read_answer (reply, &answer, &error)) {
    crowd_fail (c, "asker %u: %s", a->index + 1, error->message);
    return 0;
  }
  c->answered++;
  c->end_ns = now;
  if (a->asked++ >= WARMUP_ROUNDS) {
    double ms = (double) (now - a->sent_ns) / 1e6;
    g_array_append_val (c->ms, ms);
    c->cited += answer.cited;
  }
  if (a->asked >= WARMUP_ROUNDS + c->rounds)
    c->done++;
  else if (c->think_ms > 0)
    a->next_ns = now + think_ns (c);
  else if (!send_question (a, &error))
    crowd_fail (c, "asker %u: %s", a->index + 1, error->message);
  return 0;
}

static int
on_crowd_ping (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Crowd *c = userdata;
  gint64 now = now_ns ();
  const sd_bus_error *e = sd_bus_message_get_error (reply);
  if (e != NULL) {
    crowd_fail (c, "Ping failed: %s", e->message ? e->message : e->name);
    return 0;
  }
  double ms = (double) (now - c->pinger.sent_ns) / 1e6;
  g_array_append_val (c->ping_ms, ms);
  c->pinger.in_flight = FALSE;
  c->pinger.next_ns = now + (gint64) CROWD_PING_INTERVAL_US * 1000;
  return 0;
}

static gboolean
send_ping (Crowd *c, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  if (!new_call (c->pinger.bus, BUS_PATH, "org.freedesktop.DBus.Peer", "Ping", &m, error))
    return FALSE;
  c->pinger.sent_ns = now_ns ();
  int r = sd_bus_call_async (c->pinger.bus, NULL, m, on_crowd_ping, c, CALL_TIMEOUT_US);
  if (r < 0)
    return fail (error, "cannot send Ping: %s", g_strerror (-r));
  c->pinger.in_flight = TRUE;
  return TRUE;
}

/* Runs the connection's callbacks until it has nothing more to dispatch. */
static gboolean
drain (sd_bus *bus, GError **error)
{
  int r;
  while ((r = sd_bus_process (bus, NULL)) > 0)
    ;
  if (r < 0)
    return fail (error, "a bus connection failed: %s", g_strerror (-r));
  return TRUE;
}

static gboolean
poll_entry (sd_bus *bus, struct pollfd *p, GError **error)
{
  int fd = sd_bus_get_fd (bus);
  int events = sd_bus_get_events (bus);
  if (fd < 0 || events < 0)
    return fail (error, "a bus connection failed: %s", g_strerror (-(fd < 0 ? fd : events)));
  *p = (struct pollfd){ .fd = fd, .events = (short) events };
  return TRUE;
}

/* Sends the questions of the askers whose think time is over; @wake_ns becomes the
 * earliest time another one is due, if that is sooner. */
static gboolean
send_due_questions (Crowd *c, gint64 now, gint64 *wake_ns, GError **error)
{
  for (guint i = 0; i < c->n_askers; i++) {
    Asker *a = &c->askers[i];
    if (a->next_ns == 0)
      continue;
    if (a->next_ns > now) {
      *wake_ns = MIN (*wake_ns, a->next_ns);
      continue;
    }
    if (!send_question (a, error))
      return FALSE;
  }
  return TRUE;
}

/* One thread serves every connection: it sleeps in poll() until any has something. */
static gboolean
crowd_loop (Crowd *c, GError **error)
{
  guint n = c->n_askers;
  g_autofree struct pollfd *fds = g_new0 (struct pollfd, n + 1);
  gint64 deadline = g_get_monotonic_time () + CROWD_TIMEOUT_US;

  while (c->done < n) {
    if (!check_interrupted (error))
      return FALSE;
    if (c->error != NULL) {
      g_propagate_error (error, g_steal_pointer (&c->error));
      return FALSE;
    }
    if (g_get_monotonic_time () >= deadline)
      return fail (error, "%u of %u askers were done after %d minutes", c->done, n,
                   (int) (CROWD_TIMEOUT_US / G_USEC_PER_SEC / 60));
    gint64 now = now_ns ();
    if (!c->pinger.in_flight && now >= c->pinger.next_ns && !send_ping (c, error))
      return FALSE;
    gint64 wake_ns = c->pinger.in_flight ? G_MAXINT64 : c->pinger.next_ns;
    if (!send_due_questions (c, now, &wake_ns, error))
      return FALSE;
    for (guint i = 0; i < n; i++)
      if (!poll_entry (c->askers[i].bus, &fds[i], error))
        return FALSE;
    if (!poll_entry (c->pinger.bus, &fds[n], error))
      return FALSE;
    int wait_ms = 100;
    if (wake_ns != G_MAXINT64)
      wait_ms = (int) CLAMP ((wake_ns - now) / 1000000 + 1, 0, wait_ms);
    if (poll (fds, n + 1, wait_ms) < 0 && errno != EINTR)
      return fail (error, "poll: %s", g_strerror (errno));
    for (guint i = 0; i <= n; i++)
      if (fds[i].revents != 0 && !drain (i < n ? c->askers[i].bus : c->pinger.bus, error))
        return FALSE;
  }
  return TRUE;
}

typedef struct {
  guint askers;
  double think_ms;
  guint answered; /* warm-up included */
  double seconds; /* from the first question sent to the last answer */
  GArray *ms;     /* counted AskAndWait calls */
  GArray *ping_ms;
  guint cited;
  CpuMark cpu[2]; /* from the first question sent to the last answer */
} CrowdResult;

static void
crowd_result_clear (CrowdResult *r)
{
  g_clear_pointer (&r->ms, g_array_unref);
  g_clear_pointer (&r->ping_ms, g_array_unref);
}

static void
crowd_clear (Crowd *c)
{
  for (guint i = 0; c->askers != NULL && i < c->n_askers; i++)
    g_clear_pointer (&c->askers[i].bus, sd_bus_flush_close_unref);
  g_clear_pointer (&c->askers, g_free);
  g_clear_pointer (&c->pinger.bus, sd_bus_flush_close_unref);
  g_clear_pointer (&c->ms, g_array_unref);
  g_clear_pointer (&c->ping_ms, g_array_unref);
  g_clear_pointer (&c->rand, g_rand_free);
  g_clear_error (&c->error);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Crowd, crowd_clear)

/* --askers connections, each asking AskAndWait in a loop with a mean think time of
 * @think_ms between an answer and its next question (0: none), all served by this thread. */
static gboolean
measure_crowd (Bench *b, GPtrArray *questions, double think_ms, CrowdResult *out, GError **error)
{
  g_auto (Crowd) c = {
    .session_path = b->corpus.session_path,
    .questions = questions,
    .rounds = (guint) b->rounds,
    .think_ms = think_ms,
    .rand = g_rand_new_with_seed ((guint32) b->seed),
    .n_askers = (guint) b->askers,
    .askers = g_new0 (Asker, b->askers),
    .ms = g_array_new (FALSE, FALSE, sizeof (double)),
    .ping_ms = g_array_new (FALSE, FALSE, sizeof (double)),
  };

  progress ("%d askers on connections of their own, %d questions each after %d warm-up rounds, "
            "%.0f ms to think between an answer and the next question",
            b->askers, b->rounds, WARMUP_ROUNDS, think_ms);
  for (guint i = 0; i < c.n_askers; i++) {
    c.askers[i] = (Asker){ .crowd = &c, .index = i };
    if (!connect_bus (b->d.bus_address, &c.askers[i].bus, error))
      return FALSE;
  }
  if (!connect_bus (b->d.bus_address, &c.pinger.bus, error))
    return FALSE;
  cpu_mark (b, &out->cpu[0]);
  c.start_ns = now_ns ();
  /* Paced askers arrive spread over one think time, as people who did not agree on when. */
  for (guint i = 0; i < c.n_askers; i++)
    if (think_ms > 0)
      c.askers[i].next_ns = c.start_ns + 1 + (gint64) (g_rand_double (c.rand) * think_ms * 1e6);
    else if (!send_question (&c.askers[i], error))
      return FALSE;
  if (!crowd_loop (&c, error))
    return FALSE;
  cpu_mark (b, &out->cpu[1]);
  if (c.ping_ms->len == 0)
    return fail (error, "no Ping was answered while the crowd asked");

  out->askers = c.n_askers;
  out->think_ms = think_ms;
  out->answered = c.answered;
  out->seconds = (double) (c.end_ns - c.start_ns) / 1e9;
  out->ms = g_steal_pointer (&c.ms);
  out->ping_ms = g_steal_pointer (&c.ping_ms);
  out->cited = c.cited;
  return TRUE;
}

/* ---- time to first token over a model server ---- */

/* The fake Ollama of the tests, run by the benchmark: a Python process and an HTTP client
 * of the benchmark's own, which asks it directly as the daemon does. */
typedef struct {
  GPid pid;
  int out_fd; /* its stdout and stderr, kept open so that it never writes to a closed pipe */
  guint port;
  SoupSession *session;
} Fake;

static void
fake_clear (Fake *f)
{
  int status;
  if (f->pid > 0)
    terminate (f->pid, FAKE_STOP_TIMEOUT_US, &status);
  f->pid = 0;
  if (f->out_fd >= 0)
    close (f->out_fd);
  f->out_fd = -1;
  g_clear_object (&f->session);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Fake, fake_clear)

static char *
fake_url (Fake *f, const char *path)
{
  return g_strdup_printf ("http://127.0.0.1:%u%s", f->port, path);
}

static SoupMessage *
fake_message (Fake *f, const char *path, JsonBuilder *body)
{
  g_autofree char *url = fake_url (f, path);
  g_autoptr (JsonNode) root = json_builder_get_root (body);
  g_autofree char *text = json_to_string (root, FALSE);
  g_autoptr (GBytes) bytes = g_bytes_new_take (g_steal_pointer (&text), strlen (text));
  SoupMessage *m = soup_message_new ("POST", url);
  soup_message_set_request_body_from_bytes (m, "application/json", bytes);
  return m;
}

/* Sets the fake's answer and its delays for every chat request from now on. */
static gboolean
fake_control (Fake *f, GError **error)
{
  g_autoptr (JsonBuilder) body = json_builder_new ();
  json_builder_begin_object (body);
  json_builder_set_member_name (body, "tokens");
  json_builder_begin_array (body);
  for (guint i = 0; i < G_N_ELEMENTS (fake_tokens); i++)
    json_builder_add_string_value (body, fake_tokens[i]);
  json_builder_end_array (body);
  json_builder_set_member_name (body, "first_token_delay");
  json_builder_add_double_value (body, FAKE_FIRST_TOKEN_DELAY);
  json_builder_set_member_name (body, "token_delay");
  json_builder_add_double_value (body, FAKE_TOKEN_DELAY);
  json_builder_end_object (body);

  g_autoptr (SoupMessage) m = fake_message (f, "/_control", body);
  g_autoptr (GBytes) reply = soup_session_send_and_read (f->session, m, NULL, error);
  if (reply == NULL)
    return FALSE;
  if (soup_message_get_status (m) != SOUP_STATUS_OK)
    return fail (error, "the fake Ollama refused its settings: HTTP %u",
                 soup_message_get_status (m));
  return TRUE;
}

static gboolean
fake_start (Bench *b, Fake *f, GError **error)
{
  char *argv[] = { b->python, b->fake_ollama, "--port", "0", NULL };
  g_auto (GStrv) env = g_get_environ ();
  g_autoptr (GString) line = g_string_new (NULL);
  int fds[2];
  guint64 port;

  if (pipe2 (fds, O_CLOEXEC) != 0)
    return fail (error, "pipe: %s", g_strerror (errno));
  gboolean ok = spawn (argv, env, fds[1], -1, &f->pid, error);
  close (fds[1]);
  f->out_fd = fds[0];
  if (!ok
      || !read_first_line (f->out_fd, FAKE_START_TIMEOUT_US, "the fake Ollama", "its port", line,
                           error))
    return FALSE;
  if (!g_ascii_string_to_unsigned (line->str, 10, 1, 65535, &port, NULL))
    return fail (error, "the fake Ollama printed '%s', not a port", line->str);
  f->port = (guint) port;
  f->session = soup_session_new_with_options ("timeout", FAKE_HTTP_TIMEOUT_S, NULL);
  return fake_control (f, error);
}

/* One NDJSON line of /api/chat: whether it carries text, and whether it is the last. */
static gboolean
read_chat_line (const char *line, gboolean *content, gboolean *done, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, line, -1, error))
    return FALSE;
  JsonNode *root = json_parser_get_root (parser);
  JsonObject *object = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  if (object == NULL)
    return fail (error, "the fake Ollama sent a line that is not an object: %s", line);
  if (json_object_has_member (object, "error"))
    return fail (error, "the fake Ollama failed: %s",
                 json_object_get_string_member_with_default (object, "error", ""));
  JsonObject *message = json_object_get_object_member (object, "message");
  const char *text
      = message != NULL ? json_object_get_string_member_with_default (message, "content", "") : "";
  *content = *text != '\0';
  *done = json_object_get_boolean_member_with_default (object, "done", FALSE);
  return TRUE;
}

/* POST /api/chat straight to the fake, as the daemon sends it, read to the end: the time to
 * the first line with text is the backend's own time to first token. */
static gboolean
direct_chat (Fake *f, const char *question, double *first_token_ms, GError **error)
{
  g_autoptr (JsonBuilder) body = json_builder_new ();
  json_builder_begin_object (body);
  json_builder_set_member_name (body, "model");
  json_builder_add_string_value (body, FAKE_MODEL);
  json_builder_set_member_name (body, "stream");
  json_builder_add_boolean_value (body, TRUE);
  json_builder_set_member_name (body, "messages");
  json_builder_begin_array (body);
  json_builder_begin_object (body);
  json_builder_set_member_name (body, "role");
  json_builder_add_string_value (body, "user");
  json_builder_set_member_name (body, "content");
  json_builder_add_string_value (body, question);
  json_builder_end_object (body);
  json_builder_end_array (body);
  json_builder_end_object (body);
  g_autoptr (SoupMessage) m = fake_message (f, "/api/chat", body);

  gint64 start = now_ns (), first = 0;
  g_autoptr (GInputStream) stream = soup_session_send (f->session, m, NULL, error);
  if (stream == NULL)
    return FALSE;
  if (soup_message_get_status (m) != SOUP_STATUS_OK)
    return fail (error, "the fake Ollama answered /api/chat with HTTP %u",
                 soup_message_get_status (m));
  g_autoptr (GDataInputStream) lines = g_data_input_stream_new (stream);
  gboolean done = FALSE;
  while (!done) {
    g_autoptr (GError) local = NULL;
    g_autofree char *line = g_data_input_stream_read_line (lines, NULL, NULL, &local);
    gint64 now = now_ns ();
    gboolean content = FALSE;
    if (line == NULL && local != NULL) {
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "reading the fake Ollama: ");
      return FALSE;
    }
    if (line == NULL)
      return fail (error, "the fake Ollama ended its answer without \"done\"");
    if (!read_chat_line (line, &content, &done, error))
      return FALSE;
    if (content && first == 0)
      first = now;
  }
  if (first == 0)
    return fail (error, "the fake Ollama answered without text");
  *first_token_ms = (double) (first - start) / 1e6;
  return g_input_stream_close (stream, NULL, error);
}

typedef enum {
  TTFT_DIRECT,
  TTFT_ASK,
  TTFT_SEARCH,
  TTFT_PING,
  N_TTFT_RUNS,
} TtftRun;

typedef enum {
  TTFT_SERIES_DIRECT,     /* the fake's own first token, asked directly */
  TTFT_SERIES_ASK,        /* Ask to its first Token, through the daemon */
  TTFT_SERIES_DAEMON,     /* the daemon's own count (Finished's ttft_ms) */
  TTFT_SERIES_DIFFERENCE, /* per question: through the daemon minus direct */
  TTFT_SERIES_SEARCH,
  TTFT_SERIES_PING,
  N_TTFT_SERIES,
} TtftSeries;

typedef struct {
  gboolean measured;
  char *why; /* when not measured */
  char *config;
  guint64 chunks;
  GArray *ms[N_TTFT_SERIES];
} TtftResult;

static void
ttft_result_init (TtftResult *t)
{
  for (int k = 0; k < N_TTFT_SERIES; k++)
    t->ms[k] = g_array_new (FALSE, FALSE, sizeof (double));
}

static void
ttft_result_clear (TtftResult *t)
{
  for (int k = 0; k < N_TTFT_SERIES; k++)
    g_clear_pointer (&t->ms[k], g_array_unref);
  g_clear_pointer (&t->why, g_free);
  g_clear_pointer (&t->config, g_free);
}

/* The answer must be the fake's, or the daemon did not ask it. */
static gboolean
check_fake_answer (const char *answer, GError **error)
{
  g_autoptr (GString) expected = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (fake_tokens); i++)
    g_string_append (expected, fake_tokens[i]);
  if (!g_str_equal (answer, expected->str))
    return fail (error, "Ask answered '%s', not the fake Ollama's '%s'", answer, expected->str);
  return TRUE;
}

/* One question one way; its times go to their places in @sample. */
static gboolean
run_ttft_one (Bench *b, Fake *f, Stream *stream, const char *session_path, TtftRun kind,
              const char *question, double sample[N_TTFT_SERIES], GError **error)
{
  Streamed streamed = { 0 };
  guint hits;
  switch (kind) {
  case TTFT_DIRECT:
    return direct_chat (f, question, &sample[TTFT_SERIES_DIRECT], error);
  case TTFT_ASK:
    if (!ask_streamed (b, session_path, stream, question, &streamed, error)
        || !check_fake_answer (stream->answer->str, error))
      return FALSE;
    sample[TTFT_SERIES_ASK] = streamed.first_token_ms;
    sample[TTFT_SERIES_DAEMON] = streamed.stats.ttft_ms;
    return TRUE;
  case TTFT_SEARCH:
    return search (b->d.client, session_path, question, CALL_TIMEOUT_US,
                   &sample[TTFT_SERIES_SEARCH], &hits, error);
  case TTFT_PING:
    return ping (b->d.client, &sample[TTFT_SERIES_PING], error);
  case N_TTFT_RUNS:
    break;
  }
  g_assert_not_reached ();
}

/* The fake asked directly, Ask through the daemon, Search and Ping take turns in rotating
 * order for each question; the difference is taken question by question. */
static gboolean
measure_ttft_questions (Bench *b, Fake *f, const char *session_path, GPtrArray *questions,
                        TtftResult *out, GError **error)
{
  g_auto (Stream) stream = { .answer = g_string_new (NULL) };
  sd_bus_slot *slot = NULL;
  int r = sd_bus_match_signal (b->d.client, &slot, NULL, session_path, QUERY_INTERFACE, NULL,
                               on_query_signal, &stream);
  if (r < 0)
    return fail (error, "cannot listen to the Query signals: %s", g_strerror (-r));

  gboolean ok = TRUE;
  for (guint i = 0; ok && i < WARMUP_QUESTIONS + questions->len; i++) {
    double sample[N_TTFT_SERIES];
    const char *question = questions->pdata[i % questions->len];
    for (int j = 0; ok && j < N_TTFT_RUNS; j++)
      ok = check_interrupted (error)
           && run_ttft_one (b, f, &stream, session_path, (i + j) % N_TTFT_RUNS, question, sample,
                            error);
    if (!ok || i < WARMUP_QUESTIONS)
      continue;
    sample[TTFT_SERIES_DIFFERENCE] = sample[TTFT_SERIES_ASK] - sample[TTFT_SERIES_DIRECT];
    for (int k = 0; k < N_TTFT_SERIES; k++)
      g_array_append_val (out->ms[k], sample[k]);
  }
  sd_bus_slot_unref (slot);
  return ok;
}

/* The daemon restarted with the fake Ollama as its generator, on a database of its own that
 * holds one session with one document, and --ttft-questions questions. The full-text half of
 * retrieval reads the matches of every session of a database, so the big session of the
 * other phases would weigh on this small one's questions. */
static gboolean
measure_ttft (Bench *b, TtftResult *out, GError **error)
{
  g_auto (Fake) fake = { .out_fd = -1 };
  g_autofree char *state_dir = g_build_filename (b->d.dir, "state-ttft", NULL);
  Corpus corpus = { 0 };
  IngestResult ingest = { 0 };
  double graph_s;

  progress ("time to first token: starting the fake Ollama");
  if (!fake_start (b, &fake, error))
    return FALSE;
  out->config = g_strdup_printf (fake_config_template, fake.port);
  if (!stop_daemon (&b->d, error) || !bench_daemon_write_config (&b->d, out->config, error)
      || !start_daemon (&b->d, state_dir, NULL, error))
    return FALSE;

  /* Another seed than the big session's, so that its text is not that session's first pages. */
  corpus_init (&corpus, &b->d, b->seed + 1);
  g_autoptr (GPtrArray) questions = generated_questions (&corpus, (guint) b->ttft_questions);
  gboolean ok
      = create_session (&corpus, "Queries benchmark: first token", error)
        && measure_ingest (&corpus, TTFT_DOCUMENT_BYTES, TTFT_DOCUMENT_BYTES, &ingest, error)
        && wait_graph_ready (&b->d, &graph_s, error);
  if (ok) {
    out->chunks = corpus.chunks;
    progress ("time to first token: %u questions on a session of %" G_GUINT64_FORMAT
              " chunks, the fake directly and through the daemon",
              questions->len, corpus.chunks);
    ok = measure_ttft_questions (b, &fake, corpus.session_path, questions, out, error);
  }
  out->measured = ok;
  ingest_result_clear (&ingest);
  corpus_clear (&corpus);
  return ok;
}

/* ---- the report ---- */

typedef struct {
  FillResult fill;
  SetResult generated;
  SetResult answerable;
  GArray *all_waited; /* AskAndWait of both sets: what the targets compare */
  CpuMark single_cpu[2];
  CrowdResult crowd;        /* paced: what the target compares */
  CrowdResult back_to_back; /* no think time: the daemon's capacity */
  TtftResult ttft;
} Results;

static void
results_init (Results *r)
{
  set_result_init (&r->generated);
  set_result_init (&r->answerable);
  r->all_waited = g_array_new (FALSE, FALSE, sizeof (double));
  ttft_result_init (&r->ttft);
}

static void
results_clear (Results *r)
{
  set_result_clear (&r->generated);
  set_result_clear (&r->answerable);
  g_clear_pointer (&r->all_waited, g_array_unref);
  crowd_result_clear (&r->crowd);
  crowd_result_clear (&r->back_to_back);
  ttft_result_clear (&r->ttft);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Results, results_clear)

static void
add_over_ping (Json *json, SetResult *s)
{
  double ping = percentile_of (s->ms[SERIES_PING], 0.50);
  json_begin_object (json, "p50_over_ping_p50_ms");
  add_number (json, "ask_and_wait", percentile_of (s->ms[SERIES_ASK_AND_WAIT], 0.50) - ping);
  add_number (json, "ask_first_token", percentile_of (s->ms[SERIES_ASK_FIRST_TOKEN], 0.50) - ping);
  add_number (json, "search", percentile_of (s->ms[SERIES_SEARCH], 0.50) - ping);
  json_end_object (json);
}

static void
add_set (Json *json, const char *name, const char *what, SetResult *s)
{
  guint n = MAX (s->ms[SERIES_ASK_AND_WAIT]->len, 1);
  json_begin_object (json, name);
  add_string (json, "questions", what);
  add_int (json, "count", s->ms[SERIES_ASK_AND_WAIT]->len);

  json_begin_object (json, "ask_and_wait");
  add_series (json, "latency_ms", s->ms[SERIES_ASK_AND_WAIT]);
  add_int (json, "answers_citing_sources", s->cited_waited);
  add_number (json, "sources_mean", (double) s->sources / n);
  add_number (json, "answer_tokens_mean", (double) s->answer_tokens / n);
  json_end_object (json);

  json_begin_object (json, "ask");
  add_series (json, "reply_ms", s->ms[SERIES_ASK_REPLY]);
  add_series (json, "first_token_ms", s->ms[SERIES_ASK_FIRST_TOKEN]);
  add_series (json, "finished_ms", s->ms[SERIES_ASK_FINISHED]);
  add_series (json, "daemon_ttft_ms", s->ms[SERIES_DAEMON_TTFT]);
  add_series (json, "daemon_total_ms", s->ms[SERIES_DAEMON_TOTAL]);
  add_int (json, "answers_citing_sources", s->cited_streamed);
  json_end_object (json);

  json_begin_object (json, "search");
  add_series (json, "latency_ms", s->ms[SERIES_SEARCH]);
  add_number (json, "hits_mean", (double) s->search_hits / MAX (s->ms[SERIES_SEARCH]->len, 1));
  add_int (json, "queries_without_hits", s->searches_without_hits);
  json_end_object (json);

  json_begin_object (json, "ping_baseline");
  add_series (json, "latency_ms", s->ms[SERIES_PING]);
  json_end_object (json);
  add_over_ping (json, s);
  json_end_object (json);
}

static void
add_crowd (Json *json, const char *name, CrowdResult *c, Results *r)
{
  double single_p95 = percentile_of (r->all_waited, 0.95);
  double single_mean = 0;
  for (guint i = 0; i < r->all_waited->len; i++)
    single_mean += g_array_index (r->all_waited, double, i) / r->all_waited->len;

  json_begin_object (json, name);
  add_int (json, "askers", c->askers);
  add_number (json, "think_time_mean_ms", c->think_ms);
  add_int (json, "questions_answered", c->answered);
  add_number (json, "seconds", c->seconds);
  add_number (json, "questions_per_second", c->answered / MAX (c->seconds, 1e-9));
  json_begin_object (json, "ask_and_wait");
  add_series (json, "latency_ms", c->ms);
  add_int (json, "answers_citing_sources", c->cited);
  json_end_object (json);
  add_series (json, "ping_meanwhile_ms", c->ping_ms);
  add_cpu (json, &c->cpu[0], &c->cpu[1]);
  json_begin_object (json, "single_asker");
  add_number (json, "ask_and_wait_p95_ms", single_p95);
  add_number (json, "questions_per_second", 1000.0 / MAX (single_mean, 1e-9));
  json_end_object (json);
  add_number (json, "p95_over_single_asker_p95", percentile_of (c->ms, 0.95) / single_p95);
  json_end_object (json);
}

static void
add_ttft_overhead (Json *json, TtftResult *t)
{
  json_begin_object (json, "ttft_overhead");
  add_bool (json, "measured", t->measured);
  if (!t->measured) {
    add_string (json, "why", t->why != NULL ? t->why : "not attempted");
    json_end_object (json);
    return;
  }
  add_int (json, "session_chunks", (gint64) t->chunks);
  add_int (json, "questions", t->ms[TTFT_SERIES_ASK]->len);
  json_begin_object (json, "fake_ollama");
  add_string (json, "model", FAKE_MODEL);
  add_number (json, "first_token_delay_ms", FAKE_FIRST_TOKEN_DELAY * 1000);
  add_number (json, "token_delay_ms", FAKE_TOKEN_DELAY * 1000);
  add_int (json, "tokens", G_N_ELEMENTS (fake_tokens));
  json_end_object (json);
  add_config_lines (json, "config_file", t->config);
  add_series (json, "direct_first_token_ms", t->ms[TTFT_SERIES_DIRECT]);
  add_series (json, "ask_first_token_ms", t->ms[TTFT_SERIES_ASK]);
  add_series (json, "daemon_ttft_ms", t->ms[TTFT_SERIES_DAEMON]);
  add_series (json, "difference_ms", t->ms[TTFT_SERIES_DIFFERENCE]);
  add_series (json, "search_ms", t->ms[TTFT_SERIES_SEARCH]);
  add_series (json, "ping_baseline_ms", t->ms[TTFT_SERIES_PING]);
  json_end_object (json);
}

static gboolean
add_targets (Json *json, Bench *b, Results *r)
{
  gboolean all = TRUE;
  double single_p95 = percentile_of (r->all_waited, 0.95);
  g_autofree char *ask_as = g_strdup_printf (
      "p95 of AskAndWait over the bus, one asker, every question, at %d chunks or more",
      TARGET_ASK_AT_CHUNKS);
  g_autofree char *crowd_as = g_strdup_printf (
      "p95 of AskAndWait with %d askers at once, each reading an answer for %.1f s on average "
      "before asking again, against %.0f times the one asker's p95 of this run (the limit)",
      TARGET_CROWD_ASKERS, b->think_ms / 1000.0, TARGET_CROWD_FACTOR);

  json_begin_object (json, "targets");
  all &= add_target (json, "ask_p95_at_100k_chunks", ask_as, r->fill.chunks >= TARGET_ASK_AT_CHUNKS,
                     single_p95, TARGET_ASK_P95_MS, FALSE, "ms");
  all &= add_target (json, "concurrent_ask_p95", crowd_as,
                     b->askers >= TARGET_CROWD_ASKERS && b->think_ms <= TARGET_CROWD_THINK_MS,
                     percentile_of (r->crowd.ms, 0.95), TARGET_CROWD_FACTOR * single_p95, FALSE,
                     "ms");
  all &= add_target (json, "ttft_overhead_p95",
                     "p95 of Ask's time to first token through the daemon minus the fake "
                     "Ollama's own, question by question",
                     r->ttft.measured,
                     r->ttft.measured ? percentile_of (r->ttft.ms[TTFT_SERIES_DIFFERENCE], 0.95)
                                      : 0,
                     TARGET_TTFT_OVERHEAD_P95_MS, FALSE, "ms");
  json_end_object (json);
  return all;
}

static void
add_daemon (Json *json, Bench *b)
{
  json_begin_object (json, "daemon");
  add_daemon_identity (json, &b->d, b->build_type);
  add_string (json, "config",
              "[query] max_queries_per_user=0 (one uid asks everything), [generation] "
              "backend=builtin; every other key default: builtin embedder, max_generations=2, "
              "history_messages=6 (ttft_overhead.config_file for the last phase)");
  add_config_lines (json, "config_file", daemon_config);
  add_int (json, "unclean_exits", b->d.unclean_exits);
  json_end_object (json);
}

static void
add_parameters (Json *json, Bench *b)
{
  json_begin_object (json, "parameters");
  add_int (json, "chunks", b->chunks_goal);
  add_int (json, "fill_document_kb", b->fill_document_kb);
  add_int (json, "questions", b->questions);
  add_int (json, "answerable", b->answerable);
  add_int (json, "warmup_questions", WARMUP_QUESTIONS);
  add_int (json, "askers", b->askers);
  add_int (json, "rounds_per_asker", b->rounds);
  add_int (json, "think_time_mean_ms", b->think_ms);
  add_int (json, "ttft_questions", b->ttft_questions);
  add_int (json, "warmup_rounds_per_asker", WARMUP_ROUNDS);
  add_number (json, "crowd_ping_interval_ms", CROWD_PING_INTERVAL_US / 1000.0);
  add_int (json, "k", SEARCH_K);
  add_int (json, "vocabulary", VOCABULARY);
  add_int (json, "seed", b->seed);
  json_end_object (json);
}

static char *
report (Bench *b, Results *r)
{
  Json writer = { g_string_new (NULL), 0, TRUE };
  Json *json = &writer;

  g_array_append_vals (r->all_waited, r->generated.ms[SERIES_ASK_AND_WAIT]->data,
                       r->generated.ms[SERIES_ASK_AND_WAIT]->len);
  g_array_append_vals (r->all_waited, r->answerable.ms[SERIES_ASK_AND_WAIT]->data,
                       r->answerable.ms[SERIES_ASK_AND_WAIT]->len);

  json_begin_object (json, NULL);
  add_string (json, "benchmark", "queries");
  add_machine (json, &b->d);
  add_daemon (json, b);
  add_parameters (json, b);
  add_fill (json, "fill", &r->fill);
  json_begin_object (json, "single_asker");
  add_set (json, "generated", "'what is the X of the Y', X and Y from the vocabulary",
           &r->generated);
  add_set (json, "answerable", "'what is said of A, B and C', neighbouring words of a chunk",
           &r->answerable);
  json_begin_object (json, "all_questions");
  add_series (json, "ask_and_wait_ms", r->all_waited);
  json_end_object (json);
  add_cpu (json, &r->single_cpu[0], &r->single_cpu[1]);
  json_end_object (json);
  add_crowd (json, "concurrent", &r->crowd, r);
  add_crowd (json, "concurrent_back_to_back", &r->back_to_back, r);
  add_ttft_overhead (json, &r->ttft);
  add_bool (json, "all_targets_pass", add_targets (json, b, r));
  json_end_object (json);

  g_string_append_c (json->out, '\n');
  return g_string_free (json->out, FALSE);
}

/* ---- the run ---- */

static gboolean
prepare (Bench *b, GError **error)
{
  if (!bench_daemon_prepare (&b->d, b->tmp_parent, daemon_config, error))
    return FALSE;
  b->state_dir = g_build_filename (b->d.dir, "state", NULL);
  corpus_init (&b->corpus, &b->d, b->seed);
  return TRUE;
}

/* The generated questions first, then the answerable ones, alternating in the crowd. */
static GPtrArray *
crowd_questions (GPtrArray *generated, GPtrArray *answerable)
{
  GPtrArray *all = g_ptr_array_new ();
  for (guint i = 0; i < MAX (generated->len, answerable->len); i++) {
    if (i < generated->len)
      g_ptr_array_add (all, generated->pdata[i]);
    if (i < answerable->len)
      g_ptr_array_add (all, answerable->pdata[i]);
  }
  return all;
}

/* Why the fake Ollama cannot be run here, or NULL. */
static char *
ttft_unavailable (Bench *b)
{
  g_autofree char *python = g_find_program_in_path (b->python);
  if (python == NULL)
    return g_strdup_printf ("%s (to run the fake Ollama) was not found", b->python);
  if (!g_file_test (b->fake_ollama, G_FILE_TEST_IS_REGULAR))
    return g_strdup_printf ("the fake Ollama %s was not found", b->fake_ollama);
  return NULL;
}

static gboolean
run (Bench *b, Results *r, GError **error)
{
  double ms;
  guint hits;

  if (!prepare (b, error))
    return FALSE;
  g_autoptr (GPtrArray) generated = generated_questions (&b->corpus, (guint) b->questions);
  if (!start_daemon (&b->d, b->state_dir, NULL, error) || !read_version (&b->d, error)
      || !create_session (&b->corpus, "Queries benchmark", error))
    return FALSE;
  /* The index loaded from the start, so that the graph takes the chunks as they come, as in
   * a session in use. */
  if (!search (b->d.client, b->corpus.session_path, generated->pdata[0], CALL_TIMEOUT_US, &ms,
               &hits, error)
      || !corpus_fill (&b->corpus, (guint64) b->chunks_goal, (gsize) b->fill_document_kb * 1000,
                       &r->fill, error))
    return FALSE;

  g_autoptr (GPtrArray) answerable = answerable_questions (b, (guint) b->answerable, error);
  if (answerable == NULL
      || !measure_single (b, generated, answerable, &r->generated, &r->answerable, r->single_cpu,
                          error))
    return FALSE;
  g_autoptr (GPtrArray) mixed = crowd_questions (generated, answerable);
  if (!measure_crowd (b, mixed, b->think_ms, &r->crowd, error)
      || !measure_crowd (b, mixed, 0, &r->back_to_back, error))
    return FALSE;
  r->ttft.why = ttft_unavailable (b);
  if (r->ttft.why != NULL)
    progress ("time to first token not measured: %s", r->ttft.why);
  else if (!measure_ttft (b, &r->ttft, error))
    return FALSE;
  return stop_daemon (&b->d, error);
}

static void
bench_cleanup (Bench *b)
{
  bench_daemon_clear (&b->d, b->keep);
  g_free (b->state_dir);
  g_free (b->python);
  g_free (b->fake_ollama);
  corpus_clear (&b->corpus);
}

static gboolean
parse_arguments (Bench *b, int *argc, char ***argv, GError **error)
{
  g_autofree char *python = NULL;
  g_autofree char *fake_ollama = NULL;
  g_auto (BenchDaemonArgs) args = { 0 };
  const GOptionEntry entries[] = {
    BENCH_OPTION_DAEMON (&args),
    BENCH_OPTION_EXTRACT_HELPER (&args),
    BENCH_OPTION_DBUS_DAEMON (&args),
    BENCH_OPTION_BUILD_TYPE (&args),
    { "chunks", 0, 0, G_OPTION_ARG_INT64, &b->chunks_goal,
      "Fill the session to at least N chunks (default 100000)", "N" },
    { "fill-document-kb", 0, 0, G_OPTION_ARG_INT, &b->fill_document_kb,
      "Kilobytes per document when filling the session (default 1000)", "N" },
    { "questions", 0, 0, G_OPTION_ARG_INT, &b->questions,
      "Generated questions asked by the one asker (default 500)", "N" },
    { "answerable", 0, 0, G_OPTION_ARG_INT, &b->answerable,
      "Questions made from the words of random chunks (default 50)", "N" },
    { "askers", 0, 0, G_OPTION_ARG_INT, &b->askers,
      "Client connections asking at once (default 50)", "N" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &b->rounds,
      "Questions each of them asks after its warm-up (default 12)", "N" },
    { "think-ms", 0, 0, G_OPTION_ARG_INT, &b->think_ms,
      "Mean time an asker reads an answer before its next question (default 5000)", "MS" },
    { "ttft-questions", 0, 0, G_OPTION_ARG_INT, &b->ttft_questions,
      "Questions asked of the fake Ollama directly and through the daemon (default 200)", "N" },
    { "python", 0, 0, G_OPTION_ARG_FILENAME, &python,
      "The Python that runs the fake Ollama (default: python3 from PATH)", "PATH" },
    { "fake-ollama", 0, 0, G_OPTION_ARG_FILENAME, &fake_ollama,
      "The fake Ollama server (default: tests/fakes/fake_ollama.py of this source tree)", "PATH" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &b->seed, "Seed of the generated text (default 1)", "N" },
    { "keep", 0, 0, G_OPTION_ARG_NONE, &b->keep,
      "Keep the temporary directory with the daemon's log and state", NULL },
    G_OPTION_ENTRY_NULL,
  };
  if (!bench_parse_options (entries,
                            "Measures smartragd's Ask, AskAndWait and Search on a filled "
                            "session, with one asker and with many at once,\non a private "
                            "bus, and prints one JSON document.",
                            argc, argv, error))
    return FALSE;
  if (b->chunks_goal < 1 || b->chunks_goal > G_MAXINT32 || b->fill_document_kb < 1
      || b->questions < 1 || b->answerable < 1 || b->askers < 1 || b->rounds < 1
      || b->ttft_questions < 1 || b->think_ms < 0)
    return fail (error, "sizes and counts must be at least 1, and the think time at least 0");

  if (!bench_daemon_resolve (&b->d, &args, *argc, *argv, SMARTRAGD_PATH, SMARTRAG_EXTRACT_PATH,
                             SMARTRAGD_BUILD_TYPE, &b->build_type, error))
    return FALSE;
  b->python = python ? g_steal_pointer (&python) : g_strdup ("python3");
  b->fake_ollama = fake_ollama ? g_steal_pointer (&fake_ollama) : g_strdup (FAKE_OLLAMA_PATH);
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_set_prgname ("bench-queries");
  Bench bench = {
    .chunks_goal = 100000,
    .fill_document_kb = 1000,
    .questions = 500,
    .answerable = 50,
    .askers = 50,
    .rounds = 12,
    .think_ms = TARGET_CROWD_THINK_MS,
    .ttft_questions = 200,
    .seed = 1,
    .tmp_parent = (char *) g_get_tmp_dir (),
    .d = BENCH_DAEMON_INIT (READY_TIMEOUT_US, STOP_TIMEOUT_US),
  };
  g_auto (Results) results = { 0 };
  g_autoptr (GError) error = NULL;

  if (!parse_arguments (&bench, &argc, &argv, &error)) {
    g_printerr ("%s: %s\n", g_get_prgname (), error->message);
    return 2;
  }
  install_signal_handlers ();
  results_init (&results);

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
