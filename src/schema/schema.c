/* schema: lookup indexes over the generated tables and the parsed field
 * defaults. Built once at start; read-only afterwards, so threads share it. */
#include "schema.h"
#include "../base/hmap.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/jsonv.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct hmap class_by_name, class_by_lower, error_by_name;
static struct hmap *field_by_name, *field_by_xe, *msg_by_name;
static xv **defaults;
static bool ready;

void schema_init(void)
{
	if (ready)
		return;
	hmap_init(&class_by_name);
	hmap_init(&class_by_lower);
	hmap_init(&error_by_name);
	field_by_name = xcalloc((size_t)sc_nclasses, sizeof(struct hmap));
	field_by_xe = xcalloc((size_t)sc_nclasses, sizeof(struct hmap));
	msg_by_name = xcalloc((size_t)sc_nclasses, sizeof(struct hmap));
	defaults = xcalloc((size_t)sc_nclasses, sizeof(xv *));
	for (int c = 0; c < sc_nclasses; c++) {
		const struct sc_class *cl = &sc_classes[c];
		hmap_put(&class_by_name, cl->name, (void *)(intptr_t)(c + 1));
		hmap_put(&class_by_lower, cl->lname, (void *)(intptr_t)(c + 1));
		defaults[c] = xcalloc((size_t)cl->nfields + 1, sizeof(xv));
		for (int f = 0; f < cl->nfields; f++) {
			const struct sc_field *fd = &cl->fields[f];
			hmap_put(&field_by_name[c], fd->name, (void *)(intptr_t)(f + 1));
			hmap_put(&field_by_xe[c], fd->xe_name, (void *)(intptr_t)(f + 1));
			struct xerr e = XERR_INIT;
			xv v;
			if (jsonv_parse(fd->default_json, strlen(fd->default_json), &v, &e) < 0) {
				log_error("schema: bad default for %s.%s", cl->name, fd->name);
				xerr_clear(&e);
				abort();
			}
			if (sc_coerce(fd->type, fd->name, &v, &e) < 0) {
				log_error("schema: default for %s.%s does not fit its type (%s)",
					  cl->name, fd->name, e.code);
				abort();
			}
			defaults[c][f] = v;
		}
		for (int m = 0; m < cl->nmessages; m++)
			hmap_put(&msg_by_name[c], cl->messages[m].name, (void *)&cl->messages[m]);
	}
	for (int i = 0; i < sc_nerrors; i++)
		hmap_put(&error_by_name, sc_errors[i].name, (void *)&sc_errors[i]);
	ready = true;
}

int sc_class_find(const char *name)
{
	return (int)(intptr_t)hmap_get(&class_by_name, name) - 1;
}

int sc_class_find_lower(const char *lname)
{
	char buf[64];
	size_t n = strlen(lname);
	if (n >= sizeof buf)
		return -1;
	for (size_t i = 0; i <= n; i++)
		buf[i] = (char)((lname[i] >= 'A' && lname[i] <= 'Z') ? lname[i] + 32 : lname[i]);
	return (int)(intptr_t)hmap_get(&class_by_lower, buf) - 1;
}

int sc_field_find(int cls, const char *name)
{
	return (int)(intptr_t)hmap_get(&field_by_name[cls], name) - 1;
}

int sc_field_find_xe(int cls, const char *xe_name)
{
	return (int)(intptr_t)hmap_get(&field_by_xe[cls], xe_name) - 1;
}

const struct sc_message *sc_message_find(int cls, const char *name)
{
	return hmap_get(&msg_by_name[cls], name);
}

int sc_message_id(int cls, const struct sc_message *m)
{
	if (cls < 0 || cls >= sc_nclasses || !m)
		return -1;
	const struct sc_class *c = &sc_classes[cls];
	uintptr_t p = (uintptr_t)m, base = (uintptr_t)c->messages;
	if (p < base || p >= base + (size_t)c->nmessages * sizeof *m)
		return -1;
	return c->first_message + (int)((p - base) / sizeof *m);
}

const struct sc_error *sc_error_find(const char *name)
{
	return hmap_get(&error_by_name, name);
}

const xv *sc_field_default(int cls, int field)
{
	return &defaults[cls][field];
}

int sc_enum_find(int en, const char *value)
{
	const struct sc_enum *e = &sc_enums[en];
	for (int i = 0; i < e->nvalues; i++)
		if (strcasecmp(e->values[i], value) == 0)
			return i;
	return -1;
}

bool sc_field_is_derived(const struct sc_field *f)
{
	return f->rel_cls >= 0;
}
