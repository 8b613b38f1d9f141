#include "resume.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcode.h"
#include "gate.h"
#include "journal.h"
#include "secrets.h"
#include "util.h"

/* Turn a JSON value of the journal's vars back into a runbook value. */
static void
json_to_value(struct json_object *j, struct value *v)
{
	memset(v, 0, sizeof(*v));
	if (json_object_is_type(j, json_type_array)) {
		size_t n = json_object_array_length(j);
		v->type = VAL_LIST;
		v->items = xcalloc(n ? n : 1, sizeof(*v->items));
		for (size_t i = 0; i < n; i++)
			json_to_value(json_object_array_get_idx(j, i), &v->items[v->n++]);
	} else if (json_object_is_type(j, json_type_object)) {
		size_t n = (size_t)json_object_object_length(j), k = 0;
		v->type = VAL_MAP;
		v->items = xcalloc(n ? n : 1, sizeof(*v->items));
		v->keys = xcalloc(n ? n : 1, sizeof(*v->keys));
		json_object_object_foreach(j, key, val) {
			v->keys[k] = xstrdup(key);
			json_to_value(val, &v->items[k]);
			k++;
		}
		v->n = k;
	} else {
		v->type = VAL_STR;
		v->str = xstrdup(j ? json_object_get_string(j) : "");
	}
}

static bool
resumable(const struct rl_run *rl, enum resume_pick pick)
{
	if (pick == PICK_NOT_ROLLED_BACK)
		return rl->outcome == NULL || strcmp(rl->outcome, "rolled_back") != 0;
	return rl->outcome == NULL || strcmp(rl->outcome, "gate") == 0 || strcmp(rl->outcome, "interrupted") == 0 ||
	    strcmp(rl->outcome, "window") == 0;
}

/* The id of the newest run matching pick, or NULL having printed why. */
static char *
pick_run(struct session *s, enum resume_pick pick)
{
	char **ids = NULL, *err = NULL, *found = NULL;
	size_t n = 0;

	if (statedir_list_runs(s->sd, &ids, &n, &err) < 0) {
		fprintf(stderr, "migrate: %s\n", err);
		free(err);
		return NULL;
	}
	for (size_t i = 0; i < n && !found; i++) {
		struct rl_run rl;
		char *path = statedir_journal_path(s->sd, ids[i], &err);
		int rc = path ? runlog_load(path, &rl, &err) : -1;
		if (rc == JOURNAL_CORRUPT) {
			/* never fall back to an older run behind the operator's back */
			fprintf(stderr, "migrate: %s\nmigrate: give a RUN-ID to pick another run\n", err);
			runlog_release(&rl);
			free(path);
			free(err);
			statedir_free_list(ids, n);
			return NULL;
		}
		if (rc == 0 && resumable(&rl, pick))
			found = xstrdup(ids[i]);
		runlog_release(&rl);
		free(path);
		free(err);
		err = NULL;
	}
	if (!found)
		fprintf(stderr, "migrate: no %s in %s\n", pick == PICK_UNFINISHED ? "unfinished run" : "run that is not rolled back",
		    statedir_path(s->sd));
	statedir_free_list(ids, n);
	return found;
}

static void
selection_from_journal(struct resumed *r)
{
	struct json_object *sel = r->rl.selection, *v;
	size_t cap = 0;

	if (sel == NULL)
		return;
	if (json_object_object_get_ex(sel, "phases", &v) && json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			char *p = xstrdup(json_object_get_string(json_object_array_get_idx(v, i)));
			PUSH(r->sel_phases, r->n_sel_phases, cap, p);
		}
	}
	if (json_object_object_get_ex(sel, "from", &v) && v)
		r->sel_from = xstrdup(json_object_get_string(v));
	if (json_object_object_get_ex(sel, "to", &v) && v)
		r->sel_to = xstrdup(json_object_get_string(v));
	r->eo.phases = (const char *const *)r->sel_phases;
	r->eo.n_phases = r->n_sel_phases;
	r->eo.from = r->sel_from;
	r->eo.to = r->sel_to;
}

/*
 * The runbook with the journal's vars; a var named in masked_vars with a
 * secret's name takes that secret's value from sec (read again), when sec.
 */
static struct runbook *
load_with_journal_vars(struct resumed *r, struct opts *o, const struct secrets *sec)
{
	struct var_override *ov = NULL;
	size_t n = 0, cap = 0;
	struct diags d = DIAGS_INIT;
	struct runbook *rb;

	if (r->rl.vars && json_object_is_type(r->rl.vars, json_type_object)) {
		json_object_object_foreach(r->rl.vars, key, val) {
			struct var_override x;
			memset(&x, 0, sizeof(x));
			struct json_object *from = NULL;
			x.name = xstrdup(key);
			if (sec && json_object_is_type(r->rl.masked_vars, json_type_object) &&
			    json_object_object_get_ex(r->rl.masked_vars, key, &from) &&
			    json_object_is_type(from, json_type_string) &&
			    secrets_get(sec, json_object_get_string(from)) != NULL) {
				x.value.type = VAL_STR;
				x.value.str = xstrdup(secrets_get(sec, json_object_get_string(from)));
			} else {
				json_to_value(val, &x.value);
			}
			x.origin = "the journal";
			PUSH(ov, n, cap, x);
		}
	}
	rb = runbook_load(r->rl.file, ov, n, &d);
	if (rb == NULL)
		cmd_print_diags(r->rl.file, &d, o);
	for (size_t i = 0; i < n; i++) {
		free(ov[i].name);
		value_release(&ov[i].value);
	}
	free(ov);
	diags_release(&d);
	return rb;
}

static bool
declares_secret(const struct runbook *rb, const char *name)
{
	for (size_t i = 0; i < rb->n_secrets; i++)
		if (strcmp(rb->secrets[i].name, name) == 0)
			return true;
	return false;
}

/*
 * Each var that held a secret's whole value (masked_vars {var: secret}) gets
 * it back from that secret, read again (SPEC §4): the runbook is loaded again
 * with it. Returns 0, or EXIT_CANNOT_START having printed why (names only).
 */
static int
restore_masked_vars(struct resumed *r, struct opts *o)
{
	struct secrets sec;
	struct runbook *rb;
	char *err = NULL;
	int rc = 0;

	memset(&sec, 0, sizeof(sec));
	if (!json_object_is_type(r->rl.masked_vars, json_type_object) || json_object_object_length(r->rl.masked_vars) == 0)
		return 0;
	json_object_object_foreach(r->rl.masked_vars, var, from) {
		const char *name = json_object_is_type(from, json_type_string) ? json_object_get_string(from) : NULL;
		if (name == NULL) {
			fprintf(stderr, "migrate: run %s cannot be continued: var '%s' held a secret's value as part of it, "
			    "which is never journaled;\nmigrate: nothing was run; pass secrets through 'secrets:' "
			    "(${secrets.NAME} or $MIGRATE_SECRET_NAME), not --var\n", r->rl.run_id, var);
			return EXIT_CANNOT_START;
		}
		if (!declares_secret(r->rb, name)) {
			fprintf(stderr, "migrate: run %s cannot be continued: var '%s' held the value of secret '%s', "
			    "which the runbook no longer declares;\nmigrate: nothing was run\n", r->rl.run_id, var, name);
			return EXIT_CANNOT_START;
		}
	}
	if (secrets_load(r->rb, &sec, &err) < 0) {
		json_object_object_foreach(r->rl.masked_vars, var1, from1) {
			fprintf(stderr, "migrate: run %s cannot be continued: var '%s' held the value of secret '%s', "
			    "which cannot be read again: %s\nmigrate: nothing was run\n", r->rl.run_id, var1,
			    json_object_get_string(from1), err);
			break;
		}
		free(err);
		secrets_release(&sec);
		return EXIT_CANNOT_START;
	}
	json_object_object_foreach(r->rl.masked_vars, var2, from2) {
		const char *v = secrets_get(&sec, json_object_get_string(from2));
		if (v == NULL || v[0] == '\0') {
			fprintf(stderr, "migrate: run %s cannot be continued: var '%s' held the value of secret '%s', "
			    "which is now empty or missing;\nmigrate: nothing was run\n", r->rl.run_id, var2,
			    json_object_get_string(from2));
			rc = EXIT_CANNOT_START;
			break;
		}
	}
	if (rc == 0) {
		rb = load_with_journal_vars(r, o, &sec);
		if (rb == NULL) {
			fprintf(stderr, "migrate: cannot load runbook '%s' of run %s\n", r->rl.file, r->rl.run_id);
			rc = EXIT_CANNOT_START;
		} else {
			runbook_free(r->rb);
			r->rb = rb;
		}
	}
	secrets_release(&sec);
	return rc;
}

int
resume_load(struct session *s, struct opts *o, enum resume_pick pick, struct resumed *r)
{
	char *id = NULL, *err = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	if (o->n_args > 0) {
		if (!statedir_valid_run_id(o->args[0])) {
			fprintf(stderr, "migrate: '%s' is not a run id\n", o->args[0]);
			return EXIT_USAGE;
		}
		id = xstrdup(o->args[0]);
	} else if ((id = pick_run(s, pick)) == NULL) {
		return EXIT_CANNOT_START;
	}
	r->journal_path = statedir_journal_path(s->sd, id, &err);
	free(id);
	if (r->journal_path == NULL) {
		fprintf(stderr, "migrate: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	rc = runlog_load(r->journal_path, &r->rl, &err);
	if (rc != 0) {
		fprintf(stderr, "migrate: %s\n", err ? err : "cannot read the journal");
		free(err);
		return rc == -1 && o->n_args > 0 ? EXIT_USAGE : EXIT_CANNOT_START;
	}
	if (r->rl.torn_tail)
		fprintf(stderr, "migrate: note: the last record of %s was torn (a crash while writing); it was ignored\n",
		    r->journal_path);
	/* an old journal lists the masked vars without the secrets they held */
	if (json_object_is_type(r->rl.masked_vars, json_type_array) && json_object_array_length(r->rl.masked_vars) > 0) {
		fprintf(stderr, "migrate: run %s cannot be continued: var '%s' held a secret's value, which is "
		    "never journaled;\nmigrate: nothing was run; pass secrets through 'secrets:' "
		    "(${secrets.NAME} or $MIGRATE_SECRET_NAME), not --var\n", r->rl.run_id,
		    json_object_get_string(json_object_array_get_idx(r->rl.masked_vars, 0)));
		return EXIT_CANNOT_START;
	}
	r->rb = load_with_journal_vars(r, o, NULL);
	if (r->rb == NULL) {
		fprintf(stderr, "migrate: cannot load runbook '%s' of run %s\n", r->rl.file, r->rl.run_id);
		return EXIT_CANNOT_START;
	}
	if (strcmp(r->rb->sha256, r->rl.sha256 ? r->rl.sha256 : "") != 0) {
		if (!o->force) {
			fprintf(stderr, "migrate: runbook '%s' changed since run %s started (sha256 %.12s, now %.12s);\n"
			    "migrate: nothing was run; check the change, then use --force to continue anyway\n",
			    r->rl.file, r->rl.run_id, r->rl.sha256 ? r->rl.sha256 : "?", r->rb->sha256);
			return EXIT_CANNOT_START;
		}
		fprintf(stderr, "migrate: warning: runbook '%s' changed since run %s started; continuing (--force)\n",
		    r->rl.file, r->rl.run_id);
	}
	if (strcmp(r->rb->name, r->rl.runbook) != 0) {
		fprintf(stderr, "migrate: journal '%s' is corrupt at line 1: it names runbook '%s', but '%s' is runbook '%s'\n",
		    r->journal_path, r->rl.runbook, r->rl.file, r->rb->name);
		return EXIT_CANNOT_START;
	}
	if ((rc = restore_masked_vars(r, o)) != 0)
		return rc;
	selection_from_journal(r);
	return 0;
}

static int
approved_gate(void *ctx, struct json_object *rec, char **err)
{
	struct run *run = ctx;
	struct json_object *t, *st, *name;

	if (!json_object_object_get_ex(rec, "type", &t) || strcmp(json_object_get_string(t), RL_GATE) != 0)
		return 0;
	if (json_object_object_get_ex(rec, "state", &st) && strcmp(json_object_get_string(st), "approved") == 0 &&
	    json_object_object_get_ex(rec, "name", &name)) {
		char *g = xstrdup(json_object_get_string(name));
		PUSH(run->approved_gates, run->n_approved_gates, run->cap_approved_gates, g);
	}
	return 0;
}

/* Gates approved in the journal, so resume does not ask them again. */
static void
restore_gates(struct resumed *r, struct run *run)
{
	struct journal_info info;
	char *err = NULL;

	if (journal_replay_each(r->journal_path, approved_gate, run, &info, &err) != 0)
		free(err);
}

static void
restore_captures(struct run *run, struct unit *u, const struct rl_unit *ru)
{
	if (ru->captures == NULL || !json_object_is_type(ru->captures, json_type_object))
		return;
	json_object_object_foreach(ru->captures, name, val)
		run_set_capture(run, u->step->name, name, json_object_get_string(val));
}

static enum rollback_state
rb_state_of(const struct rl_unit *ru)
{
	switch (ru->rb_state) {
	case RLR_DONE: return RB_DONE;
	case RLR_NO_ROLLBACK: return RB_NO_ACTION;
	default: return RB_NONE;
	}
}

/* Order of completion (the journal's sequence), then order in the journal. */
static int
by_completion(const void *a, const void *b)
{
	const struct rl_unit *x = *(const struct rl_unit *const *)a, *y = *(const struct rl_unit *const *)b;

	if (x->completed_seq != y->completed_seq)
		return x->completed_seq < y->completed_seq ? -1 : 1;
	return x < y ? -1 : x > y;
}

int
resume_restore(struct resumed *r, struct run *run, struct opts *o, bool for_rollback)
{
	const struct rl_run *rl = &r->rl;
	const struct rl_unit **done;
	size_t n_done = 0;

	run->resumed = true;
	/* one run over all its sessions (issue 12 item 11): its first start, and this session's number */
	if (rl->started == NULL || !rfc3339_parse(rl->started, &run->first_started_ms))
		run->first_started_ms = 0;
	run->sessions = (int)rl->n_resumes + 2;
	/* working time used by earlier sessions (SPEC §7 "Deadlines") */
	run->work_before_ms = runlog_work_ms(rl);
	for (size_t i = 0; i < r->rb->n_phases; i++)
		run->phase_work_before[i] = runlog_phase_work_ms(rl, r->rb->phases[i].name);
	/* with the runbook unchanged, every unit of the journal is one of its units */
	for (size_t i = 0; i < rl->n_units && strcmp(r->rb->sha256, rl->sha256) == 0; i++) {
		if (run_unit_by_key(run, rl->units[i].key) == NULL) {
			fprintf(stderr, "migrate: journal '%s' is corrupt at line %zu: unit '%s' is not a unit of the runbook\n"
			    "migrate: nothing was run\n", r->journal_path, rl->units[i].line, rl->units[i].key);
			return EXIT_CANNOT_START;
		}
	}
	restore_gates(r, run);
	for (size_t i = 0; i < rl->n_gates; i++)
		gate_set_outcome(run, rl->gates[i].name, rl->gates[i].state, rl->gates[i].by);
	/* stopped by a probe without data (no_data: hold): asked again first */
	if (rl->outcome && strcmp(rl->outcome, "gate") == 0 && rl->pending_gate) {
		const struct probe *p = runbook_probe(r->rb, rl->pending_gate);
		if (p && p->expect.no_data == NO_DATA_HOLD)
			run->pending_hold = xstrdup(rl->pending_gate);
	}
	for (size_t i = 0; i < rl->n_approvals; i++) {
		const struct rl_approval *a = &rl->approvals[i];
		int64_t at = 0;
		if (a->ts)
			(void)rfc3339_parse(a->ts, &at);
		gate_add_approval(run, a->gate, a->name, a->user ? a->user : "", a->host ? a->host : "",
		    a->via ? a->via : "", at);
	}
	/* completed units, in their order of completion, with their captures */
	done = xcalloc(rl->n_units + 1, sizeof(*done));
	for (size_t i = 0; i < rl->n_units; i++)
		if (rl->units[i].state == RLU_DONE && rl->units[i].completed_seq > 0)
			done[n_done++] = &rl->units[i];
	qsort(done, n_done, sizeof(*done), by_completion);
	for (size_t k = 0; k < n_done; k++) {
		const struct rl_unit *ru = done[k];
		struct unit *u = run_unit_by_key(run, ru->key);
		if (u == NULL) {
			fprintf(stderr, "migrate: warning: unit '%s' of the journal is not in the runbook any more\n",
			    ru->key);
			continue;
		}
		u->state = UNIT_DONE;
		u->attempts = ru->attempts;
		u->duration_ms = ru->duration_ms;
		if (ru->started == NULL || !rfc3339_parse(ru->started, &u->started_ms))
			u->started_ms = 0;
		u->exit_code = ru->has_exit ? ru->exit_code : -1;
		u->rb_state = rb_state_of(ru);
		restore_captures(run, u, ru);
		run_mark_completed(run, u);
	}
	free(done);
	if (rl->commit_phase && (run->commit_phase = runbook_phase(run->rb, rl->commit_phase)) != NULL) {
		run->commit_floor = rl->commit_completed < run->n_completed ? rl->commit_completed : run->n_completed;
		run->unwind_floor = run->commit_floor;
	}
	/* each completed unit's rollback sees the captures of its time; the
	 * journal keeps the latest, which is what the unwind had in this run too */
	for (size_t i = 0; i < run->n_completed; i++)
		run->completed[i]->captures_at = run->n_captures;
	for (size_t i = 0; i < rl->n_units; i++) {
		const struct rl_unit *ru = &rl->units[i];
		struct unit *u = run_unit_by_key(run, ru->key);
		if (u != NULL && !for_rollback)
			u->pause_until_ms = ru->pause_until_ms;   /* a pause left unfinished: only the rest */
		if (u == NULL || ru->state == RLU_DONE)
			continue;
		if (ru->state == RLU_IN_DOUBT) {
			u->in_doubt = true;
		} else if (ru->state == RLU_FAILED && for_rollback) {
			u->state = UNIT_FAILED;
			u->attempts = ru->attempts;
			u->rb_state = rb_state_of(ru);
			if (ru->message)
				u->message = xstrdup(ru->message);
			run->failed_unit = u;
		}
	}
	if (for_rollback) {
		/* a rollback action that started and never ended ran at most once: never again without a decision */
		for (size_t i = 0; i < rl->n_units; i++) {
			const struct rl_unit *ru = &rl->units[i];
			struct unit *u = run_unit_by_key(run, ru->key);
			if (u == NULL || ru->rb_state != RLR_IN_DOUBT)
				continue;
			if (o->retry_in_doubt)
				u->rb_state = RB_NONE;
			else if (o->skip_in_doubt)
				u->rb_state = RB_DONE;
			else {
				fprintf(stderr, "migrate: the rollback of unit '%s' started and never ended (run %s);\n"
				    "migrate: nothing was run; check it, then run again with --retry-in-doubt or --skip-in-doubt\n",
				    u->name, rl->run_id);
				return EXIT_CANNOT_START;
			}
		}
	}
	return 0;
}

int
resume_open_run(struct session *s, struct resumed *r, struct opts *o, bool for_rollback, struct run **run)
{
	char *err = NULL;
	int rc;

	*run = NULL;
	if ((rc = session_lock(s, r->rb->name, r->rl.run_id)) != 0)
		return rc;
	r->eo.accept_new_host_keys = o->accept_new_host_keys;
	*run = run_create(r->rb, &r->eo, r->rl.run_id, &err);
	if (*run == NULL) {
		fprintf(stderr, "migrate: %s\n", err);
		free(err);
		return EXIT_CANNOT_START;
	}
	return resume_restore(r, *run, o, for_rollback);
}

int
resume_attach(struct session *s, struct resumed *r, struct run *run, struct opts *o, const char *by)
{
	struct journal_info info;
	char *err = NULL;
	struct journal *j = journal_open_append(s->sd, r->rl.run_id, &info, &err);

	if (j == NULL) {
		fprintf(stderr, "migrate: %s\n", err);
		free(err);
		return EXIT_CANNOT_START;
	}
	session_attach(s, run, &r->eo, o, j, r->rl.file, by);
	engine_install_signals();
	return 0;
}

void
resume_release(struct resumed *r)
{
	runlog_release(&r->rl);
	free(r->journal_path);
	runbook_free(r->rb);
	for (size_t i = 0; i < r->n_sel_phases; i++)
		free(r->sel_phases[i]);
	free(r->sel_phases);
	free(r->sel_from);
	free(r->sel_to);
	memset(r, 0, sizeof(*r));
}
