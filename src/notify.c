/*
 * notify.c - notify: hooks (SPEC §7). Local `run` hooks run here with
 * `sh -s` (the command on standard input, as steps run), bounded by the
 * hook's timeout; `http` hooks are refused by the preflight in this
 * release. Event text is built from masked strings (the failure, the gate's
 * question), and the expanded command is masked before any message.
 */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "child.h"
#include "secrets.h"
#include "util.h"

struct notify {
	const struct runbook *rb;
	bool unwound;            /* an unwind started in this process */
};

struct notify *
notify_new(const struct runbook *rb)
{
	struct notify *n;

	if (rb->n_notify == 0)
		return NULL;
	n = xcalloc(1, sizeof(*n));
	n->rb = rb;
	return n;
}

void
notify_free(struct notify *n)
{
	free(n);
}

static void
run_hook(const struct run *run, size_t i, const char *const *event)
{
	const struct notify_hook *h = &run->rb->notify[i];
	const char *argv[] = { "sh", "-s", NULL };
	struct child_opts co;
	struct child_result res;
	struct buf cmd = BUF_INIT;
	char *err = NULL;

	if (h->action.kind != ACT_RUN)
		return;
	if (run_expand_event(run, NULL, &h->action.run, false, event, &cmd, &err) < 0) {
		fprintf(stderr, "migrate: notify hook %zu (%s): %s; the run goes on\n", i + 1, event[0], err);
		free(err);
		buf_release(&cmd);
		return;
	}
	memset(&co, 0, sizeof(co));
	co.argv = argv;
	co.stdin_data = buf_str(&cmd);
	co.stdin_len = cmd.len;
	co.timeout_ms = h->timeout_ms > 0 ? h->timeout_ms : DEFAULT_NOTIFY_TIMEOUT_MS;
	co.kill_grace_ms = 1000;
	co.tail_max = 4096;
	child_run(&co, &res);
	if (res.status != CHILD_EXITED || res.exit_code != 0) {
		struct buf why = BUF_INIT;
		if (res.status == CHILD_TIMEOUT)
			buf_addf(&why, "no answer within its timeout (%lld ms)", (long long)co.timeout_ms);
		else if (res.status == CHILD_EXITED)
			buf_addf(&why, "exit %d", res.exit_code);
		else
			buf_addf(&why, "%s", res.error ? res.error : child_status_name(res.status));
		secrets_mask(&run->secrets, &why);
		fprintf(stderr, "migrate: notify hook %zu (%s) failed: %s; the run goes on\n", i + 1, event[0],
		    buf_str(&why));
		buf_release(&why);
	}
	child_result_release(&res);
	buf_release(&cmd);
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
						run_hook(run, i, event);
			}
			buf_reset(&text);
		} else if (run->outcome == OUTCOME_NEEDS_HUMAN) {
			const char *event[] = { "failure", phase, "", NULL, run->id };
			buf_addf(&text, "run %s failed: %s", run->id, run->failure ? run->failure : "?");
			event[3] = buf_str(&text);
			for (size_t i = 0; i < run->rb->n_notify; i++)
				if (run->rb->notify[i].events & NOTIFY_FAILURE)
					run_hook(run, i, event);
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
				run_hook(run, i, event);
	}
	buf_release(&text);
}
