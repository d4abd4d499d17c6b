/* The progress bar of uploads on a terminal: one line on stderr, redrawn in place. */
#include "build-config.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "cli/upload.h"

#define BAR_WIDTH 24

void
cli_progress_clear (void)
{
  fputs ("\r\033[K", stderr);
  fflush (stderr);
}

/* [#########---------------]  38%  1/3 done  report.pdf: indexing */
void
cli_progress_draw (GPtrArray *uploads)
{
  double total = 0;
  guint done = 0;
  const CliUpload *current = NULL;
  for (guint i = 0; i < uploads->len; i++) {
    const CliUpload *upload = uploads->pdata[i];
    gboolean final = cli_upload_is_final (upload);
    total += final ? 1.0 : CLAMP (upload->progress, 0.0, 1.0);
    done += final ? 1 : 0;
    if (!final && current == NULL)
      current = upload;
  }
  double fraction = uploads->len > 0 ? total / uploads->len : 1.0;
  char bar[BAR_WIDTH + 1];
  guint filled = (guint) (fraction * BAR_WIDTH + 0.5);
  for (guint i = 0; i < BAR_WIDTH; i++)
    bar[i] = i < filled ? '#' : '-';
  bar[BAR_WIDTH] = '\0';
  cli_progress_clear ();
  fprintf (stderr, _ ("[%s] %3d%%  %u/%u done"), bar, (int) (fraction * 100 + 0.5), done,
           uploads->len);
  if (current != NULL)
    fprintf (stderr, "  %s: %s", current->file, current->state);
  fflush (stderr);
}
