/*
 * migrate check RUNBOOK: validate, then reach every host and URL the
 * selected phases use, read-only (preflight). Sections: the HTTP endpoints
 * (http-check.c); SSH hosts are refused until their check is built.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "engine.h"
#include "exitcode.h"
#include "http-check.h"

#define CHECK_TIMEOUT_MS 10000

/* A selected unit on an SSH host: its check is not built yet. */
static const struct unit *
first_remote_unit(const struct run *run)
{
	for (size_t i = 0; i < run->n_units; i++)
		if (run->units[i].selected && strcmp(run->units[i].host, "local") != 0)
			return &run->units[i];
	return NULL;
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
	};
	const struct unit *remote;
	struct run *run;
	char *err = NULL;
	int rc;

	if (rb == NULL)
		return EXIT_USAGE;
	run = run_create(rb, &eo, NULL, &err);
	if (run == NULL) {
		fprintf(stderr, "migrate check: %s\n", err);
		free(err);
		runbook_free(rb);
		return EXIT_USAGE;
	}
	if ((remote = first_remote_unit(run)) != NULL) {
		fprintf(stderr, "migrate check: checking SSH hosts (step '%s' on '%s') is not available in this "
		    "release yet; nothing was checked\n", remote->step->name, remote->host);
		rc = EXIT_USAGE;
		goto cleanup;
	}
	if (engine_load_secrets(run) < 0) {
		fprintf(stderr, "migrate check: %s\n", run->failure);
		rc = EXIT_USAGE;
		goto cleanup;
	}
	printf("check %s (%s)\n", rb->name, rb->file);
	rc = check_http(run, cmd_color_on(o->color, 1));
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
		"listed as not checked. Exits 0 when every endpoint was reached, 1 when one\n"
		"was not, 2 on an invalid runbook. Checking SSH hosts is not available in\n"
		"this release yet: a runbook with steps on hosts is refused (exit 2).\n",
	.options = OPT_VARS | OPT_HOST_KEYS | OPT_STATE_DIR | OPT_COLOR,
	.min_args = 1,
	.max_args = 1,
	.exec = cmd_check_exec,
};
