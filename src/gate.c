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
gate_add_approval(struct run *run, const char *gate, const char *name)
{
	struct gate_approval a = { xstrdup(gate), xstrdup(name) };

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
gate_approvals_free(struct run *run)
{
	for (size_t i = 0; i < run->n_approvals; i++) {
		free(run->approvals[i].gate);
		free(run->approvals[i].name);
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
