/* The generator interface: argument checks shared by every backend, then dispatch. */
#include "llm/generator.h"

#include <glib/gi18n.h>

#include "common/background.h"
#include "common/errors.h"

typedef struct {
  SrGenerateDone done;
  gpointer user_data;
  GError *error;
  char *model;
} Refusal;

static gboolean
refuse (gpointer data)
{
  Refusal *refusal = data;
  SrGenerateStats stats = { refusal->model, 0, 0 };

  refusal->done (&stats, refusal->error, refusal->user_data);
  g_error_free (refusal->error);
  g_free (refusal->model);
  g_free (refusal);
  return G_SOURCE_REMOVE;
}

/* A refused request ends like any other, through @done from the caller's loop: callers
 * then have one way to learn how an answer ended, and done never runs inside generate. */
static void
refuse_later (SrGenerator *generator, GError *error, SrGenerateDone done, gpointer user_data)
{
  Refusal *refusal = g_new0 (Refusal, 1);
  refusal->done = done;
  refusal->user_data = user_data;
  refusal->error = error;
  refusal->model = g_strdup (generator->model);

  g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();
  sr_background_post (context, G_PRIORITY_DEFAULT, refuse, refusal);
}

static gboolean
is_text (const char *text)
{
  return text != NULL && g_utf8_validate (text, -1, NULL);
}

static gboolean
is_text_or_null (const char *text)
{
  return text == NULL || g_utf8_validate (text, -1, NULL);
}

/* Checked here so that no backend reads past a bad character or sends bytes a server
 * would misread. */
static gboolean
check_request (const SrGenerateRequest *request, GError **error)
{
  if (!is_text (request->question)) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("The question given to the generator is missing or not valid UTF-8"));
    return FALSE;
  }
  if ((request->n_sources > 0 && request->sources == NULL)
      || (request->n_history > 0 && request->history == NULL)) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("Sources or conversation messages were counted but not given to the "
                            "generator"));
    return FALSE;
  }
  for (guint i = 0; i < request->n_sources; i++) {
    const SrPromptSource *source = &request->sources[i];
    if (!is_text (source->text) || !is_text_or_null (source->filename)
        || !is_text_or_null (source->heading)) {
      g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                   _ ("Source %u of %u given to the generator is missing or not valid UTF-8"),
                   i + 1, request->n_sources);
      return FALSE;
    }
  }
  for (guint i = 0; i < request->n_history; i++) {
    if (!is_text (request->history[i].role) || !is_text (request->history[i].content)) {
      g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                   _ ("Message %u of %u of the conversation given to the generator is missing or "
                      "not valid UTF-8"),
                   i + 1, request->n_history);
      return FALSE;
    }
  }
  if (!is_text_or_null (request->model)) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("The model name given to the generator is not valid UTF-8"));
    return FALSE;
  }
  return TRUE;
}

void
sr_generator_generate (SrGenerator *generator, const SrGenerateRequest *request,
                       GCancellable *cancellable, SrTokenFunc token, SrGenerateDone done,
                       gpointer user_data)
{
  g_return_if_fail (generator != NULL);
  g_return_if_fail (request != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  g_return_if_fail (token != NULL);
  g_return_if_fail (done != NULL);

  GError *error = NULL;
  if (!check_request (request, &error)) {
    refuse_later (generator, error, done, user_data);
    return;
  }
  generator->klass->generate (generator, request, cancellable, token, done, user_data);
}

void
sr_generator_free (SrGenerator *generator)
{
  if (generator == NULL)
    return;
  g_free (generator->model);
  generator->klass->free (generator);
}

void
sr_generator_status (SrGenerator *generator, SrGeneratorStatus *status)
{
  g_return_if_fail (generator != NULL);
  g_return_if_fail (status != NULL);

  *status = (SrGeneratorStatus){
    .backend = generator->klass->name,
    .active = generator->klass->name,
    .model = generator->model,
    .server = SR_SERVER_UNKNOWN,
  };
  if (generator->klass->status != NULL)
    generator->klass->status (generator, status);
}

SrGenerator *
sr_generator_part (SrGenerator *generator, const char *name)
{
  g_return_val_if_fail (generator != NULL, NULL);
  if (g_strcmp0 (generator->klass->name, name) == 0)
    return generator;
  return generator->klass->part != NULL ? generator->klass->part (generator, name) : NULL;
}

SrGenerateRequest *
sr_generate_request_copy (const SrGenerateRequest *request)
{
  SrGenerateRequest *copy = g_new0 (SrGenerateRequest, 1);
  *copy = *request;
  copy->question = g_strdup (request->question);
  copy->model = g_strdup (request->model);
  SrPromptSource *sources = g_new0 (SrPromptSource, request->n_sources);
  for (guint i = 0; i < request->n_sources; i++) {
    const SrPromptSource *source = &request->sources[i];
    sources[i] = (SrPromptSource){ source->number, g_strdup (source->filename), source->page,
                                   g_strdup (source->heading), g_strdup (source->text) };
  }
  copy->sources = sources;
  SrChatTurn *history = g_new0 (SrChatTurn, request->n_history);
  for (guint i = 0; i < request->n_history; i++)
    history[i] = (SrChatTurn){ g_strdup (request->history[i].role),
                               g_strdup (request->history[i].content) };
  copy->history = history;
  return copy;
}

void
sr_generate_request_free (SrGenerateRequest *request)
{
  if (request == NULL)
    return;
  for (guint i = 0; i < request->n_sources; i++) {
    g_free ((char *) request->sources[i].filename);
    g_free ((char *) request->sources[i].heading);
    g_free ((char *) request->sources[i].text);
  }
  for (guint i = 0; i < request->n_history; i++) {
    g_free ((char *) request->history[i].role);
    g_free ((char *) request->history[i].content);
  }
  g_free ((SrPromptSource *) request->sources);
  g_free ((SrChatTurn *) request->history);
  g_free ((char *) request->question);
  g_free ((char *) request->model);
  g_free (request);
}
