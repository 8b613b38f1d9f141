/* http-action.c - building the request of an http: or prometheus: action (see http-action.h). */
#include "http-action.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "interp.h"
#include "sha256.h"
#include "util.h"

char *
http_idempotency_key(const char *run_id, const char *unit_key, const char *purpose)
{
	struct buf b = BUF_INIT;
	char hex[SHA256_HEX_SIZE];
	char *key;

	buf_adds(&b, unit_key);
	buf_addc(&b, '\n');
	buf_adds(&b, purpose);
	sha256_hex(b.data, b.len, hex);
	key = xasprintf("%s-%.32s", run_id, hex);
	buf_release(&b);
	return key;
}

/* Read a body_file whole (bounded). */
static int
read_body_file(const char *path, struct buf *out, char **err)
{
	FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;

	if (f == NULL) {
		*err = xasprintf("cannot read body_file '%s': %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (out->len + n > HTTP_BODY_FILE_MAX) {
			fclose(f);
			*err = xasprintf("body_file '%s' is larger than %zu MiB", path, HTTP_BODY_FILE_MAX >> 20);
			return -1;
		}
		buf_add(out, chunk, n);
	}
	if (ferror(f)) {
		*err = xasprintf("cannot read body_file '%s': %s", path, strerror(errno));
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static void
push_header(struct http_call *c, char *line)
{
	c->headers = xrealloc(c->headers, (c->n_headers + 2) * sizeof(*c->headers));
	c->headers[c->n_headers++] = line;
	c->headers[c->n_headers] = NULL;
}

/* BASE/api/v1/query?query=Q, Q percent-encoded. */
static int
prometheus_url(struct http_call *c, const struct http_req *h, http_expand_fn expand, void *ctx, char **err)
{
	struct buf q = BUF_INIT;

	if (expand(ctx, &h->url, &c->url, err) < 0 || expand(ctx, &h->query, &q, err) < 0) {
		buf_release(&q);
		return -1;
	}
	while (c->url.len > 0 && c->url.data[c->url.len - 1] == '/')
		c->url.data[--c->url.len] = '\0';
	buf_adds(&c->url, "/api/v1/query?query=");
	url_encode(&c->url, buf_str(&q));
	buf_release(&q);
	return 0;
}

int
http_call_build(struct http_call *c, const struct action *a, http_expand_fn expand, void *ctx,
    const char *idempotency_key, char **err)
{
	const struct http_req *h = a->http;
	const char *method = h->method.s ? h->method.s : "GET";
	bool has_key = false;

	memset(c, 0, sizeof(*c));
	if (a->kind == ACT_PROMETHEUS) {
		if (prometheus_url(c, h, expand, ctx, err) < 0)
			return -1;
	} else if (expand(ctx, &h->url, &c->url, err) < 0) {
		return -1;
	}
	for (size_t i = 0; i < h->n_headers; i++) {
		struct buf v = BUF_INIT;
		if (expand(ctx, &h->headers[i].value, &v, err) < 0) {
			buf_release(&v);
			return -1;
		}
		if (memchr(v.data ? v.data : "", '\r', v.len) || memchr(v.data ? v.data : "", '\n', v.len) ||
		    memchr(v.data ? v.data : "", '\0', v.len)) {
			*err = xasprintf("header '%s' contains a line break (CR or LF) once expanded", h->headers[i].key);
			buf_release(&v);
			return -1;
		}
		if (strcasecmp(h->headers[i].key, "Idempotency-Key") == 0)
			has_key = true;
		/* "Name:" alone makes curl drop a header; "Name;" sends it empty */
		push_header(c, v.len ? xasprintf("%s: %s", h->headers[i].key, buf_str(&v))
		    : xasprintf("%s;", h->headers[i].key));
		buf_release(&v);
	}
	if (idempotency_key && !has_key && http_method_changes_state(method))
		push_header(c, xasprintf("Idempotency-Key: %s", idempotency_key));
	if (h->body.s) {
		if (expand(ctx, &h->body, &c->body, err) < 0)
			return -1;
		c->req.body = c->body.data ? c->body.data : "";
		c->req.body_len = c->body.len;
	} else if (h->body_file.s) {
		struct buf path = BUF_INIT;
		int rc = expand(ctx, &h->body_file, &path, err);
		if (rc == 0)
			rc = read_body_file(buf_str(&path), &c->body, err);
		buf_release(&path);
		if (rc < 0)
			return -1;
		c->req.body = c->body.data ? c->body.data : "";
		c->req.body_len = c->body.len;
	}
	if (h->ca_cert.s) {
		if (expand(ctx, &h->ca_cert, &c->ca_cert, err) < 0)
			return -1;
		c->req.ca_cert = buf_str(&c->ca_cert);
	}
	c->req.method = method;
	c->req.url = buf_str(&c->url);
	c->req.headers = (const char *const *)c->headers;
	c->req.insecure = h->insecure;
	c->req.follow = h->follow;
	return 0;
}

void
http_call_release(struct http_call *c)
{
	for (size_t i = 0; i < c->n_headers; i++) {
		explicit_bzero(c->headers[i], strlen(c->headers[i]));
		free(c->headers[i]);
	}
	free(c->headers);
	if (c->body.data)
		explicit_bzero(c->body.data, c->body.cap);
	buf_release(&c->url);
	buf_release(&c->body);
	buf_release(&c->ca_cert);
	memset(c, 0, sizeof(*c));
}
