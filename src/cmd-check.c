/*
 * migrate check RUNBOOK: validate, then reach every host and URL the
 * selected phases use, read-only (preflight). Sections: the SSH hosts
 * (connect, verify the host key on every hop, authenticate; nothing is run)
 * and the HTTP endpoints (http-check.c).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "engine.h"
#include "exitcode.h"
#include "http-check.h"
#include "ssh-conn.h"
#include "util.h"

#define CHECK_TIMEOUT_MS 10000

enum check_kind { CHECK_SSH };

struct check_item {
	enum check_kind kind;
	const struct exec_target *target;   /* CHECK_SSH */
	bool ok;
	char *detail;                       /* what was checked, or what failed (masked) */
	int64_t duration_ms;
};

struct check_list {
	struct check_item *v;
	size_t n, cap;
	struct run *run;
	size_t next;                        /* the next item a worker takes, under lock */
	pthread_mutex_t lock;
};

static void
add_ssh(struct check_list *l, const struct exec_target *t)
{
	struct check_item it;

	if (t == NULL || exec_target_is_local(t))
		return;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].kind == CHECK_SSH && l->v[i].target == t)
			return;
	memset(&it, 0, sizeof(it));
	it.kind = CHECK_SSH;
	it.target = t;
	PUSH(l->v, l->n, l->cap, it);
}

static void
add_probe(struct check_list *l, const struct probe *p, const struct exec_target *unit_target)
{
	if (p == NULL || p->action.kind != ACT_RUN)
		return;
	add_ssh(l, p->on ? run_target(l->run, p->on) : unit_target);
}

/* Every remote target the selected units reach: their hosts, rollbacks' and probes' on:. */
static void
collect(struct check_list *l)
{
	struct run *run = l->run;

	for (size_t i = 0; i < run->n_units; i++) {
		const struct unit *u = &run->units[i];
		const struct step *s = u->step;
		if (!u->selected)
			continue;
		add_ssh(l, u->target);
		if (s->rollback)
			add_ssh(l, s->rollback->on ? run_target(run, s->rollback->on) : u->target);
		if (s->action.kind == ACT_PROBE)
			add_probe(l, s->action.probe, u->target);
		for (size_t k = 0; k < s->n_after; k++)
			add_probe(l, s->after[k].probe, u->target);
		add_probe(l, s->check.probe, u->target);
	}
}

static void
check_one(struct check_list *l, struct check_item *it)
{
	int64_t t0 = now_ms();
	char *err = NULL;

	switch (it->kind) {
	case CHECK_SSH: {
		struct ssh_wait w = { 0, -1 };
		const struct exec_target *t = it->target;
		struct ssh_conn *c = ssh_pool_get(exec_ssh_pool(l->run->exec), t, &w, &err);
		it->ok = c != NULL;
		if (c)
			it->detail = xasprintf("%s@%s:%d%s%s: connected, host key verified, authenticated",
			    t->user ? t->user : "", t->address, t->port > 0 ? t->port : 22,
			    t->via ? " via " : "", t->via ? t->via->name : "");
		else
			it->detail = secrets_masked(&l->run->secrets, err);
		free(err);
		break;
	}
	}
	it->duration_ms = now_ms() - t0;
}

static void *
worker(void *arg)
{
	struct check_list *l = arg;

	for (;;) {
		struct check_item *it = NULL;
		pthread_mutex_lock(&l->lock);
		if (l->next < l->n)
			it = &l->v[l->next++];
		pthread_mutex_unlock(&l->lock);
		if (it == NULL)
			return NULL;
		check_one(l, it);
	}
}

/* Connect to every SSH host of the selected units, at most forks at once; print one line each. */
static int
check_ssh(struct run *run, int forks, bool color)
{
	struct check_list l;
	pthread_t *threads;
	size_t n_threads, failed = 0;

	memset(&l, 0, sizeof(l));
	pthread_mutex_init(&l.lock, NULL);
	l.run = run;
	collect(&l);
	if (forks <= 0)
		forks = 10;
	n_threads = l.n < (size_t)forks ? l.n : (size_t)forks;
	threads = xcalloc(n_threads + 1, sizeof(*threads));
	for (size_t i = 0; i < n_threads; i++)
		if (pthread_create(&threads[i], NULL, worker, &l) != 0)
			threads[i] = 0;
	worker(&l);   /* also here: progress even if no thread could start */
	for (size_t i = 0; i < n_threads; i++)
		if (threads[i])
			pthread_join(threads[i], NULL);
	for (size_t i = 0; i < l.n; i++) {
		const struct check_item *it = &l.v[i];
		const char *c = !color ? "" : it->ok ? "\033[32m" : "\033[31m";
		if (!it->ok)
			failed++;
		printf("  %s%s%s %-20s %s\n", c, it->ok ? "ok     " : "FAILED ", color ? "\033[0m" : "",
		    it->target->name, it->detail);
	}
	if (l.n == 0)
		printf("  no SSH hosts\n");
	else
		printf("%zu SSH host%s: %zu reachable, %zu failed\n", l.n, l.n == 1 ? "" : "s", l.n - failed, failed);
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].detail);
	free(l.v);
	free(threads);
	pthread_mutex_destroy(&l.lock);
	return failed ? EXIT_ROLLED_BACK : EXIT_OK;
}

static int
check_http(struct run *run, bool color)
{
	struct http_endpoints eps;
	size_t ok = 0, failed = 0, skipped = 0;

	http_endpoints_collect(run, &eps);
	http_endpoints_check(run, &eps, CHECK_TIMEOUT_MS);
	for (size_t i = 0; i < eps.n; i++) {
		const struct http_endpoint *e = &eps.v[i];
		const char *mark = e->skipped ? "SKIPPED" : e->ok ? "ok     " : "FAILED ";
		const char *c = !color ? "" : e->skipped ? "\033[33m" : e->ok ? "\033[32m" : "\033[31m";

		printf("  %s%s%s %-40s ", c, mark, color ? "\033[0m" : "", e->origin);
		if (e->skipped)
			printf("%s", e->message);
		else if (e->ok)
			printf("%s%" PRId64 "ms", strncmp(e->origin, "https:", 6) == 0 ? "TLS ok, " : "", e->ms);
		else
			printf("%s", e->message);
		printf("  (%s%s)%s\n", e->used_by, e->n_users > 1 ? " and more" : "",
		    e->insecure ? " [TLS verification OFF]" : "");
		if (e->skipped)
			skipped++;
		else if (e->ok)
			ok++;
		else
			failed++;
	}
	if (eps.n == 0)
		printf("  no HTTP endpoints\n");
	else
		printf("%zu HTTP endpoint%s: %zu reachable, %zu failed, %zu not checked\n", eps.n,
		    eps.n == 1 ? "" : "s", ok, failed, skipped);
	http_endpoints_release(&eps);
	return failed ? EXIT_ROLLED_BACK : EXIT_OK;
}

static int
cmd_check_exec(const struct cmd_entry *self, struct opts *o)
{
	struct runbook *rb = cmd_load_runbook(o->args[0], o);
	struct engine_opts eo = {
		.phases = (const char *const *)o->phases, .n_phases = o->n_phases,
		.from = o->from, .to = o->to,
		.forks = o->forks,
		.accept_new_host_keys = o->accept_new_host_keys,
	};
	struct run *run;
	char *err = NULL;
	int rc, rc_http;

	if (rb == NULL)
		return EXIT_USAGE;
	run = run_create(rb, &eo, NULL, &err);
	if (run == NULL) {
		fprintf(stderr, "migrate check: %s\n", err);
		free(err);
		runbook_free(rb);
		return EXIT_USAGE;
	}
	if (engine_load_secrets(run) < 0) {
		fprintf(stderr, "migrate check: %s\n", run->failure);
		rc = EXIT_USAGE;
		goto cleanup;
	}
	if (run_resolve_targets(run, &err) < 0) {
		fprintf(stderr, "migrate check: %s\n", err);
		free(err);
		rc = EXIT_USAGE;
		goto cleanup;
	}
	printf("check %s (%s)\n", rb->name, rb->file);
	rc = check_ssh(run, o->forks, cmd_color_on(o->color, 1));
	rc_http = check_http(run, cmd_color_on(o->color, 1));
	if (rc == EXIT_OK)
		rc = rc_http;
cleanup:
	run_free(run);
	runbook_free(rb);
	return rc;
}

const struct cmd_entry cmd_check_entry = {
	.name = "check",
	.args_usage = "RUNBOOK [options]",
	.summary = "validate, then connect to every host and URL read-only (preflight)",
	.help = "Loads and validates RUNBOOK, reads its secrets, then reaches every HTTP\n"
		"endpoint the runbook uses (steps, rollbacks and probes): each\n"
		"scheme://host:port once, resolved, connected and, for https, through the\n"
		"TLS handshake with the request's own insecure/ca_cert. No request is sent,\n"
		"so nothing changes. A URL that depends on a capture or a probe value is\n"
		"listed as not checked. Before that, every SSH host the selected phases use\n"
		"(steps, rollbacks, probes, and their jump hosts) is connected to, its host\n"
		"key verified and the login authenticated, at most --forks at once; nothing\n"
		"is run. Exits 0 when every host and endpoint was reached, 1 when one was\n"
		"not, 2 on an invalid runbook.\n",
	.options = OPT_VARS | OPT_SELECT | OPT_FORKS | OPT_HOST_KEYS | OPT_STATE_DIR | OPT_COLOR,
	.min_args = 1,
	.max_args = 1,
	.exec = cmd_check_exec,
};
