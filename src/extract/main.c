/* smartrag-extract: reads one untrusted document, confined, or forks a reader per request. */
#include "build-config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <sys/stat.h>

#include "extract/confine.h"
#include "extract/document.h"
#include "extract/faults.h"
#include "extract/serve-protocol.h"
#include "extract/serve.h"

#ifdef SR_HAVE_ASAN
const char *__asan_default_options (void);

/* The daemon must see a crash as the signal it is, and the leak checker needs ptrace and
 * /proc, which the sandbox forbids. */
const char *
__asan_default_options (void)
{
  return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:detect_leaks=0:abort_on_error=1";
}
#endif

typedef struct {
  char *filename;
  gint64 max_file_bytes;
  gint64 max_memory_bytes;
  int cpu_seconds;
  gint64 max_output_bytes;
  gint64 max_decompressed_bytes;
  int max_pages;
  gboolean detect_only;
  gboolean typed_text;
  gboolean serve;
  char *fault;
} Options;

static void
options_clear (Options *options)
{
  g_free (options->filename);
  g_free (options->fault);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

/* A fork server takes the document's name and limits with each request, and its socket at a
 * known place. */
static gboolean
check_serve_options (const Options *options, GError **error)
{
  struct stat st;

  if (options->filename != NULL || options->max_file_bytes != 0 || options->max_memory_bytes != 0
      || options->cpu_seconds != 0 || options->max_output_bytes != 0
      || options->max_decompressed_bytes != 0 || options->max_pages != 0 || options->detect_only
      || options->typed_text) {
    g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         _ ("With --serve, the file name and the limits come with each request"));
    return FALSE;
  }
  if (fstat (SR_SERVE_FD, &st) != 0 || !S_ISSOCK (st.st_mode)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 _ ("--serve needs the daemon's socket on descriptor %d"), SR_SERVE_FD);
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse_options (int argc, char **argv, Options *options, GError **error)
{
  const GOptionEntry entries[] = {
    { "filename", 0, 0, G_OPTION_ARG_STRING, &options->filename,
      N_ ("Name of the file, used to tell its format"), N_ ("NAME") },
    { "max-file-bytes", 0, 0, G_OPTION_ARG_INT64, &options->max_file_bytes,
      N_ ("Largest input to read"), N_ ("BYTES") },
    { "max-memory-bytes", 0, 0, G_OPTION_ARG_INT64, &options->max_memory_bytes,
      N_ ("Address space limit"), N_ ("BYTES") },
    { "cpu-seconds", 0, 0, G_OPTION_ARG_INT, &options->cpu_seconds, N_ ("CPU time limit"),
      N_ ("SECONDS") },
    { "max-output-bytes", 0, 0, G_OPTION_ARG_INT64, &options->max_output_bytes,
      N_ ("Largest output to write"), N_ ("BYTES") },
    { "max-decompressed-bytes", 0, 0, G_OPTION_ARG_INT64, &options->max_decompressed_bytes,
      N_ ("Most bytes to inflate from archive members"), N_ ("BYTES") },
    { "max-pages", 0, 0, G_OPTION_ARG_INT, &options->max_pages, N_ ("Most pages to read"),
      N_ ("PAGES") },
    { "detect", 0, 0, G_OPTION_ARG_NONE, &options->detect_only,
      N_ ("Only tell the format, without reading the text"), NULL },
    { "typed-text", 0, 0, G_OPTION_ARG_NONE, &options->typed_text,
      N_ ("The input is text a person typed, never a binary format"), NULL },
    { "serve", 0, 0, G_OPTION_ARG_NONE, &options->serve,
      N_ ("Fork a reader for each request from the daemon's socket on descriptor 3"), NULL },
    SR_FAULT_OPTION_ENTRY (options->fault),
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_option_context_set_summary (context, _ ("Reads a document from standard input in a "
                                            "sandbox, or forks a reader for each document "
                                            "the daemon sends; started by smartragd, not by "
                                            "people."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, error))
    return FALSE;
  if (options->serve)
    return check_serve_options (options, error);
  if (options->filename == NULL || options->max_file_bytes <= 0 || options->max_memory_bytes <= 0
      || options->cpu_seconds <= 0 || options->max_output_bytes <= 0
      || options->max_decompressed_bytes <= 0 || options->max_pages <= 0) {
    g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         _ ("--filename and every limit must be given, and limits must be "
                            "positive"));
    return FALSE;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_auto (Options) options = { 0 };
  g_autoptr (GError) error = NULL;
  if (!parse_options (argc, argv, &options, &error)) {
    fprintf (stderr, "smartrag-extract: %s\n", error->message);
    return 2;
  }

  if (options.serve)
    return sr_serve_run (SR_SERVE_FD, options.fault);

  SrExtractJob job = {
    .filename = options.filename,
    .max_file_bytes = (guint64) options.max_file_bytes,
    .max_memory_bytes = (guint64) options.max_memory_bytes,
    .cpu_seconds = (guint) options.cpu_seconds,
    .max_output_bytes = (guint64) options.max_output_bytes,
    .max_decompressed_bytes = (guint64) options.max_decompressed_bytes,
    .max_pages = (guint) options.max_pages,
    .detect_only = options.detect_only,
    .typed_text = options.typed_text,
    .fault = options.fault,
  };
  return sr_extract_document (&job);
}
