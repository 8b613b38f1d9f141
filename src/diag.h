/*
 * diag.h - runbook diagnostics: FILE:LINE:COL: message.
 *
 * Modules that check input append to a struct diags and return; only
 * command files print them. Lines and columns are 1-based; 0 means
 * unknown (then only FILE: message is printed).
 */
#ifndef MIGRATE_DIAG_H
#define MIGRATE_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct diag {
	char *file;
	int line;
	int col;
	char *msg;
};

struct diags {
	struct diag *v;
	size_t n;
	size_t cap;
};

#define DIAGS_INIT { NULL, 0, 0 }

void diags_add(struct diags *d, const char *file, int line, int col,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Sort by file, line, column (stable) so output reads top to bottom. */
void diags_sort(struct diags *d);
/*
 * Print every diagnostic as "file:line:col: message", followed by the
 * source line and a caret under the column. src is the file's text (may be
 * NULL; then only the first line is printed). color adds bold/red.
 */
void diags_print(const struct diags *d, const char *src, FILE *fp, int color);
void diags_release(struct diags *d);
/* Drop the diagnostics after the first n (those added since d->n was n). */
void diags_truncate(struct diags *d, size_t n);

/*
 * Length of the line break that starts at s[i] (s has len bytes), counted
 * as libyaml counts them, so that line numbers agree with its marks: "\r\n"
 * (2), "\n" or a lone "\r" (1), NEL U+0085 (2), LS U+2028 and PS U+2029 (3).
 * 0 when s[i] starts no line break.
 */
size_t diag_line_break(const char *s, size_t len, size_t i);

#endif
