#include "fault.h"

#include <stdio.h>

#ifdef MIGRATE_FAULT_INJECTION
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

bool
fault_now(enum fault_kind kind)
{
	static atomic_long calls[2];
	const char *spec = getenv(kind == FAULT_RENAME ? "MIGRATE_FAULT_RENAME" : "MIGRATE_FAULT");
	long k = spec ? strtol(spec, NULL, 10) : 0;

	if (k <= 0 || atomic_fetch_add(&calls[kind], 1) + 1 != k)
		return false;
	errno = strstr(spec, "ENOSPC") ? ENOSPC : EIO;
	return true;
}
#endif

int
fault_rename(const char *from, const char *to)
{
	return fault_now(FAULT_RENAME) ? -1 : rename(from, to);
}
