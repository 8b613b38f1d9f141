/*
 * strmap.h - a map from strings to indexes, for lookups by name that must
 * not cost a scan (a run's units by key, with 100,000 units and more).
 *
 * Open addressing with linear probing, kept at most half full. The map
 * does not copy keys: each key must outlive the map (they are the unit
 * keys the run owns). strmap_create/strmap_free pair; free accepts NULL.
 */
#ifndef MIGRATE_STRMAP_H
#define MIGRATE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#define STRMAP_NONE SIZE_MAX

struct strmap;

/* An empty map sized for about `expected` keys (it grows as needed). */
struct strmap *strmap_create(size_t expected);
void strmap_free(struct strmap *m);
/* Map key to value; a key already there keeps its first value. */
void strmap_put(struct strmap *m, const char *key, size_t value);
/* The value of key, or STRMAP_NONE. */
size_t strmap_get(const struct strmap *m, const char *key);

#endif
