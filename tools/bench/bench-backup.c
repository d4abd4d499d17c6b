/* Operations benchmark: Backup, Restore and smartrag-cli status on a large state, as JSON. */
#define _GNU_SOURCE /* memfd_create, syncfs */

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-common.h"
#include "bench-corpus.h"

#define READY_TIMEOUT_US (60 * G_USEC_PER_SEC)
#define STOP_TIMEOUT_US  (120 * G_USEC_PER_SEC) /* a stop saves the vector index */
/* A backup, a restore or a copy of a large state on a slow disk. */
#define OPERATION_TIMEOUT_US (G_GINT64_CONSTANT (60) * 60 * G_USEC_PER_SEC)
#define STATUS_TIMEOUT_US    (10 * G_USEC_PER_SEC)

#define FILL_DOCUMENT_BYTES  1000000
#define SMALL_DOCUMENT_BYTES 2000
/* The largest padded PDF: far below [limits] max_file_size, and few enough bytes in flight
 * (ADD_WINDOW of them) to keep in memory. */
#define PADDED_FILE_BYTES 25000000
/* What a padded PDF holds besides its padding, with room to spare. */
#define PDF_FRAME_BYTES 1024
#define NOISE_BLOCK     (1024 * 1024)
/* Sessions beside the one that holds the documents: a restore must bring back each. */
#define EXTRA_SESSIONS 2
#define STATUS_WARMUP  2

/* The issue's targets. */
#define TARGET_INCREMENTAL_SPEEDUP 10.0
#define TARGET_STATUS_P95_MS       50.0

typedef struct {
  BenchDaemon d;

  /* parameters */
  char *build_type;
  char *tmp_parent;
  char *cli;
  char *busctl; /* NULL when not found */
  gint64 chunks;
  int file_megabytes;
  int runs;
  int seed;
  gboolean keep;

  /* resources, all released by bench_cleanup */
  char *state_dir;
  char *backup_dir;
  char *config;
  Corpus corpus;
  GRand *noise;         /* the padding of the PDFs */
  guint64 padded_each;  /* bytes asked of each padded PDF */
  guint64 padded_bytes; /* bytes of the padded PDFs made */
} Bench;

/* Regular files under a folder; hard links are what an incremental backup shares. */
typedef struct {
  guint64 files;
  guint64 bytes;
  guint64 linked_files; /* with more than one link */
  guint64 linked_bytes;
} TreeUsage;

typedef struct {
  FillResult text;
  IngestResult padded;
  guint sessions;
  guint64 documents;
  guint64 chunks;
  TreeUsage files;
  TreeUsage index;
  guint64 database_bytes; /* the database and its write-ahead log */
} State;

typedef struct {
  double ms;
  char *name; /* the backup's folder, <time in UTC> */
  TreeUsage usage;
} BackupRun;

typedef struct {
  double copy_ms;
  double syncfs_ms;
  TreeUsage usage;
} CopyRun;

typedef struct {
  double ms;
  guint sessions;
  guint64 documents_before; /* the small document included */
  guint64 documents_after;
} RestoreRun;

typedef struct {
  State state;
  GArray *cli_ms;
  GArray *busctl_ms;
  CopyRun copy;
  BackupRun first;
  BackupRun second;
  BackupRun third;
  RestoreRun restore;
} Results;

/* ---- sizes on disk ---- */

static void
tree_usage (const char *dir, TreeUsage *u)
{
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name;
  if (listing == NULL)
    return;
  while ((name = g_dir_read_name (listing)) != NULL) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    GStatBuf st;
    if (g_lstat (path, &st) != 0)
      continue;
    if (S_ISDIR (st.st_mode)) {
      tree_usage (path, u);
      continue;
    }
    if (!S_ISREG (st.st_mode))
      continue;
    u->files++;
    u->bytes += (guint64) st.st_size;
    if (st.st_nlink > 1) {
      u->linked_files++;
      u->linked_bytes += (guint64) st.st_size;
    }
  }
}

static guint64
file_size (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  GStatBuf st;
  return g_stat (path, &st) == 0 ? (guint64) st.st_size : 0;
}

/* ---- padded PDFs ---- */

static gboolean
write_all (int fd, const void *data, gsize length, GError **error)
{
  const char *p = data;
  while (length > 0) {
    ssize_t n = write (fd, p, length);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return fail (error, "cannot write a padded PDF: %s", g_strerror (errno));
    p += n;
    length -= (gsize) n;
  }
  return TRUE;
}

/* Noise rather than one repeated byte: a file system that compresses must not make the
 * copies cheaper than they would be for real scans. */
static gboolean
write_noise (int fd, guint64 bytes, GRand *rand, GError **error)
{
  g_autofree guint32 *block = g_new (guint32, NOISE_BLOCK / sizeof (guint32));
  while (bytes > 0) {
    gsize n = (gsize) MIN (bytes, NOISE_BLOCK);
    for (gsize i = 0; i < (n + 3) / 4; i++)
      block[i] = g_rand_int (rand);
    if (!write_all (fd, block, n, error))
      return FALSE;
    bytes -= n;
  }
  return TRUE;
}

static const char *const pdf_objects[] = {
  "<< /Type /Catalog /Pages 2 0 R >>",
  "<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
  "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R"
  " /Resources << /Font << /F1 3 0 R >> >> >>",
};

/* A PDF of about @size bytes: one page with one line of text, and noise in a stream that no
 * page uses. The daemon stores and backs up every byte but reads one line. */
static gboolean
write_padded_pdf (int fd, const char *line, guint64 size, GRand *rand, GError **error)
{
  g_autoptr (GString) pdf = g_string_new ("%PDF-1.4\n");
  g_autofree char *content = g_strdup_printf ("BT /F1 12 Tf 72 720 Td (%s) Tj ET", line);
  guint64 offsets[G_N_ELEMENTS (pdf_objects) + 2];
  guint n = 0;

  for (; n < G_N_ELEMENTS (pdf_objects); n++) {
    offsets[n] = pdf->len;
    g_string_append_printf (pdf, "%u 0 obj %s endobj\n", n + 1, pdf_objects[n]);
  }
  offsets[n++] = pdf->len;
  g_string_append_printf (pdf, "%u 0 obj << /Length %zu >> stream\n%s\nendstream endobj\n", n,
                          strlen (content), content);
  guint64 padding = size > PDF_FRAME_BYTES ? size - PDF_FRAME_BYTES : 1;
  offsets[n++] = pdf->len;
  g_string_append_printf (pdf, "%u 0 obj << /Length %" G_GUINT64_FORMAT " >> stream\n", n, padding);
  if (!write_all (fd, pdf->str, pdf->len, error) || !write_noise (fd, padding, rand, error))
    return FALSE;

  const char end[] = "\nendstream endobj\n";
  guint64 xref = pdf->len + padding + strlen (end);
  g_string_assign (pdf, end);
  g_string_append_printf (pdf, "xref\n0 %u\n0000000000 65535 f \n", n + 1);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (pdf, "%010" G_GUINT64_FORMAT " 00000 n \n", offsets[i]);
  g_string_append_printf (
      pdf, "trailer << /Size %u /Root 1 0 R >>\nstartxref\n%" G_GUINT64_FORMAT "\n%%%%EOF\n", n + 1,
      xref);
  return write_all (fd, pdf->str, pdf->len, error);
}

/* A padded PDF in a memory file, to be read from its start; -1 on failure. */
static int
padded_pdf_fd (Bench *b, guint i, GError **error)
{
  g_autofree char *line
      = g_strdup_printf ("Scanned archive page %u of the backup benchmark", i + 1);
  int fd = memfd_create ("bench-backup-pdf", MFD_CLOEXEC);
  if (fd < 0) {
    fail (error, "memfd_create: %s", g_strerror (errno));
    return -1;
  }
  if (!write_padded_pdf (fd, line, b->padded_each, b->noise, error)) {
    close (fd);
    return -1;
  }
  off_t size = lseek (fd, 0, SEEK_CUR);
  if (size < 0 || lseek (fd, 0, SEEK_SET) != 0) {
    fail (error, "lseek: %s", g_strerror (errno));
    close (fd);
    return -1;
  }
  b->padded_bytes += (guint64) size;
  return fd;
}

/* AddFile with a memory file: the PDF never touches the disk before the daemon stores it. */
static gboolean
add_padded_pdf (Corpus *c, guint i, gpointer data, sd_bus_message **m, GError **error)
{
  g_autofree char *filename = g_strdup_printf ("archive-%04u.pdf", i + 1);
  int fd = padded_pdf_fd (data, i, error);
  if (fd < 0)
    return FALSE;
  if (!new_call (c->d->client, c->session_path, DOCUMENT_INTERFACE, "AddFile", m, error)) {
    close (fd);
    return FALSE;
  }
  /* The message keeps a duplicate of the descriptor. */
  int r = sd_bus_message_append (*m, "hsa{sv}", fd, filename, 0);
  close (fd);
  if (r < 0)
    return fail (error, "cannot build AddFile: %s", g_strerror (-r));
  return TRUE;
}

/* ---- building the state ---- */

static gboolean
create_extra_sessions (Bench *b, GError **error)
{
  for (guint i = 0; i < EXTRA_SESSIONS; i++) {
    Corpus other = { .d = &b->d };
    g_autofree char *title = g_strdup_printf ("Backup benchmark, empty session %u", i + 1);
    gboolean ok = create_session (&other, title, error);
    corpus_clear (&other);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

/* Padded PDFs until the stored files reach --file-megabytes, text included. */
static gboolean
add_padded_files (Bench *b, State *s, GError **error)
{
  guint64 goal = (guint64) b->file_megabytes * 1000000;
  if (goal <= b->corpus.text_bytes)
    return TRUE;
  guint64 rest = goal - b->corpus.text_bytes;
  guint count = (guint) ((rest + PADDED_FILE_BYTES - 1) / PADDED_FILE_BYTES);
  b->padded_each = rest / count;
  progress ("adding %u padded PDFs of %.1f MB", count, b->padded_each / 1e6);
  if (!measure_ingest_calls (&b->corpus, count, add_padded_pdf, b, &s->padded, error))
    return FALSE;
  s->padded.bytes = b->padded_bytes;
  return TRUE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The sessions' object paths, sorted and one a line, and how many there are. */
static gboolean
list_sessions (BenchDaemon *d, char **joined, guint *count, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  const char *path;
  int r;

  if (!new_call (d->client, BUS_PATH, BUS_NAME, "ListSessions", &m, error)
      || !call (m, CALL_TIMEOUT_US, &reply, NULL, error))
    return FALSE;
  if ((r = sd_bus_message_enter_container (reply, 'a', "o")) < 0)
    return fail (error, "ListSessions: unexpected reply: %s", g_strerror (-r));
  while ((r = sd_bus_message_read (reply, "o", &path)) > 0)
    g_ptr_array_add (paths, g_strdup (path));
  if (r < 0)
    return fail (error, "ListSessions: unexpected reply: %s", g_strerror (-r));
  g_ptr_array_sort (paths, compare_strings);
  g_ptr_array_add (paths, NULL);
  *joined = g_strjoinv ("\n", (char **) paths->pdata);
  *count = paths->len - 1;
  return TRUE;
}

static void
measure_state (Bench *b, State *s)
{
  g_autofree char *files = g_build_filename (b->state_dir, "files", NULL);
  g_autofree char *index = g_build_filename (b->state_dir, "index", NULL);
  g_autofree char *wal = g_strconcat (DATABASE_FILENAME, "-wal", NULL);
  tree_usage (files, &s->files);
  tree_usage (index, &s->index);
  s->database_bytes = file_size (b->state_dir, DATABASE_FILENAME) + file_size (b->state_dir, wal);
  s->documents = b->corpus.documents;
  s->chunks = b->corpus.chunks;
}

/* Text to --chunks chunks, padded PDFs to --file-megabytes, then a restart: the daemon
 * then holds a state that has been saved whole, as one that has run for a while. */
static gboolean
build_state (Bench *b, State *s, GError **error)
{
  double ms, backlog;
  guint hits;
  g_autofree char *sessions = NULL;

  if (!create_session (&b->corpus, "Backup benchmark", error)
      || !create_extra_sessions (b, error)
      /* A session in use has its vector index, which backups hold too. */
      || !search (b->d.client, b->corpus.session_path, "backup", CALL_TIMEOUT_US, &ms, &hits, error)
      || !corpus_fill (&b->corpus, (guint64) b->chunks, FILL_DOCUMENT_BYTES, &s->text, error)
      || !add_padded_files (b, s, error) || !wait_graph_ready (&b->d, &backlog, error))
    return FALSE;
  progress ("restarting the daemon on the state it built");
  if (!stop_daemon (&b->d, error) || !start_daemon (&b->d, b->state_dir, NULL, error)
      || !count_chunks (&b->corpus, error)
      || !list_sessions (&b->d, &sessions, &s->sessions, error))
    return FALSE;
  measure_state (b, s);
  return TRUE;
}

/* ---- smartrag-cli status and its baseline ---- */

static gboolean
time_command (char **argv, const char *expect, double *ms, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_auto (GStrv) env = g_get_environ ();
  int status = 0;
  gint64 start = now_ns ();
  if (!run_program (argv, env, STATUS_TIMEOUT_US, out, &status, error))
    return FALSE;
  *ms = (double) (now_ns () - start) / 1e6;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0 || strstr (out->str, expect) == NULL) {
    g_autofree char *how = describe_status (status);
    return fail (error, "%s ended with %s and printed:\n%s", argv[0], how, out->str);
  }
  return TRUE;
}

/* The command line and the bare call take turns, in alternating order, so that both see
 * the same machine; the first rounds load the programs and are not counted. */
static gboolean
measure_status (Bench *b, Results *r, GError **error)
{
  g_autofree char *address = g_strdup_printf ("--address=%s", b->d.bus_address);
  char *cli[] = { b->cli, address, "status", NULL };
  char *busctl[] = { b->busctl, address, "call", BUS_NAME, BUS_PATH, BUS_NAME, "GetHealth", NULL };

  progress ("timing smartrag-cli status and busctl GetHealth, %d runs each", b->runs);
  for (int i = 0; i < STATUS_WARMUP + b->runs; i++) {
    double ms[2] = { 0, 0 };
    for (int k = 0; k < 2; k++) {
      int which = (i + k) % 2;
      if (which == 0 && !time_command (cli, "SmartRAG", &ms[0], error))
        return FALSE;
      if (which == 1 && b->busctl != NULL && !time_command (busctl, "s \"", &ms[1], error))
        return FALSE;
    }
    if (i < STATUS_WARMUP)
      continue;
    g_array_append_val (r->cli_ms, ms[0]);
    if (b->busctl != NULL)
      g_array_append_val (r->busctl_ms, ms[1]);
  }
  return TRUE;
}

/* ---- copy, backup, restore ---- */

/* What cp copies: the files a backup holds, as they lie in the state directory. */
static GPtrArray *
copy_arguments (Bench *b, const char *target)
{
  const char *const names[] = { DATABASE_FILENAME, DATABASE_FILENAME "-wal", "index", "files" };
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_strdup ("cp"));
  g_ptr_array_add (argv, g_strdup ("-a"));
  g_ptr_array_add (argv, g_strdup ("--reflink=never"));
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    char *path = g_build_filename (b->state_dir, names[i], NULL);
    if (g_file_test (path, G_FILE_TEST_EXISTS))
      g_ptr_array_add (argv, path);
    else
      g_free (path);
  }
  g_ptr_array_add (argv, g_strdup (target));
  g_ptr_array_add (argv, NULL);
  return argv;
}

static gboolean
sync_folder (const char *dir, double *ms, GError **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return fail (error, "cannot open %s: %s", dir, g_strerror (errno));
  gint64 start = now_ns ();
  int r = syncfs (fd);
  *ms = (double) (now_ns () - start) / 1e6;
  close (fd);
  if (r != 0)
    return fail (error, "syncfs %s: %s", dir, g_strerror (errno));
  return TRUE;
}

/* The cost of the bytes alone: cp of the state while the daemon runs, then syncfs, since
 * a backup syncs what it writes. */
static gboolean
measure_copy (Bench *b, CopyRun *out, GError **error)
{
  g_autofree char *target = g_build_filename (b->d.dir, "copy", NULL);
  g_autoptr (GPtrArray) argv = copy_arguments (b, target);
  g_autoptr (GString) output = g_string_new (NULL);
  g_auto (GStrv) env = g_get_environ ();
  int status = 0;

  progress ("baseline: cp -a of the state");
  if (g_mkdir (target, 0700) != 0)
    return fail (error, "cannot create %s: %s", target, g_strerror (errno));
  sync ();
  gint64 start = now_ns ();
  if (!run_program ((char **) argv->pdata, env, OPERATION_TIMEOUT_US, output, &status, error))
    return FALSE;
  out->copy_ms = (double) (now_ns () - start) / 1e6;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return fail (error, "cp failed: %s", output->str);
  if (!sync_folder (target, &out->syncfs_ms, error))
    return FALSE;
  tree_usage (target, &out->usage);
  remove_tree (target);
  sync ();
  return TRUE;
}

static gboolean
measure_backup (Bench *b, const char *comment, BackupRun *out, GError **error)
{
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  const char *path;
  int r;

  progress ("Backup (%s)", comment);
  if (!new_call (b->d.client, BUS_PATH, BUS_NAME, "Backup", &m, error))
    return FALSE;
  if ((r = sd_bus_message_append (m, "a{sv}", 1, "comment", "s", comment)) < 0)
    return fail (error, "cannot build Backup: %s", g_strerror (-r));
  /* What earlier work left dirty is not this backup's to write. */
  sync ();
  if (!call (m, OPERATION_TIMEOUT_US, &reply, &out->ms, error))
    return FALSE;
  if ((r = sd_bus_message_read (reply, "s", &path)) < 0)
    return fail (error, "Backup: unexpected reply: %s", g_strerror (-r));
  g_autofree char *parent = g_path_get_dirname (path);
  if (!g_str_equal (parent, b->backup_dir))
    return fail (error, "Backup wrote %s, outside the configured directory %s", path,
                 b->backup_dir);
  out->name = g_path_get_basename (path);
  tree_usage (path, &out->usage);
  return TRUE;
}

/* Restores the first backup and checks that the daemon serves its sessions and documents. */
static gboolean
measure_restore (Bench *b, Results *r, const char *sessions_then, GError **error)
{
  RestoreRun *out = &r->restore;
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  g_autofree char *path = g_build_filename (b->backup_dir, r->first.name, NULL);
  g_autofree char *sessions_now = NULL;

  progress ("Restore of the first backup");
  out->documents_before = b->corpus.documents;
  if (!new_call (b->d.client, BUS_PATH, BUS_NAME, "Restore", &m, error))
    return FALSE;
  int e = sd_bus_message_append (m, "s", path);
  if (e < 0)
    return fail (error, "cannot build Restore: %s", g_strerror (-e));
  sync ();
  if (!call (m, OPERATION_TIMEOUT_US, &reply, &out->ms, error)
      || !list_sessions (&b->d, &sessions_now, &out->sessions, error))
    return FALSE;
  if (!g_str_equal (sessions_now, sessions_then))
    return fail (error, "after Restore, ListSessions gives\n%s\ninstead of\n%s", sessions_now,
                 sessions_then);
  if (!count_chunks (&b->corpus, error))
    return FALSE;
  out->documents_after = b->corpus.documents;
  if (out->documents_after != r->state.documents)
    return fail (error,
                 "after Restore the session holds %" G_GUINT64_FORMAT
                 " documents, not the %" G_GUINT64_FORMAT " of the backup",
                 out->documents_after, r->state.documents);
  return TRUE;
}

/* One backup, another with nothing changed, a third after one small document. */
static gboolean
measure_backups (Bench *b, Results *r, GError **error)
{
  IngestResult small = { 0 };
  g_autofree char *sessions = NULL;
  guint count;

  if (!list_sessions (&b->d, &sessions, &count, error)
      || !measure_backup (b, "bench-backup: first", &r->first, error)
      || !measure_backup (b, "bench-backup: nothing changed", &r->second, error))
    return FALSE;
  progress ("adding one small document");
  gboolean ok
      = measure_ingest (&b->corpus, SMALL_DOCUMENT_BYTES, SMALL_DOCUMENT_BYTES, &small, error);
  ingest_result_clear (&small);
  return ok && measure_backup (b, "bench-backup: one small document more", &r->third, error)
         && measure_restore (b, r, sessions, error);
}

/* ---- the report ---- */

static void
results_clear (Results *r)
{
  ingest_result_clear (&r->state.padded);
  g_clear_pointer (&r->cli_ms, g_array_unref);
  g_clear_pointer (&r->busctl_ms, g_array_unref);
  g_free (r->first.name);
  g_free (r->second.name);
  g_free (r->third.name);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Results, results_clear)

static void
add_usage (Json *json, const char *prefix, const TreeUsage *u)
{
  g_autofree char *files = g_strconcat (prefix, "files", NULL);
  g_autofree char *bytes = g_strconcat (prefix, "bytes", NULL);
  g_autofree char *mb = g_strconcat (prefix, "mb", NULL);
  add_int (json, files, (gint64) u->files);
  add_int (json, bytes, (gint64) u->bytes);
  add_number (json, mb, u->bytes / 1e6);
}

static void
add_state (Json *json, State *s)
{
  json_begin_object (json, "state");
  add_int (json, "sessions", s->sessions);
  add_int (json, "documents", (gint64) s->documents);
  add_int (json, "text_documents", s->text.documents);
  add_int (json, "padded_pdfs", s->padded.documents);
  add_int (json, "chunks", (gint64) s->chunks);
  add_usage (json, "stored_", &s->files);
  add_int (json, "database_bytes", (gint64) s->database_bytes);
  add_number (json, "database_mb", s->database_bytes / 1e6);
  add_usage (json, "index_", &s->index);
  add_number (json, "total_mb", (s->files.bytes + s->index.bytes + s->database_bytes) / 1e6);
  add_fill (json, "text_fill", &s->text);
  json_begin_object (json, "padded_fill");
  add_int (json, "documents", s->padded.documents);
  add_int (json, "bytes", (gint64) s->padded.bytes);
  add_number (json, "seconds", s->padded.seconds);
  json_end_object (json);
  json_end_object (json);
}

static void
add_status (Json *json, Bench *b, Results *r)
{
  json_begin_object (json, "status_ms");
  add_int (json, "runs", b->runs);
  add_int (json, "warmup_runs", STATUS_WARMUP);
  add_series (json, "smartrag_cli_status", r->cli_ms);
  if (b->busctl != NULL)
    add_series (json, "busctl_get_health_baseline", r->busctl_ms);
  else
    add_string (json, "busctl_get_health_baseline", "not measured: busctl was not found");
  json_end_object (json);
}

static void
add_copy (Json *json, CopyRun *c)
{
  json_begin_object (json, "copy_baseline");
  add_string (json, "what",
              "cp -a --reflink=never of the database, its WAL, index/ and files/ into a new "
              "folder on the same file system, after sync, then syncfs");
  add_usage (json, "", &c->usage);
  add_number (json, "cp_ms", c->copy_ms);
  add_number (json, "syncfs_after_ms", c->syncfs_ms);
  add_number (json, "cp_and_syncfs_ms", c->copy_ms + c->syncfs_ms);
  add_number (json, "mb_per_second", c->usage.bytes / 1e6 / (c->copy_ms / 1000));
  json_end_object (json);
}

static void
add_backup (Json *json, const char *name, BackupRun *run, CopyRun *copy)
{
  json_begin_object (json, name);
  add_string (json, "folder", run->name);
  add_number (json, "ms", run->ms);
  add_usage (json, "", &run->usage);
  add_int (json, "linked_files", (gint64) run->usage.linked_files);
  add_int (json, "linked_bytes", (gint64) run->usage.linked_bytes);
  add_int (json, "written_bytes", (gint64) (run->usage.bytes - run->usage.linked_bytes));
  add_number (json, "over_copy_baseline", run->ms / (copy->copy_ms + copy->syncfs_ms));
  json_end_object (json);
}

static void
add_backups (Json *json, Results *r)
{
  json_begin_object (json, "backups");
  add_backup (json, "first", &r->first, &r->copy);
  add_backup (json, "second_nothing_changed", &r->second, &r->copy);
  add_backup (json, "third_after_one_small_document", &r->third, &r->copy);
  add_number (json, "second_speedup", r->first.ms / r->second.ms);
  json_end_object (json);

  json_begin_object (json, "restore");
  add_string (json, "backup", r->first.name);
  add_number (json, "ms", r->restore.ms);
  add_number (json, "over_copy_baseline", r->restore.ms / (r->copy.copy_ms + r->copy.syncfs_ms));
  add_int (json, "sessions_listed_after", r->restore.sessions);
  add_bool (json, "same_sessions", TRUE);
  add_int (json, "documents_before", (gint64) r->restore.documents_before);
  add_int (json, "documents_after", (gint64) r->restore.documents_after);
  json_end_object (json);
}

static void
add_targets (Json *json, Results *r)
{
  gboolean all = TRUE;
  json_begin_object (json, "targets");
  all &= add_target (json, "incremental_backup_speedup",
                     "backups.first.ms / backups.second_nothing_changed.ms", TRUE,
                     r->first.ms / r->second.ms, TARGET_INCREMENTAL_SPEEDUP, TRUE, "times");
  all &= add_target (json, "cli_status_p95", "status_ms.smartrag_cli_status.p95", TRUE,
                     percentile_of (r->cli_ms, 0.95), TARGET_STATUS_P95_MS, FALSE, "ms");
  json_end_object (json);
  add_bool (json, "all_targets_pass", all);
}

static void
add_daemon (Json *json, Bench *b)
{
  json_begin_object (json, "daemon");
  add_daemon_identity (json, &b->d, b->build_type);
  add_config_lines (json, "config_file", b->config);
  add_int (json, "unclean_exits", b->d.unclean_exits);
  json_end_object (json);
}

static void
add_parameters (Json *json, Bench *b)
{
  json_begin_object (json, "parameters");
  add_int (json, "chunks", b->chunks);
  add_int (json, "file_megabytes", b->file_megabytes);
  add_int (json, "fill_document_bytes", FILL_DOCUMENT_BYTES);
  add_int (json, "padded_pdf_bytes", (gint64) b->padded_each);
  add_int (json, "small_document_bytes", SMALL_DOCUMENT_BYTES);
  add_int (json, "runs", b->runs);
  add_int (json, "seed", b->seed);
  add_string (json, "cli", b->cli);
  add_string (json, "busctl", b->busctl ? b->busctl : "not found");
  json_end_object (json);
}

static char *
report (Bench *b, Results *r)
{
  Json writer = { g_string_new (NULL), 0, TRUE };
  Json *json = &writer;

  json_begin_object (json, NULL);
  add_string (json, "benchmark", "backup");
  add_machine (json, &b->d);
  add_daemon (json, b);
  add_parameters (json, b);
  add_state (json, &r->state);
  add_status (json, b, r);
  add_copy (json, &r->copy);
  add_backups (json, r);
  add_targets (json, r);
  json_end_object (json);

  g_string_append_c (json->out, '\n');
  return g_string_free (json->out, FALSE);
}

/* ---- the run ---- */

static gboolean
prepare (Bench *b, GError **error)
{
  if (!bench_daemon_prepare (&b->d, b->tmp_parent, "", error))
    return FALSE;
  b->state_dir = g_build_filename (b->d.dir, "state", NULL);
  b->backup_dir = g_build_filename (b->d.dir, "backups", NULL);
  /* Every other key default: the builtin embedder, [backup] keep = 7. */
  b->config = g_strdup_printf ("[backup]\ndirectory=%s\n", b->backup_dir);
  corpus_init (&b->corpus, &b->d, b->seed);
  b->noise = g_rand_new_with_seed ((guint32) b->seed);
  return bench_daemon_write_config (&b->d, b->config, error);
}

static gboolean
run (Bench *b, Results *r, GError **error)
{
  if (!prepare (b, error) || !start_daemon (&b->d, b->state_dir, NULL, error)
      || !read_version (&b->d, error) || !build_state (b, &r->state, error)
      || !measure_status (b, r, error) || !measure_copy (b, &r->copy, error)
      || !measure_backups (b, r, error))
    return FALSE;
  return stop_daemon (&b->d, error);
}

static void
bench_cleanup (Bench *b)
{
  bench_daemon_clear (&b->d, b->keep);
  g_free (b->state_dir);
  g_free (b->backup_dir);
  g_free (b->config);
  g_free (b->cli);
  g_free (b->busctl);
  g_free (b->build_type);
  g_clear_pointer (&b->noise, g_rand_free);
  corpus_clear (&b->corpus);
}

static gboolean
parse_arguments (Bench *b, int *argc, char ***argv, GError **error)
{
  g_autofree char *cli = NULL;
  g_auto (BenchDaemonArgs) args = { 0 };
  const GOptionEntry entries[] = {
    BENCH_OPTION_DAEMON (&args),
    BENCH_OPTION_EXTRACT_HELPER (&args),
    BENCH_OPTION_DBUS_DAEMON (&args),
    BENCH_OPTION_BUILD_TYPE (&args),
    { "cli", 0, 0, G_OPTION_ARG_FILENAME, &cli,
      "The smartrag-cli to time (default: the one built with this benchmark)", "PATH" },
    { "chunks", 0, 0, G_OPTION_ARG_INT64, &b->chunks,
      "Chunks of generated text in the state (default 100000)", "N" },
    { "file-megabytes", 0, 0, G_OPTION_ARG_INT, &b->file_megabytes,
      "Megabytes of stored files in the state, text included (default 1000)", "N" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &b->runs,
      "Timed runs of smartrag-cli status and of busctl (default 20)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &b->seed, "Seed of the generated text (default 1)", "N" },
    { "keep", 0, 0, G_OPTION_ARG_NONE, &b->keep,
      "Keep the temporary directory with the daemon's log, state and backups", NULL },
    G_OPTION_ENTRY_NULL,
  };
  if (!bench_parse_options (entries,
                            "Measures smartragd's Backup and Restore on a large state beside "
                            "a plain copy, and smartrag-cli status beside busctl,\non a "
                            "private bus, and prints one JSON document.",
                            argc, argv, error))
    return FALSE;
  if (b->chunks < 1 || b->file_megabytes < 1 || b->runs < 1)
    return fail (error, "--chunks, --file-megabytes and --runs must be at least 1");
  if (!bench_daemon_resolve (&b->d, &args, *argc, *argv, SMARTRAGD_PATH, SMARTRAG_EXTRACT_PATH,
                             SMARTRAGD_BUILD_TYPE, &b->build_type, error))
    return FALSE;
  b->cli = cli ? g_steal_pointer (&cli) : g_strdup (SMARTRAG_CLI_PATH);
  if (!g_file_test (b->cli, G_FILE_TEST_IS_EXECUTABLE))
    return fail (error, "%s is not an executable smartrag-cli", b->cli);
  b->busctl = g_find_program_in_path ("busctl");
  if (b->busctl == NULL)
    progress ("busctl was not found: the GetHealth baseline will not be measured");
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_set_prgname ("bench-backup");
  Bench bench = {
    .chunks = 100000,
    .file_megabytes = 1000,
    .runs = 20,
    .seed = 1,
    .tmp_parent = (char *) g_get_tmp_dir (),
    .d = BENCH_DAEMON_INIT (READY_TIMEOUT_US, STOP_TIMEOUT_US),
  };
  g_auto (Results) results = {
    .cli_ms = g_array_new (FALSE, FALSE, sizeof (double)),
    .busctl_ms = g_array_new (FALSE, FALSE, sizeof (double)),
  };
  g_autoptr (GError) error = NULL;

  if (!parse_arguments (&bench, &argc, &argv, &error)) {
    g_printerr ("%s: %s\n", g_get_prgname (), error->message);
    bench_cleanup (&bench);
    return 2;
  }
  install_signal_handlers ();

  bench.d.load_before = load_average ();
  gboolean ok = run (&bench, &results, &error);
  bench.d.load_after = load_average ();
  g_autofree char *json = ok ? report (&bench, &results) : NULL;
  bench_cleanup (&bench);

  if (!ok) {
    g_printerr ("%s: %s\n", g_get_prgname (), error->message);
    return 1;
  }
  fputs (json, stdout);
  return 0;
}
