/* How many sessions and documents there are, read in constant time for metrics. */
#pragma once

#include <glib.h>

#include "store/store.h"

G_BEGIN_DECLS

/* The states of a document, in the order of its life. */
#define SR_DOCUMENT_N_STATES 5
extern const char *const sr_document_states[SR_DOCUMENT_N_STATES];

typedef struct {
  guint64 sessions;
  guint64 active_sessions;                 /* last active at or after the time asked */
  guint64 documents[SR_DOCUMENT_N_STATES]; /* by state, as sr_document_states */
} SrStoreCounts;

/* Reads the counts the schema's triggers keep, and counts the sessions active since
 * @active_since (µs since the epoch) in the index by activity: a cost that follows the
 * sessions in use, not the rows there are. */
gboolean sr_store_counts_read (SrStore *store, gint64 active_since, SrStoreCounts *counts,
                               GError **error);

G_END_DECLS
