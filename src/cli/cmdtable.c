/* cmdtable: every xe command in one sorted table — the hand-written ones
 * from cmd_vm.c and cmd_misc.c, and <class>-list / -param-* for every
 * class in the record tables — plus `xe help`, which only reads it. */
#include "cmd.h"
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

static const struct xe_cmd **table;
static size_t ntable;

static const char *const selector_help[] = {
	[0] = "",
	[1] = " VMs are chosen by filtering every VM on zero or more field=value pairs, e.g. "
	      "'uuid=<uuid>' or 'power-state=halted'; the pseudo-field 'vm' matches a name-label or a "
	      "uuid. When several VMs match, '--multiple' is needed to act on all of them. 'xe "
	      "vm-list params=all' shows the fields that can be matched. With no selector the "
	      "command acts on every VM.",
	[2] = " Hosts are chosen by filtering every host on zero or more field=value pairs, e.g. "
	      "'uuid=<uuid>' or 'enabled=true'; the pseudo-field 'host' matches a hostname, "
	      "name-label or uuid. When several hosts match, '--multiple' is needed to act on all "
	      "of them. 'xe host-list params=all' shows the fields that can be matched.",
	[3] = " SRs are chosen by filtering every SR on zero or more field=value pairs, e.g. "
	      "'uuid=<uuid>'; the pseudo-field 'sr' matches a name-label or a uuid. When several "
	      "SRs match, '--multiple' is needed to act on all of them. 'xe sr-list params=all' "
	      "shows the fields that can be matched.",
};

static int by_name(const void *a, const void *b)
{
	const struct xe_cmd *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

static void add(const struct xe_cmd *c)
{
	table = xrealloc(table, sizeof(*table) * (ntable + 1));
	table[ntable++] = c;
}

/* A NULL-ended array from a growing list of owned strings. */
struct names {
	size_t n;
	const char **v;
};

static void names_add(struct names *l, char *s)
{
	l->v = xrealloc(l->v, sizeof(char *) * (l->n + 2));
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
}

/* The NULL-ended array (kept for the life of the process, like the table). */
static const char *const *names_done(struct names *l)
{
	if (!l->v)
		l->v = xcalloc(1, sizeof(char *));
	return l->v;
}

static const char *const uuid_only[] = {"uuid", NULL};
static const char *const uuid_name[] = {"uuid", "param-name", NULL};
static const char *const uuid_name_key[] = {"uuid", "param-name", "param-key", NULL};
static const char *const key_db[] = {"param-key", "database:", NULL};
static const char *const db_only[] = {"database:", NULL};
static const char *const key_only[] = {"param-key", NULL};

static struct xe_cmd *gen(const struct xe_class *xc, const char *suffix, const char *const *reqd,
			  const char *const *optn, char *help, xe_handler fn)
{
	struct xe_cmd *c = xcalloc(1, sizeof *c);
	c->name = xasprintf("%s-%s", xc->name, suffix);
	c->reqd = reqd;
	c->optn = optn;
	c->help = help;
	c->fn = fn;
	c->data = xc;
	return c;
}

static void gen_class(const struct xe_class *xc)
{
	struct names all = {0}, settable = {0}, clearable = {0};
	bool addable = false;
	names_add(&all, xstrdup("params"));
	names_add(&all, xstrdup("database:"));
	for (int i = 0; i < xc->nparams; i++) {
		const struct xe_param *p = &xc->params[i];
		names_add(&all, xstrdup(p->name));
		if (p->access == XE_RW)
			names_add(&settable, xstrdup(p->name));
		if (p->access == XE_MRW)
			names_add(&settable, xasprintf("%s:", p->name));
		if (p->access == XE_SRW || p->access == XE_MRW)
			addable = true;
		if (p->access == XE_RW || xe_param_is_set(p) || xe_param_is_map(p))
			names_add(&clearable, xstrdup(p->name));
	}
	for (int i = 0; i < xc->nparams; i++)
		if (xe_param_is_set(&xc->params[i]))
			names_add(&all, xasprintf("%s:contains", xc->params[i].name));
	struct xe_cmd *list = gen(xc, "list", NULL, names_done(&all),
				  xasprintf("Lists every %s, keeping those whose fields match the "
					    "optional field=value filters (maps: "
					    "'map-param:key=value', sets: "
					    "'set-param:contains=value'). params=a,b or params=all "
					    "chooses the fields printed.",
					    xc->name),
				  xe_gen_list);
	if (xc->standard)
		list->flags |= XE_CMD_STANDARD;
	add(list);
	add(gen(xc, "param-list", uuid_only, db_only,
		xstrdup("Lists every parameter of the object with the given uuid."), xe_gen_param_list));
	add(gen(xc, "param-get", uuid_name, key_db,
		xstrdup("Prints one parameter of the object. For a map parameter, "
			"'param-key=<key>' prints the value of that key."),
		xe_gen_param_get));
	if (settable.n)
		add(gen(xc, "param-set", uuid_only, names_done(&settable),
			xstrdup("Sets parameters of the object: field=value, and "
				"'map-param:key=value' to set one key of a map parameter."),
			xe_gen_param_set));
	if (addable) {
		add(gen(xc, "param-add", uuid_name, key_only,
			xstrdup("Adds to a set or map parameter: 'param-key=<value>' for a set, "
				"key=value pairs for a map."),
			xe_gen_param_add));
		add(gen(xc, "param-remove", uuid_name_key, NULL,
			xstrdup("Removes a member of a set, or a key of a map."), xe_gen_param_remove));
	}
	if (clearable.n) {
		struct strbuf sb = STRBUF_INIT;
		sb_puts(&sb, "Clears the parameter (param-name can be ");
		for (size_t i = 0; i < clearable.n; i++)
			sb_printf(&sb, "%s%s", i ? "," : "", clearable.v[i]);
		sb_puts(&sb, ").");
		add(gen(xc, "param-clear", uuid_name, NULL, sb_detach(&sb), xe_gen_param_clear));
	}
	for (size_t i = 0; i < clearable.n; i++)
		free((char *)clearable.v[i]);
	free(clearable.v);
}

void xe_cmdtable_init(void)
{
	if (table)
		return;
	for (size_t i = 0; i < xe_vm_ncmds; i++)
		add(&xe_vm_cmds[i]);
	for (size_t i = 0; i < xe_misc_ncmds; i++)
		add(&xe_misc_cmds[i]);
	for (size_t i = 0; i < xe_transfer_ncmds; i++)
		add(&xe_transfer_cmds[i]);
	for (size_t i = 0; i < xe_console_ncmds; i++)
		add(&xe_console_cmds[i]);
	for (size_t i = 0; i < xe_resource_ncmds; i++)
		add(&xe_resource_cmds[i]);
	for (size_t i = 0; i < xe_metrics_ncmds; i++)
		add(&xe_metrics_cmds[i]);
	for (size_t i = 0; i < xe_pool_master_ncmds; i++)
		add(&xe_pool_master_cmds[i]);
	for (size_t i = 0; i < xe_rbac_ncmds; i++)
		add(&xe_rbac_cmds[i]);
	for (size_t i = 0; i < xe_capture_ncmds; i++)
		add(&xe_capture_cmds[i]);
	for (size_t i = 0; i < xe_net_ncmds; i++)
		add(&xe_net_cmds[i]);
	for (size_t i = 0; i < xe_inspect_ncmds; i++)
		add(&xe_inspect_cmds[i]);
	for (size_t i = 0; i < xe_migrate_ncmds; i++)
		add(&xe_migrate_cmds[i]);
	for (int i = 0; i < xe_nclasses; i++)
		gen_class(&xe_classes[i]);
	qsort(table, ntable, sizeof *table, by_name);
}

const struct xe_cmd *xe_cmd_find(const char *name)
{
	struct xe_cmd key = {.name = name};
	const struct xe_cmd *kp = &key;
	const struct xe_cmd **hit = bsearch(&kp, table, ntable, sizeof *table, by_name);
	return hit ? *hit : NULL;
}

size_t xe_cmd_count(void)
{
	return ntable;
}

const struct xe_cmd *xe_cmd_at(size_t i)
{
	return table[i];
}

const char *xe_cmd_missing(const struct xe_cmd *cmd, const struct xe_params *params)
{
	for (size_t i = 0; cmd->reqd && cmd->reqd[i]; i++)
		if (!xe_param_has(params, cmd->reqd[i]))
			return cmd->reqd[i];
	return NULL;
}

/* ---- help ---- */

static void join(struct strbuf *sb, const char *const *v)
{
	for (size_t i = 0; v && v[i]; i++)
		sb_printf(sb, "%s%s", sb->len ? ", " : "", v[i]);
}

static void help_cmd(struct xe_out *o, const char *name)
{
	const struct xe_cmd *c = xe_cmd_find(name);
	if (!c) {
		char *msg = xasprintf("Unknown command '%s'", name);
		const char *items[] = {msg};
		xe_print_list(o, items, 1);
		free(msg);
		return;
	}
	int sel = c->flags & XE_CMD_VM_SEL ? 1 : c->flags & XE_CMD_HOST_SEL ? 2
					     : c->flags & XE_CMD_SR_SEL   ? 3 : 0;
	static const char *const sel_names[] = {NULL, "<vm-selectors>", "<host-selectors>",
						"<sr-selectors>"};
	struct strbuf reqd = STRBUF_INIT, optn = STRBUF_INIT;
	join(&reqd, c->reqd);
	join(&optn, c->optn);
	if (sel)
		sb_printf(&optn, "%s%s", optn.len ? ", " : "", sel_names[sel]);
	xv rec = xv_map_new();
	xv_map_append(&rec, "command name        ", xv_str(c->name));
	xv_map_append(&rec, "reqd params     ", xv_str(reqd.buf ? reqd.buf : ""));
	xv_map_append(&rec, "optional params ", xv_str(optn.buf ? optn.buf : ""));
	xv_map_append(&rec, "description     ", xv_str_own(xasprintf("%s%s", c->help,
								      selector_help[sel])));
	xv recs = xv_arr_new();
	xv_arr_push(&recs, rec);
	xe_print_table(o, &recs);
	xv_free(&recs);
	sb_free(&reqd);
	sb_free(&optn);
}

static void print_lines(struct xe_out *o, xv *lines)
{
	for (size_t i = 0; i < xv_len(lines); i++) {
		const char *s = xv_as_str(xv_arr_get(lines, i));
		xe_print_list(o, &s, 1);
	}
	xv_free(lines);
}

void xe_usage_head(struct strbuf *sb, const char *argv0)
{
	sb_printf(sb,
		  "Usage:\n"
		  "  %s <command>\n"
		  "    [ -s <server> ]            Xenon host\n"
		  "    [ -p <port> ]              Port number\n"
		  "    [ -u <username> -pw <password> | -pwf <password file> ]\n"
		  "                               User authentication (password or file)\n"
		  "    [ --nossl ]                Disable SSL/TLS\n"
		  "    [ --debug ]                Enable debug output\n"
		  "    [ --minimal ]              Output only values in a comma-separated list\n"
		  "    [ <other arguments> ... ]  Command-specific options\n",
		  argv0);
}

int xe_help(struct xe_out *o, const char *argv0, const struct xe_params *params)
{
	static const char *const not_cmds[] = {"server", "username", "password", "port", "minimal",
					       "all", NULL};
	bool any = false;
	for (size_t i = 0; i < params->n; i++) {
		bool skip = false;
		for (size_t j = 0; not_cmds[j]; j++)
			skip = skip || strcmp(params->items[i].k, not_cmds[j]) == 0;
		if (!skip) {
			help_cmd(o, params->items[i].k);
			any = true;
		}
	}
	if (any)
		return 0;
	const char *all_v = xe_param(params, "all");
	bool all = all_v && strcmp(all_v, "true") == 0;
	const char **names = xcalloc(ntable + 1, sizeof(char *));
	size_t n = 0;
	for (size_t i = 0; i < ntable; i++) {
		const struct xe_cmd *c = table[i];
		if (c->flags & XE_CMD_HIDDEN)
			continue;
		if (!all && !(c->flags & XE_CMD_STANDARD))
			continue;
		names[n++] = c->name;
	}
	if (o->minimal) {
		xe_print_list(o, names, n);
		free(names);
		return 0;
	}
	struct strbuf h = STRBUF_INIT;
	xe_usage_head(&h, argv0);
	sb_printf(&h, "\nTo get help on a specific command:\n  %s help <command>\n\n", argv0);
	if (all) {
		sb_puts(&h, "Full command list\n-----------------\n");
		const char *hb = h.buf;
		xe_print_list(o, &hb, 1);
		const char **host = xcalloc(n + 1, sizeof(char *)), **vm = xcalloc(n + 1, sizeof(char *)),
			   **other = xcalloc(n + 1, sizeof(char *));
		size_t nh = 0, nv = 0, no = 0;
		for (size_t i = 0; i < n; i++) {
			if (strncmp(names[i], "host-", 5) == 0)
				host[nh++] = names[i];
			else if (strncmp(names[i], "vm-", 3) == 0)
				vm[nv++] = names[i];
			else
				other[no++] = names[i];
		}
		const char *blank[] = {""};
		xv l = xe_wrap_list(host, nh);
		print_lines(o, &l);
		l = xe_wrap_list(blank, 1);
		print_lines(o, &l);
		l = xe_wrap_list(vm, nv);
		print_lines(o, &l);
		l = xe_wrap_list(blank, 1);
		print_lines(o, &l);
		l = xe_wrap_list(other, no);
		print_lines(o, &l);
		free(host);
		free(vm);
		free(other);
	} else {
		sb_printf(&h,
			  "To get a full listing of commands:\n"
			  "  %s help --all\n\n"
			  "Common command list\n"
			  "-------------------\n",
			  argv0);
		const char *hb = h.buf;
		xe_print_list(o, &hb, 1);
		xv l = xe_wrap_list(names, n);
		print_lines(o, &l);
	}
	sb_free(&h);
	free(names);
	return 0;
}
