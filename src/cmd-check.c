/* migrate check: validate, then connect to every host and URL read-only (preflight) (not available in this release yet). */
#include "cmd.h"

const struct cmd_entry cmd_check_entry = {
	.name = "check",
	.args_usage = "RUNBOOK [options]",
	.summary = "validate, then connect to every host and URL read-only (preflight)",
	.help = "Not available in this release yet: the command says so and exits 2.\n",
	.options = OPT_VARS | OPT_HOST_KEYS | OPT_STATE_DIR | OPT_COLOR,
	.min_args = 1,
	.max_args = 1,
	.exec = cmd_not_available,
};
