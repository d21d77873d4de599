/* qemu_disk: the QEMU protocol node (-blockdev / blockdev-add JSON) that
 * opens a disk an SR driver attached: a local path, nfs://server/path or
 * nbd+unix:///export?socket=PATH. NULL for anything else. */
#ifndef XENON_QEMU_DISK_H
#define XENON_QEMU_DISK_H

#include <jansson.h>

json_t *qemu_disk_file_node(const char *path);

#endif
