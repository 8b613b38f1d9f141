/* migrate plan RUNBOOK: show what run would do; touches nothing. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "engine.h"
#include "exitcode.h"
#include "plan.h"

int cmd_plan_show(struct opts *o, struct runbook *rb);

/* Shared with `run --dry-run`: print the plan of rb under o's selection. */
int
cmd_plan_show(struct opts *o, struct runbook *rb)
{
	struct engine_opts eo = {
		.phases = (const char *const *)o->phases, .n_phases = o->n_phases,
		.from = o->from, .to = o->to,
	};
	struct json_object *plan;
	struct run *run;
	char *err = NULL;

	run = run_create(rb, &eo, NULL, &err);
	if (run == NULL) {
		fprintf(stderr, "migrate: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	plan = plan_build(run);
	if (o->format == FORMAT_JSON) {
		puts(json_object_to_json_string_ext(plan, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		struct buf b = BUF_INIT;
		plan_render_text(plan, cmd_color_on(o->color, 1), &b);
		fputs(buf_str(&b), stdout);
		buf_release(&b);
	}
	json_object_put(plan);
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
};
