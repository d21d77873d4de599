/* watch_events: follow a server's changes through event.from, printing one
 * line per event until interrupted (or for SECONDS when given).
 * Usage: watch_events URL USER PASSWORD [CLASS...] [-t SECONDS]
 * CLASS defaults to "*" (everything); e.g. "vm" or "task". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"

static int on_event(const xv *ev, void *ud)
{
	(void)ud;
	const xv *snap = xv_map_get(ev, "snapshot");
	const char *label = snap ? xv_map_get_str(snap, "name_label") : NULL;
	const char *uuid = snap ? xv_map_get_str(snap, "uuid") : NULL;
	printf("%-8s %-18s %s%s%s%s\n", xv_map_get_str(ev, "operation"),
	       xv_map_get_str(ev, "class"), uuid ? uuid : xv_map_get_str(ev, "ref"),
	       label ? " (" : "", label ? label : "", label ? ")" : "");
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s URL USER PASSWORD [CLASS...] [-t SECONDS]\n", argv[0]);
		return 2;
	}
	const char *classes[64] = {0};
	int n = 0;
	double seconds = 0;
	for (int i = 4; i < argc && n < 63; i++) {
		if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else
			classes[n++] = argv[i];
	}
	if (n == 0)
		classes[n++] = "*";
	struct xc *c = xc_new(argv[1], NULL);
	struct xerr err = XERR_INIT;
	if (!c || xc_login(c, argv[2], argv[3], &err) < 0) {
		fprintf(stderr, "login failed: %s\n", err.code ? err.code : "no handle");
		return 1;
	}
	char *token = NULL; /* "" first replays every current object */
	int rc = xc_event_loop(c, classes, &token, 30, seconds, on_event, NULL, &err);
	if (rc < 0)
		fprintf(stderr, "event.from: %s\n", err.code);
	free(token);
	struct xerr ignored = XERR_INIT;
	xc_logout(c, &ignored);
	xerr_clear(&ignored);
	xerr_clear(&err);
	xc_free(c);
	return rc < 0 ? 1 : 0;
}
