/* hmap: an open-addressing hash map from C strings to pointers. Keys are
 * borrowed (the caller keeps them alive, usually inside the value). */
#ifndef XENON_HMAP_H
#define XENON_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
	const char *key; /* NULL: empty; HMAP_TOMB: deleted */
	uint32_t hash;
	void *val;
};

struct hmap {
	struct hmap_slot *slots;
	size_t cap, used, live;
};

void hmap_init(struct hmap *m);
void hmap_free(struct hmap *m);
void *hmap_get(const struct hmap *m, const char *key);
/* hmap_get with hash = hmap_hash(key), for one key looked up in many maps. */
void *hmap_get_hashed(const struct hmap *m, const char *key, uint32_t hash);
/* Inserts or replaces; returns the previous value or NULL. */
void *hmap_put(struct hmap *m, const char *key, void *val);
void *hmap_del(struct hmap *m, const char *key);
size_t hmap_count(const struct hmap *m);
/* Iteration: for (size_t it = 0; hmap_next(m, &it, &k, &v);) */
int hmap_next(const struct hmap *m, size_t *it, const char **key, void **val);
uint32_t hmap_hash(const char *s);

#endif
