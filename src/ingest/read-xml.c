/* XML helpers for the readers: safe parsing, an iterative walk, text and attributes. */
#include "ingest/read-private.h"

#include <glib/gi18n.h>
#include <libxml/parser.h>
#include <string.h>

#include "common/errors.h"

void
sr_xml_walk (xmlNode *root, SrXmlEnter enter, SrXmlLeave leave, gpointer data)
{
  xmlNode *node = root;

  while (node != NULL) {
    gboolean descend = enter (node, data);
    if (descend && node->type == XML_ELEMENT_NODE && node->children != NULL) {
      node = node->children;
      continue;
    }
    if (leave != NULL)
      leave (node, data);
    while (node != root && node->next == NULL) {
      node = node->parent;
      if (leave != NULL)
        leave (node, data);
    }
    if (node == root)
      return;
    node = node->next;
  }
}

static gboolean
collect_text (xmlNode *node, gpointer data)
{
  GString *text = data;
  if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
    if (node->content != NULL)
      g_string_append (text, (const char *) node->content);
    return FALSE;
  }
  return node->type == XML_ELEMENT_NODE && !sr_xml_is (node, "script")
         && !sr_xml_is (node, "style");
}

char *
sr_xml_text (xmlNode *node)
{
  GString *text = g_string_new (NULL);
  sr_xml_walk (node, collect_text, NULL, text);
  return g_string_free (text, FALSE);
}

gboolean
sr_xml_is (xmlNode *node, const char *local_name)
{
  return node != NULL && node->type == XML_ELEMENT_NODE && node->name != NULL
         && strcmp ((const char *) node->name, local_name) == 0;
}

char *
sr_xml_attr (xmlNode *node, const char *local_name)
{
  if (node == NULL || node->type != XML_ELEMENT_NODE)
    return NULL;
  for (xmlAttr *attr = node->properties; attr != NULL; attr = attr->next) {
    if (strcmp ((const char *) attr->name, local_name) != 0)
      continue;
    xmlChar *value = xmlNodeGetContent ((xmlNode *) attr);
    char *copy = g_strdup (value != NULL ? (const char *) value : "");
    xmlFree (value);
    return copy;
  }
  return NULL;
}

xmlDoc *
sr_xml_parse (GBytes *bytes, const char *what, GError **error)
{
  gsize length = 0;
  const char *data = g_bytes_get_data (bytes, &length);

  if (length > G_MAXINT) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE,
                 _ ("The part %s of the file is too large to read"), what);
    return NULL;
  }
  /* No XML_PARSE_NOENT, DTDLOAD or HUGE: entities stay references that the walk never
   * follows, nothing is fetched, and libxml2 keeps its depth and size limits. */
  xmlDoc *doc = xmlReadMemory (data, (int) length, what, NULL,
                               XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL || xmlDocGetRootElement (doc) == NULL) {
    if (doc != NULL)
      xmlFreeDoc (doc);
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("The file is damaged: its part %s is not well-formed XML"), what);
    return NULL;
  }
  return doc;
}
