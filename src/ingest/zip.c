/* Zip members for DOCX, ODT and EPUB: only the named ones are inflated, every byte counted. */
#include "ingest/read-private.h"

#include <archive.h>
#include <archive_entry.h>
#include <glib/gi18n.h>
#include <string.h>

#include "common/errors.h"

#define READ_BLOCK (64 * 1024)

static struct archive *
open_zip (const guint8 *data, gsize length)
{
  struct archive *archive = archive_read_new ();
  /* Zip only: no other format or compression filter is ever tried on these bytes. */
  archive_read_support_format_zip (archive);
  if (archive_read_open_memory (archive, data, length) != ARCHIVE_OK) {
    archive_read_free (archive);
    return NULL;
  }
  return archive;
}

static gboolean
damaged (GError **error, struct archive *archive)
{
  const char *reason = archive != NULL ? archive_error_string (archive) : NULL;
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
               _ ("The file is damaged: it is not a readable zip archive (%s)"),
               reason != NULL ? reason : _ ("no archive found"));
  return FALSE;
}

static gboolean
too_large (GError **error, guint64 max_inflated)
{
  g_autofree char *limit = g_format_size_full (max_inflated, G_FORMAT_SIZE_IEC_UNITS);
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_TOO_LARGE,
               _ ("The file unpacks to more than %s, the limit for one document ([limits] "
                  "max_decompressed_size); it may be a zip bomb"),
               limit);
  return FALSE;
}

static gboolean
is_wanted (const char *name, const char *const *names)
{
  for (; *names != NULL; names++)
    if (strcmp (name, *names) == 0)
      return TRUE;
  return FALSE;
}

static GBytes *
read_member (struct archive *archive, struct archive_entry *entry, guint64 max_inflated,
             guint64 *inflated, GError **error)
{
  const char *name = archive_entry_pathname (entry);

  if (archive_entry_is_encrypted (entry)) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("The file is protected with a password (its part %s is encrypted); save "
                    "it without a password and add it again"),
                 name);
    return NULL;
  }
  /* A declared size past the limit fails before anything is inflated. */
  if (max_inflated != 0 && archive_entry_size_is_set (entry)
      && (guint64) archive_entry_size (entry) > max_inflated - *inflated) {
    too_large (error, max_inflated);
    return NULL;
  }
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  g_autofree guint8 *block = g_malloc (READ_BLOCK);
  for (;;) {
    la_ssize_t n = archive_read_data (archive, block, READ_BLOCK);
    if (n == 0)
      break;
    if (n < 0) {
      damaged (error, archive);
      return NULL;
    }
    *inflated += (guint64) n;
    if (max_inflated != 0 && *inflated > max_inflated) {
      too_large (error, max_inflated);
      return NULL;
    }
    g_byte_array_append (bytes, block, (guint) n);
  }
  return g_byte_array_free_to_bytes (g_steal_pointer (&bytes));
}

GHashTable *
sr_zip_read_members (const guint8 *data, gsize length, const char *const *names,
                     guint64 max_inflated, guint64 *inflated, GError **error)
{
  struct archive *archive = open_zip (data, length);
  if (archive == NULL) {
    damaged (error, NULL);
    return NULL;
  }
  g_autoptr (GHashTable) members
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);
  guint wanted = g_strv_length ((char **) names);
  gboolean ok = TRUE;

  while (ok && g_hash_table_size (members) < wanted) {
    struct archive_entry *entry = NULL;
    int status = archive_read_next_header (archive, &entry);
    if (status == ARCHIVE_EOF)
      break;
    if (status < ARCHIVE_WARN) {
      ok = damaged (error, archive);
      break;
    }
    const char *name = archive_entry_pathname (entry);
    /* The first of two members with one name wins, as in most zip readers. */
    if (name == NULL || !is_wanted (name, names) || g_hash_table_contains (members, name))
      continue;
    GBytes *bytes = read_member (archive, entry, max_inflated, inflated, error);
    if (bytes == NULL)
      ok = FALSE;
    else
      g_hash_table_insert (members, g_strdup (name), bytes);
  }
  archive_read_free (archive);
  return ok ? g_steal_pointer (&members) : NULL;
}

GPtrArray *
sr_zip_list (const guint8 *data, gsize length, guint max_entries)
{
  struct archive *archive = open_zip (data, length);
  if (archive == NULL)
    return NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  gboolean ok = TRUE;

  while (names->len < max_entries) {
    struct archive_entry *entry = NULL;
    int status = archive_read_next_header (archive, &entry);
    if (status == ARCHIVE_EOF)
      break;
    if (status < ARCHIVE_WARN) {
      ok = names->len > 0;
      break;
    }
    const char *name = archive_entry_pathname (entry);
    if (name != NULL)
      g_ptr_array_add (names, g_strdup (name));
  }
  archive_read_free (archive);
  return ok ? g_steal_pointer (&names) : NULL;
}
