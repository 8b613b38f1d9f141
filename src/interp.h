/*
 * interp.h - ${...} interpolation (SPEC §2).
 *
 * Syntax: ${name} (vars), ${secrets.name}, ${env.NAME}, ${item}, ${host},
 * ${host.address}, ${steps.STEP.CAPTURE}, ${run.id}, ${phase}, ${item.KEY},
 * ${event.FIELD}; a filter may follow: ${name|quote} (shell single-quoting),
 * ${name|urlencode} or ${name|json} (the inside of a JSON string).
 * $${ is a literal ${. A lone $ not followed by { is literal.
 *
 * The module knows nothing of runbooks or engines: callers resolve names
 * through a callback, both at load time (to check that every name exists)
 * and at run time (to produce the value).
 */
#ifndef MIGRATE_INTERP_H
#define MIGRATE_INTERP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum ref_ns {
	REF_VAR,      /* ${name} */
	REF_SECRET,   /* ${secrets.name} */
	REF_ENV,      /* ${env.NAME} */
	REF_ITEM,     /* ${item}, or ${item.KEY} (name2 = KEY) */
	REF_HOST,     /* ${host} */
	REF_HOST_ADDR,/* ${host.address} */
	REF_CAPTURE,  /* ${steps.STEP.CAPTURE} */
	REF_RUN_ID,   /* ${run.id} */
	REF_PHASE,    /* ${phase} */
	REF_PROBE,    /* ${probes.NAME.value} */
	REF_EVENT,    /* ${event.FIELD} in a notify hook (name = FIELD) */
};

enum ref_filter { FILTER_NONE, FILTER_QUOTE, FILTER_URLENCODE, FILTER_JSON };

struct interp_ref {
	enum ref_ns ns;
	const char *name;   /* var/secret/env name, or the STEP of a capture */
	const char *name2;  /* the CAPTURE of a capture, else NULL */
	enum ref_filter filter;
	size_t offset;      /* byte offset of "${" in the template */
};

/*
 * Resolve one reference: append its value to out and return 0, or return -1
 * and set *err (malloc'ed) to say why (unknown name, not a string, ...).
 * When secret is non-NULL set *secret = true if the value is secret.
 */
typedef int (*interp_lookup_fn)(void *ctx, const struct interp_ref *ref,
    struct buf *out, bool *secret, char **err);

/*
 * Expand tmpl into out (appended). For each reference the lookup is called;
 * filters are applied by this module. On the first error returns -1 with
 * *err set (malloc'ed) and *err_offset the offset of the bad reference.
 * *has_secret (may be NULL) becomes true if any expanded value was secret.
 */
int interp_expand(const char *tmpl, interp_lookup_fn lookup, void *ctx,
    struct buf *out, bool *has_secret, char **err, size_t *err_offset);

/*
 * Walk every reference of tmpl, calling visit for each (for load-time
 * checks). Syntax errors (unterminated ${, unknown filter, bad name) are
 * reported through syntax_err (offset, message) and walking continues.
 */
typedef void (*interp_visit_fn)(void *ctx, const struct interp_ref *ref);
typedef void (*interp_syntax_fn)(void *ctx, size_t offset, const char *msg);
void interp_walk(const char *tmpl, interp_visit_fn visit, interp_syntax_fn syntax_err, void *ctx);

/* Is s exactly one ${ref} and nothing else? If so, fill *ref (names point into scratch). */
bool interp_is_single_ref(const char *s, struct interp_ref *ref, struct buf *scratch);

/* Shell single-quote s: 'it'\''s'. */
void shell_quote(struct buf *out, const char *s);
/* Percent-encode everything but unreserved characters (RFC 3986). */
void url_encode(struct buf *out, const char *s);
/*
 * Escape s as the inside of a JSON string (RFC 8259), without the quotes:
 * " and \ backslashed, control characters as \b \f \n \r \t or \u00XX,
 * DEL as \u007f, valid UTF-8 kept as is, a byte that is not UTF-8 as \ufffd.
 */
void json_escape(struct buf *out, const char *s);

#endif
