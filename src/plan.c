#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "expect.h"
#include "regex.h"
#include "util.h"

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
		"upload", "download", "tcp" };
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
		json_object_object_add(o, "method", a->http.method.s ? jexpand(run, u, &a->http.method) : jstr("GET"));
		json_object_object_add(o, "url", jexpand(run, u, &a->http.url));
		for (size_t i = 0; i < a->http.n_headers; i++)
			json_object_object_add(h, a->http.headers[i].key, jexpand(run, u, &a->http.headers[i].value));
		json_object_object_add(o, "headers", h);
		if (a->http.body.s)
			json_object_object_add(o, "body", jexpand(run, u, &a->http.body));
		if (a->http.insecure)
			json_object_object_add(o, "insecure", json_object_new_boolean(1));
		if (a->http.follow)
			json_object_object_add(o, "follow", json_object_new_boolean(1));
		break;
	}
	case ACT_UPLOAD:
	case ACT_DOWNLOAD:
		json_object_object_add(o, "src", jexpand(run, u, &a->xfer.src));
		json_object_object_add(o, "dest", jexpand(run, u, &a->xfer.dest));
		if (a->xfer.mode >= 0) {
			char m[16];
			snprintf(m, sizeof(m), "%04o", a->xfer.mode);
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
		break;
	case ACT_PROBE:
		json_object_object_add(o, "probe", jstr(a->probe_name ? a->probe_name : "(inline)"));
		if (a->probe) {
			json_object_object_add(o, "probe_action", jaction(run, u, &a->probe->action, &a->probe->expect));
			json_object_object_add(o, "probe_retry", jretry(&a->probe->retry));
		}
		break;
	case ACT_NONE:
		break;
	}
	if (e && (a->kind == ACT_RUN || a->kind == ACT_HTTP || a->kind == ACT_TCP))
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

/* The unwind a failure of unit `failing` would cause (units before it, reversed). */
static struct json_object *
junwind(const struct run *run, const struct unit *failing, size_t upto)
{
	struct json_object *a = json_object_new_array();

	if (failing && failing->step->rollback && failing->step->rollback->when == WHEN_ALWAYS)
		json_object_array_add(a, jstr(failing->key));
	for (size_t i = upto; i-- > 0;) {
		const struct unit *u = &run->units[i];
		if (!u->selected || u->step->action.kind == ACT_GATE)
			continue;
		if (u->step->rollback)
			json_object_array_add(a, jstr(u->key));
	}
	return a;
}

static struct json_object *
jkept(const struct run *run, size_t upto)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < upto; i++) {
		const struct unit *u = &run->units[i];
		if (u->selected && !u->step->rollback && u->step->action.kind != ACT_GATE &&
		    u->step->action.kind != ACT_PAUSE && u->step->action.kind != ACT_PROBE)
			json_object_array_add(a, jstr(u->key));
	}
	return a;
}

static struct json_object *
jstep(const struct run *run, const struct step *s)
{
	struct json_object *o = json_object_new_object();
	struct json_object *units = json_object_new_array();
	const struct unit *first = NULL;

	for (size_t i = 0; i < run->n_units; i++)
		if (run->units[i].step == s && run->units[i].selected && !first)
			first = &run->units[i];
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
	if (s->n_after)
		json_object_object_add(o, "after", jrefs(s->after, s->n_after));
	if (s->pause_ms)
		json_object_object_add(o, "pause", jdur(s->pause_ms));
	if (s->batch.set) {
		char b[32];
		snprintf(b, sizeof(b), "%d%s", s->batch.n, s->batch.percent ? "%" : "");
		json_object_object_add(o, "batch", jstr(b));
	}
	if (s->idempotent)
		json_object_object_add(o, "idempotent", json_object_new_boolean(1));
	if (s->check.probe)
		json_object_object_add(o, "check", jstr(s->check.name ? s->check.name : "(inline)"));
	if (s->sudo == 1)
		json_object_object_add(o, "sudo", json_object_new_boolean(1));
	if (s->rollback) {
		struct json_object *r = jaction(run, first, &s->rollback->action, &s->rollback->expect);
		json_object_object_add(r, "when", jstr(s->rollback->when == WHEN_ALWAYS ? "always" : "completed"));
		if (s->rollback->on)
			json_object_object_add(r, "on", jstr(s->rollback->on));
		json_object_object_add(o, "rollback", r);
	} else {
		json_object_object_add(o, "rollback", NULL);
	}
	for (size_t i = 0; i < run->n_units; i++) {
		const struct unit *u = &run->units[i];
		struct json_object *ju;
		if (u->step != s || !u->selected)
			continue;
		ju = json_object_new_object();
		json_object_object_add(ju, "unit", jstr(u->key));
		json_object_object_add(ju, "host", jstr(u->host));
		if (strcmp(u->host, u->address) != 0)
			json_object_object_add(ju, "address", jstr(u->address));
		if (u->item)
			json_object_object_add(ju, "item", jstr(u->item));
		json_object_object_add(ju, "action", jaction(run, u, &s->action, &s->expect));
		if (s->rollback)
			json_object_object_add(ju, "rollback", jaction(run, u, &s->rollback->action, NULL));
		json_object_object_add(ju, "on_failure_unwind", junwind(run, u, i));
		json_object_object_add(ju, "on_failure_kept", jkept(run, i));
		json_object_array_add(units, ju);
	}
	json_object_object_add(o, "units", units);
	return o;
}

struct json_object *
plan_build(const struct run *run)
{
	const struct runbook *rb = run->rb;
	struct json_object *plan = json_object_new_object();
	struct json_object *phases = json_object_new_array();

	json_object_object_add(plan, "runbook", jstr(rb->name));
	json_object_object_add(plan, "file", jstr(rb->file));
	json_object_object_add(plan, "sha256", jstr(rb->sha256));
	if (rb->description)
		json_object_object_add(plan, "description", jstr(rb->description));
	if (rb->deadline_ms)
		json_object_object_add(plan, "deadline", jdur(rb->deadline_ms));
	for (size_t p = 0; p < rb->n_phases; p++) {
		const struct phase *ph = &rb->phases[p];
		struct json_object *jp, *steps = json_object_new_array();
		size_t last = 0;
		bool any = false;

		for (size_t i = 0; i < ph->n_steps; i++) {
			if (!step_selected(run, &ph->steps[i]))
				continue;
			json_object_array_add(steps, jstep(run, &ph->steps[i]));
			any = true;
		}
		if (!any) {
			json_object_put(steps);
			continue;
		}
		for (size_t i = 0; i < run->n_units; i++)
			if (run->units[i].step->phase == ph)
				last = i + 1;
		jp = json_object_new_object();
		json_object_object_add(jp, "name", jstr(ph->name));
		if (ph->description)
			json_object_object_add(jp, "description", jstr(ph->description));
		if (ph->gate.s)
			json_object_object_add(jp, "gate", jexpand(run, NULL, &ph->gate));
		if (ph->watch.set) {
			struct json_object *w = json_object_new_object();
			json_object_object_add(w, "probes", jrefs(ph->watch.probes, ph->watch.n_probes));
			json_object_object_add(w, "interval", jdur(ph->watch.interval_ms));
			json_object_object_add(w, "failures", json_object_new_int(ph->watch.failures));
			json_object_object_add(jp, "watch", w);
		}
		json_object_object_add(jp, "steps", steps);
		if (ph->n_verify) {
			json_object_object_add(jp, "verify", jrefs(ph->verify, ph->n_verify));
			json_object_object_add(jp, "on_verify_failure_unwind", junwind(run, NULL, last));
		}
		json_object_array_add(phases, jp);
	}
	json_object_object_add(plan, "phases", phases);
	if (rb->n_probes) {
		struct json_object *pr = json_object_new_object();
		for (size_t i = 0; i < rb->n_probes; i++) {
			struct json_object *jp = jaction(run, NULL, &rb->probes[i].action, &rb->probes[i].expect);
			json_object_object_add(jp, "on", jstr(rb->probes[i].on ? rb->probes[i].on : "local"));
			json_object_object_add(jp, "timeout", jdur(rb->probes[i].timeout_ms));
			json_object_object_add(jp, "retry", jretry(&rb->probes[i].retry));
			json_object_object_add(pr, rb->probes[i].name, jp);
		}
		json_object_object_add(plan, "probes", pr);
	}
	return plan;
}

/* ---- text ---- */

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
	} else if (strcmp(kind, "probe") == 0) {
		buf_addf(out, "%sprobe %s\n", indent, gs(a, "probe"));
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

static void
render_unwind(struct json_object *unwind, struct json_object *kept, const char *indent, struct buf *out)
{
	buf_addf(out, "%sif it fails: ", indent);
	if (json_object_array_length(unwind) == 0)
		buf_adds(out, "nothing to roll back");
	else {
		buf_adds(out, "roll back ");
		render_list(unwind, " <- ", out);
	}
	if (kept && json_object_array_length(kept) > 0) {
		buf_adds(out, "; kept (no rollback): ");
		render_list(kept, ", ", out);
	}
	buf_addc(out, '\n');
}

void
plan_render_text(struct json_object *plan, bool color, struct buf *out)
{
	const char *B = color ? "\033[1m" : "", *R = color ? "\033[0m" : "", *D = color ? "\033[2m" : "";
	struct json_object *phases = go(plan, "phases");
	size_t np = json_object_array_length(phases);

	buf_addf(out, "%splan for %s%s (%s, sha256 %.12s)\n", B, gs(plan, "runbook"), R, gs(plan, "file"),
	    gs(plan, "sha256"));
	if (has(plan, "description"))
		buf_addf(out, "%s\n", gs(plan, "description"));
	if (has(plan, "deadline"))
		buf_addf(out, "deadline: %s for the whole run\n", gs(plan, "deadline"));
	buf_addf(out, "%snothing below has been run; this is what `migrate run` would do, in order.%s\n", D, R);
	for (size_t p = 0; p < np; p++) {
		struct json_object *ph = json_object_array_get_idx(phases, p);
		struct json_object *steps = go(ph, "steps");
		size_t ns = json_object_array_length(steps);

		buf_addf(out, "\n%sphase %zu/%zu: %s%s\n", B, p + 1, np, gs(ph, "name"), R);
		if (has(ph, "gate"))
			buf_addf(out, "  gate: \"%s\"\n    (asks for approval; without a terminal needs --approve %s or --yes)\n",
			    gs(ph, "gate"), gs(ph, "name"));
		if (go(ph, "watch")) {
			struct json_object *w = go(ph, "watch");
			buf_adds(out, "  watch: ");
			render_list(go(w, "probes"), ", ", out);
			buf_addf(out, " every %s; abort after %s failure(s) in a row\n", gs(w, "interval"),
			    gs(w, "failures"));
		}
		for (size_t i = 0; i < ns; i++) {
			struct json_object *s = json_object_array_get_idx(steps, i);
			struct json_object *units = go(s, "units");
			size_t nu = json_object_array_length(units);
			const char *kind = gs(s, "kind");

			buf_addf(out, "  %sstep %s%s", B, gs(s, "name"), R);
			if (strcmp(kind, "pause") != 0 && strcmp(kind, "gate") != 0) {
				struct json_object *r = go(s, "retry");
				buf_addf(out, "  on %s, timeout %s", gs(s, "on"), gs(s, "timeout"));
				if (json_object_get_int(go(r, "attempts")) > 1)
					buf_addf(out, ", up to %d attempts every %s", json_object_get_int(go(r, "attempts")),
					    gs(r, "interval"));
			}
			buf_addc(out, '\n');
			if (has(s, "description"))
				buf_addf(out, "    %s%s%s\n", D, gs(s, "description"), R);
			for (size_t k = 0; k < nu; k++) {
				struct json_object *u = json_object_array_get_idx(units, k);
				const char *ind = nu > 1 ? "      " : "    ";
				if (nu > 1)
					buf_addf(out, "    unit %s%s%s%s\n", gs(u, "unit"),
					    has(u, "address") ? " (" : "", has(u, "address") ? gs(u, "address") : "",
					    has(u, "address") ? ")" : "");
				render_action(go(u, "action"), ind, out);
				if (go(u, "rollback")) {
					struct buf rind = BUF_INIT;
					buf_addf(&rind, "%srollback ", ind);
					render_action(go(u, "rollback"), rind.data, out);
					buf_release(&rind);
				}
				render_unwind(go(u, "on_failure_unwind"), go(u, "on_failure_kept"), ind, out);
			}
			if (go(s, "capture")) {
				json_object_object_foreach(go(s, "capture"), k, v)
					buf_addf(out, "    capture %s from /%s/\n", k, json_object_get_string(v));
			}
			if (go(s, "after")) {
				buf_adds(out, "    after each unit, probes: ");
				render_list(go(s, "after"), ", ", out);
				buf_addc(out, '\n');
			}
			if (has(s, "pause"))
				buf_addf(out, "    then pause %s\n", gs(s, "pause"));
			if (go(s, "rollback") == NULL && strcmp(kind, "gate") != 0 && strcmp(kind, "pause") != 0 &&
			    strcmp(kind, "probe") != 0)
				buf_addf(out, "    %sno rollback: this step's effect stays if a later step fails%s\n", D, R);
			else if (go(s, "rollback") && strcmp(gs(go(s, "rollback"), "when"), "always") == 0)
				buf_adds(out, "    rollback when: always (also if this step itself fails)\n");
			if (go(s, "idempotent"))
				buf_adds(out, "    idempotent: may be run again on resume\n");
		}
		if (go(ph, "verify")) {
			buf_adds(out, "  verify: ");
			render_list(go(ph, "verify"), ", ", out);
			buf_addc(out, '\n');
			render_unwind(go(ph, "on_verify_failure_unwind"), NULL, "    ", out);
		}
	}
}
