/* How an answer ends up printed: the text's sources, or one JSON object; its exit code. */
#pragma once

#include "cli/cli.h"

G_BEGIN_DECLS

typedef struct {
  const char *query_id;
  const char *text;
  GVariant *sources;           /* aa{sv}, NULL when none came */
  GVariant *stats;             /* a{sv} of Finished, NULL after Failed */
  const char *failure;         /* Failed's D-Bus error name, NULL after Finished */
  const char *failure_message; /* Failed's message */
} CliAnswer;

CliExit cli_answer_finish (Cli *cli, const CliAnswer *answer, gboolean interrupted);
void cli_print_sources (const Cli *cli, GVariant *sources);

G_END_DECLS
