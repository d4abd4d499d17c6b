/* Reading a{sv} option dictionaries strictly: known names, right types, each once. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

typedef enum {
  SR_OPTION_STRING,  /* 's' → char** (newly allocated) */
  SR_OPTION_SECONDS, /* 'u' or 't' seconds, or 's' like "30m", "24h" → gint64* */
  SR_OPTION_COUNT,   /* 'u' or 't' → gint64* */
  SR_OPTION_BOOLEAN, /* 'b' → gboolean* */
  SR_OPTION_NUMBER,  /* 'd', or 'u', 'i', 't', 'x' as exact as a double is → double* */
} SrOptionKind;

typedef struct {
  const char *name;
  SrOptionKind kind;
  gpointer out; /* left untouched when the option is absent */
} SrOptionSpec;

/* Reads the a{sv} at the current position of @m. @method names the call in errors. */
int sr_bus_read_options (sd_bus_message *m, const char *method, const SrOptionSpec *specs,
                         guint n_specs, sd_bus_error *error);

G_END_DECLS
