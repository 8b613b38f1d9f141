/*
 * engine-units.c - a run's units: expanding steps into (item, host)
 * units, the selection (--phase/--from/--to), interpolation in a unit's
 * scope, and the preflight that refuses what this build cannot run.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-private.h"
#include "gate.h"
#include "http-client.h"
#include "interp.h"
#include "regex.h"
#include "runlog.h"
#include "util.h"

struct target {
	const char *name;
	const char *address;
};

/* The hosts a step on `on` runs on: (name, address) pairs, in order. */
static size_t
expand_targets(const struct runbook *rb, const char *on, struct target **out)
{
	const struct host *h;
	struct target *t = NULL;
	size_t n = 0, cap = 0;

	if (on == NULL || strcmp(on, "local") == 0) {
		struct target lt = { "local", "localhost" };
		PUSH(t, n, cap, lt);
		*out = t;
		return n;
	}
	if ((h = runbook_host(rb, on)) == NULL) {
		/* a Host of ~/.ssh/config: validation checked the name; engine-target.c resolves it */
		struct target x = { on, on };
		PUSH(t, n, cap, x);
		*out = t;
		return n;
	}
	if (h->n_addresses > 0) {
		for (size_t i = 0; i < h->n_addresses; i++) {
			struct target x = { h->addresses[i].s, h->addresses[i].s };
			PUSH(t, n, cap, x);
		}
	} else if (h->n_members > 0) {
		for (size_t i = 0; i < h->n_members; i++) {
			const struct host *m = runbook_host(rb, h->members[i]);
			struct target x = { h->members[i], m && m->address.s ? m->address.s : h->members[i] };
			PUSH(t, n, cap, x);
		}
	} else {
		struct target x = { h->name, h->address.s ? h->address.s : h->name };
		PUSH(t, n, cap, x);
	}
	*out = t;
	return n;
}

/* The items of a step's for:, as strings; NULL list (n 0) when it has none. */
static const struct value *
step_items(const struct runbook *rb, const struct step *s)
{
	struct interp_ref ref;
	struct buf scratch = BUF_INIT;
	const struct value *v = NULL;

	if (!s->has_for)
		return NULL;
	if (s->for_ref.s == NULL)
		return &s->for_list;
	if (interp_is_single_ref(s->for_ref.s, &ref, &scratch) && ref.ns == REF_VAR)
		v = value_get(&rb->vars, ref.name);
	buf_release(&scratch);
	return v && v->type == VAL_LIST ? v : NULL;
}

/* The text shown for an item: its value, or a mapping's first field's. */
static const char *
item_display(const struct value *it)
{
	if (it == NULL)
		return NULL;
	if (it->type == VAL_MAP)
		return it->n > 0 && it->items[0].type == VAL_STR ? it->items[0].str : "";
	return it->type == VAL_STR ? it->str : "";
}

/*
 * The step's timeout, pause and retry for unit u, with the fields written
 * ${item} / ${item.KEY} resolved from u's item (the loader checked that
 * every item gives a valid value).
 */
static void
unit_values(const struct runbook *rb, struct unit *u)
{
	const struct step *s = u->step;
	struct buf scratch = BUF_INIT;

	u->timeout_ms = s->timeout_ms;
	u->pause_ms = s->pause_ms;
	u->retry = s->retry;
	for (size_t i = 0; u->item_value && i < rb->n_numrefs; i++) {
		const struct numref *nr = &rb->numrefs[i];
		struct interp_ref ref;
		const char *v;
		void *out = NULL;

		if (nr->step != s || !nr->per_unit || !interp_is_single_ref(nr->ref.s, &ref, &scratch))
			continue;
		v = item_field(u->item_value, ref.name2);
		if (nr->target == &s->timeout_ms)
			out = &u->timeout_ms;
		else if (nr->target == &s->pause_ms)
			out = &u->pause_ms;
		else if (nr->target == &s->retry.attempts)
			out = &u->retry.attempts;
		else if (nr->target == &s->retry.interval_ms)
			out = &u->retry.interval_ms;
		if (v && out)
			(void)numref_parse(nr, v, out);
	}
	buf_release(&scratch);
}

static void
add_unit(struct run *run, size_t *cap, const struct step *s, const struct value *item,
    size_t item_index, const struct target *t, bool many_hosts)
{
	struct unit u;
	struct buf key = BUF_INIT;
	bool has_item = item != NULL;

	memset(&u, 0, sizeof(u));
	u.step = s;
	u.index = run->n_units;
	u.item = has_item ? xstrdup(item_display(item)) : NULL;
	u.item_value = item;
	u.item_index = item_index;
	unit_values(run->rb, &u);
	u.host = xstrdup(t->name);
	u.address = xstrdup(t->address);
	u.exit_code = -1;
	buf_adds(&key, s->name);
	if (has_item)
		buf_addf(&key, "[%zu]", item_index);
	if (many_hosts || strcmp(t->name, "local") != 0)
		buf_addf(&key, "@%s", t->name);
	u.key = buf_detach(&key);
	unit_display_name(&key, s->name, u.item, t->name);
	if (strcmp(buf_str(&key), u.key) == 0) {
		u.name = u.key;
		buf_release(&key);
	} else {
		u.name = buf_detach(&key);
	}
	PUSH(run->units, run->n_units, *cap, u);
}

static void
expand_units(struct run *run)
{
	const struct runbook *rb = run->rb;
	size_t cap = 0;

	/* Count first, so that the array is allocated once, at its size. */
	for (size_t p = 0; p < rb->n_phases; p++) {
		for (size_t i = 0; i < rb->phases[p].n_steps; i++) {
			const struct step *s = &rb->phases[p].steps[i];
			const struct value *items = step_items(rb, s);
			struct target *t = NULL;
			bool hostless = s->action.kind == ACT_PAUSE || s->action.kind == ACT_GATE;

			cap += expand_targets(rb, hostless ? NULL : s->on, &t) * (items ? items->n : 1);
			free(t);
		}
	}
	run->units = xcalloc(cap + 1, sizeof(*run->units));
	cap++;
	for (size_t p = 0; p < rb->n_phases; p++) {
		for (size_t i = 0; i < rb->phases[p].n_steps; i++) {
			const struct step *s = &rb->phases[p].steps[i];
			const struct value *items = step_items(rb, s);
			struct target *t = NULL;
			size_t nt;
			bool hostless = s->action.kind == ACT_PAUSE || s->action.kind == ACT_GATE;

			nt = expand_targets(rb, hostless ? NULL : s->on, &t);
			if (items == NULL) {
				for (size_t h = 0; h < nt; h++)
					add_unit(run, &cap, s, NULL, 0, &t[h], nt > 1);
			} else {
				for (size_t k = 0; k < items->n; k++)
					for (size_t h = 0; h < nt; h++)
						add_unit(run, &cap, s, &items->items[k], k, &t[h], nt > 1);
			}
			free(t);
		}
	}
}

static int
select_units(struct run *run, char **err)
{
	const struct runbook *rb = run->rb;
	const struct engine_opts *o = run->opts;
	const struct step *from = NULL, *to = NULL;

	for (size_t i = 0; i < o->n_phases; i++) {
		if (runbook_phase(rb, o->phases[i]) == NULL) {
			*err = xasprintf("unknown phase '%s' (--phase)", o->phases[i]);
			return -1;
		}
	}
	if (o->from && (from = runbook_step(rb, o->from)) == NULL) {
		*err = xasprintf("unknown step '%s' (--from)", o->from);
		return -1;
	}
	if (o->to && (to = runbook_step(rb, o->to)) == NULL) {
		*err = xasprintf("unknown step '%s' (--to)", o->to);
		return -1;
	}
	if (from && to && from->index > to->index) {
		*err = xasprintf("--from '%s' comes after --to '%s'", o->from, o->to);
		return -1;
	}
	for (size_t i = 0; i < run->n_units; i++) {
		struct unit *u = &run->units[i];
		bool sel = true;
		if (o->n_phases) {
			sel = false;
			for (size_t k = 0; k < o->n_phases; k++)
				if (strcmp(o->phases[k], u->step->phase->name) == 0)
					sel = true;
		}
		if (from && u->step->index < from->index)
			sel = false;
		if (to && u->step->index > to->index)
			sel = false;
		u->selected = sel;
		u->state = sel ? UNIT_PENDING : UNIT_SKIPPED;
		run->step_selected[u->step->index] |= sel;
	}
	return 0;
}

struct run *
run_create(const struct runbook *rb, const struct engine_opts *opts, const char *run_id, char **err)
{
	struct run *run = xcalloc(1, sizeof(*run));

	run->rb = rb;
	run->opts = opts;
	run->id = xstrdup(run_id ? run_id : RUN_ID_NONE);
	run->outcome = OUTCOME_RUNNING;
	pthread_mutex_init(&run->lock, NULL);
	pthread_mutex_init(&run->cap_lock, NULL);
	pthread_mutex_init(&run->clock_lock, NULL);
	run->phase_work_before = xcalloc(rb->n_phases + 1, sizeof(*run->phase_work_before));
	events_init(run);
	run->root = cancel_new(NULL);
	run->cancel = cancel_new(run->root);
	run->exec = exec_ctx_new(&(struct exec_ctx_opts){
		.accept_new_host_keys = opts->accept_new_host_keys,
		.test_local_hosts = opts->test_local_hosts,
	});
	expand_units(run);
	run->unit_keys = strmap_create(run->n_units);
	run->step_selected = xcalloc(rb->n_steps + 1, sizeof(*run->step_selected));
	for (size_t i = 0; i < run->n_units; i++)
		strmap_put(run->unit_keys, run->units[i].key, i);
	if (select_units(run, err) < 0) {
		run_free(run);
		return NULL;
	}
	return run;
}

static void
captures_free(struct capture_val *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].step);
		free(c[i].name);
		free(c[i].value);
	}
	free(c);
}

void
run_free(struct run *run)
{
	if (run == NULL)
		return;
	targets_free(run);
	for (size_t i = 0; i < run->n_units; i++) {
		struct unit *u = &run->units[i];
		if (u->name != u->key)
			free(u->name);
		free(u->key);
		free(u->item);
		free(u->host);
		free(u->address);
		free(u->message);
		free(u->rb_message);
		buf_release(&u->tail);
		buf_release(&u->rb_tail);
		probe_sample_free(u->result);
	}
	for (size_t i = 0; i < run->n_samples; i++)
		probe_sample_free(run->samples[i]);
	free(run->samples);
	free(run->pending_hold);
	free(run->units);
	strmap_free(run->unit_keys);
	free(run->step_selected);
	free(run->completed);
	captures_free(run->captures, run->n_captures);
	for (size_t i = 0; i < run->n_capture_keys; i++) {
		free(run->capture_keys[i].key);
		free(run->capture_keys[i].at);
	}
	free(run->capture_keys);
	strmap_free(run->capture_index);
	secrets_release(&run->secrets);
	free(run->failure);
	exec_ctx_free(run->exec);
	events_free(run);
	cancel_free(run->cancel);
	cancel_free(run->root);
	free(run->listeners);
	for (size_t i = 0; i < run->n_approved_gates; i++)
		free(run->approved_gates[i]);
	free(run->approved_gates);
	gate_approvals_free(run);
	free(run->record_error);
	free(run->id);
	pthread_mutex_destroy(&run->lock);
	pthread_mutex_destroy(&run->cap_lock);
	pthread_mutex_destroy(&run->clock_lock);
	free(run->phase_work_before);
	free(run);
}

void
run_set_id(struct run *run, const char *run_id)
{
	free(run->id);
	run->id = xstrdup(run_id);
}

void
run_add_listener(struct run *run, void (*on_event)(void *, const struct event *), void *ctx)
{
	struct listener l = { on_event, ctx };
	PUSH(run->listeners, run->n_listeners, run->cap_listeners, l);
}

struct unit *
run_unit_by_key(struct run *run, const char *key)
{
	size_t i = strmap_get(run->unit_keys, key);

	return i == STRMAP_NONE ? NULL : &run->units[i];
}

void
run_mark_completed(struct run *run, struct unit *u)
{
	PUSH(run->completed, run->n_completed, run->cap_completed, u);
}

/* The index key of (step, name). */
static void
capture_key(struct buf *b, const char *step, const char *name)
{
	buf_reset(b);
	buf_addf(b, "%s\x1f%s", step, name);
}

void
run_set_capture(struct run *run, const char *step, const char *name, const char *value)
{
	struct capture_val c = { xstrdup(step), xstrdup(name), xstrdup(value) };
	struct buf key = BUF_INIT;
	size_t k;

	capture_key(&key, step, name);
	pthread_mutex_lock(&run->cap_lock);
	if (run->capture_index == NULL)
		run->capture_index = strmap_create(16);
	k = strmap_get(run->capture_index, key.data);
	if (k == STRMAP_NONE) {
		struct capture_key ck = { buf_detach(&key), NULL, 0, 0 };
		k = run->n_capture_keys;
		PUSH(run->capture_keys, run->n_capture_keys, run->cap_capture_keys, ck);
		strmap_put(run->capture_index, run->capture_keys[k].key, k);
	}
	PUSH(run->capture_keys[k].at, run->capture_keys[k].n, run->capture_keys[k].cap, run->n_captures);
	PUSH(run->captures, run->n_captures, run->cap_captures, c);
	pthread_mutex_unlock(&run->cap_lock);
	buf_release(&key);
}

const char *
run_capture_at(const struct run *run, const char *step, const char *name, size_t upto)
{
	struct buf key = BUF_INIT;
	const struct capture_key *ck;
	size_t k, lo = 0, hi;

	if (run->capture_index == NULL)
		return NULL;
	capture_key(&key, step, name);
	k = strmap_get(run->capture_index, key.data);
	buf_release(&key);
	if (k == STRMAP_NONE)
		return NULL;
	ck = &run->capture_keys[k];
	/* the last entry before upto (entries are in increasing order) */
	hi = ck->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ck->at[mid] < upto)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 ? NULL : run->captures[ck->at[lo - 1]].value;
}

void
run_record_failed(const struct run *crun, const char *msg)
{
	struct run *run = (struct run *)crun;   /* listeners see the run as const */

	if (run->record_error == NULL)
		run->record_error = xstrdup(msg);
	cancel_fire(run->cancel, NULL);
}

/* ---- interpolation in a unit's scope ---- */

struct scope {
	const struct run *run;
	const struct unit *unit;
	bool plan;
	const char *const *event;   /* notify hooks: kind, phase, step, text, run_id */
};

static int
scope_lookup(void *vctx, const struct interp_ref *ref, struct buf *out, bool *secret, char **err)
{
	const struct scope *sc = vctx;
	const struct run *run = sc->run;
	const struct unit *u = sc->unit;
	const char *v = NULL;
	const struct value *val;

	switch (ref->ns) {
	case REF_VAR:
		val = value_get(&run->rb->vars, ref->name);
		if (val == NULL) {
			*err = xasprintf("undefined variable '%s'", ref->name);
			return -1;
		}
		if (val->type != VAL_STR) {
			*err = xasprintf("variable '%s' is a %s, not a string", ref->name,
			    val->type == VAL_LIST ? "list" : "mapping");
			return -1;
		}
		v = val->str;
		break;
	case REF_SECRET:
		*secret = true;
		if (sc->plan) {
			v = SECRET_MASK;
			break;
		}
		v = secrets_get(&run->secrets, ref->name);
		if (v == NULL) {
			*err = xasprintf("undefined secret '%s'", ref->name);
			return -1;
		}
		break;
	case REF_ENV:
		v = getenv(ref->name);
		if (v == NULL) {
			if (sc->plan) {
				buf_addf(out, "${env.%s}", ref->name);
				return 0;
			}
			*err = xasprintf("environment variable '%s' is not set", ref->name);
			return -1;
		}
		break;
	case REF_ITEM:
		if (u == NULL || u->item_value == NULL) {
			*err = xstrdup("${item} is only defined in a step with for:");
			return -1;
		}
		v = item_field(u->item_value, ref->name2);
		if (v == NULL) {
			*err = ref->name2 ? xasprintf("the item has no field '%s'", ref->name2)
			    : xstrdup("the item is a mapping: write ${item.KEY}");
			return -1;
		}
		break;
	case REF_EVENT:
		if (sc->event) {
			static const char *const names[] = { "kind", "phase", "step", "text", "run_id" };
			for (size_t i = 0; i < ARRAY_LEN(names); i++)
				if (strcmp(ref->name, names[i]) == 0)
					v = sc->event[i] ? sc->event[i] : "";
			if (v)
				break;
		}
		if (sc->plan) {
			buf_addf(out, "${event.%s}", ref->name);
			return 0;
		}
		*err = xasprintf("${event.%s} is only defined in a notify hook", ref->name);
		return -1;
	case REF_HOST:
		v = u ? u->host : "local";
		break;
	case REF_HOST_ADDR:
		v = u ? u->address : "localhost";
		break;
	case REF_CAPTURE:
		if (u && u->captures_at) {
			struct run *mrun = (struct run *)run;   /* only its lock is touched */
			pthread_mutex_lock(&mrun->cap_lock);
			v = run_capture_at(run, ref->name, ref->name2, u->captures_at);
			if (v)
				buf_adds(out, v);
			pthread_mutex_unlock(&mrun->cap_lock);
			if (v)
				return 0;
		}
		if (v == NULL) {
			struct run *mrun = (struct run *)run;   /* only its lock is touched */
			pthread_mutex_lock(&mrun->cap_lock);
			v = run_capture_at(run, ref->name, ref->name2, SIZE_MAX);
			if (v)
				buf_adds(out, v);
			pthread_mutex_unlock(&mrun->cap_lock);
			if (v)
				return 0;
		}
		if (v == NULL) {
			if (sc->plan) {
				buf_addf(out, "${steps.%s.%s}", ref->name, ref->name2);
				return 0;
			}
			*err = xasprintf("capture '%s' of step '%s' has no value (the step did not run in this run)",
			    ref->name2, ref->name);
			return -1;
		}
		break;
	case REF_RUN_ID:
		v = sc->plan ? "${run.id}" : run->id;
		break;
	case REF_PROBE:
		if (!run_probe_value((struct run *)run, ref->name, out)) {
			if (sc->plan) {
				buf_addf(out, "${probes.%s.value}", ref->name);
				return 0;
			}
			*err = xasprintf("probe '%s' has no value yet (it has not run in this run, or found no data)",
			    ref->name);
			return -1;
		}
		return 0;
	case REF_PHASE:
		v = u ? u->step->phase->name : run->phase ? run->phase->name : "";
		break;
	}
	buf_adds(out, v);
	return 0;
}

int
run_expand(const struct run *run, const struct unit *unit, const struct text *t,
    bool plan, struct buf *out, char **err)
{
	return run_expand_event(run, unit, t, plan, NULL, out, err);
}

int
run_expand_event(const struct run *run, const struct unit *unit, const struct text *t, bool plan,
    const char *const *event, struct buf *out, char **err)
{
	struct scope sc = { run, unit, plan, event };
	char *e = NULL;

	if (t->s == NULL)
		return 0;
	if (interp_expand(t->s, scope_lookup, &sc, out, NULL, &e, NULL) < 0) {
		*err = secrets_masked(&run->secrets, e);
		free(e);
		return -1;
	}
	return 0;
}

/* Lookup for patterns: the value, escaped as literal regex text. */
static int
regex_literal_lookup(void *vctx, const struct interp_ref *ref, struct buf *out, bool *secret, char **err)
{
	struct buf v = BUF_INIT;
	int rc = scope_lookup(vctx, ref, &v, secret, err);

	for (size_t i = 0; rc == 0 && i < v.len; i++) {
		char c = v.data[i];
		if (strchr("\\^$.|?*+()[]{}#-/", c) && c != '\0')
			buf_addc(out, '\\');
		buf_addc(out, c);
	}
	buf_release(&v);
	return rc;
}

/* re, with its references replaced; re itself when it has none; NULL with why set on failure. */
static struct regex *
expand_pattern(const struct run *run, const struct unit *unit, struct regex *re, const char *what, struct buf *why)
{
	struct scope sc = { run, unit, false, NULL };
	struct buf pat = BUF_INIT;
	char *e = NULL;
	struct regex *out;

	if (re == NULL || strstr(regex_pattern(re), "${") == NULL)
		return re;
	if (interp_expand(regex_pattern(re), regex_literal_lookup, &sc, &pat, NULL, &e, NULL) < 0) {
		char *m = secrets_masked(&run->secrets, e);
		buf_addf(why, "expect %s: %s", what, m);
		free(m);
		free(e);
		buf_release(&pat);
		return NULL;
	}
	out = regex_compile(buf_str(&pat), &e);
	if (out == NULL) {
		buf_addf(why, "expect %s: %s", what, e ? e : "does not compile");
		free(e);
	}
	buf_release(&pat);
	return out;
}

const struct expect *
run_expect(const struct run *run, const struct unit *unit, const struct expect *e,
    struct expect *copy, struct buf *why)
{
	static const struct { size_t off; const char *what; } pats[] = {
		{ offsetof(struct expect, out_re), "stdout" },
		{ offsetof(struct expect, err_re), "stderr" },
		{ offsetof(struct expect, not_out_re), "not_stdout" },
		{ offsetof(struct expect, not_err_re), "not_stderr" },
		{ offsetof(struct expect, body_re), "body" },
		{ offsetof(struct expect, not_body_re), "not_body" },
		{ offsetof(struct expect, value_re), "value.regex" },
	};
	bool any = false;

	for (size_t i = 0; i < ARRAY_LEN(pats); i++) {
		const struct regex *re = *(struct regex *const *)((const char *)e + pats[i].off);
		if (re && strstr(regex_pattern(re), "${"))
			any = true;
	}
	if (!any)
		return e;
	*copy = *e;
	for (size_t i = 0; i < ARRAY_LEN(pats); i++) {
		struct regex **slot = (struct regex **)((char *)copy + pats[i].off);
		struct regex *re = expand_pattern(run, unit, *slot, pats[i].what, why);
		if (re == NULL && *slot != NULL) {
			/* free what this copy compiled so far */
			for (size_t k = 0; k < i; k++) {
				struct regex **done = (struct regex **)((char *)copy + pats[k].off);
				if (*done != *(struct regex *const *)((const char *)e + pats[k].off))
					regex_free(*done);
			}
			return NULL;
		}
		*slot = re;
	}
	return copy;
}

void
run_expect_release(const struct expect *e, const struct expect *used)
{
	if (used == NULL || used == e)
		return;
	if (used->out_re != e->out_re) regex_free(used->out_re);
	if (used->err_re != e->err_re) regex_free(used->err_re);
	if (used->not_out_re != e->not_out_re) regex_free(used->not_out_re);
	if (used->not_err_re != e->not_err_re) regex_free(used->not_err_re);
	if (used->body_re != e->body_re) regex_free(used->body_re);
	if (used->not_body_re != e->not_body_re) regex_free(used->not_body_re);
	if (used->value_re != e->value_re) regex_free(used->value_re);
}

/* ---- preflight ---- */

struct preflight {
	const struct run *run;
	struct diags *diags;
	bool curl_refused;       /* libcurl cannot be loaded: said once */
};

static void
not_available(struct preflight *pf, struct pos pos, const char *what)
{
	diags_add(pf->diags, pf->run->rb->file, pos.line, pos.col,
	    "%s: not available in this release (nothing was run)", what);
}

static bool
is_local(const char *on)
{
	return on == NULL || strcmp(on, "local") == 0;
}

/* Refuse an action no registered executor can run (exec.h), before anything runs. */
static void
check_action(struct preflight *pf, const struct action *a, const char *on, struct pos on_pos, const char *who)
{
	char what[160];

	switch (a->kind) {
	case ACT_NONE:
	case ACT_PAUSE:
	case ACT_GATE:
	case ACT_PROBE:
		return;   /* not actions of an executor */
	case ACT_HTTP:
	case ACT_PROMETHEUS: {
		char *err = NULL;
		/* libcurl is opened on first use: here, so a missing one stops the run before it starts */
		if (!pf->curl_refused && http_client_ready(&err) < 0) {
			pf->curl_refused = true;
			diags_add(pf->diags, pf->run->rb->file, a->pos.line, a->pos.col, "%s %s: %s (nothing was run)",
			    who, a->kind == ACT_HTTP ? "(http)" : "(prometheus)", err);
		}
		free(err);
		break;
	}
	default:
		break;
	}
	if (exec_available(pf->run->exec, a->kind, !is_local(on)))
		return;
	switch (a->kind) {
	case ACT_UPLOAD:
	case ACT_DOWNLOAD:
		snprintf(what, sizeof(what), "%s %s (SFTP)", a->kind == ACT_UPLOAD ? "upload" : "download", who);
		not_available(pf, a->pos, what);
		return;
	default:
		snprintf(what, sizeof(what), "%s on host '%s' (SSH)", who, on);
		not_available(pf, on_pos.line ? on_pos : a->pos, what);
		return;
	}
}

static void
check_env_ref(void *vctx, const struct interp_ref *ref)
{
	void **pair = vctx;
	struct preflight *pf = pair[0];
	const struct text *t = pair[1];

	if (ref->ns == REF_ENV && getenv(ref->name) == NULL) {
		int col = t->pos.col;
		if (t->col_exact)
			col += t->col_shift + (int)ref->offset;
		diags_add(pf->diags, pf->run->rb->file, t->pos.line, col,
		    "environment variable '%s' is not set", ref->name);
	}
}

static void
check_text(void *vctx, const struct text *t, const struct step *step, const char *field)
{
	void *pair[2] = { vctx, (void *)t };
	struct preflight *pf = vctx;

	if (step && !step_selected(pf->run, step))
		return;
	interp_walk(t->s, check_env_ref, NULL, pair);
}

bool
step_selected(const struct run *run, const struct step *s)
{
	return s->index < run->rb->n_steps && run->step_selected[s->index];
}

int
engine_preflight(const struct run *run, struct diags *diags)
{
	const struct runbook *rb = run->rb;
	struct preflight pf = { run, diags, false };
	size_t before = diags->n;

	for (size_t i = 0; i < rb->n_probes; i++) {
		const struct probe *p = &rb->probes[i];
		char who[160];
		snprintf(who, sizeof(who), "probe '%s'", p->name);
		check_action(&pf, &p->action, p->on, p->on_pos, who);
	}
	for (size_t p = 0; p < rb->n_phases; p++) {
		for (size_t i = 0; i < rb->phases[p].n_steps; i++) {
			const struct step *s = &rb->phases[p].steps[i];
			char who[160];
			if (!step_selected(run, s))
				continue;
			snprintf(who, sizeof(who), "step '%s'", s->name);
			check_action(&pf, &s->action, s->on, s->on_pos, who);
			if (s->action.kind == ACT_PROBE && s->action.probe_inline)
				check_action(&pf, &s->action.probe_inline->action,
				    s->action.probe_inline->on, s->action.probe_inline->on_pos, who);
			if (s->check_inline)
				check_action(&pf, &s->check_inline->action, s->check_inline->on,
				    s->check_inline->on_pos, who);
			if (s->rollback) {
				snprintf(who, sizeof(who), "rollback of step '%s'", s->name);
				check_action(&pf, &s->rollback->action,
				    s->rollback->on ? s->rollback->on : s->on,
				    s->rollback->on ? s->rollback->on_pos : s->on_pos, who);
			}
		}
	}
	runbook_foreach_text(rb, check_text, &pf);
	return diags->n > before ? -1 : 0;
}
