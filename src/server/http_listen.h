/* http_listen: listening sockets the daemon owns (and hands to its next
 * image on host.restart_agent), and the plain port's acceptor that serves
 * CONNECT itself and gives every other connection to libmicrohttpd. */
#ifndef XENON_HTTP_LISTEN_H
#define XENON_HTTP_LISTEN_H

#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "../base/xerr.h"

struct server;

/* Where a restarting daemon leaves its listening sockets' numbers. */
#define HTTP_ENV_PLAIN_FD "XENOND_LISTEN_FD"
#define HTTP_ENV_TLS_FD "XENOND_TLS_LISTEN_FD"

/* ADDR:PORT ("" or "*" for any address). */
int http_parse_listen(const char *spec, struct sockaddr_in *sa);

/* A listening socket for spec: the one an earlier image left in the
 * environment variable env_name (see restart.c) when it matches, else a
 * new one. */
int http_listen_open(const char *spec, const char *env_name, struct xerr *err);

/* Accepts on lfd (a socket MHD does not listen on), admits each
 * connection through guard and hands it to mhd, or, with peek_connect (the
 * plain port), CONNECT requests to console_connect_serve. A client that
 * sends nothing for silent_s seconds is closed. */
struct http_acceptor;
struct http_guard;
struct http_acceptor *http_acceptor_start(struct server *srv, int lfd, struct MHD_Daemon *mhd,
					  struct http_guard *guard, bool peek_connect,
					  unsigned silent_s, struct xerr *err);
/* Stops accepting; returns the listening socket, still open. */
int http_acceptor_stop(struct http_acceptor *a);

#endif
