/* web_static: the web console's built files (web/, see web/README.md)
 * served at GET / (index.html) and GET /assets/<name>, from the directory
 * of the web-dir key. */
#ifndef XENON_WEB_STATIC_H
#define XENON_WEB_STATIC_H

#include "http_route.h"

#include <microhttpd.h>
#include <stdbool.h>

/* The directory the console is served from when web-dir is not set: the
 * build tree's web output beside a xenond run from the tree, else the one
 * installed under the prefix. Freshly allocated. */
char *web_static_default_dir(void);

/* Answers GET url (the request's path, query included) from dir, picking
 * the precompressed .br or .gz copy the client accepts. Returns false
 * without queuing anything when url is "/" and dir holds no index.html
 * (the caller then answers with its plain status page). */
bool web_static_serve(struct MHD_Connection *c, const char *dir, const char *url, MHD_RESULT_T *ret);

/* Is name a file name the assets path may serve (no slash, no leading
 * dot, only [A-Za-z0-9._-])? Exposed for the unit tests. */
bool web_static_name_ok(const char *name);
/* The Content-Type for a file name, by its extension. */
const char *web_static_mime(const char *name);
/* Does an Accept-Encoding value accept coding (a token, q not 0)? */
bool web_static_accepts(const char *accept_encoding, const char *coding);

#endif
