#include "mask.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Base64 forms per secret: 3 alignments x (standard, URL-safe). */
#define B64_FORMS 6
/* Alternatives of one unit of a secret, and their longest (a surrogate pair). */
#define ALT_N 12
#define ALT_LEN 12
/* Paths followed at once through one secret's escaped forms. */
#define PATHS 16

struct msecret {
	unsigned char *v;
	size_t len;
	char *b64[B64_FORMS];
	size_t b64_len[B64_FORMS];
	size_t n_b64;
};

struct mask {
	struct msecret *v;
	size_t n;
	size_t cap;
	bool first[256];   /* bytes a form of some secret can start with */
};

/* One unit (a byte, or a UTF-8 character) of a secret, in each way it may be written. */
struct alts {
	char s[ALT_N][ALT_LEN];
	unsigned char len[ALT_N];
	int n;
};

static void
alt_add(struct alts *a, const char *s, size_t len)
{
	if (a->n < ALT_N && len <= ALT_LEN) {
		memcpy(a->s[a->n], s, len);
		a->len[a->n++] = (unsigned char)len;
	}
}

static void
alt_addf_u(struct alts *a, const char *fmt, unsigned v1, unsigned v2)
{
	char tmp[32];
	int k = snprintf(tmp, sizeof(tmp), fmt, v1, v2);

	if (k > 0 && (size_t)k < sizeof(tmp))
		alt_add(a, tmp, (size_t)k);
}

/* The length of the unit at v[i]: a whole UTF-8 character, else one byte. */
static size_t
unit_at(const unsigned char *v, size_t len, size_t i, uint32_t *cp)
{
	unsigned char c = v[i];
	size_t k;

	*cp = c;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		k = 2;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4;
	else
		return 1;
	if (i + k > len)
		return 1;
	*cp = c & (0xff >> (k + 1));
	for (size_t j = 1; j < k; j++) {
		if ((v[i + j] & 0xc0) != 0x80)
			return (*cp = c), 1;
		*cp = (*cp << 6) | (v[i + j] & 0x3f);
	}
	if ((k == 3 && *cp < 0x800) || (k == 4 && (*cp < 0x10000 || *cp > 0x10ffff)) ||
	    (*cp >= 0xd800 && *cp <= 0xdfff))
		return (*cp = c), 1;
	return k;
}

static void
unit_alts(const unsigned char *u, size_t k, uint32_t cp, struct alts *a)
{
	static const char *const hexes[2] = { "0123456789ABCDEF", "0123456789abcdef" };
	static const char json_short[] = "\"\"\\\\//\bb\ff\nn\rr\tt";

	a->n = 0;
	alt_add(a, (const char *)u, k);
	for (int h = 0; h < 2; h++) {
		char pct[ALT_LEN];
		for (size_t j = 0; j < k; j++) {
			pct[3 * j] = '%';
			pct[3 * j + 1] = hexes[h][u[j] >> 4];
			pct[3 * j + 2] = hexes[h][u[j] & 15];
		}
		alt_add(a, pct, 3 * k);
	}
	if (k == 1 && cp >= 0x80)
		return;   /* a byte that is not UTF-8: only percent-encoding is defined */
	for (size_t j = 0; json_short[j]; j += 2)
		if (cp == (unsigned char)json_short[j]) {
			char e[2] = { '\\', json_short[j + 1] };
			alt_add(a, e, 2);
		}
	if (cp < 0x10000) {
		alt_addf_u(a, "\\u%04x", cp, 0);
		alt_addf_u(a, "\\u%04X", cp, 0);
	} else {
		unsigned hi = 0xd800 + ((cp - 0x10000) >> 10), lo = 0xdc00 + ((cp - 0x10000) & 0x3ff);
		alt_addf_u(a, "\\u%04x\\u%04x", hi, lo);
		alt_addf_u(a, "\\u%04X\\u%04X", hi, lo);
	}
	if (cp == '\n')
		alt_add(a, "\r\n", 2);
	if (cp == ' ')
		alt_add(a, "+", 1);
	if (cp == '\'') {
		alt_add(a, "'\\''", 4);
		alt_add(a, "'\"'\"'", 5);
	}
	if (k == 1 && cp != '/' && cp != '"' && cp != '\\' && (ispunct((int)cp) || cp == ' ')) {
		char e[2] = { '\\', (char)cp };
		alt_add(a, e, 2);
	}
}

static void
path_add(size_t *paths, size_t *n, size_t off)
{
	for (size_t i = 0; i < *n; i++)
		if (paths[i] == off)
			return;
	if (*n < PATHS)
		paths[(*n)++] = off;
}

/*
 * The longest match at d[0..n) of secret s written literally or escaped
 * (any mix of the unit alternatives), or 0. *more: the data ended while a
 * match was still possible.
 */
static size_t
match_escaped(const struct msecret *s, const unsigned char *d, size_t n, bool *more)
{
	size_t cur[PATHS], next[PATHS], n_cur = 1, best = 0;
	struct alts a;

	cur[0] = 0;
	for (size_t i = 0; i < s->len && n_cur > 0;) {
		uint32_t cp;
		size_t k = unit_at(s->v, s->len, i, &cp), n_next = 0;

		unit_alts(s->v + i, k, cp, &a);
		for (size_t c = 0; c < n_cur; c++) {
			size_t off = cur[c];
			for (int j = 0; j < a.n; j++) {
				size_t al = a.len[j];
				if (n - off >= al) {
					if (memcmp(d + off, a.s[j], al) == 0)
						path_add(next, &n_next, off + al);
				} else if (memcmp(d + off, a.s[j], n - off) == 0) {
					*more = true;
				}
			}
		}
		memcpy(cur, next, n_next * sizeof(*cur));
		n_cur = n_next;
		i += k;
	}
	for (size_t c = 0; c < n_cur; c++)
		if (cur[c] > best)
			best = cur[c];
	return best;
}

/* A base64 form at d[0..n), line breaks allowed between characters; its length or 0. */
static size_t
match_b64(const char *pat, size_t plen, const unsigned char *d, size_t n, bool *more)
{
	size_t off = 0;

	for (size_t i = 0; i < plen; i++) {
		if (i > 0 && off < n && d[off] == '\r' && d[off] != (unsigned char)pat[i]) {
			if (off + 1 >= n) {
				*more = true;
				return 0;
			}
			if (d[off + 1] != '\n')
				return 0;
			off += 2;
		} else if (i > 0 && off < n && d[off] == '\n') {
			off++;
		}
		if (off >= n) {
			*more = true;
			return 0;
		}
		if (d[off] != (unsigned char)pat[i])
			return 0;
		off++;
	}
	return off;
}

/* The longest form of any secret at d[0..n), or 0. */
static size_t
longest_at(const struct mask *m, const unsigned char *d, size_t n, bool *more)
{
	size_t best = 0;

	if (!m->first[d[0]])
		return 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct msecret *s = &m->v[i];
		size_t k = match_escaped(s, d, n, more);
		if (k > best)
			best = k;
		for (size_t f = 0; f < s->n_b64; f++) {
			k = match_b64(s->b64[f], s->b64_len[f], d, n, more);
			if (k > best)
				best = k;
		}
	}
	return best;
}

/*
 * Mask d[0..n) into out. Unless final, stop where a secret may begin but
 * the data ended; return how many bytes were used.
 */
static size_t
mask_run(const struct mask *m, const char *data, size_t n, bool final, struct buf *out)
{
	const unsigned char *d = (const unsigned char *)data;
	size_t p = 0, lit = 0;

	while (p < n) {
		bool more = false;
		size_t k = longest_at(m, d + p, n - p, &more);

		if (more && !final)
			break;
		if (k > 0) {
			buf_add(out, d + lit, p - lit);
			buf_adds(out, MASK_TEXT);
			p += k;
			lit = p;
		} else {
			p++;
		}
	}
	buf_add(out, d + lit, p - lit);
	return p;
}

/* The base64 characters of v that do not depend on the bytes around it, v starting `align` bytes into a group. */
static char *
b64_stable(const unsigned char *v, size_t len, int align, size_t *out_len)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t bits = 8 * (size_t)align, end = (bits + 8 * len) / 6, start = (bits + 5) / 6;
	char *s = xmalloc(end - start + 1);

	for (size_t j = start; j < end; j++) {
		size_t bit = 6 * j - bits;   /* bit offset into v; bit + 6 <= 8 * len */
		size_t byte = bit / 8;
		unsigned w = (unsigned)v[byte] << 8 | (byte + 1 < len ? v[byte + 1] : 0);
		s[j - start] = b64[(w >> (10 - bit % 8)) & 63];
	}
	s[end - start] = '\0';
	*out_len = end - start;
	return s;
}

static void
first_bytes(struct mask *m, const struct msecret *s)
{
	struct alts a;
	uint32_t cp;
	size_t k = unit_at(s->v, s->len, 0, &cp);

	unit_alts(s->v, k, cp, &a);
	for (int j = 0; j < a.n; j++)
		m->first[(unsigned char)a.s[j][0]] = true;
	for (size_t f = 0; f < s->n_b64; f++)
		m->first[(unsigned char)s->b64[f][0]] = true;
}

struct mask *
mask_new(void)
{
	return xcalloc(1, sizeof(struct mask));
}

void
mask_add(struct mask *m, const char *value, size_t len)
{
	struct msecret s;

	if (len < MASK_MIN_SECRET)
		return;
	memset(&s, 0, sizeof(s));
	s.v = xmalloc(len);
	memcpy(s.v, value, len);
	s.len = len;
	for (int align = 0; align < 3; align++) {
		size_t n;
		char *f = b64_stable(s.v, len, align, &n), *url;

		s.b64[s.n_b64] = f;
		s.b64_len[s.n_b64++] = n;
		url = xmalloc(n + 1);
		for (size_t i = 0; i <= n; i++)
			url[i] = f[i] == '+' ? '-' : f[i] == '/' ? '_' : f[i];
		if (strcmp(url, f) != 0) {
			s.b64[s.n_b64] = url;
			s.b64_len[s.n_b64++] = n;
		} else {
			free(url);
		}
	}
	first_bytes(m, &s);
	PUSH(m->v, m->n, m->cap, s);
}

bool
mask_empty(const struct mask *m)
{
	return m == NULL || m->n == 0;
}

void
mask_free(struct mask *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		explicit_bzero(m->v[i].v, m->v[i].len);
		free(m->v[i].v);
		for (size_t f = 0; f < m->v[i].n_b64; f++) {
			explicit_bzero(m->v[i].b64[f], m->v[i].b64_len[f]);
			free(m->v[i].b64[f]);
		}
	}
	free(m->v);
	free(m);
}

void
mask_text(const struct mask *m, struct buf *b)
{
	struct buf out = BUF_INIT;

	if (mask_empty(m) || b->len == 0)
		return;
	mask_run(m, b->data, b->len, true, &out);
	if (out.len == b->len && memcmp(out.data, b->data, b->len) == 0) {
		buf_release(&out);
		return;
	}
	explicit_bzero(b->data, b->cap);
	buf_release(b);
	*b = out;
}

void
mask_stream_init(struct mask_stream *s, const struct mask *m)
{
	s->m = m;
	buf_init(&s->held);
}

void
mask_stream_feed(struct mask_stream *s, const char *data, size_t len, struct buf *out)
{
	size_t used;

	if (mask_empty(s->m)) {
		buf_add(out, data, len);
		return;
	}
	buf_add(&s->held, data, len);
	used = mask_run(s->m, s->held.data, s->held.len, false, out);
	buf_consume(&s->held, used);
}

void
mask_stream_finish(struct mask_stream *s, struct buf *out)
{
	if (s->held.len > 0)
		mask_run(s->m, s->held.data, s->held.len, true, out);
	if (s->held.data)
		explicit_bzero(s->held.data, s->held.cap);
	buf_reset(&s->held);
}

void
mask_stream_release(struct mask_stream *s)
{
	if (s->held.data)
		explicit_bzero(s->held.data, s->held.cap);
	buf_release(&s->held);
}
