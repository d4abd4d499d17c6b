/* Vector index files: our header and checksum around hnswlib's bytes, saved atomically. */
#include "index/vector-index.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "index/hnsw-shim.h"

/* Layout of the header, all little-endian:
 *   0  magic "SRVINDEX"      8  u32 format version   12 u32 dimensions
 *   16 u64 live vectors      24 u64 slots (live + removed awaiting reuse)
 *   32 u64 payload length    40 u64 payload checksum  48 16 zero bytes
 * followed by the payload, hnswlib's saveIndex() layout in this machine's byte order. */
#define HEADER_SIZE  64
#define FILE_MAGIC   "SRVINDEX"
#define FILE_VERSION 1
#define WRITE_BUFFER (1 << 20) /* a multiple of 8: the checksum runs on whole words */
#define FNV_OFFSET   G_GUINT64_CONSTANT (0xcbf29ce484222325)
#define FNV_PRIME    G_GUINT64_CONSTANT (0x100000001b3)

typedef struct {
  guint64 live;
  guint64 slots;
  guint64 payload_length;
  guint64 checksum;
  guint32 dimensions;
} Header;

/* FNV-1a taken a 64-bit word at a time: eight times faster than bytewise over a gigabyte
 * of vectors, and any one changed word still always changes the result, since each step
 * is a bijection of the running value. It guards against damage, not against forgery. */
static guint64
checksum_update (guint64 h, const guint8 *data, gsize length)
{
  gsize i = 0;
  for (; i + 8 <= length; i += 8) {
    guint64 word;
    memcpy (&word, data + i, sizeof word);
    h ^= GUINT64_FROM_LE (word);
    h *= FNV_PRIME;
  }
  for (; i < length; i++) {
    h ^= data[i];
    h *= FNV_PRIME;
  }
  return h;
}

static void
header_encode (const Header *h, guint8 out[HEADER_SIZE])
{
  guint32 version = GUINT32_TO_LE (FILE_VERSION), dimensions = GUINT32_TO_LE (h->dimensions);
  guint64 fields[4] = { GUINT64_TO_LE (h->live), GUINT64_TO_LE (h->slots),
                        GUINT64_TO_LE (h->payload_length), GUINT64_TO_LE (h->checksum) };

  memset (out, 0, HEADER_SIZE);
  memcpy (out, FILE_MAGIC, 8);
  memcpy (out + 8, &version, 4);
  memcpy (out + 12, &dimensions, 4);
  memcpy (out + 16, fields, sizeof fields);
}

static gboolean
header_decode (const guint8 *in, gsize file_size, const char *path, guint dimensions, Header *h,
               GError **error)
{
  static const guint8 zeros[HEADER_SIZE - 48] = { 0 };
  guint32 version, file_dimensions;
  guint64 fields[4];

  if (file_size < HEADER_SIZE || memcmp (in, FILE_MAGIC, 8) != 0) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("%s is not a SmartRAG vector index; it will be rebuilt"), path);
    return FALSE;
  }
  memcpy (&version, in + 8, 4);
  memcpy (&file_dimensions, in + 12, 4);
  memcpy (fields, in + 16, sizeof fields);
  if (GUINT32_FROM_LE (version) != FILE_VERSION || memcmp (in + 48, zeros, sizeof zeros) != 0) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("%s was written by another version of SmartRAG (format %u); it will be "
                    "rebuilt"),
                 path, GUINT32_FROM_LE (version));
    return FALSE;
  }
  h->dimensions = GUINT32_FROM_LE (file_dimensions);
  if (h->dimensions != dimensions) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("%s holds vectors of %u dimensions, but the embedder makes %u; it will be "
                    "rebuilt"),
                 path, h->dimensions, dimensions);
    return FALSE;
  }
  h->live = GUINT64_FROM_LE (fields[0]);
  h->slots = GUINT64_FROM_LE (fields[1]);
  h->payload_length = GUINT64_FROM_LE (fields[2]);
  h->checksum = GUINT64_FROM_LE (fields[3]);
  return TRUE;
}

static gboolean
damaged (const char *path, const char *why, GError **error)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
               _ ("%s is damaged (%s); it will be rebuilt"), path, why);
  return FALSE;
}

static gboolean
payload_valid (const guint8 *contents, gsize size, const char *path, const Header *h,
               GError **error)
{
  if (h->payload_length != size - HEADER_SIZE)
    return damaged (path,
                    size - HEADER_SIZE < h->payload_length ? _ ("truncated") : _ ("trailing bytes"),
                    error);
  if (checksum_update (FNV_OFFSET, contents + HEADER_SIZE, size - HEADER_SIZE) != h->checksum)
    return damaged (path, _ ("checksum mismatch"), error);
  return TRUE;
}

SrVectorIndex *
sr_vector_index_load (const char *path, guint dimensions, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  Header h;

  g_return_val_if_fail (path != NULL, NULL);
  g_autoptr (GMappedFile) file = g_mapped_file_new (path, FALSE, &local_error);
  if (file == NULL) {
    gboolean absent = g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    g_set_error (error, SMARTRAG_ERROR, absent ? SMARTRAG_ERROR_NOT_FOUND : SMARTRAG_ERROR_FAILED,
                 _ ("Cannot read the vector index: %s"), local_error->message);
    return NULL;
  }
  const guint8 *contents = (const guint8 *) g_mapped_file_get_contents (file);
  gsize size = g_mapped_file_get_length (file);
  if (!header_decode (contents, size, path, dimensions, &h, error)
      || !payload_valid (contents, size, path, &h, error))
    return NULL;

  g_autoptr (SrVectorIndex) index = sr_vector_index_read_payload (
      dimensions, contents + HEADER_SIZE, size - HEADER_SIZE, &local_error);
  if (index == NULL) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED, "%s: %s", path,
                 local_error->message);
    return NULL;
  }
  if (sr_vector_index_count (index) != h.live || sr_vector_index_slots (index) != h.slots) {
    damaged (path, _ ("counts disagree with the header"), error);
    return NULL;
  }
  return g_steal_pointer (&index);
}

/* Saving */

typedef struct {
  int fd;
  const char *path;
  guint8 *buffer;
  gsize used;
  guint64 written;
  guint64 checksum;
} Writer;

static gboolean
write_all (int fd, const guint8 *data, gsize length, off_t offset, const char *path, GError **error)
{
  while (length > 0) {
    ssize_t n = pwrite (fd, data, length, offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int saved = errno;
      g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                   _ ("Cannot write the vector index %s: %s"), path, g_strerror (saved));
      return FALSE;
    }
    data += n;
    length -= (gsize) n;
    offset += n;
  }
  return TRUE;
}

static gboolean
writer_flush (Writer *w, GError **error)
{
  w->checksum = checksum_update (w->checksum, w->buffer, w->used);
  if (!write_all (w->fd, w->buffer, w->used, (off_t) (HEADER_SIZE + w->written), w->path, error))
    return FALSE;
  w->written += w->used;
  w->used = 0;
  return TRUE;
}

static gboolean
writer_put (const void *data, gsize length, gpointer user_data, GError **error)
{
  Writer *w = user_data;
  const guint8 *bytes = data;

  while (length > 0) {
    gsize n = MIN (length, WRITE_BUFFER - w->used);
    memcpy (w->buffer + w->used, bytes, n);
    w->used += n;
    bytes += n;
    length -= n;
    if (w->used == WRITE_BUFFER && !writer_flush (w, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
sync_fd (int fd, const char *what, GError **error)
{
  if (fsync (fd) == 0)
    return TRUE;
  int saved = errno;
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED, _ ("Cannot flush %s to disk: %s"),
               what, g_strerror (saved));
  return FALSE;
}

static gboolean
write_file (SrVectorIndex *index, Writer *w, GError **error)
{
  guint8 header[HEADER_SIZE];
  Header h = { 0 };

  if (!sr_vector_index_write_payload (index, writer_put, w, &h.live, &h.slots, error)
      || !writer_flush (w, error))
    return FALSE;
  h.payload_length = w->written;
  h.checksum = w->checksum;
  h.dimensions = sr_vector_index_dimensions (index);
  header_encode (&h, header);
  return write_all (w->fd, header, HEADER_SIZE, 0, w->path, error)
         && sync_fd (w->fd, w->path, error);
}

static gboolean
sync_directory (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int saved = errno;
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot open the directory %s to flush it: %s"), dir, g_strerror (saved));
    return FALSE;
  }
  gboolean ok = sync_fd (fd, dir, error);
  close (fd);
  return ok;
}

gboolean
sr_vector_index_save (SrVectorIndex *index, const char *path, GError **error)
{
  g_return_val_if_fail (index != NULL && path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* In the same directory, so that the rename cannot cross file systems. */
  g_autofree char *tmp = g_strconcat (path, ".tmp.XXXXXX", NULL);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    int saved = errno;
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot create a temporary file next to %s: %s"), path, g_strerror (saved));
    return FALSE;
  }
  g_autofree guint8 *buffer = g_malloc (WRITE_BUFFER);
  Writer w = { fd, tmp, buffer, 0, 0, FNV_OFFSET };
  gboolean ok = write_file (index, &w, error);
  if (close (fd) != 0 && ok) {
    int saved = errno;
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot write the vector index %s: %s"), tmp, g_strerror (saved));
    ok = FALSE;
  }
  if (ok && g_rename (tmp, path) != 0) {
    int saved = errno;
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                 _ ("Cannot move the new vector index into place as %s: %s"), path,
                 g_strerror (saved));
    ok = FALSE;
  }
  if (!ok) {
    g_unlink (tmp);
    return FALSE;
  }
  return sync_directory (path, error);
}
