/* Object ids: 32 lowercase hex characters from the kernel's random source. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SR_ID_LENGTH 32

/* A fresh random id; never fails (getrandom blocks only before the pool is seeded). */
char *sr_id_new (void);
gboolean sr_id_is_valid (const char *id);

G_END_DECLS
