/* HTML (and the XHTML of EPUB): body text with heading paths; scripts and styles dropped. */
#include "ingest/read-private.h"

#include <glib/gi18n.h>
#include <libxml/HTMLparser.h>
#include <string.h>

#include "common/errors.h"

static const char *const skipped[] = {
  "script", "style", "noscript", "template", "svg", "math", "object", "iframe", "select",
};

/* Elements that start and end a paragraph; everything else is running text. */
static const char *const blocks[] = {
  "p",     "div",        "li",         "ul",      "ol",       "dl",      "dt",       "dd",
  "table", "tr",         "td",         "th",      "thead",    "tbody",   "tfoot",    "caption",
  "pre",   "blockquote", "section",    "article", "header",   "footer",  "nav",      "aside",
  "main",  "figure",     "figcaption", "form",    "fieldset", "address", "details",  "summary",
  "hr",    "body",       "html",       "center",  "legend",   "option",  "textarea",
};

static gboolean
name_in (xmlNode *node, const char *const *names, gsize n_names)
{
  for (gsize i = 0; i < n_names; i++)
    if (sr_xml_is (node, names[i]))
      return TRUE;
  return FALSE;
}

static guint
heading_level (xmlNode *node)
{
  const char *name = (const char *) node->name;
  if ((name[0] == 'h' || name[0] == 'H') && name[1] >= '1' && name[1] <= '6' && name[2] == '\0')
    return (guint) (name[1] - '0');
  return 0;
}

static gboolean
find_title (xmlNode *node, gpointer data)
{
  if (sr_xml_is (node, "title")) {
    g_autofree char *title = sr_xml_text (node);
    sr_text_builder_set_title (data, title);
    return FALSE;
  }
  return node->type == XML_ELEMENT_NODE;
}

static gboolean
html_enter (xmlNode *node, gpointer data)
{
  SrTextBuilder *builder = data;

  if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
    if (node->content != NULL)
      sr_text_builder_inline (builder, (const char *) node->content,
                              strlen ((const char *) node->content));
    return FALSE;
  }
  if (node->type != XML_ELEMENT_NODE || node->name == NULL || sr_text_builder_failed (builder))
    return FALSE;
  if (sr_xml_is (node, "head") || sr_xml_is (node, "title")) {
    sr_xml_walk (node, find_title, NULL, builder);
    return FALSE;
  }
  if (name_in (node, skipped, G_N_ELEMENTS (skipped)))
    return FALSE;
  guint level = heading_level (node);
  if (level > 0) {
    g_autofree char *heading = sr_xml_text (node);
    sr_text_builder_heading (builder, level, heading);
    return FALSE;
  }
  if (sr_xml_is (node, "br"))
    sr_text_builder_inline (builder, " ", 1);
  else if (name_in (node, blocks, G_N_ELEMENTS (blocks)))
    sr_text_builder_end_paragraph (builder);
  return TRUE;
}

static void
html_leave (xmlNode *node, gpointer data)
{
  if (name_in (node, blocks, G_N_ELEMENTS (blocks)))
    sr_text_builder_end_paragraph (data);
}

void
sr_html_add_document (SrTextBuilder *builder, xmlDoc *doc)
{
  xmlNode *root = xmlDocGetRootElement (doc);
  if (root != NULL)
    sr_xml_walk (root, html_enter, html_leave, builder);
  sr_text_builder_end_paragraph (builder);
}

xmlDoc *
sr_html_parse (const guint8 *data, gsize length, GError **error)
{
  if (length > G_MAXINT) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE,
                         _ ("The HTML document is too large to read"));
    return NULL;
  }
  /* libxml2 assumes Latin-1 when HTML declares no charset; UTF-8 is far likelier today,
   * and a file that is valid UTF-8 reads the same either way when it is plain ASCII. */
  const char *encoding = g_utf8_validate_len ((const char *) data, length, NULL) ? "UTF-8" : NULL;
  htmlDocPtr doc = htmlReadMemory ((const char *) data, (int) length, NULL, encoding,
                                   HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET
                                       | HTML_PARSE_RECOVER);
  if (doc == NULL) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("The file cannot be read as HTML"));
    return NULL;
  }
  return doc;
}

SrExtracted *
sr_read_html (const guint8 *data, gsize length, const SrExtractLimits *limits, GError **error)
{
  xmlDoc *doc = sr_html_parse (data, length, error);
  if (doc == NULL)
    return NULL;

  g_autoptr (SrTextBuilder) builder = sr_text_builder_new (SR_FORMAT_HTML, limits);
  sr_html_add_document (builder, doc);
  xmlFreeDoc (doc);
  return sr_text_builder_finish (builder, error);
}
