/* migrate help [COMMAND]: the command list, or one command's usage. */
#include <stdio.h>

#include "cmd.h"
#include "exitcode.h"

static int
cmd_help_exec(const struct cmd_entry *self, struct opts *o)
{
	const struct cmd_entry *e;
	bool ambiguous;

	if (o->n_args == 0) {
		printf("usage: migrate COMMAND [options]\n\ncommands:\n");
		for (size_t i = 0; cmd_table[i]; i++)
			printf("  %-9s %s\n", cmd_table[i]->name, cmd_table[i]->summary);
		printf("\nexit status: 0 ok, 1 failed and rolled back, 2 usage or invalid runbook,\n"
		    "3 failed and not fully rolled back, 4 stopped at a gate, 5 interrupted,\n"
		    "6 could not start or continue (lock, journal, in-doubt units).\n"
		    "\n'migrate help COMMAND' shows a command's options; see migrate(1).\n");
		return EXIT_OK;
	}
	e = cmd_find(o->args[0], &ambiguous);
	if (e == NULL) {
		fprintf(stderr, "migrate help: %s command '%s'\n", ambiguous ? "ambiguous" : "unknown", o->args[0]);
		return EXIT_USAGE;
	}
	cmd_usage(e, stdout);
	return EXIT_OK;
}

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.args_usage = "[COMMAND]",
	.summary = "show the commands, or one command's options",
	.help = "",
	.options = 0,
	.min_args = 0,
	.max_args = 1,
	.exec = cmd_help_exec,
};
