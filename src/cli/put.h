/* put: the HTTP PUT of an upload, its body written by xe itself on the
 * connection curl opened (put.c). */
#ifndef XENON_CLI_PUT_H
#define XENON_CLI_PUT_H

#include "reader.h"

#include <stdbool.h>
#include <stdint.h>

struct strbuf;

struct put_body {
	int fd;           /* the file, or a pipe */
	const char *path; /* for opening a regular file O_DIRECT */
	bool pipe;        /* read fd to its end; the length is unknown */
	/* a file: these parts of it, in order (kept by the caller) */
	const struct reader_seg *segs;
	size_t nsegs;
	bool chunked;    /* each part as xapi's chunk: offset and length first */
	uint64_t length; /* Content-Length */
	/* called now and then with the bytes sent so far */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	void *progress_arg;
};

/* Sends PUT url with the body. Returns the answer's HTTP status (0: none
 * came), or -1 with why in *why when the connection failed before the
 * request was sent. */
int put_send(const char *url, const struct put_body *b, struct strbuf *why);

/* The body size of a chunked upload of these parts. */
uint64_t put_chunked_length(const struct reader_seg *segs, size_t nsegs);

#endif
