#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct slot {
	const char *key;      /* NULL: empty */
	size_t value;
};

struct strmap {
	struct slot *slots;
	size_t cap;           /* a power of two */
	size_t n;
};

/* FNV-1a, 64 bits. */
static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void
insert(struct slot *slots, size_t cap, const char *key, size_t value)
{
	size_t i = (size_t)hash(key) & (cap - 1);

	while (slots[i].key != NULL) {
		if (strcmp(slots[i].key, key) == 0)
			return;
		i = (i + 1) & (cap - 1);
	}
	slots[i].key = key;
	slots[i].value = value;
}

struct strmap *
strmap_create(size_t expected)
{
	struct strmap *m = xcalloc(1, sizeof(*m));

	m->cap = 16;
	while (m->cap < expected * 2 && m->cap < SIZE_MAX / 4 / sizeof(struct slot))
		m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	return m;
}

void
strmap_free(struct strmap *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

void
strmap_put(struct strmap *m, const char *key, size_t value)
{
	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap * 2;
		struct slot *ns = xcalloc(ncap, sizeof(*ns));
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].key)
				insert(ns, ncap, m->slots[i].key, m->slots[i].value);
		free(m->slots);
		m->slots = ns;
		m->cap = ncap;
	}
	if (strmap_get(m, key) == STRMAP_NONE)
		m->n++;
	insert(m->slots, m->cap, key, value);
}

size_t
strmap_get(const struct strmap *m, const char *key)
{
	size_t i = (size_t)hash(key) & (m->cap - 1);

	while (m->slots[i].key != NULL) {
		if (strcmp(m->slots[i].key, key) == 0)
			return m->slots[i].value;
		i = (i + 1) & (m->cap - 1);
	}
	return STRMAP_NONE;
}
