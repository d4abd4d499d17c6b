/* Classes of characters, and of whole texts, that every part reading text agrees on. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A combining mark (accents once text is decomposed). */
gboolean sr_unichar_is_mark (gunichar c);
/* A character of the scripts written without spaces, where a break before it is a word
 * boundary. */
gboolean sr_unichar_is_ideograph (gunichar c);
/* A full stop, question or exclamation mark of any script, the wide CJK ones included. */
gboolean sr_unichar_ends_sentence (gunichar c);
/* A CJK full stop or mark: it ends a sentence without a space after it. */
gboolean sr_unichar_ends_sentence_wide (gunichar c);
/* A quote or bracket that may close a sentence after its full stop. */
gboolean sr_unichar_closes (gunichar c);

/* A control character (tab and newline included) or a line or paragraph separator: what
 * a one-line text such as a title or a name may not hold. */
gboolean sr_unichar_breaks_line (gunichar c);
/* The first such character of @text (valid UTF-8), or NULL when it is one line. */
const char *sr_text_find_line_break (const char *text);

/* Whether @text holds nothing but ASCII white space (what g_strstrip() would empty). */
gboolean sr_text_is_blank (const char *text);

G_END_DECLS
