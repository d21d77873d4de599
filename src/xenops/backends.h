/* backends: the VM backends xenops.c's table lists, each defined in its
 * own file. Adding a backend: its file, a line here and one in the table. */
#ifndef XENON_XENOPS_BACKENDS_H
#define XENON_XENOPS_BACKENDS_H

#include "xenops.h"

extern const struct xenops_backend xenops_sim;  /* sim.c */
extern const struct xenops_backend xenops_qemu; /* qemu.c */
extern const struct xenops_backend xenops_xen;  /* xen.c, built with libxl */

#endif
