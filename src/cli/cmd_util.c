/* cmd_util: what the command handlers share — selectors over VMs, hosts
 * and SRs with xapi's messages for none/several matches, converting typed
 * command-line values for the wire, and Async calls with task waiting. */
#include "cmd.h"
#include "base/mem.h"
#include "base/uuid.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *xe_req(struct xe_ctx *x, const char *k)
{
	const char *v = xe_param(x->params, k);
	return v ? v : "";
}

int xe_fetch_by_uuid(struct xe_ctx *x, const struct xe_class *xc, const char *uuid, char **ref,
		     xv *rec, struct xerr *err)
{
	if (xs_by_uuid(x->s, xc->cls, uuid, ref, err) < 0)
		return -1;
	if (rec && xs_get_record(x->s, xc->cls, *ref, rec, err) < 0) {
		free(*ref);
		*ref = NULL;
		return -1;
	}
	return 0;
}

static int parse_bool(const char *s, bool *b)
{
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1") || !strcasecmp(s, "on"))
		return *b = true, 0;
	if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0") || !strcasecmp(s, "off"))
		return *b = false, 0;
	return -1;
}

/* 10GiB, 512MiB, 4096 (bytes): xe's sizes. */
int xe_parse_size(const char *s, int64_t *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	static const struct {
		const char *suffix;
		double mult;
	} units[] = {{"", 1},
		     {"B", 1},
		     {"KiB", 1024.0},
		     {"MiB", 1024.0 * 1024},
		     {"GiB", 1024.0 * 1024 * 1024},
		     {"TiB", 1024.0 * 1024 * 1024 * 1024},
		     {"K", 1024.0},
		     {"M", 1024.0 * 1024},
		     {"G", 1024.0 * 1024 * 1024},
		     {"T", 1024.0 * 1024 * 1024 * 1024}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcasecmp(end, units[i].suffix) == 0) {
			*out = (int64_t)(v * units[i].mult);
			return 0;
		}
	return -1;
}

/* xe prints some enums differently ("Soft reboot", "Core dump and
 * destroy"); accept those spellings back as well as the wire ones. */
static char *enum_wire(int en, const char *text)
{
	if (sc_enum_find(en, text) >= 0)
		return xstrdup(sc_enums[en].values[sc_enum_find(en, text)]);
	struct strbuf sb = STRBUF_INIT;
	for (const char *p = text; *p; p++)
		sb_putc(&sb, *p == ' ' || *p == '-' ? '_' : (char)tolower((unsigned char)*p));
	char *s = sb_detach(&sb);
	char *cd = strstr(s, "core_dump");
	if (cd)
		memmove(cd + 4, cd + 5, strlen(cd + 5) + 1);
	int k = sc_enum_find(en, s);
	free(s);
	return xstrdup(k >= 0 ? sc_enums[en].values[k] : text);
}

int xe_value_for(struct xe_ctx *x, const struct sc_type *t, const char *name, const char *text,
		 xv *out, struct xerr *err)
{
	char *end;
	switch (t->kind) {
	case SC_INT: {
		errno = 0;
		long long v = strtoll(text, &end, 10);
		if (errno || end == text || *end) {
			/* Memory and disk sizes may carry a unit: 2GiB. */
			int64_t size;
			if (*text == '-' || xe_parse_size(text, &size) < 0)
				return xe_fail(err, "Parameter %s must be an integer", name);
			v = size;
		}
		*out = xv_int(v);
		return 0;
	}
	case SC_FLOAT: {
		double d = strtod(text, &end);
		if (end == text || *end)
			return xe_fail(err, "Parameter %s must be a floating-point number", name);
		*out = xv_float(d);
		return 0;
	}
	case SC_BOOL: {
		bool b;
		if (parse_bool(text, &b) < 0)
			return xe_fail(err, "Parameter %s must be a boolean (true or false)", name);
		*out = xv_bool(b);
		return 0;
	}
	case SC_ENUM:
		*out = xv_str_own(enum_wire(t->en, text));
		return 0;
	case SC_REF: {
		if (!*text || strncmp(text, "OpaqueRef:", 10) == 0 || t->cls < 0) {
			*out = xv_str(*text ? text : REF_NULL);
			return 0;
		}
		char *ref = NULL;
		if (xs_by_uuid(x->s, t->cls, text, &ref, err) < 0)
			return -1;
		*out = xv_str_own(ref);
		return 0;
	}
	case SC_SET: {
		*out = xv_arr_new();
		char *copy = xstrdup(text), *save = NULL;
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			xv item;
			if (xe_value_for(x, t->elem, name, tok, &item, err) < 0) {
				free(copy);
				xv_free(out);
				return -1;
			}
			xv_arr_push(out, item);
		}
		free(copy);
		return 0;
	}
	case SC_MAP: {
		/* k1:v1,k2:v2, as xe's map-valued arguments are written. */
		*out = xv_map_new();
		char *copy = xstrdup(text), *save = NULL;
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			char *colon = strchr(tok, ':');
			if (!colon)
				continue;
			*colon = 0;
			xv_map_set_str(out, tok, colon + 1);
		}
		free(copy);
		return 0;
	}
	default:
		*out = xv_str(text);
		return 0;
	}
}

/* ---- selectors ---- */

struct noun {
	const char *cls, *pseudo, *none, *several, *one_at_a_time;
};

static const struct noun nouns[] = {
	{"vm", "vm", "No matching VMs found",
	 "Multiple matches VMs found. --multiple required to complete the operation",
	 "Multiple matches VMs found. Operation can only be performed on one VM at a time"},
	{"host", "host", "No matching hosts found",
	 "Multiple matching hosts found. --multiple required to complete the operation",
	 "Multiple matching hosts found. Operation can only be performed on one host at a time"},
	{"sr", "sr", "No matching SRs found",
	 "Multiple matching SRs found. --multiple required to complete the operation",
	 "Multiple matching SRs found. Operation can only be performed on one SR at a time"},
};

static const struct noun *noun_of(const char *cls)
{
	for (size_t i = 0; i < sizeof nouns / sizeof nouns[0]; i++)
		if (strcmp(nouns[i].cls, cls) == 0)
			return &nouns[i];
	return &nouns[0];
}

static bool in_list(const char *const *l, const char *stem)
{
	for (size_t i = 0; l && l[i]; i++) {
		size_t n = strlen(l[i]);
		if (strcmp(l[i], stem) == 0 || (n && l[i][n - 1] == ':' && strncmp(l[i], stem, n - 1) == 0 &&
						 stem[n - 1] == 0))
			return true;
	}
	return false;
}

/* Is k one of the command's own parameters rather than a filter? */
static bool own_param(const struct xe_cmd *cmd, const char *k)
{
	size_t n = strcspn(k, ":");
	char *stem = xstrndup(k, n);
	bool own = xe_is_stdparam(stem) || strcmp(stem, "params") == 0 ||
		   strcmp(stem, "progress") == 0 || (cmd && (in_list(cmd->reqd, stem) ||
							     in_list(cmd->optn, stem)));
	free(stem);
	return own;
}

void xe_sel_free(struct xe_sel *sel)
{
	xv_free(&sel->all);
	free(sel->objs);
	memset(sel, 0, sizeof *sel);
}

int xe_select(struct xe_ctx *x, const char *xe_class, const char *pseudo, bool with_control,
	      bool with_templates, struct xe_sel *sel, struct xerr *err)
{
	const struct xe_class *xc = xe_class_find(xe_class);
	memset(sel, 0, sizeof *sel);
	if (xs_get_all(x->s, xc->cls, &sel->all, err) < 0)
		return -1;
	size_t n = xv_len(&sel->all);
	sel->objs = xcalloc(n + 1, sizeof *sel->objs);
	for (size_t i = 0; i < n; i++)
		sel->objs[i] = (struct xe_obj){xc->cls, sel->all.u.m->keys[i], &sel->all.u.m->vals[i]};
	sel->n = n;

	/* The pseudo-field matches a uuid or a name (hosts: a hostname too). */
	const char *want = pseudo ? xe_param(x->params, pseudo) : NULL;
	if (want) {
		size_t kept = 0;
		for (size_t i = 0; i < sel->n; i++)
			if (xe_pseudo_match(xe_class, sel->objs[i].rec, want))
				sel->objs[kept++] = sel->objs[i];
		sel->n = kept;
	}
	struct xe_params f = {0};
	if (strcmp(xe_class, "vm") == 0) {
		if (!with_control)
			xe_params_add(&f, "is-control-domain", "false");
		if (!with_templates)
			xe_params_add(&f, "is-a-template", "false");
	}
	for (size_t i = 0; i < x->params->n; i++) {
		const char *k = x->params->items[i].k;
		if ((pseudo && strcmp(k, pseudo) == 0) || own_param(x->cmd, k))
			continue;
		xe_params_add(&f, k, x->params->items[i].v);
	}
	int rc = xe_filter(&x->s->r, xc, sel->objs, &sel->n, &f, err);
	xe_params_free(&f);
	if (rc < 0)
		xe_sel_free(sel);
	return rc;
}

int xe_do_selected(struct xe_ctx *x, const char *xe_class, bool with_control, bool with_templates,
		   bool multiple_ok, xe_obj_op op, void *ud, struct xerr *err)
{
	const struct noun *nn = noun_of(xe_class);
	struct xe_sel sel;
	if (xe_select(x, xe_class, nn->pseudo, with_control, with_templates, &sel, err) < 0)
		return -1;
	int rc = 0;
	bool multiple = false;
	if (sel.n == 0) {
		rc = xe_fail(err, "%s", nn->none);
	} else if (sel.n == 1) {
		rc = op(x, &sel.objs[0], ud, err);
	} else if (!multiple_ok) {
		rc = xe_fail(err, "%s", nn->one_at_a_time);
	} else if ((rc = xe_param_bool(x->params, "multiple", false, &multiple, err)) == 0 && !multiple) {
		rc = xe_fail(err, "%s", nn->several);
	} else if (rc == 0) {
		/* Every object is tried; the failures are reported together. */
		struct xerr all = XERR_INIT;
		for (size_t i = 0; i < sel.n; i++) {
			struct xerr e = XERR_INIT;
			if (op(x, &sel.objs[i], ud, &e) < 0) {
				if (!all.code)
					xerr_set(&all, XE_ERR_MULTIPLE, NULL);
				const char *u = xv_map_get_str(sel.objs[i].rec, "uuid");
				for (size_t k = 0; k < e.nparams; k++) {
					char *d = xs_describe_ref(x->s, e.params[k]);
					if (d) {
						free(e.params[k]);
						e.params[k] = d;
					}
				}
				char *line = xe_error_line(&e);
				xerr_add(&all, u ? u : sel.objs[i].ref);
				xerr_add(&all, line);
				free(line);
			}
			xerr_clear(&e);
		}
		if (all.code) {
			xerr_move(err, &all);
			rc = -1;
		}
	}
	xe_sel_free(&sel);
	return rc;
}

int xe_call_wait(struct xe_ctx *x, const char *method, const xv *args, xv *result, struct xerr *err)
{
	if (xc_call_wait(x->c, method, args, result, err) == 0)
		return 0;
	/* A server without the Async form still does the work synchronously. */
	if (!xerr_is(err, ERR_MESSAGE_METHOD_UNKNOWN))
		return -1;
	xerr_clear(err);
	return xc_call(x->c, method, args, result, err);
}

int xe_print_uuid_of(struct xe_ctx *x, int cls, const char *ref, struct xerr *err)
{
	char *m = xasprintf("%s.get_uuid", sc_classes[cls].name);
	xv u = XV_NIL_INIT;
	int rc = xs_call(x->s, m, &u, err, ref, NULL);
	free(m);
	if (rc < 0)
		return -1;
	const char *s = xv_as_str(&u);
	xe_print_list(x->out, &s, 1);
	xv_free(&u);
	return 0;
}

int xe_vm_ref(struct xe_ctx *x, char **ref, struct xerr *err)
{
	const char *v = xe_param(x->params, "vm");
	if (!v)
		v = xe_param(x->params, "uuid");
	if (!v)
		return xe_fail(err, "vm= or uuid= is required");
	struct xerr e = XERR_INIT;
	if (xs_by_uuid(x->s, SC_C_VM, v, ref, &e) == 0)
		return 0;
	xerr_clear(&e);
	xv refs = XV_NIL_INIT;
	if (xs_call(x->s, "VM.get_by_name_label", &refs, err, v, NULL) < 0)
		return -1;
	int rc = 0;
	if (xv_len(&refs) != 1)
		rc = xe_fail(err, xv_len(&refs) ? "More than one VM is called '%s'"
						: "No matching VMs found for '%s'", v);
	else
		*ref = xstrdup(xv_as_str(xv_arr_get(&refs, 0)));
	xv_free(&refs);
	return rc;
}

/* force=true, or the user's 'yes' on stdin (after the warnings printed). */
int xe_confirm(struct xe_ctx *x, bool *yes, struct xerr *err)
{
	bool force;
	if (xe_param_bool(x->params, "force", false, &force, err) < 0)
		return -1;
	*yes = force;
	if (force)
		return 0;
	xe_print_line(x->out, "Type 'yes' to continue");
	fflush(x->out->out);
	char line[256] = "";
	if (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\r\n")] = 0;
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		for (char *e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t');)
			*--e = 0;
		*yes = strcasecmp(s, "yes") == 0;
		if (!*yes) {
			char *msg = xasprintf("Aborted (you typed: '%s')", line);
			xe_print_line(x->out, msg);
			free(msg);
		}
	}
	return 0;
}
