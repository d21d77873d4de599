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
#include "../api/server.h"

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

/* The checks and the bridge /console requests share (console_http.c),
 * for console_connect.c. console_auth: a session_id, else user and
 * password (HTTP Basic) from the client address peer (authlimit_peer);
 * 0 when they are good and the session holds CONSOLE_PERMISSION, else
 * -1 (RBAC_PERMISSION_DENIED for a session too weak). */
#define CONSOLE_PERMISSION "http/connect_console"
int console_auth(struct server *srv, const char *sid, const char *user, const char *pass,
		 const char *peer, struct xerr *err);
/* The console named by uuid (else ref) connected to its VM's serial hub or
 * VNC socket, not yet bridged to a client; NULL with an HTTP status and a
 * one-line message (404 no such console, 503 the VM has none now). */
struct console_bridge;
struct console_bridge *console_bridge_new(struct server *srv, const char *uuid, const char *ref,
					 unsigned *status, const char **msg);
/* Bridges raw bytes between sock (taken; closed at the end) and the VM on
 * the calling thread until either side leaves; extra: client bytes
 * already read. */
int console_bridge_run(struct console_bridge *b, int sock, const char *extra, size_t nextra);
void console_bridge_free(struct console_bridge *b);

/* CONNECT on the plain port (console_connect.c): reads the request from
 * fd (taken), answers 200 and bridges, as XenServer does; other paths or
 * failures get an HTTP error. Runs on a thread of its own; the request
 * head must arrive whole within the request-timeout, and at most
 * CONSOLE_HEADS_MAX connections wait for theirs at once (others get 503).
 * Releases the connection from guard (admitted from addr) when it ends. */
#define CONSOLE_HEADS_MAX 64
struct http_guard;
struct sockaddr_storage;
void console_connect_serve(struct server *srv, int fd, struct http_guard *guard,
			   const struct sockaddr_storage *addr);

/* http.c's hook for /console (url_table.c). */
MHD_RESULT_T console_request(struct server *srv, struct MHD_Connection *conn, const char *method);

#endif
