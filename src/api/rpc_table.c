/* rpc_table: the extension messages (Xenon's own, which the schema lacks)
 * by "Class.message", and the names system.listMethods gives. The schema's
 * messages are found by number in the generated table (rpc_handlers.c).
 * Filled at start, read without a lock afterwards. */
#include "rpc_table.h"
#include "../base/hmap.h"
#include "../base/mem.h"

#include <stdlib.h>

struct handler {
	char *key; /* "VM.guest_exec" */
	struct rpc_entry e;
};

static struct hmap extras; /* "Class.msg" -> struct handler */

void rpc_register_extra(const char *cls, const struct sc_message *m, rpc_handler fn, unsigned flags)
{
	char *key = xasprintf("%s.%s", cls, m->name);
	struct handler *h = hmap_get(&extras, key);
	if (h) {
		free(key);
	} else {
		h = xcalloc(1, sizeof *h);
		h->key = key;
		hmap_put(&extras, h->key, h);
	}
	h->e.cls = sc_class_find(cls);
	h->e.msg = m;
	h->e.fn = fn;
	h->e.flags = flags;
}

const struct rpc_entry *rpc_extra_find(const char *key)
{
	struct handler *h = hmap_get(&extras, key);
	return h ? &h->e : NULL;
}

xv rpc_list_methods(void)
{
	xv out = xv_arr_new();
	for (int c = 0; c < sc_nclasses; c++) {
		const struct sc_class *cl = &sc_classes[c];
		for (int i = 0; i < cl->nmessages; i++) {
			char *n = xasprintf("%s.%s", cl->name, cl->messages[i].name);
			xv_arr_push(&out, xv_str_own(n));
		}
	}
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&extras, &it, &k, &v);)
		xv_arr_push_str(&out, k);
	xv_arr_push_str(&out, "system.listMethods");
	return out;
}
