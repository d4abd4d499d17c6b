/* Shared by the benchmarks that add documents: generated text, filling a session, targets. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

#include "bench-common.h"

#define DOCUMENT_INTERFACE BUS_NAME ".Document"
#define QUERY_INTERFACE    BUS_NAME ".Query"
#define DATABASE_FILENAME  "smartrag.db"

/* Every wait is bounded, so a hung daemon or bus ends the run with an error, not a hang.
 * Calls get more room than in the foundation benchmark: a blocked main loop must show up
 * as a slow figure in the report, not as a failed run. */
#define CALL_TIMEOUT_US      (60 * G_USEC_PER_SEC)
#define SLOW_CALL_TIMEOUT_US (20 * 60 * G_USEC_PER_SEC) /* a first Search that rebuilds */
#define INGEST_TIMEOUT_US    (30 * 60 * G_USEC_PER_SEC)

/* Pause between two probes: frequent enough to catch a stall of a few milliseconds,
 * sparse enough that the prober does not take a core from the daemon. */
#define PROBE_INTERVAL_US 2000
/* AddText calls in flight at once: the daemon stores the next while it indexes one. */
#define ADD_WINDOW 4
#define SEARCH_K   5
#define VOCABULARY 20000

typedef struct {
  double *cumulative; /* Zipf weights, summed */
  char **words;
  guint n;
} Vocabulary;

/* The session a benchmark fills, the generator of its text and what it holds so far. */
typedef struct {
  BenchDaemon *d; /* borrowed: its client connection adds the text */
  GRand *rand;
  Vocabulary vocabulary;
  char *session_path;
  char *session_id;
  guint64 documents;
  guint64 chunks;
  guint64 text_bytes;
} Corpus;

/* Seeds the text from @seed; nothing is sent to the daemon yet. */
void corpus_init (Corpus *c, BenchDaemon *d, int seed);
void corpus_clear (Corpus *c);

/* Whether @word is one of the function words that lead the vocabulary. */
gboolean is_function_word (const char *word);
char *generate_document (Corpus *c, gsize bytes);
char *generate_keywords (Corpus *c);
char *generate_question (Corpus *c);

gboolean call (sd_bus_message *m, gint64 timeout_us, sd_bus_message **reply, double *ms,
               GError **error);
gboolean new_call (sd_bus *bus, const char *path, const char *interface, const char *member,
                   sd_bus_message **m, GError **error);
gboolean ping (sd_bus *bus, double *ms, GError **error);
/* Hybrid Search with k = SEARCH_K; @hits counts the hits of a well-formed reply. */
gboolean search (sd_bus *bus, const char *session_path, const char *text, gint64 timeout_us,
                 double *ms, guint *hits, GError **error);

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

void prober_start (Prober *p, const char *address, gint64 timeout_us);
/* Stops the thread; FALSE with its error if a probe failed. */
gboolean prober_stop (Prober *p, GError **error);
void prober_clear (Prober *p);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Prober, prober_clear)

/* With expire_after 0, so that a long run keeps its session. */
gboolean create_session (Corpus *c, const char *title, GError **error);

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

void ingest_result_clear (IngestResult *r);
/* Adds @total bytes of text in documents of @document_bytes and times from the first
 * AddText to the last document reaching "ready", while a prober measures the bus. */
gboolean measure_ingest (Corpus *c, guint64 total, gsize document_bytes, IngestResult *out,
                         GError **error);

/* Makes the call that adds document @i (from 0) to the session of @c: AddText, AddFile. */
typedef gboolean (*AddBuilder) (Corpus *c, guint i, gpointer data, sd_bus_message **m,
                                GError **error);

/* measure_ingest with @documents calls that @build makes; @out->bytes is left to the
 * caller, who knows what the calls carry. */
gboolean measure_ingest_calls (Corpus *c, guint documents, AddBuilder build, gpointer data,
                               IngestResult *out, GError **error);
/* Counts the session's documents and chunks into @c, checking that every one is ready. */
gboolean count_chunks (Corpus *c, GError **error);
/* Bytes of text that bring the session to @target_chunks, at the rate of chunks per byte
 * seen so far (a guess below the usual rate while it is empty, so a fill falls short
 * rather than far over, and the next fill makes up the rest). */
guint64 text_for_chunks (Corpus *c, guint64 target_chunks);

typedef struct {
  guint fills;
  guint documents;
  guint64 bytes;
  double seconds;
  guint64 chunks;
  double graph_backlog_s;
} FillResult;

/* Adds text in documents of @document_bytes until the session holds at least @chunks_goal
 * chunks, then waits for the vector graph to hold them all: a session in steady use, not
 * one still being indexed. */
gboolean corpus_fill (Corpus *c, guint64 chunks_goal, gsize document_bytes, FillResult *out,
                      GError **error);
void add_fill (Json *json, const char *name, FillResult *f);

gboolean read_index_figure (BenchDaemon *d, const char *name, guint64 *value, GError **error);
gboolean wait_graph_ready (BenchDaemon *d, double *seconds, GError **error);

gboolean add_target (Json *json, const char *name, const char *measured_as, gboolean measured,
                     double value, double limit, gboolean at_least, const char *unit);
