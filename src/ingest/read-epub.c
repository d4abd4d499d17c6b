/* EPUB: container.xml names the package (OPF), whose spine orders the XHTML chapters. */
#include "ingest/read-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "common/errors.h"

#define CONTAINER_PART "META-INF/container.xml"
/* Far more chapters than any book has; a spine longer than this is hostile. */
#define MAX_SPINE_ITEMS 10000
#define DUBLIN_CORE     "http://purl.org/dc/elements/1.1/"

typedef struct {
  SrTextBuilder *builder;
  GHashTable *manifest; /* id → href */
  GPtrArray *spine;     /* idref, in reading order */
} Package;

static gboolean
damaged (GError **error, const char *what)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
               _ ("The EPUB file is damaged: %s"), what);
  return FALSE;
}

static GBytes *
read_one (const guint8 *data, gsize length, const char *name, const SrExtractLimits *limits,
          guint64 *inflated, GError **error)
{
  const char *names[] = { name, NULL };
  g_autoptr (GHashTable) members = sr_zip_read_members (
      data, length, names, limits != NULL ? limits->max_decompressed_bytes : 0, inflated, error);
  if (members == NULL)
    return NULL;
  GBytes *bytes = g_hash_table_lookup (members, name);
  if (bytes == NULL) {
    g_autofree char *what = g_strdup_printf (_ ("its part %s is missing"), name);
    damaged (error, what);
    return NULL;
  }
  return g_bytes_ref (bytes);
}

static gboolean
find_rootfile (xmlNode *node, gpointer data)
{
  char **path = data;
  if (*path == NULL && sr_xml_is (node, "rootfile"))
    *path = sr_xml_attr (node, "full-path");
  return *path == NULL && node->type == XML_ELEMENT_NODE;
}

static gboolean
read_package (xmlNode *node, gpointer data)
{
  Package *package = data;

  if (sr_xml_is (node, "title") && node->ns != NULL
      && g_strcmp0 ((const char *) node->ns->href, DUBLIN_CORE) == 0) {
    g_autofree char *title = sr_xml_text (node);
    sr_text_builder_set_title (package->builder, title);
    return FALSE;
  }
  if (sr_xml_is (node, "item")) {
    char *id = sr_xml_attr (node, "id");
    char *href = sr_xml_attr (node, "href");
    if (id != NULL && href != NULL)
      g_hash_table_insert (package->manifest, g_steal_pointer (&id), g_steal_pointer (&href));
    g_free (id);
    g_free (href);
    return FALSE;
  }
  if (sr_xml_is (node, "itemref")) {
    char *idref = sr_xml_attr (node, "idref");
    if (idref != NULL && package->spine->len < MAX_SPINE_ITEMS)
      g_ptr_array_add (package->spine, idref);
    else
      g_free (idref);
    return FALSE;
  }
  return node->type == XML_ELEMENT_NODE;
}

/* An href relative to the package file, as a member name: fragment dropped, %-escapes
 * decoded, "." and ".." resolved. NULL for links outside the archive. */
static char *
member_name (const char *package_path, const char *href)
{
  g_autofree char *without_fragment = g_strndup (href, strcspn (href, "#"));
  if (strstr (without_fragment, "://") != NULL || without_fragment[0] == '\0')
    return NULL;
  g_autofree char *unescaped = g_uri_unescape_string (without_fragment, NULL);
  g_autofree char *directory = g_path_get_dirname (package_path);
  g_autofree char *joined
      = g_str_equal (directory, ".")
            ? g_strdup (unescaped != NULL ? unescaped : without_fragment)
            : g_strconcat (directory, "/", unescaped != NULL ? unescaped : without_fragment, NULL);
  g_auto (GStrv) parts = g_strsplit (joined, "/", -1);
  g_autoptr (GPtrArray) kept = g_ptr_array_new ();
  for (guint i = 0; parts[i] != NULL; i++) {
    if (parts[i][0] == '\0' || g_str_equal (parts[i], "."))
      continue;
    if (g_str_equal (parts[i], "..")) {
      if (kept->len > 0)
        g_ptr_array_remove_index (kept, kept->len - 1);
      continue;
    }
    g_ptr_array_add (kept, parts[i]);
  }
  g_ptr_array_add (kept, NULL);
  return g_strjoinv ("/", (char **) kept->pdata);
}

static char *
package_path (const guint8 *data, gsize length, const SrExtractLimits *limits, guint64 *inflated,
              GError **error)
{
  g_autoptr (GBytes) container = read_one (data, length, CONTAINER_PART, limits, inflated, error);
  if (container == NULL)
    return NULL;
  xmlDoc *doc = sr_xml_parse (container, CONTAINER_PART, error);
  if (doc == NULL)
    return NULL;
  char *path = NULL;
  sr_xml_walk (xmlDocGetRootElement (doc), find_rootfile, NULL, &path);
  xmlFreeDoc (doc);
  if (path == NULL || path[0] == '\0') {
    g_free (path);
    damaged (error, _ ("its container.xml names no package file"));
    return NULL;
  }
  return path;
}

/* Member names of the chapters in reading order (NULL-terminated), each once. */
static GStrv
chapter_names (Package *package, const char *opf_path)
{
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < package->spine->len; i++) {
    const char *href = g_hash_table_lookup (package->manifest, package->spine->pdata[i]);
    char *name = href != NULL ? member_name (opf_path, href) : NULL;
    if (name == NULL || !g_hash_table_add (seen, name))
      continue;
    g_strv_builder_add (names, name);
  }
  return g_strv_builder_end (names);
}

static gboolean
add_chapters (SrTextBuilder *builder, GHashTable *members, GStrv names, GError **error)
{
  guint added = 0;
  for (guint i = 0; names[i] != NULL && !sr_text_builder_failed (builder); i++) {
    GBytes *bytes = g_hash_table_lookup (members, names[i]);
    if (bytes == NULL)
      continue;
    gsize size = 0;
    const guint8 *chapter = g_bytes_get_data (bytes, &size);
    xmlDoc *doc = size > 0 ? sr_html_parse (chapter, size, NULL) : NULL;
    if (doc == NULL)
      continue;
    sr_html_add_document (builder, doc);
    xmlFreeDoc (doc);
    added++;
  }
  if (added == 0)
    return damaged (error, _ ("none of the chapters its package lists are in the archive"));
  return TRUE;
}

SrExtracted *
sr_read_epub (const guint8 *data, gsize length, const SrExtractLimits *limits, GError **error)
{
  guint64 inflated = 0;
  g_autofree char *opf_path = package_path (data, length, limits, &inflated, error);
  if (opf_path == NULL)
    return NULL;
  g_autoptr (GBytes) opf = read_one (data, length, opf_path, limits, &inflated, error);
  if (opf == NULL)
    return NULL;
  xmlDoc *opf_doc = sr_xml_parse (opf, opf_path, error);
  if (opf_doc == NULL)
    return NULL;

  g_autoptr (SrTextBuilder) builder = sr_text_builder_new (SR_FORMAT_EPUB, limits);
  g_autoptr (GHashTable) manifest = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GPtrArray) spine = g_ptr_array_new_with_free_func (g_free);
  Package package = { builder, manifest, spine };
  sr_xml_walk (xmlDocGetRootElement (opf_doc), read_package, NULL, &package);
  xmlFreeDoc (opf_doc);

  g_auto (GStrv) names = chapter_names (&package, opf_path);
  g_autoptr (GHashTable) members
      = sr_zip_read_members (data, length, (const char *const *) names,
                             limits != NULL ? limits->max_decompressed_bytes : 0, &inflated, error);
  if (members == NULL || !add_chapters (builder, members, names, error))
    return NULL;
  return sr_text_builder_finish (builder, error);
}
