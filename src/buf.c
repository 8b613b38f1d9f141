#include "buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Room for extra more bytes and the NUL; doubles from 16 (no zeroing: the text ends at len). */
void
buf_reserve(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1, ncap;

	if (need <= b->cap)
		return;
	if (need < b->len)
		oom();
	ncap = b->cap ? b->cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			oom();
		ncap *= 2;
	}
	b->data = xrealloc(b->data, ncap);
	b->cap = ncap;
}

/* buf_add's way when the room left is short (buf.h has the fast way). */
void
buf_add_slow(struct buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

static void
add_unsigned(struct buf *b, unsigned long long v, bool neg)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		tmp[--i] = '-';
	buf_add(b, tmp + i, sizeof(tmp) - i);
}

/* s padded with spaces to width bytes, on the left unless left-justified (printf's %*s). */
static void
add_padded(struct buf *b, const char *s, bool left, size_t width)
{
	size_t len = strlen(s), pad = width > len ? width - len : 0;

	if (left)
		buf_add(b, s, len);
	buf_reserve(b, pad);
	memset(b->data + b->len, ' ', pad);
	b->len += pad;
	b->data[b->len] = '\0';
	if (!left)
		buf_add(b, s, len);
}

/*
 * Formats made only of text, %s, %.*s, %Ns, %-Ns, %*s, %-*s, %d, %lld, %zu
 * and %% (most of what migrate writes: plan lines, JSON, messages) are done
 * here in one pass, without vsnprintf, whose set-up costs more than the
 * formatting. At any other directive what was added is taken back and
 * vsnprintf formats it all.
 */
void
buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	size_t start = b->len;
	const char *p = fmt, *pct, *s;
	long long ll;
	va_list cp, cp2;
	int d, n;

	va_copy(cp, ap);
	for (;;) {
		pct = strchrnul(p, '%');
		if (pct > p)
			buf_add(b, p, (size_t)(pct - p));
		if (*pct == '\0') {
			va_end(cp);
			return;
		}
		if (pct[1] == 's') {
			s = va_arg(ap, const char *);
			buf_adds(b, s ? s : "(null)");
			p = pct + 2;
		} else if (pct[1] == 'd') {
			d = va_arg(ap, int);
			add_unsigned(b, d < 0 ? 0ULL - (unsigned long long)d : (unsigned long long)d, d < 0);
			p = pct + 2;
		} else if (pct[1] == 'z' && pct[2] == 'u') {
			add_unsigned(b, va_arg(ap, size_t), false);
			p = pct + 3;
		} else if (pct[1] == '.' && pct[2] == '*' && pct[3] == 's') {
			/* %.*s: at most that many bytes, fewer at a NUL */
			d = va_arg(ap, int);
			s = va_arg(ap, const char *);
			if (s == NULL)
				s = "(null)";
			buf_add(b, s, d < 0 ? strlen(s) : strnlen(s, (size_t)d));
			p = pct + 4;
		} else if (pct[1] == 'l' && pct[2] == 'l' && pct[3] == 'd') {
			ll = va_arg(ap, long long);
			add_unsigned(b, ll < 0 ? 0ULL - (unsigned long long)ll : (unsigned long long)ll, ll < 0);
			p = pct + 4;
		} else if (pct[1] == '%') {
			buf_add(b, "%", 1);
			p = pct + 2;
		} else {
			/* %Ns, %-Ns, %*s, %-*s: a string padded with spaces to a width */
			const char *q = pct + 1;
			bool left = *q == '-';
			long long w = 0;

			q += left;
			if (*q == '*') {
				w = va_arg(ap, int);
				q++;
			} else if (*q >= '1' && *q <= '9') {
				for (; *q >= '0' && *q <= '9' && w < 100000; q++)
					w = w * 10 + (*q - '0');
			}
			if (q == pct + 1 + left || *q != 's')
				break;
			s = va_arg(ap, const char *);
			add_padded(b, s ? s : "(null)", left || w < 0, (size_t)(w < 0 ? -w : w));
			p = q + 1;
		}
	}

	/* Another directive: vsnprintf, in one pass when the text fits in
	 * the room left (the common case); an empty buffer is sized exactly. */
	b->len = start;
	if (b->data)
		b->data[start] = '\0';
	va_copy(cp2, cp);
	if (b->cap > b->len + 1)
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, cp2);
	else
		n = vsnprintf(NULL, 0, fmt, cp2);
	va_end(cp2);
	if (n < 0) {
		if (b->data)
			b->data[b->len] = '\0';
		va_end(cp);
		return;
	}
	if ((size_t)n >= b->cap - b->len || b->cap <= b->len + 1) {
		buf_reserve(b, (size_t)n);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, cp);
	}
	va_end(cp);
	b->len += (size_t)n;
}

void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void
buf_add_cut(struct buf *b, const char *s, int max)
{
	int n = 0;
	size_t cut = 0, i;

	/* count characters (UTF-8 lead bytes); cut before the max-th when too long */
	for (i = 0; s[i] != '\0'; i++) {
		if (((unsigned char)s[i] & 0xC0) == 0x80)
			continue;
		if (n == max - 1)
			cut = i;
		n++;
	}
	if (n > max) {
		buf_add(b, s, cut);
		buf_adds(b, "…");
	} else {
		buf_adds(b, s);
	}
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

const char *
buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

char *
buf_detach(struct buf *b)
{
	char *s = b->data ? b->data : xstrdup("");
	buf_init(b);
	return s;
}

char *
xasprintf(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	buf_reserve(&b, 63);     /* most fit: one allocation, no regrowth */
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return buf_detach(&b);
}
