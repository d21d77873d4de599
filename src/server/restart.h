/* restart: host.restart_agent. The daemon stops serving, shuts down as on
 * SIGTERM (the store flushed and closed, VMs left running) and re-executes
 * its own binary with the same arguments, handing its listening sockets to
 * the new image (see http_listen.c); the new image adopts the VMs. */
#ifndef XENON_RESTART_H
#define XENON_RESTART_H

#include <stdbool.h>

/* Keeps a copy of the command line (before getopt reorders it). */
void restart_save_argv(int argc, char **argv);
/* Asks for a restart a second from now, so the caller's reply goes out
 * first (as xapi's restart_agent waits before running its restart). */
void restart_request(void);
bool restart_due(void);
/* Replaces the process with a new image of xenond: the listening sockets
 * (-1 when off) stay open for it, every other descriptor closes. Returns
 * only on failure. */
void restart_exec(int plain_fd, int tls_fd);

#endif
