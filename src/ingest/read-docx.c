/* DOCX: word/document.xml paragraphs, headings from paragraph styles, title from core props. */
#include "ingest/read-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "common/errors.h"

#define DOCUMENT_PART "word/document.xml"
#define CORE_PART     "docProps/core.xml"

static gboolean
find_core_title (xmlNode *node, gpointer data)
{
  if (sr_xml_is (node, "title")) {
    g_autofree char *title = sr_xml_text (node);
    sr_text_builder_set_title (data, title);
    return FALSE;
  }
  return node->type == XML_ELEMENT_NODE;
}

static xmlNode *
child_named (xmlNode *node, const char *local_name)
{
  if (node == NULL)
    return NULL;
  for (xmlNode *child = node->children; child != NULL; child = child->next)
    if (sr_xml_is (child, local_name))
      return child;
  return NULL;
}

/* Heading1…Heading9 and Title by style id, else an explicit outline level; 0 for body. */
static guint
paragraph_level (xmlNode *paragraph, gboolean *is_title)
{
  xmlNode *properties = child_named (paragraph, "pPr");
  g_autofree char *style = sr_xml_attr (child_named (properties, "pStyle"), "val");
  g_autofree char *outline = sr_xml_attr (child_named (properties, "outlineLvl"), "val");

  *is_title = style != NULL && g_ascii_strcasecmp (style, "Title") == 0;
  if (*is_title)
    return 1;
  if (style != NULL && g_ascii_strncasecmp (style, "Heading", 7) == 0 && style[7] >= '1'
      && style[7] <= '9' && style[8] == '\0')
    return (guint) (style[7] - '0');
  if (outline != NULL && outline[0] >= '0' && outline[0] <= '8' && outline[1] == '\0')
    return (guint) (outline[0] - '0') + 1;
  return 0;
}

/* Only w:t holds visible text; w:delText (deleted) and w:instrText (field codes) do not. */
static gboolean
is_visible_text (xmlNode *node)
{
  return node->type == XML_TEXT_NODE && node->content != NULL && sr_xml_is (node->parent, "t");
}

static gboolean
collect_runs (xmlNode *node, gpointer data)
{
  if (is_visible_text (node))
    g_string_append (data, (const char *) node->content);
  else if (sr_xml_is (node, "tab") || sr_xml_is (node, "br"))
    g_string_append_c (data, ' ');
  return node->type == XML_ELEMENT_NODE;
}

static gboolean
docx_enter (xmlNode *node, gpointer data)
{
  SrTextBuilder *builder = data;

  if (is_visible_text (node)) {
    sr_text_builder_inline (builder, (const char *) node->content,
                            strlen ((const char *) node->content));
    return FALSE;
  }
  if (node->type != XML_ELEMENT_NODE || sr_text_builder_failed (builder))
    return FALSE;
  if (sr_xml_is (node, "tab") || sr_xml_is (node, "br") || sr_xml_is (node, "cr")) {
    sr_text_builder_inline (builder, " ", 1);
    return FALSE;
  }
  if (!sr_xml_is (node, "p"))
    return !sr_xml_is (node, "pPr") && !sr_xml_is (node, "rPr");

  gboolean is_title = FALSE;
  guint level = paragraph_level (node, &is_title);
  if (level == 0) {
    sr_text_builder_end_paragraph (builder);
    return TRUE;
  }
  g_autoptr (GString) heading = g_string_new (NULL);
  sr_xml_walk (node, collect_runs, NULL, heading);
  if (is_title)
    sr_text_builder_set_title (builder, heading->str);
  sr_text_builder_heading (builder, level, heading->str);
  return FALSE;
}

static void
docx_leave (xmlNode *node, gpointer data)
{
  if (sr_xml_is (node, "p"))
    sr_text_builder_end_paragraph (data);
}

SrExtracted *
sr_read_docx (const guint8 *data, gsize length, const SrExtractLimits *limits, GError **error)
{
  static const char *const parts[] = { DOCUMENT_PART, CORE_PART, NULL };
  guint64 inflated = 0;
  g_autoptr (GHashTable) members = sr_zip_read_members (
      data, length, parts, limits != NULL ? limits->max_decompressed_bytes : 0, &inflated, error);
  if (members == NULL)
    return NULL;
  GBytes *document = g_hash_table_lookup (members, DOCUMENT_PART);
  if (document == NULL) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("The file is not a valid %s document: it has no %s part"), "DOCX",
                 DOCUMENT_PART);
    return NULL;
  }

  g_autoptr (SrTextBuilder) builder = sr_text_builder_new (SR_FORMAT_DOCX, limits);
  GBytes *core = g_hash_table_lookup (members, CORE_PART);
  xmlDoc *core_doc = core != NULL ? sr_xml_parse (core, CORE_PART, NULL) : NULL;
  if (core_doc != NULL) {
    sr_xml_walk (xmlDocGetRootElement (core_doc), find_core_title, NULL, builder);
    xmlFreeDoc (core_doc);
  }
  xmlDoc *doc = sr_xml_parse (document, DOCUMENT_PART, error);
  if (doc == NULL)
    return NULL;
  sr_xml_walk (xmlDocGetRootElement (doc), docx_enter, docx_leave, builder);
  xmlFreeDoc (doc);
  return sr_text_builder_finish (builder, error);
}
