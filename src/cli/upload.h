/* Following added documents until they are ready or failed, with a progress bar. */
#pragma once

#include "cli/cli.h"

G_BEGIN_DECLS

typedef struct {
  char *file; /* as given on the command line */
  char *id;
  char *state;
  double progress;
  char *message;
} CliUpload;

void cli_upload_free (CliUpload *upload);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliUpload, cli_upload_free)

gboolean cli_upload_is_final (const CliUpload *upload);

typedef struct _CliWatch CliWatch;

CliWatch *cli_watch_new (Cli *cli, const char *session_path, GError **error);
void cli_watch_add (CliWatch *watch, CliUpload *upload);
gboolean cli_watch_run (CliWatch *watch, GError **error);
void cli_watch_free (CliWatch *watch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliWatch, cli_watch_free)

/* progress.c */
void cli_progress_draw (GPtrArray *uploads);
void cli_progress_clear (void);

G_END_DECLS
