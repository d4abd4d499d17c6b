/* Sending and receiving the fork server's messages, with descriptors attached. */
#include "extract/serve-protocol.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Room for the most descriptors any message carries. */
#define MAX_FDS SR_SERVE_N_FDS

int
sr_serve_send (int socket, const void *data, gsize length, const int *fds, guint n_fds)
{
  struct iovec iov = { (void *) data, length };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
  union {
    char buffer[CMSG_SPACE (sizeof (int) * MAX_FDS)];
    struct cmsghdr align;
  } control;

  g_return_val_if_fail (n_fds <= MAX_FDS, -EINVAL);
  if (n_fds > 0) {
    memset (&control, 0, sizeof control);
    msg.msg_control = control.buffer;
    msg.msg_controllen = CMSG_SPACE (sizeof (int) * n_fds);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR (&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN (sizeof (int) * n_fds);
    memcpy (CMSG_DATA (cmsg), fds, sizeof (int) * n_fds);
  }
  for (;;) {
    ssize_t n = sendmsg (socket, &msg, MSG_NOSIGNAL);
    if (n >= 0)
      return (gsize) n == length ? 0 : -EMSGSIZE;
    if (errno != EINTR)
      return -errno;
  }
}

/* Takes the descriptors out of a received message; FALSE if there were more than fit. */
static gboolean
take_fds (struct msghdr *msg, int *fds, guint max_fds, guint *n_fds)
{
  gboolean fit = TRUE;

  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (msg); cmsg != NULL; cmsg = CMSG_NXTHDR (msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
      continue;
    guint count = (guint) ((cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int));
    for (guint i = 0; i < count; i++) {
      int fd;
      memcpy (&fd, CMSG_DATA (cmsg) + i * sizeof (int), sizeof fd);
      if (*n_fds < max_fds) {
        fds[(*n_fds)++] = fd;
      } else {
        close (fd);
        fit = FALSE;
      }
    }
  }
  return fit;
}

gssize
sr_serve_receive (int socket, void *buffer, gsize size, int *fds, guint max_fds, guint *n_fds)
{
  struct iovec iov = { buffer, size };
  union {
    char buffer[CMSG_SPACE (sizeof (int) * MAX_FDS)];
    struct cmsghdr align;
  } control;
  struct msghdr msg = {
    .msg_iov = &iov,
    .msg_iovlen = 1,
    .msg_control = control.buffer,
    .msg_controllen = sizeof control.buffer,
  };
  ssize_t n;

  *n_fds = 0;
  for (guint i = 0; i < max_fds; i++)
    fds[i] = -1;
  do
    n = recvmsg (socket, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -errno;
  gboolean fit = take_fds (&msg, fds, max_fds, n_fds);
  if (fit && (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0)
    return n;
  for (guint i = 0; i < *n_fds; i++)
    close (fds[i]);
  for (guint i = 0; i < max_fds; i++)
    fds[i] = -1;
  *n_fds = 0;
  return -EBADMSG;
}

GByteArray *
sr_serve_request_encode (const SrServeRequest *request, const char *filename)
{
  GByteArray *out = g_byte_array_sized_new (sizeof *request + request->filename_length);
  g_byte_array_append (out, (const guint8 *) request, sizeof *request);
  g_byte_array_append (out, (const guint8 *) filename, request->filename_length);
  return out;
}

int
sr_serve_request_decode (const guint8 *data, gsize length, SrServeRequest *request, char **filename)
{
  if (length < sizeof *request)
    return -EINVAL;
  memcpy (request, data, sizeof *request);
  if (request->version != SR_SERVE_VERSION)
    return -EPROTO;
  if (request->filename_length > SR_SERVE_MAX_FILENAME
      || length != sizeof *request + request->filename_length)
    return -EINVAL;
  if (request->max_file_bytes == 0 || request->max_memory_bytes == 0
      || request->max_output_bytes == 0 || request->max_decompressed_bytes == 0
      || request->cpu_seconds == 0 || request->max_pages == 0
      || (request->flags & ~(SR_SERVE_DETECT_ONLY | SR_SERVE_TYPED_TEXT)) != 0
      || request->niceness < -20 || request->niceness > 19)
    return -EINVAL;
  const char *name = (const char *) data + sizeof *request;
  if (memchr (name, '\0', request->filename_length) != NULL)
    return -EINVAL;
  *filename = g_strndup (name, request->filename_length);
  return 0;
}

void
sr_serve_reset_signals (void)
{
  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal (sig, SIG_DFL);
}
