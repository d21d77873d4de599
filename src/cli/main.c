/* xe: entry point. Parses the command line (with ~/.xe and XE_EXTRA_ARGS),
 * answers help and usage errors without a server, otherwise logs in over
 * the XenAPI, runs the command and exits 0 on success, 1 on failure. */
#include "cmd.h"
#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strbuf.h"
#include "schema/schema.h"

#include <stdlib.h>
#include <string.h>

static char *read_rc(void)
{
	const char *home = getenv("HOME");
	if (!home)
		return NULL;
	char *path = xasprintf("%s/.xe", home);
	char *rc = file_read(path, 0, NULL);
	free(path);
	return rc;
}

static char *server_url(const struct xe_conn *c)
{
	int port = c->port ? c->port : c->nossl ? 80 : 443;
	bool v6 = strchr(c->server, ':') && c->server[0] != '[';
	return xasprintf("%s://%s%s%s:%d", c->nossl ? "http" : "https", v6 ? "[" : "", c->server,
			 v6 ? "]" : "", port);
}

/* Error parameters that are refs read better as "uuid (name)". */
static void describe_refs(struct xe_session *s, struct xerr *e)
{
	for (size_t i = 0; i < e->nparams; i++) {
		char *d = xs_describe_ref(s, e->params[i]);
		if (d) {
			free(e->params[i]);
			e->params[i] = d;
		}
	}
}

static void usage(const char *argv0)
{
	struct strbuf sb = STRBUF_INIT;
	xe_usage_head(&sb, argv0);
	sb_printf(&sb, "\nA full list of commands can be obtained by running\n  %s help -s <server> -p <port>\n",
		  argv0);
	fputs(sb.buf, stderr);
	sb_free(&sb);
}

static int run(struct xe_cmdline *cl, struct xe_out *out, struct xerr *err)
{
	const struct xe_cmd *cmd = xe_cmd_find(cl->cmd);
	if (!cmd)
		return xerr_set(err, XE_ERR_UNKNOWN_CMD, cl->cmd, NULL);
	const char *missing = xe_cmd_missing(cmd, &cl->params);
	if (missing)
		return xerr_set(err, XE_ERR_PARAM, missing, NULL);

	struct xc_opts opts = {.proto = cl->conn.xmlrpc ? XC_XMLRPC : XC_JSONRPC,
			       .debug = cl->conn.debug,
			       .originator = "cli",
			       .connect_timeout_s = 30};
	char *url = server_url(&cl->conn);
	struct xc *c = xc_new(url, &opts);
	if (!c) {
		free(url);
		return xe_fail(err, "cannot initialise the HTTP client");
	}
	int rc = (cmd->flags & XE_CMD_LOCAL) ? xc_login_local(c, cl->conn.username, cl->conn.password, err)
					       : xc_login(c, cl->conn.username, cl->conn.password, err);
	if (rc < 0) {
		if (xerr_is(err, ERR_SESSION_AUTHENTICATION_FAILED))
			xerr_set(err, XE_ERR_AUTH,
				 *cl->conn.username ? "Authentication failed"
						    : "Username/password must be specified",
				 NULL);
		xc_free(c);
		free(url);
		return -1;
	}
	struct xe_session s;
	xs_init(&s, c);
	struct xe_ctx x = {c, &s, out, &cl->params, cmd, "xe", url};
	rc = cmd->fn(&x, err);
	if (rc < 0 && err->code && strncmp(err->code, "XE_", 3) != 0)
		describe_refs(&s, err);
	xs_free(&s);
	struct xerr ignored = XERR_INIT;
	xc_logout(c, &ignored);
	xerr_clear(&ignored);
	xc_free(c);
	free(url);
	return rc;
}

int main(int argc, char **argv)
{
	schema_init();
	log_set_level(LOG_WARN);
	struct xe_out out = {.out = stdout, .err = stderr};
	struct xerr err = XERR_INIT;
	struct xe_cmdline cl;
	char *rc_text = read_rc();
	int rc = xe_cmdline_parse(argc, argv, rc_text, getenv("XE_EXTRA_ARGS"), &cl, &err);
	free(rc_text);
	if (rc == 0 && cl.version) {
		printf("ThinCLI protocol: 0.2\n");
		goto done;
	}
	if (rc == 0 && cl.usage) {
		usage(cl.argv0);
		goto done;
	}
	if (rc == 0 && cl.conn.pwfile)
		rc = xe_read_pwfile(&cl.conn, &err);
	if (rc == 0 && cl.conn.debug)
		log_set_level(LOG_DEBUG);
	if (rc == 0)
		rc = xe_param_bool(&cl.params, "minimal", false, &out.minimal, &err);
	xe_cmdtable_init();
	if (rc == 0 && strcmp(cl.cmd, "help") == 0)
		rc = xe_help(&out, "xe", &cl.params);
	else if (rc == 0)
		rc = run(&cl, &out, &err);
	if (rc == 0)
		xe_out_flush(&out);
	else
		xe_print_error(&out, &err);
done:
	fflush(stdout);
	xe_out_free(&out);
	xerr_clear(&err);
	xe_cmdline_free(&cl);
	return rc == 0 ? 0 : 1;
}
