/* doc_http: the API reference at GET /doc (docs/apidoc.c writes it). */
#ifndef XENON_DOC_HTTP_H
#define XENON_DOC_HTTP_H

#include "http_route.h"

#include <microhttpd.h>

/* The build tree's docs/api beside a xenond run from the tree, else the
 * installed one. Freshly allocated. */
char *doc_http_default_dir(void);
/* Answers GET url ("/doc", "/doc/", "/doc/<name>", query ignored) from dir. */
MHD_RESULT_T doc_http_serve(struct MHD_Connection *c, const char *dir, const char *url);

#endif
