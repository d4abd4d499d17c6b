/* Appending GVariant values to sd-bus messages: the two speak the same type system. */
#include "bus/bus-private.h"

static int
append_basic (sd_bus_message *m, GVariant *value)
{
  char type = g_variant_get_type_string (value)[0];

  switch (type) {
  case 'b': {
    int b = g_variant_get_boolean (value);
    return sd_bus_message_append_basic (m, type, &b);
  }
  case 's':
  case 'o':
  case 'g':
    return sd_bus_message_append_basic (m, type, g_variant_get_string (value, NULL));
  case 'y': {
    guint8 v = g_variant_get_byte (value);
    return sd_bus_message_append_basic (m, type, &v);
  }
  case 'n': {
    gint16 v = g_variant_get_int16 (value);
    return sd_bus_message_append_basic (m, type, &v);
  }
  case 'q': {
    guint16 v = g_variant_get_uint16 (value);
    return sd_bus_message_append_basic (m, type, &v);
  }
  case 'i': {
    gint32 v = g_variant_get_int32 (value);
    return sd_bus_message_append_basic (m, type, &v);
  }
  case 'u': {
    guint32 v = g_variant_get_uint32 (value);
    return sd_bus_message_append_basic (m, type, &v);
  }
  case 'x': {
    gint64 v = g_variant_get_int64 (value);
    return sd_bus_message_append_basic (m, type, &v);
  }
  case 't': {
    guint64 v = g_variant_get_uint64 (value);
    return sd_bus_message_append_basic (m, type, &v);
  }
  case 'd': {
    double v = g_variant_get_double (value);
    return sd_bus_message_append_basic (m, type, &v);
  }
  default:
    /* File descriptors and maybe-types never come from the service layer. */
    return -EINVAL;
  }
}

int
sr_bus_append_variant (sd_bus_message *m, GVariant *value)
{
  const char *signature = g_variant_get_type_string (value);
  char container;

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    container = 'v';
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_ARRAY))
    container = 'a';
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_DICT_ENTRY))
    container = 'e';
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_TUPLE))
    container = 'r';
  else
    return append_basic (m, value);

  /* The contents' signature: what is inside the brackets, or the element type. */
  g_autofree char *contents = NULL;
  if (container == 'v') {
    g_autoptr (GVariant) inner = g_variant_get_variant (value);
    contents = g_strdup (g_variant_get_type_string (inner));
  } else if (container == 'a') {
    contents = g_strdup (signature + 1);
  } else {
    contents = g_strndup (signature + 1, strlen (signature) - 2);
  }

  int r = sd_bus_message_open_container (m, container, contents);
  if (r < 0)
    return r;
  gsize n = g_variant_n_children (value);
  for (gsize i = 0; i < n; i++) {
    g_autoptr (GVariant) child = g_variant_get_child_value (value, i);
    if ((r = sr_bus_append_variant (m, child)) < 0)
      return r;
  }
  return sd_bus_message_close_container (m);
}
