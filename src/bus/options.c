/* Reading a{sv} option dictionaries strictly: known names, right types, each once. */
#include "bus/options.h"

#include <glib/gi18n.h>
#include <inttypes.h>

#include "common/durations.h"

static int invalid (sd_bus_error *error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static int
invalid (sd_bus_error *error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  return sd_bus_error_set (error, SD_BUS_ERROR_INVALID_ARGS, message);
}

static char *
known_names (const SrOptionSpec *specs, guint n_specs)
{
  g_autoptr (GString) names = g_string_new (NULL);
  for (guint i = 0; i < n_specs; i++)
    g_string_append_printf (names, "%s%s", i ? ", " : "", specs[i].name);
  return g_string_free (g_steal_pointer (&names), FALSE);
}

/* Clients send whatever their language makes of "0.5" or "1": all of it is a number. */
static int
read_number (sd_bus_message *m, const SrOptionSpec *spec, char type)
{
  int r;
  double *out = spec->out;
  if (type == 'd')
    return sd_bus_message_read (m, "v", "d", out);
  if (type == 'u' || type == 'i') {
    int32_t value = 0;
    r = sd_bus_message_read (m, "v", type == 'u' ? "u" : "i", &value);
    *out = type == 'u' ? (double) (uint32_t) value : (double) value;
    return r;
  }
  int64_t value = 0;
  r = sd_bus_message_read (m, "v", type == 't' ? "t" : "x", &value);
  *out = type == 't' ? (double) (uint64_t) value : (double) value;
  return r;
}

static int
read_value (sd_bus_message *m, const SrOptionSpec *spec, const char *contents, sd_bus_error *error)
{
  int r;

  if (spec->kind == SR_OPTION_STRING && g_str_equal (contents, "s")) {
    const char *value;
    if ((r = sd_bus_message_read (m, "v", "s", &value)) < 0)
      return r;
    g_free (*(char **) spec->out);
    *(char **) spec->out = g_strdup (value);
    return 0;
  }

  if ((spec->kind == SR_OPTION_SECONDS || spec->kind == SR_OPTION_COUNT)
      && (g_str_equal (contents, "u") || g_str_equal (contents, "t"))) {
    uint64_t value = 0;
    if (contents[0] == 'u') {
      uint32_t small = 0;
      r = sd_bus_message_read (m, "v", "u", &small);
      value = small;
    } else {
      r = sd_bus_message_read (m, "v", "t", &value);
    }
    if (r < 0)
      return r;
    if (value > G_MAXINT64)
      return invalid (error, _ ("Invalid option '%s': %" PRIu64 " is too large"), spec->name,
                      (guint64) value);
    *(gint64 *) spec->out = (gint64) value;
    return 0;
  }

  if (spec->kind == SR_OPTION_SECONDS && g_str_equal (contents, "s")) {
    const char *text;
    guint64 seconds;
    if ((r = sd_bus_message_read (m, "v", "s", &text)) < 0)
      return r;
    if (!sr_duration_parse (text, &seconds))
      return invalid (error,
                      _ ("Invalid option '%s': \"%s\" is not a duration such as 30m, 24h "
                         "or 7d (0 for never)"),
                      spec->name, text);
    *(gint64 *) spec->out = (gint64) seconds;
    return 0;
  }

  if (spec->kind == SR_OPTION_BOOLEAN && g_str_equal (contents, "b")) {
    int value = 0;
    if ((r = sd_bus_message_read (m, "v", "b", &value)) < 0)
      return r;
    *(gboolean *) spec->out = value != 0;
    return 0;
  }

  if (spec->kind == SR_OPTION_NUMBER && contents[0] != '\0' && strchr ("duitx", contents[0]) != NULL
      && contents[1] == '\0')
    return read_number (m, spec, contents[0]);

  if (spec->kind == SR_OPTION_STRING)
    return invalid (error, _ ("Invalid option '%s': expected a string (s), got '%s'"), spec->name,
                    contents);
  if (spec->kind == SR_OPTION_COUNT)
    return invalid (error, _ ("Invalid option '%s': expected a number (u or t), got '%s'"),
                    spec->name, contents);
  if (spec->kind == SR_OPTION_BOOLEAN)
    return invalid (error, _ ("Invalid option '%s': expected a boolean (b), got '%s'"), spec->name,
                    contents);
  if (spec->kind == SR_OPTION_NUMBER)
    return invalid (error, _ ("Invalid option '%s': expected a number (d), got '%s'"), spec->name,
                    contents);
  return invalid (error,
                  _ ("Invalid option '%s': expected seconds (u or t) or a duration "
                     "string (s), got '%s'"),
                  spec->name, contents);
}

int
sr_bus_read_options (sd_bus_message *m, const char *method, const SrOptionSpec *specs,
                     guint n_specs, sd_bus_error *error)
{
  guint64 seen = 0;
  int r;

  g_return_val_if_fail (n_specs <= 64, -EINVAL);

  if ((r = sd_bus_message_enter_container (m, 'a', "{sv}")) < 0)
    return r;
  while ((r = sd_bus_message_enter_container (m, 'e', "sv")) > 0) {
    const char *name, *contents;
    if ((r = sd_bus_message_read (m, "s", &name)) < 0
        || (r = sd_bus_message_peek_type (m, NULL, &contents)) < 0)
      return r;

    guint i;
    for (i = 0; i < n_specs && !g_str_equal (specs[i].name, name); i++)
      ;
    if (i == n_specs) {
      g_autofree char *names = known_names (specs, n_specs);
      return invalid (error, _ ("Unknown option '%s'; %s takes %s"), name, method,
                      n_specs ? names : _ ("no options"));
    }
    if (seen & (G_GUINT64_CONSTANT (1) << i))
      return invalid (error, _ ("Option '%s' is given twice"), name);
    seen |= G_GUINT64_CONSTANT (1) << i;

    if ((r = read_value (m, &specs[i], contents, error)) < 0)
      return r;
    if ((r = sd_bus_message_exit_container (m)) < 0)
      return r;
  }
  if (r < 0)
    return r;
  return sd_bus_message_exit_container (m);
}
