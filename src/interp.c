#include "interp.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static bool
name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

static bool
all_name_chars(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!name_char(*s))
			return false;
	return true;
}

/*
 * Parse the inside of ${...} (already copied into expr, NUL-terminated,
 * modified in place). Returns NULL on success or a static message.
 */
static const char *
parse_ref(char *expr, struct interp_ref *ref)
{
	char *bar, *p, *end;

	memset(ref, 0, sizeof(*ref));
	bar = strchr(expr, '|');
	if (bar) {
		char *f = bar + 1;
		*bar = '\0';
		while (isspace((unsigned char)*f))
			f++;
		end = f + strlen(f);
		while (end > f && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (strcmp(f, "quote") == 0)
			ref->filter = FILTER_QUOTE;
		else if (strcmp(f, "urlencode") == 0)
			ref->filter = FILTER_URLENCODE;
		else if (strcmp(f, "json") == 0)
			ref->filter = FILTER_JSON;
		else
			return "unknown filter (use |quote, |urlencode or |json)";
	}
	p = expr;
	while (isspace((unsigned char)*p))
		p++;
	end = p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (*p == '\0')
		return "empty reference ${}";
	if (!all_name_chars(p))
		return "invalid character in reference";
	if (strncmp(p, "secrets.", 8) == 0) {
		ref->ns = REF_SECRET;
		ref->name = p + 8;
	} else if (strncmp(p, "env.", 4) == 0) {
		ref->ns = REF_ENV;
		ref->name = p + 4;
	} else if (strncmp(p, "steps.", 6) == 0) {
		char *dot = strrchr(p + 6, '.');
		if (dot == NULL || dot == p + 6 || dot[1] == '\0')
			return "a capture is written ${steps.STEP.CAPTURE}";
		*dot = '\0';
		ref->ns = REF_CAPTURE;
		ref->name = p + 6;
		ref->name2 = dot + 1;
		return NULL;
	} else if (strncmp(p, "probes.", 7) == 0) {
		size_t n = strlen(p);
		if (n <= 7 + 6 || strcmp(p + n - 6, ".value") != 0)
			return "a probe's latest value is written ${probes.NAME.value}";
		p[n - 6] = '\0';
		ref->ns = REF_PROBE;
		ref->name = p + 7;
	} else if (strcmp(p, "run.id") == 0) {
		ref->ns = REF_RUN_ID;
		ref->name = p;
	} else if (strcmp(p, "item") == 0) {
		ref->ns = REF_ITEM;
		ref->name = p;
	} else if (strncmp(p, "item.", 5) == 0) {
		ref->ns = REF_ITEM;
		p[4] = '\0';
		ref->name = p;
		ref->name2 = p + 5;
		if (*ref->name2 == '\0' || strchr(ref->name2, '.'))
			return "a field of a mapping item is written ${item.KEY}";
		return NULL;
	} else if (strncmp(p, "event.", 6) == 0) {
		ref->ns = REF_EVENT;
		ref->name = p + 6;
	} else if (strcmp(p, "host") == 0) {
		ref->ns = REF_HOST;
		ref->name = p;
	} else if (strcmp(p, "host.address") == 0) {
		ref->ns = REF_HOST_ADDR;
		ref->name = p;
	} else if (strcmp(p, "phase") == 0) {
		ref->ns = REF_PHASE;
		ref->name = p;
	} else {
		ref->ns = REF_VAR;
		ref->name = p;
	}
	if (*ref->name == '\0')
		return "empty name in reference";
	return NULL;
}

/*
 * Scan tmpl. For literal text call lit (may be NULL); for references call
 * on_ref; for syntax errors call on_err. Returns -1 if on_ref asked to stop.
 */
struct scan_cb {
	void (*lit)(void *ctx, const char *s, size_t n);
	int (*on_ref)(void *ctx, const struct interp_ref *ref);
	void (*on_err)(void *ctx, size_t off, const char *msg);
	void *ctx;
};

static int
scan(const char *tmpl, const struct scan_cb *cb)
{
	const char *p = tmpl, *start = tmpl;
	struct buf expr = BUF_INIT;
	int rc = 0;

	while (*p) {
		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			if (cb->lit) {
				cb->lit(cb->ctx, start, (size_t)(p - start));
				cb->lit(cb->ctx, "${", 2);
			}
			p += 3;
			start = p;
			continue;
		}
		if (p[0] == '$' && p[1] == '{') {
			const char *close = strchr(p + 2, '}');
			struct interp_ref ref;
			const char *msg;

			if (cb->lit)
				cb->lit(cb->ctx, start, (size_t)(p - start));
			if (close == NULL) {
				if (cb->on_err)
					cb->on_err(cb->ctx, (size_t)(p - tmpl), "unterminated ${ (write $${ for a literal ${)");
				rc = -1;
				break;
			}
			buf_reset(&expr);
			buf_add(&expr, p + 2, (size_t)(close - p - 2));
			msg = parse_ref(expr.data, &ref);
			ref.offset = (size_t)(p - tmpl);
			if (msg) {
				if (cb->on_err)
					cb->on_err(cb->ctx, ref.offset, msg);
				rc = -1;
			} else if (cb->on_ref && cb->on_ref(cb->ctx, &ref) < 0) {
				rc = -1;
				break;
			}
			p = close + 1;
			start = p;
			continue;
		}
		p++;
	}
	if (rc == 0 && cb->lit)
		cb->lit(cb->ctx, start, (size_t)(p - start));
	buf_release(&expr);
	return rc;
}

void
shell_quote(struct buf *out, const char *s)
{
	buf_addc(out, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_adds(out, "'\\''");
		else
			buf_addc(out, *s);
	}
	buf_addc(out, '\'');
}

void
url_encode(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			buf_addc(out, (char)c);
		} else {
			buf_addc(out, '%');
			buf_addc(out, hex[c >> 4]);
			buf_addc(out, hex[c & 15]);
		}
	}
}

/* The length of the well-formed UTF-8 character at p (1-4), or 0. */
static size_t
utf8_len(const unsigned char *p)
{
	size_t k;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		k = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		k = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		k = 4;
	else
		return 0;
	cp = p[0] & (0x7f >> k);
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

void
json_escape(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t k = utf8_len(p);

		switch (*p) {
		case '"': buf_adds(out, "\\\""); break;
		case '\\': buf_adds(out, "\\\\"); break;
		case '\b': buf_adds(out, "\\b"); break;
		case '\f': buf_adds(out, "\\f"); break;
		case '\n': buf_adds(out, "\\n"); break;
		case '\r': buf_adds(out, "\\r"); break;
		case '\t': buf_adds(out, "\\t"); break;
		default:
			if (k == 0)
				buf_adds(out, "\\ufffd");
			else if (*p < 0x20 || *p == 0x7f)
				buf_addf(out, "\\u%04x", *p);
			else
				buf_add(out, p, k);
		}
		p += k ? k : 1;
	}
}

struct expand_ctx {
	interp_lookup_fn lookup;
	void *ctx;
	struct buf *out;
	bool *has_secret;
	char *err;
	size_t err_offset;
};

static void
expand_lit(void *vctx, const char *s, size_t n)
{
	struct expand_ctx *e = vctx;
	buf_add(e->out, s, n);
}

static int
expand_ref(void *vctx, const struct interp_ref *ref)
{
	struct expand_ctx *e = vctx;
	struct buf val = BUF_INIT;
	bool secret = false;
	char *err = NULL;

	if (e->lookup(e->ctx, ref, &val, &secret, &err) < 0) {
		e->err = err ? err : xstrdup("cannot resolve reference");
		e->err_offset = ref->offset;
		buf_release(&val);
		return -1;
	}
	if (secret && e->has_secret)
		*e->has_secret = true;
	switch (ref->filter) {
	case FILTER_QUOTE:
		shell_quote(e->out, buf_str(&val));
		break;
	case FILTER_URLENCODE:
		url_encode(e->out, buf_str(&val));
		break;
	case FILTER_JSON:
		json_escape(e->out, buf_str(&val));
		break;
	case FILTER_NONE:
		buf_add(e->out, buf_str(&val), val.len);
		break;
	}
	buf_release(&val);
	return 0;
}

static void
expand_err(void *vctx, size_t off, const char *msg)
{
	struct expand_ctx *e = vctx;
	if (e->err == NULL) {
		e->err = xstrdup(msg);
		e->err_offset = off;
	}
}

int
interp_expand(const char *tmpl, interp_lookup_fn lookup, void *ctx,
    struct buf *out, bool *has_secret, char **err, size_t *err_offset)
{
	struct expand_ctx e = { lookup, ctx, out, has_secret, NULL, 0 };
	struct scan_cb cb = { expand_lit, expand_ref, expand_err, &e };

	if (scan(tmpl ? tmpl : "", &cb) < 0 || e.err) {
		if (err)
			*err = e.err ? e.err : xstrdup("invalid reference");
		else
			free(e.err);
		if (err_offset)
			*err_offset = e.err_offset;
		return -1;
	}
	return 0;
}

struct walk_ctx {
	interp_visit_fn visit;
	interp_syntax_fn syntax_err;
	void *ctx;
};

static int
walk_ref(void *vctx, const struct interp_ref *ref)
{
	struct walk_ctx *w = vctx;
	if (w->visit)
		w->visit(w->ctx, ref);
	return 0;
}

static void
walk_err(void *vctx, size_t off, const char *msg)
{
	struct walk_ctx *w = vctx;
	if (w->syntax_err)
		w->syntax_err(w->ctx, off, msg);
}

void
interp_walk(const char *tmpl, interp_visit_fn visit, interp_syntax_fn syntax_err, void *ctx)
{
	struct walk_ctx w = { visit, syntax_err, ctx };
	struct scan_cb cb = { NULL, walk_ref, walk_err, &w };

	scan(tmpl ? tmpl : "", &cb);
}

bool
interp_is_single_ref(const char *s, struct interp_ref *ref, struct buf *scratch)
{
	size_t len;
	const char *close;

	if (s == NULL)
		return false;
	while (isspace((unsigned char)*s))
		s++;
	if (strncmp(s, "${", 2) != 0)
		return false;
	close = strchr(s, '}');
	if (close == NULL)
		return false;
	len = strlen(close + 1);
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)close[1 + i]))
			return false;
	buf_reset(scratch);
	buf_add(scratch, s + 2, (size_t)(close - s - 2));
	if (parse_ref(scratch->data, ref) != NULL)
		return false;
	ref->offset = 0;
	return true;
}
