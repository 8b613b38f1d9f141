#include "session.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exitcode.h"
#include "report.h"
#include "util.h"

int
session_open(struct session *s, struct opts *o, bool create)
{
	char *err = NULL;

	memset(s, 0, sizeof(*s));
	s->sd = statedir_open(o->state_dir, create, &err);
	if (s->sd == NULL) {
		fprintf(stderr, "migrate: %s\n", err ? err : "cannot open the state directory");
		free(err);
		return EXIT_CANNOT_START;
	}
	return 0;
}

int
session_lock(struct session *s, const char *runbook_name, const char *run_id)
{
	struct lock_holder h = LOCK_HOLDER_INIT;
	char *err = NULL;
	int rc = lock_acquire(s->sd, runbook_name, run_id, &s->lock, &h, &err);

	if (rc == 0)
		return 0;
	if (rc == 1) {
		if (h.run_id)
			fprintf(stderr, "migrate: runbook '%s' is locked by run %s (pid %ld on host %s, since %s)\n",
			    runbook_name, h.run_id, h.pid, h.host ? h.host : "?", h.started ? h.started : "?");
		else
			fprintf(stderr, "migrate: runbook '%s' is locked by another process\n", runbook_name);
		fprintf(stderr, "migrate: nothing was run; wait for that run to end, or stop it\n");
	} else {
		fprintf(stderr, "migrate: cannot lock runbook '%s': %s\n", runbook_name, err ? err : "?");
	}
	lock_holder_release(&h);
	free(err);
	return EXIT_CANNOT_START;
}

void
session_attach(struct session *s, struct run *run, struct engine_opts *eo,
    struct opts *o, struct journal *j, const char *file, const char *by)
{
	s->out = output_create(stdout, isatty(STDOUT_FILENO) == 1, cmd_color_on(o->color, STDOUT_FILENO),
	    o->verbosity);
	eo->ask = output_ask;
	eo->ask_ctx = s->out;
	if (j && s->inbox == NULL)
		s->inbox = inbox_new(statedir_runs_fd(s->sd), run->id);
	eo->inbox = s->inbox;
	if (j) {
		s->rj = run_journal_new(j, file, by, o->force);
		run_add_listener(run, run_journal_on_event, s->rj);
	}
	run_add_listener(run, output_on_event, s->out);
	if ((s->nt = notify_new(run->rb, s->rj)) != NULL)
		run_add_listener(run, notify_on_event, s->nt);
}

void
session_reports(const struct run *run, struct opts *o)
{
	for (size_t i = 0; i < o->n_reports; i++) {
		char *err = NULL;
		int r = strcmp(o->reports[i].kind, "junit") == 0
		    ? report_write_junit(run, o->reports[i].path, &err)
		    : report_write_json(run, o->reports[i].path, &err);
		if (r < 0)
			fprintf(stderr, "migrate: warning: %s (the run's outcome is unchanged)\n",
			    err ? err : "cannot write the report");
		free(err);
	}
}

char *
session_abspath(const char *file)
{
	char *p = realpath(file, NULL);
	return p ? p : xstrdup(file);
}

void
session_release(struct session *s)
{
	output_free(s->out);
	inbox_free(s->inbox);
	run_journal_free(s->rj);
	notify_free(s->nt);
	lock_release(s->lock);
	statedir_free(s->sd);
	memset(s, 0, sizeof(*s));
}
