/* smartrag-extract: reads one untrusted document from stdin, confined, and reports on stdout. */
#include "build-config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "extract/confine.h"
#include "extract/faults.h"
#include "extract/protocol.h"
#include "ingest/readers.h"

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
  char *fault;
} Options;

static void
options_clear (Options *options)
{
  g_free (options->filename);
  g_free (options->fault);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

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
    SR_FAULT_OPTION_ENTRY (options->fault),
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_option_context_set_summary (context, _ ("Reads a document from standard input in a "
                                            "sandbox; started by smartragd, not by people."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, error))
    return FALSE;
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

static gboolean
write_all (const guint8 *data, gsize length)
{
  while (length > 0) {
    ssize_t n = write (STDOUT_FILENO, data, length);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    data += n;
    length -= (gsize) n;
  }
  return TRUE;
}

static int
send_bytes (GByteArray *bytes)
{
  return write_all (bytes->data, bytes->len) ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* An error record alone, when nothing has been sent yet. */
static int
send_error (const GError *error)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_byte_array_append (out, (const guint8 *) SR_PROTOCOL_MAGIC, SR_PROTOCOL_MAGIC_LEN);
  sr_protocol_append_error (out, error);
  return send_bytes (out);
}

static void
set_too_large (guint64 max_bytes, GError **error)
{
  g_autofree char *limit = g_format_size_full (max_bytes, G_FORMAT_SIZE_IEC_UNITS);
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE,
               _ ("The file is larger than %s, the limit for one document ([limits] "
                  "max_file_size)"),
               limit);
}

/* Reads stdin whole, refusing as soon as it is past the limit. */
static GByteArray *
read_input (guint64 max_bytes, GError **error)
{
  g_autoptr (GByteArray) data = g_byte_array_new ();
  guint8 buffer[65536];
  struct stat st;

  if (fstat (STDIN_FILENO, &st) == 0 && S_ISREG (st.st_mode) && (guint64) st.st_size > max_bytes) {
    set_too_large (max_bytes, error);
    return NULL;
  }
  for (;;) {
    ssize_t n = read (STDIN_FILENO, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int saved = errno;
      g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                   _ ("Could not read the document: %s"), g_strerror (saved));
      return NULL;
    }
    if (n == 0)
      return g_steal_pointer (&data);
    if (data->len + (guint64) n > max_bytes) {
      set_too_large (max_bytes, error);
      return NULL;
    }
    g_byte_array_append (data, buffer, (guint) n);
  }
}

/* Sends the format first, so that the daemon can name the parser if it crashes. */
static int
extract (const Options *options, GByteArray *input)
{
  SrFormat format = sr_format_detect (input->data, input->len, options->filename);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  sr_protocol_append_start (out, format);
  if (!write_all (out->data, out->len))
    return EXIT_FAILURE;
  gsize start_len = out->len;
  g_byte_array_set_size (out, 0);
  /* An unknown format goes on to the reader, whose error says why. */
  if (options->detect_only && format != SR_FORMAT_UNKNOWN) {
    g_autoptr (SrExtracted) nothing = sr_extracted_new (format);
    sr_protocol_append_result (out, nothing);
    return send_bytes (out);
  }

  SrExtractLimits limits = {
    .max_output_bytes = (guint64) options->max_output_bytes,
    .max_decompressed_bytes = (guint64) options->max_decompressed_bytes,
    .max_pages = (guint) options->max_pages,
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) extracted
      = sr_read_document (format, input->data, input->len, &limits, &error);
  if (extracted != NULL) {
    sr_protocol_append_result (out, extracted);
    if (start_len + out->len <= (guint64) options->max_output_bytes)
      return send_bytes (out);
    g_byte_array_set_size (out, 0);
    g_autofree char *limit
        = g_format_size_full ((guint64) options->max_output_bytes, G_FORMAT_SIZE_IEC_UNITS);
    g_set_error (&error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE,
                 _ ("The document holds more than %s of text, the limit for one document "
                    "([limits] max_extracted_size)"),
                 limit);
  }
  sr_protocol_append_error (out, error);
  return send_bytes (out);
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

  g_autoptr (GByteArray) input = read_input ((guint64) options.max_file_bytes, &error);
  if (input == NULL)
    return send_error (error);

  /* Nothing untrusted is parsed unless every confinement step worked. */
  SrConfineLimits confine = { (guint64) options.max_memory_bytes, (guint) options.cpu_seconds };
  sr_confine_preload ();
  if (!sr_confine_limits (&confine, &error) || !sr_confine_seccomp (&error)) {
    fprintf (stderr, "smartrag-extract: %s\n", error->message);
    return EXIT_FAILURE;
  }
  sr_fault_run (options.fault);
  return extract (&options, input);
}
