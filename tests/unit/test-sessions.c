/* Unit tests for service/: session validation, ownership, quota, expiry, health, stop. */
#include "service/sessions.h"

#include <string.h>
#include <sys/statvfs.h>

#include "common/errors.h"
#include "common/ids.h"
#include "service/health.h"
#include "unit-helpers.h"

#define HOUR_US (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)

static const SrCaller alice = { 1000, FALSE, ":1.10" };
static const SrCaller bob = { 1001, FALSE, ":1.11" };
static const SrCaller root = { 0, TRUE, ":1.1" };
static const SrCaller admin = { 1002, TRUE, ":1.12" }; /* authorised by polkit, not root */

typedef struct {
  char *dir;
  SrService *service;
} Fixture;

static const SrLimits default_limits = {
  .max_title_bytes = 512,
  .max_context_bytes = 65536,
  .max_sessions_per_user = 10000,
  .session_expiry = 24 * 3600,
};

static SrService *
service_new (const char *dir, const SrLimits *limits)
{
  g_autoptr (GError) error = NULL;
  SrStore *store = sr_store_open (dir, &error);
  g_assert_no_error (error);
  return sr_service_new (store, dir, limits);
}

/* Tests that need other limits pass them as the fixture's data. */
static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = sr_test_make_tmpdir ();
  f->service = service_new (f->dir, data ? data : &default_limits);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->service, sr_service_free);
  sr_test_remove_tree (f->dir);
  g_free (f->dir);
}

static SrSessionRecord *
create (Fixture *f, const SrCaller *caller, const char *title, const char *context,
        gint64 expire_after)
{
  g_autoptr (GError) error = NULL;
  SrSessionSpec spec = { title, context, expire_after };
  SrSessionRecord *record = sr_sessions_create (f->service, caller, &spec, &error);
  g_assert_no_error (error);
  g_assert_nonnull (record);
  return record;
}

static char *
create_id (Fixture *f, const SrCaller *caller)
{
  g_autoptr (SrSessionRecord) record = create (f, caller, "t", NULL, -1);
  return g_steal_pointer (&record->id);
}

static guint
count_sessions (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) all = sr_sessions_list_visible (f->service, &root, &error);
  g_assert_no_error (error);
  return all->len;
}

static void
assert_invalid (GError *error, const char *message)
{
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==, message);
}

/* --- titles ---------------------------------------------------------------------- */

static void
assert_title_ok (Fixture *f, const char *title)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (sr_sessions_check_title (f->service, title, &error));
  g_assert_no_error (error);
}

static void
assert_title_refused (Fixture *f, const char *title, const char *message)
{
  g_autoptr (GError) error = NULL;
  g_assert_false (sr_sessions_check_title (f->service, title, &error));
  assert_invalid (error, message);

  /* Creation refuses it the same way and stores nothing. */
  g_clear_error (&error);
  SrSessionSpec spec = { title, NULL, -1 };
  g_autoptr (SrSessionRecord) record = sr_sessions_create (f->service, &alice, &spec, &error);
  g_assert_null (record);
  assert_invalid (error, message);
  g_assert_cmpuint (count_sessions (f), ==, 0);
}

static void
test_title_accepts (Fixture *f, gconstpointer data)
{
  g_autofree char *longest = g_strnfill (512, 'x');
  /* 256 two-byte characters: exactly the limit in bytes. */
  g_autoptr (GString) wide = g_string_new (NULL);
  for (guint i = 0; i < 256; i++)
    g_string_append (wide, "\xc3\xa9");

  assert_title_ok (f, "");
  assert_title_ok (f, "Quarterly report, draft 2 (v1.0) & notes: 100%");
  assert_title_ok (
      f, "Caf\xc3\xa9 \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x93\x9a");
  assert_title_ok (f, longest);
  assert_title_ok (f, wide->str);
}

static void
test_title_too_long (Fixture *f, gconstpointer data)
{
  g_autofree char *over = g_strnfill (513, 'x');
  g_autoptr (GString) wide = g_string_new (NULL);
  for (guint i = 0; i < 257; i++)
    g_string_append (wide, "\xc3\xa9");

  assert_title_refused (f, over, "Invalid title: longer than 512 bytes (513)");
  /* The limit is in bytes, not characters: 257 characters, 514 bytes. */
  assert_title_refused (f, wide->str, "Invalid title: longer than 512 bytes (514)");
}

static const SrLimits small_limits = {
  .max_title_bytes = 8,
  .max_context_bytes = 16,
  .max_sessions_per_user = 2,
  .session_expiry = 3600,
};

static void
test_title_limit_from_config (Fixture *f, gconstpointer data)
{
  assert_title_ok (f, "12345678");
  assert_title_refused (f, "123456789", "Invalid title: longer than 8 bytes (9)");
  assert_title_refused (f, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                        "Invalid title: longer than 8 bytes (10)");
}

static void
test_title_utf8 (Fixture *f, gconstpointer data)
{
  static const char *const bad[] = {
    "\xff",
    "abc\xc3",             /* cut in the middle of a character */
    "\xc0\xaf",            /* overlong "/" */
    "\xed\xa0\x80",        /* a UTF-16 surrogate */
    "ok \xf4\x90\x80\x80", /* past U+10FFFF */
    "caf\xe9",             /* Latin-1 */
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_title_refused (f, bad[i], "Invalid title: not valid UTF-8");
}

static void
test_title_control (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *title;
    const char *message;
  } cases[] = {
    { "a\nb", "Invalid title: control character at byte 1; a title is one line of text" },
    { "\tindented", "Invalid title: control character at byte 0; a title is one line of text" },
    { "line\r", "Invalid title: control character at byte 4; a title is one line of text" },
    { "bell\x07", "Invalid title: control character at byte 4; a title is one line of text" },
    { "esc\x1b[31mred", "Invalid title: control character at byte 3; a title is one line of text" },
    { "del\x7f", "Invalid title: control character at byte 3; a title is one line of text" },
    /* U+0085 (NEXT LINE), a C1 control, after a two-byte character: byte, not character,
     * offsets. */
    { "\xc3\xa9\xc2\x85", "Invalid title: control character at byte 2; a title is one line of "
                          "text" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_title_refused (f, cases[i].title, cases[i].message);
}

/* --- contexts -------------------------------------------------------------------- */

static char *
check_context (Fixture *f, const char *context, GError **error)
{
  return sr_sessions_check_context (f->service, context, error);
}

static void
assert_context_canonical (Fixture *f, const char *context, const char *canonical)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *out = check_context (f, context, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, canonical);
}

static void
assert_context_refused (Fixture *f, const char *context, const char *message)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *out = check_context (f, context, &error);
  g_assert_null (out);
  assert_invalid (error, message);
}

static void
assert_context_refused_prefix (Fixture *f, const char *context, const char *prefix)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *out = check_context (f, context, &error);
  g_test_message ("context %s", context);
  g_assert_null (out);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_test_message ("-> %s", error->message);
  g_assert_true (g_str_has_prefix (error->message, prefix));
}

static void
test_context_canonical (Fixture *f, gconstpointer data)
{
  assert_context_canonical (f, "{}", "{}");
  assert_context_canonical (f, "  {  }  ", "{}");
  assert_context_canonical (f, "{\n  \"b\" : [ 1 , 2 ] ,\n  \"a\" : \"x\"\n}\n",
                            "{\"b\":[1,2],\"a\":\"x\"}");
  assert_context_canonical (f, "{\"a\":{\"b\":{\"c\":[true,false,null]}}}",
                            "{\"a\":{\"b\":{\"c\":[true,false,null]}}}");
  assert_context_canonical (f, "{\"k\":\"caf\xc3\xa9\"}", "{\"k\":\"caf\xc3\xa9\"}");
  assert_context_canonical (f, "{\"q\":\"say \\\"hi\\\"\\n\"}", "{\"q\":\"say \\\"hi\\\"\\n\"}");
  assert_context_canonical (f, "{\"n\":-42}", "{\"n\":-42}");
  /* Canonical output is a fixed point. */
  g_autoptr (GError) error = NULL;
  g_autofree char *once = check_context (f, " { \"z\" : { \"y\" : [ ] } , \"x\" : 1 } ", &error);
  g_assert_no_error (error);
  g_autofree char *twice = check_context (f, once, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (once, ==, twice);
}

static void
test_context_non_object (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *context;
    const char *kind;
  } cases[] = {
    { "[]", "an array" },       { "[{\"a\":1}]", "an array" },
    { "\"text\"", "a string" }, { "42", "a number" },
    { "-1.5", "a number" },     { "true", "a boolean" },
    { "false", "a boolean" },   { "null", "null" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *message
        = g_strdup_printf ("Invalid context: expected a JSON object, got %s", cases[i].kind);
    g_test_message ("context %s", cases[i].context);
    assert_context_refused (f, cases[i].context, message);
  }
}

static void
test_context_empty (Fixture *f, gconstpointer data)
{
  assert_context_refused_prefix (f, "", "Invalid context: ");
  assert_context_refused_prefix (f, "   \n", "Invalid context: ");
}

/* Table-driven tests below report every failing case, not only the first, so one run
 * shows the whole extent of a problem. Inputs are escaped to keep the log one line each. */
static guint case_failed (const char *input, const char *format, ...) G_GNUC_PRINTF (2, 3);

static guint
case_failed (const char *input, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *what = g_strdup_vprintf (format, args);
  va_end (args);
  g_autofree char *escaped = g_strescape (input, NULL);
  g_test_message ("FAILED for %s: %s", escaped, what);
  return 1;
}

static void
cases_done (guint failed, guint total)
{
  if (failed > 0)
    g_test_fail_printf ("%u of %u cases failed (listed above)", failed, total);
}

static void
test_context_invalid_json (Fixture *f, gconstpointer data)
{
  static const char *const bad[] = {
    "{",
    "}",
    "{\"a\":}",
    "{a:1}",
    "not json",
    "{\"a\":1} trailing",
    "{\"a\" 1}",
    "{\"a\":\"unterminated}",
    "{\"a\":1,}",
    "{\"a\":[1,]}",
    "{\"a\":NaN}",
    "{\"a\":+1}",
    "{\"a\":TRUE}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_context_refused_prefix (f, bad[i], "Invalid context: not valid JSON: ");
}

/* Text that only a lenient parser reads as an object is not JSON; accepting it would
 * store something other than what the client meant (the second object below would be
 * dropped without a word). */
static void
test_context_strict_json (Fixture *f, gconstpointer data)
{
  static const char *const bad[] = {
    "{'a':1}", /* single quotes */
    "{\"a\":'x'}",
    "{\"a\":01}", /* leading zero */
    "{\"a\":.5}",
    "{\"a\":0x10}",         /* hexadecimal */
    "{/*note*/\"a\":1}",    /* comment */
    "{\"a\":1}\n{\"b\":2}", /* two documents */
    "{\"a\":\"x\ny\"}",     /* raw control character in a string */
  };

  guint failed = 0;
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *out = check_context (f, bad[i], &error);
    if (out != NULL)
      failed += case_failed (bad[i], "accepted as %s", out);
    else if (!g_error_matches (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS)
             || !g_str_has_prefix (error->message, "Invalid context: not valid JSON: "))
      failed += case_failed (bad[i], "refused with: %s", error->message);
  }
  cases_done (failed, G_N_ELEMENTS (bad));
}

/* Canonical form may drop whitespace, never change a value: a number outside what the
 * parser can hold, or a string with U+0000, is kept or refused, not altered. */
static void
test_context_lossless (Fixture *f, gconstpointer data)
{
  static const char *const texts[] = {
    "{\"a\":9223372036854775807}",   "{\"a\":9223372036854775808}", "{\"a\":-9223372036854775809}",
    "{\"id\":12345678901234567890}", "{\"a\":\"\\u0000x\"}",
  };

  guint failed = 0;
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *out = check_context (f, texts[i], &error);
    if (out == NULL && !g_error_matches (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS))
      failed += case_failed (texts[i], "refused with: %s", error->message);
    else if (out != NULL && !g_str_equal (out, texts[i]))
      failed += case_failed (texts[i], "changed to %s", out);
  }
  cases_done (failed, G_N_ELEMENTS (texts));
}

/* Whatever a client sends, the answer is "invalid" or success, never an internal
 * failure from the database refusing what validation let through. */
static void
test_context_no_internal_error (Fixture *f, gconstpointer data)
{
  static const char *const texts[] = {
    "{\"a\":1e400}",
    "{\"a\":-1e400}",
    "{\"a\":[1e999,2]}",
  };

  guint failed = 0;
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++) {
    g_autoptr (GError) error = NULL;
    SrSessionSpec spec = { "t", texts[i], -1 };
    g_autoptr (SrSessionRecord) r = sr_sessions_create (f->service, &alice, &spec, &error);
    if (r == NULL && !g_error_matches (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS))
      failed += case_failed (texts[i], "%s error: %s",
                             smartrag_error_slug (smartrag_error_code (error)), error->message);
  }
  cases_done (failed, G_N_ELEMENTS (texts));
}

static void
test_context_utf8 (Fixture *f, gconstpointer data)
{
  assert_context_refused (f, "{\"a\":\"\xff\"}", "Invalid context: not valid UTF-8");
  assert_context_refused (f, "{\"caf\xe9\":1}", "Invalid context: not valid UTF-8");
}

static const SrLimits roomy_limits = {
  .max_title_bytes = 512,
  .max_context_bytes = 16 * 1024 * 1024,
  .max_sessions_per_user = 0,
  .session_expiry = 0,
};

static const SrLimits hour_limits = {
  .max_title_bytes = 512,
  .max_context_bytes = 65536,
  .max_sessions_per_user = 0,
  .session_expiry = 3600,
};

/* json-glib recurses per level; 100,000 of them must be refused before parsing. */
static void
test_context_depth_bomb (Fixture *f, gconstpointer data)
{
  g_autofree char *arrays = g_strnfill (100000, '[');
  assert_context_refused (f, arrays, "Invalid context: nested deeper than 64 levels");

  g_autoptr (GString) objects = g_string_new (NULL);
  for (guint i = 0; i < 100000; i++)
    g_string_append (objects, "{\"a\":");
  assert_context_refused (f, objects->str, "Invalid context: nested deeper than 64 levels");

  /* Balanced, so it is the depth and not the syntax that is refused. */
  g_autoptr (GString) balanced = g_string_new ("{\"a\":");
  for (guint i = 0; i < 5000; i++)
    g_string_append_c (balanced, '[');
  for (guint i = 0; i < 5000; i++)
    g_string_append_c (balanced, ']');
  g_string_append_c (balanced, '}');
  assert_context_refused (f, balanced->str, "Invalid context: nested deeper than 64 levels");
}

/* The depth check must see nesting the way the parser does. A double quote hidden where
 * the parser does not read a string (inside a single-quoted string or a comment, both of
 * which json-glib accepts) must not make the check skip the brackets that follow. Run in
 * a subprocess: when the check is fooled, the parser's recursion overflows the stack. */
static void
test_context_depth_bomb_disguised (void)
{
  static const char *const prefixes[] = {
    "{'k':'\"','x':",
    "{/*\"*/\"a\":",
  };

  if (g_test_subprocess ()) {
    const char *dir = g_getenv ("SR_TEST_STATE_DIR");
    g_assert_nonnull (dir);
    g_autoptr (SrService) service = service_new (dir, &roomy_limits);
    guint failed = 0;

    for (guint i = 0; i < G_N_ELEMENTS (prefixes); i++) {
      g_autoptr (GString) text = g_string_new (prefixes[i]);
      for (guint j = 0; j < 100000; j++)
        g_string_append_c (text, '[');
      for (guint j = 0; j < 100000; j++)
        g_string_append_c (text, ']');
      g_string_append_c (text, '}');

      g_autoptr (GError) error = NULL;
      g_autofree char *out = sr_sessions_check_context (service, text->str, &error);
      if (out != NULL)
        failed += case_failed (prefixes[i], "100000 levels behind this were accepted");
      else if (!g_error_matches (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS))
        failed += case_failed (prefixes[i], "refused with: %s", error->message);
    }
    cases_done (failed, G_N_ELEMENTS (prefixes));
    return;
  }

  /* Made and removed here, since a crashing subprocess cannot clean up. */
  g_autofree char *dir = sr_test_make_tmpdir ();
  g_setenv ("SR_TEST_STATE_DIR", dir, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT);
  g_unsetenv ("SR_TEST_STATE_DIR");
  sr_test_remove_tree (dir);
  if (!g_test_trap_has_passed ())
    g_test_fail_printf ("a disguised nesting bomb was not refused (the subprocess %s)",
                        g_test_trap_reached_timeout () ? "timed out" : "failed or crashed");
}

static GString *
nested (guint levels)
{
  /* One object around levels - 1 arrays. */
  GString *text = g_string_new ("{\"a\":");
  for (guint i = 1; i < levels; i++)
    g_string_append_c (text, '[');
  for (guint i = 1; i < levels; i++)
    g_string_append_c (text, ']');
  g_string_append_c (text, '}');
  return text;
}

static void
test_context_depth_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (GString) deepest = nested (64);
  g_autoptr (GString) too_deep = nested (65);

  assert_context_canonical (f, deepest->str, deepest->str);
  assert_context_refused (f, too_deep->str, "Invalid context: nested deeper than 64 levels");
}

/* Brackets inside strings are text, not nesting, escaped quotes included. */
static void
test_context_brackets_in_strings (Fixture *f, gconstpointer data)
{
  g_autofree char *brackets = g_strnfill (1000, '[');
  g_autofree char *plain = g_strdup_printf ("{\"s\":\"%s\"}", brackets);
  g_autofree char *escaped = g_strdup_printf ("{\"s\":\"\\\"%s\\\\\",\"t\":\"{{{\"}", brackets);

  assert_context_canonical (f, plain, plain);
  assert_context_canonical (f, escaped, escaped);
}

/* The default limit applies before anything else is looked at. */
static void
test_context_depth_bomb_default_limit (Fixture *f, gconstpointer data)
{
  g_autofree char *arrays = g_strnfill (100000, '[');
  assert_context_refused (f, arrays, "Invalid context: longer than 65536 bytes (100000)");
}

static void
test_context_size (Fixture *f, gconstpointer data)
{
  /* small_limits: 16 bytes. */
  assert_context_canonical (f, "{\"abcdefghij\":1}", "{\"abcdefghij\":1}");
  assert_context_refused (f, "{\"abcdefghijk\":1}", "Invalid context: longer than 16 bytes (17)");
  /* The limit is on what the caller sends, whitespace included. */
  assert_context_refused (f, "{ \"abcdefghij\":1}", "Invalid context: longer than 16 bytes (17)");
}

static void
test_context_stored_canonical (Fixture *f, gconstpointer data)
{
  g_autoptr (SrSessionRecord) created = create (f, &alice, "t", " { \"lang\" : \"de\" } ", -1);
  g_assert_cmpstr (created->context, ==, "{\"lang\":\"de\"}");

  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) read = sr_sessions_get (f->service, &alice, created->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (read->context, ==, "{\"lang\":\"de\"}");

  g_autoptr (SrSessionRecord) changed
      = sr_sessions_set_context (f->service, &alice, created->id, "{ \"n\" : [ 1 ] }", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (changed->context, ==, "{\"n\":[1]}");
}

/* --- create, read, change, delete ------------------------------------------------ */

static void
test_create_defaults (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  SrSessionSpec spec = SR_SESSION_SPEC_INIT;
  gint64 before = g_get_real_time ();
  g_autoptr (SrSessionRecord) r = sr_sessions_create (f->service, &alice, &spec, &error);
  gint64 after = g_get_real_time ();

  g_assert_no_error (error);
  g_assert_true (sr_id_is_valid (r->id));
  g_assert_cmpuint (r->owner_uid, ==, alice.uid);
  g_assert_cmpstr (r->title, ==, "");
  g_assert_cmpstr (r->context, ==, "{}");
  g_assert_cmpint (r->expire_after, ==, -1);
  g_assert_cmpint (r->created_at, >=, before);
  g_assert_cmpint (r->created_at, <=, after);
  g_assert_cmpint (r->last_active, ==, r->created_at);
  g_assert_cmpuint (r->message_count, ==, 0);
  g_assert_cmpuint (r->document_count, ==, 0);
}

static void
test_create_and_get (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) made = create (f, &alice, "Reading list", "{\"lang\":\"en\"}", 7200);
  g_autoptr (SrSessionRecord) got = sr_sessions_get (f->service, &alice, made->id, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (got->id, ==, made->id);
  g_assert_cmpuint (got->owner_uid, ==, alice.uid);
  g_assert_cmpstr (got->title, ==, "Reading list");
  g_assert_cmpstr (got->context, ==, "{\"lang\":\"en\"}");
  g_assert_cmpint (got->expire_after, ==, 7200);
  g_assert_cmpint (got->created_at, ==, made->created_at);

  guint32 owner = 0;
  g_assert_true (sr_sessions_exists (f->service, made->id, &owner, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (owner, ==, alice.uid);
}

static void
test_create_expire_after (Fixture *f, gconstpointer data)
{
  static const gint64 good[] = { -1, 0, 1, 3600, (gint64) 3650 * 24 * 3600 };
  static const gint64 bad[] = { -2, G_MININT64, (gint64) 3650 * 24 * 3600 + 1, G_MAXINT64 };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++) {
    g_autoptr (SrSessionRecord) r = create (f, &alice, "", NULL, good[i]);
    g_assert_cmpint (r->expire_after, ==, good[i]);
  }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    SrSessionSpec spec = { "", NULL, bad[i] };
    g_autoptr (SrSessionRecord) r = sr_sessions_create (f->service, &alice, &spec, &error);
    g_assert_null (r);
    assert_invalid (error, "Invalid expire_after: expected seconds from 0 (never) to ten years");
  }
  g_assert_cmpuint (count_sessions (f), ==, G_N_ELEMENTS (good));
}

static void
test_create_bad_context (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  SrSessionSpec spec = { "fine", "[1,2]", -1 };
  g_autoptr (SrSessionRecord) r = sr_sessions_create (f->service, &alice, &spec, &error);

  g_assert_null (r);
  assert_invalid (error, "Invalid context: expected a JSON object, got an array");
  g_assert_cmpuint (count_sessions (f), ==, 0);
}

static void
test_ids_unique (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < 50; i++) {
    char *id = create_id (f, &alice);
    g_assert_false (g_hash_table_contains (seen, id));
    g_hash_table_add (seen, id);
  }
}

static void
test_list (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *a1 = create_id (f, &alice);
  g_autofree char *b1 = create_id (f, &bob);
  g_autofree char *a2 = create_id (f, &alice);

  g_autoptr (GPtrArray) mine = sr_sessions_list (f->service, &alice, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mine->len, ==, 2);
  g_assert_cmpstr (mine->pdata[0], ==, a1);
  g_assert_cmpstr (mine->pdata[1], ==, a2);

  g_autoptr (GPtrArray) his = sr_sessions_list (f->service, &bob, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (his->len, ==, 1);
  g_assert_cmpstr (his->pdata[0], ==, b1);

  /* ListSessions is "the caller's own" even for an administrator. */
  g_autoptr (GPtrArray) roots = sr_sessions_list (f->service, &root, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (roots->len, ==, 0);
}

static void
test_list_visible (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *a1 = create_id (f, &alice);
  g_autofree char *b1 = create_id (f, &bob);

  g_autoptr (GPtrArray) alices = sr_sessions_list_visible (f->service, &alice, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (alices->len, ==, 1);
  g_assert_cmpstr (alices->pdata[0], ==, a1);

  const SrCaller *admins[] = { &root, &admin };
  for (guint i = 0; i < G_N_ELEMENTS (admins); i++) {
    g_autoptr (GPtrArray) all = sr_sessions_list_visible (f->service, admins[i], &error);
    g_assert_no_error (error);
    g_assert_cmpuint (all->len, ==, 2);
    g_assert_true (g_ptr_array_find_with_equal_func (all, a1, g_str_equal, NULL));
    g_assert_true (g_ptr_array_find_with_equal_func (all, b1, g_str_equal, NULL));
  }

  /* Being uid 0 is not what counts; the admin flag is (the faces set it for root). */
  const SrCaller plain_zero = { 0, FALSE, ":1.2" };
  g_autoptr (GPtrArray) none = sr_sessions_list_visible (f->service, &plain_zero, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);
}

static char *
unknown_message (const char *id)
{
  return g_strdup_printf ("Session '%s' does not exist or you may not access it", id);
}

static void
assert_unknown (GError *error, const char *id)
{
  g_autofree char *message = unknown_message (id);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT);
  g_assert_cmpstr (error->message, ==, message);
}

/* Every operation on @id by @caller fails as if the session did not exist. */
static void
assert_invisible (Fixture *f, const SrCaller *caller, const char *id)
{
  g_autoptr (GError) error = NULL;

  g_autoptr (SrSessionRecord) got = sr_sessions_get (f->service, caller, id, &error);
  g_assert_null (got);
  assert_unknown (error, id);
  g_clear_error (&error);

  g_autoptr (SrSessionRecord) titled
      = sr_sessions_set_title (f->service, caller, id, "mine", &error);
  g_assert_null (titled);
  assert_unknown (error, id);
  g_clear_error (&error);

  /* Even invalid values give the same answer, so validation cannot be used to probe. */
  g_autoptr (SrSessionRecord) bad_title
      = sr_sessions_set_title (f->service, caller, id, "a\nb", &error);
  g_assert_null (bad_title);
  assert_unknown (error, id);
  g_clear_error (&error);

  g_autoptr (SrSessionRecord) ctx = sr_sessions_set_context (f->service, caller, id, "{}", &error);
  g_assert_null (ctx);
  assert_unknown (error, id);
  g_clear_error (&error);

  g_autoptr (SrSessionRecord) bad_ctx
      = sr_sessions_set_context (f->service, caller, id, "[", &error);
  g_assert_null (bad_ctx);
  assert_unknown (error, id);
  g_clear_error (&error);

  g_assert_false (sr_sessions_delete (f->service, caller, id, &error));
  assert_unknown (error, id);
}

static void
test_foreign_looks_absent (Fixture *f, gconstpointer data)
{
  g_autoptr (SrSessionRecord) mine = create (f, &alice, "private", "{\"secret\":1}", -1);
  g_autofree char *random_id = sr_id_new ();

  assert_invisible (f, &bob, mine->id);
  assert_invisible (f, &bob, random_id);
  assert_invisible (f, &alice, random_id);

  /* The two answers differ only in the id they quote. */
  g_autoptr (GError) foreign = NULL;
  g_autoptr (GError) absent = NULL;
  g_autoptr (SrSessionRecord) r1 = sr_sessions_get (f->service, &bob, mine->id, &foreign);
  g_autoptr (SrSessionRecord) r2 = sr_sessions_get (f->service, &bob, random_id, &absent);
  g_assert_cmpint (foreign->code, ==, absent->code);
  g_autofree char *foreign_text = g_strdup (foreign->message);
  char *at = strstr (foreign_text, mine->id);
  g_assert_nonnull (at);
  memcpy (at, random_id, SR_ID_LENGTH);
  g_assert_cmpstr (foreign_text, ==, absent->message);

  /* Nothing bob tried changed alice's session. */
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) kept = sr_sessions_get (f->service, &alice, mine->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kept->title, ==, "private");
  g_assert_cmpstr (kept->context, ==, "{\"secret\":1}");
  g_assert_cmpint (kept->last_active, ==, mine->last_active);
}

static void
test_admin_reaches_all (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const SrCaller *admins[] = { &root, &admin };

  for (guint i = 0; i < G_N_ELEMENTS (admins); i++) {
    g_autofree char *id = create_id (f, &bob);
    g_autoptr (SrSessionRecord) got = sr_sessions_get (f->service, admins[i], id, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (got->owner_uid, ==, bob.uid);

    g_autoptr (SrSessionRecord) titled
        = sr_sessions_set_title (f->service, admins[i], id, "moderated", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (titled->title, ==, "moderated");
    /* The owner stays the owner. */
    g_assert_cmpuint (titled->owner_uid, ==, bob.uid);

    g_assert_true (sr_sessions_delete (f->service, admins[i], id, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpuint (count_sessions (f), ==, 0);

  /* An administrator's unknown id is still just unknown. */
  g_autofree char *random_id = sr_id_new ();
  g_autoptr (SrSessionRecord) none = sr_sessions_get (f->service, &root, random_id, &error);
  g_assert_null (none);
  assert_unknown (error, random_id);
}

static void
test_malformed_ids (Fixture *f, gconstpointer data)
{
  g_autofree char *real = create_id (f, &alice);
  g_autofree char *upper = g_ascii_strup (real, -1);
  const char *bad[] = { "", "xyz", "0123456789abcdef0123456789abcde", upper, "../etc/passwd" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *message = g_strdup_printf ("Invalid session id '%s': expected 32 lowercase "
                                                "hexadecimal characters",
                                                bad[i]);
    guint32 owner = 0;

    g_autoptr (SrSessionRecord) got = sr_sessions_get (f->service, &alice, bad[i], &error);
    g_assert_null (got);
    assert_invalid (error, message);
    g_clear_error (&error);
    g_assert_false (sr_sessions_delete (f->service, &alice, bad[i], &error));
    assert_invalid (error, message);
    g_clear_error (&error);
    g_assert_false (sr_sessions_exists (f->service, bad[i], &owner, &error));
    g_assert_no_error (error);
  }
}

/* Over HTTP an id is whatever the URL held; the error quoting it must still be UTF-8
 * (JSON and D-Bus carry nothing else) and of bounded size. */
static void
test_malformed_id_message (Fixture *f, gconstpointer data)
{
  g_autofree char *huge = g_strnfill (100000, 'a');
  const char *ids[] = { "\xff\xfe", "caf\xe9", huge };
  guint failed = 0;

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (SrSessionRecord) got = sr_sessions_get (f->service, &alice, ids[i], &error);
    g_autofree char *shown = g_strndup (ids[i], 16);
    g_assert_null (got);
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
    if (!g_utf8_validate (error->message, -1, NULL))
      failed += case_failed (shown, "the error message is not valid UTF-8");
    else if (strlen (error->message) > 1024)
      failed += case_failed (shown, "the error message is %zu bytes long", strlen (error->message));
  }
  cases_done (failed, G_N_ELEMENTS (ids));
}

static void
test_set_title (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) made = create (f, &alice, "old", NULL, -1);
  g_autoptr (SrSessionRecord) changed
      = sr_sessions_set_title (f->service, &alice, made->id, "new \xe2\x9c\x93", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (changed->title, ==, "new \xe2\x9c\x93");
  g_assert_cmpint (changed->last_active, >=, made->last_active);
  g_assert_cmpint (changed->created_at, ==, made->created_at);

  g_autoptr (SrSessionRecord) refused
      = sr_sessions_set_title (f->service, &alice, made->id, "two\nlines", &error);
  g_assert_null (refused);
  assert_invalid (error, "Invalid title: control character at byte 3; a title is one line of "
                         "text");
  g_clear_error (&error);
  g_autoptr (SrSessionRecord) kept = sr_sessions_get (f->service, &alice, made->id, &error);
  g_assert_cmpstr (kept->title, ==, "new \xe2\x9c\x93");
}

static void
test_set_context (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) made = create (f, &alice, "", "{\"v\":1}", -1);

  g_autoptr (SrSessionRecord) refused
      = sr_sessions_set_context (f->service, &alice, made->id, "\"just text\"", &error);
  g_assert_null (refused);
  assert_invalid (error, "Invalid context: expected a JSON object, got a string");
  g_clear_error (&error);

  g_autoptr (SrSessionRecord) kept = sr_sessions_get (f->service, &alice, made->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kept->context, ==, "{\"v\":1}");

  g_autoptr (SrSessionRecord) changed
      = sr_sessions_set_context (f->service, &alice, made->id, "{\"v\":2}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (changed->context, ==, "{\"v\":2}");
}

static void
test_delete (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = create_id (f, &alice);
  g_autofree char *other = create_id (f, &alice);

  g_assert_true (sr_sessions_delete (f->service, &alice, id, &error));
  g_assert_no_error (error);

  g_autoptr (SrSessionRecord) gone = sr_sessions_get (f->service, &alice, id, &error);
  g_assert_null (gone);
  assert_unknown (error, id);
  g_clear_error (&error);
  g_assert_false (sr_sessions_delete (f->service, &alice, id, &error));
  assert_unknown (error, id);
  g_clear_error (&error);

  guint32 owner;
  g_assert_false (sr_sessions_exists (f->service, id, &owner, &error));
  g_assert_no_error (error);
  g_autoptr (GPtrArray) left = sr_sessions_list (f->service, &alice, &error);
  g_assert_cmpuint (left->len, ==, 1);
  g_assert_cmpstr (left->pdata[0], ==, other);
}

/* --- quota ----------------------------------------------------------------------- */

static void
test_quota (Fixture *f, gconstpointer data)
{
  /* small_limits: two sessions each. */
  g_autoptr (GError) error = NULL;
  g_autofree char *first = create_id (f, &alice);
  g_autofree char *second = create_id (f, &alice);
  SrSessionSpec spec = SR_SESSION_SPEC_INIT;

  g_autoptr (SrSessionRecord) third = sr_sessions_create (f->service, &alice, &spec, &error);
  g_assert_null (third);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE);
  g_assert_cmpstr (error->message, ==,
                   "You already have 2 sessions, the most allowed ([limits] "
                   "max_sessions_per_user); delete some first");
  g_clear_error (&error);

  /* Per user: bob is not affected by alice's count. */
  g_autofree char *bobs = create_id (f, &bob);

  /* Room again after a delete. */
  g_assert_true (sr_sessions_delete (f->service, &alice, first, &error));
  g_autofree char *again = create_id (f, &alice);
  g_assert_cmpuint (count_sessions (f), ==, 3);
}

static void
test_quota_unlimited (Fixture *f, gconstpointer data)
{
  /* roomy_limits: 0 means no limit. */
  for (guint i = 0; i < 30; i++) {
    g_autofree char *id = create_id (f, &alice);
  }
  g_assert_cmpuint (count_sessions (f), ==, 30);
}

/* --- expiry ---------------------------------------------------------------------- */

static void
age (Fixture *f, const char *id, gint64 idle_us)
{
  sqlite3 *db = sr_store_db (sr_service_store (f->service));
  g_autofree char *sql
      = g_strdup_printf ("UPDATE sessions SET last_active = %" G_GINT64_FORMAT " WHERE id = '%s'",
                         g_get_real_time () - idle_us, id);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_changes (db), ==, 1);
}

static void
test_expire (Fixture *f, gconstpointer data)
{
  /* hour_limits: sessions idle for an hour go. */
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) by_default = create (f, &alice, "default", NULL, -1);
  g_autoptr (SrSessionRecord) fresh = create (f, &bob, "fresh", NULL, -1);
  g_autoptr (SrSessionRecord) forever = create (f, &bob, "forever", NULL, 0);
  g_autoptr (SrSessionRecord) short_lived = create (f, &alice, "short", NULL, 60);
  g_autoptr (SrSessionRecord) long_lived = create (f, &bob, "long", NULL, 3 * 3600);
  guint removed = 99;

  age (f, by_default->id, 2 * HOUR_US);
  age (f, forever->id, 1000 * HOUR_US);
  age (f, short_lived->id, 2 * 60 * G_USEC_PER_SEC);
  age (f, long_lived->id, 2 * HOUR_US);

  g_assert_true (sr_sessions_expire (f->service, &removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (removed, ==, 2);

  g_autoptr (GPtrArray) left = sr_sessions_list_visible (f->service, &root, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (left->len, ==, 3);
  g_assert_true (g_ptr_array_find_with_equal_func (left, fresh->id, g_str_equal, NULL));
  g_assert_true (g_ptr_array_find_with_equal_func (left, forever->id, g_str_equal, NULL));
  g_assert_true (g_ptr_array_find_with_equal_func (left, long_lived->id, g_str_equal, NULL));

  /* Nothing more is due; the count is optional. */
  g_assert_true (sr_sessions_expire (f->service, NULL, &error));
  g_assert_true (sr_sessions_expire (f->service, &removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (removed, ==, 0);
}

/* A default of 0 keeps sessions that follow it; their own expiry still applies. */
static void
test_expire_never (Fixture *f, gconstpointer data)
{
  /* roomy_limits: session_expiry 0. */
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) by_default = create (f, &alice, "default", NULL, -1);
  g_autoptr (SrSessionRecord) own = create (f, &alice, "own", NULL, 60);
  guint removed = 0;

  age (f, by_default->id, 100000 * HOUR_US);
  age (f, own->id, HOUR_US);
  g_assert_true (sr_sessions_expire (f->service, &removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (removed, ==, 1);

  g_autoptr (SrSessionRecord) kept = sr_sessions_get (f->service, &alice, by_default->id, &error);
  g_assert_no_error (error);
  g_autoptr (SrSessionRecord) gone = sr_sessions_get (f->service, &alice, own->id, &error);
  g_assert_null (gone);
  assert_unknown (error, own->id);
}

/* Changing a session counts as activity and postpones its expiry. */
static void
test_expire_activity (Fixture *f, gconstpointer data)
{
  /* hour_limits: an hour. */
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) s = create (f, &alice, "t", NULL, -1);
  guint removed = 99;

  age (f, s->id, 2 * HOUR_US);
  g_autoptr (SrSessionRecord) touched
      = sr_sessions_set_title (f->service, &alice, s->id, "u", &error);
  g_assert_no_error (error);
  g_assert_true (sr_sessions_expire (f->service, &removed, &error));
  g_assert_cmpuint (removed, ==, 0);
}

/* --- health ---------------------------------------------------------------------- */

static SrHealthStatus
status_of (GVariant *component)
{
  const char *name = NULL;
  g_assert_true (g_variant_lookup (component, "status", "&s", &name));
  for (SrHealthStatus s = SR_HEALTH_OK; s <= SR_HEALTH_FAILING; s++)
    if (g_str_equal (name, sr_health_status_name (s)))
      return s;
  g_error ("unknown health status '%s'", name);
}

static void
test_health_status_names (void)
{
  g_assert_cmpstr (sr_health_status_name (SR_HEALTH_OK), ==, "ok");
  g_assert_cmpstr (sr_health_status_name (SR_HEALTH_DEGRADED), ==, "degraded");
  g_assert_cmpstr (sr_health_status_name (SR_HEALTH_FAILING), ==, "failing");
}

/* A recent report answers again within its age, and a new check follows after it. */
static void
test_health_recent (Fixture *f, gconstpointer data)
{
  g_autoptr (GVariant) first = NULL;
  g_autoptr (GVariant) again = NULL;
  g_autoptr (GVariant) fresh = NULL;
  sr_health_check_recent (f->service, G_TIME_SPAN_HOUR, &first);
  sr_health_check_recent (f->service, G_TIME_SPAN_HOUR, &again);
  g_assert_true (first == again);
  g_usleep (2000);
  sr_health_check_recent (f->service, 1000, &fresh);
  g_assert_false (fresh == first);
  g_assert_cmpuint (g_variant_n_children (fresh), ==, g_variant_n_children (first));
}

static void
test_health (Fixture *f, gconstpointer data)
{
  g_autoptr (GVariant) components = NULL;
  SrHealthStatus overall = sr_health_check (f->service, &components);

  g_assert_nonnull (components);
  g_assert_cmpstr (g_variant_get_type_string (components), ==, "a{sv}");
  g_assert_cmpuint (g_variant_n_children (components), ==, 6);

  g_autoptr (GVariant) memory
      = g_variant_lookup_value (components, "memory", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (memory);
  guint64 resident = 0, available = 0, total = 0;
  g_assert_true (g_variant_lookup (memory, "resident_bytes", "t", &resident));
  g_assert_true (g_variant_lookup (memory, "available_bytes", "t", &available));
  g_assert_true (g_variant_lookup (memory, "total_bytes", "t", &total));
  g_assert_cmpuint (resident, >, 0);
  g_assert_cmpuint (available, <=, total);

  g_autoptr (GVariant) db = g_variant_lookup_value (components, "db", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (db);
  g_assert_cmpint (status_of (db), ==, SR_HEALTH_OK);
  const char *message = NULL, *path = NULL;
  guint32 version = 0;
  guint64 latency = 0;
  g_assert_true (g_variant_lookup (db, "message", "&s", &message));
  g_assert_cmpstr (message, ==, "database is writable");
  g_assert_true (g_variant_lookup (db, "path", "&s", &path));
  g_autofree char *db_path = g_build_filename (f->dir, SR_STORE_FILENAME, NULL);
  g_assert_cmpstr (path, ==, db_path);
  g_assert_true (g_variant_lookup (db, "schema_version", "u", &version));
  g_assert_cmpuint (version, ==, sr_store_latest_version ());
  g_assert_true (g_variant_lookup (db, "latency_us", "t", &latency));

  g_autoptr (GVariant) disk = g_variant_lookup_value (components, "disk", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (disk);
  guint64 free_bytes = 0, total_bytes = 0;
  g_assert_true (g_variant_lookup (disk, "path", "&s", &path));
  g_assert_cmpstr (path, ==, f->dir);
  g_assert_true (g_variant_lookup (disk, "free_bytes", "t", &free_bytes));
  g_assert_true (g_variant_lookup (disk, "total_bytes", "t", &total_bytes));
  g_assert_cmpuint (free_bytes, <=, total_bytes);
  g_assert_cmpuint (total_bytes, >, 0);
  g_assert_true (g_variant_lookup (disk, "message", "&s", &message));
  g_assert_cmpstr (message, !=, "");

  /* Documents were never started here: no graphs, and still a report. */
  g_autoptr (GVariant) index = g_variant_lookup_value (components, "index", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (index);
  g_assert_cmpint (status_of (index), ==, SR_HEALTH_OK);
  guint32 loaded = 1;
  g_assert_true (g_variant_lookup (index, "sessions_loaded", "u", &loaded));
  g_assert_cmpuint (loaded, ==, 0);
  g_autoptr (GVariant) embedding
      = g_variant_lookup_value (components, "embedding", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (embedding);
  g_assert_cmpint (status_of (embedding), ==, SR_HEALTH_OK);
  const char *embedding_message = NULL;
  g_assert_true (g_variant_lookup (embedding, "message", "&s", &embedding_message));
  g_assert_cmpstr (embedding_message, ==, "documents are not processed yet");

  /* Questions were never started here either. */
  g_autoptr (GVariant) generation
      = g_variant_lookup_value (components, "generation", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (generation);
  g_assert_cmpint (status_of (generation), ==, SR_HEALTH_OK);

  /* The disk's verdict follows its own figure, and the whole is the worst part. */
  SrHealthStatus expected_disk = free_bytes < SR_HEALTH_DISK_FAILING_BYTES    ? SR_HEALTH_FAILING
                                 : free_bytes < SR_HEALTH_DISK_DEGRADED_BYTES ? SR_HEALTH_DEGRADED
                                                                              : SR_HEALTH_OK;
  g_assert_cmpint (status_of (disk), ==, expected_disk);
  g_assert_cmpint (overall, ==, expected_disk);
  if (expected_disk == SR_HEALTH_OK)
    g_assert_true (g_str_has_suffix (message, " free"));
}

/* Another writer holding the lock makes the database component degraded, at once: the
 * check runs on the main loop and must not wait out the busy timeout. */
static void
test_health_db_locked (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->dir, SR_STORE_FILENAME, NULL);
  sqlite3 *other = NULL;
  g_assert_cmpint (sqlite3_open (path, &other), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (other, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);

  g_autoptr (GVariant) components = NULL;
  gint64 start = g_get_monotonic_time ();
  SrHealthStatus overall = sr_health_check (f->service, &components);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 500 * 1000);
  g_autoptr (GVariant) db = g_variant_lookup_value (components, "db", G_VARIANT_TYPE_VARDICT);
  const char *message = NULL;

  g_assert_cmpint (overall, ==, SR_HEALTH_DEGRADED);
  g_assert_cmpint (status_of (db), ==, SR_HEALTH_DEGRADED);
  g_assert_true (g_variant_lookup (db, "message", "&s", &message));
  g_assert_nonnull (strstr (message, path));
  g_assert_nonnull (strstr (message, "locked"));

  sqlite3_exec (other, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close (other);
  g_clear_pointer (&components, g_variant_unref);
  g_assert_cmpint (sr_health_check (f->service, &components), !=, SR_HEALTH_FAILING);
}

static void
test_health_disk_missing (void)
{
  g_autofree char *dir = sr_test_make_tmpdir ();
  g_autofree char *gone = g_build_filename (dir, "gone", NULL);
  g_autoptr (GError) error = NULL;
  SrStore *store = sr_store_open (dir, &error);
  g_assert_no_error (error);
  g_autoptr (SrService) service = sr_service_new (store, gone, &default_limits);

  g_autoptr (GVariant) components = NULL;
  SrHealthStatus overall = sr_health_check (service, &components);
  g_autoptr (GVariant) disk = g_variant_lookup_value (components, "disk", G_VARIANT_TYPE_VARDICT);
  const char *message = NULL;
  g_autofree char *expected = g_strdup_printf ("cannot inspect %s: %s", gone, g_strerror (ENOENT));

  g_assert_cmpint (overall, ==, SR_HEALTH_FAILING);
  g_assert_cmpint (status_of (disk), ==, SR_HEALTH_FAILING);
  g_assert_true (g_variant_lookup (disk, "message", "&s", &message));
  g_assert_cmpstr (message, ==, expected);

  g_clear_pointer (&service, sr_service_free);
  sr_test_remove_tree (dir);
}

/* --- stopping -------------------------------------------------------------------- */

static gboolean
count_drained (gpointer data)
{
  (*(guint *) data)++;
  return G_SOURCE_REMOVE;
}

static void
iterate_main_context (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
test_stop_waits_for_work (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  guint drained = 0;

  g_assert_true (sr_service_accepting (f->service, &error));
  g_assert_no_error (error);

  sr_service_work_begin (f->service);
  sr_service_work_begin (f->service);
  g_assert_cmpuint (sr_service_work_in_flight (f->service), ==, 2);
  sr_service_stop_accepting (f->service, count_drained, &drained);

  g_assert_false (sr_service_accepting (f->service, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_SHUTTING_DOWN);
  g_assert_cmpstr (error->message, ==,
                   "SmartRAG is shutting down and takes no new requests; try "
                   "again once it has restarted");

  iterate_main_context ();
  g_assert_cmpuint (drained, ==, 0);
  sr_service_work_end (f->service);
  iterate_main_context ();
  g_assert_cmpuint (drained, ==, 0);
  sr_service_work_end (f->service);
  /* From an idle, not from inside work_end, so the last reply goes out first. */
  g_assert_cmpuint (drained, ==, 0);
  iterate_main_context ();
  g_assert_cmpuint (drained, ==, 1);
  g_assert_cmpuint (sr_service_work_in_flight (f->service), ==, 0);
}

static void
test_stop_when_idle (Fixture *f, gconstpointer data)
{
  guint drained = 0;

  sr_service_stop_accepting (f->service, count_drained, &drained);
  iterate_main_context ();
  g_assert_cmpuint (drained, ==, 1);

  /* Work that still ends afterwards does not report a second time. */
  sr_service_work_begin (f->service);
  sr_service_work_end (f->service);
  iterate_main_context ();
  g_assert_cmpuint (drained, ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, limits, func)                                                                    \
  g_test_add (path, Fixture, limits, fixture_set_up, func, fixture_tear_down)
  ADD ("/sessions/title/accepts", NULL, test_title_accepts);
  ADD ("/sessions/title/too-long", NULL, test_title_too_long);
  ADD ("/sessions/title/limit-from-config", &small_limits, test_title_limit_from_config);
  ADD ("/sessions/title/utf8", NULL, test_title_utf8);
  ADD ("/sessions/title/control", NULL, test_title_control);
  ADD ("/sessions/context/canonical", NULL, test_context_canonical);
  ADD ("/sessions/context/non-object", NULL, test_context_non_object);
  ADD ("/sessions/context/empty", NULL, test_context_empty);
  ADD ("/sessions/context/invalid-json", NULL, test_context_invalid_json);
  ADD ("/sessions/context/strict-json", NULL, test_context_strict_json);
  ADD ("/sessions/context/lossless", NULL, test_context_lossless);
  ADD ("/sessions/context/no-internal-error", NULL, test_context_no_internal_error);
  ADD ("/sessions/context/utf8", NULL, test_context_utf8);
  ADD ("/sessions/context/depth-bomb", &roomy_limits, test_context_depth_bomb);
  ADD ("/sessions/context/depth-bomb-default-limit", NULL, test_context_depth_bomb_default_limit);
  g_test_add_func ("/sessions/context/depth-bomb-disguised", test_context_depth_bomb_disguised);
  ADD ("/sessions/context/depth-limit", &roomy_limits, test_context_depth_limit);
  ADD ("/sessions/context/brackets-in-strings", &roomy_limits, test_context_brackets_in_strings);
  ADD ("/sessions/context/size", &small_limits, test_context_size);
  ADD ("/sessions/context/stored-canonical", NULL, test_context_stored_canonical);
  ADD ("/sessions/create/defaults", NULL, test_create_defaults);
  ADD ("/sessions/create/and-get", NULL, test_create_and_get);
  ADD ("/sessions/create/expire-after", NULL, test_create_expire_after);
  ADD ("/sessions/create/bad-context", NULL, test_create_bad_context);
  ADD ("/sessions/create/ids-unique", NULL, test_ids_unique);
  ADD ("/sessions/list", NULL, test_list);
  ADD ("/sessions/list-visible", NULL, test_list_visible);
  ADD ("/sessions/access/foreign-looks-absent", NULL, test_foreign_looks_absent);
  ADD ("/sessions/access/admin-reaches-all", NULL, test_admin_reaches_all);
  ADD ("/sessions/access/malformed-ids", NULL, test_malformed_ids);
  ADD ("/sessions/access/malformed-id-message", NULL, test_malformed_id_message);
  ADD ("/sessions/set-title", NULL, test_set_title);
  ADD ("/sessions/set-context", NULL, test_set_context);
  ADD ("/sessions/delete", NULL, test_delete);
  ADD ("/sessions/quota", &small_limits, test_quota);
  ADD ("/sessions/quota/unlimited", &roomy_limits, test_quota_unlimited);
  ADD ("/sessions/expire", &hour_limits, test_expire);
  ADD ("/sessions/expire/never", &roomy_limits, test_expire_never);
  ADD ("/sessions/expire/activity", &hour_limits, test_expire_activity);
  g_test_add_func ("/health/status-names", test_health_status_names);
  ADD ("/health/components", NULL, test_health);
  ADD ("/health/recent", NULL, test_health_recent);
  ADD ("/health/db-locked", NULL, test_health_db_locked);
  g_test_add_func ("/health/disk-missing", test_health_disk_missing);
  ADD ("/service/stop/waits-for-work", NULL, test_stop_waits_for_work);
  ADD ("/service/stop/when-idle", NULL, test_stop_when_idle);
#undef ADD

  return g_test_run ();
}
