/* qcow2w: writes a new qcow2 image front to back, as an import delivers
 * it. QEMU's block layer behind qemu-nbd costs several times the CPU of the
 * copy itself for this; an image written in order needs none of its
 * generality: data clusters are appended as they come, L2 tables kept in
 * memory, and the tables, refcounts and header written once at the end.
 * The file is valid only after qcow2w_finish (its header comes last), so a
 * failed import leaves nothing that looks like an image. */
#ifndef XENON_FORMATS_QCOW2W_H
#define XENON_FORMATS_QCOW2W_H

#include <stddef.h>
#include <stdint.h>

struct qcow2w;

/* A new image of size bytes (virtual) at path, which must not exist.
 * NULL with errno set on failure. */
struct qcow2w *qcow2w_create(const char *path, int64_t size);
/* n bytes at off; offsets only grow from call to call (what is skipped
 * reads as zeros). All-zero clusters are not stored. -1 with errno. */
int qcow2w_write(struct qcow2w *w, const void *buf, size_t n, int64_t off);
/* Writes the metadata and syncs the file. -1 with errno. */
int qcow2w_finish(struct qcow2w *w);
/* Frees w; the file stays (finished or not: the caller removes it). */
void qcow2w_free(struct qcow2w *w);

#endif
