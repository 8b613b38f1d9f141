/* migrate plan RUNBOOK: show what run would do; touches nothing. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "engine.h"
#include "exitcode.h"
#include "plan.h"

int cmd_plan_show(struct opts *o, struct runbook *rb);

static void
write_stdout(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	fwrite(data, 1, len, stdout);
}

/* Shared with `run --dry-run`: print the plan of rb under o's selection. */
int
cmd_plan_show(struct opts *o, struct runbook *rb)
{
	struct engine_opts eo = {
		.phases = (const char *const *)o->phases, .n_phases = o->n_phases,
		.from = o->from, .to = o->to,
	};
	struct run *run;
	char *err = NULL;

	run = run_create(rb, &eo, NULL, &err);
	if (run == NULL) {
		fprintf(stderr, "migrate: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	if (o->format == FORMAT_JSON)
		plan_write_json(run, write_stdout, NULL);
	else
		plan_write_text(run, cmd_color_on(o->color, 1), write_stdout, NULL);
	/* freeing 10,000 steps' units and runbook piece by piece was a tenth of plan's time */
	if (!cmd_keep_until_exit(run))
		run_free(run);
	return EXIT_OK;
}

static int
cmd_plan_exec(const struct cmd_entry *self, struct opts *o)
{
	struct runbook *rb = cmd_load_runbook(o->args[0], o);
	int rc;

	if (rb == NULL)
		return EXIT_USAGE;
	rc = cmd_plan_show(o, rb);
	if (!cmd_keep_until_exit(rb))
		runbook_free(rb);
	return rc;
}

const struct cmd_entry cmd_plan_entry = {
	.name = "plan",
	.args_usage = "RUNBOOK [options]",
	.summary = "show what run would do; touches nothing",
	.help = "Loads and validates RUNBOOK, then prints every phase, step and unit in\n"
		"execution order with resolved commands (secrets as ***), targets,\n"
		"expectations, probes, gates, and the rollback order a failure at each\n"
		"point would cause. Nothing is executed and nothing is connected to.\n",
	.options = OPT_VARS | OPT_SELECT | OPT_FORMAT | OPT_COLOR,
	.min_args = 1,
	.max_args = 1,
	.exec = cmd_plan_exec,
	.one_shot = true,
};
