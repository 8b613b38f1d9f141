/* exitcode.h - the exit codes of every command (SPEC §1, man/migrate.1). */
#ifndef MIGRATE_EXITCODE_H
#define MIGRATE_EXITCODE_H

enum exit_code {
	EXIT_OK = 0,          /* success, or no problem found */
	EXIT_ROLLED_BACK = 1, /* failed; the unwind completed */
	EXIT_USAGE = 2,       /* usage error or invalid runbook; nothing ran */
	EXIT_NEEDS_HUMAN = 3, /* failed and not fully rolled back */
	EXIT_GATE = 4,        /* stopped at a gate that was not approved */
	EXIT_INTERRUPTED = 5, /* interrupted by a signal */
	EXIT_CANNOT_START = 6 /* locked, journal mismatch/corrupt, in-doubt units */
};

#endif
