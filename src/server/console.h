/* console: guests' consoles for clients. console.c holds each running
 * VM's serial port (one reader, a replay ring, any number of clients);
 * console_http.c serves /console (CONNECT or an HTTP upgrade, raw or
 * WebSocket) bridging a client to the serial hub or to the VNC socket. */
#ifndef XENON_CONSOLE_H
#define XENON_CONSOLE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "http_route.h"
#include "server.h"

#define CONSOLE_RING (1u << 20)

/* A client of a VM's serial hub. The hub holds <vm dir>/serial.sock while
 * it has clients (QEMU serves one connection; direct users such as the
 * tests get it back when the last client leaves); its ring starts with
 * the tail of serial.log, which QEMU writes whether anyone reads or not,
 * so nothing is lost and a daemon restart needs no adoption. NULL when
 * the VM's serial port cannot be reached (not running). */
struct serial_client;
struct serial_client *serial_attach(const char *vm_dir, const char *vm_uuid);
/* Replay then live output: waits up to timeout_ms for bytes; 0 on
 * timeout, -1 once the port is gone. */
ssize_t serial_read(struct serial_client *c, char *buf, size_t max, int timeout_ms);
/* An fd that becomes readable when output waits (for poll). */
int serial_client_fd(struct serial_client *c);
int serial_write(struct serial_client *c, const char *buf, size_t n);
void serial_detach(struct serial_client *c);

/* http.c's hook: handles the request when url is /console. */
bool console_is_path(const char *url);
MHD_RESULT_T console_request(struct server *srv, struct MHD_Connection *conn, const char *method);

#endif
