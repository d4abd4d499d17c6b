/* Object ids: 32 lowercase hex characters from the kernel's random source; random bytes. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SR_ID_LENGTH 32

/* A fresh random id; never fails (getrandom blocks only before the pool is seeded). */
char *sr_id_new (void);
gboolean sr_id_is_valid (const char *id);

/* Fills @buffer from the kernel's random source (getrandom), for ids and secrets alike. */
void sr_random_bytes (guint8 *buffer, gsize length);
/* @length bytes as 2 * @length lowercase hexadecimal characters. */
char *sr_hex_encode (const guint8 *bytes, gsize length);

G_END_DECLS
