/* The event loop of commands that follow signals: Ctrl-C, and the daemon going away. */
#pragma once

#include "cli/cli.h"

G_BEGIN_DECLS

typedef struct _CliLoop CliLoop;
typedef void (*CliInterrupt) (gpointer data);

CliLoop *cli_loop_new (Cli *cli, GError **error);
void cli_loop_on_interrupt (CliLoop *loop, CliInterrupt callback, gpointer data);
gboolean cli_loop_run (CliLoop *loop, GError **error);
void cli_loop_quit (CliLoop *loop);
void cli_loop_fail (CliLoop *loop, GError *error);
gboolean cli_loop_interrupted (const CliLoop *loop);
void cli_loop_free (CliLoop *loop);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliLoop, cli_loop_free)

G_END_DECLS
