/* args: xe's command line. The real xe splits this between a thin client
 * (connection options, ~/.xe, XE_EXTRA_ARGS) and the server (the command
 * and its key=value words); both halves live here, with the same
 * precedence: argv over XE_EXTRA_ARGS over ~/.xe over built-in defaults. */
#include "xe.h"
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void xe_params_add(struct xe_params *p, const char *k, const char *v)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 8;
		p->items = xrealloc(p->items, p->cap * sizeof *p->items);
	}
	p->items[p->n].k = xstrdup(k);
	p->items[p->n].v = xstrdup(v);
	p->n++;
}

void xe_params_free(struct xe_params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->items[i].k);
		free(p->items[i].v);
	}
	free(p->items);
	p->items = NULL;
	p->n = p->cap = 0;
}

const char *xe_param(const struct xe_params *p, const char *k)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->items[i].k, k) == 0)
			return p->items[i].v;
	return NULL;
}

bool xe_param_has(const struct xe_params *p, const char *k)
{
	return xe_param(p, k) != NULL;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

int xe_param_bool(const struct xe_params *p, const char *k, bool dflt, bool *out, struct xerr *err)
{
	const char *v = xe_param(p, k);
	*out = dflt;
	if (!v)
		return 0;
	if (parse_bool(v, out) < 0)
		return xe_fail(err, "Failed to parse parameter '%s': expecting a boolean (true or false)",
			       k);
	return 0;
}

/* Switches that take the next word, as the server's parser maps them. */
static const char *switch_key(const char *w)
{
	static const char *const map[][2] = {{"-u", "username"}, {"-pw", "password"},
					     {"-s", "server"},   {"-h", "server"},
					     {"-p", "port"}};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(w, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

int xe_parse_words(int n, char *const *words, struct xe_params *out, struct xerr *err)
{
	for (int i = 0; i < n; i++) {
		const char *w = words[i];
		if (strncmp(w, "--", 2) == 0) {
			xe_params_add(out, w + 2, "true");
		} else if (w[0] == '-' && w[1]) {
			const char *k = switch_key(w);
			if (!k)
				return xerr_set(err, XE_ERR_SYNTAX, "", NULL);
			if (i + 1 >= n)
				return xerr_set(err, XE_ERR_SYNTAX, "", NULL);
			xe_params_add(out, k, words[++i]);
		} else {
			const char *eq = strchr(w, '=');
			char *k = eq ? xstrndup(w, (size_t)(eq - w)) : xstrdup(w);
			xe_params_add(out, k, eq ? eq + 1 : "");
			free(k);
		}
	}
	return 0;
}

/* ---- the thin client's half ---- */

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* Returns true if k is a connection keyword (and applies it). */
static bool set_keyword(struct xe_conn *c, const char *k, const char *v, struct xerr *err,
			int *bad)
{
	bool b;
	if (strcmp(k, "server") == 0) {
		set_str(&c->server, v);
	} else if (strcmp(k, "port") == 0) {
		char *end;
		long p = strtol(v, &end, 10);
		if (end == v || *end || p < 0 || p > 65535) {
			xe_fail(err, "Port number must be an integer (0-65535)");
			*bad = 1;
		}
		c->port = (int)p;
	} else if (strcmp(k, "username") == 0) {
		set_str(&c->username, v);
	} else if (strcmp(k, "password") == 0) {
		set_str(&c->password, v);
	} else if (strcmp(k, "passwordfile") == 0) {
		set_str(&c->pwfile, v);
	} else if (strcmp(k, "nossl") == 0) {
		c->nossl = parse_bool(v, &b) == 0 && b;
	} else if (strcmp(k, "debug") == 0) {
		c->debug = parse_bool(v, &b) == 0 && b;
	} else if (strcmp(k, "xmlrpc") == 0) {
		/* Xenon's own: talk XML-RPC instead of JSON-RPC. */
		c->xmlrpc = parse_bool(v, &b) == 0 && b;
	} else {
		return false;
	}
	return true;
}

static const char *opt_key(const char *w, bool *takes_arg)
{
	static const struct {
		const char *opt, *key;
		bool arg;
	} opts[] = {{"-s", "server", true},     {"-h", "server", true},
		    {"-p", "port", true},       {"-u", "username", true},
		    {"-pw", "password", true},  {"-pwf", "passwordfile", true},
		    {"--nossl", "nossl", false}, {"--debug", "debug", false},
		    {"--xmlrpc", "xmlrpc", false}};
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
		if (strcmp(w, opts[i].opt) == 0) {
			*takes_arg = opts[i].arg;
			return opts[i].key;
		}
	return NULL;
}

/* Takes connection options out of words, appending the rest to rest. */
static int process_args(struct xe_conn *c, int n, char *const *w, char ***rest, int *nrest,
			struct xerr *err)
{
	int bad = 0;
	for (int i = 0; i < n && !bad; i++) {
		bool arg;
		const char *k = opt_key(w[i], &arg);
		if (k && (!arg || i + 1 < n)) {
			set_keyword(c, k, arg ? w[i + 1] : "true", err, &bad);
			i += arg;
			continue;
		}
		const char *eq = strchr(w[i], '=');
		if (eq) {
			char *key = xstrndup(w[i], (size_t)(eq - w[i]));
			bool known = set_keyword(c, key, eq + 1, err, &bad);
			free(key);
			if (known)
				continue;
		}
		*rest = xrealloc(*rest, sizeof(char *) * (size_t)(*nrest + 1));
		(*rest)[(*nrest)++] = xstrdup(w[i]);
	}
	return bad ? -1 : 0;
}

char **xe_split_extra(const char *s, int *n)
{
	char **out = NULL;
	*n = 0;
	if (!s)
		return NULL;
	struct strbuf cur = STRBUF_INIT;
	for (const char *p = s;; p++) {
		if (*p == '\\' && p[1]) {
			sb_putc(&cur, p[1]);
			p++;
			continue;
		}
		if (*p == ',' || *p == 0) {
			if (cur.len) {
				out = xrealloc(out, sizeof(char *) * (size_t)(*n + 1));
				out[(*n)++] = sb_detach(&cur);
			}
			if (!*p)
				break;
			continue;
		}
		sb_putc(&cur, *p);
	}
	sb_free(&cur);
	return out;
}

static void free_words(char **w, int n)
{
	for (int i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

int xe_cmdline_parse(int argc, char *const *argv, const char *rc_text, const char *extra,
		     struct xe_cmdline *out, struct xerr *err)
{
	memset(out, 0, sizeof *out);
	struct xe_conn *c = &out->conn;
	c->server = xstrdup("127.0.0.1");
	c->username = xstrdup("root");
	c->password = xstrdup("null");
	out->argv0 = xstrdup(argc > 0 ? argv[0] : "xe");

	char **rc_rest = NULL, **ex_rest = NULL, **args_rest = NULL;
	int n_rc = 0, n_ex = 0, n_args = 0, rc = 0;
	/* ~/.xe: key=value lines; unknown keys become command parameters. */
	if (rc_text) {
		const char *p = rc_text;
		while (*p) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);
			char *line = xstrndup(p, len);
			if (len && line[len - 1] == '\r')
				line[len - 1] = 0;
			if (*line && strchr(line, '=')) {
				char *eq = strchr(line, '=');
				*eq = 0;
				int bad = 0;
				if (!set_keyword(c, line, eq + 1, err, &bad)) {
					*eq = '=';
					rc_rest = xrealloc(rc_rest, sizeof(char *) * (size_t)(n_rc + 1));
					rc_rest[n_rc++] = xstrdup(line);
				}
				xerr_clear(err);
			}
			free(line);
			p += len + (nl ? 1 : 0);
		}
	}
	int n_extra;
	char **extras = xe_split_extra(extra, &n_extra);
	rc = process_args(c, n_extra, extras, &ex_rest, &n_ex, err);
	free_words(extras, n_extra);
	for (int i = 1; i < argc && rc == 0; i++) {
		if (strcmp(argv[i], "-version") == 0)
			out->version = true;
		if (strcmp(argv[i], "-help") == 0 || strcmp(argv[i], "--help") == 0)
			out->usage = true;
	}
	if (rc == 0) {
		/* -help/--help are the client's; they never reach the command. */
		char **w = xcalloc((size_t)argc + 1, sizeof(char *));
		int nw = 0;
		for (int i = 1; i < argc; i++)
			if (strcmp(argv[i], "-help") && strcmp(argv[i], "--help"))
				w[nw++] = argv[i];
		rc = process_args(c, nw, w, &args_rest, &n_args, err);
		free(w);
	}
	if (rc == 0) {
		/* Command words: argv's, then XE_EXTRA_ARGS', then ~/.xe's. */
		int n = n_args + n_ex + n_rc;
		char **all = xcalloc((size_t)n + 1, sizeof(char *));
		int k = 0;
		for (int i = 0; i < n_args; i++)
			all[k++] = args_rest[i];
		for (int i = 0; i < n_ex; i++)
			all[k++] = ex_rest[i];
		for (int i = 0; i < n_rc; i++)
			all[k++] = rc_rest[i];
		if (n == 0) {
			out->usage = true;
		} else if (strchr(all[0], '=')) {
			rc = xerr_set(err, XE_ERR_SYNTAX, "command name is missing", NULL);
		} else {
			out->cmd = xstrdup(all[0]);
			rc = xe_parse_words(n - 1, all + 1, &out->params, err);
		}
		free(all);
	}
	free_words(rc_rest, n_rc);
	free_words(ex_rest, n_ex);
	free_words(args_rest, n_args);
	return rc;
}

void xe_cmdline_free(struct xe_cmdline *cl)
{
	free(cl->conn.server);
	free(cl->conn.username);
	free(cl->conn.password);
	free(cl->conn.pwfile);
	free(cl->argv0);
	free(cl->cmd);
	xe_params_free(&cl->params);
	memset(cl, 0, sizeof *cl);
}

int xe_read_pwfile(struct xe_conn *conn, struct xerr *err)
{
	FILE *f = fopen(conn->pwfile, "r");
	if (!f)
		return xe_fail(err, "Error opening password file '%s'", conn->pwfile);
	char *lines[2] = {NULL, NULL};
	size_t cap = 0;
	int got = 0;
	for (; got < 2; got++) {
		ssize_t len = getline(&lines[got], &cap, f);
		cap = 0;
		if (len < 0) {
			free(lines[got]);
			lines[got] = NULL;
			break;
		}
		while (len > 0 && (lines[got][len - 1] == '\n' || lines[got][len - 1] == '\r'))
			lines[got][--len] = 0;
	}
	fclose(f);
	if (got == 1) {
		/* Xenon's own password files hold just the password: keep -u. */
		free(conn->password);
		conn->password = lines[0];
		return 0;
	}
	if (got < 2) {
		free(lines[0]);
		return xe_fail(err, "password file format: expecting username on the first line, "
				    "password on the second line");
	}
	free(conn->username);
	free(conn->password);
	conn->username = lines[0];
	conn->password = lines[1];
	return 0;
}
