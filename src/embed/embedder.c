/* The embedder interface: argument checks shared by every backend, then dispatch. */
#include "embed/embedder.h"

#include <glib/gi18n.h>

#include "common/errors.h"

gboolean
sr_embedder_embed (SrEmbedder *embedder, const char *const *texts, guint n_texts, float *vectors,
                   GError **error)
{
  g_return_val_if_fail (embedder != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (n_texts == 0)
    return TRUE;
  if (texts == NULL || vectors == NULL) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("No texts or no room for their vectors were given to the embedder"));
    return FALSE;
  }
  for (guint i = 0; i < n_texts; i++) {
    /* Checked here so that no backend sends bytes a server would misread. */
    if (texts[i] == NULL || !g_utf8_validate (texts[i], -1, NULL)) {
      g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                   _ ("Text %u of %u given to the embedder is missing or not valid UTF-8"), i + 1,
                   n_texts);
      return FALSE;
    }
  }
  return embedder->klass->embed (embedder, texts, n_texts, vectors, error);
}

void
sr_embedder_free (SrEmbedder *embedder)
{
  if (embedder == NULL)
    return;
  g_free (embedder->model);
  embedder->klass->free (embedder);
}
