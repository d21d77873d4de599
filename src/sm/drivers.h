/* drivers: the storage drivers sm.c's table lists, each defined in its
 * own file. Adding a driver: its file, a line here and one in the table. */
#ifndef XENON_SM_DRIVERS_H
#define XENON_SM_DRIVERS_H

#include "sm.h"

extern const struct sm_driver sm_file_driver;       /* file.c: type "ext" */
extern const struct sm_driver sm_file_alias_driver; /* file.c: the same under "file" */
extern const struct sm_driver sm_iso_driver;        /* iso.c */
extern const struct sm_driver sm_nfs_driver;        /* nfs.c */

#endif
