#ifndef MIGRATE_FAULT_H
#define MIGRATE_FAULT_H

/*
 * Fault injection for tests (meson -Dfault_injection=true defines
 * MIGRATE_FAULT_INJECTION; in any other build every call below is the
 * plain system call and the environment is not read).
 *
 *   MIGRATE_FAULT=K:ERRNO         the K-th write, fdatasync or fsync of a
 *                                 journal fails
 *   MIGRATE_FAULT_RENAME=K:ERRNO  the K-th rename of a state file fails: a
 *                                 report or a known_hosts file renamed into
 *                                 place, an SFTP download's temporary file
 *                                 (local) or an upload's (on the server)
 *
 * ERRNO is EIO or ENOSPC (anything else: EIO). Each variable counts its own
 * calls over the whole process, from 1.
 */

#include <stdbool.h>

enum fault_kind {
	FAULT_JOURNAL,
	FAULT_RENAME,
};

#ifdef MIGRATE_FAULT_INJECTION
/* Whether this call of kind fails; if so errno is set to the injected error. */
bool fault_now(enum fault_kind kind);
#else
#define fault_now(kind) ((void)(kind), false)
#endif

/* rename(2), failing on demand in test builds (FAULT_RENAME). */
int fault_rename(const char *from, const char *to);

#endif
