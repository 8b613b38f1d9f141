#include "plan.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "expect.h"
#include "regex.h"
#include "util.h"

static void jgate_cfg(struct json_object *o, const struct gate_cfg *g);

static struct json_object *
jstr(const char *s)
{
	return json_object_new_string(s ? s : "");
}

static struct json_object *
jdur(int64_t ms)
{
	struct buf b = BUF_INIT;
	struct json_object *o;

	duration_format_exact(&b, ms);
	o = json_object_new_string(buf_str(&b));
	buf_release(&b);
	return o;
}

/* Expand t for u in plan mode; an error is shown in the text. */
static struct json_object *
jexpand(const struct run *run, const struct unit *u, const struct text *t)
{
	struct buf b = BUF_INIT;
	char *err = NULL;
	struct json_object *o;

	if (run_expand(run, u, t, true, &b, &err) < 0) {
		buf_reset(&b);
		buf_addf(&b, "<cannot expand: %s>", err);
		free(err);
	}
	o = json_object_new_string(buf_str(&b));
	buf_release(&b);
	return o;
}

static const char *
kind_name(enum action_kind k)
{
	static const char *const names[] = { "none", "run", "http", "probe", "pause", "gate",
		"upload", "download", "tcp", "prometheus" };
	return names[k];
}

static struct json_object *
jretry(const struct retry *r)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "attempts", json_object_new_int(r->attempts));
	json_object_object_add(o, "interval", jdur(r->interval_ms));
	if (r->backoff > 1)
		json_object_object_add(o, "backoff", json_object_new_double(r->backoff));
	if (r->max_interval_ms > 0)
		json_object_object_add(o, "max_interval", jdur(r->max_interval_ms));
	if (r->jitter > 0)
		json_object_object_add(o, "jitter", json_object_new_double(r->jitter));
	return o;
}

static struct json_object *
jexpect(const struct expect *e, enum action_kind k)
{
	struct buf b = BUF_INIT;
	struct json_object *o;

	expect_describe(e, k, &b);
	o = json_object_new_string(buf_str(&b));
	buf_release(&b);
	return o;
}

/* The action of a step, probe or rollback, resolved for unit u. */
static struct json_object *
jaction(const struct run *run, const struct unit *u, const struct action *a, const struct expect *e)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", jstr(kind_name(a->kind)));
	switch (a->kind) {
	case ACT_RUN:
		json_object_object_add(o, "command", jexpand(run, u, &a->run));
		break;
	case ACT_HTTP: {
		struct json_object *h = json_object_new_object();
		json_object_object_add(o, "method", a->http->method.s ? jexpand(run, u, &a->http->method) : jstr("GET"));
		json_object_object_add(o, "url", jexpand(run, u, &a->http->url));
		for (size_t i = 0; i < a->http->n_headers; i++)
			json_object_object_add(h, a->http->headers[i].key, jexpand(run, u, &a->http->headers[i].value));
		json_object_object_add(o, "headers", h);
		if (a->http->body.s)
			json_object_object_add(o, "body", jexpand(run, u, &a->http->body));
		if (a->http->body_file.s)
			json_object_object_add(o, "body_file", jexpand(run, u, &a->http->body_file));
		if (a->http->ca_cert.s)
			json_object_object_add(o, "ca_cert", jexpand(run, u, &a->http->ca_cert));
		if (a->http->insecure)
			json_object_object_add(o, "insecure", json_object_new_boolean(1));
		if (a->http->follow)
			json_object_object_add(o, "follow", json_object_new_boolean(1));
		break;
	}
	case ACT_PROMETHEUS:
		json_object_object_add(o, "url", jexpand(run, u, &a->http->url));
		json_object_object_add(o, "query", jexpand(run, u, &a->http->query));
		if (a->http->insecure)
			json_object_object_add(o, "insecure", json_object_new_boolean(1));
		break;
	case ACT_UPLOAD:
	case ACT_DOWNLOAD:
		json_object_object_add(o, "src", jexpand(run, u, &a->xfer->src));
		json_object_object_add(o, "dest", jexpand(run, u, &a->xfer->dest));
		if (a->xfer->mode >= 0) {
			char m[16];
			snprintf(m, sizeof(m), "%04o", a->xfer->mode);
			json_object_object_add(o, "mode", jstr(m));
		}
		break;
	case ACT_TCP:
		json_object_object_add(o, "target", jexpand(run, u, &a->tcp));
		break;
	case ACT_PAUSE:
		json_object_object_add(o, "duration", jdur(a->pause_ms));
		break;
	case ACT_GATE:
		json_object_object_add(o, "question", jexpand(run, u, &a->gate));
		jgate_cfg(o, a->gate_cfg);
		break;
	case ACT_PROBE:
		json_object_object_add(o, "probe", jstr(a->probe_name ? a->probe_name : "(inline)"));
		if (a->probe)   /* a run probe without on: follows the unit, as in probe_run_event */
			json_object_object_add(o, "probe_on", jstr(a->probe->action.kind != ACT_RUN ? "local"
			    : a->probe->on ? a->probe->on : u ? u->host : "local"));
		if (a->probe) {
			json_object_object_add(o, "probe_action", jaction(run, u, &a->probe->action, &a->probe->expect));
			json_object_object_add(o, "probe_retry", jretry(&a->probe->retry));
		}
		break;
	case ACT_NONE:
		break;
	}
	if (e && (a->kind == ACT_RUN || a->kind == ACT_HTTP || a->kind == ACT_TCP || a->kind == ACT_PROMETHEUS))
		json_object_object_add(o, "expect", jexpect(e, a->kind));
	return o;
}

static struct json_object *
jrefs(const struct probe_ref *refs, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, jstr(refs[i].name));
	return a;
}

/*
 * Probes run outside a unit (verify, watch, a gate's show, verify_rollback)
 * with their places (SPEC §2): their own on: (a group: each member), else
 * this machine. An array of {"name", "on"}.
 */
static struct json_object *
jrefs_on(const struct probe_ref *refs, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "name", jstr(refs[i].name ? refs[i].name : "(inline)"));
		json_object_object_add(o, "on", jstr(refs[i].probe && refs[i].probe->on ? refs[i].probe->on : "local"));
		json_object_array_add(a, o);
	}
	return a;
}

/* Does unit u run under sudo: the step's sudo:, else its host's (a member of
 * an addresses: group has the group's fields), as the engine resolves it. */
static bool
unit_sudo(const struct run *run, const struct unit *u)
{
	const struct host *h;

	if (u->step->sudo >= 0)
		return u->step->sudo == 1;
	if (strcmp(u->host, "local") == 0)
		return false;
	h = runbook_host(run->rb, u->host);
	if (h == NULL || h->n_addresses > 0 || h->n_members > 0)
		h = u->step->on ? runbook_host(run->rb, u->step->on) : NULL;
	return h && h->n_members == 0 && h->sudo == 1;
}

/* Where an after or check probe runs (SPEC §2): its on:, the unit's host, or here. */
static const char *
probe_where(const struct probe *p)
{
	if (p->action.kind != ACT_RUN)
		return "local";   /* http, tcp, prometheus: always from this machine */
	return p->on ? p->on : "the unit's host";
}

/* A step's after probes: where each runs and how often (SPEC §3). */
static struct json_object *
jafter(const struct step *s)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < s->n_after; i++) {
		const struct probe *p = s->after[i].probe;
		struct json_object *o = json_object_new_object();
		bool here = p->action.kind == ACT_RUN && p->on == NULL;
		json_object_object_add(o, "name", jstr(s->after[i].name));
		json_object_object_add(o, "on", jstr(probe_where(p)));
		json_object_object_add(o, "in_batch", jstr(here ? "per host" : "per batch"));
		json_object_array_add(a, o);
	}
	return a;
}

/*
 * The unwind order, computed once. A failure of unit i rolls back the
 * units with a rollback that come before it, newest first: the last
 * rb_before[i] entries of `order`, read backwards. The units without a
 * rollback before it stay as they are: the first kept_before[i] of `kept`.
 * Both per-unit figures are counts, so a plan stays linear in the units.
 */
struct unwind_index {
	size_t *order;       /* units with a rollback, in execution order */
	size_t n_order;
	size_t *kept;        /* units whose effect stays (no rollback), in order */
	size_t n_kept;
	size_t *rb_before;   /* n_units + 1 entries */
	size_t *kept_before; /* n_units + 1 entries */
	size_t *step_first;  /* per step (by index): its first unit */
	size_t *step_units;  /* per step: how many units it has */
	bool *step_sel;      /* per step: does any of its units run? */
};

static bool
has_rollback(const struct unit *u)
{
	return u->selected && u->step->action.kind != ACT_GATE && u->step->rollback;
}

static bool
is_kept(const struct unit *u)
{
	enum action_kind k = u->step->action.kind;
	return u->selected && !u->step->rollback && k != ACT_GATE && k != ACT_PAUSE && k != ACT_PROBE;
}

/* Does a failure of u roll back u itself (rollback when: always)? */
static bool
unwinds_self(const struct unit *u)
{
	return u && u->step->rollback && u->step->rollback->when == WHEN_ALWAYS;
}

static void
unwind_index_init(struct unwind_index *ix, const struct run *run)
{
	size_t n = run->n_units, ns = run->rb->n_steps;

	memset(ix, 0, sizeof(*ix));
	ix->order = xcalloc(n + 1, sizeof(*ix->order));
	ix->kept = xcalloc(n + 1, sizeof(*ix->kept));
	ix->rb_before = xcalloc(n + 1, sizeof(*ix->rb_before));
	ix->kept_before = xcalloc(n + 1, sizeof(*ix->kept_before));
	ix->step_first = xcalloc(ns + 1, sizeof(*ix->step_first));
	ix->step_units = xcalloc(ns + 1, sizeof(*ix->step_units));
	ix->step_sel = xcalloc(ns + 1, sizeof(*ix->step_sel));
	for (size_t i = 0; i < n; i++) {
		const struct unit *u = &run->units[i];
		size_t s = u->step->index;
		ix->rb_before[i] = ix->n_order;
		ix->kept_before[i] = ix->n_kept;
		if (has_rollback(u))
			ix->order[ix->n_order++] = i;
		if (is_kept(u))
			ix->kept[ix->n_kept++] = i;
		if (ix->step_units[s]++ == 0)
			ix->step_first[s] = i;
		ix->step_sel[s] |= u->selected;
	}
	ix->rb_before[n] = ix->n_order;
	ix->kept_before[n] = ix->n_kept;
}

static void
unwind_index_release(struct unwind_index *ix)
{
	free(ix->order);
	free(ix->kept);
	free(ix->rb_before);
	free(ix->kept_before);
	free(ix->step_first);
	free(ix->step_units);
	free(ix->step_sel);
}

/*
 * The unwind of a failure just before unit `upto` (of unit `failing`, or of
 * a phase's verification when failing is NULL), as a reference into the
 * plan's unwind_order: roll back the failing unit itself if `self`, then
 * `count` units from position `start` to the end of that list.
 */
static struct json_object *
junwind(const struct unwind_index *ix, const struct unit *failing, size_t upto)
{
	struct json_object *o = json_object_new_object();
	size_t n = ix->rb_before[upto];

	json_object_object_add(o, "self", json_object_new_boolean(unwinds_self(failing)));
	json_object_object_add(o, "start", json_object_new_int64((int64_t)(ix->n_order - n)));
	json_object_object_add(o, "count", json_object_new_int64((int64_t)n));
	return o;
}

/* The step's own fields; its units are added by the caller, one at a time. */
/* What a gate written as a mapping adds (SPEC §7). */
static void
jgate_cfg(struct json_object *o, const struct gate_cfg *g)
{
	if (g == NULL)
		return;
	json_object_object_add(o, "approvals", json_object_new_int(g->approvals));
	if (g->n_show) {
		json_object_object_add(o, "show", jrefs(g->show, g->n_show));
		json_object_object_add(o, "show_on", jrefs_on(g->show, g->n_show));
	}
	if (g->timeout_ms) {
		json_object_object_add(o, "timeout", jdur(g->timeout_ms));
		json_object_object_add(o, "on_timeout", jstr(g->on_timeout == ON_TIMEOUT_ROLLBACK ? "rollback" : "stop"));
	}
}

static struct json_object *
jwatch(const struct watch *w)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "probes", jrefs(w->probes, w->n_probes));
	json_object_object_add(o, "probes_on", jrefs_on(w->probes, w->n_probes));
	json_object_object_add(o, "interval", jdur(w->interval_ms));
	json_object_object_add(o, "failures", json_object_new_int(w->failures));
	json_object_object_add(o, "window", json_object_new_int(w->window));
	if (w->delay_ms)
		json_object_object_add(o, "delay", jdur(w->delay_ms));
	if (w->from_phase)
		json_object_object_add(o, "from", jstr(w->from_phase->name));
	return o;
}

static void
jwindow(struct json_object *o, const struct wallclock *before, const struct wallclock *after)
{
	if (before->set)
		json_object_object_add(o, "not_before", jstr(before->text));
	if (after->set)
		json_object_object_add(o, "not_after", jstr(after->text));
}

/* The runbook-level keys of SPEC §7: guard, verify_rollback, notify, window. */
static void
jrollout(const struct run *run, struct json_object *top)
{
	static const char *const ev[] = { "start", "phase", "gate", "failure", "rollback", "done" };
	const struct runbook *rb = run->rb;
	struct json_object *hooks;

	jwindow(top, &rb->not_before, &rb->not_after);
	if (rb->watch.set)
		json_object_object_add(top, "watch", jwatch(&rb->watch));
	if (rb->n_verify_rollback) {
		json_object_object_add(top, "verify_rollback", jrefs(rb->verify_rollback, rb->n_verify_rollback));
		json_object_object_add(top, "verify_rollback_on", jrefs_on(rb->verify_rollback, rb->n_verify_rollback));
	}
	if (rb->n_notify == 0)
		return;
	hooks = json_object_new_array();
	for (size_t i = 0; i < rb->n_notify; i++) {
		const struct notify_hook *h = &rb->notify[i];
		struct json_object *jh = jaction(run, NULL, &h->action, NULL);
		struct json_object *on = json_object_new_array();
		for (size_t k = 0; k < ARRAY_LEN(ev); k++)
			if (h->events & (1u << k))
				json_object_array_add(on, jstr(ev[k]));
		json_object_object_add(jh, "on", on);
		json_object_object_add(jh, "timeout", jdur(h->timeout_ms));
		json_object_array_add(hooks, jh);
	}
	json_object_object_add(top, "notify", hooks);
}

static struct json_object *
jstep(const struct run *run, const struct step *s, const struct unit *first)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", jstr(s->name));
	if (s->description)
		json_object_object_add(o, "description", jstr(s->description));
	json_object_object_add(o, "kind", jstr(kind_name(s->action.kind)));
	if (s->action.kind != ACT_PAUSE && s->action.kind != ACT_GATE) {
		json_object_object_add(o, "on", jstr(s->on ? s->on : "local"));
		json_object_object_add(o, "timeout", jdur(s->timeout_ms));
		json_object_object_add(o, "retry", jretry(&s->retry));
	}
	if (s->n_captures) {
		struct json_object *c = json_object_new_object();
		for (size_t i = 0; i < s->n_captures; i++)
			json_object_object_add(c, s->captures[i].name, jstr(regex_pattern(s->captures[i].re)));
		json_object_object_add(o, "capture", c);
	}
	if (s->n_after) {
		json_object_object_add(o, "after", jrefs(s->after, s->n_after));
		json_object_object_add(o, "after_probes", jafter(s));
	}
	if (s->pause_ms)
		json_object_object_add(o, "pause", jdur(s->pause_ms));
	if (s->batch.set) {
		char b[32];
		snprintf(b, sizeof(b), "%d%s", s->batch.n, s->batch.percent ? "%" : "");
		json_object_object_add(o, "batch", jstr(b));
	}
	if (s->max_fail.set) {
		char b[32];
		snprintf(b, sizeof(b), "%d%s", s->max_fail.n, s->max_fail.percent ? "%" : "");
		json_object_object_add(o, "max_fail", jstr(b));
	}
	if (s->idempotent)
		json_object_object_add(o, "idempotent", json_object_new_boolean(1));
	if (s->check.probe) {
		json_object_object_add(o, "check", jstr(s->check.name ? s->check.name : "(inline)"));
		json_object_object_add(o, "check_on", jstr(probe_where(s->check.probe)));
	}
	if (s->sudo >= 0)
		json_object_object_add(o, "sudo", json_object_new_boolean(s->sudo == 1));
	if (s->rollback) {
		struct json_object *r = jaction(run, first, &s->rollback->action, &s->rollback->expect);
		json_object_object_add(r, "when", jstr(s->rollback->when == WHEN_ALWAYS ? "always" : "completed"));
		if (s->rollback->once)
			json_object_object_add(r, "once", json_object_new_boolean(true));
		if (s->rollback->on)
			json_object_object_add(r, "on", jstr(s->rollback->on));
		json_object_object_add(o, "rollback", r);
	} else {
		json_object_object_add(o, "rollback", NULL);
	}
	return o;
}

/* One unit of a step: target, resolved action and rollback, what a failure would unwind. */
static struct json_object *
junit(const struct run *run, const struct unwind_index *ix, const struct unit *u)
{
	const struct step *s = u->step;
	struct json_object *ju = json_object_new_object();
	struct json_object *kept = json_object_new_object();

	json_object_object_add(ju, "unit", jstr(u->key));
	json_object_object_add(ju, "name", jstr(u->name));
	json_object_object_add(ju, "host", jstr(u->host));
	if (strcmp(u->host, u->address) != 0)
		json_object_object_add(ju, "address", jstr(u->address));
	json_object_object_add(ju, "sudo", json_object_new_boolean(unit_sudo(run, u)));
	if (u->item)
		json_object_object_add(ju, "item", jstr(u->item));
	/* values written ${item...}: resolved for this unit */
	if (u->timeout_ms != s->timeout_ms)
		json_object_object_add(ju, "timeout", jdur(u->timeout_ms));
	if (u->pause_ms != s->pause_ms)
		json_object_object_add(ju, "pause", jdur(u->pause_ms));
	if (u->retry.attempts != s->retry.attempts || u->retry.interval_ms != s->retry.interval_ms)
		json_object_object_add(ju, "retry", jretry(&u->retry));
	json_object_object_add(ju, "action", jaction(run, u, &s->action, &s->expect));
	if (s->rollback)
		json_object_object_add(ju, "rollback", jaction(run, u, &s->rollback->action, NULL));
	json_object_object_add(ju, "on_failure_unwind", junwind(ix, u, u->index));
	json_object_object_add(kept, "count", json_object_new_int64((int64_t)ix->kept_before[u->index]));
	json_object_object_add(ju, "on_failure_kept", kept);
	return ju;
}

/* The phase's own fields (its steps follow, one at a time). */
static struct json_object *
jphase(const struct run *run, const struct unwind_index *ix, const struct phase *ph, size_t end)
{
	struct json_object *jp = json_object_new_object();

	json_object_object_add(jp, "name", jstr(ph->name));
	if (ph->description)
		json_object_object_add(jp, "description", jstr(ph->description));
	if (ph->gate.s)
		json_object_object_add(jp, "gate", jexpand(run, NULL, &ph->gate));
	if (ph->gate_cfg) {
		struct json_object *g = json_object_new_object();
		jgate_cfg(g, ph->gate_cfg);
		json_object_object_add(jp, "gate_options", g);
	}
	if (ph->watch.set)
		json_object_object_add(jp, "watch", jwatch(&ph->watch));
	if (ph->commit)
		json_object_object_add(jp, "commit", json_object_new_boolean(1));
	if (ph->deadline_ms)
		json_object_object_add(jp, "deadline", jdur(ph->deadline_ms));
	jwindow(jp, &ph->not_before, &ph->not_after);
	if (ph->n_verify) {
		json_object_object_add(jp, "verify", jrefs(ph->verify, ph->n_verify));
		json_object_object_add(jp, "verify_on", jrefs_on(ph->verify, ph->n_verify));
		json_object_object_add(jp, "on_verify_failure_unwind", junwind(ix, NULL, end));
	}
	return jp;
}

/* ---- streaming ---- */

/* Output is handed to write() in pieces of about this size. */
#define PLAN_CHUNK 16384

struct plan_out {
	struct buf b;
	plan_write_fn write;
	void *ctx;
};

static void
out_flush(struct plan_out *o, bool force)
{
	if (o->b.len > 0 && (force || o->b.len >= PLAN_CHUNK)) {
		o->write(o->ctx, o->b.data, o->b.len);
		buf_reset(&o->b);
	}
}

/* Does phase ph run any unit? Its units end before *end. */
static bool
phase_selected(const struct unwind_index *ix, const struct phase *ph, size_t *end)
{
	bool any = false;

	*end = 0;
	for (size_t i = 0; i < ph->n_steps; i++) {
		size_t s = ph->steps[i].index;
		any |= ix->step_sel[s];
		if (ix->step_units[s])
			*end = ix->step_first[s] + ix->step_units[s];
	}
	return any;
}

/* ---- JSON ---- */

/* Append o pretty-printed, each line after the first indented by `indent` spaces. */
static void
emit_json(struct buf *out, struct json_object *o, int indent)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);

	for (const char *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1)
		buf_addf(out, "%.*s\n%*s", (int)(nl - s), s, indent, "");
	buf_adds(out, s);
}

/* Append object o without its closing brace, so that more members can follow. */
static void
emit_json_open(struct buf *out, struct json_object *o, int indent)
{
	size_t len;

	emit_json(out, o, indent);
	len = out->len;
	while (len > 0 && out->data[len - 1] != '}')
		len--;
	if (len > 0)
		len--;
	while (len > 0 && (out->data[len - 1] == ' ' || out->data[len - 1] == '\n'))
		len--;
	out->len = len;
	out->data[len] = '\0';
}

/* Append `,\n<indent>"key": ` to an open object. */
static void
emit_key(struct buf *out, const char *key, int indent)
{
	buf_addf(out, ",\n%*s\"%s\":", indent, "", key);
}

/* A list of unit keys, one string each. */
static void
emit_keys(struct plan_out *o, const struct run *run, const size_t *idx, size_t n, bool reverse, int indent)
{
	if (n == 0) {
		buf_adds(&o->b, "[]");
		return;
	}
	buf_adds(&o->b, "[");
	for (size_t k = 0; k < n; k++) {
		const struct unit *u = &run->units[idx[reverse ? n - 1 - k : k]];
		struct json_object *s = json_object_new_string(u->key);
		buf_addf(&o->b, "%s\n%*s", k ? "," : "", indent + 2, "");
		buf_adds(&o->b, json_object_to_json_string_ext(s, JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(s);
		out_flush(o, false);
	}
	buf_addf(&o->b, "\n%*s]", indent, "");
}

void
plan_write_json(const struct run *run, plan_write_fn write, void *ctx)
{
	const struct runbook *rb = run->rb;
	struct plan_out o = { BUF_INIT, write, ctx };
	struct unwind_index ix;
	struct json_object *top = json_object_new_object();
	bool first_phase = true;

	unwind_index_init(&ix, run);
	json_object_object_add(top, "runbook", jstr(rb->name));
	json_object_object_add(top, "file", jstr(rb->file));
	json_object_object_add(top, "sha256", jstr(rb->sha256));
	if (rb->description)
		json_object_object_add(top, "description", jstr(rb->description));
	if (rb->deadline_ms)
		json_object_object_add(top, "deadline", jdur(rb->deadline_ms));
	jrollout(run, top);
	emit_json_open(&o.b, top, 0);
	json_object_put(top);
	emit_key(&o.b, "phases", 2);
	buf_adds(&o.b, "[");
	for (size_t p = 0; p < rb->n_phases; p++) {
		const struct phase *ph = &rb->phases[p];
		struct json_object *jp;
		bool first_step = true;
		size_t end;

		if (!phase_selected(&ix, ph, &end))
			continue;
		buf_addf(&o.b, "%s\n    ", first_phase ? "" : ",");
		first_phase = false;
		jp = jphase(run, &ix, ph, end);
		emit_json_open(&o.b, jp, 4);
		json_object_put(jp);
		emit_key(&o.b, "steps", 6);
		buf_adds(&o.b, "[");
		for (size_t i = 0; i < ph->n_steps; i++) {
			const struct step *s = &ph->steps[i];
			size_t f = ix.step_first[s->index], n = ix.step_units[s->index];
			struct json_object *js;
			bool first_unit = true;

			if (!ix.step_sel[s->index])
				continue;
			buf_addf(&o.b, "%s\n        ", first_step ? "" : ",");
			first_step = false;
			js = jstep(run, s, &run->units[f]);
			emit_json_open(&o.b, js, 8);
			json_object_put(js);
			emit_key(&o.b, "units", 10);
			buf_adds(&o.b, "[");
			for (size_t k = f; k < f + n; k++) {
				struct json_object *ju;
				if (!run->units[k].selected)
					continue;
				buf_addf(&o.b, "%s\n            ", first_unit ? "" : ",");
				first_unit = false;
				ju = junit(run, &ix, &run->units[k]);
				emit_json(&o.b, ju, 12);
				json_object_put(ju);
				out_flush(&o, false);
			}
			buf_adds(&o.b, "\n          ]\n        }");
		}
		buf_adds(&o.b, "\n      ]\n    }");
	}
	buf_adds(&o.b, "\n  ]");
	if (rb->n_probes) {
		struct json_object *pr = json_object_new_object();
		for (size_t i = 0; i < rb->n_probes; i++) {
			struct json_object *jp = jaction(run, NULL, &rb->probes[i].action, &rb->probes[i].expect);
			json_object_object_add(jp, "on", jstr(rb->probes[i].on ? rb->probes[i].on : "local"));
			json_object_object_add(jp, "timeout", jdur(rb->probes[i].timeout_ms));
			json_object_object_add(jp, "retry", jretry(&rb->probes[i].retry));
			json_object_object_add(pr, rb->probes[i].name, jp);
		}
		emit_key(&o.b, "probes", 2);
		emit_json(&o.b, pr, 2);
		json_object_put(pr);
	}
	emit_key(&o.b, "unwind_order", 2);
	emit_keys(&o, run, ix.order, ix.n_order, true, 2);
	emit_key(&o.b, "kept", 2);
	emit_keys(&o, run, ix.kept, ix.n_kept, false, 2);
	buf_adds(&o.b, "\n}\n");
	out_flush(&o, true);
	buf_release(&o.b);
	unwind_index_release(&ix);
}

/* ---- text ---- */

/* Lists up to this long are shown whole in each unit; longer ones are cut. */
#define UNWIND_SHOW 6
/* How many names a cut list shows. */
#define UNWIND_CUT 4

/* The string at key, or "" when absent (use has() to tell). */
static const char *
gs(struct json_object *o, const char *key)
{
	struct json_object *v;
	const char *s = json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
	return s ? s : "";
}

static bool
has(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) && v != NULL;
}

static struct json_object *
go(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* Print text after label; continuation lines line up under the first one's text. */
static void
indent_block(struct buf *out, const char *indent, const char *label, const char *text)
{
	const char *p = text;
	size_t pad = strlen(label);
	bool first = true;

	for (;;) {
		size_t n = strcspn(p, "\n");
		if (first)
			buf_addf(out, "%s%s%.*s\n", indent, label, (int)n, p);
		else
			buf_addf(out, "%s%*s%.*s\n", indent, (int)pad, "", (int)n, p);
		first = false;
		p += n;
		if (*p != '\n' || p[1] == '\0')
			break;
		p++;
	}
}

static void render_list(struct json_object *arr, const char *sep, struct buf *out);
static void render_list_on(struct json_object *arr, struct buf *out);
static void render_action(struct json_object *a, const char *indent, struct buf *out);

static void
render_gate_cfg(struct json_object *g, const char *indent, struct buf *out)
{
	if (g == NULL || !has(g, "approvals"))
		return;
	buf_addf(out, "%sneeds %s distinct approval(s)", indent, gs(g, "approvals"));
	if (has(g, "timeout"))
		buf_addf(out, "; unanswered after %s: %s", gs(g, "timeout"),
		    strcmp(gs(g, "on_timeout"), "rollback") == 0 ? "roll back" : "stop (exit 4)");
	buf_addc(out, '\n');
	if (go(g, "show")) {
		buf_addf(out, "%sshows before asking: ", indent);
		render_list_on(go(g, "show_on"), out);
		buf_addc(out, '\n');
	}
}

static void
render_watch(struct json_object *w, const char *label, const char *indent, struct buf *out)
{
	buf_addf(out, "%s%s: ", indent, label);
	render_list_on(go(w, "probes_on"), out);
	buf_addf(out, " every %s", gs(w, "interval"));
	if (has(w, "delay"))
		buf_addf(out, " (first after %s)", gs(w, "delay"));
	if (strcmp(gs(w, "failures"), gs(w, "window")) == 0)
		buf_addf(out, "; abort after %s failure(s) in a row", gs(w, "failures"));
	else
		buf_addf(out, "; abort after %s failures among the last %s samples", gs(w, "failures"), gs(w, "window"));
	if (has(w, "from"))
		buf_addf(out, "; from phase %s to the end of the run", gs(w, "from"));
	buf_addc(out, '\n');
}

static void
render_window(struct json_object *o, const char *indent, struct buf *out)
{
	if (has(o, "not_before"))
		buf_addf(out, "%smaintenance window: not before %s (run and resume refuse to start before it)\n",
		    indent, gs(o, "not_before"));
	if (has(o, "not_after"))
		buf_addf(out, "%smaintenance window: not after %s (then the running unit stops and the run "
		    "unwinds)\n", indent, gs(o, "not_after"));
}

/* The runbook-level keys of SPEC §7, before the phases. */
static void
render_rollout(const struct run *run, struct buf *out)
{
	struct json_object *top = json_object_new_object();
	struct json_object *hooks;

	jrollout(run, top);
	render_window(top, "", out);
	if (go(top, "watch"))
		render_watch(go(top, "watch"), "guard (whole run)", "", out);
	if (go(top, "verify_rollback")) {
		buf_adds(out, "after any rollback, verify: ");
		render_list_on(go(top, "verify_rollback_on"), out);
		buf_addc(out, '\n');
	}
	hooks = go(top, "notify");
	for (size_t i = 0; hooks && i < json_object_array_length(hooks); i++) {
		struct json_object *h = json_object_array_get_idx(hooks, i);
		buf_adds(out, "notify on ");
		render_list(go(h, "on"), ", ", out);
		buf_addf(out, " (at most %s):\n", gs(h, "timeout"));
		render_action(h, "  ", out);
	}
	json_object_put(top);
}

/*
 * A run action straight from the runbook, as render_action would show
 * jaction's object of it (the common case of a big plan, without a JSON
 * object per unit). false: not a run action, nothing written.
 */
static bool
render_run(const struct run *run, const struct unit *u, const struct action *a, const struct expect *e,
    const char *indent, struct buf *out)
{
	struct buf b = BUF_INIT;
	char *err = NULL;

	if (a->kind != ACT_RUN)
		return false;
	if (run_expand(run, u, &a->run, true, &b, &err) < 0) {
		buf_reset(&b);
		buf_addf(&b, "<cannot expand: %s>", err);
		free(err);
	}
	indent_block(out, indent, "run: ", buf_str(&b));
	if (e) {
		buf_reset(&b);
		expect_describe(e, a->kind, &b);
		buf_addf(out, "%sexpect: %s\n", indent, buf_str(&b));
	}
	buf_release(&b);
	return true;
}

static void
render_action(struct json_object *a, const char *indent, struct buf *out)
{
	const char *kind = gs(a, "kind");
	struct buf ind2 = BUF_INIT;

	buf_addf(&ind2, "%s  ", indent);
	if (strcmp(kind, "run") == 0) {
		indent_block(out, indent, "run: ", gs(a, "command"));
	} else if (strcmp(kind, "http") == 0) {
		struct json_object *h = go(a, "headers");
		buf_addf(out, "%shttp: %s %s%s\n", indent, gs(a, "method"), gs(a, "url"),
		    go(a, "insecure") ? "  (TLS verification OFF)" : "");
		if (h) {
			json_object_object_foreach(h, k, v)
				buf_addf(out, "%s  %s: %s\n", indent, k, json_object_get_string(v));
		}
		if (has(a, "body"))
			indent_block(out, ind2.data, "body: ", gs(a, "body"));
	} else if (strcmp(kind, "upload") == 0 || strcmp(kind, "download") == 0) {
		buf_addf(out, "%s%s: %s -> %s%s%s\n", indent, kind, gs(a, "src"), gs(a, "dest"),
		    has(a, "mode") ? " mode " : "", has(a, "mode") ? gs(a, "mode") : "");
	} else if (strcmp(kind, "tcp") == 0) {
		buf_addf(out, "%stcp: connect to %s\n", indent, gs(a, "target"));
	} else if (strcmp(kind, "pause") == 0) {
		buf_addf(out, "%spause %s\n", indent, gs(a, "duration"));
	} else if (strcmp(kind, "gate") == 0) {
		buf_addf(out, "%sgate: \"%s\"\n", indent, gs(a, "question"));
		render_gate_cfg(a, ind2.data, out);
	} else if (strcmp(kind, "probe") == 0) {
		buf_addf(out, "%sprobe %s (runs on %s)\n", indent, gs(a, "probe"), gs(a, "probe_on"));
		if (go(a, "probe_action"))
			render_action(go(a, "probe_action"), ind2.data, out);
	}
	if (has(a, "expect"))
		buf_addf(out, "%sexpect: %s\n", indent, gs(a, "expect"));
	buf_release(&ind2);
}

static void
render_list(struct json_object *arr, const char *sep, struct buf *out)
{
	size_t n = json_object_array_length(arr);

	for (size_t i = 0; i < n; i++)
		buf_addf(out, "%s%s", i ? sep : "", json_object_get_string(json_object_array_get_idx(arr, i)));
}

/* Probes with their places: "api-health (on local), drained (on db)". */
static void
render_list_on(struct json_object *arr, struct buf *out)
{
	size_t n = json_object_array_length(arr);

	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		buf_addf(out, "%s%s (on %s)", i ? ", " : "", gs(o, "name"), gs(o, "on"));
	}
}

/*
 * "if it fails: ..." for a failure just before unit `upto` (of `failing`,
 * NULL for a phase's verification). Short lists are shown whole; longer
 * ones by their count and first few names, the whole order once at the end.
 */
static void
render_unwind(const struct run *run, const struct unwind_index *ix, const struct unit *failing, size_t upto,
    bool with_kept, const char *indent, struct buf *out)
{
	size_t n = ix->rb_before[upto], nk = with_kept ? ix->kept_before[upto] : 0;
	bool self = unwinds_self(failing);
	size_t show = n + self <= UNWIND_SHOW ? n : UNWIND_CUT;

	buf_addf(out, "%sif it fails: ", indent);
	if (n == 0 && !self)
		buf_adds(out, "nothing to roll back");
	else if (n + self <= UNWIND_SHOW)
		buf_addf(out, "roll back %s", self ? failing->name : "");
	else if (self)
		buf_addf(out, "roll back this unit, then the %zu units before it, newest first: %s", n, failing->name);
	else
		buf_addf(out, "roll back the %zu units before %s, newest first: ", n, failing ? "this one" : "it");
	for (size_t k = 0; k < show; k++)
		buf_addf(out, "%s%s", k || self ? " <- " : "", run->units[ix->order[n - 1 - k]].name);
	if (show < n)
		buf_adds(out, " <- … (the whole order is at the end)");
	if (nk > 0) {
		buf_adds(out, "; kept (no rollback): ");
		if (nk > UNWIND_SHOW)
			buf_addf(out, "%zu units: ", nk);
		for (size_t k = 0; k < nk && k < (nk > UNWIND_SHOW ? UNWIND_CUT : nk); k++)
			buf_addf(out, "%s%s", k ? ", " : "", run->units[ix->kept[k]].name);
		if (nk > UNWIND_SHOW)
			buf_adds(out, ", …");
	}
	buf_addc(out, '\n');
}

/* The step's header line and description. */
static void
render_step_head(const struct step *s, bool sudo, const char *B, const char *R, const char *D, struct buf *out)
{
	buf_addf(out, "  %sstep %s%s", B, s->name, R);
	if (sudo)
		buf_adds(out, "  under sudo");
	if (s->action.kind != ACT_PAUSE && s->action.kind != ACT_GATE) {
		buf_addf(out, "  on %s, timeout ", s->on ? s->on : "local");
		duration_format_exact(out, s->timeout_ms);
		if (s->retry.attempts > 1) {
			buf_addf(out, ", up to %d attempts every ", s->retry.attempts);
			duration_format_exact(out, s->retry.interval_ms);
		}
	}
	buf_addc(out, '\n');
	if (s->description)
		buf_addf(out, "    %s%s%s\n", D, s->description, R);
}

/* A unit's own timeout, retry and pause where ${item...} made them differ from the step's. */
static void
render_unit_values(const struct step *s, const struct unit *u, const char *ind, struct buf *out)
{
	if (u->timeout_ms != s->timeout_ms) {
		buf_addf(out, "%stimeout ", ind);
		duration_format_exact(out, u->timeout_ms);
		buf_addc(out, '\n');
	}
	if (u->retry.attempts != s->retry.attempts || u->retry.interval_ms != s->retry.interval_ms) {
		buf_addf(out, "%sup to %d attempts every ", ind, u->retry.attempts);
		duration_format_exact(out, u->retry.interval_ms);
		buf_addc(out, '\n');
	}
	if (u->pause_ms != s->pause_ms) {
		buf_addf(out, "%sthen pause ", ind);
		duration_format_exact(out, u->pause_ms);
		buf_addc(out, '\n');
	}
}

/*
 * What follows a step's units: batches, captures, probes after (where each
 * runs; on several hosts, per host or per batch), check, pause, rollback notes.
 */
static void
render_step_tail(const struct step *s, bool hosts, const char *D, const char *R, struct buf *out)
{
	enum action_kind k = s->action.kind;

	if (s->batch.set)
		buf_addf(out, "    in batches of %d%s of the hosts\n", s->batch.n, s->batch.percent ? "%" : "");
	if (s->max_fail.set)
		buf_addf(out, "    max_fail: %d%s (hosts that may fail before the step fails)\n", s->max_fail.n,
		    s->max_fail.percent ? "%" : "");
	for (size_t i = 0; i < s->n_captures; i++)
		buf_addf(out, "    capture %s from /%s/\n", s->captures[i].name, regex_pattern(s->captures[i].re));
	if (s->n_after) {
		buf_addf(out, "    after each %s, probes: ", hosts ? "batch" : "unit");
		for (size_t i = 0; i < s->n_after; i++) {
			const struct probe *p = s->after[i].probe;
			bool here = p->action.kind == ACT_RUN && p->on == NULL;
			buf_addf(out, "%s%s (on %s%s)", i ? ", " : "", s->after[i].name, probe_where(p),
			    !hosts ? "" : here ? ", once per host of the batch" : ", once per batch");
		}
		buf_addc(out, '\n');
	}
	if (s->check.probe)
		buf_addf(out, "    check (settles an in-doubt unit on resume): probe %s (on %s)\n",
		    s->check.name ? s->check.name : "(inline)",
		    probe_where(s->check.probe));
	if (s->pause_ms) {
		buf_adds(out, "    then pause ");
		duration_format_exact(out, s->pause_ms);
		buf_addc(out, '\n');
	}
	if (s->rollback == NULL && k != ACT_GATE && k != ACT_PAUSE && k != ACT_PROBE)
		buf_addf(out, "    %sno rollback: this step's effect stays if a later step fails%s\n", D, R);
	else if (s->rollback && s->rollback->when == WHEN_ALWAYS)
		buf_adds(out, "    rollback when: always (also if this step itself fails)\n");
	if (s->rollback && s->rollback->once)
		buf_adds(out, "    rollback once per host for all completed items: it runs where the unwind reaches "
		    "the newest of them, with that item; the older ones count as rolled back by it\n");
	if (s->idempotent)
		buf_adds(out, "    idempotent: may be run again on resume\n");
}

/* The one full list: every unit with a rollback, newest first, then the kept ones. */
static void
render_order(struct plan_out *o, const struct run *run, const struct unwind_index *ix, const char *B,
    const char *R)
{
	buf_addf(&o->b, "\n%sunwind order%s", B, R);
	if (ix->n_order == 0)
		buf_adds(&o->b, ": no unit has a rollback\n");
	else
		buf_addf(&o->b, ", newest first (%zu unit%s; a failure rolls back the ones that came before it):\n",
		    ix->n_order, ix->n_order == 1 ? "" : "s");
	for (size_t k = ix->n_order; k-- > 0;) {
		buf_addf(&o->b, "  %s\n", run->units[ix->order[k]].name);
		out_flush(o, false);
	}
	if (ix->n_kept > 0)
		buf_addf(&o->b, "%skept%s, in order (%zu without a rollback, left as done if the run fails):\n", B, R,
		    ix->n_kept);
	for (size_t k = 0; k < ix->n_kept; k++) {
		buf_addf(&o->b, "  %s\n", run->units[ix->kept[k]].name);
		out_flush(o, false);
	}
}

void
plan_write_text(const struct run *run, bool color, plan_write_fn write, void *ctx)
{
	const char *B = color ? "\033[1m" : "", *R = color ? "\033[0m" : "", *D = color ? "\033[2m" : "";
	const struct runbook *rb = run->rb;
	struct plan_out o = { BUF_INIT, write, ctx };
	struct unwind_index ix;
	size_t np = 0, p_no = 0, end;

	unwind_index_init(&ix, run);
	for (size_t p = 0; p < rb->n_phases; p++)
		np += phase_selected(&ix, &rb->phases[p], &end);
	buf_addf(&o.b, "%splan for %s%s (%s, sha256 %.12s)\n", B, rb->name, R, rb->file, rb->sha256);
	if (rb->description)
		buf_addf(&o.b, "%s\n", rb->description);
	if (rb->deadline_ms) {
		buf_adds(&o.b, "deadline: ");
		duration_format_exact(&o.b, rb->deadline_ms);
		buf_adds(&o.b, " of working time for the whole run\n");
	}
	render_rollout(run, &o.b);
	buf_addf(&o.b, "%snothing below has been run; this is what `migrate run` would do, in order.%s\n", D, R);
	for (size_t p = 0; p < rb->n_phases; p++) {
		const struct phase *ph = &rb->phases[p];
		struct json_object *jp;

		if (!phase_selected(&ix, ph, &end))
			continue;
		jp = jphase(run, &ix, ph, end);
		buf_addf(&o.b, "\n%sphase %zu/%zu: %s%s\n", B, ++p_no, np, ph->name, R);
		render_window(jp, "  ", &o.b);
		if (has(jp, "deadline"))
			buf_addf(&o.b, "  deadline: %s of working time for this phase\n", gs(jp, "deadline"));
		if (has(jp, "gate")) {
			buf_addf(&o.b, "  gate: \"%s\"\n", gs(jp, "gate"));
			render_gate_cfg(go(jp, "gate_options"), "    ", &o.b);
			buf_addf(&o.b, "    (asks for approval; without a terminal needs --approve %s or --yes)\n", ph->name);
		}
		if (go(jp, "watch"))
			render_watch(go(jp, "watch"), "watch", "  ", &o.b);
		for (size_t i = 0; i < ph->n_steps; i++) {
			const struct step *s = &ph->steps[i];
			size_t f = ix.step_first[s->index], n = ix.step_units[s->index], nsel = 0;
			bool hosts = false;

			if (!ix.step_sel[s->index])
				continue;
			for (size_t k = f; k < f + n; k++) {
				nsel += run->units[k].selected;
				hosts |= strcmp(run->units[k].host, run->units[f].host) != 0;
			}
			render_step_head(s, unit_sudo(run, &run->units[f]), B, R, D, &o.b);
			for (size_t k = f; k < f + n; k++) {
				const struct unit *un = &run->units[k];
				const char *ind = nsel > 1 ? "      " : "    ";
				struct json_object *ja;
				if (!un->selected)
					continue;
				if (nsel > 1)
					buf_addf(&o.b, "    unit %s%s%s%s\n", un->name, strcmp(un->host, un->address) ? " (" : "",
					    strcmp(un->host, un->address) ? un->address : "",
					    strcmp(un->host, un->address) ? ")" : "");
				if (!render_run(run, un, &s->action, &s->expect, ind, &o.b)) {
					ja = jaction(run, un, &s->action, &s->expect);
					render_action(ja, ind, &o.b);
					json_object_put(ja);
				}
				render_unit_values(s, un, ind, &o.b);
				if (s->rollback) {
					struct buf rind = BUF_INIT;
					buf_adds(&rind, ind);
					buf_adds(&rind, "rollback ");
					if (!render_run(run, un, &s->rollback->action, NULL, rind.data, &o.b)) {
						ja = jaction(run, un, &s->rollback->action, NULL);
						render_action(ja, rind.data, &o.b);
						json_object_put(ja);
					}
					buf_release(&rind);
				}
				render_unwind(run, &ix, un, k, true, ind, &o.b);
				out_flush(&o, false);
			}
			render_step_tail(s, hosts, D, R, &o.b);
		}
		if (go(jp, "verify")) {
			buf_adds(&o.b, "  verify: ");
			render_list_on(go(jp, "verify_on"), &o.b);
			buf_addc(&o.b, '\n');
			render_unwind(run, &ix, NULL, end, false, "    ", &o.b);
		}
		if (ph->commit)
			buf_addf(&o.b, "  %s== commit point: once %s is verified, a later failure unwinds only what "
			    "comes after it ==%s\n", B, ph->name, R);
		json_object_put(jp);
	}
	render_order(&o, run, &ix, B, R);
	out_flush(&o, true);
	buf_release(&o.b);
	unwind_index_release(&ix);
}
