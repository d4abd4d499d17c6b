/* Misbehaviour on demand, compiled only into the test build of the helper. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#ifdef SR_EXTRACT_FAULTS
/* clang-format off */
#define SR_FAULT_OPTION_ENTRY(field)                                                      \
  { "fault", 0, 0, G_OPTION_ARG_STRING, &(field),                                         \
    "crash, hang, spin, oom, garbage, bigoutput, open or socket", "FAULT" }
/* clang-format on */
/* Misbehaves as @fault says, inside the sandbox; returns when @fault is NULL. */
void sr_fault_run (const char *fault);
#else
/* The shipped helper has no such option: an entry without a name ends the table. */
#define SR_FAULT_OPTION_ENTRY(field)                                                               \
  {                                                                                                \
    NULL                                                                                           \
  }
static inline void
sr_fault_run (const char *fault)
{
}
#endif

G_END_DECLS
