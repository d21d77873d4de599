/* apidoc: writes the API reference (HTML) from the schema tables xenond
 * itself serves from — every class, field (type, whether it can be set),
 * message (parameters, result, roles that may call it, errors it declares)
 * and error (its parameters) — with the class summaries of
 * docs/api/classes.txt, the errors of docs/api/errors_by_message.txt and
 * the task guides of docs/guides. Installed under <datadir>/doc/xenon/api
 * and served by xenond at /doc.
 * Usage: xenon-apidoc OUTDIR CLASSES.txt ERRORS.txt GUIDE.html... */
#include "schema/schema.h"
#include "base/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *const role_names[] = {"pool-admin", "pool-operator", "vm-power-admin", "vm-admin",
					 "vm-operator", "read-only", "client-cert"};

struct kv {
	char *k, *v;
};
static struct kv *summaries, *errors;
static size_t nsum, nerr;

static void load(const char *path, char sep, struct kv **out, size_t *n)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "apidoc: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	char line[4096];
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		char *s = strchr(line, sep);
		if (line[0] == '#' || !s)
			continue;
		*s = '\0';
		*out = xrealloc(*out, (*n + 1) * sizeof **out);
		(*out)[*n].k = xstrdup(line);
		(*out)[(*n)++].v = xstrdup(s + 1);
	}
	fclose(f);
}

static const char *lookup(const struct kv *t, size_t n, const char *k)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].k, k))
			return t[i].v;
	return NULL;
}

static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* A type, its class names linked to their pages. */
static void type_html(FILE *f, const struct sc_type *t)
{
	if (!t) {
		fputs("void", f);
		return;
	}
	switch (t->kind) {
	case SC_REF:
	case SC_RECORD:
		if (t->cls >= 0 && t->cls < sc_nclasses) {
			fprintf(f, "<a href=\"%s.html\">%s</a> %s", sc_classes[t->cls].name, sc_classes[t->cls].name,
				t->kind == SC_REF ? "ref" : "record");
			return;
		}
		break;
	case SC_SET:
		type_html(f, t->elem);
		fputs(" set", f);
		return;
	case SC_MAP:
		fputs("(", f);
		type_html(f, t->key);
		fputs(" &rarr; ", f);
		type_html(f, t->val);
		fputs(") map", f);
		return;
	case SC_OPTION:
		type_html(f, t->elem);
		fputs(" option", f);
		return;
	case SC_ENUM:
		if (t->en >= 0 && t->en < sc_nenums) {
			fprintf(f, "enum <a href=\"enums.html#%s\">%s</a>", sc_enums[t->en].name, sc_enums[t->en].name);
			return;
		}
		break;
	default:
		break;
	}
	esc(f, t->text ? t->text : "?");
}

static const char *state_name(enum sc_state s)
{
	switch (s) {
	case SC_PUBLISHED: return "";
	case SC_PROTOTYPED: return " (prototype)";
	case SC_DEPRECATED: return " (deprecated)";
	case SC_REMOVED: return " (removed)";
	}
	return "";
}

static FILE *page(const char *dir, const char *name, const char *title)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (!f) {
		fprintf(stderr, "apidoc: %s: %s\n", p, strerror(errno));
		exit(1);
	}
	free(p);
	fputs("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>", f);
	esc(f, title);
	fputs(" — Xenon API</title><link rel=\"stylesheet\" href=\"style.css\">\n"
	      "<nav><a href=\"index.html\">Xenon API reference</a> · <a href=\"errors.html\">errors</a> · "
	      "<a href=\"enums.html\">enums</a> · <a href=\"guides.html\">guides</a></nav>\n<main>\n",
	      f);
	return f;
}

static void end(FILE *f)
{
	fputs("</main></html>\n", f);
	if (fclose(f) != 0)
		exit(1);
}

static void roles_html(FILE *f, uint32_t roles)
{
	bool any = false;
	for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
		if (roles & (1u << i)) {
			fprintf(f, "%s%s", any ? ", " : "", role_names[i]);
			any = true;
		}
	if (!any)
		fputs("(none: root and the pool's own sessions only)", f);
}

static void class_page(const char *dir, const struct sc_class *c)
{
	char *name = xasprintf("%s.html", c->name);
	FILE *f = page(dir, name, c->name);
	free(name);
	fprintf(f, "<h1>%s%s</h1>\n<p>", c->name, state_name(c->state));
	const char *sum = lookup(summaries, nsum, c->name);
	esc(f, sum ? sum : "(no summary yet)");
	fputs("</p>\n<h2>Fields</h2>\n<table><tr><th>field</th><th>type</th><th>set by</th></tr>\n", f);
	for (int i = 0; i < c->nfields; i++) {
		const struct sc_field *fl = &c->fields[i];
		fprintf(f, "<tr id=\"field-%s\"><td><code>%s</code>%s</td><td>", fl->name, fl->name, state_name(fl->state));
		type_html(f, fl->type);
		fprintf(f, "</td><td>%s</td></tr>\n",
			fl->qual == SC_RW ? "read/write" : fl->qual == SC_RO_CTOR ? "create only" : "the system");
	}
	fputs("</table>\n<h2>Messages</h2>\n", f);
	for (int i = 0; i < c->nmessages; i++) {
		const struct sc_message *m = &c->messages[i];
		fprintf(f, "<h3 id=\"%s\"><code>%s.%s</code>%s</h3>\n<p><code>", m->name, c->name, m->name,
			state_name(m->state));
		type_html(f, m->result);
		fprintf(f, " %s.%s(", c->name, m->name);
		bool first = true;
		if (m->session) {
			fputs("session ref session_id", f);
			first = false;
		}
		for (int j = 0; j < m->nparams; j++) {
			fputs(first ? "" : ", ", f);
			type_html(f, m->params[j].type);
			fprintf(f, " %s", m->params[j].name);
			first = false;
		}
		fputs(")</code>", f);
		if (m->async)
			fprintf(f, " — also as <code>Async.%s.%s</code>, which returns a task", c->name, m->name);
		fputs("</p>\n<p>Roles: ", f);
		roles_html(f, m->roles);
		fputs("</p>\n", f);
		char key[256];
		snprintf(key, sizeof key, "%s.%s", c->name, m->name);
		const char *errs = lookup(errors, nerr, key);
		fputs("<p>Errors: ", f);
		if (errs) {
			char *copy = xstrdup(errs), *save = NULL;
			bool any = false;
			for (char *e = strtok_r(copy, " ", &save); e; e = strtok_r(NULL, " ", &save)) {
				fprintf(f, "%s<a href=\"errors.html#%s\">%s</a>", any ? ", " : "", e, e);
				any = true;
			}
			free(copy);
			fputs("; and ", f);
		}
		fputs("those of every call: <a href=\"errors.html#SESSION_INVALID\">SESSION_INVALID</a>, "
		      "<a href=\"errors.html#RBAC_PERMISSION_DENIED\">RBAC_PERMISSION_DENIED</a>, "
		      "<a href=\"errors.html#HANDLE_INVALID\">HANDLE_INVALID</a> for a reference that names nothing, "
		      "<a href=\"errors.html#MESSAGE_PARAMETER_COUNT_MISMATCH\">MESSAGE_PARAMETER_COUNT_MISMATCH</a>.</p>\n",
		      f);
	}
	end(f);
}

static int cmp_class(const void *a, const void *b)
{
	return strcasecmp((*(const struct sc_class *const *)a)->name, (*(const struct sc_class *const *)b)->name);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fputs("usage: xenon-apidoc OUTDIR CLASSES.txt ERRORS.txt GUIDE.html...\n", stderr);
		return 2;
	}
	schema_init();
	const char *dir = argv[1];
	mkdir(dir, 0755);
	load(argv[2], '\t', &summaries, &nsum);
	load(argv[3], ' ', &errors, &nerr);
	const struct sc_class **sorted = xcalloc((size_t)sc_nclasses, sizeof *sorted);
	for (int i = 0; i < sc_nclasses; i++)
		sorted[i] = &sc_classes[i];
	qsort(sorted, (size_t)sc_nclasses, sizeof *sorted, cmp_class);
	FILE *f = page(dir, "index.html", "Classes");
	fputs("<h1>Xenon API reference</h1>\n<p>The XenAPI as xenond serves it: XML-RPC on <code>POST /</code>, JSON-RPC on "
	      "<code>POST /jsonrpc</code>. Every call but the login ones takes a session reference first. Roles name "
	      "who may call a message: a subject holding any of them (root always). Short guides to common tasks are "
	      "<a href=\"guides.html\">here</a>.</p>\n<table><tr><th>class</th><th>what it is</th></tr>\n",
	      f);
	for (int i = 0; i < sc_nclasses; i++) {
		const char *sum = lookup(summaries, nsum, sorted[i]->name);
		fprintf(f, "<tr><td><a href=\"%s.html\">%s</a></td><td>", sorted[i]->name, sorted[i]->name);
		esc(f, sum ? sum : "");
		fputs("</td></tr>\n", f);
		class_page(dir, sorted[i]);
	}
	fputs("</table>\n", f);
	end(f);
	f = page(dir, "errors.html", "Errors");
	fputs("<h1>Errors</h1>\n<p>A failed call answers an error name and its parameters, in this order.</p>\n<table>"
	      "<tr><th>error</th><th>parameters</th></tr>\n",
	      f);
	for (int i = 0; i < sc_nerrors; i++) {
		fprintf(f, "<tr id=\"%s\"><td><code>%s</code></td><td>", sc_errors[i].name, sc_errors[i].name);
		for (int j = 0; j < sc_errors[i].nparams; j++) {
			fputs(j ? ", " : "", f);
			esc(f, sc_errors[i].params[j]);
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
	end(f);
	f = page(dir, "enums.html", "Enums");
	fputs("<h1>Enumerations</h1>\n<table><tr><th>enum</th><th>values</th></tr>\n", f);
	for (int i = 0; i < sc_nenums; i++) {
		fprintf(f, "<tr id=\"%s\"><td><code>%s</code></td><td>", sc_enums[i].name, sc_enums[i].name);
		for (int j = 0; j < sc_enums[i].nvalues; j++)
			fprintf(f, "%s<code>%s</code>", j ? ", " : "", sc_enums[i].values[j]);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
	end(f);
	f = page(dir, "guides.html", "Guides");
	fputs("<h1>Guides</h1>\n", f);
	for (int i = 4; i < argc; i++) {
		FILE *g = fopen(argv[i], "r");
		if (!g) {
			fprintf(stderr, "apidoc: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, g)) > 0)
			fwrite(buf, 1, n, f);
		fclose(g);
	}
	end(f);
	char *css = xasprintf("%s/style.css", dir);
	f = fopen(css, "w");
	free(css);
	if (!f)
		return 1;
	fputs("body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:70em;padding:0 1em}"
	      "nav{padding:.6em 0;border-bottom:1px solid #ccc}table{border-collapse:collapse}"
	      "td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;vertical-align:top}"
	      "code{font-size:90%}pre{background:#f4f4f4;padding:.5em;overflow:auto}h3{margin-bottom:.2em}\n",
	      f);
	fclose(f);
	free(sorted);
	return 0;
}
