/*
 * runbook-check.c - what the loader checks once the whole runbook is
 * parsed: --var overrides, defaults: applied into every step, names that
 * refer to hosts, probes and steps, `for:` lists, and every ${...}.
 *
 * Lookups go through sorted indexes so that a large runbook costs
 * n log n, not n squared.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssh-config.h"
#include "buf.h"
#include "interp.h"
#include "runbook-private.h"
#include "strmap.h"
#include "util.h"

/* Longest chain of via: jump hosts followed. */
#define MAX_VIA_HOPS 16

struct entry {
	const char *name;
	uint64_t head;           /* its first 8 bytes, big-endian, NUL-padded: orders as strcmp */
	size_t order;
	const void *ptr;
	struct pos pos;
};

struct index {
	struct entry *v;
	size_t n, cap;
};

/* Names compare by their heads first: most differ there, and the sort
 * then does not read each name's text (10,000 steps: 73,000 compares). */
static int
name_cmp(const struct entry *x, const struct entry *y)
{
	if (x->head != y->head)
		return x->head < y->head ? -1 : 1;
	return (x->head & 0xFF) == 0 ? 0 : strcmp(x->name, y->name);
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = name_cmp(x, y);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void
index_add(struct index *ix, const char *name, const void *ptr, struct pos pos)
{
	struct entry e = { name, 0, ix->n, ptr, pos };

	if (name == NULL)
		return;
	for (size_t i = 0; i < 8; i++) {
		e.head <<= 8;
		if (name[i] == '\0') {
			e.head <<= 8 * (7 - i);
			break;
		}
		e.head |= (unsigned char)name[i];
	}
	PUSH(ix->v, ix->n, ix->cap, e);
}

/*
 * Sort; report names given twice as "duplicate <what> name 'x' (first at
 * L:C)" when what is not NULL.
 */
static void
index_sort(struct index *ix, struct report *r, const char *what)
{
	if (ix->n > 1)
		qsort(ix->v, ix->n, sizeof(*ix->v), entry_cmp);
	for (size_t i = 1, first = 0; what && i < ix->n; i++) {
		if (name_cmp(&ix->v[i], &ix->v[first]) != 0) {
			first = i;
			continue;
		}
		report_at(r, ix->v[i].pos, "duplicate %s name '%s' (first at %d:%d)", what,
		    ix->v[i].name, ix->v[first].pos.line, ix->v[first].pos.col);
	}
}

/* The first definition of name, or NULL. */
static const void *
index_find(const struct index *ix, const char *name)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ix->v[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ix->n && strcmp(ix->v[lo].name, name) == 0 ? ix->v[lo].ptr : NULL;
}

static const char *
index_hint(const struct index *ix, const char *name, struct buf *scratch)
{
	struct suggest sg;

	suggest_init(&sg, name);
	for (size_t i = 0; i < ix->n; i++)
		suggest_try(&sg, ix->v[i].name);
	return suggest_hint(&sg, scratch);
}

struct checker {
	struct runbook *rb;
	struct report *r;
	struct index steps, phases, probes, hosts, secrets, vars;
	struct buf hint, parts, single;
	/* the text being checked by check_text() */
	const struct text *text;
	const struct step *step;
	const char *field;
};

/* --- overrides and defaults --- */

void
runbook_apply_overrides(struct runbook *rb, const struct var_override *ov, size_t n,
    struct report *r)
{
	struct buf hint = BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		const char *origin = ov[i].origin ? ov[i].origin : "--var";
		size_t k;

		for (k = 0; k < rb->vars.n; k++)
			if (strcmp(rb->vars.keys[k], ov[i].name) == 0)
				break;
		if (k < rb->vars.n) {
			value_release(&rb->vars.items[k]);
			value_copy(&rb->vars.items[k], &ov[i].value);
			continue;
		}
		{
			struct suggest sg;
			suggest_init(&sg, ov[i].name);
			for (k = 0; k < rb->vars.n; k++)
				suggest_try(&sg, rb->vars.keys[k]);
			diags_add(r->diags, origin, 0, 0, "'%s' is not declared in vars: of %s%s",
			    ov[i].name, r->file, suggest_hint(&sg, &hint));
			r->n++;
		}
	}
	buf_release(&hint);
}

/* Fill the fields of r that were not written: from `from` if it has them, else built in. */
static void
retry_fill(struct retry *r, const struct retry *from)
{
	const struct retry builtin = { 1, DEFAULT_RETRY_INTERVAL_MS, 1.0, 0, 0.0 };

	if (from == NULL)
		from = &builtin;
	if (r->attempts == RETRY_UNSET_INT)
		r->attempts = from->attempts != RETRY_UNSET_INT ? from->attempts : builtin.attempts;
	if (r->interval_ms == RETRY_UNSET_MS)
		r->interval_ms = from->interval_ms != RETRY_UNSET_MS ? from->interval_ms : builtin.interval_ms;
	if (r->backoff == RETRY_UNSET_NUM)
		r->backoff = from->backoff != RETRY_UNSET_NUM ? from->backoff : builtin.backoff;
	if (r->max_interval_ms == RETRY_UNSET_MS)
		r->max_interval_ms = from->max_interval_ms != RETRY_UNSET_MS ?
		    from->max_interval_ms : builtin.max_interval_ms;
	if (r->jitter == RETRY_UNSET_NUM)
		r->jitter = from->jitter != RETRY_UNSET_NUM ? from->jitter : builtin.jitter;
}

static void
probe_defaults(struct probe *p)
{
	if (p == NULL)
		return;
	if (p->timeout_ms == 0)
		p->timeout_ms = DEFAULT_PROBE_TIMEOUT_MS;
	retry_fill(&p->retry, NULL);
}

/* env: of defaults: first, then the step's own (which win on the same name). */
static void
env_merge(struct step *s, const struct defaults *d)
{
	struct kv *env = xcalloc(s->n_env + d->n_env, sizeof(*env));
	size_t n = 0;

	for (size_t i = 0; i < d->n_env; i++) {
		size_t j;
		for (j = 0; j < s->n_env; j++)
			if (strcmp(s->env[j].key, d->env[i].key) == 0)
				break;
		if (j < s->n_env)
			continue;
		env[n].key = xstrdup(d->env[i].key);
		env[n].key_pos = d->env[i].key_pos;
		text_copy(&env[n].value, &d->env[i].value);
		n++;
	}
	if (s->n_env)
		memcpy(env + n, s->env, s->n_env * sizeof(*env));
	free(s->env);
	s->env = env;
	s->n_env += n;
}

/*
 * Make every step's on, timeout, retry, sudo, env and workdir the values
 * it runs with. Gate and pause steps run on local and take no defaults.
 */
static void
apply_defaults(struct runbook *rb)
{
	const struct defaults *d = &rb->defaults;

	for (size_t i = 0; i < rb->n_phases; i++) {
		for (size_t j = 0; j < rb->phases[i].n_steps; j++) {
			struct step *s = &rb->phases[i].steps[j];
			bool alone = s->action.kind == ACT_GATE || s->action.kind == ACT_PAUSE;

			if (s->on == NULL && d->on && !alone) {
				s->on = xstrdup(d->on);
				s->on_pos = d->on_pos;
			} else if (s->on == NULL) {
				s->on = xstrdup("local");
				s->on_pos = s->pos;
			}
			if (s->timeout_ms == 0)
				s->timeout_ms = d->timeout_ms ? d->timeout_ms : DEFAULT_STEP_TIMEOUT_MS;
			retry_fill(&s->retry, d->has_retry ? &d->retry : NULL);
			probe_defaults(s->action.probe_inline);
			probe_defaults(s->check_inline);
			if (s->rollback)
				retry_fill(&s->rollback->retry, NULL);
			if (alone)
				continue;
			if (s->sudo < 0)
				s->sudo = d->sudo;
			if (d->n_env)
				env_merge(s, d);
			if (s->workdir.s == NULL && d->workdir.s)
				text_copy(&s->workdir, &d->workdir);
		}
	}
	for (size_t i = 0; i < rb->n_probes; i++)
		probe_defaults(&rb->probes[i]);
}

/* --- names --- */

static void
build_indexes(struct checker *c)
{
	struct runbook *rb = c->rb;
	size_t index = 0;

	for (size_t i = 0; i < rb->n_phases; i++) {
		struct phase *ph = &rb->phases[i];
		index_add(&c->phases, ph->name, ph, ph->pos);
		for (size_t j = 0; j < ph->n_steps; j++) {
			struct step *s = &ph->steps[j];
			s->phase = ph;
			s->index = index++;
			index_add(&c->steps, s->name, s, s->pos);
		}
	}
	rb->n_steps = index;
	for (size_t i = 0; i < rb->n_probes; i++)
		index_add(&c->probes, rb->probes[i].name, &rb->probes[i], rb->probes[i].pos);
	for (size_t i = 0; i < rb->n_hosts; i++)
		index_add(&c->hosts, rb->hosts[i].name, &rb->hosts[i], rb->hosts[i].pos);
	for (size_t i = 0; i < rb->n_secrets; i++)
		index_add(&c->secrets, rb->secrets[i].name, &rb->secrets[i], rb->secrets[i].pos);
	for (size_t i = 0; i < rb->vars.n; i++)
		index_add(&c->vars, rb->vars.keys[i], &rb->vars.items[i], rb->vars.items[i].pos);
	index_sort(&c->steps, c->r, "step");
	index_sort(&c->phases, c->r, "phase");
	/* the others are mapping keys: duplicates were reported by the loader */
	index_sort(&c->probes, c->r, NULL);
	index_sort(&c->hosts, c->r, NULL);
	index_sort(&c->secrets, c->r, NULL);
	index_sort(&c->vars, c->r, NULL);
}

static bool
host_is_group(const struct host *h)
{
	return h->n_addresses > 0 || h->n_members > 0;
}

static const struct host *
find_host(struct checker *c, const char *name, struct pos pos, const char *field)
{
	const struct host *h = index_find(&c->hosts, name);
	struct ssh_config_host sc;
	const char *hint;

	if (h)
		return h;
	if (ssh_config_lookup(NULL, name, &sc)) {
		/* a Host of ~/.ssh/config (SPEC §5) */
		ssh_config_host_release(&sc);
		return NULL;
	}
	hint = index_hint(&c->hosts, name, &c->hint);
	if (*hint)
		report_at(c->r, pos, "unknown host '%s' in '%s'%s", name, field, hint);
	else
		report_at(c->r, pos, "unknown host '%s' in '%s': it is not in hosts: "
		    "nor a Host of ~/.ssh/config", name, field);
	return NULL;
}

/* on: names local, a host or a group. */
static void
check_on(struct checker *c, const char *name, struct pos pos)
{
	if (name && strcmp(name, "local") != 0)
		find_host(c, name, pos, "on");
}

static void
check_via(struct checker *c, const struct host *h)
{
	const struct host *t;
	int hops = 0;

	if (h->via == NULL)
		return;
	if (strcmp(h->via, "local") == 0) {
		report_at(c->r, h->via_pos, "'via' cannot be 'local'");
		return;
	}
	t = find_host(c, h->via, h->via_pos, "via");
	if (t && host_is_group(t)) {
		report_at(c->r, h->via_pos, "'via' must name a single host, but '%s' is a group", t->name);
		return;
	}
	while (t && t != h && ++hops <= MAX_VIA_HOPS)
		t = t->via ? index_find(&c->hosts, t->via) : NULL;
	if (t == h)
		report_at(c->r, h->via_pos, "the 'via' jump hosts of '%s' lead back to '%s'", h->name, h->name);
	else if (hops > MAX_VIA_HOPS)
		report_at(c->r, h->via_pos, "the 'via' chain of '%s' is longer than %d jump hosts",
		    h->name, MAX_VIA_HOPS);
}

static void
check_hosts(struct checker *c)
{
	for (size_t i = 0; i < c->rb->n_hosts; i++) {
		const struct host *h = &c->rb->hosts[i];
		/* members seen, to find one listed twice in linear time (16,000 members: 0.6 s by pairs) */
		struct strmap *seen = h->n_members > 1 ? strmap_create(h->n_members) : NULL;

		check_via(c, h);
		for (size_t j = 0; j < h->n_members; j++) {
			const struct host *m;
			if (strcmp(h->members[j], "local") == 0) {
				report_at(c->r, h->member_pos[j], "'local' cannot be a member of a group");
				continue;
			}
			m = find_host(c, h->members[j], h->member_pos[j], "hosts");
			if (m && host_is_group(m))
				report_at(c->r, h->member_pos[j], "group '%s' cannot contain group '%s'",
				    h->name, m->name);
			if (seen && strmap_get(seen, h->members[j]) != STRMAP_NONE)
				report_at(c->r, h->member_pos[j], "host '%s' is listed twice in group '%s'",
				    h->members[j], h->name);
			else if (seen)
				strmap_put(seen, h->members[j], j);
		}
		strmap_free(seen);
	}
}

static const struct probe *
find_probe(struct checker *c, const char *name, struct pos pos)
{
	const struct probe *p = index_find(&c->probes, name);

	if (p == NULL)
		report_at(c->r, pos, "unknown probe '%s'%s", name, index_hint(&c->probes, name, &c->hint));
	return p;
}

static void
resolve_refs(struct checker *c, struct probe_ref *refs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (refs[i].name)
			refs[i].probe = find_probe(c, refs[i].name, refs[i].pos);
}

/* upload/download go over SFTP: they need a remote host. */
static void
check_transfer(struct checker *c, const struct action *a, const char *on, const struct step *s)
{
	if ((a->kind == ACT_UPLOAD || a->kind == ACT_DOWNLOAD) && on && strcmp(on, "local") == 0)
		report_at(c->r, a->pos, "'%s' needs a remote host (it uses SFTP), but step '%s' runs on 'local'",
		    action_kind_name(a->kind), s->name ? s->name : "?");
}

static void
check_step_names(struct checker *c, struct step *s)
{
	struct action *a = &s->action;

	check_on(c, s->on, s->on_pos);
	check_transfer(c, a, s->on, s);
	if (a->kind == ACT_PROBE && a->probe_name)
		a->probe = find_probe(c, a->probe_name, a->pos);
	if (a->probe_inline)
		check_on(c, a->probe_inline->on, a->probe_inline->on_pos);
	if (s->check.name)
		s->check.probe = find_probe(c, s->check.name, s->check.pos);
	if (s->check_inline)
		check_on(c, s->check_inline->on, s->check_inline->on_pos);
	resolve_refs(c, s->after, s->n_after);
	if (s->rollback) {
		check_on(c, s->rollback->on, s->rollback->on_pos);
		check_transfer(c, &s->rollback->action, s->rollback->on ? s->rollback->on : s->on, s);
		if (s->rollback->once && !s->has_for)
			report_at(c->r, s->rollback->once_pos, "'once: true' is for the rollback of a step with "
			    "'for:' (one rollback per host for all its items); step '%s' has no 'for:'", s->name);
	}
}

/* --- variables --- */

enum var_status { VAR_OK, VAR_UNDEFINED, VAR_NOT_MAP };

/*
 * Find ${a.b.c}: var a, then key b of its mapping, then c. On VAR_NOT_MAP
 * *at is the part that is not a mapping.
 */
static enum var_status
lookup_var(struct checker *c, const char *name, const struct value **out, struct buf *at)
{
	const struct value *v;
	char *part, *dot;

	buf_reset(&c->parts);
	buf_adds(&c->parts, name);
	part = c->parts.data;
	dot = strchr(part, '.');
	if (dot)
		*dot = '\0';
	v = index_find(&c->vars, part);
	while (v && dot) {
		if (v->type != VAL_MAP) {
			buf_reset(at);
			buf_add(at, name, (size_t)(dot - c->parts.data));
			return VAR_NOT_MAP;
		}
		part = dot + 1;
		dot = strchr(part, '.');
		if (dot)
			*dot = '\0';
		v = value_get(v, part);
	}
	*out = v;
	return v ? VAR_OK : VAR_UNDEFINED;
}

static const char *
value_type_name(enum value_type t)
{
	return t == VAL_LIST ? "list" : t == VAL_MAP ? "mapping" : "string";
}

/* Report a var that cannot be found; hint only for an unknown first part. */
static void
report_var(struct checker *c, struct pos pos, const char *name, enum var_status st,
    const struct buf *at, const char *field)
{
	if (st == VAR_NOT_MAP) {
		report_at(c->r, pos, "undefined variable '%s' in '%s' ('%s' is not a mapping)",
		    name, field, at->data);
		return;
	}
	report_at(c->r, pos, "undefined variable '%s' in '%s'%s", name, field,
	    strchr(name, '.') ? "" : index_hint(&c->vars, name, &c->hint));
}

static void
check_for(struct checker *c, const struct step *s)
{
	struct interp_ref ref;
	const struct value *v = NULL;
	struct buf at = BUF_INIT;
	enum var_status st;

	if (!s->has_for || s->for_ref.s == NULL)
		return;
	if (!interp_is_single_ref(s->for_ref.s, &ref, &c->single) || ref.ns != REF_VAR ||
	    ref.filter != FILTER_NONE) {
		report_at(c->r, s->for_ref.pos, "'for' must be a list or a single ${var} naming a list");
		return;
	}
	st = lookup_var(c, ref.name, &v, &at);
	if (st != VAR_OK)
		report_var(c, s->for_ref.pos, ref.name, st, &at, "for");
	else if (v->type != VAL_LIST)
		report_at(c->r, s->for_ref.pos, "'for' needs a list, but variable '%s' is a %s",
		    ref.name, value_type_name(v->type));
	else
		for (size_t i = 0; i < v->n; i++) {
			const struct value *it = &v->items[i];
			size_t k = 0;

			while (it->type == VAL_MAP && k < it->n && it->items[k].type == VAL_STR)
				k++;
			if (it->type == VAL_STR || (it->type == VAL_MAP && it->n > 0 && k == it->n))
				continue;
			/* say which item, and for a mapping which field, is not plain */
			if (it->type != VAL_MAP)
				report_at(c->r, s->for_ref.pos, "'for' needs a list of plain values or mappings of "
				    "plain values, but item %zu of variable '%s' is a %s", i + 1, ref.name,
				    value_type_name(it->type));
			else if (it->n == 0)
				report_at(c->r, s->for_ref.pos, "'for' needs a list of plain values or mappings of "
				    "plain values, but item %zu of variable '%s' is an empty mapping", i + 1, ref.name);
			else
				report_at(c->r, s->for_ref.pos, "'for' needs a list of plain values or mappings of "
				    "plain values, but field '%s' of item %zu of variable '%s' is a %s", it->keys[k],
				    i + 1, ref.name, value_type_name(it->items[k].type));
			break;
		}
	buf_release(&at);
}

/* --- rollout control (SPEC §7) --- */

/* The items of a step's for: (a literal list or a var naming one); NULL: none known. */
static const struct value *
items_of(struct checker *c, const struct step *s)
{
	struct interp_ref ref;
	const struct value *v = NULL;
	struct buf at = BUF_INIT;

	if (!s->has_for)
		return NULL;
	if (s->for_ref.s == NULL)
		return &s->for_list;
	if (interp_is_single_ref(s->for_ref.s, &ref, &c->single) && ref.ns == REF_VAR &&
	    lookup_var(c, ref.name, &v, &at) == VAR_OK && v->type == VAL_LIST)
		;
	else
		v = NULL;
	buf_release(&at);
	return v;
}

/* "item 2 of 'for' ({pct: 10, ...})": names an item in messages. */
static const char *
item_name(struct checker *c, const struct value *items, size_t i)
{
	const struct value *it = &items->items[i];

	buf_reset(&c->hint);
	buf_addf(&c->hint, "item %zu of 'for'", i + 1);
	if (it->type == VAL_MAP && it->n > 0 && it->items[0].type == VAL_STR)
		buf_addf(&c->hint, " (%s: %s%s)", it->keys[0], it->items[0].str, it->n > 1 ? ", ..." : "");
	else if (it->type == VAL_STR)
		buf_addf(&c->hint, " (%s)", it->str);
	return c->hint.data;
}

/* ${item} / ${item.KEY} in field: every item must have what it names. */
static void
check_item_ref(struct checker *c, const struct interp_ref *ref, struct pos pos, const char *field)
{
	const struct value *items = items_of(c, c->step);

	for (size_t i = 0; items && i < items->n; i++) {
		const struct value *it = &items->items[i];
		if (ref->name2 == NULL && it->type == VAL_MAP) {
			report_at(c->r, pos, "${item} in '%s' is a mapping for %s: write ${item.KEY}",
			    field, item_name(c, items, i));
			return;
		}
		if (ref->name2 && it->type != VAL_MAP) {
			report_at(c->r, it->pos, "%s is not a mapping, but '%s' uses ${item.%s}",
			    item_name(c, items, i), field, ref->name2);
			continue;
		}
		if (ref->name2 && value_get(it, ref->name2) == NULL)
			report_at(c->r, it->pos, "%s has no key '%s' (used by ${item.%s} in '%s')",
			    item_name(c, items, i), ref->name2, ref->name2, field);
	}
}

/* May the engine resolve this field per unit? (A step's own timeout, pause, retry.) */
static bool
per_unit_field(const struct numref *nr)
{
	struct step *s = nr->step;

	return s && (nr->target == &s->timeout_ms || nr->target == &s->pause_ms ||
	    nr->target == &s->retry.attempts || nr->target == &s->retry.interval_ms);
}

/*
 * Fields written as one ${...}: one naming vars gets its value now (before
 * defaults: are copied into the steps); one naming the item is checked
 * against every item, the engine resolving it per unit.
 */
static void
resolve_numrefs(struct checker *c)
{
	struct runbook *rb = c->rb;
	struct buf at = BUF_INIT;

	for (size_t i = 0; i < rb->n_numrefs; i++) {
		struct numref *nr = &rb->numrefs[i];
		struct interp_ref ref;
		const struct value *v = NULL;
		const char *want;
		enum var_status st;

		if (!interp_is_single_ref(nr->ref.s, &ref, &c->single))
			continue;
		if (ref.filter != FILTER_NONE) {
			report_at(c->r, nr->ref.pos, "'%s' takes a plain ${...} reference, without a filter", nr->field);
			continue;
		}
		if (ref.ns == REF_ITEM) {
			if (nr->step == NULL || !nr->step->has_for)
				report_at(c->r, nr->ref.pos, "${item} in '%s' is only defined in a step with 'for:'",
				    nr->field);
			else if (!per_unit_field(nr))
				report_at(c->r, nr->ref.pos, "'%s' cannot name the item here: per item, only a "
				    "step's timeout, pause, retry.attempts and retry.interval are resolved "
				    "(not available in this release elsewhere)", nr->field);
			continue;
		}
		if (ref.ns != REF_VAR) {
			report_at(c->r, nr->ref.pos, "'%s' can refer to vars or to the item, not to '%s'",
			    nr->field, nr->ref.s);
			continue;
		}
		st = lookup_var(c, ref.name, &v, &at);
		if (st != VAR_OK) {
			report_var(c, nr->ref.pos, ref.name, st, &at, nr->field);
			continue;
		}
		if (v->type != VAL_STR) {
			report_at(c->r, nr->ref.pos, "'%s' is %s, a %s variable", nr->field, nr->ref.s,
			    value_type_name(v->type));
			continue;
		}
		want = numref_parse(nr, v->str, nr->target);
		if (want)
			report_at(c->r, nr->ref.pos, "'%s' is %s = '%s', which is not %s", nr->field,
			    nr->ref.s, v->str, want);
	}
	buf_release(&at);
}

/* Per-item fields: every item's value must have the field's type. */
static void
check_item_numrefs(struct checker *c)
{
	struct runbook *rb = c->rb;

	for (size_t i = 0; i < rb->n_numrefs; i++) {
		const struct numref *nr = &rb->numrefs[i];
		struct interp_ref ref;
		const struct value *items;

		if (!nr->per_unit || !per_unit_field(nr) || !nr->step->has_for ||
		    !interp_is_single_ref(nr->ref.s, &ref, &c->single))
			continue;
		items = items_of(c, nr->step);
		for (size_t k = 0; items && k < items->n; k++) {
			const struct value *it = &items->items[k];
			const struct value *fv = ref.name2 ? value_get(it, ref.name2) : it;
			union { int64_t ms; int n; } out;
			const char *want;

			if (fv == NULL || fv->type != VAL_STR)
				continue;   /* reported by check_item_ref() */
			want = numref_parse(nr, fv->str, &out);
			if (want)
				report_at(c->r, fv->pos, "'%s' of step '%s' is %s = '%s' for %s, which is "
				    "not %s", nr->field, nr->step->name ? nr->step->name : "?", nr->ref.s,
				    fv->str, item_name(c, items, k), want);
		}
	}
}

/* Every baseline probe of an expect: must exist (and is not the probe itself). */
static void
check_baselines(struct checker *c, struct expect *e)
{
	struct bounds *bd = e->bounds;

	if (bd == NULL)
		return;
	struct bound *b[] = { &bd->below, &bd->above, &bd->equals, &bd->at_most, &bd->at_least };
	for (size_t i = 0; i < ARRAY_LEN(b); i++)
		if (b[i]->probe)
			b[i]->base = find_probe(c, b[i]->probe, b[i]->probe_pos);
}

static void
check_gate_cfg(struct checker *c, struct gate_cfg *g)
{
	if (g)
		resolve_refs(c, g->show, g->n_show);
}

static void
check_rollout(struct checker *c)
{
	struct runbook *rb = c->rb;

	resolve_refs(c, rb->watch.probes, rb->watch.n_probes);
	resolve_refs(c, rb->verify_rollback, rb->n_verify_rollback);
	if (rb->watch.from) {
		rb->watch.from_phase = index_find(&c->phases, rb->watch.from);
		if (rb->watch.from_phase == NULL)
			report_at(c->r, rb->watch.from_pos, "'from' names no phase: '%s'%s", rb->watch.from,
			    index_hint(&c->phases, rb->watch.from, &c->hint));
	} else if (rb->watch.set && rb->n_phases) {
		rb->watch.from_phase = &rb->phases[0];
	}
	if (rb->not_before.set && rb->not_after.set && rb->not_after.epoch_ms <= rb->not_before.epoch_ms)
		report_at(c->r, rb->not_after.pos, "'not_after' (%s) is not later than 'not_before' (%s)",
		    rb->not_after.text, rb->not_before.text);
	for (size_t i = 0; i < rb->n_probes; i++)
		check_baselines(c, &rb->probes[i].expect);
	for (size_t i = 0; i < rb->n_phases; i++) {
		struct phase *ph = &rb->phases[i];
		check_gate_cfg(c, ph->gate_cfg);
		if (ph->not_before.set && ph->not_after.set && ph->not_after.epoch_ms <= ph->not_before.epoch_ms)
			report_at(c->r, ph->not_after.pos, "'not_after' (%s) is not later than 'not_before' (%s)",
			    ph->not_after.text, ph->not_before.text);
		for (size_t j = 0; j < ph->n_steps; j++) {
			struct step *s = &ph->steps[j];
			check_gate_cfg(c, s->action.gate_cfg);
			check_baselines(c, &s->expect);
			if (s->action.probe_inline)
				check_baselines(c, &s->action.probe_inline->expect);
			if (s->check_inline)
				check_baselines(c, &s->check_inline->expect);
			if (s->rollback)
				check_baselines(c, &s->rollback->expect);
		}
	}
	check_item_numrefs(c);
}

/* --- ${...} in every text --- */

/* Where the reference at offset of text t is (the text's start when its columns are not exact). */
static struct pos
text_pos(const struct text *t, size_t offset)
{
	struct pos p = t->pos;

	if (t->col_exact)
		p.col += t->col_shift + (int)offset;
	return p;
}

static struct pos
ref_pos(const struct checker *c, size_t offset)
{
	return text_pos(c->text, offset);
}

static void
check_capture_ref(struct checker *c, const struct interp_ref *ref, struct pos pos)
{
	const struct step *s = index_find(&c->steps, ref->name);
	struct suggest sg;
	size_t i;

	if (s == NULL) {
		report_at(c->r, pos, "unknown step '%s' in ${steps.%s.%s}%s", ref->name, ref->name,
		    ref->name2, index_hint(&c->steps, ref->name, &c->hint));
		return;
	}
	suggest_init(&sg, ref->name2);
	for (i = 0; i < s->n_captures; i++) {
		if (strcmp(s->captures[i].name, ref->name2) == 0)
			break;
		suggest_try(&sg, s->captures[i].name);
	}
	if (i == s->n_captures)
		report_at(c->r, pos, "step '%s' has no capture '%s'%s", ref->name, ref->name2,
		    suggest_hint(&sg, &c->hint));
	else if (c->step && s->index > c->step->index)
		report_at(c->r, pos, "capture '%s' of step '%s' is not available in step '%s', which "
		    "runs before it", ref->name2, ref->name, c->step->name ? c->step->name : "?");
}

static void
check_ref(void *ctx, const struct interp_ref *ref)
{
	struct checker *c = ctx;
	struct pos pos = ref_pos(c, ref->offset);
	const struct value *v = NULL;
	struct buf at = BUF_INIT;
	enum var_status st;

	switch (ref->ns) {
	case REF_VAR:
		st = lookup_var(c, ref->name, &v, &at);
		if (st != VAR_OK)
			report_var(c, pos, ref->name, st, &at, c->field);
		else if (v->type != VAL_STR)
			report_at(c->r, pos, "%s variable '%s' cannot be used in '%s' (only 'for:' takes "
			    "a list)", value_type_name(v->type), ref->name, c->field);
		break;
	case REF_SECRET:
		if (index_find(&c->secrets, ref->name) == NULL)
			report_at(c->r, pos, "undefined secret '%s' in '%s'%s", ref->name, c->field,
			    index_hint(&c->secrets, ref->name, &c->hint));
		break;
	case REF_ITEM:
		if (c->step == NULL || !c->step->has_for)
			report_at(c->r, pos, "${item} in '%s' is only defined in a step with 'for:'", c->field);
		else
			check_item_ref(c, ref, pos, c->field);
		break;
	case REF_EVENT:
		if (strncmp(c->field, "notify.", 7) != 0)
			report_at(c->r, pos, "${event.%s} in '%s' is only defined in a notify hook", ref->name,
			    c->field);
		else if (strcmp(ref->name, "kind") != 0 && strcmp(ref->name, "phase") != 0 &&
		    strcmp(ref->name, "step") != 0 && strcmp(ref->name, "text") != 0 &&
		    strcmp(ref->name, "run_id") != 0)
			report_at(c->r, pos, "unknown event field '%s' (use kind, phase, step, text, run_id)",
			    ref->name);
		break;
	case REF_CAPTURE:
		check_capture_ref(c, ref, pos);
		break;
	case REF_PROBE:
		if (index_find(&c->probes, ref->name) == NULL)
			report_at(c->r, pos, "unknown probe '%s' in ${probes.%s.value} in '%s'%s", ref->name,
			    ref->name, c->field, index_hint(&c->probes, ref->name, &c->hint));
		break;
	case REF_ENV:
	case REF_HOST:
	case REF_HOST_ADDR:
	case REF_RUN_ID:
	case REF_PHASE:
		break;
	}
	buf_release(&at);
}

static void
check_syntax(void *ctx, size_t offset, const char *msg)
{
	struct checker *c = ctx;

	report_at(c->r, ref_pos(c, offset), "%s in '%s'", msg, c->field);
}

static void
check_text(void *ctx, const struct text *t, const struct step *step, const char *field)
{
	struct checker *c = ctx;

	/* defaults: are checked where they apply: as copied into each step */
	if (strncmp(field, "defaults.", 9) == 0)
		return;
	c->text = t;
	c->step = step;
	c->field = field;
	interp_walk(t->s, check_ref, check_syntax, c);
}

static void
checker_release(struct checker *c)
{
	struct index *all[] = { &c->steps, &c->phases, &c->probes, &c->hosts, &c->secrets, &c->vars };

	for (size_t i = 0; i < ARRAY_LEN(all); i++)
		free(all[i]->v);
	buf_release(&c->hint);
	buf_release(&c->parts);
	buf_release(&c->single);
}

void
runbook_check(struct runbook *rb, struct report *r)
{
	struct checker c;

	memset(&c, 0, sizeof(c));
	c.rb = rb;
	c.r = r;
	runbook_index_hosts(rb);
	build_indexes(&c);
	resolve_numrefs(&c);
	apply_defaults(rb);
	check_hosts(&c);
	check_on(&c, rb->defaults.on, rb->defaults.on_pos);
	for (size_t i = 0; i < rb->n_probes; i++)
		check_on(&c, rb->probes[i].on, rb->probes[i].on_pos);
	for (size_t i = 0; i < rb->n_phases; i++) {
		struct phase *ph = &rb->phases[i];
		resolve_refs(&c, ph->verify, ph->n_verify);
		resolve_refs(&c, ph->watch.probes, ph->watch.n_probes);
		for (size_t j = 0; j < ph->n_steps; j++) {
			check_step_names(&c, &ph->steps[j]);
			check_for(&c, &ph->steps[j]);
		}
	}
	check_rollout(&c);
	runbook_foreach_text(rb, check_text, &c);
	checker_release(&c);
}

/* --- warnings: values pasted into shell commands --- */

struct injection {
	const struct runbook *rb;
	struct buf msg;
	struct diags *w;
	const struct text *text;
	const struct step *step;
	const char *field;
	size_t n;
};

static void
injection_ref(void *ctx, const struct interp_ref *ref)
{
	struct injection *in = ctx;
	struct pos p = text_pos(in->text, ref->offset);
	const char *what = NULL;
	struct buf name = BUF_INIT, where = BUF_INIT;

	if (in->step)
		buf_addf(&where, "'%s' of step '%s'", in->field, in->step->name);
	else if (strncmp(in->field, "notify.", 7) == 0)
		buf_addf(&where, "'%s' of a notify hook", in->field);
	else
		buf_addf(&where, "'%s' of a probe", in->field);
	if (ref->filter == FILTER_QUOTE || ref->filter == FILTER_URLENCODE)
		goto cleanup;
	if (ref->ns == REF_SECRET) {
		buf_adds(&name, "MIGRATE_SECRET_");
		for (const char *c = ref->name; *c; c++)
			buf_addc(&name, isalnum((unsigned char)*c) ? (char)toupper((unsigned char)*c) : '_');
		buf_reset(&in->msg);
		buf_addf(&in->msg, "warning: secret '%s' is interpolated into the command %s without |quote; "
		    "use \"$%s\" (the environment) instead", ref->name, buf_str(&where), buf_str(&name));
		goto add;
	}
	switch (ref->ns) {
	case REF_VAR:
		what = "variable";
		buf_adds(&name, ref->name);
		break;
	case REF_CAPTURE:
		what = "capture";
		buf_addf(&name, "steps.%s.%s", ref->name, ref->name2);
		break;
	case REF_ITEM:
		what = "item";
		buf_adds(&name, "item");
		if (ref->name2)
			buf_addf(&name, ".%s", ref->name2);
		break;
	case REF_EVENT:
		what = "event field";
		buf_addf(&name, "event.%s", ref->name);
		break;
	case REF_HOST:
	case REF_HOST_ADDR:
		what = "host value";
		buf_adds(&name, ref->ns == REF_HOST ? "host" : "host.address");
		break;
	case REF_PROBE:
		what = "probe value";
		buf_addf(&name, "probes.%s.value", ref->name);
		break;
	default:
		goto cleanup;   /* env, run.id, phase: not values an attacker supplies */
	}
	buf_reset(&in->msg);
	buf_addf(&in->msg, "warning: %s ${%s} is interpolated into the command %s without |quote; a value "
	    "holding shell syntax (; $( ` ' or a newline) would run as a command: write ${%s|quote}",
	    what, buf_str(&name), buf_str(&where), buf_str(&name));
add:
	/* once per place: a block scalar's references all report its start */
	for (size_t i = 0; i < in->w->n; i++)
		if (in->w->v[i].line == p.line && in->w->v[i].col == p.col && strcmp(in->w->v[i].msg, in->msg.data) == 0)
			goto cleanup;
	diags_add(in->w, in->rb->file, p.line, p.col, "%s", in->msg.data);
	in->n++;
cleanup:
	buf_release(&name);
	buf_release(&where);
}

static void
injection_text(void *ctx, const struct text *t, const struct step *step, const char *field)
{
	struct injection *in = ctx;
	size_t len = strlen(field);

	/* commands: run, rollback.run, check.run, probe.run, ...; defaults are checked in each step */
	if (strncmp(field, "defaults.", 9) == 0 || len < 3 || strcmp(field + len - 3, "run") != 0 ||
	    (len > 3 && field[len - 4] != '.'))
		return;
	in->text = t;
	in->step = step;
	in->field = field;
	interp_walk(t->s, injection_ref, NULL, in);
}

size_t
runbook_warnings(const struct runbook *rb, struct diags *w)
{
	struct injection in;

	memset(&in, 0, sizeof(in));
	in.rb = rb;
	in.w = w;
	runbook_foreach_text(rb, injection_text, &in);
	buf_release(&in.msg);
	return in.n;
}
