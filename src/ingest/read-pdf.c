/* PDF through poppler-glib: one section per page, paragraphs at blank lines. */
#include "ingest/read-private.h"

#include <glib/gi18n.h>
#include <poppler.h>
#include <string.h>

#include "common/errors.h"

static void
open_failed (GError *cause, GError **error)
{
  if (g_error_matches (cause, POPPLER_ERROR, POPPLER_ERROR_ENCRYPTED))
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("The PDF is protected with a password; save a copy without the "
                            "password and add that"));
  else
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("The PDF file is damaged or incomplete and cannot be read (%s); check that "
                    "it opens in a PDF viewer and add it again"),
                 cause != NULL ? cause->message : _ ("unknown reason"));
}

static void
add_pages (SrTextBuilder *builder, PopplerDocument *doc, int n_pages)
{
  for (int i = 0; i < n_pages && !sr_text_builder_failed (builder); i++) {
    PopplerPage *page = poppler_document_get_page (doc, i);
    if (page == NULL)
      continue;
    g_autofree char *text = poppler_page_get_text (page);
    g_object_unref (page);
    sr_text_builder_set_page (builder, (guint) i + 1);
    if (text != NULL)
      sr_text_builder_plain (builder, text, strlen (text));
  }
}

static gboolean
check_pages (int n_pages, const SrExtractLimits *limits, GError **error)
{
  guint max_pages = limits != NULL ? limits->max_pages : 0;
  if (n_pages <= 0) {
    open_failed (NULL, error);
    return FALSE;
  }
  if (max_pages != 0 && (guint) n_pages > max_pages) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE,
                 _ ("The PDF has %d pages, more than the limit of %u ([limits] max_pages); "
                    "split it into smaller files or raise the limit"),
                 n_pages, max_pages);
    return FALSE;
  }
  return TRUE;
}

SrExtracted *
sr_read_pdf (const guint8 *data, gsize length, const SrExtractLimits *limits, GError **error)
{
  /* poppler keeps the bytes only for the document's life, which ends in this function.
   * (poppler-glib of Debian 12 has no g_autoptr support, hence the explicit unrefs.) */
  g_autoptr (GBytes) bytes = g_bytes_new_static (data, length);
  g_autoptr (GError) local = NULL;
  PopplerDocument *doc = poppler_document_new_from_bytes (bytes, NULL, &local);
  if (doc == NULL) {
    open_failed (local, error);
    return NULL;
  }
  int n_pages = poppler_document_get_n_pages (doc);
  if (!check_pages (n_pages, limits, error)) {
    g_object_unref (doc);
    return NULL;
  }
  g_autoptr (SrTextBuilder) builder = sr_text_builder_new (SR_FORMAT_PDF, limits);
  g_autofree char *title = poppler_document_get_title (doc);
  sr_text_builder_set_title (builder, title);
  add_pages (builder, doc, n_pages);
  g_object_unref (doc);
  return sr_text_builder_finish (builder, error);
}
