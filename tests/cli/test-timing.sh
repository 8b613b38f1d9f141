#!/bin/bash
# SPEC §7 timing: deadlines count working time across resumes (time stopped
# at a gate is not counted), a phase deadline, maintenance windows
# (not_before / not_after) and resumable pauses (--skip-pause). Timings are
# never asserted, only bounded generously to catch hangs; what happened is
# read from the journal and `migrate status`.
. "$SRCDIR/tests/cli/lib.sh"
export MIGRATE_STATE_DIR="$T/state"

# journal_field TYPE FIELD: the FIELD of every TYPE record of the only journal, one a line.
journal_field() {
	python3 - "$1" "$2" "$MIGRATE_STATE_DIR"/runs/*.jsonl <<'PY'
import json, sys
t, f = sys.argv[1], sys.argv[2]
for path in sys.argv[3:]:
    for line in open(path):
        r = json.loads(line)
        if r.get("type") == t:
            print(r.get(f))
PY
}

# --- the run deadline leaves out the time stopped at a gate -----------------
cat > dl.yaml <<'YAML'
runbook: 1
name: dl
vars: {dir: /tmp}
deadline: 3s
phases:
  - name: one
    steps:
      - name: a
        run: 'echo a >> ${dir}/log'
        rollback: {run: 'echo undo-a >> ${dir}/log'}
  - name: two
    gate: go on?
    steps:
      - {name: b, run: 'sleep 1; echo b >> ${dir}/log'}
YAML
run_migrate run dl.yaml --var dir="$T"
expect_rc "stops at the gate" 4
sleep 4
run_migrate resume --yes
expect_rc "resumed after longer than the deadline: the gate stop did not count" 0
expect_file "every step ran once" "$T/log" "a
b"
work=$(journal_field run_end work_ms | tail -1)
if [ -n "$work" ] && [ "$work" -lt 3000 ]; then
	pass "run_end records the working time ($work ms), without the 4 s at the gate"
else
	fail "run_end's work_ms is '$work'" "$(cat "$MIGRATE_STATE_DIR"/runs/*.jsonl)"
fi
run_migrate status --format json
expect_in "status shows the working time" "$T/out" '"work_ms"'
rm -rf "$MIGRATE_STATE_DIR" "$T/log"

# --- working time of both sessions adds up: the deadline passes on resume ---
cat > dl2.yaml <<'YAML'
runbook: 1
name: dl2
vars: {dir: /tmp}
deadline: 3s
phases:
  - name: one
    steps:
      - name: a
        run: 'sleep 2; echo a >> ${dir}/log'
        rollback: {run: 'echo undo-a >> ${dir}/log'}
  - name: two
    gate: go on?
    steps:
      - {name: b, run: 'sleep 30; echo b >> ${dir}/log'}
YAML
run_migrate run dl2.yaml --var dir="$T"
expect_rc "stops at the gate after 2 s of work" 4
start=$(date +%s)
run_migrate resume --yes
expect_rc "the deadline passes in the resumed session: failed and unwound" 1
[ $(( $(date +%s) - start )) -lt 25 ] && pass "the running step was stopped" || fail "the 30 s step ran to its end"
expect_in "the deadline is named" "$T/out" "deadline of 3s passed"
expect_file "b was stopped, a unwound" "$T/log" "a
undo-a"
rm -rf "$MIGRATE_STATE_DIR" "$T/log"

# --- a phase deadline: the phase's working time, across a resume -----------
cat > pdl.yaml <<'YAML'
runbook: 1
name: pdl
vars: {dir: /tmp}
phases:
  - name: warm
    steps:
      - {name: w, run: 'sleep 2'}
  - name: cut
    deadline: 3s
    steps:
      - name: a
        run: 'sleep 2; echo a >> ${dir}/log'
        rollback: {run: 'echo undo-a >> ${dir}/log'}
      - {name: ask, gate: really?}
      - {name: b, run: 'sleep 30; echo b >> ${dir}/log'}
YAML
run_migrate validate pdl.yaml
expect_rc "a phase deadline validates" 0
run_migrate run pdl.yaml --var dir="$T"
expect_rc "stops at the gate step" 4
sleep 2
run_migrate resume --yes
expect_rc "the phase deadline passes in the resumed session" 1
expect_in "the phase deadline is named" "$T/out" "deadline of phase 'cut' (3s of working time) passed"
expect_file "a unwound, b stopped" "$T/log" "a
undo-a"
rm -rf "$MIGRATE_STATE_DIR" "$T/log"

# a phase deadline that holds: the phase before it does not count
sed -e 's/sleep 30; //' pdl.yaml > pdl-ok.yaml
run_migrate run pdl-ok.yaml --var dir="$T" --yes
expect_rc "a phase within its deadline succeeds (the 2 s of phase warm do not count)" 0
phase_work=$(journal_field phase_end work_ms | tail -1)
[ -n "$phase_work" ] && [ "$phase_work" -lt 3000 ] && pass "phase_end records the phase's working time" \
	|| fail "phase_end work_ms is '$phase_work'"
rm -rf "$MIGRATE_STATE_DIR" "$T/log"

finish
