/* blob: named binary data attached to a VM, host, pool, SR or network
 * (Class.create_new_blob), its record in the store and its bytes in a file
 * of the host's data directory, which GET and PUT /blob read and write. */
#ifndef XENON_API_BLOB_H
#define XENON_API_BLOB_H

#include "server.h"

/* The file holding the blob's bytes (a new string): <data_dir>/blobs/<uuid>. */
char *blob_file(struct server *srv, const char *uuid);
/* The directory of those files, made if missing; 0 or -1 with err. */
int blob_dir_ensure(struct server *srv, struct xerr *err);

#endif
