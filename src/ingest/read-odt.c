/* ODT: content.xml headings (text:h with their outline level) and paragraphs (text:p). */
#include "ingest/read-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "common/errors.h"

#define CONTENT_PART "content.xml"
#define META_PART    "meta.xml"

static gboolean
find_meta_title (xmlNode *node, gpointer data)
{
  if (sr_xml_is (node, "title")) {
    g_autofree char *title = sr_xml_text (node);
    sr_text_builder_set_title (data, title);
    return FALSE;
  }
  return node->type == XML_ELEMENT_NODE;
}

static guint
outline_level (xmlNode *heading)
{
  g_autofree char *level = sr_xml_attr (heading, "outline-level");
  guint64 value = 1;
  if (level != NULL && !g_ascii_string_to_unsigned (level, 10, 1, 9, &value, NULL))
    value = 1;
  return (guint) value;
}

static gboolean
odt_enter (xmlNode *node, gpointer data)
{
  SrTextBuilder *builder = data;

  if (node->type == XML_TEXT_NODE && node->content != NULL) {
    sr_text_builder_inline (builder, (const char *) node->content,
                            strlen ((const char *) node->content));
    return FALSE;
  }
  if (node->type != XML_ELEMENT_NODE || sr_text_builder_failed (builder))
    return FALSE;
  if (sr_xml_is (node, "h")) {
    g_autofree char *heading = sr_xml_text (node);
    sr_text_builder_heading (builder, outline_level (node), heading);
    return FALSE;
  }
  /* Comments and the styles and declarations around the body hold no document text. */
  if (sr_xml_is (node, "annotation") || sr_xml_is (node, "automatic-styles")
      || sr_xml_is (node, "font-face-decls") || sr_xml_is (node, "scripts")
      || sr_xml_is (node, "tracked-changes"))
    return FALSE;
  if (sr_xml_is (node, "s") || sr_xml_is (node, "tab") || sr_xml_is (node, "line-break")) {
    sr_text_builder_inline (builder, " ", 1);
    return FALSE;
  }
  if (sr_xml_is (node, "p"))
    sr_text_builder_end_paragraph (builder);
  return TRUE;
}

static void
odt_leave (xmlNode *node, gpointer data)
{
  if (sr_xml_is (node, "p"))
    sr_text_builder_end_paragraph (data);
}

SrExtracted *
sr_read_odt (const guint8 *data, gsize length, const SrExtractLimits *limits, GError **error)
{
  static const char *const parts[] = { CONTENT_PART, META_PART, NULL };
  guint64 inflated = 0;
  g_autoptr (GHashTable) members = sr_zip_read_members (
      data, length, parts, limits != NULL ? limits->max_decompressed_bytes : 0, &inflated, error);
  if (members == NULL)
    return NULL;
  GBytes *content = g_hash_table_lookup (members, CONTENT_PART);
  if (content == NULL) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("The file is not a valid %s document: it has no %s part"), "ODT", CONTENT_PART);
    return NULL;
  }

  g_autoptr (SrTextBuilder) builder = sr_text_builder_new (SR_FORMAT_ODT, limits);
  GBytes *meta = g_hash_table_lookup (members, META_PART);
  xmlDoc *meta_doc = meta != NULL ? sr_xml_parse (meta, META_PART, NULL) : NULL;
  if (meta_doc != NULL) {
    sr_xml_walk (xmlDocGetRootElement (meta_doc), find_meta_title, NULL, builder);
    xmlFreeDoc (meta_doc);
  }
  xmlDoc *doc = sr_xml_parse (content, CONTENT_PART, error);
  if (doc == NULL)
    return NULL;
  sr_xml_walk (xmlDocGetRootElement (doc), odt_enter, odt_leave, builder);
  xmlFreeDoc (doc);
  return sr_text_builder_finish (builder, error);
}
