#!/bin/bash
# Operator safety (issue 12, SPEC §1 and §4): --approve names that are no
# gate, the state directory that does not depend on the current directory,
# confirming a rollback, one unfinished run per runbook, orphans after a
# SIGKILL, references in expect patterns, rollback once per host.
. "$(dirname "$0")/lib.sh"

# --- 1. --approve NAME that is no gate: exit 2 before anything runs --------
cat > gates.yaml <<'YAML'
runbook: 1
name: gates
vars: {dir: /tmp}
phases:
  - name: cutover
    gate: "On-call assembled?"
    steps:
      - name: before
        run: echo before >> "${dir}/log"
      - name: all-clear
        gate: "All clear?"
      - name: after
        run: echo after >> "${dir}/log"
YAML
run_migrate run gates.yaml --var dir="$T" --approve cutover --approve all-clr
expect_rc "run --approve with a misspelt gate" 2
[ ! -e "$T/log" ] && pass "nothing ran" || fail "a step ran" "$(cat "$T/log")"
[ ! -e "$XDG_STATE_HOME/migrate/runs" ] || [ -z "$(ls "$XDG_STATE_HOME/migrate/runs")" ] &&
	pass "no journal was made" || fail "a journal was made"
expect_in "the unknown name is named" "$T/err" "--approve 'all-clr' names no gate of runbook 'gates'"
expect_in "the nearest gate is suggested" "$T/err" "did you mean 'all-clear'?"
expect_in "the gates are listed (phase)" "$T/err" "cutover (phase gate)"
expect_in "the gates are listed (step)" "$T/err" "all-clear (gate step)"

run_migrate run gates.yaml --var dir="$T" --approve cutover
expect_rc "stopped at the step gate" 4
ID=$(sed -n 's/.*run \([^ ]*\) stopped at gate.*/\1/p' "$T/out" | head -1)
[ -n "$ID" ] && pass "run id shown" || fail "no run id in output" "$(cat "$T/out")"
run_migrate resume "$ID" --approve go-no-ggo
expect_rc "resume --approve with a name that is no gate" 2
expect_in "resume names it" "$T/err" "--approve 'go-no-ggo' names no gate of runbook 'gates'"
expect_in "resume lists the gates" "$T/err" "all-clear (gate step)"
expect_file "resume ran nothing" "$T/log" "before"
run_migrate resume "$ID" --approve all-clear
expect_rc "resume with the right name" 0
expect_file "the rest ran" "$T/log" "before
after"
rm -f "$T/log"

# --- 4. the default state directory is the same from any directory ---------
mkdir -p "$T/a" "$T/b"
cat > "$T/a/hold.yaml" <<'YAML'
runbook: 1
name: hold
vars: {dir: /tmp}
phases:
  - name: p
    steps:
      - name: wait
        run: 'touch "${dir}/started"; while [ -e "${dir}/hold" ]; do sleep 0.05; done'
YAML
cd "$T/a"; run_migrate run hold.yaml --var dir="$T"; cd "$T"
expect_rc "run from directory a" 0
ID=$(ls "$XDG_STATE_HOME/migrate/runs" | grep -- '-hold-' | sed 's/\.jsonl$//')
[ -n "$ID" ] && pass "the journal is under \$XDG_STATE_HOME/migrate" || fail "no journal in $XDG_STATE_HOME/migrate/runs"
cd "$T/b"; run_migrate status "$ID"; cd "$T"
expect_rc "status RUN-ID from directory b" 0
expect_in "status from b finds the run" "$T/out" "$ID"
# the lock protects from any directory
touch "$T/hold"
rm -f "$T/started"
(cd "$T/a" && timeout -k 5 120 "$MIGRATE" run hold.yaml --var dir="$T" </dev/null >"$T/out1" 2>&1) &
holder=$!
for _ in $(seq 500); do [ -e "$T/started" ] && break; sleep 0.02; done
cd "$T/b"; run_migrate run "$T/a/hold.yaml" --var dir="$T"; cd "$T"
expect_rc "a second run from directory b is refused" 6
expect_in "the refusal names the holder" "$T/err" "is locked by run"
rm -f "$T/hold"
wait "$holder"
# without XDG_STATE_HOME: ~/.local/state/migrate
mkdir -p "$T/home"
cd "$T/b"; XDG_STATE_HOME= HOME="$T/home" run_migrate run "$T/a/hold.yaml" --var dir="$T"; cd "$T"
expect_rc "run without XDG_STATE_HOME" 0
ls "$T/home/.local/state/migrate/runs/"*-hold-*.jsonl >/dev/null 2>&1 &&
	pass "the journal is under ~/.local/state/migrate" || fail "no journal under ~/.local/state/migrate"
[ "$(stat -c %a "$T/home/.local/state/migrate")" = 700 ] && pass "the state directory is 0700" ||
	fail "state directory mode $(stat -c %a "$T/home/.local/state/migrate")"
# MIGRATE_STATE_DIR wins over XDG_STATE_HOME, --state-dir over both
cd "$T/b"; MIGRATE_STATE_DIR="$T/team" run_migrate history; cd "$T"
expect_in "MIGRATE_STATE_DIR is used" "$T/out" "$T/team"
cd "$T/b"; MIGRATE_STATE_DIR="$T/team" run_migrate history --state-dir "$T/mine"; cd "$T"
expect_in "--state-dir wins" "$T/out" "$T/mine"

# --- 2. migrate rollback shows what it undoes and asks --------------------
PY=/usr/bin/python3
DRIVE="$SRCDIR/tests/cli/tty-drive.py"
export MIGRATE_STATE_DIR="$T/rb-state"
cat > undo.yaml <<'YAML'
runbook: 1
name: undo
vars: {dir: /tmp}
phases:
  - name: p
    steps:
      - name: first
        run: echo first >> "${dir}/undo.log"
        rollback:
          run: echo undo first >> "${dir}/undo.log"
      - name: note
        run: echo note >> "${dir}/undo.log"
      - name: second
        for: [alpha, beta]
        run: echo second ${item} >> "${dir}/undo.log"
        rollback:
          run: echo undo second ${item} >> "${dir}/undo.log"
YAML
run_migrate run undo.yaml --var dir="$T"
expect_rc "a run that succeeded" 0
ID=$(ls "$MIGRATE_STATE_DIR/runs" | sed 's/\.jsonl$//')
rm -f "$T/undo.log"
run_migrate rollback
expect_rc "rollback without a terminal and without --yes" 2
[ ! -e "$T/undo.log" ] && pass "nothing was rolled back without --yes" || fail "rolled back without asking" "$(cat "$T/undo.log")"
expect_in "it says which run it took" "$T/out" "taking run $ID, the newest run not rolled back"
expect_in "it shows the outcome" "$T/out" "run $ID of runbook 'undo'"
expect_in "it shows the outcome (succeeded)" "$T/out" "): succeeded"
expect_in "it says --yes is needed" "$T/err" "migrate rollback $ID --yes"
# the units newest first
units=$(grep '^  [a-z]' "$T/out" | awk '{print $1}' | tr '\n' ' ')
[ "$units" = "second[beta] second[alpha] note first " ] && pass "the units are listed newest first" ||
	fail "units not listed newest first: $units" "$(cat "$T/out")"
expect_in "a unit without rollback is said to stay" "$T/out" "no rollback: stays in place"
if "$PY" -c 'import pty' 2>/dev/null; then
	timeout -k 5 120 "$PY" "$DRIVE" --timeout 60 --out "$T/tty" --expect "type yes to continue:" --send no -- \
		"$MIGRATE" rollback </dev/null 2>"$T/err"
	rc=$?
	expect_rc "answered no on a terminal" 4
	expect_in "the terminal is asked" "$T/tty" "roll back run $ID? type yes to continue:"
	expect_in "the plan is shown before the question" "$T/tty" "rolling back undoes, newest first:"
	expect_in "no says nothing was done" "$T/tty" "nothing was rolled back"
	[ ! -e "$T/undo.log" ] && pass "nothing ran after no" || fail "rolled back after no"
	timeout -k 5 120 "$PY" "$DRIVE" --timeout 60 --out "$T/tty" --expect "type yes to continue:" --send yes -- \
		"$MIGRATE" rollback "$ID" </dev/null 2>"$T/err"
	rc=$?
	expect_rc "answered yes on a terminal" 0
	expect_file "rolled back newest first" "$T/undo.log" "undo second beta
undo second alpha
undo first"
	[ "$(grep -c 'type yes to continue' "$T/tty")" = 1 ] && pass "asked once" || fail "asked $(grep -c 'type yes to continue' "$T/tty") times"
fi
run_migrate rollback
expect_rc "nothing left that is not rolled back" 6
expect_in "says there is none" "$T/err" "no run that is not rolled back"
# a run stopped at a gate before anything ran
sed 's/^name: undo/name: undo-gate/; s/^  - name: p$/  - name: p\n    gate: "go?"/' undo.yaml > undo-gate.yaml
run_migrate run undo-gate.yaml --var dir="$T"
expect_rc "stopped at the first gate" 4
GID=$(ls -t "$MIGRATE_STATE_DIR/runs" | head -1 | sed 's/\.jsonl$//')
run_migrate rollback "$GID"
expect_rc "rolling back a run that stopped before anything ran" 0
expect_in "says so" "$T/out" "run $GID stopped at gate 'p' before anything ran: nothing to roll back"
expect_not_in "no failure message" "$T/out" "NOT fully rolled back"
expect_not_in "no failure message (stderr)" "$T/err" "NOT fully rolled back"
unset MIGRATE_STATE_DIR

# --- 3. one unfinished run per runbook ------------------------------------
export MIGRATE_STATE_DIR="$T/one-state"
cat > one.yaml <<'YAML'
runbook: 1
name: one
vars: {dir: /tmp, code: 0}
phases:
  - name: p
    steps:
      - name: change
        run: echo change >> "${dir}/one.log"
        rollback:
          run: echo undo change >> "${dir}/one.log"
      - name: check
        run: exit ${code}
  - name: q
    gate: "go on?"
    steps:
      - name: later
        run: echo later >> "${dir}/one.log"
YAML
run_migrate run one.yaml --var dir="$T"
expect_rc "the first run stops at the gate" 4
FIRST=$(ls "$MIGRATE_STATE_DIR/runs" | sed 's/\.jsonl$//')
rm -f "$T/one.log"
run_migrate run one.yaml --var dir="$T"
expect_rc "a second run while the first waits at its gate" 6
[ ! -e "$T/one.log" ] && pass "the second run ran nothing" || fail "the second run ran" "$(cat "$T/one.log")"
[ "$(ls "$MIGRATE_STATE_DIR/runs" | wc -l)" = 1 ] && pass "no journal for the refused run" || fail "a journal was made"
expect_in "the refusal names the unfinished run" "$T/err" "run $FIRST stopped at a gate: gate q"
expect_in "how to finish it: resume" "$T/err" "migrate resume $FIRST"
expect_in "how to finish it: rollback" "$T/err" "migrate rollback $FIRST"
expect_in "how to override" "$T/err" "migrate run one.yaml --new"
run_migrate run one.yaml --var dir="$T" --new
expect_rc "--new starts anyway (and stops at the gate)" 4
expect_in "--new says what it supersedes" "$T/out" "run $FIRST of this runbook is unfinished; this run (--new) supersedes it"
SECOND=$(ls -t "$MIGRATE_STATE_DIR/runs" | head -1 | sed 's/\.jsonl$//')
head -1 "$MIGRATE_STATE_DIR/runs/$SECOND.jsonl" | grep -q "\"supersedes\":\[\"$FIRST\"\]" &&
	pass "the journal records which run it supersedes" || fail "no supersedes in run_start" "$(head -1 "$MIGRATE_STATE_DIR/runs/$SECOND.jsonl")"
# finish both (roll back), then a failed run whose unwind completed is finished
run_migrate rollback "$FIRST" --yes
expect_rc "roll back the first" 0
run_migrate rollback "$SECOND" --yes
expect_rc "roll back the second" 0
run_migrate run one.yaml --var dir="$T" --var code=1
expect_rc "a failed run whose unwind completed" 1
run_migrate run one.yaml --var dir="$T" --var code=1 --no-rollback
expect_rc "a run after a completed unwind is allowed; this one fails with --no-rollback" 3
NORB=$(ls -t "$MIGRATE_STATE_DIR/runs" | head -1 | sed 's/\.jsonl$//')
run_migrate run one.yaml --var dir="$T"
expect_rc "refused after --no-rollback" 6
expect_in "names the run left in place" "$T/err" "run $NORB failed and is not fully rolled back"
run_migrate rollback "$NORB" --yes
expect_rc "rollback finishes it" 0
run_migrate run one.yaml --var dir="$T" --yes
expect_rc "then a new run starts" 0
unset MIGRATE_STATE_DIR

# --- 6. a reference inside an expect pattern is literal text -------------
export MIGRATE_STATE_DIR="$T/pat-state"
cat > pat.yaml <<'YAML'
runbook: 1
name: pat
vars: {out: "1.5", version: "v1.5 (beta)"}
phases:
  - name: p
    steps:
      - name: count
        run: echo "users 1.5"
        capture: {users: 'users (\S+)'}
      - name: same
        run: echo "${out}"
        expect: {stdout: '^${steps.count.users}$'}
      - name: version
        run: echo "running v1.5 (beta) now"
        expect:
          stdout: '${version} now'
          not_stdout: '^${version}$'
YAML
run_migrate run pat.yaml
expect_rc "a pattern with references matches the values as text" 0
run_migrate run pat.yaml --var out=105
expect_rc "a regex metachar in the value is literal (1.5 does not match 105)" 1
expect_in "the failure shows the escaped pattern" "$T/out" 'stdout does not match '"'"'^1\.5$'"'"
unset MIGRATE_STATE_DIR

# --- 14. messages: a wrong-typed bound is reported once, at the bound -----
run_migrate validate "$SRCDIR/tests/invalid/value-bad-bound.yaml"
expect_rc "a wrong-typed below: is invalid" 2
expect_in "the bound is named" "$T/err" "'below' must be a number"
expect_not_in "no spurious 'needs a bound'" "$T/err" "needs a bound"

finish
