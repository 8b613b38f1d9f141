/*
 * rollout-check.c - the preflight of rollout control (SPEC §7): the parts
 * of it a runbook uses that this build cannot run yet are refused before
 * anything runs, each at its position, rather than silently ignored.
 * Each check goes away as its engine part lands.
 */
#include "rollout.h"

#include <stdio.h>

#include "engine.h"

static void
refuse(struct diags *d, const struct runbook *rb, struct pos pos, const char *what)
{
	diags_add(d, rb->file, pos.line, pos.col, "%s: not available in this release (nothing was run)", what);
}

static bool
bound_relative(const struct expect *e)
{
	const struct bounds *b = e->bounds;

	return b && (b->below.probe || b->above.probe || b->equals.probe || b->at_most.probe ||
	    b->at_least.probe);
}

/* A step's own expect: relative bounds work in probes (after, check, verify, watch, probe steps) only. */
static void
check_expect(struct diags *d, const struct runbook *rb, const struct expect *e, struct pos pos)
{
	if (bound_relative(e))
		refuse(d, rb, e->pos.line ? e->pos : pos,
		    "a bound relative to a baseline probe in a step's or rollback's own expect (a probe's expect takes it)");
}

int
rollout_preflight(const struct run *run, struct diags *d)
{
	const struct runbook *rb = run->rb;
	size_t before = d->n;

	for (size_t p = 0; p < rb->n_phases; p++) {
		const struct phase *ph = &rb->phases[p];
		for (size_t i = 0; i < ph->n_steps; i++) {
			const struct step *s = &ph->steps[i];
			if (!step_selected(run, s))
				continue;
			check_expect(d, rb, &s->expect, s->pos);
			if (s->rollback)
				check_expect(d, rb, &s->rollback->expect, s->rollback->pos);
		}
	}
	return d->n > before ? -1 : 0;
}
