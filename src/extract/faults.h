/* Misbehaviour on demand, compiled only into the test build of the helper. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#ifdef SR_EXTRACT_FAULTS
/* clang-format off */
#define SR_FAULT_OPTION_ENTRY(field)                                                      \
  { "fault", 0, 0, G_OPTION_ARG_STRING, &(field),                                         \
    "complain, crash, hang, spin, oom, garbage, bigoutput, open or socket, then "       \
    "optionally :NAME to misbehave only on documents of that name", "FAULT[:NAME]" }
/* clang-format on */
/* Misbehaves as @fault says, inside the sandbox, when reading @filename; returns when
 * @fault is NULL or names another document. */
void sr_fault_run (const char *fault, const char *filename);
#else
/* The shipped helper has no such option: an entry without a name ends the table. */
#define SR_FAULT_OPTION_ENTRY(field)                                                               \
  {                                                                                                \
    NULL                                                                                           \
  }
static inline void
sr_fault_run (const char *fault, const char *filename)
{
}
#endif

G_END_DECLS
