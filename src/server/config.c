/* config: xenond.conf keys, each with a default so the daemon runs with
 * no file at all; command-line flags override the file. */
#include "config.h"
#include "../base/mem.h"
#include "web_static.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void server_config_defaults(struct server_config *c)
{
	memset(c, 0, sizeof *c);
	c->data_dir = xstrdup("/var/lib/xenon");
	c->run_dir = xstrdup("");
	c->listen = xstrdup("0.0.0.0:80");
	c->tls_listen = xstrdup("0.0.0.0:443");
	c->root_password_file = xstrdup("");
	c->backend = xstrdup("sim");
	c->cert_file = xstrdup("");
	c->key_file = xstrdup("");
	c->auth = xstrdup("local");
	c->guest_kernel_dir = xstrdup("");
	c->network_backend = xstrdup("bridge");
	c->pool_address = xstrdup("");
	c->pool_peers = xstrdup("");
	c->web_dir = web_static_default_dir();
	c->max_body = 1 << 20;
	c->session_timeout_s = 24 * 3600;
	c->task_gc_s = 65 * 60;
	c->max_tasks = 200;
	c->coalesce_delay_s = 60;
	c->workers = 16;
	c->http_threads = 4;
	c->event_wait_cap_s = 60.0;
	c->max_conns = 3000;
	c->audit_log_max = 16L << 20;
	c->audit_log_keep = 5;
	c->max_sessions_per_subject = 100;
	c->max_conns_per_addr = 256;
	c->request_timeout_s = 10;
	c->idle_timeout_s = 300;
	c->capture_max = 4;
	/* TLS 1.2 and 1.3 only, AEAD ciphers with forward secrecy */
	c->tls_priorities = xstrdup("SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:"
				    "+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:"
				    "-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA:%SERVER_PRECEDENCE");
}

static int set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = xstrdup(v);
	return 0;
}

static int set_num(long *out, const char *key, const char *v, struct xerr *err)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 0)
		return xerr_internal(err, "config: %s needs a number, not '%s'", key, v);
	*out = n;
	return 0;
}

int server_config_set(struct server_config *c, const char *key, const char *v, struct xerr *err)
{
	struct {
		const char *key;
		char **slot;
	} strs[] = {
		{"data-dir", &c->data_dir}, {"run-dir", &c->run_dir},
		{"listen", &c->listen}, {"tls-listen", &c->tls_listen},
		{"root-password-file", &c->root_password_file}, {"backend", &c->backend},
		{"cert-file", &c->cert_file}, {"key-file", &c->key_file}, {"auth", &c->auth},
		{"guest-kernel-dir", &c->guest_kernel_dir}, {"tls-priorities", &c->tls_priorities},
		{"metrics-token", &c->metrics_token}, {"web-dir", &c->web_dir},
		{"network-backend", &c->network_backend},
		{"pool-address", &c->pool_address}, {"pool-peers", &c->pool_peers},
	};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		if (strcmp(key, strs[i].key) == 0)
			return set_str(strs[i].slot, v);
	long n = 0;
	if (strcmp(key, "coalesce-delay") == 0 && strcmp(v, "off") == 0) {
		c->coalesce_delay_s = -1; /* no coalescing at all */
		return 0;
	}
	struct {
		const char *key;
		int *slot;
	} ints[] = {
		{"session-timeout", &c->session_timeout_s}, {"task-gc", &c->task_gc_s},
		{"max-tasks", &c->max_tasks}, {"workers", &c->workers},
		{"http-threads", &c->http_threads}, {"coalesce-delay", &c->coalesce_delay_s},
		{"max-connections", &c->max_conns}, {"max-connections-per-address", &c->max_conns_per_addr},
		{"request-timeout", &c->request_timeout_s}, {"idle-timeout", &c->idle_timeout_s},
		{"pool-id", &c->pool_id}, {"pool-snapshot-threshold", &c->pool_snapshot_threshold},
		{"pool-snapshot-trailing", &c->pool_snapshot_trailing}, {"audit-log-keep", &c->audit_log_keep},
		{"max-sessions-per-subject", &c->max_sessions_per_subject}, {"capture-max", &c->capture_max},
		{"vmss-interval", &c->vmss_interval_s}, {"migration-bandwidth", &c->migration_bandwidth},
	};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		if (strcmp(key, ints[i].key) == 0) {
			if (set_num(&n, key, v, err) < 0)
				return -1;
			*ints[i].slot = (int)n;
			return 0;
		}
	}
	if (strcmp(key, "max-body") == 0) {
		if (set_num(&n, key, v, err) < 0)
			return -1;
		c->max_body = (size_t)n;
		return 0;
	}
	if (strcmp(key, "audit-log-max") == 0)
		return set_num(&c->audit_log_max, key, v, err);
	if (strcmp(key, "event-wait-cap") == 0) {
		c->event_wait_cap_s = atof(v);
		return 0;
	}
	return xerr_internal(err, "config: unknown key '%s'", key);
}

int server_config_load(struct server_config *c, const char *path, struct xerr *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return xerr_internal(err, "config: cannot read %s: %s", path, strerror(errno));
	char line[1024];
	int lineno = 0, r = 0;
	while (r == 0 && fgets(line, sizeof line, f)) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		char *eq = strchr(p, '=');
		if (!eq) {
			r = xerr_internal(err, "config: %s:%d: expected key = value", path, lineno);
			break;
		}
		char *k = p, *v = eq + 1;
		*eq = '\0';
		for (char *e = eq - 1; e >= k && (*e == ' ' || *e == '\t'); e--)
			*e = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		r = server_config_set(c, k, v, err);
	}
	fclose(f);
	return r;
}

void server_config_free(struct server_config *c)
{
	free(c->metrics_token);
	free(c->web_dir);
	free(c->data_dir);
	free(c->run_dir);
	free(c->listen);
	free(c->tls_listen);
	free(c->root_password_file);
	free(c->backend);
	free(c->cert_file);
	free(c->key_file);
	free(c->auth);
	free(c->guest_kernel_dir);
	free(c->network_backend);
	free(c->tls_priorities);
	free(c->pool_address);
	free(c->pool_peers);
}
