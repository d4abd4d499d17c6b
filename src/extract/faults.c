/* The failures a hostile or buggy parser could show, for the sandbox tests to provoke. */
#include "extract/faults.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/errors.h"
#include "extract/protocol.h"

static void
emit (GByteArray *out)
{
  for (gsize done = 0; done < out->len;) {
    ssize_t n = write (STDOUT_FILENO, out->data + done, out->len - done);
    if (n <= 0)
      _exit (EXIT_FAILURE);
    done += (gsize) n;
  }
}

static void G_GNUC_NORETURN
fault_oom (void)
{
  GSList *blocks = NULL;
  for (;;) {
    gsize size = 16 << 20;
    char *block = g_malloc (size);
    memset (block, 1, size); /* touched, so that it is resident */
    blocks = g_slist_prepend (blocks, block);
  }
}

static void G_GNUC_NORETURN
fault_bigoutput (void)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (SrExtracted) extracted = sr_extracted_new (SR_FORMAT_TEXT);
  g_autofree char *text = g_strnfill (1 << 20, 'x');
  g_ptr_array_add (extracted->sections, sr_section_new (text, 0, ""));
  sr_protocol_append_start (out, SR_FORMAT_TEXT);
  emit (out);
  for (;;) {
    g_byte_array_set_size (out, 0);
    sr_protocol_append_result (out, extracted);
    g_byte_array_set_size (out, out->len - 5); /* without the end record */
    emit (out);
  }
}

/* Reports whether the sandbox let the file be read; a leak shows up as a result. */
static void G_GNUC_NORETURN
fault_open (void)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  sr_protocol_append_start (out, SR_FORMAT_TEXT);
  if (g_file_get_contents ("/etc/passwd", &contents, NULL, &error)) {
    g_autoptr (SrExtracted) extracted = sr_extracted_new (SR_FORMAT_TEXT);
    g_ptr_array_add (extracted->sections, sr_section_new (contents, 0, ""));
    sr_protocol_append_result (out, extracted);
  } else {
    sr_protocol_append_error (out, error);
  }
  emit (out);
  _exit (EXIT_SUCCESS);
}

/* A fork server serves every document with the same options; a name lets a test tell one
 * bad document from the good ones that follow it. */
static gboolean
applies (const char *fault, const char *filename, char **name_out)
{
  const char *colon = strchr (fault, ':');
  if (colon == NULL) {
    *name_out = g_strdup (fault);
    return TRUE;
  }
  *name_out = g_strndup (fault, (gsize) (colon - fault));
  return g_str_equal (colon + 1, filename);
}

void
sr_fault_run (const char *spec, const char *filename)
{
  static const char garbage[] = "this is not the protocol\n";
  volatile guint64 spins = 0;
  g_autofree char *fault = NULL;

  if (spec == NULL || !applies (spec, filename, &fault))
    return;
  /* Complains on stderr, which may be the daemon's log file, then reads the document. */
  if (g_str_equal (fault, "complain")) {
    g_printerr ("smartrag-extract: a complaint from the parser\n");
    return;
  }
  if (g_str_equal (fault, "crash"))
    raise (SIGSEGV);
  if (g_str_equal (fault, "hang"))
    for (;;)
      g_usleep (G_USEC_PER_SEC);
  if (g_str_equal (fault, "spin"))
    for (;;)
      spins++;
  if (g_str_equal (fault, "oom"))
    fault_oom ();
  if (g_str_equal (fault, "garbage")) {
    if (write (STDOUT_FILENO, garbage, sizeof garbage - 1) < 0)
      _exit (EXIT_FAILURE);
    _exit (EXIT_SUCCESS);
  }
  if (g_str_equal (fault, "bigoutput"))
    fault_bigoutput ();
  if (g_str_equal (fault, "open"))
    fault_open ();
  if (g_str_equal (fault, "socket")) {
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    _exit (fd >= 0 ? EXIT_SUCCESS : EXIT_FAILURE);
  }
  g_printerr ("smartrag-extract: unknown fault %s\n", fault);
  _exit (2);
}
