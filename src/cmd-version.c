/* migrate version: print the version. */
#include <stdio.h>

#include "cmd.h"
#include "config.h"
#include "exitcode.h"

static int
cmd_version_exec(const struct cmd_entry *self, struct opts *o)
{
	printf("migrate %s\n", MIGRATE_VERSION);
	return EXIT_OK;
}

const struct cmd_entry cmd_version_entry = {
	.name = "version",
	.args_usage = "",
	.summary = "print the version",
	.help = "",
	.options = 0,
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_version_exec,
};
