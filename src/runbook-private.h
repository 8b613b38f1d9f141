/*
 * runbook-private.h - shared between the runbook loader (runbook-load.c),
 * its semantic checks (runbook-check.c) and the data model (runbook.c).
 * Nothing outside those three files includes this.
 */
#ifndef MIGRATE_RUNBOOK_PRIVATE_H
#define MIGRATE_RUNBOOK_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "runbook.h"

/* Stop collecting after this many errors in one file. */
#define MAX_ERRORS 200

/*
 * While parsing, a retry field that was not written holds one of these, so
 * that runbook_check() can fill it field by field from defaults: and then
 * from the built-in defaults.
 */
#define RETRY_UNSET_INT (-1)
#define RETRY_UNSET_MS ((int64_t)-1)
#define RETRY_UNSET_NUM (-1.0)

/*
 * Where diagnostics of one file go. Identical diagnostics (same place, same
 * message) are reported once: values copied from defaults: into every step
 * would otherwise repeat their error per step.
 */
struct report {
	const char *file;
	struct diags *diags;
	size_t n;            /* errors reported through this report */
};

void report_at(struct report *r, struct pos p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * "Did you mean" over any set of names: feed each candidate to
 * suggest_try(), then suggest_hint() gives " (did you mean 'x'?)" or "".
 */
struct suggest {
	const char *word;
	const char *best;
	int dist;
};

void suggest_init(struct suggest *s, const char *word);
void suggest_try(struct suggest *s, const char *cand);
const char *suggest_hint(struct suggest *s, struct buf *scratch);

/* The model's constructors and destructors (runbook.c). */
void retry_unset(struct retry *r);
void expect_init(struct expect *e);
void action_init(struct action *a);
void probe_init(struct probe *p);
void step_init(struct step *s);
void rollback_init(struct rollback *rb);
void host_init(struct host *h);
void text_release(struct text *t);
void text_copy(struct text *dst, const struct text *src);
void kv_release(struct kv *kv, size_t n);
void action_release(struct action *a);
void expect_release(struct expect *e);
void probe_release(struct probe *p);
void rollback_free(struct rollback *rb);
void step_release(struct step *s);
void gate_cfg_free(struct gate_cfg *g);

/* Name of an action kind as written in a runbook: "run", "http", ... */
const char *action_kind_name(enum action_kind kind);

/*
 * Apply --var/--vars overrides, then defaults:, then check every reference
 * (hosts, probes, steps, ${...}) of a parsed runbook (runbook-check.c).
 */
void runbook_apply_overrides(struct runbook *rb, const struct var_override *ov,
    size_t n, struct report *r);
void runbook_check(struct runbook *rb, struct report *r);

#endif
