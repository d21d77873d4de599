/* ovf: the few facts of an OVF descriptor a new VM needs (see ovf.h).
 * Element and attribute names are compared without their namespace
 * prefix: exporters differ in the prefixes they bind (ovf:, rasd:, none). */
#include "ovf.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <ctype.h>
#include <expat.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct file_ref {
	char *id, *href;
};

struct disk_ref {
	char *file_ref;
	int64_t capacity;
};

struct st {
	int depth;
	bool envelope;
	int vs_depth; /* depth of the VirtualSystem element, 0 outside */
	bool in_item;
	struct strbuf text;
	/* the Item being read */
	char *rtype, *quantity, *units;
	struct file_ref *files;
	size_t nfiles;
	struct disk_ref *disks;
	size_t ndisks;
	char *vs_id;
	struct ovf *out;
};

static const char *local(const char *name)
{
	const char *c = strrchr(name, ':');
	return c ? c + 1 : name;
}

static const char *attr(const char **atts, const char *want)
{
	for (size_t i = 0; atts[i]; i += 2)
		if (!strcmp(local(atts[i]), want))
			return atts[i + 1];
	return NULL;
}

/* "byte * 2^30", "byte*2^20", "MegaBytes", "GB"…: bytes per unit */
static int64_t unit_bytes(const char *u, int64_t dflt)
{
	if (!u || !*u)
		return dflt;
	const char *pow = strstr(u, "2^");
	if (pow) {
		long e = strtol(pow + 2, NULL, 10);
		return e >= 0 && e < 62 ? (int64_t)1 << e : dflt;
	}
	if (!strncasecmp(u, "kilo", 4) || !strcasecmp(u, "KB"))
		return 1 << 10;
	if (!strncasecmp(u, "mega", 4) || !strcasecmp(u, "MB"))
		return 1 << 20;
	if (!strncasecmp(u, "giga", 4) || !strcasecmp(u, "GB"))
		return 1 << 30;
	if (!strncasecmp(u, "byte", 4))
		return 1;
	return dflt;
}

static void on_start(void *arg, const char *name, const char **atts)
{
	struct st *s = arg;
	const char *n = local(name);
	s->depth++;
	sb_reset(&s->text);
	if (s->depth == 1)
		s->envelope = !strcmp(n, "Envelope");
	if (!strcmp(n, "File")) {
		const char *id = attr(atts, "id"), *href = attr(atts, "href");
		if (id && href) {
			s->files = xrealloc(s->files, (s->nfiles + 1) * sizeof *s->files);
			s->files[s->nfiles++] = (struct file_ref){xstrdup(id), xstrdup(href)};
		}
	} else if (!strcmp(n, "Disk")) {
		const char *cap = attr(atts, "capacity");
		int64_t c = cap ? strtoll(cap, NULL, 10) : 0;
		int64_t u = unit_bytes(attr(atts, "capacityAllocationUnits"), 1);
		const char *f = attr(atts, "fileRef");
		s->disks = xrealloc(s->disks, (s->ndisks + 1) * sizeof *s->disks);
		s->disks[s->ndisks++] = (struct disk_ref){f ? xstrdup(f) : NULL,
							  c > 0 && c <= INT64_MAX / u ? c * u : 0};
	} else if (!strcmp(n, "VirtualSystem") && !s->vs_depth) {
		s->vs_depth = s->depth;
		const char *id = attr(atts, "id");
		s->vs_id = id ? xstrdup(id) : NULL;
	} else if (!strcmp(n, "Item") && s->vs_depth > 0) {
		s->in_item = true;
	}
}

static char *take_text(struct st *s)
{
	const char *p = s->text.buf ? s->text.buf : "";
	while (isspace((unsigned char)*p))
		p++;
	size_t len = strlen(p);
	while (len && isspace((unsigned char)p[len - 1]))
		len--;
	return xstrndup(p, len);
}

static void end_item(struct st *s)
{
	long type = s->rtype ? strtol(s->rtype, NULL, 10) : 0;
	int64_t q = s->quantity ? strtoll(s->quantity, NULL, 10) : 0;
	if (type == 3 && q > 0) /* processors */
		s->out->vcpus = q;
	if (type == 4 && q > 0) { /* memory, in MB unless told */
		int64_t u = unit_bytes(s->units, 1 << 20);
		if (q <= INT64_MAX / u)
			s->out->memory = q * u;
	}
	free(s->rtype), free(s->quantity), free(s->units);
	s->rtype = s->quantity = s->units = NULL;
	s->in_item = false;
}

static void on_end(void *arg, const char *name)
{
	struct st *s = arg;
	const char *n = local(name);
	if (s->in_item) {
		char **slot = !strcmp(n, "ResourceType")      ? &s->rtype
			      : !strcmp(n, "VirtualQuantity") ? &s->quantity
			      : !strcmp(n, "AllocationUnits") ? &s->units
							      : NULL;
		if (slot) {
			free(*slot);
			*slot = take_text(s);
		}
		if (!strcmp(n, "Item"))
			end_item(s);
	} else if (s->vs_depth > 0 && s->depth == s->vs_depth + 1 && !strcmp(n, "Name") &&
		   !s->out->name) {
		s->out->name = take_text(s);
	}
	if (s->depth == s->vs_depth)
		s->vs_depth = -1; /* only the first VirtualSystem counts */
	s->depth--;
	sb_reset(&s->text);
}

static void on_text(void *arg, const char *p, int len)
{
	struct st *s = arg;
	if (s->text.len < 4096)
		sb_add(&s->text, p, (size_t)len);
}

int ovf_parse(const char *xml, size_t len, struct ovf *out, struct xerr *err)
{
	memset(out, 0, sizeof *out);
	struct st s = {.out = out, .text = STRBUF_INIT};
	XML_Parser p = XML_ParserCreate(NULL);
	XML_SetUserData(p, &s);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_text);
	int rc = 0;
	if (XML_Parse(p, xml, (int)len, 1) != XML_STATUS_OK || !s.envelope)
		rc = xerr_set(err, ERR_IMPORT_ERROR, "the package's .ovf is not an OVF envelope", NULL);
	XML_ParserFree(p);
	if (rc == 0 && !out->name && s.vs_id)
		out->name = xstrdup(s.vs_id);
	/* each disk's file, by the References' ids */
	for (size_t i = 0; rc == 0 && i < s.ndisks; i++) {
		const char *href = NULL;
		for (size_t k = 0; s.disks[i].file_ref && k < s.nfiles && !href; k++)
			if (!strcmp(s.files[k].id, s.disks[i].file_ref))
				href = s.files[k].href;
		if (!href) {
			rc = xerr_set(err, ERR_IMPORT_ERROR, "an OVF disk names no file of the package",
				      NULL);
			break;
		}
		out->disks = xrealloc(out->disks, (out->ndisks + 1) * sizeof *out->disks);
		out->disks[out->ndisks++] = (struct ovf_disk){xstrdup(href), s.disks[i].capacity};
	}
	for (size_t i = 0; i < s.nfiles; i++)
		free(s.files[i].id), free(s.files[i].href);
	for (size_t i = 0; i < s.ndisks; i++)
		free(s.disks[i].file_ref);
	free(s.files), free(s.disks), free(s.vs_id);
	free(s.rtype), free(s.quantity), free(s.units);
	sb_free(&s.text);
	if (rc < 0)
		ovf_free(out);
	return rc;
}

void ovf_free(struct ovf *o)
{
	free(o->name);
	for (size_t i = 0; i < o->ndisks; i++)
		free(o->disks[i].href);
	free(o->disks);
	memset(o, 0, sizeof *o);
}
