/* Unit tests for common/durations: parsing and formatting human durations. */
#include "common/durations.h"

#include <string.h>

#define TEN_YEARS ((guint64) 3650 * 24 * 3600)

static void
test_parse_units (void)
{
  static const struct {
    const char *text;
    guint64 seconds;
  } cases[] = {
    { "0", 0 },
    { "00", 0 },
    { "0s", 0 },
    { "0w", 0 },
    { "1", 1 },
    { "30", 30 },
    { "010", 10 },
    { "30s", 30 },
    { "15m", 15 * 60 },
    { "24h", 24 * 3600 },
    { "7d", 7 * 24 * 3600 },
    { "2w", 14 * 24 * 3600 },
    { "3650d", TEN_YEARS },
    { "87600h", TEN_YEARS },
    { "521w", (guint64) 521 * 7 * 24 * 3600 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    guint64 seconds = G_MAXUINT64;
    g_test_message ("parsing \"%s\"", cases[i].text);
    g_assert_true (sr_duration_parse (cases[i].text, &seconds));
    g_assert_cmpuint (seconds, ==, cases[i].seconds);
  }
}

static void
test_parse_rejects (void)
{
  static const char *const bad[] = {
    "",
    "s",
    "h",
    "-1",
    "-1s",
    "+1",
    " 1",
    "1 ",
    "1 s",
    "1x",
    "1S",
    "1H",
    "1ss",
    "1sm",
    "1.5h",
    "1,5h",
    "0x10",
    "1e3",
    "ten",
    "24h ",
    "3651d",                /* past ten years */
    "522w",                 /* past ten years */
    "315360001",            /* ten years and a second */
    "18446744073709551615", /* G_MAXUINT64 */
    "18446744073709551616", /* overflows */
    "30500000000000000w",   /* value * unit overflows 64 bits */
    "99999999999999999999999999999",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    guint64 seconds = 4242;
    g_test_message ("parsing \"%s\"", bad[i]);
    g_assert_false (sr_duration_parse (bad[i], &seconds));
    /* A failed parse leaves the output alone, so callers can keep their default. */
    g_assert_cmpuint (seconds, ==, 4242);
  }

  guint64 seconds = 4242;
  g_assert_false (sr_duration_parse (NULL, &seconds));
  g_assert_cmpuint (seconds, ==, 4242);
}

static void
test_parse_bound (void)
{
  guint64 seconds = 0;
  g_autofree char *exact = g_strdup_printf ("%" G_GUINT64_FORMAT, TEN_YEARS);
  g_autofree char *over = g_strdup_printf ("%" G_GUINT64_FORMAT, TEN_YEARS + 1);

  g_assert_true (sr_duration_parse (exact, &seconds));
  g_assert_cmpuint (seconds, ==, TEN_YEARS);
  g_assert_false (sr_duration_parse (over, &seconds));
}

static void
test_format (void)
{
  static const struct {
    guint64 seconds;
    const char *text;
  } cases[] = {
    { 0, "0" },
    { 1, "1s" },
    { 59, "59s" },
    { 60, "1m" },
    { 90, "1m 30s" },
    { 3600, "1h" },
    { 3661, "1h 1m 1s" },
    { 24 * 3600, "1d" },
    { 25 * 3600, "1d 1h" },
    { 7 * 24 * 3600, "1w" },
    { 8 * 24 * 3600 + 5, "1w 1d 5s" },
    { TEN_YEARS, "521w 3d" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *text = sr_duration_format (cases[i].seconds);
    g_assert_cmpstr (text, ==, cases[i].text);
  }
}

/* Every single-unit formatting parses back to the same number of seconds. */
static void
test_format_round_trip (void)
{
  static const guint64 values[]
      = { 1, 45, 60, 600, 3600, 7200, 86400, 3 * 86400, 604800, 4 * 604800 };

  for (guint i = 0; i < G_N_ELEMENTS (values); i++) {
    g_autofree char *text = sr_duration_format (values[i]);
    guint64 seconds = 0;
    g_assert_null (strchr (text, ' '));
    g_assert_true (sr_duration_parse (text, &seconds));
    g_assert_cmpuint (seconds, ==, values[i]);
  }
}

static void
test_now (void)
{
  gint64 before = g_get_real_time ();
  gint64 now = sr_now_us ();
  gint64 after = g_get_real_time ();

  g_assert_cmpint (before, <=, now);
  g_assert_cmpint (now, <=, after);
  /* Microseconds, not seconds or milliseconds: later than 2020-01-01 in µs. */
  g_assert_cmpint (now, >, G_GINT64_CONSTANT (1577836800000000));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/durations/parse/units", test_parse_units);
  g_test_add_func ("/durations/parse/rejects", test_parse_rejects);
  g_test_add_func ("/durations/parse/bound", test_parse_bound);
  g_test_add_func ("/durations/format", test_format);
  g_test_add_func ("/durations/format/round-trip", test_format_round_trip);
  g_test_add_func ("/durations/now", test_now);
  return g_test_run ();
}
