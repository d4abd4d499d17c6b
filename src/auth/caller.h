/* Who is asking: the identity every service operation is given by the face it came through. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint32 uid;      /* from the bus or the socket, never from arguments */
  gboolean admin;   /* root, or authorized for org.smartrag.admin */
  const char *peer; /* the bus name or HTTP peer, for logs */
} SrCaller;

/* Whether the caller may see and manage something owned by @owner_uid. */
static inline gboolean
sr_caller_may_access (const SrCaller *caller, guint32 owner_uid)
{
  return caller->admin || caller->uid == owner_uid;
}

G_END_DECLS
