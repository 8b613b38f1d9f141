/*
 * buf.h - a growable, always NUL-terminated string buffer.
 *
 * A zero-initialised struct buf (BUF_INIT) is an empty buffer; buf_str()
 * returns "" for it. The buffer owns data until buf_detach() hands it to
 * the caller, who then frees it.
 */
#ifndef MIGRATE_BUF_H
#define MIGRATE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
/* Make room for extra more bytes (and the NUL) without adding any. */
void buf_reserve(struct buf *b, size_t extra);
void buf_add_slow(struct buf *b, const void *data, size_t len);

/* Append len bytes (kept NUL-terminated); inline for the common case of room left. */
static inline void
buf_add(struct buf *b, const void *data, size_t len)
{
	if (b->cap - b->len > len && len) {
		memcpy(b->data + b->len, data, len);
		b->len += len;
		b->data[b->len] = '\0';
	} else {
		buf_add_slow(b, data, len);
	}
}

static inline void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addc(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/*
 * Append UTF-8 text s cut to max characters (max >= 1): when longer, its
 * first max - 1 characters and "…".
 */
void buf_add_cut(struct buf *b, const char *s, int max);
/* Remove the first n bytes. */
void buf_consume(struct buf *b, size_t n);
const char *buf_str(const struct buf *b);
/* Return the contents as a malloc'ed string (never NULL) and reset b. */
char *buf_detach(struct buf *b);
/* A malloc'ed string made from a format. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
