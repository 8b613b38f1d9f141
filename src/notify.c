/*
 * notify.c - notify: hooks (SPEC §7). Local `run` hooks run here with
 * `sh -s` (the command on standard input, as steps run); `http` hooks are
 * one request through the HTTP client (http-action.c builds it, with
 * ${event.*} bound in the URL, headers and body). Either is bounded by the
 * hook's timeout. Event text is built from masked strings (the failure,
 * the gate's question), and every message is masked. A hook that fails
 * (non-zero exit, no answer in time, a status other than 2xx, no
 * connection) is shown on stderr and journaled as a notify record; the
 * run's outcome never changes.
 */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "child.h"
#include "duration.h"
#include "http-action.h"
#include "http-client.h"
#include "secrets.h"
#include "util.h"

struct notify {
	const struct runbook *rb;
	struct run_journal *rj;  /* where failed hooks are journaled; may be NULL */
	bool unwound;            /* an unwind started in this process */
};

struct notify *
notify_new(const struct runbook *rb, struct run_journal *rj)
{
	struct notify *n;

	if (rb->n_notify == 0)
		return NULL;
	n = xcalloc(1, sizeof(*n));
	n->rb = rb;
	n->rj = rj;
	return n;
}

void
notify_free(struct notify *n)
{
	free(n);
}

/* A hook failed: shown and journaled (why is masked here); the run goes on. */
static void
hook_failed(struct notify *n, const struct run *run, size_t i, const char *event, struct buf *why)
{
	const struct notify_hook *h = &run->rb->notify[i];

	secrets_mask(&run->secrets, why);
	fprintf(stderr, "migrate: notify hook %zu (%s) failed: %s; the run goes on\n", i + 1, event, buf_str(why));
	if (n->rj)
		run_journal_notify_failed(n->rj, run, i + 1, event, h->action.kind == ACT_HTTP ? "http" : "run",
		    buf_str(why));
}

/* A local command: sh -s with the expanded command on stdin. */
static void
run_command_hook(const struct run *run, const struct notify_hook *h, const char *const *event,
    int64_t timeout_ms, struct buf *why)
{
	const char *argv[] = { "sh", "-s", NULL };
	struct child_opts co;
	struct child_result res;
	struct buf cmd = BUF_INIT;
	char *err = NULL;

	if (run_expand_event(run, NULL, &h->action.run, false, event, &cmd, &err) < 0) {
		buf_adds(why, err);
		free(err);
		buf_release(&cmd);
		return;
	}
	memset(&co, 0, sizeof(co));
	co.argv = argv;
	co.stdin_data = buf_str(&cmd);
	co.stdin_len = cmd.len;
	co.timeout_ms = timeout_ms;
	co.kill_grace_ms = 1000;
	co.tail_max = 4096;
	child_run(&co, &res);
	if (res.status == CHILD_TIMEOUT) {
		buf_adds(why, "no answer within its timeout (");
		duration_format_exact(why, timeout_ms);
		buf_adds(why, ")");
	} else if (res.status == CHILD_EXITED && res.exit_code != 0) {
		buf_addf(why, "exit %d", res.exit_code);
	} else if (res.status != CHILD_EXITED) {
		buf_addf(why, "%s", res.error ? res.error : child_status_name(res.status));
	}
	child_result_release(&res);
	if (cmd.data)
		explicit_bzero(cmd.data, cmd.cap);
	buf_release(&cmd);
}

struct hook_scope {
	const struct run *run;
	const char *const *event;
};

static int
expand_hook_text(void *ctx, const struct text *t, struct buf *out, char **err)
{
	const struct hook_scope *sc = ctx;
	return run_expand_event(sc->run, NULL, t, false, sc->event, out, err);
}

/* An HTTP request, from this machine; a status other than 2xx is a failure. */
static void
http_hook(const struct run *run, const struct notify_hook *h, const char *const *event, int64_t timeout_ms,
    struct buf *why)
{
	struct hook_scope sc = { run, event };
	struct http_call call;
	struct http_response resp;
	char *err = NULL;

	memset(&call, 0, sizeof(call));
	if (http_call_build(&call, &h->action, expand_hook_text, &sc, NULL, &err) < 0) {
		buf_adds(why, err ? err : "cannot build the request");
		free(err);
		http_call_release(&call);
		return;
	}
	call.req.timeout_ms = timeout_ms;
	http_perform(NULL, &call.req, &resp);
	switch (resp.outcome) {
	case HTTP_RESPONSE:
		if (resp.status != 0 && (resp.status < 200 || resp.status > 299))
			buf_addf(why, "status %d, expected 2xx", resp.status);
		break;
	case HTTP_TIMED_OUT:
		buf_adds(why, "no answer within its timeout (");
		duration_format_exact(why, timeout_ms);
		buf_adds(why, ")");
		break;
	case HTTP_CANCELLED:
		buf_adds(why, "stopped");
		break;
	case HTTP_FAILED:
		buf_adds(why, resp.error ? resp.error : "the request failed");
		break;
	}
	http_response_release(&resp);
	http_call_release(&call);
}

static void
run_hook(struct notify *n, const struct run *run, size_t i, const char *const *event)
{
	const struct notify_hook *h = &run->rb->notify[i];
	int64_t timeout_ms = h->timeout_ms > 0 ? h->timeout_ms : DEFAULT_NOTIFY_TIMEOUT_MS;
	struct buf why = BUF_INIT;

	if (h->action.kind == ACT_RUN)
		run_command_hook(run, h, event, timeout_ms, &why);
	else if (h->action.kind == ACT_HTTP)
		http_hook(run, h, event, timeout_ms, &why);
	if (why.len)
		hook_failed(n, run, i, event[0], &why);
	buf_release(&why);
}

void
notify_on_event(void *ctx, const struct event *ev)
{
	struct notify *n = ctx;
	const struct run *run = ev->run;
	struct buf text = BUF_INIT;
	const char *kind = NULL, *phase = ev->phase ? ev->phase->name : run->phase ? run->phase->name : "";
	const char *step = ev->unit ? ev->unit->step->name : "";
	unsigned bit = 0;

	switch (ev->type) {
	case EV_RUN_START:
		kind = "start", bit = NOTIFY_START;
		buf_addf(&text, "run %s of %s %s", run->id, run->rb->name, run->resumed ? "resumed" : "started");
		break;
	case EV_PHASE_START:
		kind = "phase", bit = NOTIFY_PHASE;
		buf_addf(&text, "run %s: phase %s started", run->id, phase);
		break;
	case EV_GATE:
		if (strcmp(ev->detail, "asked") != 0)
			break;
		kind = "gate", bit = NOTIFY_GATE;
		step = ev->probe ? ev->probe : "";
		buf_addf(&text, "run %s waits at gate %s: %s", run->id, step, ev->message ? ev->message : "");
		break;
	case EV_UNWIND_START:
		n->unwound = true;
		kind = "failure", bit = NOTIFY_FAILURE;
		if (run->failed_unit) {
			step = run->failed_unit->step->name;
			phase = run->failed_unit->step->phase->name;
		}
		buf_addf(&text, "run %s failed: %s; rolling back", run->id, run->failure ? run->failure : "?");
		break;
	case EV_RUN_END:
		if (n->unwound) {
			n->unwound = false;
			buf_addf(&text, "run %s: rollback %s", run->id,
			    run->outcome == OUTCOME_ROLLED_BACK ? "completed" : "did not complete");
			{
				const char *event[] = { "rollback", phase, "", buf_str(&text), run->id };
				for (size_t i = 0; i < run->rb->n_notify; i++)
					if (run->rb->notify[i].events & NOTIFY_ROLLBACK)
						run_hook(n, run, i, event);
			}
			buf_reset(&text);
		} else if (run->outcome == OUTCOME_NEEDS_HUMAN) {
			const char *event[] = { "failure", phase, run->failed_unit ? run->failed_unit->step->name : "",
			    NULL, run->id };
			buf_addf(&text, "run %s failed: %s", run->id, run->failure ? run->failure : "?");
			event[3] = buf_str(&text);
			for (size_t i = 0; i < run->rb->n_notify; i++)
				if (run->rb->notify[i].events & NOTIFY_FAILURE)
					run_hook(n, run, i, event);
			buf_reset(&text);
		}
		kind = "done", bit = NOTIFY_DONE;
		buf_addf(&text, "run %s ended: %s (exit %d)%s%s", run->id, outcome_name(run->outcome),
		    outcome_exit_code(run->outcome), run->failure ? ": " : "", run->failure ? run->failure : "");
		break;
	default:
		break;
	}
	if (kind) {
		const char *event[] = { kind, phase, step, buf_str(&text), run->id };
		for (size_t i = 0; i < run->rb->n_notify; i++)
			if (run->rb->notify[i].events & bit)
				run_hook(n, run, i, event);
	}
	buf_release(&text);
}
