/* Unit tests for the streaming multipart/form-data parser (src/http/multipart.c). */
#include <string.h>

#include "common/errors.h"
#include "http/multipart.h"

#define BOUNDARY "XbOuNdArY"

static const SrMultipartLimits default_limits = { 8 * 1024, 16 };

typedef struct {
  char *name;
  char *filename;
  char *content_type;
  GString *content;
  gboolean ended;
} Part;

typedef struct {
  GPtrArray *parts;
  const char *refuse; /* a part name whose beginning the recorder refuses */
  gboolean refuse_data;
} Recorder;

static void
part_free (gpointer data)
{
  Part *part = data;
  g_free (part->name);
  g_free (part->filename);
  g_free (part->content_type);
  g_string_free (part->content, TRUE);
  g_free (part);
}

static void
recorder_init (Recorder *recorder)
{
  *recorder = (Recorder){ g_ptr_array_new_with_free_func (part_free) };
}

static void
recorder_clear (Recorder *recorder)
{
  g_clear_pointer (&recorder->parts, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Recorder, recorder_clear)

static Part *
last_part (Recorder *recorder)
{
  g_assert_cmpuint (recorder->parts->len, >, 0);
  return recorder->parts->pdata[recorder->parts->len - 1];
}

static gboolean
on_begin (const SrMultipartPart *info, gpointer user_data, GError **error)
{
  Recorder *recorder = user_data;
  g_assert_cmpuint (info->number, ==, recorder->parts->len + 1);
  g_assert_true (recorder->parts->len == 0 || last_part (recorder)->ended);
  if (g_strcmp0 (recorder->refuse, info->name) == 0) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT, "refused %s", info->name);
    return FALSE;
  }
  Part *part = g_new0 (Part, 1);
  part->name = g_strdup (info->name);
  part->filename = g_strdup (info->filename);
  part->content_type = g_strdup (info->content_type);
  part->content = g_string_new (NULL);
  g_ptr_array_add (recorder->parts, part);
  return TRUE;
}

static gboolean
on_data (const guint8 *data, gsize length, gpointer user_data, GError **error)
{
  Recorder *recorder = user_data;
  Part *part = last_part (recorder);
  g_assert_cmpuint (length, >, 0);
  g_assert_false (part->ended);
  if (recorder->refuse_data) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED, "disk full");
    return FALSE;
  }
  g_string_append_len (part->content, (const char *) data, (gssize) length);
  return TRUE;
}

static gboolean
on_end (gpointer user_data, GError **error)
{
  Part *part = last_part (user_data);
  g_assert_false (part->ended);
  part->ended = TRUE;
  return TRUE;
}

static const SrMultipartCallbacks callbacks = { on_begin, on_data, on_end };

/* Feeds @body cut at the offsets @cuts (ascending), then finishes. */
static gboolean
parse_cut (const char *body, gsize length, const gsize *cuts, guint n_cuts,
           const SrMultipartLimits *limits, Recorder *recorder, GError **error)
{
  g_autoptr (SrMultipart) parser = sr_multipart_new (BOUNDARY, limits, &callbacks, recorder);
  gsize from = 0;
  for (guint i = 0; i <= n_cuts; i++) {
    gsize to = i < n_cuts ? cuts[i] : length;
    if (to > from && !sr_multipart_feed (parser, (const guint8 *) body + from, to - from, error))
      return FALSE;
    from = to;
  }
  return sr_multipart_finish (parser, error);
}

static gboolean
parse (const char *body, const SrMultipartLimits *limits, Recorder *recorder, GError **error)
{
  return parse_cut (body, strlen (body), NULL, 0, limits ? limits : &default_limits, recorder,
                    error);
}

/* The message of the error that parsing @body ends with. */
static char *
parse_error (const char *body, const SrMultipartLimits *limits)
{
  g_auto (Recorder) recorder;
  g_autoptr (GError) error = NULL;
  recorder_init (&recorder);
  g_assert_false (parse (body, limits, &recorder, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_true (g_str_has_prefix (error->message, "Invalid multipart body: "));
  return g_strdup (error->message + strlen ("Invalid multipart body: "));
}

static void
assert_part (Recorder *recorder, guint index, const char *name, const char *filename,
             const char *content_type, const char *content, gsize content_length)
{
  g_assert_cmpuint (recorder->parts->len, >, index);
  Part *part = recorder->parts->pdata[index];
  g_assert_cmpstr (part->name, ==, name);
  g_assert_cmpstr (part->filename, ==, filename);
  g_assert_cmpstr (part->content_type, ==, content_type);
  g_assert_true (part->ended);
  g_assert_cmpmem (part->content->str, part->content->len, content, content_length);
}

/* Content that holds every near miss of the delimiter: its prefixes, a CR before CRLF,
 * bare CRs and LFs, and the boundary without its line break. */
#define FILE_CONTENT                                                                               \
  "line one\r\nline two\n\rthree\r\r\n--XbOuNdAry\r\n-\r\n--\r\n--X\r\r\r\n"                       \
  "--XbOuNdAr\n" BOUNDARY "\r\n\r\n\r"

static const char sample[] = "This preamble is ignored, as is --" BOUNDARY " inside a line.\r\n"
                             "--" BOUNDARY "\r\n"
                             "Content-Disposition: form-data; name=\"session_id\"\r\n"
                             "\r\n"
                             "0123456789abcdef0123456789abcdef\r\n"
                             "--" BOUNDARY " \t \r\n"
                             "content-disposition: form-data; name=\"file\"; "
                             "filename=\"notes \\\"1\\\".txt\"\r\n"
                             "Content-Type: text/plain\r\n"
                             "X-Other: ignored\r\n"
                             "\r\n" FILE_CONTENT "\r\n"
                             "--" BOUNDARY "--\r\n"
                             "The epilogue is ignored too.\r\n--" BOUNDARY "\r\nx";

static void
assert_sample (Recorder *recorder)
{
  g_assert_cmpuint (recorder->parts->len, ==, 2);
  assert_part (recorder, 0, "session_id", NULL, NULL, "0123456789abcdef0123456789abcdef", 32);
  assert_part (recorder, 1, "file", "notes \"1\".txt", "text/plain", FILE_CONTENT,
               strlen (FILE_CONTENT));
}

static void
test_sample_whole (void)
{
  g_auto (Recorder) recorder;
  g_autoptr (GError) error = NULL;
  recorder_init (&recorder);
  g_assert_true (parse (sample, NULL, &recorder, &error));
  g_assert_no_error (error);
  assert_sample (&recorder);
}

/* Every way of cutting the body in two and in three parts reads the same. */
static void
test_sample_every_split (void)
{
  gsize length = strlen (sample);
  for (gsize i = 1; i < length; i++) {
    for (gsize j = i; j < length; j++) {
      g_auto (Recorder) recorder;
      g_autoptr (GError) error = NULL;
      gsize cuts[] = { i, j };
      recorder_init (&recorder);
      if (!parse_cut (sample, length, cuts, 2, &default_limits, &recorder, &error))
        g_error ("cut at %" G_GSIZE_FORMAT " and %" G_GSIZE_FORMAT ": %s", i, j, error->message);
      assert_sample (&recorder);
    }
  }
}

static void
test_sample_byte_by_byte (void)
{
  gsize length = strlen (sample);
  g_autofree gsize *cuts = g_new (gsize, length);
  g_auto (Recorder) recorder;
  g_autoptr (GError) error = NULL;

  for (gsize i = 0; i < length; i++)
    cuts[i] = i + 1;
  recorder_init (&recorder);
  g_assert_true (
      parse_cut (sample, length, cuts, (guint) length, &default_limits, &recorder, &error));
  g_assert_no_error (error);
  assert_sample (&recorder);
}

#define PART(name, content)                                                                        \
  "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"" name "\"\r\n\r\n" content "\r\n"
#define FILE_PART(name, filename, content)                                                         \
  "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"" name "\"; filename=\"" filename      \
  "\"\r\nContent-Type: application/octet-stream\r\n\r\n" content "\r\n"
#define CLOSE "--" BOUNDARY "--"

static void
test_line_breaks (void)
{
  g_autofree char *lf_only = parse_error (
      "--" BOUNDARY "\nContent-Disposition: form-data; name=\"a\"\n\nx\n--" BOUNDARY "--\n", NULL);
  g_assert_cmpstr (lf_only, ==, "a boundary line does not end with CRLF");
  g_autofree char *lf_headers = parse_error (
      "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"a\"\n\nx\r\n" CLOSE, NULL);
  g_assert_cmpstr (lf_headers, ==, "a header line of part 1 does not end with CRLF");
  g_autofree char *cr_alone
      = parse_error ("--" BOUNDARY "\rContent-Disposition: form-data; name=\"a\"\r\n", NULL);
  g_assert_cmpstr (cr_alone, ==, "a boundary line does not end with CRLF");
  g_autofree char *cr_in_header = parse_error (
      "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"a\"\rX: y\r\n\r\n\r\n" CLOSE, NULL);
  g_assert_cmpstr (cr_in_header, ==, "a header line of part 1 does not end with CRLF");
  g_autofree char *glued = parse_error ("--" BOUNDARY "x\r\n", NULL);
  g_assert_cmpstr (glued, ==, "a boundary line does not end with CRLF");

  /* A preamble of one empty line, CRs and LFs at the content's edges, no CRLF after the
   * final boundary. */
  g_auto (Recorder) recorder;
  g_autoptr (GError) error = NULL;
  recorder_init (&recorder);
  g_assert_true (parse ("\r\n" PART ("a", "\r") PART ("b", "\n") PART ("c", "\r\n\r\n") CLOSE, NULL,
                        &recorder, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (recorder.parts->len, ==, 3);
  assert_part (&recorder, 0, "a", NULL, NULL, "\r", 1);
  assert_part (&recorder, 1, "b", NULL, NULL, "\n", 1);
  assert_part (&recorder, 2, "c", NULL, NULL, "\r\n\r\n", 4);
}

static void
test_missing_final_boundary (void)
{
  g_autofree char *after_content = parse_error (PART ("a", "some text"), NULL);
  g_assert_cmpstr (after_content, ==, "it ends before the final boundary line '--" BOUNDARY "--'");
  g_autofree char *cut_content = parse_error ("--" BOUNDARY "\r\nContent-Disposition: "
                                              "form-data; name=\"a\"\r\n\r\nsome te",
                                              NULL);
  g_assert_cmpstr (cut_content, ==, after_content);
  g_autofree char *cut_headers
      = parse_error ("--" BOUNDARY "\r\nContent-Disposition: form-data", NULL);
  g_assert_cmpstr (cut_headers, ==, after_content);
  g_autofree char *half_close = parse_error (PART ("a", "x") "--" BOUNDARY "-", NULL);
  g_assert_cmpstr (half_close, ==, after_content);

  g_autofree char *no_boundary = parse_error ("just some text\r\n", NULL);
  g_assert_cmpstr (no_boundary, ==, "it holds no boundary line '--" BOUNDARY "'");
  g_autofree char *empty = parse_error ("", NULL);
  g_assert_cmpstr (empty, ==, no_boundary);
  g_autofree char *other_boundary = parse_error ("--other\r\n\r\n--other--\r\n", NULL);
  g_assert_cmpstr (other_boundary, ==, no_boundary);
  g_autofree char *no_parts = parse_error (CLOSE "\r\n", NULL);
  g_assert_cmpstr (no_parts, ==, "it has no parts");
}

static void
test_header_limits (void)
{
  SrMultipartLimits limits = { 64, 2 };
  /* 63 bytes of header line and its CRLF, and the blank line: 65. */
  g_autofree char *long_header = parse_error (
      "--" BOUNDARY
      "\r\nContent-Disposition: form-data; name=\"a\"; x=\"123456789012345\"\r\n\r\n\r\n" CLOSE,
      &limits);
  g_assert_cmpstr (long_header, ==, "the headers of part 1 are longer than 64 bytes");
  g_autofree char *endless = parse_error ("--" BOUNDARY "\r\nX-Endless: "
                                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                          &limits);
  g_assert_cmpstr (endless, ==, long_header);

  /* 64 bytes: taken. */
  g_auto (Recorder) recorder;
  g_autoptr (GError) error = NULL;
  recorder_init (&recorder);
  g_assert_true (parse (
      "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"a\"; x=\"12345678901234\"\r\n\r\n"
      "\r\n" CLOSE,
      &limits, &recorder, &error));
  g_assert_no_error (error);

  g_autofree char *too_many
      = parse_error (PART ("a", "1") PART ("b", "2") PART ("c", "3") CLOSE, &limits);
  g_assert_cmpstr (too_many, ==, "it has more than 2 parts");
}

static void
test_two_files (void)
{
  g_auto (Recorder) recorder;
  g_autoptr (GError) error = NULL;
  recorder_init (&recorder);
  g_assert_true (parse (FILE_PART ("file", "a.txt", "first file")
                            FILE_PART ("file", "b.pdf", "%PDF-1.4 second") CLOSE,
                        NULL, &recorder, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (recorder.parts->len, ==, 2);
  assert_part (&recorder, 0, "file", "a.txt", "application/octet-stream", "first file", 10);
  assert_part (&recorder, 1, "file", "b.pdf", "application/octet-stream", "%PDF-1.4 second", 15);
}

static void
test_empty_file (void)
{
  g_auto (Recorder) recorder;
  g_autoptr (GError) error = NULL;
  recorder_init (&recorder);
  g_assert_true (parse (FILE_PART ("file", "empty.txt", "") PART ("after", "") CLOSE, NULL,
                        &recorder, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (recorder.parts->len, ==, 2);
  assert_part (&recorder, 0, "file", "empty.txt", "application/octet-stream", "", 0);
  assert_part (&recorder, 1, "after", NULL, NULL, "", 0);
  /* A filename may be empty: what it means is the reader's business. */
  recorder_clear (&recorder);
  recorder_init (&recorder);
  g_assert_true (parse (FILE_PART ("file", "", "x") CLOSE, NULL, &recorder, &error));
  assert_part (&recorder, 0, "file", "", "application/octet-stream", "x", 1);
}

#define DISPOSITION(value)                                                                         \
  "--" BOUNDARY "\r\nContent-Disposition: " value "\r\n\r\ncontent\r\n" CLOSE

static void
assert_disposition (const char *body, const char *name, const char *filename)
{
  g_auto (Recorder) recorder;
  g_autoptr (GError) error = NULL;
  recorder_init (&recorder);
  g_assert_true (parse (body, NULL, &recorder, &error));
  g_assert_no_error (error);
  assert_part (&recorder, 0, name, filename, NULL, "content", 7);
}

static void
test_dispositions (void)
{
  assert_disposition (DISPOSITION ("FORM-DATA;name=plain"), "plain", NULL);
  assert_disposition (DISPOSITION ("form-data ; name=\"a\" ;filename=b.txt"), "a", "b.txt");
  /* Browsers send Windows paths as they are; a backslash escapes only a quote or itself. */
  assert_disposition (DISPOSITION ("form-data; name=\"f\"; filename=\"C:\\Users\\ann\\a.txt\""),
                      "f", "C:\\Users\\ann\\a.txt");
  assert_disposition (DISPOSITION ("form-data; name=\"f\"; filename=\"a\\\"b\\\\c;d=e\""), "f",
                      "a\"b\\c;d=e");
  assert_disposition (DISPOSITION ("form-data; name=\"f\"; filename=\"../../etc/passwd\""), "f",
                      "../../etc/passwd");
  assert_disposition (DISPOSITION ("form-data; name=\"f\"; filename*=UTF-8''x.txt; "
                                   "filename=\"r\xc3\xa9sum\xc3\xa9.txt\""),
                      "f", "r\xc3\xa9sum\xc3\xa9.txt");
  assert_disposition ("--" BOUNDARY "\r\nContent-Transfer-Encoding: binary\r\n"
                      "Content-Disposition: form-data; name=\"e\"\r\n\r\ncontent\r\n" CLOSE,
                      "e", NULL);
}

static void
test_bad_headers (void)
{
  static const struct {
    const char *body;
    const char *message;
  } cases[] = {
    { DISPOSITION ("form-data; filename=\"a.txt\""), "part 1 has no name" },
    { DISPOSITION ("form-data; name=\"\""), "part 1 has no name" },
    { DISPOSITION ("attachment; name=\"a\""),
      "the Content-Disposition of part 1 is not form-data" },
    { DISPOSITION ("form-data-x; name=\"a\""),
      "the Content-Disposition of part 1 is not form-data" },
    { DISPOSITION ("form-data; name=\"a"),
      "the Content-Disposition header of part 1 has an unterminated quoted string" },
    { DISPOSITION ("form-data; name=\"a\"; NAME=b"),
      "the Content-Disposition header of part 1 gives NAME twice" },
    { DISPOSITION ("form-data; name"), "the Content-Disposition header of part 1 is malformed" },
    { DISPOSITION ("form-data; name=a b"),
      "the Content-Disposition header of part 1 is malformed" },
    { DISPOSITION ("form-data; name=\"\xff\""), "the name of part 1 is not valid UTF-8" },
    { "--" BOUNDARY "\r\nContent-Type: text/plain\r\n\r\nx\r\n" CLOSE,
      "part 1 has no Content-Disposition header" },
    { "--" BOUNDARY "\r\n\r\nx\r\n" CLOSE, "part 1 has no Content-Disposition header" },
    { "--" BOUNDARY "\r\nContent-Disposition: form-data; name=a\r\n"
      "Content-Disposition: form-data; name=b\r\n\r\nx\r\n" CLOSE,
      "part 1 has two Content-Disposition headers" },
    { "--" BOUNDARY "\r\nContent-Disposition: form-data; name=a\r\n x=y\r\n\r\nx\r\n" CLOSE,
      "a header of part 1 is folded over two lines" },
    { "--" BOUNDARY "\r\nContent-Disposition form-data; name=a\r\n\r\nx\r\n" CLOSE,
      "a header line of part 1 is not 'Name: value'" },
    { "--" BOUNDARY "\r\n: form-data\r\n\r\nx\r\n" CLOSE,
      "a header line of part 1 is not 'Name: value'" },
    { "--" BOUNDARY "\r\nContent-Disposition: form-data; name=a\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\neA==\r\n" CLOSE,
      "part 1 has a Content-Transfer-Encoding other than binary; send the file's bytes as they "
      "are" },
    { PART ("ok", "x") "--" BOUNDARY "\r\nContent-Disposition: form-data\r\n\r\nx\r\n" CLOSE,
      "part 2 has no name" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *message = parse_error (cases[i].body, NULL);
    g_assert_cmpstr (message, ==, cases[i].message);
  }
  /* A NUL byte in the headers, which C strings would cut short. */
  static const char with_nul[] = "--" BOUNDARY "\r\nContent-Disposition: form-data; name=a\0b"
                                 "\r\n\r\nx\r\n" CLOSE;
  g_auto (Recorder) recorder;
  g_autoptr (GError) error = NULL;
  recorder_init (&recorder);
  g_assert_false (
      parse_cut (with_nul, sizeof with_nul - 1, NULL, 0, &default_limits, &recorder, &error));
  g_assert_cmpstr (error->message, ==,
                   "Invalid multipart body: the headers of part 1 hold a NUL "
                   "byte");
}

static void
test_boundaries (void)
{
  static const char *const valid[]
      = { "a", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "'()+_,-./:=? x",
          "0123456789012345678901234567890123456789"
          "012345678901234567890123456789" };
  static const char *const invalid[] = {
    "",
    "0123456789012345678901234567890123456789012345678901234567890123456789x",
    "ends in a space ",
    "quote\"",
    "semi;colon",
    "line\r\nbreak",
    "tab\t",
    "caf\xc3\xa9",
  };
  for (guint i = 0; i < G_N_ELEMENTS (valid); i++)
    g_assert_true (sr_multipart_boundary_is_valid (valid[i]));
  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    g_assert_false (sr_multipart_boundary_is_valid (invalid[i]));
}

/* A callback's error stops the parse and is the one returned. */
static void
test_callback_errors (void)
{
  g_auto (Recorder) recorder;
  g_autoptr (GError) error = NULL;
  recorder_init (&recorder);
  recorder.refuse = "b";
  g_assert_false (
      parse (PART ("a", "1") PART ("b", "2") PART ("c", "3") CLOSE, NULL, &recorder, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT);
  g_assert_cmpuint (recorder.parts->len, ==, 1);
  g_clear_error (&error);

  recorder_clear (&recorder);
  recorder_init (&recorder);
  recorder.refuse_data = TRUE;
  g_assert_false (parse (PART ("a", "1") CLOSE, NULL, &recorder, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
}

/* Megabytes pass through in the pieces they came in, never gathered. */
static void
test_large_content (void)
{
  gsize size = 4 * 1024 * 1024;
  g_autoptr (GString) body = g_string_new (FILE_PART ("file", "big.bin", ""));
  g_string_truncate (body, body->len - 2);
  for (gsize i = 0; i < size; i++)
    g_string_append_c (body, (char) ("\r\n-" BOUNDARY)[i % (3 + strlen (BOUNDARY))]);
  g_string_append (body, "\r\n" CLOSE);

  g_auto (Recorder) recorder;
  g_autoptr (GError) error = NULL;
  gsize cuts[64];
  for (guint i = 0; i < G_N_ELEMENTS (cuts); i++)
    cuts[i] = (i + 1) * (body->len / (G_N_ELEMENTS (cuts) + 1)) + i;
  recorder_init (&recorder);
  g_assert_true (parse_cut (body->str, body->len, cuts, G_N_ELEMENTS (cuts), &default_limits,
                            &recorder, &error));
  g_assert_no_error (error);
  Part *part = recorder.parts->pdata[0];
  g_assert_cmpuint (part->content->len, ==, size);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/multipart/sample/whole", test_sample_whole);
  g_test_add_func ("/multipart/sample/every-split", test_sample_every_split);
  g_test_add_func ("/multipart/sample/byte-by-byte", test_sample_byte_by_byte);
  g_test_add_func ("/multipart/line-breaks", test_line_breaks);
  g_test_add_func ("/multipart/missing-final-boundary", test_missing_final_boundary);
  g_test_add_func ("/multipart/header-limits", test_header_limits);
  g_test_add_func ("/multipart/two-files", test_two_files);
  g_test_add_func ("/multipart/empty-file", test_empty_file);
  g_test_add_func ("/multipart/dispositions", test_dispositions);
  g_test_add_func ("/multipart/bad-headers", test_bad_headers);
  g_test_add_func ("/multipart/boundaries", test_boundaries);
  g_test_add_func ("/multipart/callback-errors", test_callback_errors);
  g_test_add_func ("/multipart/large-content", test_large_content);
  return g_test_run ();
}
