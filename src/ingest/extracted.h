/* What a format reader gets out of a file: text in sections, each with its page and headings. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  SR_FORMAT_UNKNOWN,
  SR_FORMAT_TEXT,
  SR_FORMAT_MARKDOWN,
  SR_FORMAT_HTML,
  SR_FORMAT_PDF,
  SR_FORMAT_DOCX,
  SR_FORMAT_ODT,
  SR_FORMAT_EPUB,
} SrFormat;

/* A run of text that shares one location: a paragraph block under one heading on one page. */
typedef struct {
  char *text;    /* UTF-8, paragraphs separated by "\n\n" */
  guint page;    /* 1-based page for paged formats, 0 when the format has none */
  char *heading; /* heading path such as "Install > Requirements", "" when none */
} SrSection;

typedef struct {
  SrFormat format;
  char *title;         /* from the document's metadata, NULL when it has none */
  GPtrArray *sections; /* SrSection*, in document order */
} SrExtracted;

/* Limits a reader must honour; going past one fails the document with TOO_LARGE.
 * 0 means no limit (for tests and trusted callers only). */
typedef struct {
  guint64 max_output_bytes;       /* text produced, all sections together */
  guint64 max_decompressed_bytes; /* bytes inflated from archive members (DOCX, ODT, EPUB) */
  guint max_pages;                /* PDF pages */
} SrExtractLimits;

const char *sr_format_name (SrFormat format);
/* "plain text (UTF-8 or Latin-1), Markdown, HTML, PDF, DOCX, ODT, EPUB" for messages. */
const char *sr_format_supported_list (void);

SrSection *sr_section_new (const char *text, guint page, const char *heading);
void sr_section_free (SrSection *section);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrSection, sr_section_free)

SrExtracted *sr_extracted_new (SrFormat format);
void sr_extracted_free (SrExtracted *extracted);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrExtracted, sr_extracted_free)

G_END_DECLS
