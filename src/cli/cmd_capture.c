/* cmd_capture: vif-capture and pif-capture, a live pcap of a VIF's or a
 * PIF's traffic from the server's GET /capture into a file, or stdout
 * (filename=-, for `| wireshark -k -i -` or tcpdump -r -). The server's
 * refusal (a bad filter, a halted VM, too many captures) comes as an error
 * answer before any byte, and is what xe reports. */
#include "cmd.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink {
	CURL *h;
	FILE *f;
	long status;
	struct strbuf body; /* an error answer */
	bool failed_write;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;
	if (!s->status)
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200) {
		if (s->body.len < 4096)
			sb_add(&s->body, p, len);
		return len;
	}
	if (fwrite(p, 1, len, s->f) != len) {
		s->failed_write = true;
		return 0;
	}
	fflush(s->f); /* live: each piece as it comes */
	return len;
}

static void add_q(struct strbuf *sb, const char *k, const char *v)
{
	if (!v)
		return;
	char *e = curl_easy_escape(NULL, v, 0);
	sb_printf(sb, "&%s=%s", k, e);
	curl_free(e);
}

/* "CODE param..." of the server's error answer as err. Parameters are
 * split at spaces as many times as the error has them, the last taking
 * the rest; a refused filter (spaces of its own) is known by what was
 * sent. */
static int server_error(struct strbuf *body, long status, const char *filter, struct xerr *err)
{
	char *t = body->buf ? body->buf : (char *)"";
	t[strcspn(t, "\n")] = '\0';
	if (!*t)
		return xe_fail(err, "capture failed: HTTP %ld", status);
	char *rest = strchr(t, ' ');
	if (rest)
		*rest++ = '\0';
	xerr_set(err, t, NULL);
	if (!rest)
		return -1;
	size_t fl = filter ? strlen(filter) : 0;
	if (!strcmp(t, "CAPTURE_FILTER_INVALID") && fl && !strncmp(rest, filter, fl) && rest[fl] == ' ') {
		rest[fl] = '\0';
		xerr_add(err, rest);
		xerr_add(err, rest + fl + 1);
		return -1;
	}
	const struct sc_error *e = sc_error_find(t);
	size_t n = e && e->nparams > 0 ? (size_t)e->nparams : 1;
	for (size_t i = 1; i < n && rest; i++) {
		char *sp = strchr(rest, ' ');
		if (sp)
			*sp++ = '\0';
		xerr_add(err, rest);
		rest = sp;
	}
	if (rest)
		xerr_add(err, rest);
	return -1;
}

static int capture(struct xe_ctx *x, int cls, struct xerr *err)
{
	char *ref = NULL;
	if (xs_by_uuid(x->s, cls, xe_req(x, "uuid"), &ref, err) < 0)
		return -1;
	const char *fn = xe_req(x, "filename");
	bool std = !strcmp(fn, "-");
	struct strbuf url = STRBUF_INIT;
	sb_printf(&url, "%s/capture?", x->server_url);
	char *sid = curl_easy_escape(NULL, xc_session(x->c), 0);
	sb_printf(&url, "session_id=%s", sid);
	curl_free(sid);
	add_q(&url, "ref", ref);
	add_q(&url, "filter", xe_param(x->params, "filter"));
	add_q(&url, "snaplen", xe_param(x->params, "snaplen"));
	add_q(&url, "duration", xe_param(x->params, "duration"));
	add_q(&url, "max_bytes", xe_param(x->params, "max-bytes"));
	free(ref);
	struct sink s = {.body = STRBUF_INIT};
	s.f = std ? stdout : fopen(fn, "wb");
	if (!s.f) {
		sb_free(&url);
		return xe_fail(err, "cannot open %s", fn);
	}
	s.h = curl_easy_init();
	curl_easy_setopt(s.h, CURLOPT_URL, url.buf);
	curl_easy_setopt(s.h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(s.h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(s.h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(s.h, CURLOPT_WRITEDATA, &s);
	CURLcode cc = curl_easy_perform(s.h);
	if (!s.status)
		curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &s.status);
	curl_easy_cleanup(s.h);
	if (!std)
		fclose(s.f);
	else
		fflush(s.f);
	sb_free(&url);
	int rc = 0;
	if (s.status && s.status != 200)
		rc = server_error(&s.body, s.status, xe_param(x->params, "filter"), err);
	else if (s.failed_write)
		rc = xe_fail(err, "cannot write %s", fn);
	else if (cc != CURLE_OK)
		rc = xe_fail(err, "capture failed: %s", curl_easy_strerror(cc));
	if (rc < 0 && !std && s.status != 200)
		remove(fn); /* nothing was captured */
	sb_free(&s.body);
	return rc;
}

static int h_vif_capture(struct xe_ctx *x, struct xerr *err)
{
	return capture(x, SC_C_VIF, err);
}

static int h_pif_capture(struct xe_ctx *x, struct xerr *err)
{
	return capture(x, SC_C_PIF, err);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

const struct xe_cmd xe_capture_cmds[] = {
	{"vif-capture", L("uuid", "filename"), L("filter", "snaplen", "duration", "max-bytes"),
	 "Capture a VIF's packets live into a pcap file (filename=- for stdout): filter= is a "
	 "BPF expression (as tcpdump takes), duration= seconds and max-bytes= bound it, "
	 "snaplen= keeps that many bytes of each packet. The VM must be running.",
	 XE_CMD_STANDARD, h_vif_capture, NULL},
	{"pif-capture", L("uuid", "filename"), L("filter", "snaplen", "duration", "max-bytes"),
	 "Capture a PIF's packets live into a pcap file (filename=- for stdout), with the "
	 "options of vif-capture.",
	 XE_CMD_STANDARD, h_pif_capture, NULL},
};
const size_t xe_capture_ncmds = sizeof xe_capture_cmds / sizeof xe_capture_cmds[0];
