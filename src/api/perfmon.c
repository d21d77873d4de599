/* perfmon: alarms as xapi's perfmon raises them. A host, VM or SR whose
 * other_config:perfmon holds
 *   <config><variable><name value="cpu_usage"/>
 *     <alarm_trigger_level value="0.5"/>…</variable>…</config>
 * is watched on each of its 5-s samples: a variable's value is the
 * consolidation (average, sum or max) of the data sources its rrd_regex
 * matches, or perfmon's get_percent_sr_usage (physical_utilisation /
 * size of the SR's sample), get_percent_fs_usage (df's use of the root
 * file system), get_percent_log_fs_usage (of /var/log where it is
 * another file system, NaN else) and get_percent_mem_usage ((memory +
 * swap in use) / memory, from /proc/meminfo) — the last three of the
 * host itself whatever the object, as perfmon measures dom0's; when the value stays beyond alarm_trigger_level ("high": above,
 * "low": below) for alarm_trigger_period seconds, message ALARM is created
 * with alarm_priority for the object, body "value: %f\nconfig:\n" and the
 * variable's XML printed as Python's minidom prints it — unless an alarm of
 * that variable was raised less than alarm_auto_inhibit_period seconds
 * ago. Defaults are perfmon's (trigger 60 s, inhibit 3600 s, priority 3,
 * cpu_usage averaging cpu<N>, memory_free_kib and memory_internal_free
 * watched for low values, …). A variable perfmon could not configure (no
 * trigger level and no default, an unknown consolidation function) is
 * left out and logged. A host also watches, as
 * sr_io_throughput_total_<sr8>, the sr_io_throughput_total_per_host
 * variable of each SR plugged on it (unless it has a variable of that
 * name itself); the alarm's XML then names the SR in <configured_on/>.
 *
 * Times are the ticks' (multiples of 5 s), so an inhibit period of N s
 * lets the alarm come again at the tick N s after the last one whatever
 * the delay of each tick. Only the sampler's thread calls perfmon_sample, so the state needs no
 * lock. A changed configuration keeps the state of the variables whose
 * XML did not change, as perfmon does. */
#include "api.h"
#include "perfmon.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <expat.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

/* perfmon's consolidation functions: of the matched data sources, or
 * (fs, log_fs, mem) of the host itself, whatever the sources. */
enum pm_fn { PM_AVERAGE, PM_SUM, PM_MAX, PM_FS, PM_LOG_FS, PM_MEM, PM_SR };

struct pm_var {
	char name[64];
	char *xml; /* the <variable> element as minidom's toprettyxml prints it */
	regex_t re;
	enum pm_fn fn;
	double level;
	bool high;
	int64_t trigger_period, inhibit_period;
	int64_t priority;
	/* state */
	int64_t last_alarm; /* seconds */
	int64_t down;       /* seconds of bad values still needed */
};

struct pm_obj {
	char uuid[40];
	char *config; /* the text the variables were made from */
	struct pm_var **v;
	size_t n;
	/* a host's: sr_io_throughput_total_<sr8> from the perfmon
	 * configuration of the SRs plugged on it */
	char *sconfig; /* what they were made from: "<sr uuid>\n<config>\n" each */
	struct pm_var **sv;
	size_t nsv;
};

struct perfmon {
	struct hmap objs; /* uuid → struct pm_obj */
};

/* ---- the configuration's XML ---- */

#define PM_TAGS 8
static const char *const pm_tags[PM_TAGS] = {"name",
					     "alarm_trigger_level",
					     "alarm_trigger_period",
					     "alarm_auto_inhibit_period",
					     "alarm_trigger_sense",
					     "alarm_priority",
					     "consolidation_fn",
					     "rrd_regex"};

struct pm_parsed {
	char *xml;
	char *val[PM_TAGS]; /* the first value="" of each tag inside the variable */
	bool skip;          /* not meant for this object (an SR's variable for its hosts) */
};

/* The <variable> element as a tree, to print it as minidom does. */
struct pm_node {
	char *name;   /* NULL: a text node */
	struct strbuf attrs; /* ' k="v"' each, escaped */
	struct strbuf text;  /* a text node's data (adjacent pieces joined) */
	struct pm_node **kids;
	size_t nkids;
	struct pm_node *parent;
};

struct pm_parse {
	struct pm_parsed *vars;
	size_t n;
	struct pm_node *cur; /* inside a <variable>: the open element; NULL outside */
	/* An SR's configuration read for a host it is plugged on: only its
	 * first sr_io_throughput_total_per_host without rrd_regex counts,
	 * renamed sr_io_throughput_total_<sr8> with <configured_on/>. */
	const char *sr_uuid;
	bool found;
};

/* Python's minidom _write_data: & < " > escaped. */
static void put_escaped(struct strbuf *sb, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&': sb_puts(sb, "&amp;"); break;
		case '<': sb_puts(sb, "&lt;"); break;
		case '>': sb_puts(sb, "&gt;"); break;
		case '"': sb_puts(sb, "&quot;"); break;
		default: sb_putc(sb, s[i]);
		}
	}
}

static struct pm_node *node_add(struct pm_node *parent, const char *name)
{
	struct pm_node *n = xcalloc(1, sizeof *n);
	n->name = name ? xstrdup(name) : NULL;
	n->parent = parent;
	if (parent) {
		parent->kids = xrealloc(parent->kids, (parent->nkids + 1) * sizeof *parent->kids);
		parent->kids[parent->nkids++] = n;
	}
	return n;
}

static void node_free(struct pm_node *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	sb_free(&n->attrs);
	sb_free(&n->text);
	free(n);
}

/* minidom's Element.writexml / Text.writexml with addindent "\t" and
 * newl "\n" (what toprettyxml() uses). */
static void node_print(const struct pm_node *n, struct strbuf *out, int depth)
{
	struct strbuf ind = STRBUF_INIT;
	for (int i = 0; i < depth; i++)
		sb_putc(&ind, '\t');
	if (!n->name) {
		sb_add(out, ind.buf ? ind.buf : "", ind.len);
		put_escaped(out, n->text.buf ? n->text.buf : "", n->text.len);
		sb_putc(out, '\n');
		sb_free(&ind);
		return;
	}
	sb_add(out, ind.buf ? ind.buf : "", ind.len);
	sb_printf(out, "<%s", n->name);
	sb_add(out, n->attrs.buf ? n->attrs.buf : "", n->attrs.len);
	if (!n->nkids) {
		sb_puts(out, "/>\n");
	} else if (n->nkids == 1 && !n->kids[0]->name) {
		sb_putc(out, '>');
		put_escaped(out, n->kids[0]->text.buf ? n->kids[0]->text.buf : "", n->kids[0]->text.len);
		sb_printf(out, "</%s>\n", n->name);
	} else {
		sb_puts(out, ">\n");
		for (size_t i = 0; i < n->nkids; i++)
			node_print(n->kids[i], out, depth + 1);
		sb_add(out, ind.buf ? ind.buf : "", ind.len);
		sb_printf(out, "</%s>\n", n->name);
	}
	sb_free(&ind);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct pm_parse *p = ud;
	if (!p->cur) {
		if (strcmp(name, "variable"))
			return;
		p->vars = xrealloc(p->vars, (p->n + 1) * sizeof *p->vars);
		memset(&p->vars[p->n++], 0, sizeof *p->vars);
	} else {
		/* getElementsByTagName: the first of each tag, at any depth */
		struct pm_parsed *v = &p->vars[p->n - 1];
		for (int i = 0; i < PM_TAGS; i++) {
			if (strcmp(name, pm_tags[i]) || v->val[i])
				continue;
			v->val[i] = xstrdup("");
			for (size_t a = 0; attrs[a]; a += 2)
				if (!strcmp(attrs[a], "value")) {
					free(v->val[i]);
					v->val[i] = xstrdup(attrs[a + 1]);
				}
		}
	}
	struct pm_node *n = node_add(p->cur, name);
	for (size_t a = 0; attrs[a]; a += 2) {
		sb_printf(&n->attrs, " %s=\"", attrs[a]);
		put_escaped(&n->attrs, attrs[a + 1], strlen(attrs[a + 1]));
		sb_putc(&n->attrs, '"');
	}
	p->cur = n;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct pm_parse *p = ud;
	if (!p->cur)
		return;
	struct pm_node *last = p->cur->nkids ? p->cur->kids[p->cur->nkids - 1] : NULL;
	if (!last || last->name)
		last = node_add(p->cur, NULL);
	sb_add(&last->text, s, (size_t)len);
}

/* The first element named name under n (document order), or NULL. */
static struct pm_node *first_named(struct pm_node *n, const char *name)
{
	for (size_t i = 0; i < n->nkids; i++) {
		struct pm_node *k = n->kids[i];
		if (!k->name)
			continue;
		if (!strcmp(k->name, name))
			return k;
		struct pm_node *d = first_named(k, name);
		if (d)
			return d;
	}
	return NULL;
}

static void for_host(struct pm_parse *p, struct pm_parsed *v, struct pm_node *var)
{
	if (p->found || !v->val[0] || strcmp(v->val[0], "sr_io_throughput_total_per_host") || v->val[7]) {
		if (v->val[0] && !strcmp(v->val[0], "sr_io_throughput_total_per_host"))
			log_warn("perfmon SR %s: sr_io_throughput_total_per_host %s", p->sr_uuid,
				 v->val[7] ? "with rrd_regex ignored" : "given twice");
		v->skip = true;
		return;
	}
	p->found = true;
	char name[64];
	snprintf(name, sizeof name, "sr_io_throughput_total_%.8s", p->sr_uuid);
	free(v->val[0]);
	v->val[0] = xstrdup(name);
	/* setAttribute("value", …) on the name element */
	struct pm_node *nn = first_named(var, "name");
	if (nn) {
		const char *a = nn->attrs.buf ? nn->attrs.buf : "";
		const char *at = strstr(a, " value=\"");
		struct strbuf na = STRBUF_INIT;
		if (at) {
			const char *end = strchr(at + 8, '"');
			sb_add(&na, a, (size_t)(at - a));
			sb_printf(&na, " value=\"%s\"", name);
			sb_puts(&na, end ? end + 1 : "");
		} else {
			sb_puts(&na, a);
			sb_printf(&na, " value=\"%s\"", name);
		}
		sb_free(&nn->attrs);
		nn->attrs = na;
	}
	struct pm_node *c = node_add(var, "configured_on");
	sb_puts(&c->attrs, " class=\"SR\" uuid=\"");
	put_escaped(&c->attrs, p->sr_uuid, strlen(p->sr_uuid));
	sb_putc(&c->attrs, '"');
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	(void)name;
	struct pm_parse *p = ud;
	if (!p->cur)
		return;
	struct pm_node *n = p->cur;
	p->cur = n->parent;
	if (p->cur)
		return;
	if (p->sr_uuid)
		for_host(p, &p->vars[p->n - 1], n);
	struct strbuf out = STRBUF_INIT;
	node_print(n, &out, 0);
	p->vars[p->n - 1].xml = sb_detach(&out);
	node_free(n);
}

static void parsed_free(struct pm_parsed *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].xml);
		for (int k = 0; k < PM_TAGS; k++)
			free(v[i].val[k]);
	}
	free(v);
}

/* The <variable> elements of text; -1 if it is not well-formed XML. */
static int parse_config(const char *text, const char *sr_uuid, struct pm_parsed **out, size_t *n)
{
	struct pm_parse p = {.sr_uuid = sr_uuid};
	XML_Parser xp = XML_ParserCreate("UTF-8");
	XML_SetUserData(xp, &p);
	XML_SetElementHandler(xp, on_start, on_end);
	XML_SetCharacterDataHandler(xp, on_text);
	bool ok = XML_Parse(xp, text, (int)strlen(text), 1) == XML_STATUS_OK;
	XML_ParserFree(xp);
	if (p.cur) { /* cut short inside a <variable> */
		while (p.cur->parent)
			p.cur = p.cur->parent;
		node_free(p.cur);
		ok = false;
	}
	if (!ok) {
		parsed_free(p.vars, p.n);
		return -1;
	}
	*out = p.vars;
	*n = p.n;
	return 0;
}

/* ---- perfmon's defaults, per class ---- */

static const char *dflt(enum rr_kind k, const char *name, int tag)
{
	bool cpu = !strcmp(name, "cpu_usage");
	switch (tag) {
	case 1: /* alarm_trigger_level */
		if (k == RR_VM && (!strcmp(name, "fs_usage") || !strcmp(name, "log_fs_usage")))
			return "0.9";
		if (k == RR_VM && !strcmp(name, "mem_usage"))
			return "0.95";
		if (k == RR_SR && !strcmp(name, "physical_utilisation"))
			return "0.8";
		return NULL;
	case 2: return "60";
	case 3: return "3600";
	case 4:
		return ((k == RR_VM && !strcmp(name, "memory_internal_free")) ||
				       (k == RR_HOST && !strcmp(name, "memory_free_kib")))
			       ? "low"
			       : "high";
	case 5: return "3";
	case 6:
		if (cpu && k != RR_SR)
			return "average";
		if (k == RR_VM && !strcmp(name, "fs_usage"))
			return "get_percent_fs_usage";
		if (k == RR_VM && !strcmp(name, "log_fs_usage"))
			return "get_percent_log_fs_usage";
		if (k == RR_VM && !strcmp(name, "mem_usage"))
			return "get_percent_mem_usage";
		if (k == RR_SR && !strcmp(name, "physical_utilisation"))
			return "get_percent_sr_usage";
		return "sum";
	case 7:
		if (cpu && k != RR_SR)
			return "cpu[0-9]+";
		if (k == RR_VM && !strcmp(name, "network_usage"))
			return "vif_[0-9]+_[rt]x";
		if (k == RR_VM && !strcmp(name, "disk_usage"))
			return "vbd_(xvd|hd)[a-z]+_(read|write)";
		if (k == RR_VM && !strcmp(name, "memory_internal_free"))
			return "memory_internal_free";
		/* computed from the host itself, or (sr_io_throughput_total_per_host)
		 * watched by the hosts: match no data source */
		if ((k == RR_VM && (!strcmp(name, "fs_usage") || !strcmp(name, "log_fs_usage") ||
				    !strcmp(name, "mem_usage"))) ||
		    (k == RR_SR && !strcmp(name, "sr_io_throughput_total_per_host")))
			return "_$_DUMMY__";
		if (k == RR_SR && !strcmp(name, "physical_utilisation"))
			return "physical_utilisation|size";
		if (k == RR_HOST && !strcmp(name, "network_usage"))
			return "pif_eth[0-9]+_[rt]x";
		if (k == RR_HOST && !strcmp(name, "memory_free_kib"))
			return "memory_free_kib";
		if (k == RR_HOST && !strncmp(name, "sr_io_throughput_total_", 23) && strlen(name) == 31 &&
		    strspn(name + 23, "0123456789abcdef") == 8)
			return name + 3;
		return NULL;
	}
	return NULL;
}

static bool parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end)
		return false;
	*out = v;
	return true;
}

/* One variable from its parsed XML; NULL (logged) where perfmon would
 * refuse it. */
static struct pm_var *make_var(enum rr_kind k, const char *uuid, struct pm_parsed *pv)
{
	const char *val[PM_TAGS];
	const char *name = pv->val[0];
	if (!name) {
		log_warn("perfmon %s: a variable without a name", uuid);
		return NULL;
	}
	for (int i = 1; i < PM_TAGS; i++)
		val[i] = pv->val[i] ? pv->val[i] : dflt(k, name, i);
	struct pm_var *v = xcalloc(1, sizeof *v);
	snprintf(v->name, sizeof v->name, "%s", name);
	const char *why = NULL;
	char *end = NULL;
	if (!val[7])
		why = "no default rrd_regex - please specify one";
	else if (!val[1])
		why = "no default alarm_trigger_level - please specify one";
	else if (!parse_int(val[2], &v->trigger_period))
		why = "alarm_trigger_period not an int";
	else if (!parse_int(val[3], &v->inhibit_period))
		why = "alarm_auto_inhibit_period not an int";
	else if ((v->level = strtod(val[1], &end), end == val[1] || *end))
		why = "alarm_trigger_level not a float";
	else if (!parse_int(val[5], &v->priority))
		why = "alarm_priority not an int";
	if (!why) {
		if (!strcmp(val[6], "average"))
			v->fn = PM_AVERAGE;
		else if (!strcmp(val[6], "sum"))
			v->fn = PM_SUM;
		else if (!strcmp(val[6], "max"))
			v->fn = PM_MAX;
		else if (!strcmp(val[6], "get_percent_fs_usage"))
			v->fn = PM_FS;
		else if (!strcmp(val[6], "get_percent_log_fs_usage"))
			v->fn = PM_LOG_FS;
		else if (!strcmp(val[6], "get_percent_mem_usage"))
			v->fn = PM_MEM;
		else if (!strcmp(val[6], "get_percent_sr_usage"))
			v->fn = PM_SR;
		else
			why = "consolidation function not supported";
	}
	if (!why) {
		char *re = xasprintf("^(%s)$", val[7]);
		int rc = regcomp(&v->re, re, REG_EXTENDED | REG_NOSUB);
		free(re);
		if (rc)
			why = "rrd_regex does not compile";
	}
	if (why) {
		log_warn("perfmon %s %s: variable %s: %s", rr_kind_name(k), uuid, name, why);
		free(v);
		return NULL;
	}
	v->high = !strcmp(val[4], "high");
	v->xml = pv->xml;
	pv->xml = NULL;
	v->down = v->trigger_period;
	v->last_alarm = INT64_MIN / 2; /* as perfmon: an alarm may come at once */
	return v;
}

static void var_free(struct pm_var *v)
{
	regfree(&v->re);
	free(v->xml);
	free(v);
}

static void vars_free(struct pm_var **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i])
			var_free(v[i]);
	free(v);
}

static void obj_clear(struct pm_obj *o)
{
	vars_free(o->v, o->n);
	o->v = NULL;
	o->n = 0;
	free(o->config);
	o->config = NULL;
	vars_free(o->sv, o->nsv);
	o->sv = NULL;
	o->nsv = 0;
	free(o->sconfig);
	o->sconfig = NULL;
}

/* Variables from config (sr_uuid: an SR's, read for a host) added to
 * nv; those whose XML is as in old keep their state (and leave old). */
static void make_vars(enum rr_kind k, const char *uuid, const char *config, const char *sr_uuid,
		      struct pm_var **old, size_t nold, struct pm_var ***nv, size_t *n)
{
	struct pm_parsed *pv = NULL;
	size_t npv = 0;
	if (parse_config(config, sr_uuid, &pv, &npv) < 0) {
		log_warn("perfmon %s %s: XML parse error in other_config:perfmon", sr_uuid ? "SR" : rr_kind_name(k),
			 sr_uuid ? sr_uuid : uuid);
		npv = 0;
	}
	*nv = xrealloc(*nv, (*n + npv + 1) * sizeof **nv);
	size_t first = *n;
	for (size_t i = 0; i < npv; i++) {
		if (pv[i].skip)
			continue;
		struct pm_var *keep = NULL;
		for (size_t j = 0; j < nold && !keep; j++)
			if (old[j] && pv[i].xml && !strcmp(old[j]->xml, pv[i].xml)) {
				keep = old[j];
				old[j] = NULL;
			}
		struct pm_var *v = keep ? keep : make_var(k, uuid, &pv[i]);
		if (!v)
			continue;
		/* one variable per name: a later one replaces it */
		for (size_t j = first; j < *n; j++)
			if ((*nv)[j] && !strcmp((*nv)[j]->name, v->name)) {
				var_free((*nv)[j]);
				(*nv)[j] = NULL;
			}
		(*nv)[(*n)++] = v;
	}
	parsed_free(pv, npv);
}

/* The object's variables from config; those whose XML is as before keep
 * their state. */
static void configure(struct pm_obj *o, enum rr_kind k, const char *config)
{
	struct pm_var **nv = NULL;
	size_t n = 0;
	if (config)
		make_vars(k, o->uuid, config, NULL, o->v, o->n, &nv, &n);
	vars_free(o->v, o->n);
	free(o->config);
	o->v = nv;
	o->n = n;
	o->config = config ? xstrdup(config) : NULL;
}

/* A host's variables from its SRs' configurations (sconfig: "<sr
 * uuid>\n<config>\n" each; the configuration has no newline of its own
 * here, as newlines were turned into spaces by the caller). */
static void configure_secondary(struct pm_obj *o, const char *sconfig)
{
	struct pm_var **nv = NULL;
	size_t n = 0;
	char *copy = xstrdup(sconfig), *save = NULL;
	for (char *sr = strtok_r(copy, "\n", &save); sr; sr = strtok_r(NULL, "\n", &save)) {
		char *config = strtok_r(NULL, "\n", &save);
		if (!config)
			break;
		make_vars(RR_HOST, o->uuid, config, sr, o->sv, o->nsv, &nv, &n);
	}
	free(copy);
	vars_free(o->sv, o->nsv);
	free(o->sconfig);
	o->sv = nv;
	o->nsv = n;
	o->sconfig = xstrdup(sconfig);
}

/* ---- evaluation ---- */

static const char *msg_class(enum rr_kind k)
{
	return k == RR_HOST ? "Host" : k == RR_VM ? "VM" : "SR";
}

static int sc_class(enum rr_kind k)
{
	return k == RR_HOST ? SC_C_host : k == RR_VM ? SC_C_VM : SC_C_SR;
}

static void raise_alarm(struct db *db, enum rr_kind k, const char *uuid, const struct pm_var *v, double value)
{
	char *body = xasprintf("value: %f\nconfig:\n%s", value, v->xml);
	struct db_txn *t = db_begin(db);
	if (!db_lookup_uuid(db, sc_class(k), uuid)) {
		db_abort(t);
		free(body);
		return;
	}
	message_add(t, "ALARM", v->priority, msg_class(k), uuid, body);
	struct xerr err = XERR_INIT;
	if (db_commit(t, &err) < 0) {
		log_warn("perfmon %s %s: ALARM not stored: %s", rr_kind_name(k), uuid, err.code);
		xerr_clear(&err);
	} else {
		log_info("perfmon %s %s: ALARM %s value %f", rr_kind_name(k), uuid, v->name, value);
	}
	free(body);
}

/* df's Use% of the file system holding path, as a fraction; NaN when
 * unknown. */
static double fs_usage(const char *path)
{
	struct statvfs st;
	if (statvfs(path, &st) < 0)
		return NAN;
	double used = (double)(st.f_blocks - st.f_bfree), avail = (double)st.f_bavail;
	if (used + avail <= 0)
		return NAN;
	return ceil(used * 100.0 / (used + avail)) / 100.0;
}

/* get_percent_log_fs_usage: /var/log's usage where it is a file system
 * of its own, NaN where it shares the root's. */
static double log_fs_usage(void)
{
	struct stat a, b;
	if (stat("/etc/passwd", &a) < 0 || stat("/var/log", &b) < 0 || a.st_dev == b.st_dev)
		return NAN;
	return fs_usage("/var/log");
}

/* get_percent_mem_usage: (memory in use + swap in use) / memory, from
 * /proc/meminfo; 0 when it cannot be read, as perfmon. */
static double mem_usage(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f)
		return 0.0;
	static const char *const keys[] = {"MemTotal", "MemFree", "Buffers", "Cached", "SwapTotal", "SwapFree"};
	double v[6];
	bool have[6] = {false};
	char line[256];
	while (fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		for (int i = 0; i < 6; i++)
			if (!strcmp(line, keys[i])) {
				v[i] = strtod(colon + 1, NULL);
				have[i] = true;
			}
	}
	fclose(f);
	for (int i = 0; i < 6; i++)
		if (!have[i])
			return 0.0;
	if (v[0] <= 0)
		return 0.0;
	return (v[0] - v[1] - v[2] - v[3] + v[4] - v[5]) / v[0];
}

static void update(struct db *db, enum rr_kind k, const char *uuid, struct pm_var *v, const struct rr_sample *s,
		   int64_t now)
{
	double acc = 0, sr[2] = {0, 0};
	size_t n = 0, nsr = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (regexec(&v->re, s->v[i].name, 0, NULL, 0))
			continue;
		if (v->fn == PM_SR) { /* in the order of the sample: physical_utilisation, size */
			if (nsr < 2)
				sr[nsr] = s->v[i].v;
			nsr++;
			continue;
		}
		if (isnan(s->v[i].v))
			continue;
		acc = v->fn == PM_MAX ? (n ? fmax(acc, s->v[i].v) : s->v[i].v) : acc + s->v[i].v;
		n++;
	}
	double value;
	switch (v->fn) {
	case PM_FS: value = fs_usage("/etc/passwd"); break;
	case PM_LOG_FS: value = log_fs_usage(); break;
	case PM_MEM: value = mem_usage(); break;
	case PM_SR:
		if (!nsr)
			return; /* no figures of the SR this tick */
		/* anything but the two figures, or no size: 0, as perfmon */
		value = nsr == 2 && sr[1] != 0 ? sr[0] / sr[1] : 0.0;
		break;
	default:
		if (!n)
			return; /* nothing known this tick: the count goes on after it */
		value = v->fn == PM_AVERAGE ? acc / (double)n : acc;
	}
	bool bad = v->high ? value > v->level : value < v->level;
	if (!bad) {
		v->down = v->trigger_period;
		return;
	}
	v->down -= RR_STEP;
	if (v->down > 0)
		return;
	v->down = v->trigger_period;
	if (now - v->last_alarm < v->inhibit_period)
		return; /* in the auto-inhibit period */
	v->last_alarm = now;
	raise_alarm(db, k, uuid, v, value);
}

struct perfmon *perfmon_new(void)
{
	struct perfmon *pm = xcalloc(1, sizeof *pm);
	hmap_init(&pm->objs);
	return pm;
}

void perfmon_free(struct perfmon *pm)
{
	if (!pm)
		return;
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&pm->objs, &it, &k, &v);) {
		obj_clear(v);
		free(v);
	}
	hmap_free(&pm->objs);
	free(pm);
}

/* The perfmon configuration of each SR plugged on the host (host_ref),
 * as "<sr uuid>\n<config>\n" each; NULL when none has one. */
static char *secondary_config(struct db *db, const char *host_ref)
{
	struct strbuf sb = STRBUF_INIT;
	for (struct db_obj *p = db_first(db, SC_C_PBD); p; p = db_next(p)) {
		if (strcmp(db_peek_str(p, SC_F_PBD__host), host_ref))
			continue;
		struct db_obj *sr = db_lookup_cls(db, SC_C_SR, db_peek_str(p, SC_F_PBD__SR));
		const char *c = sr ? xv_map_get_str(db_peek(sr, SC_F_SR__other_config), "perfmon") : NULL;
		if (!c || !strstr(c, "sr_io_throughput_total_per_host"))
			continue;
		sb_printf(&sb, "%s\n", db_peek_str(sr, SC_F_SR__uuid));
		for (const char *q = c; *q; q++)
			sb_putc(&sb, *q == '\n' || *q == '\r' ? ' ' : *q);
		sb_putc(&sb, '\n');
	}
	return sb.len ? sb_detach(&sb) : (sb_free(&sb), NULL);
}

void perfmon_sample(struct perfmon *pm, struct db *db, enum rr_kind k, const char *uuid, const struct rr_sample *s,
		    int64_t now)
{
	int field = k == RR_HOST ? SC_F_host__other_config : k == RR_VM ? SC_F_VM__other_config : SC_F_SR__other_config;
	char *config = NULL, *sconfig = NULL;
	db_rdlock(db);
	struct db_obj *o = db_lookup_uuid(db, sc_class(k), uuid);
	const char *c = o ? xv_map_get_str(db_peek(o, field), "perfmon") : NULL;
	if (c)
		config = xstrdup(c);
	if (o && k == RR_HOST)
		sconfig = secondary_config(db, o->ref);
	db_unlock(db);
	struct pm_obj *po = hmap_get(&pm->objs, uuid);
	if (!config && !sconfig) {
		if (po) {
			hmap_del(&pm->objs, uuid);
			obj_clear(po);
			free(po);
		}
		return;
	}
	if (!po) {
		po = xcalloc(1, sizeof *po);
		snprintf(po->uuid, sizeof po->uuid, "%s", uuid);
		hmap_put(&pm->objs, po->uuid, po);
	}
	if (!po->config != !config || (config && strcmp(po->config, config)))
		configure(po, k, config);
	if (!sconfig) {
		vars_free(po->sv, po->nsv);
		po->sv = NULL;
		po->nsv = 0;
		free(po->sconfig);
		po->sconfig = NULL;
	} else if (!po->sconfig || strcmp(po->sconfig, sconfig)) {
		configure_secondary(po, sconfig);
	}
	free(config);
	free(sconfig);
	for (size_t i = 0; i < po->n; i++)
		if (po->v[i])
			update(db, k, uuid, po->v[i], s, now);
	/* an SR's variable counts where the host has none of that name */
	for (size_t i = 0; i < po->nsv; i++) {
		bool shadowed = !po->sv[i];
		for (size_t j = 0; j < po->n && !shadowed; j++)
			shadowed = po->v[j] && !strcmp(po->v[j]->name, po->sv[i]->name);
		if (!shadowed)
			update(db, k, uuid, po->sv[i], s, now);
	}
}
