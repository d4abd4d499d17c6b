/* One document in the helper: stdin is read whole, the process confined, the reply written. */
#include "extract/document.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "extract/confine.h"
#include "extract/faults.h"
#include "extract/protocol.h"
#include "ingest/readers.h"

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
extract (const SrExtractJob *job, GByteArray *input)
{
  SrFormat format = job->typed_text
                        ? sr_format_detect_typed (input->data, input->len, job->filename)
                        : sr_format_detect (input->data, input->len, job->filename);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  sr_protocol_append_start (out, format);
  if (!write_all (out->data, out->len))
    return EXIT_FAILURE;
  gsize start_len = out->len;
  g_byte_array_set_size (out, 0);
  /* An unknown format goes on to the reader, whose error says why. */
  if (job->detect_only && format != SR_FORMAT_UNKNOWN) {
    g_autoptr (SrExtracted) nothing = sr_extracted_new (format);
    sr_protocol_append_result (out, nothing);
    return send_bytes (out);
  }

  SrExtractLimits limits = {
    .max_output_bytes = job->max_output_bytes,
    .max_decompressed_bytes = job->max_decompressed_bytes,
    .max_pages = job->max_pages,
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) extracted
      = sr_read_document (format, input->data, input->len, &limits, &error);
  if (extracted != NULL) {
    sr_protocol_append_result (out, extracted);
    if (start_len + out->len <= job->max_output_bytes)
      return send_bytes (out);
    g_byte_array_set_size (out, 0);
    g_autofree char *limit = g_format_size_full (job->max_output_bytes, G_FORMAT_SIZE_IEC_UNITS);
    g_set_error (&error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE,
                 _ ("The document holds more than %s of text, the limit for one document "
                    "([limits] max_extracted_size)"),
                 limit);
  }
  sr_protocol_append_error (out, error);
  return send_bytes (out);
}

int
sr_extract_document (const SrExtractJob *job)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GByteArray) input = read_input (job->max_file_bytes, &error);
  if (input == NULL)
    return send_error (error);

  /* Nothing untrusted is parsed unless every confinement step worked. */
  SrConfineLimits confine = { job->max_memory_bytes, job->cpu_seconds };
  sr_confine_preload ();
  if (!sr_confine_limits (&confine, &error) || !sr_confine_seccomp (&error)) {
    fprintf (stderr, "smartrag-extract: %s\n", error->message);
    return EXIT_FAILURE;
  }
  sr_fault_run (job->fault, job->filename);
  return extract (job, input);
}
