#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

void
diags_add(struct diags *d, const char *file, int line, int col, const char *fmt, ...)
{
	struct diag dg;
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	dg.file = xstrdup(file ? file : "-");
	dg.line = line;
	dg.col = col;
	dg.msg = buf_detach(&b);
	PUSH(d->v, d->n, d->cap, dg);
}

static int
diag_cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;
	int c = strcmp(x->file, y->file);

	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return 0;
}

void
diags_sort(struct diags *d)
{
	/* insertion sort: stable, and the lists are short */
	for (size_t i = 1; i < d->n; i++) {
		struct diag t = d->v[i];
		size_t j = i;
		while (j > 0 && diag_cmp(&d->v[j - 1], &t) > 0) {
			d->v[j] = d->v[j - 1];
			j--;
		}
		d->v[j] = t;
	}
}

size_t
diag_line_break(const char *s, size_t len, size_t i)
{
	const unsigned char *u = (const unsigned char *)s;

	if (i >= len)
		return 0;
	if (u[i] == '\n')
		return 1;
	if (u[i] == '\r')
		return i + 1 < len && u[i + 1] == '\n' ? 2 : 1;
	if (u[i] == 0xC2 && i + 1 < len && u[i + 1] == 0x85)
		return 2;
	if (u[i] == 0xE2 && i + 2 < len && u[i + 1] == 0x80 && (u[i + 2] == 0xA8 || u[i + 2] == 0xA9))
		return 3;
	return 0;
}

/* Find line number `line` (1-based) of src; return its start and length. */
static const char *
find_line(const char *src, int line, size_t *len)
{
	size_t n = strlen(src), i = 0;

	for (int l = 1; l < line; l++) {
		while (i < n && diag_line_break(src, n, i) == 0)
			i++;
		if (i >= n)
			return NULL;
		i += diag_line_break(src, n, i);
	}
	if (i >= n)
		return NULL;
	*len = 0;
	while (i + *len < n && diag_line_break(src, n, i + *len) == 0)
		(*len)++;
	return src + i;
}

void
diags_print(const struct diags *d, const char *src, FILE *fp, int color)
{
	const char *bold = color ? "\033[1m" : "";
	const char *red = color ? "\033[1;31m" : "";
	const char *green = color ? "\033[32m" : "";
	const char *reset = color ? "\033[0m" : "";

	for (size_t i = 0; i < d->n; i++) {
		const struct diag *dg = &d->v[i];
		const char *line;
		size_t len = 0;

		if (dg->line > 0)
			fprintf(fp, "%s%s:%d:%d:%s %s%s%s\n", bold, dg->file,
			    dg->line, dg->col > 0 ? dg->col : 1, reset, red, dg->msg, reset);
		else
			fprintf(fp, "%s%s:%s %s%s%s\n", bold, dg->file, reset,
			    red, dg->msg, reset);
		if (src == NULL || dg->line <= 0)
			continue;
		line = find_line(src, dg->line, &len);
		if (line == NULL)
			continue;
		if (len > 200)
			len = 200;
		fprintf(fp, "  %.*s\n  ", (int)len, line);
		for (int c = 1; c < dg->col && (size_t)c <= len; c++)
			fputc(line[c - 1] == '\t' ? '\t' : ' ', fp);
		fprintf(fp, "%s^%s\n", green, reset);
	}
}

void
diags_truncate(struct diags *d, size_t n)
{
	while (d->n > n) {
		d->n--;
		free(d->v[d->n].file);
		free(d->v[d->n].msg);
	}
}

void
diags_release(struct diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
}
