/* rpc_table: the implementations registered by api/ modules (and the
 * transport's own session.* and task.* calls), by "Class.message" — see
 * rpc_table.h. Filled at start, read without a lock afterwards. */
#include "rpc_table.h"
#include "../base/hmap.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <stdlib.h>

struct handler {
	char *key; /* "VM.start" */
	struct rpc_entry e;
};

static struct hmap handlers; /* "Class.msg" -> struct handler */
static struct hmap extras;   /* extension messages by "Class.msg" */

static struct handler *handler_put(const char *cls, const char *msg)
{
	char *key = xasprintf("%s.%s", cls, msg);
	struct handler *h = hmap_get(&handlers, key);
	if (h) {
		free(key);
		return h;
	}
	h = xcalloc(1, sizeof *h);
	h->key = key;
	h->e.cls = sc_class_find(cls);
	hmap_put(&handlers, h->key, h);
	return h;
}

void rpc_register(const char *cls, const char *msg, rpc_handler fn, unsigned flags)
{
	int c = sc_class_find(cls);
	const struct sc_message *m = c >= 0 ? sc_message_find(c, msg) : NULL;
	if (!m) {
		log_error("rpc: %s.%s is not in the schema", cls, msg);
		abort();
	}
	struct handler *h = handler_put(cls, msg);
	h->e.msg = m;
	h->e.fn = fn;
	h->e.flags = flags;
}

void rpc_register_extra(const char *cls, const struct sc_message *m, rpc_handler fn, unsigned flags)
{
	struct handler *h = handler_put(cls, m->name);
	h->e.msg = m;
	h->e.fn = fn;
	h->e.flags = flags;
	hmap_put(&extras, h->key, h);
}

const struct rpc_entry *rpc_table_find(const char *key)
{
	struct handler *h = hmap_get(&handlers, key);
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
