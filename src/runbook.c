/*
 * runbook.c - the runbook data model: constructors, runbook_free(), plain
 * values, lookups, the text visitor, and the diagnostics helpers shared by
 * the loader and the checker.
 */
#include "runbook.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "duration.h"
#include "regex.h"
#include "runbook-private.h"
#include "strmap.h"
#include "util.h"

/* Longest name accepted: names become file names (locks, journals). */
#define NAME_MAX_LEN 128

void
report_at(struct report *r, struct pos p, const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	va_list ap;

	if (r->n > MAX_ERRORS)
		return;
	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < r->diags->n; i++) {
		const struct diag *d = &r->diags->v[i];
		if (d->line == p.line && d->col == p.col && strcmp(d->msg, msg.data) == 0 &&
		    strcmp(d->file, r->file) == 0) {
			buf_release(&msg);
			return;
		}
	}
	if (++r->n > MAX_ERRORS)
		diags_add(r->diags, r->file, p.line, p.col,
		    "too many errors; stopped after %d", MAX_ERRORS);
	else
		diags_add(r->diags, r->file, p.line, p.col, "%s", msg.data);
	buf_release(&msg);
}

/* Names longer than this get no suggestion (and cost nothing). */
#define SUGGEST_MAX_LEN 64

/* Optimal string alignment distance (edits and swaps of neighbours). */
static int
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];

	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int cost = a[i - 1] != b[j - 1];
			int v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

void
suggest_init(struct suggest *s, const char *word)
{
	s->word = word;
	s->best = NULL;
	s->dist = 3; /* suggest only within two edits */
}

void
suggest_try(struct suggest *s, const char *cand)
{
	size_t lw = strlen(s->word), lc;
	int d;

	if (cand == NULL || lw > SUGGEST_MAX_LEN)
		return;
	lc = strlen(cand);
	if (lc > SUGGEST_MAX_LEN || (lc > lw ? lc - lw : lw - lc) >= (size_t)s->dist)
		return;
	d = edit_distance(s->word, cand);
	/* a one-letter word is "close" to everything; require a real overlap */
	if (d < s->dist && (size_t)d < lw && (size_t)d < lc) {
		s->dist = d;
		s->best = cand;
	}
}

const char *
suggest_hint(struct suggest *s, struct buf *scratch)
{
	buf_reset(scratch);
	if (s->best)
		buf_addf(scratch, " (did you mean '%s'?)", s->best);
	return buf_str(scratch);
}

bool
name_valid(const char *name)
{
	size_t len;

	if (name == NULL || !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return false;
	len = strlen(name);
	if (len > NAME_MAX_LEN)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

/* --- plain values --- */

void
value_release(struct value *v)
{
	if (v == NULL)
		return;
	free(v->str);
	for (size_t i = 0; i < v->n; i++) {
		if (v->items)
			value_release(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	memset(v, 0, sizeof(*v));
}

void
value_copy(struct value *dst, const struct value *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->type = src->type;
	dst->pos = src->pos;
	dst->n = src->n;
	if (src->str)
		dst->str = xstrdup(src->str);
	if (src->items) {
		dst->items = xcalloc(src->n, sizeof(*dst->items));
		for (size_t i = 0; i < src->n; i++)
			value_copy(&dst->items[i], &src->items[i]);
	}
	if (src->keys) {
		dst->keys = xcalloc(src->n, sizeof(*dst->keys));
		for (size_t i = 0; i < src->n; i++)
			dst->keys[i] = xstrdup(src->keys[i]);
	}
}

const struct value *
value_get(const struct value *map, const char *key)
{
	if (map == NULL || map->type != VAL_MAP || map->keys == NULL)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i], key) == 0)
			return &map->items[i];
	return NULL;
}

const char *
item_field(const struct value *item, const char *key)
{
	if (item == NULL)
		return NULL;
	if (key)
		item = value_get(item, key);
	return item && item->type == VAL_STR ? item->str : NULL;
}

const char *
numref_parse(const struct numref *nr, const char *s, void *out)
{
	char *end;
	long long v;
	double d;
	size_t len = strlen(s);

	switch (nr->kind) {
	case NUM_DURATION:
		if (duration_parse(s, out) < 0)
			return "a duration such as 30s or 5m";
		if (*(int64_t *)out < nr->min)
			return "a duration longer than 0";
		return NULL;
	case NUM_INT:
		errno = 0;
		v = strtoll(s, &end, 10);
		if (*s == '\0' || *end != '\0' || errno || v < nr->min || v > 1000000)
			return nr->min > 0 ? "a whole number of at least 1" : "a whole number";
		*(int *)out = (int)v;
		return NULL;
	case NUM_AMOUNT: {
		struct amount *a = out;
		bool pct = len > 1 && s[len - 1] == '%';
		char *num = xstrndup(s, pct ? len - 1 : len);
		errno = 0;
		v = strtoll(num, &end, 10);
		if (*num == '\0' || *end != '\0' || errno || v < nr->min || v > (pct ? 100 : 1000000)) {
			free(num);
			return "a number of hosts or a percentage such as \"25%\"";
		}
		free(num);
		a->set = true;
		a->percent = pct;
		a->n = (int)v;
		return NULL;
	}
	case NUM_BOUND:
		errno = 0;
		d = strtod(s, &end);
		if (*s == '\0' || *end != '\0' || errno || isnan(d))
			return "a number";
		((struct bound *)out)->set = true;
		((struct bound *)out)->v = d;
		return NULL;
	}
	return "a value";
}

/* --- constructors --- */

void
retry_unset(struct retry *r)
{
	r->attempts = RETRY_UNSET_INT;
	r->interval_ms = RETRY_UNSET_MS;
	r->backoff = RETRY_UNSET_NUM;
	r->max_interval_ms = RETRY_UNSET_MS;
	r->jitter = RETRY_UNSET_NUM;
}

void
expect_init(struct expect *e)
{
	memset(e, 0, sizeof(*e));
	e->latency_ms = -1;
}

const struct http_req runbook_http_none;
const struct transfer runbook_transfer_none = { .mode = -1 };

void
action_init(struct action *a)
{
	memset(a, 0, sizeof(*a));
	a->http = &runbook_http_none;
	a->xfer = &runbook_transfer_none;
}

/* What steps, probes and rollbacks share: an action, a retry, an expect. */
static void
exec_init(struct action *a, struct retry *r, struct expect *e)
{
	action_init(a);
	retry_unset(r);
	expect_init(e);
}

void
probe_init(struct probe *p)
{
	memset(p, 0, sizeof(*p));
	exec_init(&p->action, &p->retry, &p->expect);
}

void
step_init(struct step *s)
{
	memset(s, 0, sizeof(*s));
	exec_init(&s->action, &s->retry, &s->expect);
	s->sudo = -1;
}

void
rollback_init(struct rollback *rb)
{
	memset(rb, 0, sizeof(*rb));
	exec_init(&rb->action, &rb->retry, &rb->expect);
}

void
host_init(struct host *h)
{
	memset(h, 0, sizeof(*h));
	h->sudo = -1;
}

/* --- destructors --- */

void
text_release(struct text *t)
{
	free(t->s);
	memset(t, 0, sizeof(*t));
}

void
text_copy(struct text *dst, const struct text *src)
{
	*dst = *src;
	if (src->s)
		dst->s = xstrdup(src->s);
}

void
kv_release(struct kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		text_release(&kv[i].value);
	}
	free(kv);
}

static void
http_release(struct http_req *h)
{
	text_release(&h->method);
	text_release(&h->url);
	kv_release(h->headers, h->n_headers);
	text_release(&h->body);
	text_release(&h->body_file);
	text_release(&h->query);
	text_release(&h->ca_cert);
}

static void
probe_refs_release(struct probe_ref *refs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(refs[i].name);
	free(refs);
}

void
gate_cfg_free(struct gate_cfg *g)
{
	if (g == NULL)
		return;
	probe_refs_release(g->show, g->n_show);
	free(g);
}

void
action_release(struct action *a)
{
	text_release(&a->run);
	if (a->http != &runbook_http_none) {
		http_release((struct http_req *)a->http);
		free((struct http_req *)a->http);
	}
	if (a->xfer != &runbook_transfer_none) {
		struct transfer *x = (struct transfer *)a->xfer;
		text_release(&x->src);
		text_release(&x->dest);
		free(x);
	}
	text_release(&a->tcp);
	text_release(&a->gate);
	gate_cfg_free(a->gate_cfg);
	free(a->probe_name);
	if (a->probe_inline) {
		probe_release(a->probe_inline);
		free(a->probe_inline);
	}
	action_init(a);
}

void
expect_release(struct expect *e)
{
	if (e->bounds) {
		struct bounds *bd = e->bounds;
		struct bound *b[] = { &bd->below, &bd->above, &bd->equals, &bd->at_most, &bd->at_least };
		for (size_t i = 0; i < ARRAY_LEN(b); i++)
			free(b[i]->probe);
		free(bd);
	}
	free(e->exit_codes);
	regex_free(e->out_re);
	regex_free(e->err_re);
	regex_free(e->not_out_re);
	regex_free(e->not_err_re);
	free(e->status);
	regex_free(e->body_re);
	regex_free(e->not_body_re);
	regex_free(e->value_re);
	free(e->value_json);
	expect_init(e);
}

void
probe_release(struct probe *p)
{
	free(p->name);
	action_release(&p->action);
	free(p->on);
	expect_release(&p->expect);
	kv_release(p->env, p->n_env);
	probe_init(p);
}

void
rollback_free(struct rollback *rb)
{
	if (rb == NULL)
		return;
	action_release(&rb->action);
	free(rb->on);
	expect_release(&rb->expect);
	kv_release(rb->env, rb->n_env);
	free(rb);
}

void
step_release(struct step *s)
{
	free(s->name);
	free(s->description);
	action_release(&s->action);
	free(s->on);
	expect_release(&s->expect);
	for (size_t i = 0; i < s->n_captures; i++) {
		free(s->captures[i].name);
		regex_free(s->captures[i].re);
	}
	free(s->captures);
	probe_refs_release(s->after, s->n_after);
	value_release(&s->for_list);
	text_release(&s->for_ref);
	rollback_free(s->rollback);
	if (s->check_inline) {
		probe_release(s->check_inline);
		free(s->check_inline);
	}
	free(s->check.name);
	kv_release(s->env, s->n_env);
	text_release(&s->workdir);
}

static void
phase_release(struct phase *ph)
{
	free(ph->name);
	free(ph->description);
	text_release(&ph->gate);
	gate_cfg_free(ph->gate_cfg);
	free(ph->not_before.text);
	free(ph->not_after.text);
	free(ph->watch.from);
	for (size_t i = 0; i < ph->n_steps; i++)
		step_release(&ph->steps[i]);
	free(ph->steps);
	probe_refs_release(ph->verify, ph->n_verify);
	probe_refs_release(ph->watch.probes, ph->watch.n_probes);
}

static void
host_release(struct host *h)
{
	free(h->name);
	text_release(&h->address);
	for (size_t i = 0; i < h->n_addresses; i++)
		text_release(&h->addresses[i]);
	free(h->addresses);
	for (size_t i = 0; i < h->n_members; i++)
		free(h->members[i]);
	free(h->members);
	free(h->member_pos);
	text_release(&h->user);
	text_release(&h->key);
	text_release(&h->passphrase);
	text_release(&h->known_hosts);
	free(h->via);
}

void
runbook_free(struct runbook *rb)
{
	if (rb == NULL)
		return;
	strmap_free(rb->host_index);
	free(rb->file);
	free(rb->source);
	free(rb->name);
	free(rb->description);
	value_release(&rb->vars);
	for (size_t i = 0; i < rb->n_secrets; i++) {
		free(rb->secrets[i].name);
		free(rb->secrets[i].ref);
	}
	free(rb->secrets);
	for (size_t i = 0; i < rb->n_hosts; i++)
		host_release(&rb->hosts[i]);
	free(rb->hosts);
	free(rb->defaults.on);
	kv_release(rb->defaults.env, rb->defaults.n_env);
	text_release(&rb->defaults.workdir);
	for (size_t i = 0; i < rb->n_probes; i++)
		probe_release(&rb->probes[i]);
	free(rb->probes);
	for (size_t i = 0; i < rb->n_phases; i++)
		phase_release(&rb->phases[i]);
	free(rb->phases);
	probe_refs_release(rb->watch.probes, rb->watch.n_probes);
	free(rb->watch.from);
	probe_refs_release(rb->verify_rollback, rb->n_verify_rollback);
	for (size_t i = 0; i < rb->n_notify; i++)
		action_release(&rb->notify[i].action);
	free(rb->notify);
	free(rb->not_before.text);
	free(rb->not_after.text);
	for (size_t i = 0; i < rb->n_numrefs; i++)
		text_release(&rb->numrefs[i].ref);
	free(rb->numrefs);
	free(rb);
}

/* --- lookups --- */

const struct host *
runbook_host(const struct runbook *rb, const char *name)
{
	if (rb->host_index) {
		size_t i = strmap_get(rb->host_index, name);
		return i == STRMAP_NONE ? NULL : &rb->hosts[i];
	}
	for (size_t i = 0; i < rb->n_hosts; i++)
		if (rb->hosts[i].name && strcmp(rb->hosts[i].name, name) == 0)
			return &rb->hosts[i];
	return NULL;
}

void
runbook_index_hosts(struct runbook *rb)
{
	strmap_free(rb->host_index);
	rb->host_index = strmap_create(rb->n_hosts);
	/* the first of a name wins, as in the scan above (a duplicate is an error anyway) */
	for (size_t i = 0; i < rb->n_hosts; i++)
		if (rb->hosts[i].name)
			strmap_put(rb->host_index, rb->hosts[i].name, i);
}

const struct probe *
runbook_probe(const struct runbook *rb, const char *name)
{
	for (size_t i = 0; i < rb->n_probes; i++)
		if (rb->probes[i].name && strcmp(rb->probes[i].name, name) == 0)
			return &rb->probes[i];
	return NULL;
}

const struct step *
runbook_step(const struct runbook *rb, const char *name)
{
	for (size_t i = 0; i < rb->n_phases; i++)
		for (size_t j = 0; j < rb->phases[i].n_steps; j++)
			if (rb->phases[i].steps[j].name && strcmp(rb->phases[i].steps[j].name, name) == 0)
				return &rb->phases[i].steps[j];
	return NULL;
}

const struct phase *
runbook_phase(const struct runbook *rb, const char *name)
{
	for (size_t i = 0; i < rb->n_phases; i++)
		if (rb->phases[i].name && strcmp(rb->phases[i].name, name) == 0)
			return &rb->phases[i];
	return NULL;
}

int
runbook_gate_approvals(const struct runbook *rb, const char *gate)
{
	const struct phase *ph = runbook_phase(rb, gate);
	const struct step *st = runbook_step(rb, gate);

	if (ph && ph->gate.s)
		return ph->gate_cfg ? ph->gate_cfg->approvals : 1;
	if (st && st->action.kind == ACT_GATE)
		return st->action.gate_cfg ? st->action.gate_cfg->approvals : 1;
	return 0;
}

const char *
action_kind_name(enum action_kind kind)
{
	static const char *const names[] = {
		[ACT_NONE] = "none", [ACT_RUN] = "run", [ACT_HTTP] = "http",
		[ACT_PROBE] = "probe", [ACT_PAUSE] = "pause", [ACT_GATE] = "gate",
		[ACT_UPLOAD] = "upload", [ACT_DOWNLOAD] = "download", [ACT_TCP] = "tcp",
		[ACT_PROMETHEUS] = "prometheus",
	};
	return (size_t)kind < ARRAY_LEN(names) ? names[kind] : "?";
}

/* --- the text visitor --- */

/*
 * field is built as a path of keys ("rollback.http.headers.X"); base is the
 * length of the current prefix.
 */
struct visitor {
	text_visit_fn fn;
	void *ctx;
	const struct step *step;
	struct buf field;
	size_t base;
};

static size_t
visit_push(struct visitor *v, const char *prefix)
{
	size_t old = v->base;

	v->field.len = v->base;
	buf_adds(&v->field, prefix);
	v->base = v->field.len;
	return old;
}

static void
visit_text(struct visitor *v, const struct text *t, const char *name)
{
	if (t->s == NULL)
		return;
	v->field.len = v->base;
	buf_adds(&v->field, name);
	v->fn(v->ctx, t, v->step, v->field.data);
}

static void
visit_kv(struct visitor *v, const struct kv *kv, size_t n, const char *prefix)
{
	size_t old = visit_push(v, prefix);

	for (size_t i = 0; i < n; i++)
		visit_text(v, &kv[i].value, kv[i].key);
	v->base = old;
}

static void visit_probe(struct visitor *v, const struct probe *p, const char *prefix);

static void
visit_action(struct visitor *v, const struct action *a)
{
	size_t old;

	visit_text(v, &a->run, "run");
	visit_text(v, &a->tcp, "tcp");
	visit_text(v, &a->gate, "gate");
	old = visit_push(v, "http.");
	visit_text(v, &a->http->method, "method");
	visit_text(v, &a->http->url, "url");
	visit_text(v, &a->http->body, "body");
	visit_text(v, &a->http->body_file, "body_file");
	visit_text(v, &a->http->query, "query");
	visit_text(v, &a->http->ca_cert, "ca_cert");
	v->base = old;
	visit_kv(v, a->http->headers, a->http->n_headers, "http.headers.");
	old = visit_push(v, a->kind == ACT_DOWNLOAD ? "download." : "upload.");
	visit_text(v, &a->xfer->src, "src");
	visit_text(v, &a->xfer->dest, "dest");
	v->base = old;
	if (a->probe_inline)
		visit_probe(v, a->probe_inline, "probe.");
}

static void
visit_probe(struct visitor *v, const struct probe *p, const char *prefix)
{
	size_t old = visit_push(v, prefix);

	visit_action(v, &p->action);
	visit_kv(v, p->env, p->n_env, "env.");
	v->base = old;
}

static void
visit_step(struct visitor *v, const struct step *s)
{
	size_t old;

	v->step = s;
	visit_action(v, &s->action);
	visit_kv(v, s->env, s->n_env, "env.");
	visit_text(v, &s->workdir, "workdir");
	if (s->check_inline)
		visit_probe(v, s->check_inline, "check.");
	if (s->rollback) {
		old = visit_push(v, "rollback.");
		visit_action(v, &s->rollback->action);
		visit_kv(v, s->rollback->env, s->rollback->n_env, "env.");
		v->base = old;
	}
	v->step = NULL;
}

void
runbook_foreach_text(const struct runbook *rb, text_visit_fn fn, void *ctx)
{
	struct visitor v = { fn, ctx, NULL, BUF_INIT, 0 };

	buf_adds(&v.field, "");
	for (size_t i = 0; i < rb->n_hosts; i++) {
		const struct host *h = &rb->hosts[i];
		visit_text(&v, &h->address, "address");
		for (size_t j = 0; j < h->n_addresses; j++)
			visit_text(&v, &h->addresses[j], "addresses");
		visit_text(&v, &h->user, "user");
		visit_text(&v, &h->key, "key");
		visit_text(&v, &h->passphrase, "passphrase");
		visit_text(&v, &h->known_hosts, "known_hosts");
	}
	visit_kv(&v, rb->defaults.env, rb->defaults.n_env, "defaults.env.");
	visit_text(&v, &rb->defaults.workdir, "defaults.workdir");
	for (size_t i = 0; i < rb->n_probes; i++)
		visit_probe(&v, &rb->probes[i], "");
	for (size_t i = 0; i < rb->n_phases; i++) {
		const struct phase *ph = &rb->phases[i];
		visit_text(&v, &ph->gate, "gate");
		for (size_t j = 0; j < ph->n_steps; j++)
			visit_step(&v, &ph->steps[j]);
	}
	for (size_t i = 0; i < rb->n_notify; i++) {
		size_t old = visit_push(&v, "notify.");
		visit_action(&v, &rb->notify[i].action);
		v.base = old;
	}
	for (size_t i = 0; i < rb->n_numrefs; i++) {
		v.step = rb->numrefs[i].step;
		visit_text(&v, &rb->numrefs[i].ref, rb->numrefs[i].field);
		v.step = NULL;
	}
	buf_release(&v.field);
}
