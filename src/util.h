/*
 * util.h - allocation helpers that never return NULL.
 *
 * Running out of memory is not something a migration runbook can recover
 * from sensibly, so these abort with a message instead of making every
 * caller check.
 */
#ifndef MIGRATE_UTIL_H
#define MIGRATE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Grow *p to hold at least need elements of size; *cap is updated. */
/* "migrate: out of memory" on stderr, then abort(). */
void oom(void) __attribute__((noreturn));
void xgrow(void **p, size_t *cap, size_t need, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A monotonic clock in milliseconds. */
int64_t now_ms(void);
/* Wall-clock time in milliseconds since the epoch. */
int64_t wall_ms(void);
/* Sleep for ms milliseconds, or until *stop becomes non-zero (checked every 50 ms). */
void sleep_ms(int64_t ms, volatile int *stop);

/* Milliseconds since the epoch of an RFC 3339 time (Z or an offset); false if it is not one. */
bool rfc3339_parse(const char *s, int64_t *ms);

/* Characters (UTF-8 lead bytes, not bytes) in s: the columns a name takes. */
int utf8_chars(const char *s);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PUSH(arr, n, cap, val) do { \
	xgrow((void **)&(arr), &(cap), (n) + 1, sizeof(*(arr))); \
	(arr)[(n)++] = (val); \
} while (0)

#endif
