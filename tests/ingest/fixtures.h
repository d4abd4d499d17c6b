/* Test documents made on the fly: PDF with cairo, zip containers with libarchive. */
#pragma once

#include <glib.h>

typedef struct {
  const char *name;
  const char *data;
  gsize length;    /* 0: strlen (data) */
  gboolean stored; /* no compression, as EPUB and ODT want for "mimetype" */
} FixtureMember;

/* One page per string, each drawn as lines of text; @title goes into the metadata. */
GBytes *fixture_pdf (const char *const *pages, const char *title);
GBytes *fixture_zip (const FixtureMember *members, guint n_members);
GBytes *fixture_docx (void);
GBytes *fixture_odt (void);
/* @with_package FALSE leaves out the OPF that container.xml names. */
GBytes *fixture_epub (gboolean with_package);
/* A DOCX whose document.xml inflates to @inflated bytes of zeros; with @lie the zip
 * headers claim 1,000 bytes, so only counting while inflating can notice. */
GBytes *fixture_zip_bomb (gsize inflated, gboolean lie);

/* Frees what cairo and fontconfig keep for the whole process, so that the leak checker of
 * sanitised builds sees only this project's leaks. */
void fixture_cleanup (void);
