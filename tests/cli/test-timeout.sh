#!/bin/bash
# Timeouts stop the whole process group; the runbook deadline bounds a run;
# SIGINT stops the run with exit 5 and leaves no process behind.
. "$(dirname "$0")/lib.sh"

alive() { kill -0 "$1" 2>/dev/null; }
wait_gone() { # PID: wait up to 10 s for it to disappear
	for _ in $(seq 100); do alive "$1" || return 0; sleep 0.1; done
	return 1
}

cat > slow.yaml <<'YAML'
runbook: 1
name: slow
vars:
  dir: /tmp
phases:
  - name: p
    steps:
      - name: hang
        run: |
          sleep 300 &
          echo $! > "${dir}/bg.pid"
          sleep 300
        timeout: 1s
        rollback: {run: 'echo should-not-run > "${dir}/rb"'}
YAML
run_migrate run slow.yaml --var dir="$T"
expect_rc "a timed-out step fails" 1
expect_in "timeout reported" "$T/out" "timed out after 1s"
if [ -s "$T/bg.pid" ] && wait_gone "$(cat "$T/bg.pid")"; then pass "background child of the step was killed"; else fail "background process survived the timeout"; fi
[ -e "$T/rb" ] && fail "rollback ran for the failed unit" || pass "failed unit is not rolled back by default"

cat > deadline.yaml <<'YAML'
runbook: 1
name: deadline
deadline: 1s
vars:
  dir: /tmp
phases:
  - name: p
    steps:
      - name: first
        run: echo first >> "${dir}/log"
        rollback: {run: 'echo undo first >> "${dir}/log"'}
      - name: long
        run: sleep 60
YAML
run_migrate run deadline.yaml --var dir="$T"
expect_rc "runbook deadline fails the run" 1
expect_in "deadline reported" "$T/out" "deadline of 1s passed"
expect_file "deadline failure unwinds" "$T/log" "first
undo first"

cat > sigint.yaml <<'YAML'
runbook: 1
name: sigint
vars:
  dir: /tmp
phases:
  - name: p
    steps:
      - name: wait
        run: echo $$ > "${dir}/sh.pid"; sleep 300
YAML
"$MIGRATE" run sigint.yaml --var dir="$T" </dev/null >"$T/out" 2>"$T/err" &
mpid=$!
for _ in $(seq 100); do [ -s "$T/sh.pid" ] && break; sleep 0.1; done
kill -INT "$mpid"
wait "$mpid"; rc=$?
expect_rc "SIGINT" 5
if wait_gone "$(cat "$T/sh.pid")"; then pass "SIGINT stopped the running step"; else fail "step survived SIGINT"; fi

finish
