/*
 * gate.c - approvals of gates (SPEC §7). A gate that needs N approvals
 * passes once N distinct names approved it; the same name twice counts once.
 */
#include "gate.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "util.h"

void
gate_add_approval(struct run *run, const char *gate, const char *name, const char *user,
    const char *host, const char *via, int64_t at_ms)
{
	struct gate_approval a;
	char here[256] = "";

	if (host == NULL && (gethostname(here, sizeof(here) - 1) < 0 || here[0] == '\0'))
		strcpy(here, "unknown");
	a.gate = xstrdup(gate);
	a.name = xstrdup(name);
	a.user = xstrdup(user ? user : gate_user_name());
	a.host = xstrdup(host ? host : here);
	a.via = xstrdup(via ? via : "");
	a.at_ms = at_ms ? at_ms : wall_ms();

	PUSH(run->approvals, run->n_approvals, run->cap_approvals, a);
}

int
gate_approved_by(const struct run *run, const char *gate, const char *name)
{
	for (size_t i = 0; i < run->n_approvals; i++)
		if (strcmp(run->approvals[i].gate, gate) == 0 && strcmp(run->approvals[i].name, name) == 0)
			return 1;
	return 0;
}

size_t
gate_approvers(const struct run *run, const char *gate, struct buf *names)
{
	size_t n = 0;

	for (size_t i = 0; i < run->n_approvals; i++) {
		const struct gate_approval *a = &run->approvals[i];
		bool seen = false;
		if (strcmp(a->gate, gate) != 0)
			continue;
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(run->approvals[k].gate, gate) == 0 && strcmp(run->approvals[k].name, a->name) == 0;
		if (seen)
			continue;
		if (names)
			buf_addf(names, "%s%s", n ? ", " : "", a->name);
		n++;
	}
	return n;
}

void
gate_set_outcome(struct run *run, const char *gate, const char *state, const char *why)
{
	struct gate_outcome *g = (struct gate_outcome *)gate_outcome(run, gate);

	if (g == NULL) {
		struct gate_outcome n = { xstrdup(gate), NULL, NULL };
		PUSH(run->gate_outcomes, run->n_gate_outcomes, run->cap_gate_outcomes, n);
		g = &run->gate_outcomes[run->n_gate_outcomes - 1];
	}
	free(g->state);
	free(g->why);
	g->state = xstrdup(state);
	g->why = why ? xstrdup(why) : NULL;
}

const struct gate_outcome *
gate_outcome(const struct run *run, const char *gate)
{
	for (size_t i = 0; i < run->n_gate_outcomes; i++)
		if (strcmp(run->gate_outcomes[i].name, gate) == 0)
			return &run->gate_outcomes[i];
	return NULL;
}

void
gate_approvals_free(struct run *run)
{
	for (size_t i = 0; i < run->n_gate_outcomes; i++) {
		free(run->gate_outcomes[i].name);
		free(run->gate_outcomes[i].state);
		free(run->gate_outcomes[i].why);
	}
	free(run->gate_outcomes);
	run->gate_outcomes = NULL;
	run->n_gate_outcomes = run->cap_gate_outcomes = 0;
	for (size_t i = 0; i < run->n_approvals; i++) {
		free(run->approvals[i].gate);
		free(run->approvals[i].name);
		free(run->approvals[i].user);
		free(run->approvals[i].host);
		free(run->approvals[i].via);
	}
	free(run->approvals);
	run->approvals = NULL;
	run->n_approvals = run->cap_approvals = 0;
}

const char *
gate_user_name(void)
{
	struct passwd *pw = getpwuid(geteuid());
	const char *u = pw && pw->pw_name && *pw->pw_name ? pw->pw_name : getenv("USER");

	return u && *u ? u : "unknown";
}

