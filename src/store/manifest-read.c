/* Reading a backup's manifest.json strictly: a manifest that is not exactly ours is refused. */
#include "store/manifest.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "common/errors.h"
#include "store/store.h"

typedef struct {
  const char *file; /* for messages */
  GError **error;
} Reader;

static gboolean
damaged (Reader *r, const char *why)
{
  return sr_error_set (r->error, SMARTRAG_ERROR_INVALID_ARGS,
                       _ ("The backup's manifest %s is damaged: %s"), r->file, why);
}

/* The integer member @name of @object, at least 0. */
static gboolean
read_count (Reader *r, JsonObject *object, const char *name, gint64 *value)
{
  JsonNode *node = json_object_get_member (object, name);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64 || json_node_get_int (node) < 0) {
    g_autofree char *why = g_strdup_printf (_ ("\"%s\" is not a whole number of 0 or more"), name);
    return damaged (r, why);
  }
  *value = json_node_get_int (node);
  return TRUE;
}

static const char *
read_string (Reader *r, JsonObject *object, const char *name, gboolean optional)
{
  JsonNode *node = json_object_get_member (object, name);
  if (node == NULL && optional)
    return "";
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING) {
    g_autofree char *why = g_strdup_printf (_ ("\"%s\" is not a string"), name);
    damaged (r, why);
    return NULL;
  }
  return json_node_get_string (node);
}

static gboolean
read_entry (Reader *r, JsonNode *node, SrManifest *manifest, GHashTable *seen)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return damaged (r, _ ("an item of \"files\" is not an object"));
  JsonObject *object = json_node_get_object (node);
  const char *path = read_string (r, object, "path", FALSE);
  const char *sha256 = path != NULL ? read_string (r, object, "sha256", FALSE) : NULL;
  gint64 size = 0;
  if (sha256 == NULL || !read_count (r, object, "size", &size))
    return FALSE;
  if (json_object_get_size (object) != 3)
    return damaged (r, _ ("an item of \"files\" has members other than path, size and sha256"));
  if (!sr_manifest_path_valid (path)) {
    g_autofree char *why = g_strdup_printf (_ ("\"%s\" is not a path a backup holds"), path);
    return damaged (r, why);
  }
  if (strlen (sha256) != SR_SHA256_HEX_LENGTH
      || strspn (sha256, "0123456789abcdef") != SR_SHA256_HEX_LENGTH) {
    g_autofree char *why = g_strdup_printf (_ ("the SHA-256 of %s is not 64 hex digits"), path);
    return damaged (r, why);
  }
  if (!g_hash_table_add (seen, g_strdup (path))) {
    g_autofree char *why = g_strdup_printf (_ ("%s is listed twice"), path);
    return damaged (r, why);
  }
  sr_manifest_add (manifest, path, (guint64) size, sha256);
  return TRUE;
}

/* The database as the format holds it: whole, or in segments from the first without a gap. */
static gboolean
check_database (Reader *r, const SrManifest *manifest)
{
  guint parts = 0;
  gboolean whole = FALSE;
  for (guint i = 0; i < manifest->entries->len; i++) {
    const SrManifestEntry *entry = manifest->entries->pdata[i];
    if (g_str_equal (entry->path, SR_STORE_FILENAME))
      whole = TRUE;
    else if (sr_manifest_is_database (entry->path))
      parts++;
  }
  gboolean in_segments = manifest->format != SR_MANIFEST_FORMAT_WHOLE;
  if (in_segments ? whole : parts > 0) {
    g_autofree char *why
        = g_strdup_printf (_ ("format %d does not hold the database as %s"), manifest->format,
                           in_segments ? SR_STORE_FILENAME : SR_MANIFEST_SEGMENTS);
    return damaged (r, why);
  }
  if (in_segments ? parts == 0 : !whole)
    return damaged (r, _ ("the database is not listed"));
  g_autoptr (GPtrArray) joined = sr_manifest_database (manifest);
  if (in_segments && joined->len != parts) {
    g_autofree char *missing = sr_manifest_segment_path (joined->len);
    g_autofree char *why = g_strdup_printf (_ ("the database segment %s is missing"), missing);
    return damaged (r, why);
  }
  return TRUE;
}

static gboolean
read_entries (Reader *r, JsonObject *object, SrManifest *manifest)
{
  JsonNode *node = json_object_get_member (object, "files");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return damaged (r, _ ("\"files\" is not an array"));
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GList) items = json_array_get_elements (json_node_get_array (node));
  for (GList *l = items; l != NULL; l = l->next)
    if (!read_entry (r, l->data, manifest, seen))
      return FALSE;
  return check_database (r, manifest);
}

static gboolean
read_header (Reader *r, JsonObject *object, SrManifest *manifest)
{
  gint64 format = 0, schema = 0, created = 0;
  if (!read_count (r, object, "format", &format))
    return FALSE;
  if (format != SR_MANIFEST_FORMAT_WHOLE && format != SR_MANIFEST_FORMAT) {
    g_autofree char *why = g_strdup_printf (_ ("its format %" PRId64 " is not %d or %d"), format,
                                            SR_MANIFEST_FORMAT_WHOLE, SR_MANIFEST_FORMAT);
    return damaged (r, why);
  }
  manifest->format = (int) format;
  const char *version = read_string (r, object, "daemon_version", FALSE);
  const char *comment = version != NULL ? read_string (r, object, "comment", TRUE) : NULL;
  if (comment == NULL || !read_count (r, object, "schema_version", &schema)
      || !read_count (r, object, "created_us", &created))
    return FALSE;
  if (schema > G_MAXINT)
    return damaged (r, _ ("\"schema_version\" is out of range"));
  manifest->schema_version = (int) schema;
  manifest->created = created;
  manifest->daemon_version = g_strdup (version);
  manifest->comment = *comment != '\0' ? g_strdup (comment) : NULL;
  return TRUE;
}

SrManifest *
sr_manifest_read (const char *dir, GError **error)
{
  g_autofree char *path = g_build_filename (dir, SR_MANIFEST_NAME, NULL);
  Reader r = { path, error };
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  if (!json_parser_load_from_mapped_file (parser, path, &local)) {
    if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      sr_error_set (error, SMARTRAG_ERROR_INVALID_ARGS,
                    _ ("%s has no manifest: it is not a complete backup"), dir);
    else
      damaged (&r, local->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    damaged (&r, _ ("it is not a JSON object"));
    return NULL;
  }
  g_autoptr (SrManifest) manifest = sr_manifest_new ();
  JsonObject *object = json_node_get_object (root);
  if (!read_header (&r, object, manifest) || !read_entries (&r, object, manifest))
    return NULL;
  return g_steal_pointer (&manifest);
}
