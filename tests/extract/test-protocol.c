/* The helper's output stream: round trips, passed-through errors and strict refusals. */
#include <glib.h>
#include <string.h>

#include "common/errors.h"
#include "extract/protocol.h"

static SrExtracted *
sample (void)
{
  SrExtracted *extracted = sr_extracted_new (SR_FORMAT_PDF);
  extracted->title = g_strdup ("Größen");
  g_ptr_array_add (extracted->sections, sr_section_new ("First page.\n\nMore.", 1, "Intro"));
  g_ptr_array_add (extracted->sections, sr_section_new ("Second.", 2, "Intro > Détails"));
  return extracted;
}

static GByteArray *
encode (const SrExtracted *extracted)
{
  GByteArray *out = g_byte_array_new ();
  sr_protocol_append_start (out, extracted->format);
  sr_protocol_append_result (out, extracted);
  return out;
}

static void
test_round_trip (void)
{
  g_autoptr (SrExtracted) in = sample ();
  g_autoptr (GByteArray) bytes = encode (in);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) out = sr_protocol_decode (bytes->data, bytes->len, &error);

  g_assert_no_error (error);
  g_assert_cmpint (out->format, ==, SR_FORMAT_PDF);
  g_assert_cmpstr (out->title, ==, "Größen");
  g_assert_cmpuint (out->sections->len, ==, 2);
  for (guint i = 0; i < 2; i++) {
    const SrSection *a = g_ptr_array_index (in->sections, i);
    const SrSection *b = g_ptr_array_index (out->sections, i);
    g_assert_cmpstr (a->text, ==, b->text);
    g_assert_cmpstr (a->heading, ==, b->heading);
    g_assert_cmpuint (a->page, ==, b->page);
  }
  g_assert_cmpint (sr_protocol_peek_format (bytes->data, bytes->len), ==, SR_FORMAT_PDF);
}

static void
test_no_title (void)
{
  g_autoptr (SrExtracted) in = sr_extracted_new (SR_FORMAT_TEXT);
  g_autoptr (GByteArray) bytes = encode (in);
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) out = sr_protocol_decode (bytes->data, bytes->len, &error);

  g_assert_no_error (error);
  g_assert_null (out->title);
  g_assert_cmpuint (out->sections->len, ==, 0);
}

static void
test_error_passes_through (void)
{
  const SmartragError codes[] = { SMARTRAG_ERROR_UNSUPPORTED_FORMAT, SMARTRAG_ERROR_INVALID_ARGS,
                                  SMARTRAG_ERROR_TOO_LARGE };
  for (gsize i = 0; i < G_N_ELEMENTS (codes); i++) {
    g_autoptr (GError) sent = g_error_new (SMARTRAG_ERROR, codes[i], "message %zu ü", i);
    g_autoptr (GByteArray) bytes = g_byte_array_new ();
    sr_protocol_append_start (bytes, SR_FORMAT_DOCX);
    sr_protocol_append_error (bytes, sent);
    g_autoptr (GError) error = NULL;
    g_assert_null (sr_protocol_decode (bytes->data, bytes->len, &error));
    g_assert_error (error, SMARTRAG_ERROR, (int) codes[i]);
    g_assert_cmpstr (error->message, ==, sent->message);
  }
}

static void
test_foreign_error_is_failed (void)
{
  g_autoptr (GError) sent = g_error_new_literal (G_FILE_ERROR, G_FILE_ERROR_PERM, "no");
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  g_byte_array_append (bytes, (const guint8 *) SR_PROTOCOL_MAGIC, SR_PROTOCOL_MAGIC_LEN);
  sr_protocol_append_error (bytes, sent);
  g_autoptr (GError) error = NULL;
  g_assert_null (sr_protocol_decode (bytes->data, bytes->len, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "no");
}

static void
test_long_message_is_cut (void)
{
  g_autofree char *longer = g_strnfill (SR_PROTOCOL_MAX_MESSAGE * 2, 'a');
  /* A two-byte character straddling the cut must not be split. */
  memcpy (longer + SR_PROTOCOL_MAX_MESSAGE - 1, "é", 2);
  g_autoptr (GError) sent = g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED, longer);
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  sr_protocol_append_start (bytes, SR_FORMAT_TEXT);
  sr_protocol_append_error (bytes, sent);
  g_assert_cmpuint (bytes->len, <=, SR_PROTOCOL_ERROR_OVERHEAD);
  g_autoptr (GError) error = NULL;
  g_assert_null (sr_protocol_decode (bytes->data, bytes->len, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_cmpuint (strlen (error->message), ==, SR_PROTOCOL_MAX_MESSAGE - 1);
}

static void
assert_malformed (const guint8 *data, gsize length)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrExtracted) out = sr_protocol_decode (data, length, &error);
  g_assert_null (out);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "malformed"));
}

/* A helper that dies mid-write leaves a prefix; no prefix may pass as a result. */
static void
test_every_prefix_refused (void)
{
  g_autoptr (SrExtracted) in = sample ();
  g_autoptr (GByteArray) bytes = encode (in);
  for (gsize len = 0; len < bytes->len; len++)
    assert_malformed (bytes->data, len);
}

static void
test_trailing_data_refused (void)
{
  g_autoptr (SrExtracted) in = sample ();
  g_autoptr (GByteArray) bytes = encode (in);
  g_byte_array_append (bytes, (const guint8 *) "x", 1);
  assert_malformed (bytes->data, bytes->len);
}

static void
test_bad_records_refused (void)
{
  g_autoptr (SrExtracted) in = sample ();
  g_autoptr (GByteArray) good = encode (in);
  /* Offsets: magic 0-3, F record 4-12, T record from 13. */
  struct {
    gsize offset;
    guint8 value;
  } flips[] = {
    { 0, 'X' },   /* magic */
    { 4, 'Q' },   /* unknown record type */
    { 9, 99 },    /* unknown format */
    { 13, 'S' },  /* the title's bytes read as a section */
    { 18, 0 },    /* NUL inside the title */
    { 19, 0xc3 }, /* broken UTF-8 inside the title */
  };
  for (gsize i = 0; i < G_N_ELEMENTS (flips); i++) {
    g_autoptr (GByteArray) bad = g_byte_array_sized_new (good->len);
    g_byte_array_append (bad, good->data, good->len);
    bad->data[flips[i].offset] = flips[i].value;
    assert_malformed (bad->data, bad->len);
  }
}

static void
test_unknown_error_code_refused (void)
{
  g_autoptr (GError) sent = g_error_new_literal (SMARTRAG_ERROR, SMARTRAG_ERROR_BUSY, "x");
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  sr_protocol_append_start (bytes, SR_FORMAT_TEXT);
  sr_protocol_append_error (bytes, sent);
  bytes->data[18] = 0xff; /* the code, now past the last one */
  assert_malformed (bytes->data, bytes->len);
}

static void
test_result_without_format_refused (void)
{
  g_autoptr (SrExtracted) in = sample ();
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  g_byte_array_append (bytes, (const guint8 *) SR_PROTOCOL_MAGIC, SR_PROTOCOL_MAGIC_LEN);
  sr_protocol_append_result (bytes, in);
  assert_malformed (bytes->data, bytes->len);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/extract/protocol/round-trip", test_round_trip);
  g_test_add_func ("/extract/protocol/no-title", test_no_title);
  g_test_add_func ("/extract/protocol/error-passes-through", test_error_passes_through);
  g_test_add_func ("/extract/protocol/foreign-error-is-failed", test_foreign_error_is_failed);
  g_test_add_func ("/extract/protocol/long-message-is-cut", test_long_message_is_cut);
  g_test_add_func ("/extract/protocol/every-prefix-refused", test_every_prefix_refused);
  g_test_add_func ("/extract/protocol/trailing-data-refused", test_trailing_data_refused);
  g_test_add_func ("/extract/protocol/bad-records-refused", test_bad_records_refused);
  g_test_add_func ("/extract/protocol/unknown-error-code-refused", test_unknown_error_code_refused);
  g_test_add_func ("/extract/protocol/result-without-format-refused",
                   test_result_without_format_refused);
  return g_test_run ();
}
