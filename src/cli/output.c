/* How smartrag-cli prints: colours on terminals, JSON for scripts, times and lookups. */
#include "build-config.h"

#include "cli/cli.h"

const char *
cli_style (const Cli *cli, CliStyle style)
{
  static const char *const codes[] = {
    [CLI_STYLE_BOLD] = "\033[1m",   [CLI_STYLE_DIM] = "\033[2m",     [CLI_STYLE_RED] = "\033[31m",
    [CLI_STYLE_GREEN] = "\033[32m", [CLI_STYLE_YELLOW] = "\033[33m", [CLI_STYLE_RESET] = "\033[0m",
  };
  return cli->color ? codes[style] : "";
}

const char *
cli_state_style (const Cli *cli, const char *state)
{
  if (g_strcmp0 (state, "ready") == 0 || g_strcmp0 (state, "ok") == 0)
    return cli_style (cli, CLI_STYLE_GREEN);
  if (g_strcmp0 (state, "failed") == 0 || g_strcmp0 (state, "failing") == 0)
    return cli_style (cli, CLI_STYLE_RED);
  return cli_style (cli, CLI_STYLE_YELLOW);
}

void
cli_print_json (JsonNode *node)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  json_generator_set_root (generator, node);
  json_generator_set_pretty (generator, TRUE);
  g_autofree char *text = json_generator_to_data (generator, NULL);
  g_print ("%s\n", text);
}

static GDateTime *
date_time_of (guint64 usec)
{
  g_autoptr (GDateTime) seconds = g_date_time_new_from_unix_utc ((gint64) (usec / G_USEC_PER_SEC));
  if (seconds == NULL)
    return NULL;
  return g_date_time_add (seconds, (GTimeSpan) (usec % G_USEC_PER_SEC));
}

/* ISO 8601 in UTC with microseconds, as the HTTP API writes times. */
char *
cli_format_iso (guint64 usec)
{
  g_autoptr (GDateTime) when = date_time_of (usec);
  return when == NULL ? g_strdup ("") : g_date_time_format (when, "%Y-%m-%dT%H:%M:%S.%fZ");
}

/* Local time to the minute, for people. */
char *
cli_format_time (guint64 usec)
{
  g_autoptr (GDateTime) when = date_time_of (usec);
  g_autoptr (GDateTime) local = when == NULL ? NULL : g_date_time_to_local (when);
  return local == NULL ? g_strdup ("-") : g_date_time_format (local, "%Y-%m-%d %H:%M");
}

static JsonNode *
json_of_dict (GVariant *dict)
{
  g_autoptr (JsonObject) object = json_object_new ();
  for (gsize i = 0; i < g_variant_n_children (dict); i++) {
    g_autoptr (GVariant) entry = g_variant_get_child_value (dict, i);
    g_autoptr (GVariant) key = g_variant_get_child_value (entry, 0);
    g_autoptr (GVariant) value = g_variant_get_child_value (entry, 1);
    if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT)) {
      GVariant *inner = g_variant_get_variant (value);
      g_variant_unref (value);
      value = inner;
    }
    const char *name = g_variant_get_string (key, NULL);
    /* Times (µs since the epoch) are written as the HTTP API writes them. */
    if (g_str_has_suffix (name, "_at") && g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64)) {
      g_autofree char *iso = cli_format_iso (g_variant_get_uint64 (value));
      json_object_set_string_member (object, name, iso);
    } else {
      json_object_set_member (object, name, cli_json_from_variant (value));
    }
  }
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, object);
  return node;
}

static JsonNode *
json_of_children (GVariant *value)
{
  g_autoptr (JsonArray) array = json_array_new ();
  for (gsize i = 0; i < g_variant_n_children (value); i++) {
    g_autoptr (GVariant) child = g_variant_get_child_value (value, i);
    json_array_add_element (array, cli_json_from_variant (child));
  }
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);
  json_node_set_array (node, array);
  return node;
}

static JsonNode *
json_of_basic (GVariant *value)
{
  JsonNode *node = json_node_new (JSON_NODE_VALUE);
  switch (g_variant_classify (value)) {
  case G_VARIANT_CLASS_BOOLEAN:
    json_node_set_boolean (node, g_variant_get_boolean (value));
    break;
  case G_VARIANT_CLASS_BYTE:
    json_node_set_int (node, g_variant_get_byte (value));
    break;
  case G_VARIANT_CLASS_INT32:
    json_node_set_int (node, g_variant_get_int32 (value));
    break;
  case G_VARIANT_CLASS_UINT32:
    json_node_set_int (node, g_variant_get_uint32 (value));
    break;
  case G_VARIANT_CLASS_INT64:
    json_node_set_int (node, g_variant_get_int64 (value));
    break;
  case G_VARIANT_CLASS_UINT64:
    json_node_set_int (node, (gint64) g_variant_get_uint64 (value));
    break;
  case G_VARIANT_CLASS_DOUBLE:
    json_node_set_double (node, g_variant_get_double (value));
    break;
  case G_VARIANT_CLASS_STRING:
  case G_VARIANT_CLASS_OBJECT_PATH:
  case G_VARIANT_CLASS_SIGNATURE:
    json_node_set_string (node, g_variant_get_string (value, NULL));
    break;
  default:
    json_node_init_null (node);
    break;
  }
  return node;
}

/* Dictionaries with string keys become objects, other containers arrays. */
JsonNode *
cli_json_from_variant (GVariant *value)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT)) {
    g_autoptr (GVariant) inner = g_variant_get_variant (value);
    return cli_json_from_variant (inner);
  }
  const char *type = g_variant_get_type_string (value);
  if (g_str_has_prefix (type, "a{s"))
    return json_of_dict (value);
  if (g_variant_is_container (value))
    return json_of_children (value);
  return json_of_basic (value);
}

/* A string member of an a{sv}, valid as long as @dict; "" when absent. */
const char *
cli_lookup_string (GVariant *dict, const char *key)
{
  const char *text = NULL;
  if (dict == NULL || !g_variant_lookup (dict, key, "&s", &text))
    return "";
  return text;
}

/* An unsigned number of an a{sv}, whatever its width; 0 when absent. */
guint64
cli_lookup_uint (GVariant *dict, const char *key)
{
  g_autoptr (GVariant) value = dict == NULL ? NULL : g_variant_lookup_value (dict, key, NULL);
  if (value == NULL)
    return 0;
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
    return g_variant_get_uint32 (value);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
    return g_variant_get_uint64 (value);
  return 0;
}
