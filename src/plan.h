/*
 * plan.h - what a run would do, without doing it: every phase, step and
 * unit in execution order with resolved commands (secrets as ***),
 * targets, expectations, probes, gates, and the rollback order a failure
 * at each point would cause.
 *
 * The plan is written as it is made, a piece at a time, so its cost is
 * linear in the units: the unwind order is listed once (at the end), and
 * each unit says how much of it a failure there would roll back. The text
 * form renders each unit from the same JSON objects the JSON form prints.
 */
#ifndef MIGRATE_PLAN_H
#define MIGRATE_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"

/* Receives the plan a piece at a time (len bytes of data, not NUL-terminated). */
typedef void (*plan_write_fn)(void *ctx, const char *data, size_t len);

/* The plan of run (created with run_create; nothing is executed) as text for a reviewer. */
void plan_write_text(const struct run *run, bool color, plan_write_fn write, void *ctx);
/* The plan of run as one JSON document (man/migrate.1 describes its fields). */
void plan_write_json(const struct run *run, plan_write_fn write, void *ctx);

#endif
