/*
 * expect.h - checking an action's result against `expect:` and taking
 * `capture:` values (SPEC §2).
 */
#ifndef MIGRATE_EXPECT_H
#define MIGRATE_EXPECT_H

#include <stdbool.h>

#include "buf.h"
#include "exec.h"
#include "runbook.h"

/*
 * Does res satisfy e (for an action of kind)? Returns true, or false with
 * the first condition that does not hold described in why (e.g. "exit 1,
 * expected 0", "stdout does not match '^ok$'", "value 0.02 is not below 0.001").
 */
bool expect_check(const struct expect *e, enum action_kind kind,
    const struct exec_result *res, struct buf *why);

/* Format the conditions of e for the plan ("exit 0; stdout =~ /x/"). */
void expect_describe(const struct expect *e, enum action_kind kind, struct buf *out);

#endif
