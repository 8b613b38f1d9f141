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

/* Find line number `line` (1-based) of src; return its start and length. */
static const char *
find_line(const char *src, int line, size_t *len)
{
	const char *p = src;

	for (int i = 1; i < line && p; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (p == NULL || *p == '\0')
		return NULL;
	*len = strcspn(p, "\n");
	if (*len > 0 && p[*len - 1] == '\r')
		(*len)--;
	return p;
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
