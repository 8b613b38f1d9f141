/* duration.h - durations as runbooks write them: 250ms, 30s, 5m, 2h, 1m30s. */
#ifndef MIGRATE_DURATION_H
#define MIGRATE_DURATION_H

#include <stdint.h>

#include "buf.h"

/* The largest duration accepted: 30 days. */
#define DURATION_MAX_MS ((int64_t)30 * 24 * 3600 * 1000)

/*
 * Parse s into milliseconds. Units: ms, s, m, h, d; several may be combined
 * in decreasing order (1h30m, 1m30s500ms). A bare "0" is zero. Returns 0, or
 * -1 for anything else (empty, unknown unit, no number, out of range).
 */
int duration_parse(const char *s, int64_t *ms);
/* Append a short human form: 250ms, 1.2s, 4m05s, 2h00m. */
void duration_format(struct buf *out, int64_t ms);
/* Append the canonical runbook form that duration_parse reads back: 1m30s. */
void duration_format_exact(struct buf *out, int64_t ms);

#endif
