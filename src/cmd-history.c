/* migrate history: every run in the state directory, newest first. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "duration.h"
#include "exitcode.h"
#include "journal.h"
#include "output.h"
#include "runlog.h"
#include "statedir.h"
#include "util.h"

#define C_RESET "\033[0m"
#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"

/* Failures are cut to this many bytes in the table (whole UTF-8 characters). */
#define FAILURE_MAX 60

/* One row of the listing. */
struct row {
	char *run_id;
	char *runbook;
	char *started;   /* RFC 3339 to the second */
	char *duration;
	const char *outcome;
	char *failure;   /* first line, shortened */
	char *error;     /* why the journal could not be read, or NULL */
	struct rl_run run;
	bool loaded;
};

/* "2026-11-22T02:15:00.123Z" -> "2026-11-22T02:15:00Z"; other forms unchanged. */
static char *
short_time(const char *ts)
{
	if (ts == NULL)
		return xstrdup("?");
	if (strlen(ts) >= 20 && ts[19] == '.')
		return xasprintf("%.19sZ", ts);
	return xstrdup(ts);
}

/*
 * The runbook name and start time a run id carries
 * (20261122T021500Z-NAME-hhhh), for journals that cannot be read.
 */
static void
from_run_id(const char *id, char **runbook, char **started)
{
	size_t len = strlen(id);

	*runbook = NULL;
	*started = NULL;
	if (len < 23 || id[8] != 'T' || id[15] != 'Z' || id[16] != '-' || id[len - 5] != '-')
		return;
	*runbook = xstrndup(id + 17, len - 22);
	*started = xasprintf("%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", id, id + 4, id + 6, id + 9, id + 11, id + 13);
}

/* The first line of s, cut to FAILURE_MAX bytes without splitting a character. */
static char *
short_failure(const char *s)
{
	size_t n;

	if (s == NULL)
		return xstrdup("");
	n = strcspn(s, "\r\n");
	if (n <= FAILURE_MAX && s[n] == '\0')
		return xstrdup(s);
	if (n > FAILURE_MAX) {
		n = FAILURE_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	return xasprintf("%.*s…", (int)n, s);
}

/* "journal 'PATH' is corrupt at line 4: ..." -> "corrupt at line 4: ..." (the path is the row's). */
static const char *
corrupt_reason(const char *err)
{
	const char *is = err ? strstr(err, "' is ") : NULL;

	if (err == NULL || strncmp(err, "journal '", 9) != 0 || is == NULL)
		return err;
	return is + 5;
}

static void
row_load(struct row *r, const struct statedir *sd, const char *id)
{
	char *err = NULL, *path = statedir_journal_path(sd, id, &err);
	int rc = path ? runlog_load(path, &r->run, &err) : -1;
	struct buf d = BUF_INIT;

	free(path);
	r->run_id = xstrdup(id);
	if (rc != 0) {
		r->outcome = rc == JOURNAL_CORRUPT ? "corrupt" : "unreadable";
		r->error = err;
		from_run_id(id, &r->runbook, &r->started);
		if (r->started == NULL)
			r->started = xstrdup("?");
		r->duration = xstrdup("-");
		r->failure = short_failure(corrupt_reason(err));
		return;
	}
	free(err);
	r->loaded = true;
	r->runbook = xstrdup(r->run.runbook ? r->run.runbook : "?");
	r->started = short_time(r->run.started);
	/* the whole run: working time over all its sessions (issue 12 item 11) */
	duration_format(&d, runlog_work_ms(&r->run));
	r->duration = buf_detach(&d);
	r->outcome = r->run.outcome ? r->run.outcome : "unfinished";
	if (r->run.commit_phase && (r->run.failure == NULL || strstr(r->run.failure, "commit point") == NULL)) {
		/* the commit point reached (SPEC §7), unless the failure names it already */
		char *note = r->run.failure ? xasprintf("commit point %s; %s", r->run.commit_phase, r->run.failure)
		    : xasprintf("commit point %s", r->run.commit_phase);
		r->failure = short_failure(note);
		free(note);
	} else {
		r->failure = short_failure(r->run.failure);
	}
}

static void
row_release(struct row *r)
{
	free(r->run_id);
	free(r->runbook);
	free(r->started);
	free(r->duration);
	free(r->failure);
	free(r->error);
	runlog_release(&r->run);
}

static const char *
outcome_color(const char *outcome)
{
	if (strcmp(outcome, "succeeded") == 0)
		return C_GREEN;
	if (strcmp(outcome, "needs_human") == 0 || strcmp(outcome, "corrupt") == 0 ||
	    strcmp(outcome, "unreadable") == 0)
		return C_RED;
	return C_YELLOW;
}

static void
print_table(const struct row *rows, size_t n, bool color)
{
	int w[5] = { 6, 7, 7, 8, 7 };
	struct buf b = BUF_INIT, shown = BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		const char *cells[5] = { rows[i].run_id, rows[i].runbook, rows[i].started,
			rows[i].duration, rows[i].outcome };
		for (size_t c = 0; c < 5; c++)
			if ((int)strlen(cells[c]) > w[c])
				w[c] = (int)strlen(cells[c]);
	}
	buf_addf(&b, "%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w[0], "RUN ID", w[1], "RUNBOOK",
	    w[2], "STARTED", w[3], "DURATION", w[4], "OUTCOME", "DETAILS");
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		buf_addf(&b, "%-*s  %-*s  %-*s  %-*s  %s%s%s%*s  %s", w[0], r->run_id, w[1], r->runbook,
		    w[2], r->started, w[3], r->duration, color ? outcome_color(r->outcome) : "",
		    r->outcome, color ? C_RESET : "", w[4] - (int)strlen(r->outcome), "", r->failure);
		while (b.len > 0 && b.data[b.len - 1] == ' ') /* no trailing blanks */
			b.data[--b.len] = '\0';
		buf_addc(&b, '\n');
	}
	/* journal text never drives the terminal */
	output_visible(b.data, b.len, true, &shown);
	fputs(buf_str(&shown), stdout);
	buf_release(&shown);
	buf_release(&b);
}

static struct json_object *
row_json(const struct row *r)
{
	struct json_object *j = json_object_new_object();
	const struct rl_run *run = r->loaded ? &r->run : NULL;

	json_object_object_add(j, "run_id", json_object_new_string(r->run_id));
	json_object_object_add(j, "runbook", strcmp(r->runbook, "?") ? json_object_new_string(r->runbook) : NULL);
	json_object_object_add(j, "file", run && run->file ? json_object_new_string(run->file) : NULL);
	json_object_object_add(j, "started", run && run->started ? json_object_new_string(run->started) : NULL);
	json_object_object_add(j, "ended", run && run->ended ? json_object_new_string(run->ended) : NULL);
	json_object_object_add(j, "duration_ms", run ? json_object_new_int64(runlog_work_ms(run)) : NULL);
	json_object_object_add(j, "sessions", run ? json_object_new_int64((int64_t)run->n_resumes + 1) : NULL);
	json_object_object_add(j, "outcome", json_object_new_string(r->outcome));
	json_object_object_add(j, "exit_code", run && run->outcome ? json_object_new_int(run->exit_code) : NULL);
	json_object_object_add(j, "failure", run && run->failure ? json_object_new_string(run->failure) : NULL);
	json_object_object_add(j, "pending_gate",
	    run && run->pending_gate ? json_object_new_string(run->pending_gate) : NULL);
	json_object_object_add(j, "commit_point",
	    run && run->commit_phase ? json_object_new_string(run->commit_phase) : NULL);
	json_object_object_add(j, "units", run ? json_object_new_int64((int64_t)run->n_units) : NULL);
	json_object_object_add(j, "resumes", run ? json_object_new_int64((int64_t)run->n_resumes) : NULL);
	json_object_object_add(j, "torn_tail", run ? json_object_new_boolean(run->torn_tail) : NULL);
	json_object_object_add(j, "error", r->error ? json_object_new_string(r->error) : NULL);
	return j;
}

static int
cmd_history_exec(const struct cmd_entry *self, struct opts *o)
{
	struct statedir *sd;
	struct row *rows = NULL;
	char **ids = NULL, *err = NULL;
	size_t n = 0;
	int rc = EXIT_OK;

	sd = statedir_open(o->state_dir, false, &err);
	if (sd == NULL || statedir_list_runs(sd, &ids, &n, &err) < 0) {
		fprintf(stderr, "migrate history: %s\n", err);
		free(err);
		statedir_free(sd);
		return EXIT_CANNOT_START;
	}
	rows = xcalloc(n ? n : 1, sizeof(*rows));
	for (size_t i = 0; i < n; i++)
		row_load(&rows[i], sd, ids[i]);
	if (o->format == FORMAT_JSON) {
		struct json_object *all = json_object_new_array();
		for (size_t i = 0; i < n; i++)
			json_object_array_add(all, row_json(&rows[i]));
		puts(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(all);
	} else if (n == 0) {
		printf("no runs in %s\n", statedir_path(sd));
	} else {
		print_table(rows, n, cmd_color_on(o->color, STDOUT_FILENO));
	}
	if (fflush(stdout) != 0)
		rc = EXIT_CANNOT_START;
	for (size_t i = 0; i < n; i++)
		row_release(&rows[i]);
	free(rows);
	statedir_free_list(ids, n);
	statedir_free(sd);
	return rc;
}

const struct cmd_entry cmd_history_entry = {
	.name = "history",
	.args_usage = "[options]",
	.summary = "runs in the state directory, newest first",
	.help = "Lists every run whose journal is in the state directory, newest first:\n"
		"run id, runbook, start time (UTC), duration, outcome (succeeded,\n"
		"rolled_back, needs_human, gate, interrupted, window; unfinished when no\n"
		"run end is recorded: the run crashed or is still running) and the\n"
		"failure, cut short. A journal that cannot be read is listed as corrupt\n"
		"(or unreadable) and does not stop the listing. Reads only; creates\n"
		"nothing. `migrate status RUN-ID` shows one run in full. --format json\n"
		"prints a JSON array.\n",
	.options = OPT_STATE_DIR | OPT_FORMAT | OPT_COLOR,
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_history_exec,
};
