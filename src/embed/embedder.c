/* The embedder interface: argument checks shared by every backend, then dispatch. */
#include "embed/embedder.h"

#include <glib/gi18n.h>

#include "common/errors.h"

void
sr_embedder_init (SrEmbedder *embedder, const SrEmbedderClass *klass, const char *model,
                  const char *url, guint dimensions)
{
  embedder->klass = klass;
  embedder->dimensions = dimensions;
  embedder->model = g_strdup (model);
  embedder->url = g_strdup (url);
  g_mutex_init (&embedder->lock);
  /* Nothing to reach: available from the start. */
  embedder->status.state = klass->probe == NULL ? SR_EMBEDDER_AVAILABLE : SR_EMBEDDER_UNKNOWN;
}

guint
sr_embedder_learn_dimensions (SrEmbedder *embedder, guint dimensions)
{
  g_atomic_int_compare_and_exchange ((gint *) &embedder->dimensions, 0, (gint) dimensions);
  return sr_embedder_dimensions (embedder);
}

guint
sr_embedder_dimensions (SrEmbedder *embedder)
{
  return (guint) g_atomic_int_get ((gint *) &embedder->dimensions);
}

void
sr_embedder_status_clear (SrEmbedderStatus *status)
{
  g_clear_pointer (&status->message, g_free);
}

/* Only the server's answer or silence counts: a cancelled call or a bad argument says
 * nothing about it. */
static void
remember (SrEmbedder *embedder, gboolean ok, const GError *error)
{
  if (!ok && !g_error_matches (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE))
    return;
  g_mutex_lock (&embedder->lock);
  embedder->status.state = ok ? SR_EMBEDDER_AVAILABLE : SR_EMBEDDER_UNAVAILABLE;
  embedder->status.checked_at = g_get_real_time ();
  g_free (embedder->status.message);
  embedder->status.message = ok ? NULL : g_strdup (error->message);
  g_mutex_unlock (&embedder->lock);
}

void
sr_embedder_get_status (SrEmbedder *embedder, SrEmbedderStatus *status)
{
  g_mutex_lock (&embedder->lock);
  *status = embedder->status;
  status->message = g_strdup (embedder->status.message);
  g_mutex_unlock (&embedder->lock);
}

gboolean
sr_embedder_embed (SrEmbedder *embedder, const char *const *texts, guint n_texts, float *vectors,
                   GCancellable *cancellable, GError **error)
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
  /* Without them the caller could not have made room for the vectors. */
  g_return_val_if_fail (sr_embedder_dimensions (embedder) > 0, FALSE);
  for (guint i = 0; i < n_texts; i++) {
    /* Checked here so that no backend sends bytes a server would misread. */
    if (texts[i] == NULL || !g_utf8_validate (texts[i], -1, NULL)) {
      g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                   _ ("Text %u of %u given to the embedder is missing or not valid UTF-8"), i + 1,
                   n_texts);
      return FALSE;
    }
  }
  GError *local = NULL;
  gboolean ok = embedder->klass->embed (embedder, texts, n_texts, vectors, cancellable, &local);
  remember (embedder, ok, local);
  if (local != NULL)
    g_propagate_error (error, local);
  return ok;
}

gboolean
sr_embedder_probe (SrEmbedder *embedder, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (embedder != NULL, FALSE);
  if (embedder->klass->probe == NULL)
    return TRUE;
  GError *local = NULL;
  gboolean ok = embedder->klass->probe (embedder, cancellable, &local);
  remember (embedder, ok, local);
  if (local != NULL)
    g_propagate_error (error, local);
  return ok;
}

guint
sr_embedder_ensure_dimensions (SrEmbedder *embedder, GCancellable *cancellable, GError **error)
{
  guint dimensions = sr_embedder_dimensions (embedder);
  if (dimensions > 0)
    return dimensions;
  if (!sr_embedder_probe (embedder, cancellable, error))
    return 0;
  dimensions = sr_embedder_dimensions (embedder);
  if (dimensions == 0)
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("The %s embedder answered without saying how long its vectors are"),
                 embedder->klass->name);
  return dimensions;
}

void
sr_embedder_free (SrEmbedder *embedder)
{
  if (embedder == NULL)
    return;
  g_free (embedder->model);
  g_free (embedder->url);
  sr_embedder_status_clear (&embedder->status);
  g_mutex_clear (&embedder->lock);
  embedder->klass->free (embedder);
}
