/* runlog.c - rebuild the state of a run by replaying its journal (runlog.h). */
#include "runlog.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "journal.h"
#include "strmap.h"
#include "util.h"

/* What the replay keeps besides struct rl_run while it folds records in. */
struct replay {
	struct rl_run *run;
	struct strmap *index;      /* unit key (the unit's own copy) -> index in run->units */
	struct json_object *no_captures; /* {}, shared by the units that captured nothing */
	size_t *gen;               /* per unit: n_resumes when its sequence began */
	size_t cap_units, cap_gen;
	size_t completed;          /* completed_seq handed out so far */
	char *last_ts;             /* ts of the last record */
	int64_t prev_ms;           /* ts of the record before the one being folded in */
	size_t line;               /* line of the record being folded in (1-based) */
};

static const char *
str_field(struct json_object *rec, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(rec, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/* An integer field; false (and *out untouched) when missing or not a number. */
static bool
int_field(struct json_object *rec, const char *key, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(rec, key, &v))
		return false;
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return true;
	}
	if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);
		if (d >= -9.2e18 && d <= 9.2e18) {
			*out = (int64_t)d;
			return true;
		}
	}
	return false;
}

static int
clamp_int(int64_t v)
{
	if (v > INT32_MAX)
		return INT32_MAX;
	if (v < INT32_MIN)
		return INT32_MIN;
	return (int)v;
}

/* Replace *dst with a copy of src (NULL allowed). */
static void
set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

/* Replace *dst with a new reference to the field key of rec, or NULL. */
static void
set_obj(struct json_object **dst, struct json_object *rec, const char *key, enum json_type type)
{
	struct json_object *v;

	json_object_put(*dst);
	*dst = NULL;
	if (json_object_object_get_ex(rec, key, &v) && json_object_is_type(v, type))
		*dst = json_object_get(v);
}

/* Milliseconds since the epoch of an RFC 3339 UTC time as the journal writes it. */
static bool
parse_ts(const char *s, int64_t *ms)
{
	return s && rfc3339_parse(s, ms);
}

/* ts(b) - ts(a) in ms, or 0 when either cannot be read. */
static int64_t
ts_diff(const char *a, const char *b)
{
	int64_t ma, mb;

	if (!parse_ts(a, &ma) || !parse_ts(b, &mb) || mb < ma)
		return 0;
	return mb - ma;
}

/* --- the shape of each record type (runlog.h) --- */

enum fkind {
	FK_STR,        /* a string */
	FK_KEY,        /* a non-empty string */
	FK_STR_NULL,   /* a string, null, or missing */
	FK_INT,        /* an integer */
	FK_INT_NULL,   /* an integer, null, or missing */
	FK_BOOL,
	FK_OBJ,        /* an object */
	FK_STRINGS,    /* an object whose values are strings (captures) */
};

struct fspec {
	const char *key;
	enum fkind kind;
	const char *const *values; /* when not NULL: the string must be one of these */
};

struct rspec {
	const char *type;
	struct fspec f[11];
};

static const char *const unit_statuses[] = { "done", "failed", "interrupted", "skipped", NULL };
static const char *const rb_statuses[] = { "done", "failed", "no_rollback", NULL };
static const char *const decisions[] = { "check-passed", "check-failed", "idempotent", "retry", "skip", NULL };
static const char *const outcomes[] = { "succeeded", "rolled_back", "needs_human", "gate", "interrupted", "window",
	NULL };
static const char *const pause_states[] = { "started", "done", "stopped", "skipped", NULL };
static const char *const gate_states[] = { "asked", "waiting", "approved", "declined", "unanswered", "interrupted",
	"timed-out", "rollback", "stopped", NULL };

static const struct rspec shapes[] = {
	{ RL_RUN_START, { { "run_id", FK_KEY, NULL }, { "runbook", FK_KEY, NULL }, { "file", FK_KEY, NULL },
	    { "sha256", FK_KEY, NULL }, { "vars", FK_OBJ, NULL }, { "selection", FK_OBJ, NULL },
	    { "pid", FK_INT, NULL }, { "host", FK_STR, NULL }, { "user", FK_STR, NULL },
	    { "version", FK_STR, NULL }, { "started", FK_STR_NULL, NULL } } },
	{ RL_RESUME, { { "by", FK_KEY, NULL }, { "forced", FK_BOOL, NULL }, { "pid", FK_INT, NULL },
	    { "host", FK_STR, NULL } } },
	{ RL_PHASE_START, { { "phase", FK_KEY, NULL } } },
	{ RL_PHASE_END, { { "phase", FK_KEY, NULL }, { "ok", FK_BOOL, NULL }, { "work_ms", FK_INT_NULL, NULL } } },
	{ RL_GATE, { { "name", FK_KEY, NULL }, { "state", FK_STR, gate_states }, { "phase", FK_STR_NULL, NULL },
	    { "by", FK_STR_NULL, NULL }, { "question", FK_STR_NULL, NULL } } },
	{ RL_APPROVAL, { { "gate", FK_KEY, NULL }, { "name", FK_KEY, NULL }, { "user", FK_STR_NULL, NULL },
	    { "host", FK_STR_NULL, NULL }, { "via", FK_STR_NULL, NULL } } },
	{ RL_UNIT_START, { { "unit", FK_KEY, NULL }, { "step", FK_KEY, NULL }, { "phase", FK_STR_NULL, NULL },
	    { "item", FK_STR_NULL, NULL }, { "host", FK_STR_NULL, NULL }, { "attempt", FK_INT, NULL },
	    { "pgid", FK_INT_NULL, NULL }, { "boot_id", FK_STR_NULL, NULL } } },
	{ RL_UNIT_RETRY, { { "unit", FK_KEY, NULL }, { "attempt", FK_INT, NULL }, { "message", FK_STR_NULL, NULL },
	    { "delay_ms", FK_INT, NULL } } },
	{ RL_UNIT_END, { { "unit", FK_KEY, NULL }, { "status", FK_STR, unit_statuses }, { "attempts", FK_INT, NULL },
	    { "exit_code", FK_INT_NULL, NULL }, { "duration_ms", FK_INT, NULL }, { "message", FK_STR_NULL, NULL },
	    { "captures", FK_STRINGS, NULL }, { "tail", FK_STR_NULL, NULL } } },
	{ RL_UNIT_PGID, { { "unit", FK_KEY, NULL }, { "pgid", FK_INT, NULL }, { "boot_id", FK_STR_NULL, NULL } } },
	{ RL_IN_DOUBT, { { "unit", FK_KEY, NULL }, { "decision", FK_STR, decisions },
	    { "message", FK_STR_NULL, NULL } } },
	{ RL_PROBE, { { "probe", FK_STR, NULL }, { "context", FK_STR, NULL }, { "unit", FK_STR_NULL, NULL },
	    { "ok", FK_BOOL, NULL }, { "message", FK_STR_NULL, NULL } } },
	{ RL_UNWIND_START, { { "reason", FK_STR_NULL, NULL } } },
	{ RL_ROLLBACK_START, { { "unit", FK_KEY, NULL } } },
	{ RL_ROLLBACK_END, { { "unit", FK_KEY, NULL }, { "status", FK_STR, rb_statuses },
	    { "message", FK_STR_NULL, NULL }, { "duration_ms", FK_INT, NULL } } },
	{ RL_INTERRUPTED, { { "signal", FK_KEY, NULL } } },
	{ RL_NOTIFY, { { "hook", FK_INT, NULL }, { "event", FK_STR, NULL }, { "kind", FK_STR_NULL, NULL },
	    { "message", FK_STR_NULL, NULL } } },
	{ RL_PAUSE, { { "unit", FK_KEY, NULL }, { "state", FK_STR, pause_states }, { "until", FK_STR_NULL, NULL },
	    { "duration_ms", FK_INT, NULL }, { "wait_ms", FK_INT, NULL } } },
	{ RL_RUN_END, { { "outcome", FK_STR, outcomes }, { "exit_code", FK_INT, NULL },
	    { "failure", FK_STR_NULL, NULL }, { "duration_ms", FK_INT, NULL }, { "work_ms", FK_INT_NULL, NULL } } },
};

static const char *
kind_name(enum fkind k)
{
	switch (k) {
	case FK_STR: return "a string";
	case FK_KEY: return "a non-empty string";
	case FK_STR_NULL: return "a string or null";
	case FK_INT: return "an integer";
	case FK_INT_NULL: return "an integer or null";
	case FK_BOOL: return "true or false";
	case FK_OBJ: return "an object";
	case FK_STRINGS: return "an object of strings";
	}
	return "?";
}

static bool
one_of(const char *s, const char *const *values)
{
	for (; *values; values++)
		if (strcmp(s, *values) == 0)
			return true;
	return false;
}

static bool
field_ok(struct json_object *v, bool present, enum fkind k)
{
	switch (k) {
	case FK_STR:
		return present && json_object_is_type(v, json_type_string);
	case FK_KEY:
		return present && json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0;
	case FK_STR_NULL:
		return !present || v == NULL || json_object_is_type(v, json_type_string);
	case FK_INT:
		return present && json_object_is_type(v, json_type_int);
	case FK_INT_NULL:
		return !present || v == NULL || json_object_is_type(v, json_type_int);
	case FK_BOOL:
		return present && json_object_is_type(v, json_type_boolean);
	case FK_OBJ:
		return present && json_object_is_type(v, json_type_object);
	case FK_STRINGS:
		if (!present || !json_object_is_type(v, json_type_object))
			return false;
		json_object_object_foreach(v, name, val) {
			(void)name;
			if (!json_object_is_type(val, json_type_string))
				return false;
		}
		return true;
	}
	return false;
}

/*
 * Check rec against the shape of its type: every field present with its
 * JSON type, and enumerated strings one of their values. A type this
 * version does not know passes (a newer migrate may add record types).
 * 0, or -1 with the reason in why.
 */
static int
check_shape(struct json_object *rec, struct buf *why)
{
	const char *type = str_field(rec, "type");
	int64_t ms;

	if (type == NULL) {
		buf_adds(why, "the record has no \"type\"");
		return -1;
	}
	if (!parse_ts(str_field(rec, JOURNAL_KEY_TS), &ms)) {
		buf_adds(why, "\"ts\" is not an RFC 3339 UTC time");
		return -1;
	}
	for (size_t i = 0; i < ARRAY_LEN(shapes); i++) {
		if (strcmp(shapes[i].type, type) != 0)
			continue;
		for (const struct fspec *f = shapes[i].f; f < shapes[i].f + ARRAY_LEN(shapes[i].f) && f->key; f++) {
			struct json_object *v = NULL;
			bool present = json_object_object_get_ex(rec, f->key, &v);
			if (!field_ok(v, present, f->kind)) {
				buf_addf(why, "%s record: \"%s\" is %s, it must be %s", type, f->key,
				    present ? "of the wrong type" : "missing", kind_name(f->kind));
				return -1;
			}
			if (f->values && !one_of(json_object_get_string(v), f->values)) {
				buf_addf(why, "%s record: unknown %s '%s'", type, f->key, json_object_get_string(v));
				return -1;
			}
		}
		return 0;
	}
	return 0;
}

/* The unit with key, made (RLU_PENDING, names from the key) when new. */
static struct rl_unit *
unit_get(struct replay *rp, const char *key)
{
	struct rl_run *run = rp->run;
	size_t idx;
	struct rl_unit *u;
	const char *at, *end;

	if ((idx = strmap_get(rp->index, key)) != STRMAP_NONE)
		return &run->units[idx];
	xgrow((void **)&run->units, &rp->cap_units, run->n_units + 1, sizeof(*run->units));
	xgrow((void **)&rp->gen, &rp->cap_gen, run->n_units + 1, sizeof(*rp->gen));
	u = &run->units[run->n_units];
	memset(u, 0, sizeof(*u));
	rp->gen[run->n_units] = 0;
	u->key = xstrdup(key);
	u->line = rp->line;
	at = strchr(key, '@');
	end = key + strcspn(key, "[@");
	u->step = xstrndup(key, (size_t)(end - key));
	u->host = xstrdup(at ? at + 1 : "local");
	strmap_put(rp->index, u->key, run->n_units);
	run->n_units++;
	return u;
}

static struct rl_unit *
record_unit(struct replay *rp, struct json_object *rec)
{
	const char *key = str_field(rec, "unit");

	return key && *key ? unit_get(rp, key) : NULL;
}

/* Forget what an earlier attempt sequence of u found. */
static void
unit_clear_results(struct rl_unit *u)
{
	u->has_exit = false;
	u->exit_code = 0;
	u->interrupted = false;
	u->duration_ms = 0;
	set_str(&u->message, NULL);
	set_str(&u->tail, NULL);
	json_object_put(u->captures);
	u->captures = NULL;
	u->completed_seq = 0;
	u->rb_state = RLR_NONE;
	set_str(&u->rb_message, NULL);
	set_str(&u->rb_tail, NULL);
	set_str(&u->rb_covered_by, NULL);
	u->rb_duration_ms = 0;
	set_str(&u->in_doubt_decision, NULL);
}

static void
on_run_start(struct replay *rp, struct json_object *rec, const char *ts)
{
	struct rl_run *run = rp->run;
	int64_t pid = 0;

	set_str(&run->run_id, str_field(rec, "run_id"));
	set_str(&run->runbook, str_field(rec, "runbook"));
	set_str(&run->file, str_field(rec, "file"));
	set_str(&run->sha256, str_field(rec, "sha256"));
	set_str(&run->host, str_field(rec, "host"));
	set_str(&run->user, str_field(rec, "user"));
	if (int_field(rec, "pid", &pid))
		run->pid = (long)pid;
	set_obj(&run->vars, rec, "vars", json_type_object);
	set_obj(&run->masked_vars, rec, "masked_vars", json_type_object);
	if (run->masked_vars == NULL) /* an old journal: a list of names */
		set_obj(&run->masked_vars, rec, "masked_vars", json_type_array);
	set_obj(&run->selection, rec, "selection", json_type_object);
	/* the run's own start (the record's ts is when it was written, a moment later) */
	set_str(&run->started, str_field(rec, "started") ? str_field(rec, "started") : ts);
}

static void
on_resume(struct replay *rp, struct json_object *rec)
{
	struct rl_run *run = rp->run;
	int64_t pid;

	run->n_resumes++;
	run->interrupted = false;
	set_str(&run->waiting_gate, NULL);
	set_str(&run->ended, NULL);
	set_str(&run->outcome, NULL);
	set_str(&run->failure, NULL);
	run->exit_code = -1;
	if (int_field(rec, "pid", &pid))
		run->pid = (long)pid;
}

static void
on_gate(struct replay *rp, struct json_object *rec, const char *ts)
{
	struct rl_run *run = rp->run;
	const char *name = str_field(rec, "name");
	const char *state = str_field(rec, "state");

	struct rl_gate *g = NULL;

	if (name == NULL || state == NULL)
		return;
	for (size_t i = 0; i < run->n_gates && g == NULL; i++)
		if (strcmp(run->gates[i].name, name) == 0)
			g = &run->gates[i];
	if (g == NULL) {
		struct rl_gate ng;
		memset(&ng, 0, sizeof(ng));
		set_str(&ng.name, name);
		PUSH(run->gates, run->n_gates, run->cap_gates, ng);
		g = &run->gates[run->n_gates - 1];
	}
	set_str(&g->phase, str_field(rec, "phase"));
	set_str(&g->state, state);
	set_str(&g->by, str_field(rec, "by"));
	set_str(&g->ts, ts);
	set_str(&run->waiting_gate, strcmp(state, "waiting") == 0 ? name : NULL);
	if (strcmp(state, "declined") == 0 || strcmp(state, "unanswered") == 0 || strcmp(state, "timed-out") == 0)
		set_str(&run->pending_gate, name);
	else if (strcmp(state, "approved") == 0 && run->pending_gate &&
	    strcmp(run->pending_gate, name) == 0)
		set_str(&run->pending_gate, NULL);
}

static void
on_approval(struct replay *rp, struct json_object *rec, const char *ts)
{
	struct rl_run *run = rp->run;
	struct rl_approval a;
	const char *gate = str_field(rec, "gate"), *name = str_field(rec, "name");

	if (gate == NULL || name == NULL)
		return;
	memset(&a, 0, sizeof(a));
	set_str(&a.gate, gate);
	set_str(&a.name, name);
	set_str(&a.user, str_field(rec, "user"));
	set_str(&a.host, str_field(rec, "host"));
	set_str(&a.via, str_field(rec, "via"));
	set_str(&a.ts, ts);
	PUSH(run->approvals, run->n_approvals, run->cap_approvals, a);
}

static void
on_notify(struct replay *rp, struct json_object *rec, const char *ts)
{
	struct rl_run *run = rp->run;
	struct rl_notify nf;
	int64_t hook;

	memset(&nf, 0, sizeof(nf));
	nf.hook = int_field(rec, "hook", &hook) && hook > 0 ? (size_t)hook : 0;
	set_str(&nf.event, str_field(rec, "event"));
	set_str(&nf.kind, str_field(rec, "kind"));
	set_str(&nf.message, str_field(rec, "message"));
	set_str(&nf.ts, ts);
	PUSH(run->notify_failures, run->n_notify_failures, run->cap_notify_failures, nf);
}

static void
on_commit(struct replay *rp, struct json_object *rec)
{
	int64_t n;

	if (str_field(rec, "phase") == NULL || !int_field(rec, "completed", &n) || n < 0)
		return;
	set_str(&rp->run->commit_phase, str_field(rec, "phase"));
	rp->run->commit_completed = (size_t)n;
}

size_t
runlog_approvers(const struct rl_run *r, const char *gate, const char **names, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_approvals && n < max; i++) {
		size_t k;
		if (strcmp(r->approvals[i].gate, gate) != 0)
			continue;
		for (k = 0; k < n && strcmp(names[k], r->approvals[i].name) != 0; k++)
			;
		if (k == n)
			names[n++] = r->approvals[i].name;
	}
	return n;
}

/* Is u running: started in this process (since the last resume record), not ended, no decision since? */
static bool
running(const struct replay *rp, const struct rl_unit *u)
{
	return u->state == RLU_IN_DOUBT && u->in_doubt_decision == NULL &&
	    rp->gen[u - rp->run->units] == rp->run->n_resumes;
}

/* The attempt's process group from a unit_start or unit_pgid record: none when it has none. */
static void
set_pgid(struct rl_unit *u, struct json_object *rec)
{
	int64_t pgid;

	u->pgid = int_field(rec, "pgid", &pgid) && pgid > 1 && pgid <= INT32_MAX ? (long)pgid : 0;
	set_str(&u->pgid_boot, u->pgid ? str_field(rec, "boot_id") : NULL);
}

static const char *
on_unit_start(struct replay *rp, struct json_object *rec, const char *ts)
{
	struct rl_unit *u = record_unit(rp, rec);
	size_t i;
	int64_t attempt = 0;
	bool has_attempt;
	const char *s;

	if (u == NULL)
		return NULL;
	i = (size_t)(u - rp->run->units);
	has_attempt = int_field(rec, "attempt", &attempt) && attempt > 0;
	/* Another attempt of the running sequence, or a new sequence? */
	if (u->state != RLU_IN_DOUBT || u->in_doubt_decision != NULL ||
	    rp->gen[i] != rp->run->n_resumes || (has_attempt && attempt <= u->attempts)) {
		unit_clear_results(u);
		set_str(&u->started, ts);
		rp->gen[i] = rp->run->n_resumes;
		u->attempts = 0;
	}
	u->state = RLU_IN_DOUBT;
	u->attempts = has_attempt ? clamp_int(attempt) : u->attempts + 1;
	set_pgid(u, rec);
	if ((s = str_field(rec, "step")) != NULL)
		set_str(&u->step, s);
	if ((s = str_field(rec, "phase")) != NULL)
		set_str(&u->phase, s);
	if ((s = str_field(rec, "host")) != NULL)
		set_str(&u->host, s);
	set_str(&u->item, str_field(rec, "item"));
	return NULL;
}

static const char *
on_unit_retry(struct replay *rp, struct json_object *rec)
{
	struct rl_unit *u = record_unit(rp, rec);
	int64_t attempt;

	if (u == NULL || !running(rp, u))
		return "unit_retry of a unit that is not running (no unit_start before it)";
	if (int_field(rec, "attempt", &attempt) && attempt > u->attempts)
		u->attempts = clamp_int(attempt);
	set_str(&u->message, str_field(rec, "message"));
	return NULL;
}

static const char *
on_unit_pgid(struct replay *rp, struct json_object *rec)
{
	struct rl_unit *u = record_unit(rp, rec);

	if (u == NULL || !running(rp, u))
		return "unit_pgid of a unit that is not running (no unit_start before it)";
	set_pgid(u, rec);
	return NULL;
}

static const char *
on_unit_end(struct replay *rp, struct json_object *rec)
{
	struct rl_unit *u = record_unit(rp, rec);
	const char *status = str_field(rec, "status");
	int64_t v;

	if (u == NULL || !running(rp, u))
		return "unit_end of a unit that is not running (no unit_start before it)";
	if (status && strcmp(status, "done") == 0)
		u->state = RLU_DONE;
	else if (status && strcmp(status, "skipped") == 0)
		u->state = RLU_SKIPPED;
	else
		u->state = RLU_FAILED;
	u->interrupted = status && strcmp(status, "interrupted") == 0;
	if (int_field(rec, "attempts", &v))
		u->attempts = clamp_int(v);
	u->has_exit = int_field(rec, "exit_code", &v);
	u->exit_code = u->has_exit ? clamp_int(v) : 0;
	if (int_field(rec, "duration_ms", &v))
		u->duration_ms = v;
	set_str(&u->message, str_field(rec, "message"));
	set_str(&u->tail, str_field(rec, "tail"));
	set_obj(&u->captures, rec, "captures", json_type_object);
	if (u->captures && json_object_object_length(u->captures) == 0) {
		/* most units capture nothing: share one empty object among them */
		json_object_put(u->captures);
		u->captures = json_object_get(rp->no_captures);
	}
	u->completed_seq = u->state == RLU_DONE ? ++rp->completed : 0;
	return NULL;
}

static const char *
on_in_doubt(struct replay *rp, struct json_object *rec)
{
	struct rl_unit *u = record_unit(rp, rec);
	const char *decision = str_field(rec, "decision");

	if (u == NULL || decision == NULL || u->state != RLU_IN_DOUBT)
		return "in_doubt decision on a unit that is not in doubt";
	set_str(&u->in_doubt_decision, decision);
	set_str(&u->message, str_field(rec, "message"));
	if (strcmp(decision, "skip") == 0 || strcmp(decision, "check-passed") == 0) {
		u->state = RLU_DONE;
		u->completed_seq = ++rp->completed;
	}
	return NULL;
}

static const char *
on_rollback(struct replay *rp, struct json_object *rec, bool end)
{
	const char *key = str_field(rec, "unit");
	struct rl_unit *u;
	const char *status;
	int64_t v;

	/* only a unit that ran (completed, or failed with a rollback that always runs) is rolled back */
	if (key == NULL || strmap_get(rp->index, key) == STRMAP_NONE)
		return end ? "rollback_end of a unit that never ran" : "rollback_start of a unit that never ran";
	u = record_unit(rp, rec);
	if (u == NULL || (u->state != RLU_DONE && u->state != RLU_FAILED))
		return end ? "rollback_end of a unit that did not complete" : "rollback_start of a unit that did not complete";
	status = str_field(rec, "status");
	if (!end) {
		u->rb_state = RLR_IN_DOUBT;
		return NULL;
	}
	if (strcmp(status, "no_rollback") != 0 && u->rb_state != RLR_IN_DOUBT)
		return "rollback_end without its rollback_start";
	if (status && strcmp(status, "done") == 0)
		u->rb_state = RLR_DONE;
	else if (status && strcmp(status, "no_rollback") == 0)
		u->rb_state = RLR_NO_ROLLBACK;
	else
		u->rb_state = RLR_FAILED;
	set_str(&u->rb_message, str_field(rec, "message"));
	set_str(&u->rb_tail, str_field(rec, "tail"));
	set_str(&u->rb_covered_by, u->rb_state == RLR_DONE ? str_field(rec, "covered_by") : NULL);
	u->rb_duration_ms = int_field(rec, "duration_ms", &v) ? v : 0;
	return NULL;
}

/* A pause (SPEC §7): begun and not finished, resume waits what is left of it. */
static void
on_pause(struct replay *rp, struct json_object *rec)
{
	struct rl_unit *u = record_unit(rp, rec);
	const char *state = str_field(rec, "state");
	int64_t until = 0;

	if (u == NULL || state == NULL)
		return;
	if (strcmp(state, "started") == 0)
		u->pause_until_ms = parse_ts(str_field(rec, "until"), &until) ? until : 0;
	else if (strcmp(state, "stopped") != 0)
		u->pause_until_ms = 0;
}

static void
on_run_end(struct replay *rp, struct json_object *rec, const char *ts)
{
	struct rl_run *run = rp->run;
	const char *outcome = str_field(rec, "outcome");
	int64_t v;

	set_str(&run->outcome, outcome ? outcome : "unknown");
	set_str(&run->ended, ts);
	set_str(&run->failure, str_field(rec, "failure"));
	run->exit_code = int_field(rec, "exit_code", &v) ? clamp_int(v) : -1;
	run->duration_ms = int_field(rec, "duration_ms", &v) ? v : ts_diff(run->started, ts);
	run->unwinding = false;
	set_str(&run->waiting_gate, NULL);
	if (strcmp(run->outcome, "gate") != 0)
		set_str(&run->pending_gate, NULL);
}

static void
on_unwind_start(struct replay *rp)
{
	rp->run->unwinding = true;
	set_str(&rp->run->pending_gate, NULL);
}

/* Working time (worktime.h): sessions, gate waits and phases, from the records' ts. */
static void
fold_work(struct replay *rp, struct json_object *rec, const char *type, const char *ts)
{
	struct worktime_log *l = &rp->run->work;
	const char *state;
	int64_t ms = 0, work = -1;

	if (!parse_ts(ts, &ms))
		return;
	if (!int_field(rec, "work_ms", &work) || work < 0)
		work = -1;
	if (strcmp(type, RL_RUN_START) == 0 || strcmp(type, RL_RESUME) == 0)
		worktime_log_session(l, ms, rp->prev_ms);
	else if (strcmp(type, RL_GATE) == 0 && (state = str_field(rec, "state")) != NULL)
		worktime_log_gate(l, ms, strcmp(state, "asked") == 0 || strcmp(state, "waiting") == 0);
	else if (strcmp(type, RL_PHASE_START) == 0 && str_field(rec, "phase"))
		worktime_log_phase_start(l, str_field(rec, "phase"), ms);
	else if (strcmp(type, RL_PHASE_END) == 0 && str_field(rec, "phase"))
		worktime_log_phase_end(l, str_field(rec, "phase"), ms, work);
	else if (strcmp(type, RL_RUN_END) == 0)
		worktime_log_end(l, ms, work);
	rp->prev_ms = rp->run->last_ms = ms;
}

/* Records that only a running process writes: after a run_end, a resume record must come first. */
static const char *const run_records[] = {
	RL_PHASE_START, RL_UNIT_START, RL_UNIT_RETRY, RL_UNIT_END, RL_UNIT_PGID, RL_IN_DOUBT, RL_UNWIND_START,
	RL_ROLLBACK_START, RL_ROLLBACK_END, NULL,
};

/*
 * Fold one record (already of the right shape) into the replay. NULL, or
 * why the record does not fit the records before it (static string).
 */
static const char *
apply(struct replay *rp, struct json_object *rec)
{
	const char *type = str_field(rec, "type");
	const char *ts = str_field(rec, JOURNAL_KEY_TS);

	set_str(&rp->last_ts, ts);
	fold_work(rp, rec, type, ts);
	if (rp->run->outcome != NULL && one_of(type, run_records))
		return "a record of a running run after the run's end (no resume record between)";
	if (strcmp(type, RL_RUN_START) == 0)
		return rp->line == 1 ? (on_run_start(rp, rec, ts), NULL) : "a second run_start";
	if (strcmp(type, RL_RESUME) == 0)
		on_resume(rp, rec);
	else if (strcmp(type, RL_GATE) == 0)
		on_gate(rp, rec, ts);
	else if (strcmp(type, RL_APPROVAL) == 0)
		on_approval(rp, rec, ts);
	else if (strcmp(type, RL_COMMIT) == 0)
		on_commit(rp, rec);
	else if (strcmp(type, RL_NOTIFY) == 0)
		on_notify(rp, rec, ts);
	else if (strcmp(type, RL_UNIT_START) == 0)
		return on_unit_start(rp, rec, ts);
	else if (strcmp(type, RL_UNIT_RETRY) == 0)
		return on_unit_retry(rp, rec);
	else if (strcmp(type, RL_UNIT_END) == 0)
		return on_unit_end(rp, rec);
	else if (strcmp(type, RL_UNIT_PGID) == 0)
		return on_unit_pgid(rp, rec);
	else if (strcmp(type, RL_IN_DOUBT) == 0)
		return on_in_doubt(rp, rec);
	else if (strcmp(type, RL_ROLLBACK_START) == 0)
		return on_rollback(rp, rec, false);
	else if (strcmp(type, RL_ROLLBACK_END) == 0)
		return on_rollback(rp, rec, true);
	else if (strcmp(type, RL_UNWIND_START) == 0)
		on_unwind_start(rp);
	else if (strcmp(type, RL_INTERRUPTED) == 0)
		rp->run->interrupted = true;
	else if (strcmp(type, RL_PAUSE) == 0)
		on_pause(rp, rec);
	else if (strcmp(type, RL_RUN_END) == 0)
		on_run_end(rp, rec, ts);
	/* phase_start, phase_end, probe and unknown types change nothing here. */
	return NULL;
}

/* The run id a journal's file name gives: PATH/RUN-ID.jsonl (malloc'ed). */
static char *
run_id_of_path(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t len;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 6 && strcmp(base + len - 6, ".jsonl") == 0)
		len -= 6;
	return xstrndup(base, len);
}

/* What runlog_load folds the records with, one at a time (journal_replay_each). */
struct loading {
	struct replay rp;
	const char *path;
};

static int
load_record(void *ctx, struct json_object *rec, char **err)
{
	struct loading *ld = ctx;
	struct replay *rp = &ld->rp;
	struct buf why = BUF_INIT;
	const char *misfit = NULL;
	int rc = 0;

	rp->line++;
	if (rp->line == 1) {
		const char *first = str_field(rec, "type");
		if (first == NULL || strcmp(first, RL_RUN_START) != 0) {
			*err = xasprintf("journal '%s' does not start with run_start", ld->path);
			return JOURNAL_CORRUPT;
		}
	}
	if (check_shape(rec, &why) < 0 || (misfit = apply(rp, rec)) != NULL) {
		if (misfit)
			buf_adds(&why, misfit);
		*err = xasprintf("journal '%s' is corrupt at line %zu: %s", ld->path, rp->line, buf_str(&why));
		rc = JOURNAL_CORRUPT;
	}
	buf_release(&why);
	return rc;
}

int
runlog_load(const char *journal_path, struct rl_run *out, char **err)
{
	struct journal_info info;
	struct loading ld;
	int rc;

	memset(out, 0, sizeof(*out));
	out->exit_code = -1;
	worktime_log_init(&out->work);
	memset(&ld, 0, sizeof(ld));
	ld.path = journal_path;
	ld.rp.run = out;
	ld.rp.index = strmap_create(0);
	ld.rp.no_captures = json_object_new_object();
	rc = journal_replay_each(journal_path, load_record, &ld, &info, err);
	if (rc == 0 && ld.rp.line == 0) {
		*err = xasprintf("journal '%s' holds no record", journal_path);
		rc = JOURNAL_CORRUPT;
	}
	if (rc == 0) {
		char *id = run_id_of_path(journal_path);
		if (strcmp(id, out->run_id) != 0) {
			*err = xasprintf("journal '%s' is corrupt at line 1: it is the journal of run '%s'",
			    journal_path, out->run_id);
			rc = JOURNAL_CORRUPT;
		}
		free(id);
	}
	out->torn_tail = info.torn_tail;
	if (rc == 0 && out->outcome == NULL)
		out->duration_ms = ts_diff(out->started, ld.rp.last_ts);
	strmap_free(ld.rp.index);
	json_object_put(ld.rp.no_captures);
	free(ld.rp.gen);
	free(ld.rp.last_ts);
	return rc;
}

void
runlog_release(struct rl_run *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_units; i++) {
		struct rl_unit *u = &r->units[i];
		free(u->key);
		free(u->step);
		free(u->phase);
		free(u->item);
		free(u->host);
		free(u->started);
		free(u->pgid_boot);
		free(u->message);
		free(u->tail);
		json_object_put(u->captures);
		free(u->rb_message);
		free(u->rb_tail);
		free(u->rb_covered_by);
		free(u->in_doubt_decision);
	}
	free(r->units);
	for (size_t i = 0; i < r->n_gates; i++) {
		free(r->gates[i].name);
		free(r->gates[i].phase);
		free(r->gates[i].state);
		free(r->gates[i].by);
		free(r->gates[i].ts);
	}
	free(r->gates);
	free(r->waiting_gate);
	free(r->run_id);
	free(r->runbook);
	free(r->file);
	free(r->sha256);
	free(r->host);
	free(r->user);
	json_object_put(r->vars);
	json_object_put(r->masked_vars);
	json_object_put(r->selection);
	free(r->started);
	free(r->ended);
	free(r->outcome);
	free(r->failure);
	free(r->pending_gate);
	free(r->commit_phase);
	for (size_t i = 0; i < r->n_approvals; i++) {
		struct rl_approval *a = &r->approvals[i];
		free(a->gate);
		free(a->name);
		free(a->user);
		free(a->host);
		free(a->via);
		free(a->ts);
	}
	free(r->approvals);
	worktime_log_release(&r->work);
	for (size_t i = 0; i < r->n_notify_failures; i++) {
		struct rl_notify *nf = &r->notify_failures[i];
		free(nf->event);
		free(nf->kind);
		free(nf->message);
		free(nf->ts);
	}
	free(r->notify_failures);
	memset(r, 0, sizeof(*r));
}

int64_t
runlog_work_ms(const struct rl_run *r)
{
	return worktime_log_total(&r->work, r->last_ms);
}

int64_t
runlog_phase_work_ms(const struct rl_run *r, const char *phase)
{
	return worktime_log_phase(&r->work, phase, r->last_ms);
}

const struct rl_unit *
runlog_unit(const struct rl_run *r, const char *key)
{
	for (size_t i = 0; i < r->n_units; i++)
		if (strcmp(r->units[i].key, key) == 0)
			return &r->units[i];
	return NULL;
}

const char *
rl_unit_state_name(enum rl_unit_state s)
{
	switch (s) {
	case RLU_PENDING: return "pending";
	case RLU_IN_DOUBT: return "in_doubt";
	case RLU_DONE: return "done";
	case RLU_FAILED: return "failed";
	case RLU_SKIPPED: return "skipped";
	}
	return "unknown";
}

const char *
rl_rb_state_name(enum rl_rb_state s)
{
	switch (s) {
	case RLR_NONE: return "none";
	case RLR_IN_DOUBT: return "in_doubt";
	case RLR_DONE: return "done";
	case RLR_FAILED: return "failed";
	case RLR_NO_ROLLBACK: return "no_rollback";
	}
	return "unknown";
}

void
unit_display_name(struct buf *b, const char *step, const char *item, const char *host)
{
	buf_adds(b, step);
	if (item != NULL) {
		buf_addc(b, '[');
		buf_add_cut(b, item, UNIT_NAME_ITEM_MAX);
		buf_addc(b, ']');
	}
	if (host != NULL && strcmp(host, "local") != 0)
		buf_addf(b, "@%s", host);
}
