#!/bin/bash
# SIGINT stops every wait at once (issue 8: waits on cancel tokens): a retry
# delay of a step and the retry sleep of a rollback. The delays are 10
# minutes, so a run that ignored the signal would hit the hang guard.
. "$SRCDIR/tests/cli/lib.sh"

# wait_for FILE TEXT: until FILE holds TEXT (bounded: only detects a hang).
wait_for() {
	for _ in $(seq 1000); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.02; done
	return 1
}

# interrupt NAME: SIGINT the background migrate ($pid) and wait for it (hang guard 60 s).
interrupt() {
	kill -INT "$pid"
	for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		fail "$1: migrate still waits a minute after SIGINT"
		kill -KILL "$pid"
	fi
	wait "$pid"; rc=$?
}

# --- during a step's retry delay ---------------------------------------------
cat > retry.yaml <<'YAML'
runbook: 1
name: retry
vars: {dir: /tmp}
phases:
  - name: p
    steps:
      - name: flaky
        run: 'echo try >> ${dir}/tries; exit 1'
        retry: {attempts: 5, interval: 10m}
YAML
"$MIGRATE" run retry.yaml --var dir="$T" </dev/null >"$T/out" 2>&1 &
pid=$!
wait_for "$T/out" "retrying in" || fail "the retry was never announced" "$(cat "$T/out")"
interrupt "retry delay"
expect_rc "SIGINT during a retry delay" 5
expect_file "no second attempt was made" "$T/tries" "try"
run_migrate status
expect_in "the journal records the interrupt" "$T/out" "interrupted"

# --- during a rollback's retry sleep ------------------------------------------
cat > rbretry.yaml <<'YAML'
runbook: 1
name: rbretry
vars: {dir: /tmp}
phases:
  - name: p
    steps:
      - name: changed
        run: 'true'
        rollback:
          run: 'echo undo >> ${dir}/undos; exit 1'
          retry: {attempts: 5, interval: 10m}
      - {name: breaks, run: 'exit 1'}
YAML
"$MIGRATE" run rbretry.yaml --var dir="$T" </dev/null >"$T/out" 2>&1 &
pid=$!
wait_for "$T/undos" "undo" || fail "the rollback never ran" "$(cat "$T/out")"
interrupt "rollback retry sleep"
expect_rc "SIGINT during a rollback's retry sleep" 5
expect_file "the rollback was not tried again" "$T/undos" "undo"
run_migrate status
expect_in "status shows the run interrupted" "$T/out" "interrupted"

finish
