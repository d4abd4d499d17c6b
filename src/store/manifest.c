/* A backup's manifest.json: every file's path, size and SHA-256, and the versions it needs. */
#include "store/manifest.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "common/errors.h"
#include "store/store.h"

static void
entry_free (gpointer data)
{
  SrManifestEntry *entry = data;
  g_free (entry->path);
  g_free (entry);
}

SrManifest *
sr_manifest_new (void)
{
  SrManifest *manifest = g_new0 (SrManifest, 1);
  manifest->format = SR_MANIFEST_FORMAT;
  manifest->entries = g_ptr_array_new_with_free_func (entry_free);
  return manifest;
}

void
sr_manifest_free (SrManifest *manifest)
{
  if (manifest == NULL)
    return;
  g_ptr_array_unref (manifest->entries);
  g_free (manifest->daemon_version);
  g_free (manifest->comment);
  g_free (manifest);
}

void
sr_manifest_add (SrManifest *manifest, const char *path, guint64 size, const char *sha256)
{
  SrManifestEntry *entry = g_new0 (SrManifestEntry, 1);
  entry->path = g_strdup (path);
  entry->size = size;
  g_strlcpy (entry->sha256, sha256, sizeof entry->sha256);
  g_ptr_array_add (manifest->entries, entry);
}

const SrManifestEntry *
sr_manifest_find (const SrManifest *manifest, const char *path)
{
  for (guint i = 0; i < manifest->entries->len; i++) {
    const SrManifestEntry *entry = manifest->entries->pdata[i];
    if (g_str_equal (entry->path, path))
      return entry;
  }
  return NULL;
}

static gboolean
is_hex (const char *text, gsize length)
{
  if (strlen (text) != length)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isdigit (text[i]) && !(text[i] >= 'a' && text[i] <= 'f'))
      return FALSE;
  return TRUE;
}

/* An index file's name: what the index folder holds, never a hidden or temporary file. */
static gboolean
is_index_name (const char *name)
{
  gsize length = strlen (name);
  if (length == 0 || length > 255 || !g_ascii_isalnum (name[0]) || strstr (name, ".tmp") != NULL)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '.' && name[i] != '_' && name[i] != '-')
      return FALSE;
  return TRUE;
}

char *
sr_manifest_segment_path (guint index)
{
  return g_strdup_printf (SR_MANIFEST_SEGMENTS "/%0*u", SR_MANIFEST_SEGMENT_DIGITS, index);
}

static gboolean
is_segment (const char *path)
{
  const char *name = path + strlen (SR_MANIFEST_SEGMENTS "/");
  return g_str_has_prefix (path, SR_MANIFEST_SEGMENTS "/")
         && strlen (name) == SR_MANIFEST_SEGMENT_DIGITS
         && strspn (name, "0123456789") == SR_MANIFEST_SEGMENT_DIGITS;
}

gboolean
sr_manifest_is_database (const char *path)
{
  return g_str_equal (path, SR_STORE_FILENAME) || is_segment (path);
}

GPtrArray *
sr_manifest_database (const SrManifest *manifest)
{
  GPtrArray *parts = g_ptr_array_new ();
  if (manifest->format == SR_MANIFEST_FORMAT_WHOLE) {
    const SrManifestEntry *whole = sr_manifest_find (manifest, SR_STORE_FILENAME);
    if (whole != NULL)
      g_ptr_array_add (parts, (gpointer) whole);
    return parts;
  }
  for (guint i = 0;; i++) {
    g_autofree char *path = sr_manifest_segment_path (i);
    const SrManifestEntry *segment = sr_manifest_find (manifest, path);
    if (segment == NULL)
      return parts;
    g_ptr_array_add (parts, (gpointer) segment);
  }
}

gboolean
sr_manifest_path_valid (const char *path)
{
  if (sr_manifest_is_database (path))
    return TRUE;
  if (g_str_has_prefix (path, "index/"))
    return is_index_name (path + strlen ("index/"));
  if (!g_str_has_prefix (path, "files/"))
    return FALSE;
  const char *shard = path + strlen ("files/");
  return strlen (shard) == 2 + 1 + SR_SHA256_HEX_LENGTH && shard[2] == '/'
         && is_hex (shard + 3, SR_SHA256_HEX_LENGTH) && strncmp (shard, shard + 3, 2) == 0;
}

static JsonNode *
build (const SrManifest *manifest)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GDateTime) created
      = g_date_time_new_from_unix_utc (manifest->created / G_USEC_PER_SEC);
  g_autofree char *when = g_date_time_format_iso8601 (created);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_int_value (b, manifest->format);
  json_builder_set_member_name (b, "created");
  json_builder_add_string_value (b, when);
  json_builder_set_member_name (b, "created_us");
  json_builder_add_int_value (b, manifest->created);
  json_builder_set_member_name (b, "daemon_version");
  json_builder_add_string_value (b, manifest->daemon_version);
  json_builder_set_member_name (b, "schema_version");
  json_builder_add_int_value (b, manifest->schema_version);
  if (manifest->comment != NULL) {
    json_builder_set_member_name (b, "comment");
    json_builder_add_string_value (b, manifest->comment);
  }
  json_builder_set_member_name (b, "files");
  json_builder_begin_array (b);
  for (guint i = 0; i < manifest->entries->len; i++) {
    const SrManifestEntry *entry = manifest->entries->pdata[i];
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "path");
    json_builder_add_string_value (b, entry->path);
    json_builder_set_member_name (b, "size");
    json_builder_add_int_value (b, (gint64) entry->size);
    json_builder_set_member_name (b, "sha256");
    json_builder_add_string_value (b, entry->sha256);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

gboolean
sr_manifest_write (const SrManifest *manifest, const char *dir, GError **error)
{
  g_autoptr (JsonNode) root = build (manifest);
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  gsize length;
  g_autofree char *text = json_generator_to_data (generator, &length);
  g_autofree char *path = g_build_filename (dir, SR_MANIFEST_NAME, NULL);
  return sr_durable_write_atomic (path, text, length, error);
}
