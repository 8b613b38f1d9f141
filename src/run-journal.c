#include "run-journal.h"

#include <json-c/json.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "gate.h"
#include "lifeline.h"
#include "output.h"
#include "runlog.h"
#include "statedir.h"
#include "util.h"

/* Output kept per unit in the journal: the last lines, bounded. */
#define JOURNAL_TAIL_LINES 20
#define JOURNAL_TAIL_MAX 8192

struct run_journal {
	struct journal *j;
	char *file;
	char *by;
	bool forced;
	char **supersedes;
	size_t n_supersedes;
	char *boot_id;          /* this machine's boot, for unit_pgid; read once */
};

struct run_journal *
run_journal_new(struct journal *j, const char *file, const char *by, bool forced)
{
	struct run_journal *rj = xcalloc(1, sizeof(*rj));

	rj->j = j;
	rj->file = xstrdup(file);
	rj->by = by ? xstrdup(by) : NULL;
	rj->forced = forced;
	return rj;
}

void
run_journal_free(struct run_journal *rj)
{
	if (rj == NULL)
		return;
	journal_free(rj->j);
	free(rj->file);
	free(rj->by);
	free(rj->boot_id);
	for (size_t i = 0; i < rj->n_supersedes; i++)
		free(rj->supersedes[i]);
	free(rj->supersedes);
	free(rj);
}

void
run_journal_set_supersedes(struct run_journal *rj, char *const *ids, size_t n)
{
	rj->supersedes = xcalloc(n ? n : 1, sizeof(*rj->supersedes));
	for (size_t i = 0; i < n; i++)
		rj->supersedes[i] = xstrdup(ids[i]);
	rj->n_supersedes = n;
}

static struct json_object *
jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* v as JSON, every string masked; *masked becomes true if masking changed one. */
static struct json_object *
value_json(const struct value *v, const struct secrets *s, bool *masked)
{
	struct json_object *o;
	struct buf b = BUF_INIT;

	switch (v->type) {
	case VAL_STR:
		buf_adds(&b, v->str ? v->str : "");
		secrets_mask(s, &b);
		if (strcmp(buf_str(&b), v->str ? v->str : "") != 0)
			*masked = true;
		o = json_object_new_string(buf_str(&b));
		buf_release(&b);
		return o;
	case VAL_LIST:
		o = json_object_new_array();
		for (size_t i = 0; i < v->n; i++)
			json_object_array_add(o, value_json(&v->items[i], s, masked));
		return o;
	case VAL_MAP:
		o = json_object_new_object();
		for (size_t i = 0; i < v->n; i++)
			json_object_object_add(o, v->keys[i], value_json(&v->items[i], s, masked));
		return o;
	}
	return NULL;
}

/*
 * The runbook's vars for run_start, masked. Each var that held a secret is
 * named in masked_vars with the name of the secret whose whole value it held
 * (resume reads that secret again to restore it), or null when it held a
 * secret only in part or inside a list or map (resume refuses such a run).
 */
static void
add_vars(struct json_object *r, const struct run *run)
{
	const struct value *vars = &run->rb->vars;
	struct json_object *o = json_object_new_object(), *names = json_object_new_object();

	for (size_t i = 0; vars->type == VAL_MAP && i < vars->n; i++) {
		const struct value *v = &vars->items[i];
		bool masked = false;
		json_object_object_add(o, vars->keys[i], value_json(v, &run->secrets, &masked));
		if (masked) {
			const char *from = v->type == VAL_STR && v->str ? secrets_name_of(&run->secrets, v->str) : NULL;
			json_object_object_add(names, vars->keys[i], jstr(from));
		}
	}
	json_object_object_add(r, "vars", o);
	if (json_object_object_length(names) > 0)
		json_object_object_add(r, "masked_vars", names);
	else
		json_object_put(names);
}

static struct json_object *
record(const char *type)
{
	struct json_object *r = json_object_new_object();
	json_object_object_add(r, "type", json_object_new_string(type));
	return r;
}

static void
add_str(struct json_object *r, const char *key, const char *val)
{
	json_object_object_add(r, key, jstr(val));
}

static void
unit_fields(struct json_object *r, const struct unit *u)
{
	add_str(r, "unit", u->key);
	add_str(r, "step", u->step->name);
	add_str(r, "phase", u->step->phase->name);
	add_str(r, "item", u->item);
	add_str(r, "host", u->host);
}

static struct json_object *
selection(const struct run *run)
{
	const struct engine_opts *o = run->opts;
	struct json_object *s = json_object_new_object();
	struct json_object *ph = json_object_new_array();

	for (size_t i = 0; i < o->n_phases; i++)
		json_object_array_add(ph, json_object_new_string(o->phases[i]));
	json_object_object_add(s, "phases", ph);
	add_str(s, "from", o->from);
	add_str(s, "to", o->to);
	return s;
}

static const char *
outcome_key(enum run_outcome o)
{
	switch (o) {
	case OUTCOME_SUCCEEDED: return "succeeded";
	case OUTCOME_ROLLED_BACK: return "rolled_back";
	case OUTCOME_NEEDS_HUMAN: return "needs_human";
	case OUTCOME_GATE: return "gate";
	case OUTCOME_INTERRUPTED: return "interrupted";
	case OUTCOME_WINDOW: return "window";
	case OUTCOME_RUNNING: break;
	}
	return "running";
}

static void
host_fields(struct json_object *r)
{
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	json_object_object_add(r, "pid", json_object_new_int64((int64_t)getpid()));
	add_str(r, "host", host);
}

struct json_object *
run_journal_approval(const char *gate, const char *name, const char *user, const char *host, const char *via)
{
	struct json_object *r = record(RL_APPROVAL);
	char here[256] = "";

	gethostname(here, sizeof(here) - 1);
	add_str(r, "gate", gate);
	add_str(r, "name", name);
	add_str(r, "user", user ? user : gate_user_name());
	add_str(r, "host", host ? host : here);
	add_str(r, "via", via);
	return r;
}

static struct json_object *
start_record(struct run_journal *rj, const struct run *run)
{
	struct json_object *r;
	const char *user = getenv("USER");

	if (rj->by) {
		r = record(RL_RESUME);
		add_str(r, "by", rj->by);
		json_object_object_add(r, "forced", json_object_new_boolean(rj->forced));
		host_fields(r);
		return r;
	}
	r = record(RL_RUN_START);
	add_str(r, "run_id", run->id);
	add_str(r, "runbook", run->rb->name);
	add_str(r, "file", rj->file);
	add_str(r, "sha256", run->rb->sha256);
	add_vars(r, run);
	json_object_object_add(r, "selection", selection(run));
	host_fields(r);
	add_str(r, "user", user ? user : "");
	add_str(r, "version", MIGRATE_VERSION);
	{
		/* the start the first session's reports give, so later sessions' reports agree */
		char ts[STATEDIR_TIME_SIZE];
		if (statedir_format_time(run->first_started_ms, ts) == 0)
			add_str(r, "started", ts);
	}
	if (rj->n_supersedes > 0) {
		struct json_object *a = json_object_new_array();
		for (size_t i = 0; i < rj->n_supersedes; i++)
			json_object_array_add(a, json_object_new_string(rj->supersedes[i]));
		json_object_object_add(r, "supersedes", a);
	}
	return r;
}

static void
add_tail(struct json_object *r, const struct run *run, const struct buf *tail)
{
	struct buf b = BUF_INIT;
	const char *p;

	output_tail_lines(buf_str(tail), tail->len, JOURNAL_TAIL_LINES, "", &b);
	p = buf_str(&b);
	if (b.len > JOURNAL_TAIL_MAX)
		p += b.len - JOURNAL_TAIL_MAX;
	json_object_object_add(r, "tail", json_object_new_string(p));
	buf_release(&b);
}

static struct json_object *
unit_end_record(const struct run *run, const struct unit *u)
{
	struct json_object *r = record(RL_UNIT_END);
	struct json_object *caps = json_object_new_object();
	const char *status = u->state == UNIT_DONE ? "done" : u->state == UNIT_INTERRUPTED ? "interrupted" : "failed";

	add_str(r, "unit", u->key);
	add_str(r, "status", status);
	json_object_object_add(r, "attempts", json_object_new_int(u->attempts));
	json_object_object_add(r, "exit_code", u->exit_code >= 0 ? json_object_new_int(u->exit_code) : NULL);
	json_object_object_add(r, "duration_ms", json_object_new_int64(u->duration_ms));
	add_str(r, "message", u->state == UNIT_DONE ? NULL : u->message);
	if (u->state == UNIT_DONE) {
		struct run *mrun = (struct run *)run;   /* only its lock is touched */
		pthread_mutex_lock(&mrun->cap_lock);
		for (size_t i = 0; i < u->step->n_captures; i++) {
			const char *v = run_capture_at(run, u->step->name, u->step->captures[i].name, SIZE_MAX);
			if (v)
				json_object_object_add(caps, u->step->captures[i].name, json_object_new_string(v));
		}
		pthread_mutex_unlock(&mrun->cap_lock);
	}
	json_object_object_add(r, "captures", caps);
	if (u->result) {
		struct json_object *res = json_object_new_object();
		probe_sample_json(u->result, res);
		json_object_object_add(r, "result", res);
	}
	add_tail(r, run, &u->tail);
	return r;
}

/* A local command's process group, and the boot it belongs to (SPEC §4). */
static void
add_pgid(struct run_journal *rj, struct json_object *r, pid_t pgid)
{
	json_object_object_add(r, "pgid", json_object_new_int64((int64_t)pgid));
	if (rj->boot_id == NULL)
		rj->boot_id = lifeline_boot_id();
	add_str(r, "boot_id", rj->boot_id);
}

static struct json_object *
event_record(struct run_journal *rj, const struct event *ev)
{
	const struct run *run = ev->run;
	const struct unit *u = ev->unit;
	struct json_object *r = NULL;

	switch (ev->type) {
	case EV_RUN_START:
		return start_record(rj, run);
	case EV_PHASE_START:
		r = record(RL_PHASE_START);
		add_str(r, "phase", ev->phase->name);
		break;
	case EV_PHASE_END:
		r = record(RL_PHASE_END);
		add_str(r, "phase", ev->phase->name);
		json_object_object_add(r, "ok", json_object_new_boolean(ev->ok));
		json_object_object_add(r, "work_ms", json_object_new_int64(ev->work_ms));
		break;
	case EV_GATE:
		r = record(RL_GATE);
		add_str(r, "name", ev->probe);
		add_str(r, "phase", ev->phase ? ev->phase->name : NULL);
		add_str(r, "state", ev->detail);
		add_str(r, "by", ev->by);
		add_str(r, "question", ev->message);
		if (strcmp(ev->detail, "waiting") == 0)
			json_object_object_add(r, "timeout_ms", json_object_new_int64(ev->delay_ms));
		break;
	case EV_COMMIT:
		r = record(RL_COMMIT);
		add_str(r, "phase", ev->phase->name);
		json_object_object_add(r, "completed", json_object_new_int64((int64_t)run->n_completed));
		break;
	case EV_APPROVAL:
		return run_journal_approval(ev->probe, ev->by, ev->user, ev->host, ev->detail);
	case EV_UNIT_START:
		r = record(RL_UNIT_START);
		unit_fields(r, u);
		json_object_object_add(r, "attempt", json_object_new_int(u->attempts > 0 ? u->attempts : 1));
		if (u->pgid > 0)   /* its local command is spawned and waits for its script (unit_run) */
			add_pgid(rj, r, u->pgid);
		break;
	case EV_UNIT_RETRY:
		r = record(RL_UNIT_RETRY);
		add_str(r, "unit", u->key);
		json_object_object_add(r, "attempt", json_object_new_int(u->attempts));
		add_str(r, "message", ev->message);
		json_object_object_add(r, "delay_ms", json_object_new_int64(ev->delay_ms));
		break;
	case EV_UNIT_END:
		return unit_end_record(run, u);
	case EV_UNIT_PGID:
		r = record(RL_UNIT_PGID);
		add_str(r, "unit", u->key);
		add_pgid(rj, r, u->pgid);
		break;
	case EV_IN_DOUBT:
		r = record(RL_IN_DOUBT);
		add_str(r, "unit", u->key);
		add_str(r, "decision", ev->detail);
		add_str(r, "message", ev->message);
		break;
	case EV_PROBE:
		r = record(RL_PROBE);
		add_str(r, "probe", ev->probe);
		add_str(r, "context", ev->detail);
		add_str(r, "unit", u ? u->key : NULL);
		json_object_object_add(r, "ok", json_object_new_boolean(ev->ok));
		add_str(r, "message", ev->message);
		if (ev->sample)
			probe_sample_json(ev->sample, r);
		break;
	case EV_UNWIND_START:
		r = record(RL_UNWIND_START);
		add_str(r, "reason", run->failure);
		break;
	case EV_ROLLBACK_START:
		r = record(RL_ROLLBACK_START);
		add_str(r, "unit", u->key);
		break;
	case EV_ROLLBACK_END:
		r = record(RL_ROLLBACK_END);
		add_str(r, "unit", u->key);
		add_str(r, "status", u->rb_state == RB_DONE ? "done" : u->rb_state == RB_FAILED ? "failed" : "no_rollback");
		add_str(r, "message", u->rb_message);
		json_object_object_add(r, "duration_ms", json_object_new_int64(u->rb_duration_ms));
		if (u->rb_covered_by)
			add_str(r, "covered_by", u->rb_covered_by->key);
		if (u->rb_state != RB_NO_ACTION)
			add_tail(r, run, &u->rb_tail);   /* the rollback's own output (issue 12 item 9) */
		break;
	case EV_RUN_END:
		r = record(RL_RUN_END);
		add_str(r, "outcome", outcome_key(run->outcome));
		json_object_object_add(r, "exit_code", json_object_new_int(outcome_exit_code(run->outcome)));
		add_str(r, "failure", run->failure);
		json_object_object_add(r, "duration_ms", json_object_new_int64(run->duration_ms));
		json_object_object_add(r, "work_ms", json_object_new_int64(ev->work_ms));
		break;
	case EV_PAUSE: {
		char ts[STATEDIR_TIME_SIZE];
		r = record(RL_PAUSE);
		add_str(r, "unit", u->key);
		add_str(r, "step", u->step->name);
		add_str(r, "state", strcmp(ev->detail, "start") == 0 ? "started" : ev->detail);
		add_str(r, "until", statedir_format_time(ev->until_ms, ts) == 0 ? ts : NULL);
		json_object_object_add(r, "duration_ms", json_object_new_int64(ev->length_ms));
		json_object_object_add(r, "wait_ms", json_object_new_int64(ev->delay_ms));
		if (strcmp(ev->detail, "skipped") == 0)
			add_str(r, "by", "--skip-pause");
		break;
	}
	case EV_UNIT_OUTPUT:
		break;
	}
	return r;
}

static void
append(struct run_journal *rj, const struct run *run, struct json_object *r)
{
	char *err = NULL;

	if (journal_append(rj->j, r, &err) < 0) {
		char *m = xasprintf("cannot write the journal: %s", err ? err : "unknown error");
		run_record_failed(run, m);
		free(m);
		free(err);
	}
	json_object_put(r);
}

void
run_journal_notify_failed(struct run_journal *rj, const struct run *run, size_t hook, const char *event,
    const char *kind, const char *message)
{
	struct json_object *r = record(RL_NOTIFY);

	json_object_object_add(r, "hook", json_object_new_int64((int64_t)hook));
	add_str(r, "event", event);
	add_str(r, "kind", kind);
	add_str(r, "message", message);
	append(rj, run, r);
}

void
run_journal_on_event(void *ctx, const struct event *ev)
{
	struct run_journal *rj = ctx;
	struct json_object *r;

	if (ev->type == EV_RUN_END && ev->run->outcome == OUTCOME_INTERRUPTED) {
		struct json_object *i = record(RL_INTERRUPTED);
		add_str(i, "signal", engine_last_signal == SIGTERM ? "SIGTERM"
		    : engine_last_signal == SIGHUP ? "SIGHUP" : "SIGINT");
		append(rj, ev->run, i);
	}
	r = event_record(rj, ev);
	if (r)
		append(rj, ev->run, r);
}
