/*
 * engine-action.c - one action of a unit, a probe or a rollback: expand
 * its text, build its environment (secrets included), run it on the
 * unit's target through the executors, and pass its output on as masked
 * whole lines. Each stream goes through its own mask_stream first, so a
 * secret is found wherever chunks or the long-line split fall; lines are
 * cut after masking.
 */
#include <stdlib.h>
#include <string.h>

#include "engine-private.h"
#include "http-action.h"
#include "util.h"

/* ---- output of a running action: masked whole lines ---- */

#define TAIL_KEEP (64 * 1024)

struct pump {
	struct run *run;
	struct unit *unit;
	struct buf *tail;   /* the unit's tail or rb_tail */
	bool record_pgid;
	struct buf partial[3];
	struct mask_stream mask[3];
};

static void
pump_line(struct pump *pp, const char *line, size_t len)
{
	struct buf b = BUF_INIT;
	struct event ev;

	buf_add(&b, line, len);
	if (pp->tail) {
		struct buf *t = pp->tail;
		buf_add(t, b.data, b.len);
		if (t->len > TAIL_KEEP) {
			/* keep the last TAIL_KEEP bytes, starting at a line if one begins soon */
			size_t cut = t->len - TAIL_KEEP;
			const char *nl = memchr(t->data + cut, '\n', 4096);
			if (nl && (size_t)(nl + 1 - t->data) < t->len)
				cut = (size_t)(nl + 1 - t->data);
			buf_consume(t, cut);
		}
	}
	if (pp->unit) {   /* probes' output is not streamed: their verdict is */
		memset(&ev, 0, sizeof(ev));
		ev.type = EV_UNIT_OUTPUT;
		ev.unit = pp->unit;
		ev.data = b.data;
		ev.len = b.len;
		emit(pp->run, &ev);
	}
	buf_release(&b);
}

/*
 * A unit's local command started, its script not yet given: the journal
 * keeps its group (SPEC §4), in the unit's unit_start when that waited for
 * this (unit_run), else in a unit_pgid. -1 when the record could not be
 * written: the command must not get its script.
 */
static int
pump_started(void *ctx, pid_t pgid)
{
	struct pump *pp = ctx;
	struct event ev;

	if (!pp->record_pgid || pp->unit == NULL)
		return 0;
	pp->unit->pgid = pgid;
	if (pp->unit->start_deferred) {
		unit_start_event(pp->run, pp->unit);
	} else {
		memset(&ev, 0, sizeof(ev));
		ev.type = EV_UNIT_PGID;
		ev.unit = pp->unit;
		emit(pp->run, &ev);
	}
	return pp->run->record_error ? -1 : 0;
}

/* Pass on the whole lines of stream i's masked text, and a very long line in pieces. */
static void
pump_lines(struct pump *pp, int i)
{
	struct buf *part = &pp->partial[i];
	const char *nl;

	while (part->len > 0 && (nl = memchr(part->data, '\n', part->len)) != NULL) {
		size_t n = (size_t)(nl - part->data) + 1;
		pump_line(pp, part->data, n);
		buf_consume(part, n);
	}
	if (part->len > 8192) {   /* a very long line: pass it on in pieces */
		pump_line(pp, part->data, part->len);
		buf_reset(part);
	}
}

static void
pump_output(void *ctx, int fd, const char *data, size_t len)
{
	struct pump *pp = ctx;
	int i = fd == 2 ? 2 : 1;

	mask_stream_feed(&pp->mask[i], data, len, &pp->partial[i]);
	pump_lines(pp, i);
}

static void
pump_finish(struct pump *pp)
{
	for (int i = 1; i <= 2; i++) {
		mask_stream_finish(&pp->mask[i], &pp->partial[i]);
		mask_stream_release(&pp->mask[i]);
		pump_lines(pp, i);
		if (pp->partial[i].len) {
			buf_addc(&pp->partial[i], '\n');
			pump_line(pp, pp->partial[i].data, pp->partial[i].len);
		}
		buf_release(&pp->partial[i]);
	}
}

/* ---- running one action ---- */

static void
free_env(char **env, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(env[i]);
	free(env);
}

/* Expand env: entries (later lists override earlier) and add the secrets. */
static int
build_env(struct run *run, const struct unit *u, const struct kv *const lists[], const size_t counts[],
    size_t nlists, char ***envp, size_t *n, char **err)
{
	size_t cap = 0;

	*envp = NULL;
	*n = 0;
	secrets_env(&run->secrets, envp, n, &cap);
	for (size_t l = 0; l < nlists; l++) {
		for (size_t i = 0; i < counts[l]; i++) {
			struct buf b = BUF_INIT;
			buf_addf(&b, "%s=", lists[l][i].key);
			if (run_expand(run, u, &lists[l][i].value, false, &b, err) < 0) {
				buf_release(&b);
				return -1;
			}
			PUSH(*envp, *n, cap, buf_detach(&b));
		}
	}
	PUSH(*envp, *n, cap, NULL);
	(*n)--;
	return 0;
}

struct expand_scope {
	struct run *run;
	const struct unit *unit;
};

static int
expand_text(void *ctx, const struct text *t, struct buf *out, char **err)
{
	struct expand_scope *sc = ctx;
	return run_expand(sc->run, sc->unit, t, false, out, err);
}

int
run_action(struct run *run, const struct unit *u, struct unit *out_unit, struct cancel_token *tok,
    const struct action_spec *spec, struct exec_result *res, struct buf *why)
{
	struct exec_req req;
	struct buf script = BUF_INIT, workdir = BUF_INIT, tcp = BUF_INIT, src = BUF_INIT, dest = BUF_INIT;
	struct http_call call;
	struct pump pp;
	char **env = NULL;
	size_t n_env = 0;
	char *err = NULL;
	int rc = -1;

	memset(&req, 0, sizeof(req));
	memset(&call, 0, sizeof(call));
	memset(&pp, 0, sizeof(pp));
	memset(res, 0, sizeof(*res));
	pp.run = run;
	pp.unit = out_unit;
	pp.tail = out_unit == NULL ? NULL : spec->rollback ? &out_unit->rb_tail : &out_unit->tail;
	pp.record_pgid = spec->record_pgid;
	mask_stream_init(&pp.mask[1], run->secrets.mask);
	mask_stream_init(&pp.mask[2], run->secrets.mask);
	req.kind = spec->action->kind;
	req.target = spec->target ? spec->target : u && u->target ? u->target : &exec_target_local;
	if (req.kind == ACT_UPLOAD || req.kind == ACT_DOWNLOAD) {
		if (run_expand(run, u, &spec->action->xfer->src, false, &src, &err) < 0 ||
		    run_expand(run, u, &spec->action->xfer->dest, false, &dest, &err) < 0)
			goto cleanup;
		req.xfer.src = buf_str(&src);
		req.xfer.dest = buf_str(&dest);
		req.xfer.mode = spec->action->xfer->mode;
	}
	if (req.kind == ACT_RUN) {
		if (run_expand(run, u, &spec->action->run, false, &script, &err) < 0)
			goto cleanup;
		req.script = buf_str(&script);
	} else if (req.kind == ACT_TCP) {
		if (run_expand(run, u, &spec->action->tcp, false, &tcp, &err) < 0)
			goto cleanup;
		req.tcp = buf_str(&tcp);
	} else if (req.kind == ACT_HTTP || req.kind == ACT_PROMETHEUS) {
		struct expand_scope sc = { run, u };
		char *key = spec->idem && u ? http_idempotency_key(run->id, u->key, spec->idem) : NULL;
		int brc = http_call_build(&call, spec->action, expand_text, &sc, key, &err);
		free(key);
		if (brc < 0)
			goto cleanup;
		req.kind = ACT_HTTP;
		req.http.method = call.req.method;
		req.http.url = call.req.url;
		req.http.headers = call.req.headers;   /* the Idempotency-Key included */
		req.http.body = call.req.body;
		req.http.body_len = call.req.body_len;
		req.http.insecure = call.req.insecure;
		req.http.ca_cert = call.req.ca_cert;
		req.http.follow = call.req.follow;
	}
	if (spec->workdir && spec->workdir->s) {
		if (run_expand(run, u, spec->workdir, false, &workdir, &err) < 0)
			goto cleanup;
		req.workdir = buf_str(&workdir);
	}
	if (build_env(run, u, spec->env, spec->n_env, 2, &env, &n_env, &err) < 0)
		goto cleanup;
	req.env = (const char *const *)env;
	req.sudo = spec->sudo;
	if (req.kind == ACT_RUN && exec_target_is_local(req.target) == false)
		req.sudo = spec->sudo_set ? spec->sudo : req.target->sudo == 1;
	req.timeout_ms = spec->timeout_ms;
	req.cancel = tok;
	req.on_output = pump_output;
	req.on_started = pump_started;
	req.ctx = &pp;
	exec_action(run->exec, &req, res);
	pump_finish(&pp);
	secrets_mask(&run->secrets, &res->out);
	secrets_mask(&run->secrets, &res->err);
	if (res->error) {
		char *m = secrets_masked(&run->secrets, res->error);
		free(res->error);
		res->error = m;
	}
	rc = 0;
cleanup:
	if (err) {
		buf_adds(why, err);
		free(err);
	}
	if (script.data)
		explicit_bzero(script.data, script.cap);
	buf_release(&script);
	buf_release(&workdir);
	buf_release(&tcp);
	http_call_release(&call);
	buf_release(&src);
	buf_release(&dest);
	if (env) {
		for (size_t i = 0; i < n_env; i++)
			explicit_bzero(env[i], strlen(env[i]));
		free_env(env, n_env);
	}
	return rc;
}

void
describe_failure(const struct cancel_token *tok, const struct exec_result *res, int64_t timeout_ms,
    struct buf *why)
{
	char *reason = cancel_reason(tok);

	if (res->status == EXEC_CANCELLED || reason) {
		if (engine_interrupted)
			buf_adds(why, "interrupted");
		else if (reason)
			buf_adds(why, reason);
		else
			buf_adds(why, "stopped");
		free(reason);
		return;
	}
	exec_describe(res, timeout_ms, why);
}
