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

finish
