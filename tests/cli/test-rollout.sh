#!/bin/bash
# Rollout control (SPEC §7): mapping items and ${...} numeric fields, the
# new keys in plan and validate, bad input, and the parts of §7 this build
# cannot run yet refused before anything runs.
. "$(dirname "$0")/lib.sh"
export MIGRATE_STATE_DIR="$T/state"

# --- a ramp of mapping items with a per-item bake ---
cat > ramp.yaml <<'YAML'
runbook: 1
name: ramp
vars:
  step_timeout: 20s
phases:
  - name: shift
    steps:
      - name: flag
        for: [{pct: 1, bake: 100ms}, {pct: 10, bake: 300ms}, {pct: 100, bake: 1s}]
        run: echo "flag at ${item.pct}%" >> "$OUT"
        pause: ${item.bake}
        timeout: ${step_timeout}
        rollback:
          run: echo "back from ${item.pct}" >> "$OUT"
YAML
run_migrate plan ramp.yaml
expect_rc "plan of a ramp" 0
expect_in "plan: each unit's command" "$T/out" 'echo "flag at 10%"'
expect_in "plan: the vars timeout resolved" "$T/out" "on local, timeout 20s"
expect_in "plan: the first unit's bake" "$T/out" "then pause 100ms"
expect_in "plan: the second unit's bake" "$T/out" "then pause 300ms"
expect_in "plan: the third unit's bake" "$T/out" "then pause 1s"
run_migrate plan ramp.yaml --format json
python3 - "$T/out" > "$T/pauses" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
for u in plan["phases"][0]["steps"][0]["units"]:
    print(u["item"], u.get("pause"))
PY
expect_file "plan json: item and pause per unit" "$T/pauses" "1 100ms
10 300ms
100 1s"
OUT="$T/ramp.out" run_migrate run ramp.yaml
expect_rc "the ramp runs" 0
expect_file "every stage in order" "$T/ramp.out" "flag at 1%
flag at 10%
flag at 100%"

# a ramp over a list of mappings held in vars, failing at the last stage:
# the unwind sees each unit's own item
cat > ramp2.yaml <<'YAML'
runbook: 1
name: ramp2
vars:
  stages:
    - {pct: 5, bake: 50ms}
    - {pct: 50, bake: 50ms}
    - {pct: 100, bake: 50ms}
phases:
  - name: shift
    steps:
      - name: flag
        for: ${stages}
        run: echo "set ${item.pct}" >> "$OUT"; [ ${item.pct} -lt 100 ]
        pause: ${item.bake}
        rollback:
          run: echo "unset ${item.pct}" >> "$OUT"
YAML
OUT="$T/ramp2.out" run_migrate run ramp2.yaml
expect_rc "a failing stage unwinds" 1
expect_file "unwound with each unit's item" "$T/ramp2.out" "set 5
set 50
set 100
unset 50
unset 5"

# --- bad input, before anything runs ---
cat > bad-item.yaml <<'YAML'
runbook: 1
name: bad-item
phases:
  - name: p
    steps:
      - name: s
        for:
          - {pct: 1, bake: 1m}
          - {pct: 2}
        run: echo ${item.pct}
        pause: ${item.bake}
YAML
run_migrate validate bad-item.yaml
expect_rc "an item without a key used" 2
expect_in "the item is named at its position" "$T/err" \
	"bad-item.yaml:9:13: item 2 of 'for' (pct: 2) has no key 'bake' (used by \${item.bake} in 'pause')"

cat > bad-type.yaml <<'YAML'
runbook: 1
name: bad-type
vars:
  who: bob
phases:
  - name: p
    steps:
      - name: s
        for: [{pct: 1, bake: soon}]
        run: echo ${item.pct}
        pause: ${item.bake}
        timeout: ${who}
YAML
run_migrate validate bad-type.yaml
expect_rc "a numeric field resolving to text" 2
expect_in "per item: position and item named" "$T/err" \
	"bad-type.yaml:9:30: 'pause' of step 's' is \${item.bake} = 'soon' for item 1 of 'for' (pct: 1, ...), which is not a duration such as 30s or 5m"
expect_in "from vars: position named" "$T/err" \
	"bad-type.yaml:12:18: 'timeout' is \${who} = 'bob', which is not a duration such as 30s or 5m"

cat > bad-keys.yaml <<'YAML'
runbook: 1
name: bad-keys
probes:
  up: {run: 'true'}
watch: {probes: [up], from: cut-over}
phases:
  - name: cutover
    gate: {message: "go?", approvals: 0}
    steps:
      - {name: s, run: 'true'}
YAML
run_migrate validate bad-keys.yaml
expect_rc "from: naming no phase, approvals: 0" 2
expect_in "from: names no phase" "$T/err" "bad-keys.yaml:5:29: 'from' names no phase: 'cut-over' (did you mean 'cutover'?)"
expect_in "approvals: 0" "$T/err" "bad-keys.yaml:8:39: 'approvals' must be at least 1"

# --- what this build cannot run yet is refused before anything runs ---
cat > later.yaml <<'YAML'
runbook: 1
name: later
phases:
  - name: p
    not_after: 2099-01-01T00:00:00Z
    steps:
      - {name: s, run: 'echo ran >> "$OUT"'}
YAML
run_migrate validate later.yaml
expect_rc "validate accepts not_after" 0
# (maintenance windows are built now: test-timing.sh; inside its window the run just runs)
OUT="$T/later.out" run_migrate run later.yaml
expect_rc "run inside a phase's window" 0
expect_file "the phase ran" "$T/later.out" "ran"

# --- commit points, partial rollback, verify_rollback ---
cat > commit.yaml <<'YAML'
runbook: 1
name: commit
probes:
  legacy-up:
    run: test ! -e "$STATE/legacy-down"
phases:
  - name: prepare
    steps:
      - name: copy
        run: echo copy >> "$OUT"
        rollback:
          run: echo undo-copy >> "$OUT"
  - name: db-switch
    commit: true
    steps:
      - name: switch
        run: echo switch >> "$OUT"
        rollback:
          run: echo undo-switch >> "$OUT"
  - name: cleanup
    steps:
      - name: tidy
        run: echo tidy >> "$OUT"
        rollback:
          run: echo undo-tidy >> "$OUT"
      - name: last
        run: echo last >> "$OUT"; test ! -e "$STATE/fail-last"
        rollback:
          run: echo undo-last >> "$OUT"
verify_rollback: [legacy-up]
YAML
export STATE="$T"
run_migrate plan commit.yaml
expect_in "plan marks the commit point" "$T/out" "== commit point: once db-switch is verified"
expect_in "plan shows verify_rollback" "$T/out" "after any rollback, verify: legacy-up"

rm -f "$T/c.out"; touch "$T/fail-last"
OUT="$T/c.out" run_migrate run commit.yaml
expect_rc "a failure after a commit point" 3
expect_in "says so" "$T/out" "failed after commit point db-switch"
expect_file "only what came after the commit point was unwound" "$T/c.out" "copy
switch
tidy
last
undo-tidy"
cid=$(sed -n 's/.*run \([0-9TZ]*-commit-[0-9a-f]*\).*/\1/p' "$T/out" | head -1)
expect_in "the journal records the commit point" "$MIGRATE_STATE_DIR/runs/$cid.jsonl" '"type":"commit","phase":"db-switch","completed":2'

run_migrate rollback "$cid" --to prepare --yes
expect_rc "rollback --to before the commit point is refused" 6
expect_in "names the commit point and the way" "$T/err" "passes commit point db-switch"
expect_in "and --past-commit" "$T/err" "add --past-commit"
run_migrate rollback "$cid" --to nowhere --yes
expect_rc "--to naming nothing" 2
expect_in "says so" "$T/err" "--to 'nowhere' names no phase or step"
OUT="$T/c.out" run_migrate rollback "$cid" --to prepare --past-commit --yes
expect_rc "--past-commit unwinds past it" 0
expect_file "back to prepare; copy stays" "$T/c.out" "copy
switch
tidy
last
undo-tidy
undo-switch"

# rollback --to on a finished run
rm -f "$T/c.out" "$T/fail-last"
OUT="$T/c.out" run_migrate run commit.yaml
expect_rc "the run succeeds" 0
fid=$(sed -n 's/.*run \([0-9TZ]*-commit-[0-9a-f]*\).*/\1/p' "$T/out" | head -1)
OUT="$T/c.out" run_migrate rollback "$fid" --to tidy --yes
expect_rc "rollback --to a step of a finished run" 0
expect_file "only the units after tidy" "$T/c.out" "copy
switch
tidy
last
undo-last"
OUT="$T/c.out" run_migrate rollback "$fid" --yes
expect_rc "a plain rollback stops at the commit point" 0
expect_in "and says so" "$T/out" "unwinding what came after commit point db-switch"
expect_file "tidy undone, switch stays" "$T/c.out" "copy
switch
tidy
last
undo-last
undo-tidy"

# verify_rollback failing after a completed unwind
cat > vr.yaml <<'YAML'
runbook: 1
name: vr
probes:
  legacy-up:
    run: test ! -e "$STATE/legacy-down"
verify_rollback: [legacy-up]
phases:
  - name: p
    steps:
      - name: a
        run: test -n "$KEEP_LEGACY" || touch "$STATE/legacy-down"
        rollback:
          run: echo undo-a
      - name: b
        run: exit 1
YAML
run_migrate run vr.yaml
expect_rc "verify_rollback failing exits 3" 3
expect_in "rolled back, but PROBE failed" "$T/out" "rolled back, but legacy-up failed"
rm -f "$T/legacy-down"
KEEP_LEGACY=1 run_migrate run vr.yaml
expect_rc "verify_rollback passing: exit 1" 1

# --- notify hooks (run hooks) ---
cat > notify.yaml <<'YAML'
runbook: 1
name: notify
secrets:
  token: {env: NOTIFY_TOKEN}
notify:
  - on: [start, phase, gate, failure, rollback, done]
    run: printf '%s|%s|%s\n' ${event.kind|quote} ${event.phase|quote} ${event.text|quote} >> "$HOOKS"
  - on: [done]
    run: exit 7
  - on: [failure]
    run: sleep 30
    timeout: 1s
phases:
  - name: p
    steps:
      - name: a
        run: echo a
        rollback:
          run: echo undo-a
      - name: b
        run: echo "token is $MIGRATE_SECRET_TOKEN"; exit 1
        expect: {stdout: 'never'}
YAML
export NOTIFY_TOKEN=s3cr3t-token-value HOOKS="$T/hooks.log"
run_migrate run notify.yaml
expect_rc "a failing hook and a hanging one do not change the exit code" 1
kinds=$(cut -d'|' -f1 "$T/hooks.log" | tr '\n' ' ')
if [ "$kinds" = "start phase failure rollback done " ]; then pass "events in order"; else fail "events in order" "$kinds"; fi
expect_in "the failure names the step" "$T/hooks.log" "failure|p|run "
expect_not_in "no secret in the hooks' text" "$T/hooks.log" "s3cr3t-token-value"
expect_in "a failed hook is shown" "$T/err" "notify hook 2 (done) failed: exit 7; the run goes on"
expect_in "a hanging hook is stopped at its timeout" "$T/err" "notify hook 3 (failure) failed: no answer within its timeout"
cat > notify-gate.yaml <<'YAML'
runbook: 1
name: notify-gate
notify:
  - on: gate
    run: printf '%s|%s\n' ${event.kind|quote} ${event.text|quote} >> "$HOOKS"
phases:
  - name: p
    gate: "Go on?"
    steps: [{name: a, run: 'true'}]
YAML
: > "$T/hooks.log"
run_migrate run notify-gate.yaml
expect_rc "gate" 4
expect_in "the gate event" "$T/hooks.log" "waits at gate p: Go on?"

# --- a phase watch's delay: no sample before it passed ---
cat > delay.yaml <<'YAML'
runbook: 1
name: delay
probes:
  bad: {run: 'false'}
phases:
  - name: p
    watch: {probes: [bad], interval: 100ms, delay: DELAY}
    steps:
      - {name: slow, run: sleep 2}
YAML
sed 's/DELAY/1h/' delay.yaml > delay-long.yaml
run_migrate run delay-long.yaml
expect_rc "no sample within the delay: the phase completes" 0
expect_not_in "no watch sample" "$T/out" "watch probe"
sed 's/DELAY/0s/' delay.yaml > delay-none.yaml
run_migrate run delay-none.yaml
expect_rc "without a delay the watch trips" 1

# --- a gate's show: probes run just before asking, values in the question ---
cat > show.yaml <<'YAML'
runbook: 1
name: show
probes:
  error-rate:
    run: echo 0.002
    expect: {value: {regex: '([0-9.]+)', below: 0.01}}
phases:
  - name: go
    gate:
      message: "Error rate ${probes.error-rate.value}: go?"
      show: [error-rate]
    steps: [{name: a, run: 'true'}]
YAML
run_migrate run show.yaml
expect_rc "stops at the gate" 4
expect_in "the probe ran before asking, value and verdict shown" "$T/out" "error-rate 0.002 < 0.01 ok"
expect_in "the question has the fresh value" "$T/out" "Error rate 0.002: go?"

# --- the README's worked example: runbooks/staged-rollout.yaml ---
cat > fast.yaml <<'YAML'
stages: [{pct: 1, bake: 10ms}, {pct: 10, bake: 10ms}, {pct: 50, bake: 10ms}]
YAML
sr="$T/staged"
run_migrate run "$SRCDIR/runbooks/staged-rollout.yaml" --vars fast.yaml --var workdir="$sr"
expect_rc "staged rollout stops at the two-person gate" 4
expect_in "the commit point is reached" "$T/out" "commit point backfill"
expect_file "the flag is at the last canary stage" "$sr/flag" "flag 50"
expect_in "the notify hook told of the gate" "$sr/events.log" "gate run "
sid=$(sed -n 's/.*run \([0-9TZ]*-staged-rollout-[0-9a-f]*\).*/\1/p' "$T/out" | head -1)
run_migrate approve "$sid" --as alice
run_migrate approve "$sid" go-live --as bob
expect_in "two approvals" "$T/out" "(2 of 2)"
echo 0.5 > "$sr/error-rate"
run_migrate resume "$sid"
expect_rc "a failure after the commit point" 3
expect_in "named" "$T/out" "failed after commit point backfill"
expect_in "the notify hook told of the failure" "$sr/events.log" "failure run "
expect_in "and of the end" "$sr/events.log" "done run $sid ended: failed, not rolled back (exit 3)"
expect_file "go-live undone, the canary stays" "$sr/flag" "flag 50"
[ -s "$sr/db.v2" ] && pass "the backfill stays" || fail "the backfill was undone"
run_migrate rollback "$sid" --past-commit --yes
expect_rc "--past-commit unwinds the rest" 0
expect_file "the flag is off" "$sr/flag" "flag 0"
[ -e "$sr/db.v2" ] && fail "db.v2 still there" || pass "the backfill is undone"

finish
