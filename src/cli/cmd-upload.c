/* smartrag-cli upload: files opened here, as the user, and passed to the daemon as descriptors. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "cli/upload.h"

static gboolean
open_file (const char *file, int *fd, GError **error)
{
  *fd = open (file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (*fd < 0) {
    int errnum = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errnum), _ ("Cannot open %s: %s"), file,
                 g_strerror (errnum));
    return FALSE;
  }
  struct stat st;
  if (fstat (*fd, &st) == 0 && S_ISDIR (st.st_mode)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY,
                 _ ("%s is a directory; give the files in it instead"), file);
    g_close (*fd, NULL);
    return FALSE;
  }
  return TRUE;
}

static char *
add_file (Cli *cli, const char *session_path, const char *file, GError **error)
{
  int fd = -1;
  if (!open_file (file, &fd, error))
    return NULL;
  g_autofree char *name = g_path_get_basename (file);
  g_autoptr (sd_bus_message) call = NULL;
  int r = 0;
  if (cli_new_call (cli, session_path, CLI_DOCUMENT_IFACE, "AddFile", &call, error)) {
    /* sd-bus sends a duplicate of the descriptor; ours is closed below either way. */
    r = sd_bus_message_append (call, "hs", fd, name);
    if (r >= 0)
      r = cli_message_append_options (call, NULL);
    if (r < 0)
      cli_error_from_errno (cli, r, "AddFile", error);
  }
  g_close (fd, NULL);
  if (call == NULL || r < 0)
    return NULL;
  g_autoptr (GVariant) reply = cli_call_message (cli, call, CLI_TIMEOUT_LONG_USEC, error);
  if (reply == NULL)
    return NULL;
  char *id = NULL;
  g_variant_get (reply, "(s)", &id);
  return id;
}

static JsonNode *
uploads_json (const char *session_path, GPtrArray *uploads, JsonArray *errors)
{
  g_autoptr (JsonArray) documents = json_array_new ();
  for (guint i = 0; i < uploads->len; i++) {
    const CliUpload *upload = uploads->pdata[i];
    g_autoptr (JsonObject) document = json_object_new ();
    json_object_set_string_member (document, "document_id", upload->id);
    json_object_set_string_member (document, "file", upload->file);
    json_object_set_string_member (document, "state", upload->state);
    json_object_set_double_member (document, "progress", upload->progress);
    json_object_set_string_member (document, "message", upload->message);
    json_array_add_object_element (documents, g_steal_pointer (&document));
  }
  g_autoptr (JsonObject) object = json_object_new ();
  json_object_set_string_member (object, "session_id", cli_session_id_of (session_path));
  json_object_set_array_member (object, "documents", g_steal_pointer (&documents));
  json_object_set_array_member (object, "errors", json_array_ref (errors));
  return json_node_init_object (json_node_alloc (), object);
}

/* FALSE when the whole upload must stop (the daemon or the session is the problem). */
static gboolean
add_one (Cli *cli, const char *session_path, const char *file, GPtrArray *uploads,
         JsonArray *errors, CliUpload **added, CliExit *code)
{
  *added = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = add_file (cli, session_path, file, &error);
  if (id == NULL) {
    CliExit failure = cli_exit_code (error);
    g_autofree char *what = g_strdup_printf (_ ("Cannot add %s"), file);
    if (failure != CLI_EXIT_DOCUMENT && failure != CLI_EXIT_REFUSED) {
      *code = cli_fail (what, error);
      return FALSE;
    }
    cli_fail (what, error);
    g_autoptr (JsonObject) entry = json_object_new ();
    json_object_set_string_member (entry, "file", file);
    json_object_set_string_member (entry, "message", error->message);
    json_array_add_object_element (errors, g_steal_pointer (&entry));
    *code = CLI_EXIT_DOCUMENT;
    return TRUE;
  }
  CliUpload *upload = g_new0 (CliUpload, 1);
  upload->file = g_strdup (file);
  upload->id = g_steal_pointer (&id);
  upload->state = g_strdup ("stored");
  upload->message = g_strdup ("");
  g_ptr_array_add (uploads, upload);
  *added = upload;
  return TRUE;
}

static CliExit
upload (Cli *cli, const char *session_path, char **files, gboolean wait)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) uploads = g_ptr_array_new_with_free_func ((GDestroyNotify) cli_upload_free);
  g_autoptr (JsonArray) errors = json_array_new ();
  g_autoptr (CliWatch) watch = wait ? cli_watch_new (cli, session_path, &error) : NULL;
  if (wait && watch == NULL)
    return cli_fail (_ ("Cannot add the files"), error);
  CliExit code = CLI_EXIT_OK;
  for (guint i = 0; files[i] != NULL; i++) {
    CliUpload *upload = NULL;
    if (!add_one (cli, session_path, files[i], uploads, errors, &upload, &code))
      return code;
    if (upload == NULL)
      continue;
    if (wait)
      cli_watch_add (watch, upload);
    else if (!cli->json)
      g_print ("%s  %s\n", upload->id, upload->file);
  }
  if (wait && !cli_watch_run (watch, &error)) {
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_prefix_error_literal (&error, _ ("Stopped waiting; the documents are still processed: "));
    return cli_fail (NULL, error);
  }
  for (guint i = 0; i < uploads->len; i++) {
    if (g_strcmp0 (((CliUpload *) uploads->pdata[i])->state, "failed") == 0)
      code = CLI_EXIT_DOCUMENT;
  }
  if (cli->json) {
    g_autoptr (JsonNode) root = uploads_json (session_path, uploads, errors);
    cli_print_json (root);
  }
  return code;
}

CliExit
cli_cmd_upload (Cli *cli, int argc, char **argv)
{
  g_autofree char *session = NULL;
  gboolean wait = FALSE;
  const GOptionEntry entries[] = {
    CLI_SESSION_OPTION (&session),
    { "wait", 'w', 0, G_OPTION_ARG_NONE, &wait,
      N_ ("Wait until every document is ready or failed, showing progress on a terminal"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  const CliUsage usage = { "upload FILE…",
                           _ ("Add files to a session. They are opened here, as you, and "
                              "handed to the daemon, which never opens your paths."),
                           TRUE, 1, G_MAXINT };
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  if (!cli_parse (cli, &usage, entries, &argc, &argv, &error))
    return cli_usage_error ("upload", error);
  if (!cli_session_path (cli, session, &path, &error))
    return cli_fail (_ ("Cannot add the files"), error);
  return upload (cli, path, argv + 1, wait);
}
