/* The helper's seccomp filter: what parsing in-memory bytes needs, and nothing else. */
#define _GNU_SOURCE /* AT_EMPTY_PATH */
#include "extract/confine.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/errors.h"

/* Needed by any C program once its input is in memory: moving bytes on descriptors it
 * already holds, memory, time, threads' futexes, signal returns and exit. */
static const int allowed[] = {
  SCMP_SYS (read),
  SCMP_SYS (readv),
  SCMP_SYS (pread64),
  SCMP_SYS (write),
  SCMP_SYS (writev),
  SCMP_SYS (lseek),
  SCMP_SYS (fstat),
  SCMP_SYS (close),
  SCMP_SYS (brk),
  SCMP_SYS (munmap),
  SCMP_SYS (mremap),
  SCMP_SYS (madvise),
  SCMP_SYS (futex),
  SCMP_SYS (clock_gettime),
  SCMP_SYS (clock_getres),
  SCMP_SYS (gettimeofday),
  SCMP_SYS (time),
  SCMP_SYS (nanosleep),
  SCMP_SYS (clock_nanosleep),
  SCMP_SYS (getpid),
  SCMP_SYS (gettid),
  SCMP_SYS (getrandom),
  SCMP_SYS (rt_sigreturn),
  SCMP_SYS (rt_sigprocmask),
  SCMP_SYS (rt_sigaction),
  SCMP_SYS (sigaltstack),
  SCMP_SYS (sched_yield),
  SCMP_SYS (exit),
  SCMP_SYS (exit_group),
};

/* Libraries probe files (fontconfig, locale data, converters) and cope when that fails;
 * failing them with EPERM keeps text extraction working where killing would not. */
static const int refused[] = {
  SCMP_SYS (open),
  SCMP_SYS (openat),
  SCMP_SYS (creat),
  SCMP_SYS (access),
  SCMP_SYS (faccessat),
  SCMP_SYS (faccessat2),
  SCMP_SYS (stat),
  SCMP_SYS (lstat),
  SCMP_SYS (statx),
  SCMP_SYS (readlink),
  SCMP_SYS (readlinkat),
  SCMP_SYS (ioctl),       /* isatty() */
  SCMP_SYS (getpeername), /* GLib's logging asks whether stderr is the journal */
  SCMP_SYS (sysinfo),
  SCMP_SYS (uname),
  SCMP_SYS (sched_getaffinity),
#ifdef SR_EXTRACT_COVERAGE
  /* A coverage build's exit handler creates directories and locks its data files; it
   * copes with being refused, so only the parse goes uncounted. Never in a release. */
  SCMP_SYS (mkdir),
  SCMP_SYS (mkdirat),
#endif
};

static gboolean
failed (GError **error, int rc, const char *what)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
               _ ("Could not set up the sandbox (%s): %s"), what, g_strerror (-rc));
  return FALSE;
}

static int
add_list (scmp_filter_ctx ctx, uint32_t action, const int *calls, gsize n)
{
  for (gsize i = 0; i < n; i++) {
    int rc = seccomp_rule_add (ctx, action, calls[i], 0);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* Calls that are fine with some arguments only. */
static int
add_conditional (scmp_filter_ctx ctx)
{
  int rc = 0;
  /* No new executable memory: the libraries are mapped already, and writable-then-executable
   * pages are what an exploit needs. */
  rc = rc
           ?: seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (mmap), 1,
                                SCMP_A2 (SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  rc = rc
           ?: seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (mprotect), 1,
                                SCMP_A2 (SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  rc = rc
           ?: seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (mmap), 1,
                                SCMP_A2 (SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
  rc = rc
           ?: seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (mprotect), 1,
                                SCMP_A2 (SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
  /* glibc's fstat() is fstatat(fd, "", AT_EMPTY_PATH); lookups by path are refused. */
  rc = rc
           ?: seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (newfstatat), 1,
                                SCMP_A3 (SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
  rc = rc
           ?: seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (newfstatat), 1,
                                SCMP_A3 (SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0));
  /* abort() signals itself; no other process may be signalled. */
  rc = rc
           ?: seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (tgkill), 1,
                                SCMP_A0 (SCMP_CMP_EQ, (scmp_datum_t) getpid ()));
  rc = rc
           ?: seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (fcntl), 1,
                                SCMP_A1 (SCMP_CMP_EQ, F_GETFL));
  rc = rc
           ?: seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (fcntl), 1,
                                SCMP_A1 (SCMP_CMP_EQ, F_GETFD));
  return rc;
}

gboolean
sr_confine_seccomp (GError **error)
{
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return failed (error, -errno, "PR_SET_NO_NEW_PRIVS");

  /* Anything not listed kills the whole process: a parser that reaches for the network,
   * new processes or ptrace after its input is in memory is being exploited, and a loud
   * SIGSYS is safer than an error a compromised parser could work around. */
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_KILL_PROCESS);
  if (ctx == NULL)
    return failed (error, -ENOMEM, "seccomp_init");
  int rc = add_list (ctx, SCMP_ACT_ALLOW, allowed, G_N_ELEMENTS (allowed));
  rc = rc ?: add_list (ctx, SCMP_ACT_ERRNO (EPERM), refused, G_N_ELEMENTS (refused));
  rc = rc ?: add_conditional (ctx);
  rc = rc ?: seccomp_load (ctx);
  seccomp_release (ctx);
  if (rc < 0)
    return failed (error, rc, "seccomp");
  return TRUE;
}
