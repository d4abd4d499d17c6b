/* Unit tests for conversations: the messages table (store/messages.c) and their service. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "service/conversations.h"
#include "service/sessions.h"
#include "store/fts.h"
#include "store/messages.h"
#include "unit-helpers.h"

#define T0 G_GINT64_CONSTANT (1764095949123456) /* 2025-11-25T18:39:09.123456Z */

#define SOURCES                                                                                    \
  "[{\"document_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"filename\":\"report.pdf\","            \
  "\"chunk\":4,\"page\":3,\"heading\":\"Opening hours\",\"text\":\"Open at eight.\","              \
  "\"score\":0.5},"                                                                                \
  "{\"document_id\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"filename\":\"notes.md\",\"chunk\":0,"   \
  "\"heading\":\"\",\"text\":\"Closed on Mondays.\",\"score\":0.25}]"

static const SrCaller alice = { 1000, FALSE, ":1.10" };
static const SrCaller bob = { 1001, FALSE, ":1.11" };

static const SrLimits limits = {
  .max_title_bytes = 512,
  .max_context_bytes = 65536,
  .upload_idle_timeout_ms = 200,
};

typedef struct {
  char *dir;
  SrService *service;
  SrStore *store;
  char *session;
  char *other; /* bob's */
  GAsyncResult *result;
} Fixture;

static void
set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = sr_test_make_tmpdir ();
  f->service = sr_test_service_with_session (f->dir, &limits, &alice, &f->session);
  f->store = sr_service_store (f->service);
  SrSessionSpec spec = SR_SESSION_SPEC_INIT;
  g_autoptr (SrSessionRecord) other = sr_sessions_create (f->service, &bob, &spec, &error);
  g_assert_no_error (error);
  f->other = g_strdup (other->id);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  sr_service_free (f->service);
  sr_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->session);
  g_free (f->other);
}

static gint64
insert_full (Fixture *f, const char *session, const SrMessageRecord *r)
{
  g_autoptr (GError) error = NULL;
  SrMessageRecord copy = *r;
  copy.session_id = (char *) session;
  gint64 id = 0;
  g_assert_true (sr_store_message_insert (f->store, &copy, &id, &error));
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static gint64
insert (Fixture *f, const char *session, const char *role, const char *content)
{
  SrMessageRecord r = {
    .query_id = (char *) "q",
    .role = (char *) role,
    .content = (char *) content,
    .created_at = T0,
  };
  return insert_full (f, session, &r);
}

/* A question and a full answer with sources, then an answer that stopped early. */
static void
insert_exchange (Fixture *f)
{
  insert (f, f->session, "user", "When does the café open?");
  SrMessageRecord answer = {
    .query_id = (char *) "q",
    .role = (char *) "assistant",
    .content = (char *) "It opens at eight [1].",
    .sources_json = (char *) SOURCES,
    .state = (char *) "complete",
    .backend = (char *) "builtin",
    .model = (char *) "extractive",
    .ttft_ms = 12.5,
    .total_ms = 40.25,
    .prompt_tokens = 120,
    .answer_tokens = 6,
    .created_at = T0 + 1000000,
  };
  insert_full (f, f->session, &answer);
  answer.state = (char *) "incomplete";
  answer.error = (char *) "The answer was cancelled";
  answer.content = (char *) "It opens";
  answer.sources_json = (char *) "[]";
  insert_full (f, f->session, &answer);
}

static guint32
message_count (Fixture *f, const char *session)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) s = sr_store_session_get (f->store, session, &error);
  g_assert_no_error (error);
  return s->message_count;
}

static gint64
query_int (Fixture *f, const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (sr_store_db (f->store), sql, -1, &stmt, NULL), ==,
                   SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  gint64 value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return value;
}

static const SrMessageRecord *
at (GPtrArray *messages, guint i)
{
  return messages->pdata[i];
}

/* --- store ------------------------------------------------------------------------- */

static void
test_insert_and_list (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  insert_exchange (f);

  g_autoptr (GPtrArray) all = sr_store_messages_list (f->store, f->session, 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 3);
  g_assert_cmpstr (at (all, 0)->role, ==, "user");
  g_assert_cmpstr (at (all, 0)->content, ==, "When does the café open?");
  g_assert_cmpstr (at (all, 0)->sources_json, ==, "[]");
  g_assert_cmpstr (at (all, 0)->state, ==, "complete");
  g_assert_cmpstr (at (all, 0)->error, ==, "");
  g_assert_cmpstr (at (all, 0)->backend, ==, "");
  g_assert_cmpstr (at (all, 0)->session_id, ==, f->session);

  const SrMessageRecord *answer = at (all, 1);
  g_assert_cmpint (answer->id, >, at (all, 0)->id);
  g_assert_cmpstr (answer->query_id, ==, "q");
  g_assert_cmpstr (answer->role, ==, "assistant");
  g_assert_cmpstr (answer->sources_json, ==, SOURCES);
  g_assert_cmpstr (answer->backend, ==, "builtin");
  g_assert_cmpstr (answer->model, ==, "extractive");
  g_assert_cmpfloat (answer->ttft_ms, ==, 12.5);
  g_assert_cmpfloat (answer->total_ms, ==, 40.25);
  g_assert_cmpuint (answer->prompt_tokens, ==, 120);
  g_assert_cmpuint (answer->answer_tokens, ==, 6);
  g_assert_cmpint (answer->created_at, ==, T0 + 1000000);
  g_assert_cmpstr (at (all, 2)->state, ==, "incomplete");
  g_assert_cmpstr (at (all, 2)->error, ==, "The answer was cancelled");
}

static void
test_offset_limit_recent (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 ids[6];
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++) {
    g_autofree char *text = g_strdup_printf ("message %u", i);
    ids[i] = insert (f, f->session, i % 2 == 0 ? "user" : "assistant", text);
  }
  insert (f, f->other, "user", "not alice's");

  g_autoptr (GPtrArray) page = sr_store_messages_list (f->store, f->session, 2, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (at (page, i)->id, ==, ids[2 + i]);

  g_autoptr (GPtrArray) past = sr_store_messages_list (f->store, f->session, 6, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (past->len, ==, 0);

  /* The last ones, in the conversation's order. */
  g_autoptr (GPtrArray) recent = sr_store_messages_recent (f->store, f->session, 4, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (recent->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpint (at (recent, i)->id, ==, ids[2 + i]);
  g_autoptr (GPtrArray) few = sr_store_messages_recent (f->store, f->other, 4, &error);
  g_assert_cmpuint (few->len, ==, 1);
  g_assert_cmpstr (at (few, 0)->content, ==, "not alice's");
}

static void
test_message_count (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_assert_cmpuint (message_count (f, f->session), ==, 0);
  insert_exchange (f);
  insert (f, f->other, "user", "hello");
  g_assert_cmpuint (message_count (f, f->session), ==, 3);
  g_assert_cmpuint (message_count (f, f->other), ==, 1);

  g_assert_cmpint (sqlite3_exec (sr_store_db (f->store),
                                 "DELETE FROM messages WHERE role = 'assistant'", NULL, NULL, NULL),
                   ==, SQLITE_OK);
  g_assert_cmpuint (message_count (f, f->session), ==, 1);

  /* The property reads the same column. */
  g_autoptr (SrSessionRecord) s = sr_sessions_get (f->service, &alice, f->session, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (s->message_count, ==, 1);
}

static void
test_session_gone (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  insert_exchange (f);
  insert (f, f->other, "user", "the café of bob");
  g_assert_true (sr_sessions_delete (f->service, &alice, f->session, &error));
  g_assert_no_error (error);

  /* The rows and their full-text entries went with the session; bob's stayed. */
  g_assert_cmpint (query_int (f, "SELECT count(*) FROM messages"), ==, 1);
  g_assert_cmpint (query_int (f, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH "
                                 "'caf\xc3\xa9'"),
                   ==, 1);
  g_assert_cmpint (
      sqlite3_exec (sr_store_db (f->store),
                    "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')", NULL,
                    NULL, NULL),
      ==, SQLITE_OK);
  g_assert_cmpint (query_int (f, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH "
                                 "'open'"),
                   ==, 0);

  /* Writing to a session that is gone says so. */
  SrMessageRecord late = { .role = (char *) "assistant", .session_id = f->session };
  g_assert_false (sr_store_message_insert (f->store, &late, NULL, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_NOT_FOUND);
  g_assert_cmpint (query_int (f, "SELECT count(*) FROM messages"), ==, 1);
}

static void
test_constraints (Fixture *f, gconstpointer data)
{
  sqlite3 *db = sr_store_db (f->store);
  static const char *const bad[] = {
    "'robot', 'x', '[]', 'complete'",      "'user', 'x', '{}', 'complete'",
    "'user', 'x', 'not json', 'complete'", "'user', 'x', '[]', 'done'",
    "'user', NULL, '[]', 'complete'",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree char *sql = g_strdup_printf ("INSERT INTO messages (session_id, role, content,"
                                            " sources_json, state, created_at)"
                                            " VALUES ('%s', %s, 1)",
                                            f->session, bad[i]);
    g_test_message ("%s", sql);
    g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), !=, SQLITE_OK);
  }
  g_assert_cmpint (sqlite3_exec (db,
                                 "INSERT INTO messages (session_id, role, content, created_at)"
                                 " VALUES ('00000000000000000000000000000000', 'user', 'x', 1)",
                                 NULL, NULL, NULL),
                   ==, SQLITE_CONSTRAINT_FOREIGNKEY);
  g_assert_cmpint (query_int (f, "SELECT count(*) FROM messages"), ==, 0);
  g_assert_cmpuint (message_count (f, f->session), ==, 0);
}

static GPtrArray *
search (Fixture *f, const char *session, const char *text)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *found = sr_store_messages_search (f->store, session, text, 10, &error);
  g_assert_no_error (error);
  g_assert_nonnull (found);
  return found;
}

static void
test_search (Fixture *f, gconstpointer data)
{
  gint64 cafe = insert (f, f->session, "user", "Le café est-il ouvert le lundi ?");
  gint64 menu = insert (f, f->session, "assistant", "The menu: café, CAFÉ, cafe, and tea.");
  insert (f, f->session, "user", "Nothing to see here");
  insert (f, f->other, "user", "Bob's cafe is elsewhere");

  /* Accents and case are folded; the message that says it most comes first. */
  g_autoptr (GPtrArray) found = search (f, f->session, "CAFE");
  g_assert_cmpuint (found->len, ==, 2);
  g_assert_cmpint (at (found, 0)->id, ==, menu);
  g_assert_cmpint (at (found, 1)->id, ==, cafe);

  /* Any word is enough. */
  g_autoptr (GPtrArray) any = search (f, f->session, "lundi tea");
  g_assert_cmpuint (any->len, ==, 2);

  g_autoptr (GPtrArray) none = search (f, f->session, "elsewhere");
  g_assert_cmpuint (none->len, ==, 0);
  g_autoptr (GPtrArray) bobs = search (f, f->other, "café");
  g_assert_cmpuint (bobs->len, ==, 1);
  g_assert_cmpstr (at (bobs, 0)->session_id, ==, f->other);

  /* Limit. */
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) one = sr_store_messages_search (f->store, f->session, "cafe", 1, &error);
  g_assert_cmpuint (one->len, ==, 1);
  g_assert_cmpint (at (one, 0)->id, ==, menu);
}

/* FTS5 syntax in the text is only words: no error, no reach outside the session. */
static void
test_search_syntax_is_harmless (Fixture *f, gconstpointer data)
{
  gint64 near = insert (f, f->session, "user", "Is the station near the harbour?");
  insert (f, f->other, "user", "anything at all");
  static const char *const hostile[] = {
    "\"NEAR(\" AND *",
    "NEAR(a b, 3)",
    "content : near",
    "session_id : *",
    "\"",
    "* OR -",
    "^near",
    "{content session_id}: near",
  };
  for (guint i = 0; i < G_N_ELEMENTS (hostile); i++) {
    g_test_message ("%s", hostile[i]);
    g_autoptr (GPtrArray) found = search (f, f->session, hostile[i]);
    for (guint j = 0; j < found->len; j++) {
      g_assert_cmpstr (at (found, j)->session_id, ==, f->session);
      g_assert_cmpint (at (found, j)->id, ==, near);
    }
  }
  g_autoptr (GPtrArray) nothing = search (f, f->session, "*** ---");
  g_assert_cmpuint (nothing->len, ==, 0);
  /* The other session's id, as a word, matches no message of it. */
  g_autoptr (GPtrArray) by_id = search (f, f->other, f->other);
  g_assert_cmpuint (by_id->len, ==, 0);
}

/* Free text becomes quoted words, each once, in the order they come. */
static void
test_fts_phrases (void)
{
  g_autoptr (GPtrArray) phrases = sr_store_fts_phrases ("Café, cafe? \"NEAR(\" AND café *");
  g_assert_cmpuint (phrases->len, ==, 4);
  g_assert_cmpstr (phrases->pdata[0], ==, "\"café\"");
  g_assert_cmpstr (phrases->pdata[1], ==, "\"cafe\"");
  g_assert_cmpstr (phrases->pdata[2], ==, "\"near\"");
  g_assert_cmpstr (phrases->pdata[3], ==, "\"and\"");
  g_autofree char *quoted = sr_store_fts_quote ("a\"b");
  g_assert_cmpstr (quoted, ==, "\"a\"\"b\"");
  g_autoptr (GPtrArray) none = sr_store_fts_phrases ("*** -- ()");
  g_assert_cmpuint (none->len, ==, 0);
}

/* --- service ----------------------------------------------------------------------- */

static void
test_get_messages (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  for (guint i = 0; i < SR_CONVERSATIONS_DEFAULT_LIMIT + 5; i++)
    insert (f, f->session, "user", "again");

  g_autoptr (GPtrArray) first
      = sr_conversations_get_messages (f->service, &alice, f->session, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (first->len, ==, SR_CONVERSATIONS_DEFAULT_LIMIT);
  g_autoptr (GPtrArray) rest = sr_conversations_get_messages (
      f->service, &alice, f->session, SR_CONVERSATIONS_DEFAULT_LIMIT, 1000, &error);
  g_assert_cmpuint (rest->len, ==, 5);

  g_autoptr (GPtrArray) too_many
      = sr_conversations_get_messages (f->service, &alice, f->session, 0, 1001, &error);
  g_assert_null (too_many);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==, "Invalid limit: expected 1 to 1000 messages, or 0 for 100");
  g_clear_error (&error);

  /* Another user's session and an absent one look the same. */
  g_autoptr (GPtrArray) foreign
      = sr_conversations_get_messages (f->service, &bob, f->session, 0, 10, &error);
  g_assert_null (foreign);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT);
  g_clear_error (&error);
  SrCaller admin = { 0, TRUE, ":1.1" };
  g_autoptr (GPtrArray) seen
      = sr_conversations_get_messages (f->service, &admin, f->session, 0, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seen->len, ==, 1);
}

static void
test_search_validation (Fixture *f, gconstpointer data)
{
  insert (f, f->session, "user", "Where is the café?");
  g_autofree char *long_text = g_strnfill (SR_CONVERSATIONS_MAX_SEARCH_BYTES + 1, 'a');
  static const struct {
    const char *text;
    guint limit;
    const char *message;
  } bad[] = {
    { "", 10, "Invalid search text: it is empty" },
    { " \t\n", 10, "Invalid search text: it is empty" },
    { "caf\xe9", 10, "Invalid search text: not valid UTF-8" },
    { NULL, 10, "Invalid search text: longer than 4096 bytes" },
    { "cafe", 5000, "Invalid limit: expected 1 to 1000 messages, or 0 for 100" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    const char *text = bad[i].text != NULL ? bad[i].text : long_text;
    g_autoptr (GPtrArray) found
        = sr_conversations_search (f->service, &alice, f->session, text, bad[i].limit, &error);
    g_assert_null (found);
    g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
    g_assert_cmpstr (error->message, ==, bad[i].message);
  }

  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) found
      = sr_conversations_search (f->service, &alice, f->session, "cafe", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (found->len, ==, 1);

  /* The longest text is hundreds of distinct words, one query. */
  GString *many = g_string_new ("cafe");
  for (guint i = 0; many->len + 7 <= SR_CONVERSATIONS_MAX_SEARCH_BYTES; i++)
    g_string_append_printf (many, " w%05u", i);
  g_autoptr (GPtrArray) longest
      = sr_conversations_search (f->service, &alice, f->session, many->str, 0, &error);
  g_string_free (many, TRUE);
  g_assert_no_error (error);
  g_assert_cmpuint (longest->len, ==, 1);
  g_autoptr (GPtrArray) foreign
      = sr_conversations_search (f->service, &bob, f->session, "cafe", 0, &error);
  g_assert_null (foreign);
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT);
}

static void
test_parse_sources (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) sources = sr_conversations_parse_sources (SOURCES);
  g_assert_cmpuint (sources->len, ==, 2);
  const SrMessageSource *first = sources->pdata[0];
  g_assert_cmpstr (first->document_id, ==, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  g_assert_cmpstr (first->filename, ==, "report.pdf");
  g_assert_cmpuint (first->chunk, ==, 4);
  g_assert_cmpuint (first->page, ==, 3);
  g_assert_cmpstr (first->heading, ==, "Opening hours");
  g_assert_cmpstr (first->text, ==, "Open at eight.");
  g_assert_cmpfloat (first->score, ==, 0.5);
  g_assert_cmpuint (((SrMessageSource *) sources->pdata[1])->page, ==, 0);

  /* Whatever was stored, reading it never fails. */
  g_autoptr (GPtrArray) odd
      = sr_conversations_parse_sources ("[1, {\"filename\": 2, \"page\": \"3\", \"score\": 1}]");
  g_assert_cmpuint (odd->len, ==, 1);
  const SrMessageSource *o = odd->pdata[0];
  g_assert_cmpstr (o->filename, ==, "");
  g_assert_cmpuint (o->page, ==, 0);
  g_assert_cmpfloat (o->score, ==, 1.0);
  g_autoptr (GPtrArray) broken = sr_conversations_parse_sources ("{");
  g_assert_cmpuint (broken->len, ==, 0);
  g_autoptr (GPtrArray) none = sr_conversations_parse_sources (NULL);
  g_assert_cmpuint (none->len, ==, 0);
}

/* --- export ------------------------------------------------------------------------ */

static char *
export_to_file (Fixture *f, const char *format, GError **error)
{
  g_autofree char *path = g_build_filename (f->dir, "export", NULL);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  gboolean ok = sr_conversations_export (f->service, &alice, f->session, format, fd, error);
  close (fd);
  if (!ok)
    return NULL;
  char *contents = NULL;
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  return contents;
}

static JsonObject *
member_object (JsonObject *object, const char *name)
{
  g_assert_true (json_object_has_member (object, name));
  return json_object_get_object_member (object, name);
}

static void
test_export_json (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) titled
      = sr_sessions_set_title (f->service, &alice, f->session, "Café \"plans\"", &error);
  g_assert_no_error (error);
  insert_exchange (f);
  SrMessageRecord failed = {
    .role = (char *) "assistant",
    .content = (char *) "",
    .state = (char *) "failed",
    .error = (char *) "No generator answered",
    .created_at = T0,
  };
  insert_full (f, f->session, &failed);

  g_autofree char *text = export_to_file (f, "json", &error);
  g_assert_no_error (error);
  g_test_message ("%s", text);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));

  JsonObject *session = member_object (root, "session");
  g_assert_cmpstr (json_object_get_string_member (session, "id"), ==, f->session);
  g_assert_cmpstr (json_object_get_string_member (session, "title"), ==, "Café \"plans\"");
  g_assert_true (g_regex_match_simple ("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$",
                                       json_object_get_string_member (session, "created_at"), 0,
                                       0));
  g_assert_true (json_object_has_member (session, "exported_at"));

  JsonArray *messages = json_object_get_array_member (root, "messages");
  g_assert_cmpuint (json_array_get_length (messages), ==, 4);
  JsonObject *question = json_array_get_object_element (messages, 0);
  g_assert_cmpstr (json_object_get_string_member (question, "role"), ==, "user");
  g_assert_cmpstr (json_object_get_string_member (question, "content"), ==,
                   "When does the café open?");
  g_assert_cmpstr (json_object_get_string_member (question, "created_at"), ==,
                   "2025-11-25T18:39:09.123Z");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (question, "sources")), ==,
                    0);
  g_assert_false (json_object_has_member (question, "error"));

  JsonObject *answer = json_array_get_object_element (messages, 1);
  static const char *const keys[]
      = { "role",  "content", "state",    "created_at",    "sources",      "backend",
          "model", "ttft_ms", "total_ms", "prompt_tokens", "answer_tokens" };
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    g_assert_true (json_object_has_member (answer, keys[i]));
  g_assert_cmpstr (json_object_get_string_member (answer, "state"), ==, "complete");
  g_assert_cmpstr (json_object_get_string_member (answer, "backend"), ==, "builtin");
  g_assert_cmpfloat (json_object_get_double_member (answer, "ttft_ms"), ==, 12.5);
  g_assert_cmpint (json_object_get_int_member (answer, "prompt_tokens"), ==, 120);
  JsonArray *sources = json_object_get_array_member (answer, "sources");
  g_assert_cmpuint (json_array_get_length (sources), ==, 2);
  JsonObject *source = json_array_get_object_element (sources, 0);
  g_assert_cmpstr (json_object_get_string_member (source, "filename"), ==, "report.pdf");
  g_assert_cmpint (json_object_get_int_member (source, "page"), ==, 3);

  JsonObject *cut = json_array_get_object_element (messages, 2);
  g_assert_cmpstr (json_object_get_string_member (cut, "state"), ==, "incomplete");
  g_assert_cmpstr (json_object_get_string_member (cut, "error"), ==, "The answer was cancelled");
  JsonObject *none = json_array_get_object_element (messages, 3);
  g_assert_cmpstr (json_object_get_string_member (none, "state"), ==, "failed");
}

static void
test_export_markdown (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SrSessionRecord) titled
      = sr_sessions_set_title (f->service, &alice, f->session, "Lunch *plans*", &error);
  g_assert_no_error (error);
  insert_exchange (f);

  g_autofree char *text = export_to_file (f, "markdown", &error);
  g_assert_no_error (error);
  g_test_message ("%s", text);
  g_assert_true (g_str_has_prefix (text, "# Lunch \\*plans\\*\n"));
  g_assert_nonnull (strstr (text, "**You** · 2025-11-25 18:39:09 UTC\n\nWhen does the café open?"));
  g_assert_nonnull (strstr (text, "**Assistant** · 2025-11-25 18:39:10 UTC · builtin, extractive\n"
                                  "\nIt opens at eight [1].\n"));
  g_assert_nonnull (strstr (text, "Sources:\n\n- [1] report.pdf, p. 3 — Opening hours\n"
                                  "- [2] notes.md\n"));
  g_assert_nonnull (strstr (text, "*Incomplete answer: The answer was cancelled*"));
}

static void
test_export_empty (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = export_to_file (f, "json", &error);
  g_assert_no_error (error);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "messages")), ==, 0);

  g_autofree char *markdown = export_to_file (f, "markdown", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (markdown, "# Conversation\n"));
  g_assert_nonnull (strstr (markdown, f->session));
}

static void
test_export_refused (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "readonly", NULL);
  sr_test_write_file (path, "untouched", -1);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  g_assert_false (sr_conversations_export (f->service, &alice, f->session, "json", fd, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==, "Invalid fd: not open for writing");
  g_clear_error (&error);
  close (fd);

  fd = open (path, O_WRONLY | O_APPEND | O_CLOEXEC);
  g_assert_false (sr_conversations_export (f->service, &alice, f->session, "xml", fd, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==, "Invalid format 'xml': expected \"json\" or \"markdown\"");
  g_clear_error (&error);
  g_assert_false (sr_conversations_export (f->service, &alice, f->session, "JSON", fd, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  /* A stranger learns nothing, not even that the format was wrong. */
  g_assert_false (sr_conversations_export (f->service, &bob, f->session, "xml", fd, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_UNKNOWN_OBJECT);
  g_clear_error (&error);
  close (fd);

  g_assert_false (sr_conversations_export (f->service, &alice, f->session, "json", fd, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_true (g_str_has_prefix (error->message, "Invalid fd: "));

  g_autofree char *after = NULL;
  g_assert_true (g_file_get_contents (path, &after, NULL, NULL));
  g_assert_cmpstr (after, ==, "untouched");
}

/* A reader that left fails the export with EPIPE; SIGPIPE does not end the process. */
static void
test_export_reader_gone (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  insert_exchange (f);
  int pipe_fds[2];
  g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC), ==, 0);
  close (pipe_fds[0]);
  g_assert_false (
      sr_conversations_export (f->service, &alice, f->session, "markdown", pipe_fds[1], &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==,
                   "Cannot write the export: the reading end of the descriptor was closed");
  close (pipe_fds[1]);
}

/* A reader that takes nothing cannot hold the writer forever. */
static void
test_export_reader_stalls (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *long_answer = g_strnfill (32 * 1024, 'x');
  for (guint i = 0; i < 8; i++)
    insert (f, f->session, "assistant", long_answer);
  int pipe_fds[2];
  g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC), ==, 0);
  gint64 start = g_get_monotonic_time ();
  g_assert_false (
      sr_conversations_export (f->service, &alice, f->session, "json", pipe_fds[1], &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==, "The export stopped: its reader took nothing for 200 ms");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  close (pipe_fds[0]);
  close (pipe_fds[1]);
}

typedef struct {
  int fd;
  GString *read;
} Reader;

static gpointer
read_all (gpointer data)
{
  Reader *reader = data;
  char buffer[1000];
  gssize n;
  while ((n = read (reader->fd, buffer, sizeof buffer)) > 0)
    g_string_append_len (reader->read, buffer, n);
  return NULL;
}

static void
on_exported (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;
  f->result = g_object_ref (result);
}

static gboolean
export_async (Fixture *f, const char *format, int fd, GError **error)
{
  sr_conversations_export_async (f->service, &alice, f->session, format, fd, on_exported, f);
  while (f->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  gboolean ok = sr_conversations_export_finish (f->result, error);
  g_clear_object (&f->result);
  return ok;
}

/* On a worker, into a non-blocking pipe read slowly in small pieces; the caller's
 * descriptor can be closed at once, the reader then sees the end. */
static void
test_export_async (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *long_answer = g_strnfill (20 * 1024, 'y');
  for (guint i = 0; i < 10; i++)
    insert (f, f->session, i % 2 ? "assistant" : "user", long_answer);
  int pipe_fds[2];
  g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC | O_NONBLOCK), ==, 0);
  g_assert_cmpint (fcntl (pipe_fds[0], F_SETFL, 0), ==, 0);
  Reader reader = { pipe_fds[0], g_string_new (NULL) };
  GThread *thread = g_thread_new ("reader", read_all, &reader);

  sr_conversations_export_async (f->service, &alice, f->session, "json", pipe_fds[1], on_exported,
                                 f);
  close (pipe_fds[1]);
  while (f->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (sr_conversations_export_finish (f->result, &error));
  g_assert_no_error (error);
  g_clear_object (&f->result);
  g_thread_join (thread);
  close (pipe_fds[0]);

  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, reader.read->str, -1, &error));
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "messages")), ==,
                    10);
  g_string_free (reader.read, TRUE);

  /* Errors come through the callback too. */
  g_assert_false (export_async (f, "pdf", 1, &error));
  g_assert_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, set_up, func, tear_down)
  ADD ("/messages/insert-and-list", test_insert_and_list);
  ADD ("/messages/offset-limit-recent", test_offset_limit_recent);
  ADD ("/messages/count", test_message_count);
  ADD ("/messages/session-gone", test_session_gone);
  ADD ("/messages/constraints", test_constraints);
  ADD ("/messages/search", test_search);
  ADD ("/messages/search-syntax-is-harmless", test_search_syntax_is_harmless);
  g_test_add_func ("/messages/fts-phrases", test_fts_phrases);
  ADD ("/conversations/get-messages", test_get_messages);
  ADD ("/conversations/search-validation", test_search_validation);
  ADD ("/conversations/parse-sources", test_parse_sources);
  ADD ("/conversations/export-json", test_export_json);
  ADD ("/conversations/export-markdown", test_export_markdown);
  ADD ("/conversations/export-empty", test_export_empty);
  ADD ("/conversations/export-refused", test_export_refused);
  ADD ("/conversations/export-reader-gone", test_export_reader_gone);
  ADD ("/conversations/export-reader-stalls", test_export_reader_stalls);
  ADD ("/conversations/export-async", test_export_async);
  return g_test_run ();
}
