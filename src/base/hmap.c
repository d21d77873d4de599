/* hmap: linear probing with tombstones, FNV-1a hashes, resized at 70%. */
#include "hmap.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static const char tomb_key[] = "";
#define HMAP_TOMB tomb_key

uint32_t hmap_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void hmap_init(struct hmap *m)
{
	m->slots = NULL;
	m->cap = m->used = m->live = 0;
}

void hmap_free(struct hmap *m)
{
	free(m->slots);
	hmap_init(m);
}

static struct hmap_slot *find(const struct hmap *m, const char *key, uint32_t h)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct hmap_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != HMAP_TOMB && s->hash == h && strcmp(s->key, key) == 0)
			return s;
	}
}

static void rehash(struct hmap *m, size_t cap)
{
	struct hmap_slot *old = m->slots;
	size_t oldcap = m->cap;
	m->slots = xcalloc(cap, sizeof(struct hmap_slot));
	m->cap = cap;
	m->used = m->live = 0;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].key && old[i].key != HMAP_TOMB) {
			size_t mask = cap - 1, j = old[i].hash & mask;
			while (m->slots[j].key)
				j = (j + 1) & mask;
			m->slots[j] = old[i];
			m->used++;
			m->live++;
		}
	}
	free(old);
}

void *hmap_get_hashed(const struct hmap *m, const char *key, uint32_t hash)
{
	struct hmap_slot *s = find(m, key, hash);
	return s ? s->val : NULL;
}

void *hmap_get(const struct hmap *m, const char *key)
{
	struct hmap_slot *s = find(m, key, hmap_hash(key));
	return s ? s->val : NULL;
}

void *hmap_put(struct hmap *m, const char *key, void *val)
{
	uint32_t h = hmap_hash(key);
	struct hmap_slot *s = find(m, key, h);
	if (s) {
		void *prev = s->val;
		s->val = val;
		s->key = key;
		return prev;
	}
	if ((m->used + 1) * 10 >= m->cap * 7)
		rehash(m, m->cap ? (m->live * 2 >= m->cap ? m->cap * 2 : m->cap) : 16);
	size_t mask = m->cap - 1, i = h & mask;
	while (m->slots[i].key && m->slots[i].key != HMAP_TOMB)
		i = (i + 1) & mask;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i].key = key;
	m->slots[i].hash = h;
	m->slots[i].val = val;
	m->live++;
	return NULL;
}

void *hmap_del(struct hmap *m, const char *key)
{
	struct hmap_slot *s = find(m, key, hmap_hash(key));
	if (!s)
		return NULL;
	void *v = s->val;
	s->key = HMAP_TOMB;
	s->val = NULL;
	m->live--;
	return v;
}

size_t hmap_count(const struct hmap *m) { return m->live; }

int hmap_next(const struct hmap *m, size_t *it, const char **key, void **val)
{
	for (; *it < m->cap; (*it)++) {
		struct hmap_slot *s = &m->slots[*it];
		if (s->key && s->key != HMAP_TOMB) {
			*key = s->key;
			*val = s->val;
			(*it)++;
			return 1;
		}
	}
	return 0;
}
