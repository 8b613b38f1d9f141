/*
 * plan.h - what a run would do, without doing it: every phase, step and
 * unit in execution order with resolved commands (secrets as ***),
 * targets, expectations, probes, gates, and the rollback order a failure
 * at each point would cause. Built as one JSON document; the text form is
 * rendered from that same document.
 */
#ifndef MIGRATE_PLAN_H
#define MIGRATE_PLAN_H

#include <json-c/json.h>
#include <stdbool.h>

#include "buf.h"
#include "engine.h"

/* The plan of run (created with run_create; nothing is executed). Caller puts it. */
struct json_object *plan_build(const struct run *run);
/* Render the plan document as text for a reviewer. */
void plan_render_text(struct json_object *plan, bool color, struct buf *out);

#endif
