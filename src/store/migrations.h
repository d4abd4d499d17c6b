/* The schema history: one entry per version, each applied in one transaction. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  int version;
  const char *summary;
  const char *sql;
} SrMigration;

const SrMigration *sr_migrations (guint *n_migrations);

G_END_DECLS
