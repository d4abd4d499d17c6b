/* sd-bus message bodies read as GVariant, and a{sv} options appended to calls. */
#include "build-config.h"

#include <glib/gi18n.h>

#include "cli/cli.h"
#include "common/errors.h"

static GVariant *read_next (sd_bus_message *message, GError **error);

static gboolean
unreadable (int status, GError **error)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
               _ ("The daemon's answer could not be read: %s"), g_strerror (-status));
  return FALSE;
}

/* What sd_bus_message_read_basic() writes, for every basic type. */
typedef union {
  uint8_t y;
  int b;
  int16_t n;
  uint16_t q;
  int32_t i;
  uint32_t u;
  int64_t x;
  uint64_t t;
  double d;
  const char *s;
} BasicValue;

static GVariant *new_basic (char type, const BasicValue *v);

/* Every reader returns a full reference, never a floating one. */
static GVariant *
read_basic (sd_bus_message *message, char type, GError **error)
{
  BasicValue v = { 0 };
  int r = sd_bus_message_read_basic (message, type, &v);
  if (r < 0 || type == SD_BUS_TYPE_UNIX_FD) {
    unreadable (r < 0 ? r : -EINVAL, error);
    return NULL;
  }
  return g_variant_ref_sink (new_basic (type, &v));
}

static GVariant *
new_basic (char type, const BasicValue *value)
{
  const BasicValue v = *value;
  switch (type) {
  case SD_BUS_TYPE_BYTE:
    return g_variant_new_byte (v.y);
  case SD_BUS_TYPE_BOOLEAN:
    return g_variant_new_boolean (v.b);
  case SD_BUS_TYPE_INT16:
    return g_variant_new_int16 (v.n);
  case SD_BUS_TYPE_UINT16:
    return g_variant_new_uint16 (v.q);
  case SD_BUS_TYPE_INT32:
    return g_variant_new_int32 (v.i);
  case SD_BUS_TYPE_UINT32:
    return g_variant_new_uint32 (v.u);
  case SD_BUS_TYPE_INT64:
    return g_variant_new_int64 (v.x);
  case SD_BUS_TYPE_UINT64:
    return g_variant_new_uint64 (v.t);
  case SD_BUS_TYPE_DOUBLE:
    return g_variant_new_double (v.d);
  case SD_BUS_TYPE_OBJECT_PATH:
    return g_variant_new_object_path (v.s);
  case SD_BUS_TYPE_SIGNATURE:
    return g_variant_new_signature (v.s);
  default:
    return g_variant_new_string (v.s);
  }
}

static char *
container_type (char type, const char *contents)
{
  if (type == SD_BUS_TYPE_ARRAY)
    return g_strconcat ("a", contents, NULL);
  if (type == SD_BUS_TYPE_STRUCT)
    return g_strconcat ("(", contents, ")", NULL);
  return g_strconcat ("{", contents, "}", NULL);
}

/* Arrays, structs and dict entries: their members, in order. */
static GVariant *
read_members (sd_bus_message *message, char type, const char *contents, GError **error)
{
  g_autofree char *gtype = container_type (type, contents);
  if (!g_variant_type_string_is_valid (gtype)) {
    unreadable (-EBADMSG, error);
    return NULL;
  }
  g_auto (GVariantBuilder) builder;
  g_variant_builder_init (&builder, G_VARIANT_TYPE (gtype));
  int r;
  while ((r = sd_bus_message_at_end (message, 0)) == 0) {
    g_autoptr (GVariant) member = read_next (message, error);
    if (member == NULL)
      return NULL;
    g_variant_builder_add_value (&builder, member);
  }
  if (r < 0) {
    unreadable (r, error);
    return NULL;
  }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static GVariant *
read_container (sd_bus_message *message, char type, const char *contents, GError **error)
{
  int r = sd_bus_message_enter_container (message, type, contents);
  if (r < 0) {
    unreadable (r, error);
    return NULL;
  }
  g_autoptr (GVariant) value = NULL;
  if (type == SD_BUS_TYPE_VARIANT) {
    g_autoptr (GVariant) inner = read_next (message, error);
    value = inner == NULL ? NULL : g_variant_ref_sink (g_variant_new_variant (inner));
  } else {
    value = read_members (message, type, contents, error);
  }
  if (value == NULL)
    return NULL;
  r = sd_bus_message_exit_container (message);
  if (r < 0) {
    unreadable (r, error);
    return NULL;
  }
  return g_steal_pointer (&value);
}

static GVariant *
read_next (sd_bus_message *message, GError **error)
{
  char type = 0;
  const char *contents = NULL;
  int r = sd_bus_message_peek_type (message, &type, &contents);
  if (r <= 0) {
    unreadable (r < 0 ? r : -EBADMSG, error);
    return NULL;
  }
  if (type == SD_BUS_TYPE_ARRAY || type == SD_BUS_TYPE_STRUCT || type == SD_BUS_TYPE_VARIANT
      || type == SD_BUS_TYPE_DICT_ENTRY)
    return read_container (message, type, contents, error);
  return read_basic (message, type, error);
}

/* The whole body as a tuple, "()" when it is empty. */
GVariant *
cli_message_read_body (sd_bus_message *message, GError **error)
{
  g_autoptr (GPtrArray) members = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  int r;
  while ((r = sd_bus_message_at_end (message, 1)) == 0) {
    GVariant *member = read_next (message, error);
    if (member == NULL)
      return NULL;
    g_ptr_array_add (members, member);
  }
  if (r < 0) {
    unreadable (r, error);
    return NULL;
  }
  return g_variant_ref_sink (g_variant_new_tuple ((GVariant **) members->pdata, members->len));
}

static int
append_value (sd_bus_message *message, GVariant *value)
{
  const char *type = g_variant_get_type_string (value);
  int r = sd_bus_message_open_container (message, SD_BUS_TYPE_VARIANT, type);
  if (r < 0)
    return r;
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    r = sd_bus_message_append_basic (message, 's', g_variant_get_string (value, NULL));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
    r = sd_bus_message_append (message, "u", g_variant_get_uint32 (value));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
    r = sd_bus_message_append (message, "t", g_variant_get_uint64 (value));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    r = sd_bus_message_append (message, "b", (int) g_variant_get_boolean (value));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    r = sd_bus_message_append (message, "d", g_variant_get_double (value));
  else
    r = -EINVAL;
  if (r < 0)
    return r;
  return sd_bus_message_close_container (message);
}

/* @options: an a{sv} of strings, numbers and booleans, or NULL for none. */
int
cli_message_append_options (sd_bus_message *message, GVariant *options)
{
  int r = sd_bus_message_open_container (message, SD_BUS_TYPE_ARRAY, "{sv}");
  gsize count = options != NULL ? g_variant_n_children (options) : 0;
  for (gsize i = 0; r >= 0 && i < count; i++) {
    const char *key;
    g_autoptr (GVariant) value = NULL;
    g_variant_get_child (options, i, "{&sv}", &key, &value);
    r = sd_bus_message_open_container (message, SD_BUS_TYPE_DICT_ENTRY, "sv");
    if (r >= 0)
      r = sd_bus_message_append_basic (message, 's', key);
    if (r >= 0)
      r = append_value (message, value);
    if (r >= 0)
      r = sd_bus_message_close_container (message);
  }
  if (r < 0)
    return r;
  return sd_bus_message_close_container (message);
}
