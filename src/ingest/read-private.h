/* Shared by the format readers: the section builder, text decoding, XML walking, zip members. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "ingest/extracted.h"

G_BEGIN_DECLS

/* Collects paragraphs under the current heading path and page into sections, counting
 * every byte against max_output_bytes. The first failure sticks; later calls do nothing. */
typedef struct SrTextBuilder SrTextBuilder;

SrTextBuilder *sr_text_builder_new (SrFormat format, const SrExtractLimits *limits);
void sr_text_builder_free (SrTextBuilder *builder);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrTextBuilder, sr_text_builder_free)

/* Keeps the first non-blank title. */
void sr_text_builder_set_title (SrTextBuilder *builder, const char *title);
void sr_text_builder_set_page (SrTextBuilder *builder, guint page);
/* @level 1..9; deeper levels of the path are forgotten. */
void sr_text_builder_heading (SrTextBuilder *builder, guint level, const char *text);
/* Running text of markup: whitespace runs become one space. */
void sr_text_builder_inline (SrTextBuilder *builder, const char *text, gsize length);
void sr_text_builder_end_paragraph (SrTextBuilder *builder);
/* One paragraph kept as written (line breaks included), e.g. a code block. */
void sr_text_builder_block (SrTextBuilder *builder, const char *text, gsize length);
/* Plain text: paragraphs at blank lines. */
void sr_text_builder_plain (SrTextBuilder *builder, const char *text, gsize length);
gboolean sr_text_builder_failed (SrTextBuilder *builder);
SrExtracted *sr_text_builder_finish (SrTextBuilder *builder, GError **error);

/* TRUE when @data looks like text: UTF-8 or Latin-1/Windows-1252 without NUL bytes and
 * with few control characters. Only the first @sample bytes are examined (0: all). */
gboolean sr_text_plausible (const guint8 *data, gsize length, gsize sample);
/* UTF-8 without BOM and with "\n" line ends, or NULL with INVALID_ARGS. */
char *sr_text_decode (const guint8 *data, gsize length, gsize *out_length, GError **error);

/* Iterative, so deep nesting cannot exhaust the stack. @enter returns whether to descend;
 * @leave runs after every entered node. Entity references are never followed. */
typedef gboolean (*SrXmlEnter) (xmlNode *node, gpointer data);
typedef void (*SrXmlLeave) (xmlNode *node, gpointer data);
void sr_xml_walk (xmlNode *root, SrXmlEnter enter, SrXmlLeave leave, gpointer data);
/* The text and CDATA below @node, whitespace collapsed. */
char *sr_xml_text (xmlNode *node);
gboolean sr_xml_is (xmlNode *node, const char *local_name);
/* The attribute by local name, whatever its namespace; NULL when absent. */
char *sr_xml_attr (xmlNode *node, const char *local_name);
/* Parses XML without network, DTD loading or entity expansion; @what names the part in
 * the error message. */
xmlDoc *sr_xml_parse (GBytes *bytes, const char *what, GError **error);

/* HTML and XHTML with libxml2's forgiving parser; UTF-8 unless the markup declares otherwise. */
xmlDoc *sr_html_parse (const guint8 *data, gsize length, GError **error);
/* Adds the body text of @doc with headings; sets the title from <title>. */
void sr_html_add_document (SrTextBuilder *builder, xmlDoc *doc);

/* Reads the named zip members (only these are inflated) into a table name → GBytes,
 * counting inflated bytes in *@inflated against @max_inflated (0: no limit). Members
 * that are absent are simply not in the table. */
GHashTable *sr_zip_read_members (const guint8 *data, gsize length, const char *const *names,
                                 guint64 max_inflated, guint64 *inflated, GError **error);
/* The names of the first @max_entries members, or NULL when @data is not a zip archive. */
GPtrArray *sr_zip_list (const guint8 *data, gsize length, guint max_entries);

SrExtracted *sr_read_text (const guint8 *data, gsize length, const SrExtractLimits *limits,
                           GError **error);
SrExtracted *sr_read_markdown (const guint8 *data, gsize length, const SrExtractLimits *limits,
                               GError **error);
SrExtracted *sr_read_html (const guint8 *data, gsize length, const SrExtractLimits *limits,
                           GError **error);
SrExtracted *sr_read_pdf (const guint8 *data, gsize length, const SrExtractLimits *limits,
                          GError **error);
SrExtracted *sr_read_docx (const guint8 *data, gsize length, const SrExtractLimits *limits,
                           GError **error);
SrExtracted *sr_read_odt (const guint8 *data, gsize length, const SrExtractLimits *limits,
                          GError **error);
SrExtracted *sr_read_epub (const guint8 *data, gsize length, const SrExtractLimits *limits,
                           GError **error);

G_END_DECLS
