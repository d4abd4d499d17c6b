/* The "auto" generator: Ollama when it answers and has the model, else the builtin one. */
#include "llm/generator.h"

#include <glib/gi18n.h>

#include "common/errors.h"

typedef struct {
  SrGenerator parent;
  SrGenerator *ollama;
  SrGenerator *fallback;
  GHashTable *asking_ollama; /* Job* waiting for Ollama: freed with the generator */
  char *message;             /* of the last status */
} Auto;

/* One question; kept whole so that the fallback can answer it after Ollama failed. */
typedef struct {
  Auto *self;
  SrGenerateRequest *request;
  GCancellable *cancellable;
  SrTokenFunc token;
  SrGenerateDone done;
  gpointer user_data;
  gboolean got_token;
} Job;

static void
job_free (Job *job)
{
  sr_generate_request_free (job->request);
  g_clear_object (&job->cancellable);
  g_free (job);
}

static void
on_token (const char *text, gpointer user_data)
{
  Job *job = user_data;
  job->got_token = TRUE;
  job->token (text, job->user_data);
}

static void
end (Job *job, const SrGenerateStats *stats, const GError *error, const char *backend)
{
  SrGenerateStats said = *stats;
  said.backend = backend;
  job->done (&said, error, job->user_data);
  job_free (job);
}

static void
on_fallback_done (const SrGenerateStats *stats, const GError *error, gpointer user_data)
{
  end (user_data, stats, error, ((Job *) user_data)->self->fallback->klass->name);
}

static void
ask_fallback (Job *job)
{
  sr_generator_generate (job->self->fallback, job->request, job->cancellable, on_token,
                         on_fallback_done, job);
}

static void
on_ollama_done (const SrGenerateStats *stats, const GError *error, gpointer user_data)
{
  Job *job = user_data;
  Auto *self = job->self;

  g_hash_table_remove (self->asking_ollama, job);
  /* Nothing was said yet, so the question can still be answered whole by the fallback;
   * after the first token a switch would splice two answers. */
  if (g_error_matches (error, SMARTRAG_ERROR, SMARTRAG_ERROR_BACKEND_UNAVAILABLE) && !job->got_token
      && !g_cancellable_is_cancelled (job->cancellable)) {
    g_info ("%s; the %s generator answers instead", error->message, self->fallback->klass->name);
    ask_fallback (job);
    return;
  }
  end (job, stats, error, self->ollama->klass->name);
}

/* Ollama is skipped only on a fresh finding that it cannot answer; an old one, or none, is
 * checked by asking it (a failure before the first token costs only the time to learn it). */
static gboolean
should_ask_ollama (Auto *self, const SrGenerateRequest *request)
{
  SrGeneratorStatus status;
  sr_generator_status (self->ollama, &status);
  gboolean fresh = status.checked_at > 0
                   && g_get_real_time () - status.checked_at < SR_GENERATOR_PROBE_INTERVAL_US;
  if (!fresh)
    return TRUE;
  gboolean other_model = request->model != NULL && *request->model != '\0'
                         && g_strcmp0 (request->model, self->ollama->model) != 0;
  return status.server == SR_SERVER_READY || status.server == SR_SERVER_UNKNOWN
         || (status.server == SR_SERVER_NO_MODEL && other_model);
}

static void
auto_generate (SrGenerator *generator, const SrGenerateRequest *request, GCancellable *cancellable,
               SrTokenFunc token, SrGenerateDone done, gpointer user_data)
{
  Auto *self = (Auto *) generator;
  Job *job = g_new0 (Job, 1);
  job->self = self;
  job->request = sr_generate_request_copy (request);
  job->cancellable = cancellable != NULL ? g_object_ref (cancellable) : g_cancellable_new ();
  job->token = token;
  job->done = done;
  job->user_data = user_data;

  if (!should_ask_ollama (self, request)) {
    ask_fallback (job);
    return;
  }
  g_hash_table_add (self->asking_ollama, job);
  sr_generator_generate (self->ollama, job->request, job->cancellable, on_token, on_ollama_done,
                         job);
}

static void
auto_status (SrGenerator *generator, SrGeneratorStatus *status)
{
  Auto *self = (Auto *) generator;
  SrGeneratorStatus ollama;

  sr_generator_status (self->ollama, &ollama);
  *status = ollama;
  status->backend = generator->klass->name;
  g_clear_pointer (&self->message, g_free);
  switch (ollama.server) {
  case SR_SERVER_READY:
    return;
  case SR_SERVER_UNKNOWN:
    self->message = g_strdup_printf (_ ("Ollama at %s has not been checked yet; questions try "
                                        "it first"),
                                     ollama.url);
    break;
  case SR_SERVER_NO_MODEL:
  case SR_SERVER_FAILING:
    status->active = self->fallback->klass->name;
    status->model = self->fallback->model;
    self->message = g_strdup_printf (_ ("%s; the %s generator answers meanwhile"), ollama.message,
                                     self->fallback->klass->name);
    break;
  }
  status->message = self->message;
}

/* Asked for by name, each answers alone: "ollama" without the fallback. */
static SrGenerator *
auto_part (SrGenerator *generator, const char *name)
{
  Auto *self = (Auto *) generator;
  if (g_str_equal (name, self->ollama->klass->name))
    return self->ollama;
  if (g_str_equal (name, self->fallback->klass->name))
    return self->fallback;
  return NULL;
}

static void
auto_free (SrGenerator *generator)
{
  Auto *self = (Auto *) generator;
  /* Ollama ends its streams without a call when freed: its jobs are freed here. The
   * fallback's answers run on their own and are left to end. */
  sr_generator_free (self->ollama);
  GHashTableIter iter;
  gpointer job;
  g_hash_table_iter_init (&iter, self->asking_ollama);
  while (g_hash_table_iter_next (&iter, &job, NULL))
    job_free (job);
  g_hash_table_unref (self->asking_ollama);
  sr_generator_free (self->fallback);
  g_free (self->message);
  g_free (self);
}

static const SrGeneratorClass auto_class = {
  .name = "auto",
  .generate = auto_generate,
  .free = auto_free,
  .status = auto_status,
  .part = auto_part,
};

SrGenerator *
sr_generator_auto_new (SrGenerator *ollama, SrGenerator *fallback)
{
  Auto *self = g_new0 (Auto, 1);
  self->parent.klass = &auto_class;
  self->parent.model = g_strdup (ollama->model);
  self->ollama = ollama;
  self->fallback = fallback;
  self->asking_ollama = g_hash_table_new (g_direct_hash, g_direct_equal);
  return &self->parent;
}
