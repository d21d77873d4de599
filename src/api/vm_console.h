/* vm_console: what the /console endpoint (server/console_http.c) needs of
 * the console records, so that it reads no record itself. */
#ifndef XENON_API_VM_CONSOLE_H
#define XENON_API_VM_CONSOLE_H

#include "../base/xerr.h"

struct server;

/* The console named by uuid, else by ref: its protocol (rfb, vt100) and
 * its VM's uuid. A console that does not exist, or whose VM does not, is
 * HANDLE_INVALID. */
int vm_console_target(struct server *srv, const char *uuid, const char *ref, char proto[16],
		      char vm_uuid[64], struct xerr *err);

#endif
