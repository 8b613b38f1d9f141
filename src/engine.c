/*
 * engine.c - running a run: phases, gates, units with retries,
 * expectations, captures, probes, watch, deadline, and the unwind.
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duration.h"
#include "exec.h"
#include "exitcode.h"
#include "expect.h"
#include "gate.h"
#include "http-action.h"
#include "regex.h"
#include "util.h"

volatile sig_atomic_t engine_interrupted;
volatile sig_atomic_t engine_last_signal;
/*
 * The signal machinery (STYLE.md rule 11: the only process-global state):
 * the handler counts the signal and writes a byte to a self-pipe; the
 * run's signal watcher thread (sig_watch_main) reads it and fires the
 * run's root token, which every phase's and unit's token chains from. On
 * a second SIGINT the handler kills the process groups registered in the
 * running run's exec ctx (async-signal-safe reads) and exits.
 */
static int sig_pipe[2] = { -1, -1 };
static const struct exec_ctx *volatile hard_exit_ctx;

static void
on_signal(int sig)
{
	int saved = errno;
	ssize_t w;

	engine_interrupted++;
	engine_last_signal = sig;
	if (engine_interrupted >= 2 && sig == SIGINT) {
		/* exit at once: records are written whole, so the journal stays valid */
		exec_kill_groups(hard_exit_ctx);
		_exit(EXIT_INTERRUPTED);
	}
	if (sig_pipe[1] >= 0)
		w = write(sig_pipe[1], "s", 1);
	(void)w;
	errno = saved;
}

void
engine_install_signals(void)
{
	struct sigaction sa;

	if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		sig_pipe[0] = sig_pipe[1] = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* the operator's SSH session dropping: stop cleanly as for SIGTERM */
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* a file size limit makes writes fail (EFBIG) instead of killing us mid-record */
	sigaction(SIGXFSZ, &sa, NULL);
}

int
engine_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	/* signals go to the main thread, whose blocking reads (a gate's question) they interrupt */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Fire the run's root token when a signal arrives (or at once if one came already). */
static void *
sig_watch_main(void *arg)
{
	struct run *run = arg;

	for (;;) {
		struct pollfd p[2] = { { sig_pipe[0], POLLIN, 0 }, { cancel_fd(run->sig_stop), POLLIN, 0 } };
		char b[64];
		ssize_t r;

		if (engine_interrupted)
			cancel_fire(run->root, NULL);
		if (cancel_fired(run->sig_stop))
			break;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			cancel_wait(NULL, 50);
		do
			r = sig_pipe[0] >= 0 ? read(sig_pipe[0], b, sizeof(b)) : -1;
		while (r > 0);
	}
	return NULL;
}

static void
sig_watch_start(struct run *run)
{
	hard_exit_ctx = run->exec;
	run->sig_stop = cancel_new(NULL);
	if (engine_thread_start(&run->sig_thread, sig_watch_main, run) != 0) {
		cancel_free(run->sig_stop);
		run->sig_stop = NULL;
	}
}

static void
sig_watch_stop(struct run *run)
{
	if (run->sig_stop) {
		cancel_fire(run->sig_stop, NULL);
		pthread_join(run->sig_thread, NULL);
		cancel_free(run->sig_stop);
		run->sig_stop = NULL;
	}
	hard_exit_ctx = NULL;
}

const char *
unit_state_name(enum unit_state st)
{
	static const char *const names[] = { "pending", "running", "done", "failed", "skipped", "interrupted" };
	return names[st];
}

const char *
rollback_state_name(enum rollback_state st)
{
	static const char *const names[] = { "none", "no rollback", "rolled back", "rollback failed", "not needed" };
	return names[st];
}

const char *
outcome_name(enum run_outcome o)
{
	static const char *const names[] = { "running", "succeeded", "rolled back",
		"failed, not rolled back", "stopped at gate", "interrupted" };
	return names[o];
}

static void
emit(struct run *run, struct event *ev)
{
	ev->run = run;
	pthread_mutex_lock(&run->lock);
	for (size_t i = 0; i < run->n_listeners; i++)
		run->listeners[i].on_event(run->listeners[i].ctx, ev);
	pthread_mutex_unlock(&run->lock);
}

static bool
stop_requested(const struct run *run)
{
	return engine_interrupted || cancel_fired(run->cancel);
}

/*
 * ---- output of a running action: masked whole lines ----
 * Each stream goes through its own mask_stream first, so a secret is found
 * wherever chunks or the long-line split fall; lines are cut after masking.
 */

#define TAIL_KEEP (64 * 1024)

struct pump {
	struct run *run;
	struct unit *unit;
	struct buf partial[3];
	struct mask_stream mask[3];
};

static void
pump_line(struct pump *pp, const char *line, size_t len)
{
	struct buf b = BUF_INIT;
	struct event ev;

	buf_add(&b, line, len);
	if (pp->unit) {
		struct buf *t = &pp->unit->tail;
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

/* The time an action may take: its own timeout, cut by the runbook deadline. */
static int64_t
effective_timeout(const struct run *run, int64_t timeout_ms, bool *by_deadline)
{
	*by_deadline = false;
	if (run->deadline_at) {
		int64_t left = run->deadline_at - now_ms();
		if (left < 1)
			left = 1;
		if (timeout_ms <= 0 || left < timeout_ms) {
			*by_deadline = true;
			return left;
		}
	}
	return timeout_ms;
}

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

struct action_spec {
	const struct action *action;
	const struct kv *env[2];
	size_t n_env[2];
	const struct text *workdir;
	bool sudo;
	bool sudo_set;      /* the step said sudo: (else a remote host's sudo: applies) */
	int64_t timeout_ms;
	bool no_deadline;   /* rollbacks: the unwind is not cut short by the deadline */
	const char *idem;   /* http: the Idempotency-Key's purpose ("step", "rollback"); NULL: none */
	const struct exec_target *target;  /* NULL: the unit's host (local without a unit) */
};

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

/*
 * Run one action for unit u (which may be NULL for probes outside units).
 * Output is pumped into out_unit's tail when given. Fills res; returns -1
 * with *why when the action could not even be prepared.
 */
static int
run_action(struct run *run, const struct unit *u, struct unit *out_unit,
    const struct action_spec *spec, struct exec_result *res, struct buf *why)
{
	struct exec_req req;
	struct buf script = BUF_INIT, workdir = BUF_INIT, tcp = BUF_INIT, src = BUF_INIT, dest = BUF_INIT;
	struct http_call call;
	struct pump pp;
	char **env = NULL;
	size_t n_env = 0;
	char *err = NULL;
	bool by_deadline;
	int rc = -1;

	memset(&req, 0, sizeof(req));
	memset(&call, 0, sizeof(call));
	memset(&pp, 0, sizeof(pp));
	memset(res, 0, sizeof(*res));
	pp.run = run;
	pp.unit = out_unit;
	mask_stream_init(&pp.mask[1], run->secrets.mask);
	mask_stream_init(&pp.mask[2], run->secrets.mask);
	req.kind = spec->action->kind;
	req.target = spec->target ? spec->target : u && u->target ? u->target : &exec_target_local;
	if (req.kind == ACT_UPLOAD || req.kind == ACT_DOWNLOAD) {
		if (run_expand(run, u, &spec->action->xfer.src, false, &src, &err) < 0 ||
		    run_expand(run, u, &spec->action->xfer.dest, false, &dest, &err) < 0)
			goto cleanup;
		req.xfer.src = buf_str(&src);
		req.xfer.dest = buf_str(&dest);
		req.xfer.mode = spec->action->xfer.mode;
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
	by_deadline = false;
	req.timeout_ms = spec->no_deadline ? spec->timeout_ms
	    : effective_timeout(run, spec->timeout_ms, &by_deadline);
	req.cancel = run->cancel;
	req.on_output = pump_output;
	req.ctx = &pp;
	exec_action(run->exec, &req, res);
	pump_finish(&pp);
	if (res->status == EXEC_TIMEOUT && by_deadline) {
		struct buf b = BUF_INIT;
		buf_adds(&b, "the runbook deadline of ");
		duration_format_exact(&b, run->rb->deadline_ms);
		buf_adds(&b, " passed");
		cancel_fire(run->cancel, buf_str(&b));
		buf_release(&b);
	}
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

/* Describe why an action that did not hold failed, including timeouts/cancels. */
static void
describe_failure(struct run *run, const struct exec_result *res, int64_t timeout_ms, struct buf *why)
{
	char *reason = cancel_reason(run->cancel);

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

/* The delay before retry number `attempt` (1-based: after the first failure, attempt = 1). */
int64_t
retry_delay(const struct retry *r, int attempt)
{
	double d = (double)r->interval_ms;
	double factor = r->backoff >= 1 ? r->backoff : 1;

	for (int i = 1; i < attempt && d < 1e12; i++)
		d *= factor;
	if (r->max_interval_ms > 0 && d > (double)r->max_interval_ms)
		d = (double)r->max_interval_ms;
	if (r->jitter > 0) {
		double u = (double)(random() % 10001) / 10000.0;   /* 0..1 */
		d *= 1.0 + r->jitter * (2.0 * u - 1.0);
	}
	if (d < 0)
		d = 0;
	return (int64_t)d;
}

/* ---- probes ---- */

/*
 * Evaluate a probe (with its own retries) in unit u's scope. Returns the
 * verdict of the last attempt, with why when it did not pass, and the
 * result as a new sample in *sample (owned by the caller) when asked.
 * The output goes nowhere but why.
 */
static enum verdict
probe_eval(struct run *run, const struct probe *p, const struct unit *u, const char *name,
    const char *context, struct probe_sample **sample, struct buf *why)
{
	struct action_spec spec;
	int attempts = p->retry.attempts > 0 ? p->retry.attempts : 1;
	enum verdict v = VERDICT_FAIL;
	struct observed obs;

	memset(&spec, 0, sizeof(spec));
	memset(&obs, 0, sizeof(obs));
	obs.latency_ms = -1;
	spec.action = &p->action;
	spec.env[0] = p->env;
	spec.n_env[0] = p->n_env;
	spec.timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : DEFAULT_PROBE_TIMEOUT_MS;
	/*
	 * Where it runs (SPEC §2): its own on:; without one a run probe follows
	 * the unit (after, check, a probe step's host), anything else is local.
	 */
	if (p->on)
		spec.target = run_target(run, p->on);
	else if (u == NULL || p->action.kind != ACT_RUN)
		spec.target = &exec_target_local;
	for (int a = 1; a <= attempts; a++) {
		struct exec_result res;

		buf_reset(why);
		observed_release(&obs);
		v = VERDICT_FAIL;
		if (run_action(run, u, NULL, &spec, &res, why) == 0) {
			if (res.status != EXEC_DONE)
				describe_failure(run, &res, spec.timeout_ms, why);
			else
				v = expect_eval(&p->expect, p->action.kind, &res, &obs, why);
		}
		exec_result_release(&res);
		if (v == VERDICT_PASS || stop_requested(run) || a == attempts)
			break;
		cancel_wait(run->cancel, retry_delay(&p->retry, a));
	}
	if (sample) {
		struct buf bounds = BUF_INIT;
		char *m = why->len ? secrets_masked(&run->secrets, buf_str(why)) : NULL;
		expect_describe_bounds(&p->expect, &bounds);
		*sample = probe_sample_new(name, context, u ? u->key : NULL,
		    v == VERDICT_PASS ? SAMPLE_PASS : v == VERDICT_HOLD ? SAMPLE_HOLD : SAMPLE_FAIL,
		    &obs, buf_str(&bounds), v == VERDICT_PASS ? NULL : m);
		free(m);
		buf_release(&bounds);
	}
	observed_release(&obs);
	return v;
}

/* Evaluate a named probe, keep its result and report it (EV_PROBE). */
static enum verdict
probe_run_event(struct run *run, const struct probe_ref *ref, const struct unit *u,
    const char *context, struct buf *why)
{
	struct event ev;
	struct probe_sample *sample = NULL;
	enum verdict v = probe_eval(run, ref->probe, u, ref->name, context, &sample, why);

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_PROBE;
	ev.phase = run->phase;
	ev.unit = u;
	ev.probe = ref->name ? ref->name : "(inline)";
	ev.detail = context;
	ev.ok = v == VERDICT_PASS;
	ev.message = v == VERDICT_PASS ? NULL : sample->message;
	ev.sample = sample;
	run_add_sample(run, sample);
	emit(run, &ev);
	return v;
}

static int gate_ask(struct run *run, const char *name, const struct text *question,
    const struct gate_cfg *cfg);

/*
 * An after or verify probe found no data under no_data: hold: stop as a
 * gate does (SPEC §2). true: approved, go on; false: run->held is set
 * (or the operator was interrupted).
 */
static bool
probe_hold(struct run *run, const char *probe, const char *where)
{
	struct text q;
	char *s = xasprintf("probe '%s' has no data %s: go on anyway?", probe, where);
	int v;

	memset(&q, 0, sizeof(q));
	q.s = s;
	v = gate_ask(run, probe, &q, NULL);
	free(s);
	if (v > 0)
		return true;
	if (v != -2)
		run->held = true;
	return false;
}

/* ---- watch: probes every interval while a phase runs ---- */

struct watch_ctx {
	struct run *run;
	const struct watch *w;
	pthread_t thread;
	struct cancel_token *stop;   /* the phase ended or the run stops */
};

/*
 * Sample every watch probe each interval. A probe trips the watch when
 * `failures` of its last `window` samples failed (default window:
 * failures, so consecutive); samples without data under `hold` count
 * neither way. A trip cancels the running unit, pause or gate wait.
 */
static void *
watch_main(void *arg)
{
	struct watch_ctx *wc = arg;
	struct run *run = wc->run;
	const struct watch *w = wc->w;
	int limit = w->failures > 0 ? w->failures : 1;
	int window = w->window >= limit ? w->window : limit;
	/* per probe: the last `window` verdicts (1 failed), a ring */
	char *ring = xcalloc(w->n_probes * (size_t)window, 1);
	int *filled = xcalloc(w->n_probes, sizeof(*filled)), *next = xcalloc(w->n_probes, sizeof(*next));
	struct buf why = BUF_INIT;

	while (!cancel_fired(wc->stop)) {
		if (cancel_wait(wc->stop, w->interval_ms > 0 ? w->interval_ms : DEFAULT_WATCH_INTERVAL_MS))
			break;
		for (size_t i = 0; i < w->n_probes && !cancel_fired(wc->stop); i++) {
			char *r = ring + i * (size_t)window;
			int failed = 0;
			enum verdict v = probe_run_event(run, &w->probes[i], NULL, "watch", &why);

			if (v == VERDICT_HOLD)
				continue;
			r[next[i]] = v == VERDICT_FAIL;
			next[i] = (next[i] + 1) % window;
			if (filled[i] < window)
				filled[i]++;
			for (int k = 0; k < filled[i]; k++)
				failed += r[k];
			if (failed >= limit && !cancel_fired(wc->stop)) {
				char *m = window == limit
				    ? xasprintf("watch probe '%s' failed %d time%s in a row: %s",
					w->probes[i].name, failed, failed == 1 ? "" : "s", buf_str(&why))
				    : xasprintf("watch probe '%s' failed %d of its last %d samples: %s",
					w->probes[i].name, failed, filled[i], buf_str(&why));
				cancel_fire(run->cancel, m);
				free(m);
			}
		}
	}
	buf_release(&why);
	free(ring);
	free(filled);
	free(next);
	return NULL;
}

/* ---- units ---- */

static void
snapshot_captures(struct run *run, struct unit *u)
{
	pthread_mutex_lock(&run->cap_lock);
	for (size_t i = 0; i < run->n_captures; i++) {
		struct capture_val c = {
			xstrdup(run->captures[i].step), xstrdup(run->captures[i].name),
			xstrdup(run->captures[i].value)
		};
		PUSH(u->captures, u->n_captures, u->cap_captures, c);
	}
	pthread_mutex_unlock(&run->cap_lock);
}

/* Apply capture: patterns to stdout; every capture must match. */
static bool
take_captures(struct run *run, const struct step *s, const struct exec_result *res, struct buf *why)
{
	for (size_t i = 0; i < s->n_captures; i++) {
		char *val = NULL;
		if (regex_capture(s->captures[i].re, buf_str(&res->out), res->out.len, 1, &val) != 1) {
			buf_addf(why, "capture '%s': '%s' does not match stdout", s->captures[i].name,
			    regex_pattern(s->captures[i].re));
			free(val);
			return false;
		}
		run_set_capture(run, s->name, s->captures[i].name, val);
		free(val);
	}
	return true;
}

/* Keep the result of an http or probe step's attempt on its unit. */
static void
unit_keep_result(struct unit *u, struct probe_sample *s)
{
	probe_sample_free(u->result);
	u->result = s;
}

/* One attempt of unit u. true: the unit's action, expect, pause and after probes held. */
static bool
unit_attempt(struct run *run, struct unit *u, struct buf *why)
{
	const struct step *s = u->step;
	struct action_spec spec;
	struct exec_result res;
	struct probe_sample *sample = NULL;
	bool ok;

	switch (s->action.kind) {
	case ACT_PAUSE:
		cancel_wait(run->cancel, s->action.pause_ms);
		if (stop_requested(run)) {
			describe_failure(run, &(struct exec_result){ .status = EXEC_CANCELLED }, 0, why);
			return false;
		}
		return true;
	case ACT_PROBE:
		ok = probe_eval(run, s->action.probe, u, s->action.probe_name, "step", &sample, why) == VERDICT_PASS;
		if (s->action.probe_name)   /* ${probes.NAME.value} and the report's probe results */
			run_add_sample(run, probe_sample_copy(sample));
		unit_keep_result(u, sample);
		break;
	case ACT_RUN:
	case ACT_HTTP:
	case ACT_UPLOAD:
	case ACT_DOWNLOAD:
		memset(&spec, 0, sizeof(spec));
		spec.action = &s->action;
		spec.env[0] = s->env;   /* defaults.env is merged in by the loader */
		spec.n_env[0] = s->n_env;
		spec.workdir = &s->workdir;
		spec.sudo = s->sudo == 1;
		spec.sudo_set = s->sudo >= 0;
		spec.timeout_ms = u->timeout_ms;
		spec.idem = "step";
		if (run_action(run, u, u, &spec, &res, why) < 0)
			return false;
		u->exit_code = res.status == EXEC_DONE && s->action.kind == ACT_RUN ? res.exit_code : -1;
		if (res.status != EXEC_DONE) {
			describe_failure(run, &res, spec.timeout_ms, why);
			ok = false;
		} else if (s->action.kind == ACT_HTTP) {
			struct observed obs;
			enum verdict v = expect_eval(&s->expect, ACT_HTTP, &res, &obs, why);
			ok = v == VERDICT_PASS && take_captures(run, s, &res, why);
			unit_keep_result(u, probe_sample_new(NULL, "step", u->key, ok ? SAMPLE_PASS : SAMPLE_FAIL,
			    &obs, NULL, NULL));
			observed_release(&obs);
		} else {
			ok = expect_check(&s->expect, ACT_RUN, &res, why) && take_captures(run, s, &res, why);
		}
		exec_result_release(&res);
		break;
	default:
		buf_adds(why, "this kind of step is not available in this release");
		return false;
	}
	if (!ok)
		return false;
	/* the bake time: the after probes see the change once it settled (SPEC §3) */
	if (u->pause_ms > 0 && s->n_after > 0) {
		cancel_wait(run->cancel, u->pause_ms);
		if (stop_requested(run)) {
			describe_failure(run, &(struct exec_result){ .status = EXEC_CANCELLED }, 0, why);
			return false;
		}
	}
	for (size_t i = 0; i < s->n_after; i++) {
		struct buf pwhy = BUF_INIT;
		enum verdict v = probe_run_event(run, &s->after[i], u, "after", &pwhy);
		if (v == VERDICT_HOLD) {
			char *where = xasprintf("after '%s'", u->key);
			bool go = probe_hold(run, s->after[i].name, where);
			free(where);
			if (go) {
				buf_release(&pwhy);
				continue;
			}
			/* the unit's change is in place: it completes, and the run stops at the hold */
			buf_release(&pwhy);
			return true;
		}
		if (v != VERDICT_PASS) {
			buf_addf(why, "after probe '%s' failed: %s", s->after[i].name, buf_str(&pwhy));
			buf_release(&pwhy);
			return false;
		}
		buf_release(&pwhy);
	}
	return true;
}

static void
unit_event(struct run *run, enum event_type type, struct unit *u, const char *msg, int64_t delay)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.phase = u->step->phase;
	ev.unit = u;
	ev.message = msg;
	ev.delay_ms = delay;
	ev.ok = u->state == UNIT_DONE;
	emit(run, &ev);
}

/* Run unit u with its retries. true when it completed. */
static bool
unit_run(struct run *run, struct unit *u)
{
	const struct retry *r = &u->retry;
	int attempts = r->attempts > 0 ? r->attempts : 1;
	struct buf why = BUF_INIT;
	int64_t t0 = now_ms();
	bool ok = false;

	u->state = UNIT_RUNNING;
	u->started_ms = wall_ms();
	unit_event(run, EV_UNIT_START, u, NULL, 0);
	if (run->record_error)
		attempts = 0;   /* its start is not on record: do not run it */
	for (int a = 1; a <= attempts; a++) {
		u->attempts = a;
		buf_reset(&why);
		ok = unit_attempt(run, u, &why);
		if (ok || stop_requested(run) || run->held || a == attempts)
			break;
		{
			int64_t delay = retry_delay(r, a);
			char *m = secrets_masked(&run->secrets, buf_str(&why));
			unit_event(run, EV_UNIT_RETRY, u, m, delay);
			free(m);
			cancel_wait(run->cancel, delay);
			if (stop_requested(run))
				break;
		}
	}
	u->duration_ms = now_ms() - t0;
	snapshot_captures(run, u);
	free(u->message);
	u->message = NULL;
	if (ok) {
		u->state = UNIT_DONE;
		run_mark_completed(run, u);
	} else {
		u->state = engine_interrupted ? UNIT_INTERRUPTED : UNIT_FAILED;
		if (engine_interrupted)
			buf_reset(&why);
		if (why.len == 0)
			buf_adds(&why, engine_interrupted ? "interrupted" : "failed");
		u->message = secrets_masked(&run->secrets, buf_str(&why));
	}
	unit_event(run, EV_UNIT_END, u, u->message, 0);
	buf_release(&why);
	/* without after probes the pause is a wait after the unit (with them it came before them) */
	if (ok && u->pause_ms > 0 && u->step->n_after == 0 && !stop_requested(run))
		cancel_wait(run->cancel, u->pause_ms);
	return ok;
}

/* ---- gates ---- */

/* An approval of gate name by the invoking user (via --yes, --approve, the terminal): counted and journaled. */
static void
gate_approve_here(struct run *run, const char *name, const char *via)
{
	const char *who = run->opts->user ? run->opts->user : gate_user_name();
	struct event ev;

	if (gate_approved_by(run, name, who))
		return;
	gate_add_approval(run, name, who);
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_APPROVAL;
	ev.phase = run->phase;
	ev.probe = name;
	ev.by = who;
	ev.detail = via;
	emit(run, &ev);
}

/*
 * Ask for a gate (SPEC §7): it passes once it has cfg->approvals (default
 * 1) distinct approvals, counting those journaled (migrate approve) and
 * --yes, --approve or a yes at the terminal as one by the invoking user.
 * 1 approved, 0 declined, -1 unanswered (or short of approvals), -2
 * interrupted while asking.
 */
static int
gate_ask(struct run *run, const char *name, const struct text *question, const struct gate_cfg *cfg)
{
	const struct engine_opts *o = run->opts;
	size_t need = cfg ? (size_t)cfg->approvals : 1;
	struct buf q = BUF_INIT, names = BUF_INIT, why = BUF_INIT;
	const char *by = NULL, *via = NULL;
	struct event ev;
	char *err = NULL;
	int verdict = -1;

	if (run_expand(run, NULL, question, false, &q, &err) < 0) {
		buf_adds(&q, question->s);
		free(err);
	}
	secrets_mask(&run->secrets, &q);
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_GATE;
	ev.phase = run->phase;
	ev.probe = name;
	ev.message = buf_str(&q);
	ev.detail = "asked";
	emit(run, &ev);
	if (gate_approvers(run, name, NULL) < need) {
		if (o->yes) {
			verdict = 1;
			via = "--yes";
		} else {
			for (size_t i = 0; i < o->n_approve; i++)
				if (strcmp(o->approve[i], name) == 0) {
					verdict = 1;
					via = "--approve";
				}
		}
		if (verdict < 0 && o->ask) {
			verdict = o->ask(o->ask_ctx, name, buf_str(&q), &by);
			via = "terminal";
		}
		if (verdict <= 0 && engine_interrupted)
			verdict = -2;
		if (verdict > 0)
			gate_approve_here(run, name, via);
	}
	if (verdict >= 0 || gate_approvers(run, name, NULL) >= need) {
		size_t have = gate_approvers(run, name, &names);
		if (have >= need) {
			verdict = 1;
			if (need > 1 || via == NULL) {
				buf_addf(&why, "approvals: %s", buf_str(&names));
				by = buf_str(&why);
			} else if (strcmp(via, "terminal") != 0) {
				by = via;
			}
		} else if (verdict > 0) {
			/* approved here, but more people must approve */
			verdict = -1;
			buf_addf(&why, "needs %zu distinct approvals, has %zu (%s)", need, have, buf_str(&names));
			by = buf_str(&why);
		}
	}
	ev.detail = verdict > 0 ? "approved" : verdict == 0 ? "declined" : verdict == -2 ? "interrupted" : "unanswered";
	ev.by = by;
	ev.ok = verdict > 0;
	emit(run, &ev);
	buf_release(&q);
	buf_release(&names);
	buf_release(&why);
	return verdict;
}

static bool
gate_approved_before(const struct run *run, const char *name)
{
	for (size_t i = 0; i < run->n_approved_gates; i++)
		if (strcmp(run->approved_gates[i], name) == 0)
			return true;
	return false;
}

/* ---- the unwind ---- */

static bool
rollback_run(struct run *run, struct unit *u)
{
	const struct rollback *rb = u->step->rollback;
	const struct retry *r = &rb->retry;
	int attempts = r->attempts > 0 ? r->attempts : 1;
	struct action_spec spec;
	struct buf why = BUF_INIT;
	int64_t t0 = now_ms();
	bool ok = false;
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_ROLLBACK_START;
	ev.unit = u;
	ev.phase = u->step->phase;
	emit(run, &ev);
	if (run->record_error) {
		attempts = 0;   /* its start is not on record: do not run it */
		buf_adds(&why, run->record_error);
	}

	memset(&spec, 0, sizeof(spec));
	spec.action = &rb->action;
	spec.env[0] = u->step->env;
	spec.n_env[0] = u->step->n_env;
	spec.env[1] = rb->env;
	spec.n_env[1] = rb->n_env;
	spec.workdir = &u->step->workdir;
	spec.sudo = u->step->sudo == 1;
	spec.sudo_set = u->step->sudo >= 0;
	if (rb->on)
		spec.target = run_target(run, rb->on);
	spec.timeout_ms = rb->timeout_ms > 0 ? rb->timeout_ms : u->timeout_ms;
	spec.no_deadline = true;
	spec.idem = "rollback";
	for (int a = 1; a <= attempts && !engine_interrupted; a++) {
		struct exec_result res;
		buf_reset(&why);
		if (run_action(run, u, u, &spec, &res, &why) == 0) {
			if (res.status != EXEC_DONE)
				describe_failure(run, &res, spec.timeout_ms, &why);
			else
				ok = expect_check(&rb->expect, rb->action.kind, &res, &why);
		}
		exec_result_release(&res);
		if (ok || a == attempts)
			break;
		cancel_wait(run->cancel, retry_delay(r, a));
	}
	if (!ok && engine_interrupted && why.len == 0)
		buf_adds(&why, "interrupted");
	if (!ok && why.len == 0)
		buf_adds(&why, "failed");
	u->rb_duration_ms = now_ms() - t0;
	u->rb_state = ok ? RB_DONE : RB_FAILED;
	if (!ok)
		u->rb_message = secrets_masked(&run->secrets, buf_str(&why));
	ev.type = EV_ROLLBACK_END;
	ev.ok = ok;
	ev.message = u->rb_message;
	emit(run, &ev);
	buf_release(&why);
	return ok;
}

static void
rollback_skip(struct run *run, struct unit *u, enum rollback_state st)
{
	struct event ev;

	u->rb_state = st;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_ROLLBACK_END;
	ev.unit = u;
	ev.phase = u->step->phase;
	ev.ok = true;
	emit(run, &ev);
}

/*
 * Unwind every completed unit in reverse order of completion, skipping
 * units already rolled back (a continued unwind: each rollback action runs
 * at most once per unit). true: all rolled back.
 */
static bool
unwind(struct run *run)
{
	struct event ev;
	struct unit *f = run->failed_unit;

	/* a fresh token: the unwind is stopped by signals only (not by the deadline or a watch) */
	cancel_free(run->cancel);
	run->cancel = cancel_new(run->root);
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_UNWIND_START;
	emit(run, &ev);
	if (f && f->state == UNIT_FAILED && f->step->rollback && f->step->rollback->when == WHEN_ALWAYS &&
	    f->rb_state != RB_DONE) {
		if (!rollback_run(run, f))
			return false;
	}
	for (size_t i = run->n_completed; i-- > 0;) {
		struct unit *u = run->completed[i];
		if (u->rb_state == RB_DONE || u->rb_state == RB_NO_ACTION)
			continue;
		if (engine_interrupted)
			return false;
		if (u->step->rollback == NULL) {
			rollback_skip(run, u, RB_NO_ACTION);
			continue;
		}
		if (!rollback_run(run, u))
			return false;
	}
	return true;
}

/* ---- the run ---- */

static void
fail_run(struct run *run, struct unit *u, const char *msg)
{
	if (run->failure)
		return;
	run->failed_unit = u;
	run->failure = secrets_masked(&run->secrets, msg);
}

static void
phase_event(struct run *run, enum event_type type, const struct phase *ph, bool ok)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.phase = ph;
	ev.ok = ok;
	emit(run, &ev);
}

/* Run the selected units of phase ph. 1 ok, 0 failed, -1 gate, -2 interrupted. */
static int
phase_run(struct run *run, const struct phase *ph)
{
	struct watch_ctx wc;
	int rc = 1;

	memset(&wc, 0, sizeof(wc));
	if (ph->gate.s && !gate_approved_before(run, ph->name)) {
		int v = gate_ask(run, ph->name, &ph->gate, ph->gate_cfg);
		if (v == -2)
			return -2;
		if (v <= 0)
			return -1;
	}
	if (ph->watch.set && ph->watch.n_probes > 0) {
		wc.run = run;
		wc.w = &ph->watch;
		wc.stop = cancel_new(run->cancel);
		if (engine_thread_start(&wc.thread, watch_main, &wc) != 0) {
			cancel_free(wc.stop);
			wc.run = NULL;
		}
	}
	for (size_t i = 0; i < run->n_units && rc == 1; i++) {
		struct unit *u = &run->units[i];
		if (u->step->phase != ph || !u->selected || u->state != UNIT_PENDING)
			continue;
		if (engine_interrupted) {
			rc = -2;
			break;
		}
		if (run->record_error) {
			rc = -3;
			break;
		}
		if (cancel_fired(run->cancel)) {
			char *reason = cancel_reason(run->cancel);
			fail_run(run, NULL, reason ? reason : "stopped");
			free(reason);
			rc = 0;
			break;
		}
		if (u->step->action.kind == ACT_GATE) {
			/* the unit starts and ends only once approved: a gate that
			 * stops the run leaves nothing in doubt */
			int v = gate_approved_before(run, u->step->name) ? 1
			    : gate_ask(run, u->step->name, &u->step->action.gate, u->step->action.gate_cfg);
			if (v <= 0) {
				rc = v == -2 ? -2 : -1;
				break;
			}
			u->state = UNIT_RUNNING;
			u->attempts = 1;
			u->started_ms = wall_ms();
			unit_event(run, EV_UNIT_START, u, NULL, 0);
			u->state = UNIT_DONE;
			run_mark_completed(run, u);
			unit_event(run, EV_UNIT_END, u, NULL, 0);
			continue;
		}
		if (!unit_run(run, u)) {
			if (run->record_error) {
				rc = -3;
				break;
			}
			if (engine_interrupted) {
				rc = -2;
				break;
			}
			char *m = xasprintf("step '%s' failed: %s", u->key, u->message);
			fail_run(run, u, m);
			free(m);
			rc = 0;
		} else if (run->held) {
			rc = -1;
		}
	}
	if (wc.run) {
		cancel_fire(wc.stop, NULL);
		pthread_join(wc.thread, NULL);
		cancel_free(wc.stop);
	}
	if (rc == 1 && run->record_error)
		rc = -3;
	if (rc == 1 && cancel_fired(run->cancel)) {
		char *reason = cancel_reason(run->cancel);
		if (reason) {
			fail_run(run, NULL, reason);
			rc = 0;
		}
		free(reason);
	}
	for (size_t i = 0; rc == 1 && i < ph->n_verify; i++) {
		struct buf why = BUF_INIT;
		enum verdict v = probe_run_event(run, &ph->verify[i], NULL, "verify", &why);
		if (v == VERDICT_HOLD) {
			char *where = xasprintf("when phase '%s' is verified", ph->name);
			if (!probe_hold(run, ph->verify[i].name, where))
				rc = engine_interrupted ? -2 : -1;
			free(where);
		} else if (v != VERDICT_PASS) {
			char *m = xasprintf("phase '%s': verify probe '%s' failed: %s", ph->name,
			    ph->verify[i].name, buf_str(&why));
			fail_run(run, NULL, m);
			free(m);
			rc = engine_interrupted ? -2 : 0;
		}
		buf_release(&why);
	}
	return rc;
}

/* Does phase ph have selected units still to run? */
static bool
phase_selected(const struct run *run, const struct phase *ph)
{
	bool any = false, open = false;

	for (size_t i = 0; i < run->n_units; i++) {
		const struct unit *u = &run->units[i];
		if (u->step->phase != ph || !u->selected)
			continue;
		any = true;
		if (u->state != UNIT_DONE)
			open = true;
	}
	return any && (open || !run->resumed);
}

int
engine_load_secrets(struct run *run)
{
	char *err = NULL;

	if (run->secrets_loaded)
		return 0;
	if (secrets_load(run->rb, &run->secrets, &err) < 0) {
		free(run->failure);
		run->failure = err;
		return -1;
	}
	run->secrets_loaded = true;
	if (run_resolve_targets(run, &err) < 0) {
		free(run->failure);
		run->failure = err;
		return -1;
	}
	return 0;
}

static void
in_doubt_event(struct run *run, struct unit *u, const char *decision, const char *msg)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_IN_DOUBT;
	ev.unit = u;
	ev.phase = u->step->phase;
	ev.detail = decision;
	ev.message = msg;
	emit(run, &ev);
}

size_t
engine_settle_in_doubt(struct run *run, enum in_doubt_choice choice)
{
	size_t undecided = 0;

	for (size_t i = 0; i < run->n_units; i++) {
		struct unit *u = &run->units[i];
		const struct step *s = u->step;

		if (!u->in_doubt)
			continue;
		if (s->check.probe) {
			struct buf why = BUF_INIT;
			bool ok = probe_run_event(run, &s->check, u, "check", &why) == VERDICT_PASS;
			u->in_doubt = false;
			if (ok) {
				u->state = UNIT_DONE;
				run_mark_completed(run, u);
				in_doubt_event(run, u, "check-passed", "the check probe says the step's effect is in place");
			} else {
				char *m = secrets_masked(&run->secrets, buf_str(&why));
				in_doubt_event(run, u, "check-failed", m);
				free(m);
			}
			buf_release(&why);
		} else if (s->idempotent) {
			u->in_doubt = false;
			in_doubt_event(run, u, "idempotent", "idempotent: run again");
		} else if (choice == IN_DOUBT_RETRY) {
			u->in_doubt = false;
			in_doubt_event(run, u, "retry", "--retry-in-doubt: run again");
		} else if (choice == IN_DOUBT_SKIP) {
			u->in_doubt = false;
			u->state = UNIT_DONE;
			run_mark_completed(run, u);
			in_doubt_event(run, u, "skip", "--skip-in-doubt: counted as done");
		} else {
			undecided++;
		}
	}
	return undecided;
}

int
engine_run(struct run *run)
{
	const struct runbook *rb = run->rb;
	struct event ev;
	int64_t t0 = now_ms();
	bool failed = false;

	run->started_ms = wall_ms();
	if (engine_load_secrets(run) < 0)
		return EXIT_USAGE;
	srandom((unsigned)(t0 ^ getpid()));
	if (rb->deadline_ms > 0)
		run->deadline_at = t0 + rb->deadline_ms;
	sig_watch_start(run);

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_RUN_START;
	emit(run, &ev);

	if (run->resumed) {
		size_t left = engine_settle_in_doubt(run, run->opts->in_doubt);
		if (left > 0 || run->record_error) {
			/* no run end: the run stays unfinished until an operator decides */
			sig_watch_stop(run);
			return EXIT_CANNOT_START;
		}
		if (run->pending_hold && !probe_hold(run, run->pending_hold, "(it stopped this run)"))
			run->outcome = engine_interrupted ? OUTCOME_INTERRUPTED : OUTCOME_GATE;
	}

	for (size_t p = 0; p < rb->n_phases && run->outcome == OUTCOME_RUNNING; p++) {
		const struct phase *ph = &rb->phases[p];
		int rc;

		if (!phase_selected(run, ph))
			continue;
		run->phase = ph;
		phase_event(run, EV_PHASE_START, ph, true);
		rc = phase_run(run, ph);
		phase_event(run, EV_PHASE_END, ph, rc == 1);
		if (rc == -3) {
			fail_run(run, NULL, run->record_error);
			run->outcome = OUTCOME_NEEDS_HUMAN;
		} else if (rc == -1)
			run->outcome = OUTCOME_GATE;
		else if (rc == -2)
			run->outcome = OUTCOME_INTERRUPTED;
		else if (rc == 0)
			failed = true;
		if (failed)
			break;
	}
	if (run->outcome == OUTCOME_RUNNING && engine_interrupted)
		run->outcome = OUTCOME_INTERRUPTED;
	if (run->outcome == OUTCOME_RUNNING && run->record_error) {
		fail_run(run, NULL, run->record_error);
		run->outcome = OUTCOME_NEEDS_HUMAN;
	}
	if (run->outcome == OUTCOME_RUNNING) {
		if (!failed)
			run->outcome = OUTCOME_SUCCEEDED;
		else if (run->opts->no_rollback)
			run->outcome = OUTCOME_NEEDS_HUMAN;
		else if (unwind(run) && !engine_interrupted)
			run->outcome = OUTCOME_ROLLED_BACK;
		else
			/* a signal during the unwind: exit 5, `migrate rollback` finishes it */
			run->outcome = engine_interrupted ? OUTCOME_INTERRUPTED : OUTCOME_NEEDS_HUMAN;
	}
	run->duration_ms = now_ms() - t0;
	sig_watch_stop(run);
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_RUN_END;
	ev.message = run->failure;
	ev.ok = run->outcome == OUTCOME_SUCCEEDED;
	emit(run, &ev);

	return run->outcome == OUTCOME_RUNNING ? EXIT_NEEDS_HUMAN : outcome_exit_code(run->outcome);
}

int
outcome_exit_code(enum run_outcome o)
{
	switch (o) {
	case OUTCOME_SUCCEEDED: return EXIT_OK;
	case OUTCOME_ROLLED_BACK: return EXIT_ROLLED_BACK;
	case OUTCOME_NEEDS_HUMAN: return EXIT_NEEDS_HUMAN;
	case OUTCOME_GATE: return EXIT_GATE;
	case OUTCOME_INTERRUPTED: return EXIT_INTERRUPTED;
	case OUTCOME_RUNNING: break;
	}
	return -1;
}

int
engine_rollback(struct run *run)
{
	struct event ev;
	int64_t t0 = now_ms();
	bool ok;

	run->started_ms = wall_ms();
	if (engine_load_secrets(run) < 0)
		return EXIT_USAGE;
	sig_watch_start(run);
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_RUN_START;
	emit(run, &ev);
	ok = unwind(run);
	run->duration_ms = now_ms() - t0;
	if (run->record_error)
		run->outcome = OUTCOME_NEEDS_HUMAN;
	else if (engine_interrupted)
		run->outcome = OUTCOME_INTERRUPTED;
	else
		run->outcome = ok ? OUTCOME_ROLLED_BACK : OUTCOME_NEEDS_HUMAN;
	sig_watch_stop(run);
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_RUN_END;
	ev.message = run->failure;
	ev.ok = ok;
	emit(run, &ev);
	if (run->outcome == OUTCOME_ROLLED_BACK)
		return EXIT_OK;
	return outcome_exit_code(run->outcome);
}
