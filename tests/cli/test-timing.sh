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

# --- the time an operator takes to answer a gate is not counted either -------
if /usr/bin/python3 -c 'import pty, termios, select' 2>/dev/null; then
	timeout -k 5 120 /usr/bin/python3 "$SRCDIR/tests/cli/tty-drive.py" --timeout 60 --think 4 \
		--out "$T/tty" --expect "r = roll back now: " --send yes -- \
		"$MIGRATE" run dl.yaml --var dir="$T" </dev/null 2>"$T/err"
	rc=$?
	expect_rc "a 3 s deadline with 4 s spent answering the gate at a terminal" 0
	work=$(journal_field run_end work_ms | tail -1)
	if [ -n "$work" ] && [ "$work" -lt 3000 ]; then
		pass "the answer's 4 s are not working time ($work ms)"
	else
		fail "run_end's work_ms is '$work'" "$(cat "$T/tty")"
	fi
	rm -rf "$MIGRATE_STATE_DIR" "$T/log"
else
	echo "SKIP: no pty module: the terminal gate case"
fi

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

# --- maintenance windows (wall clock) ---------------------------------------
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
later=$(at '+1 hour')
cat > win.yaml <<YAML
runbook: 1
name: win
not_before: $later
phases:
  - name: p
    steps:
      - {name: a, run: 'true'}
YAML
run_migrate run win.yaml
expect_rc "run before not_before" 6
expect_in "says when the window opens" "$T/err" "the maintenance window opens at $later"
[ -z "$(ls "$MIGRATE_STATE_DIR/runs" 2>/dev/null)" ] && pass "nothing was journaled" || fail "a journal was written"
sed -e "s/^not_before: .*/not_after: $(at '-1 hour')/" win.yaml > closed.yaml
run_migrate run closed.yaml
expect_rc "run after not_after" 6
expect_in "says the window closed" "$T/err" "maintenance window closed at"

# not_after passes while a unit runs: it is stopped, the run fails and unwinds
cat > wend.yaml <<YAML
runbook: 1
name: wend
vars: {dir: /tmp}
not_after: $(at '+4 seconds')
phases:
  - name: p
    steps:
      - name: a
        run: 'echo a >> \${dir}/log'
        rollback: {run: 'echo undo-a >> \${dir}/log'}
      - {name: b, run: 'sleep 60; echo b >> \${dir}/log'}
YAML
start=$(date +%s)
run_migrate run wend.yaml --var dir="$T"
expect_rc "not_after passed mid-unit: failed and unwound" 1
[ $(( $(date +%s) - start )) -lt 45 ] && pass "the running unit was stopped" || fail "b ran to its end"
expect_in "the window is named" "$T/out" "maintenance window closed at"
expect_file "b stopped, a unwound" "$T/log" "a
undo-a"
rm -rf "$MIGRATE_STATE_DIR" "$T/log"

# a phase reached before its window: stop (exit 6, resumable), resume once it opens
opens=$(at '+5 seconds')
cat > pwin.yaml <<YAML
runbook: 1
name: pwin
vars: {dir: /tmp}
phases:
  - name: prep
    steps:
      - {name: a, run: 'echo a >> \${dir}/log'}
  - name: cut
    not_before: $opens
    not_after: $(at '+1 hour')
    steps:
      - {name: b, run: 'echo b >> \${dir}/log'}
YAML
run_migrate run pwin.yaml --var dir="$T"
expect_rc "a phase reached before its window stops the run" 6
expect_in "naming the phase and the time" "$T/out" "phase 'cut' may not start before its maintenance window opens at $opens"
expect_file "the phase before it ran, cut did not" "$T/log" "a"
run_migrate status
expect_in "status tells the run waits for its window" "$T/out" "stopped before a maintenance window opened"
run_migrate resume
expect_rc "resume before the window opens" 6
expect_in "resume names the time again" "$T/out" "opens at $opens"
expect_not_in "and says nothing of units in doubt" "$T/err" "in doubt"
while [ "$(date -u +%s)" -le "$(date -u -d "$opens" +%s)" ]; do sleep 0.5; done
run_migrate resume
expect_rc "resume once the window is open" 0
expect_file "cut ran once" "$T/log" "a
b"
rm -rf "$MIGRATE_STATE_DIR" "$T/log"

# --- resumable pauses --------------------------------------------------------
# wait_for FILE TEXT: until FILE holds TEXT (bounded: only detects a hang).
wait_for() {
	for _ in $(seq 1500); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.02; done
	return 1
}

# run_bg ARGS...: migrate in the background ($pid), output in $T/out.
run_bg() {
	"$MIGRATE" "$@" </dev/null >"$T/out" 2>&1 &
	pid=$!
}

# interrupt NAME: SIGINT the background migrate and wait for it (hang guard 60 s).
interrupt() {
	kill -INT "$pid"
	for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		fail "$1: migrate still waits a minute after SIGINT"
		kill -KILL "$pid"
	fi
	wait "$pid"; rc=$?
}

# pause_records: state until wait_ms duration_ms of every pause record, one a line.
pause_records() {
	python3 - "$MIGRATE_STATE_DIR"/runs/*.jsonl <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("type") == "pause":
        print(r["unit"], r["state"], r.get("until"), r["wait_ms"], r["duration_ms"], r.get("by"))
PY
}

# check_rest NAME UNIT: the last "started" pause of UNIT ends when the first
# did (same until) and waits less than the whole pause.
check_rest() {
	pause_records > "$T/pauses"
	python3 - "$2" "$T/pauses" <<'PY' && pass "$1" || fail "$1" "$(cat "$T/pauses")"
import sys
unit, rows = sys.argv[1], [l.split() for l in open(sys.argv[2])]
started = [r for r in rows if r[0] == unit and r[1] == "started"]
assert len(started) >= 2, started
first, last = started[0], started[-1]
assert first[2] == last[2], "until changed"
assert int(last[3]) < int(last[4]), "waits the whole pause again"
PY
}

cat > pz.yaml <<'YAML'
runbook: 1
name: pz
vars: {dir: /tmp, len: 12s}
phases:
  - name: p
    steps:
      - {name: before, run: 'echo before >> ${dir}/log'}
      - {name: bake, pause: '${len}'}
      - {name: after, run: 'echo after >> ${dir}/log'}
YAML
run_bg run pz.yaml --var dir="$T"
wait_for "$T/out" "pause bake" || fail "the pause never began" "$(cat "$T/out")"
sleep 5
interrupt "pause step"
expect_rc "SIGINT during a 12 s pause" 5
pause_records > "$T/pauses"
expect_in "the journal has the pause with its end time" "$T/pauses" "bake started 20"
expect_in "and that it was stopped" "$T/pauses" "bake stopped"
run_migrate status
expect_in "status names the pause under way" "$T/out" "'bake' was under way"
start=$(date +%s)
run_migrate resume
took=$(( $(date +%s) - start ))
expect_rc "resume finishes the pause" 0
[ "$took" -lt 11 ] && pass "resume waited only the rest (${took}s)" || fail "resume took ${took}s: the whole pause again?"
expect_in "resume says only the rest is waited" "$T/out" "left of 12s"
check_rest "the resumed pause ends at the journaled time" bake
expect_file "the steps around the pause ran once" "$T/log" "before
after"
rm -rf "$MIGRATE_STATE_DIR" "$T/log"

# --skip-pause
run_bg run pz.yaml --var dir="$T" --var len=10m
wait_for "$T/out" "pause bake" || fail "the pause never began" "$(cat "$T/out")"
interrupt "long pause"
expect_rc "SIGINT during a 10 minute pause" 5
run_migrate resume --skip-pause
expect_rc "resume --skip-pause goes on at once" 0
expect_in "resume says the rest was skipped" "$T/out" "skipped (--skip-pause)"
pause_records > "$T/pauses"
expect_in "the skip is journaled" "$T/pauses" "bake skipped"
expect_in "naming --skip-pause" "$T/pauses" "--skip-pause"
expect_file "the step after the pause ran" "$T/log" "before
after"
rm -rf "$MIGRATE_STATE_DIR" "$T/log"

# a unit's bake (pause before its after probes): the unit runs again, its bake waits only the rest
cat > bake.yaml <<'YAML'
runbook: 1
name: bake
vars: {dir: /tmp}
probes:
  fine: {run: 'true'}
phases:
  - name: p
    steps:
      - name: shift
        for: [1]
        run: 'echo set ${item} >> ${dir}/log'
        pause: 12s
        after: [fine]
YAML
run_bg run bake.yaml --var dir="$T"
wait_for "$T/out" "pause shift" || fail "the bake never began" "$(cat "$T/out")"
sleep 5
interrupt "bake"
expect_rc "SIGINT during a 12 s bake" 5
start=$(date +%s)
run_migrate resume
took=$(( $(date +%s) - start ))
expect_rc "resume finishes the bake" 0
[ "$took" -lt 11 ] && pass "the bake waited only the rest (${took}s)" || fail "resume took ${took}s: the whole bake again?"
check_rest "the bake ends at the journaled time" "shift[0]"
rm -rf "$MIGRATE_STATE_DIR" "$T/log"

# a pause after a completed unit (no after probes): resume waits the rest before going on
cat > post.yaml <<'YAML'
runbook: 1
name: post
vars: {dir: /tmp}
phases:
  - name: p
    steps:
      - {name: one, run: 'echo one >> ${dir}/log', pause: 12s}
      - {name: two, run: 'echo two >> ${dir}/log'}
YAML
run_bg run post.yaml --var dir="$T"
wait_for "$T/out" "pause one" || fail "the pause never began" "$(cat "$T/out")"
sleep 5
interrupt "pause after a unit"
expect_rc "SIGINT during the pause after a unit" 5
start=$(date +%s)
run_migrate resume
took=$(( $(date +%s) - start ))
expect_rc "resume waits the rest, then goes on" 0
[ "$took" -lt 11 ] && pass "only the rest was waited (${took}s)" || fail "resume took ${took}s"
check_rest "the pause after the unit ends at the journaled time" one
expect_file "one ran once, then two" "$T/log" "one
two"
rm -rf "$MIGRATE_STATE_DIR" "$T/log"

finish
