#!/bin/bash
# Running local runbooks: order, the unwind in reverse across phases,
# exit codes 0/1/3, --no-rollback, selection, retries, captures, expect.
. "$(dirname "$0")/lib.sh"

# A 4-step runbook across two phases; FAIL_AT picks the step that fails
# and RB_FAIL a rollback that fails.
cat > four.yaml <<'YAML'
runbook: 1
name: four-steps
vars:
  log: /dev/null
  fail_at: none
  rb_fail: none
phases:
  - name: one
    steps:
      - name: s1
        run: echo run s1 >> "${log}"; test "${fail_at}" != s1
        rollback: {run: 'echo undo s1 >> "${log}"; test "${rb_fail}" != s1'}
      - name: s2
        run: echo run s2 >> "${log}"; test "${fail_at}" != s2
        rollback: {run: 'echo undo s2 >> "${log}"; test "${rb_fail}" != s2'}
  - name: two
    steps:
      - name: s3
        run: echo run s3 >> "${log}"; test "${fail_at}" != s3
        rollback: {run: 'echo undo s3 >> "${log}"; test "${rb_fail}" != s3'}
      - name: s4
        run: echo run s4 >> "${log}"; test "${fail_at}" != s4
        rollback: {run: 'echo undo s4 >> "${log}"; test "${rb_fail}" != s4'}
YAML

run_migrate run four.yaml --new --var log="$T/ok.log"
expect_rc "all steps pass" 0
expect_file "steps ran in order" "$T/ok.log" "run s1
run s2
run s3
run s4"

run_migrate run four.yaml --new --var log="$T/fail.log" --var fail_at=s4
expect_rc "last step fails, unwind completes" 1
expect_file "rollbacks of s3, s2, s1 in reverse order" "$T/fail.log" "run s1
run s2
run s3
run s4
undo s3
undo s2
undo s1"
expect_in "failure is reported" "$T/out" "step 's4' failed"

run_migrate run four.yaml --new --var log="$T/rbfail.log" --var fail_at=s4 --var rb_fail=s2
expect_rc "a failing rollback stops the unwind" 3
expect_file "unwind stops at the failing rollback" "$T/rbfail.log" "run s1
run s2
run s3
run s4
undo s3
undo s2"
expect_in "says not fully rolled back" "$T/out" "NOT fully rolled back"

run_migrate run four.yaml --new --var log="$T/norb.log" --var fail_at=s3 --no-rollback
expect_rc "--no-rollback" 3
expect_file "--no-rollback runs no rollback" "$T/norb.log" "run s1
run s2
run s3"

run_migrate run four.yaml --new --var log="$T/phase.log" --phase two
expect_rc "--phase two" 0
expect_file "--phase runs only that phase" "$T/phase.log" "run s3
run s4"

run_migrate run four.yaml --new --var log="$T/fromto.log" --from s2 --to s3
expect_rc "--from s2 --to s3" 0
expect_file "--from/--to select a range" "$T/fromto.log" "run s2
run s3"

run_migrate run four.yaml --new --from s9
expect_rc "--from an unknown step" 2
expect_in "unknown step named" "$T/err" "unknown step 's9'"

# for: units, rollback with each unit's own ${item}, rollback when: always,
# a step without rollback listed as kept, captures and expect.
cat > units.yaml <<'YAML'
runbook: 1
name: units
vars:
  log: /dev/null
  weights: [10, 50, 100]
phases:
  - name: shift
    steps:
      - name: read-version
        run: echo "server version 4.2.1"
        capture: {version: 'version (\S+)'}
      - name: note
        run: echo "note v${steps.read-version.version}" >> "${log}"
      - name: weight
        for: ${weights}
        run: echo "weight ${item}" >> "${log}"
        rollback: {run: 'echo "undo weight ${item}" >> "${log}"'}
      - name: check-health
        run: echo "health degraded"; echo "check" >> "${log}"
        expect: {stdout: 'health ok'}
        rollback: {run: 'echo "cleanup after failed check" >> "${log}"', when: always}
YAML
run_migrate run units.yaml --new --var log="$T/units.log"
expect_rc "expect stdout mismatch fails the unit" 1
expect_file "units, capture, when: always, reverse per-item rollback" "$T/units.log" "note v4.2.1
weight 10
weight 50
weight 100
check
cleanup after failed check
undo weight 100
undo weight 50
undo weight 10"
expect_in "stdout mismatch explained" "$T/out" "stdout does not match 'health ok'"
expect_in "a unit without rollback is listed" "$T/out" "no rollback"

# retry: passes on the third attempt; value bounds; exit code lists.
cat > retry.yaml <<'YAML'
runbook: 1
name: retry
vars:
  dir: /tmp
phases:
  - name: p
    steps:
      - name: flaky
        run: |
          n=$(cat "${dir}/n" 2>/dev/null || echo 0); echo $((n+1)) > "${dir}/n"
          [ "$n" -ge 2 ]
        retry: {attempts: 4, interval: 50ms, backoff: 2}
      - name: lag
        run: |
          echo '{"lag_ms": 42.5}'
        expect: {value: {regex: '"lag_ms": ([0-9.]+)', below: 100}}
      - name: grep-nothing
        run: grep -q nothing /dev/null
        expect: {exit: [0, 1]}
YAML
run_migrate run retry.yaml --new --var dir="$T"
expect_rc "retry until it passes" 0
expect_file "three attempts were made" "$T/n" "3"
expect_in "retries are shown" "$T/out" "attempt 1 failed"

cat > value.yaml <<'YAML'
runbook: 1
name: value
phases:
  - name: p
    steps:
      - name: lag
        run: echo 'replication lag 250 ms'
        expect: {value: {regex: 'lag (\d+) ms', below: 100}}
YAML
run_migrate run value.yaml --new
expect_rc "value above the bound fails" 1
expect_in "value failure explained" "$T/out" "value 250 is not below 100"

cat > exhaust.yaml <<'YAML'
runbook: 1
name: exhaust
vars:
  dir: /tmp
phases:
  - name: p
    steps:
      - name: never
        run: echo x >> "${dir}/tries"; echo "still broken" >&2; exit 7
        retry: {attempts: 3, interval: 10ms}
YAML
run_migrate run exhaust.yaml --new --var dir="$T"
expect_rc "retries exhausted" 1
expect_file "every attempt ran" "$T/tries" "x
x
x"
expect_in "exit code reported" "$T/out" "exit 7"
expect_in "last output lines shown on failure" "$T/out" "still broken"

# a huge last line: the failure still shows the output tail, cut to a readable width
cat > longline.yaml <<'YAML'
runbook: 1
name: longline
phases:
  - name: p
    steps:
      - name: chatty
        run: seq 1 100000; head -c 300000 /dev/zero | tr '\0' x; echo; echo "final words" >&2; exit 1
YAML
run_migrate run longline.yaml --new
expect_rc "chatty failing step" 1
expect_in "the last output is shown" "$T/out" "final words"
expect_in "a very long line is cut" "$T/out" "x …"
if awk 'length($0) > 1000 { bad = 1 } END { exit bad }' "$T/out"; then pass "no output line longer than 1000 bytes"; else fail "a huge line reached the output"; fi

# after probes, pause steps and pause after units, watch probes
cat > probes.yaml <<'YAML'
runbook: 1
name: probes
vars: {dir: /tmp}
probes:
  marker-present: {run: 'test -e ${dir}/marker', expect: {exit: 0}}
  port-open: {tcp: "127.0.0.1:1"}
phases:
  - name: p
    steps:
      - name: make-marker
        run: touch ${dir}/marker; echo made >> ${dir}/log
        after: [marker-present]
        pause: 50ms
        rollback: {run: 'echo undo make-marker >> ${dir}/log'}
      - name: breather
        pause: 100ms
      - name: needs-port
        run: echo needs-port >> ${dir}/log
        after: [port-open]
YAML
mkdir -p "$T/pr"
run_migrate run probes.yaml --new --var dir="$T/pr"
expect_rc "a failing after probe fails the unit" 1
expect_in "the probe is named" "$T/out" "after probe 'port-open' failed"
expect_in "tcp probe says why" "$T/out" "cannot connect to 127.0.0.1:1"
expect_file "after probe passed, then failed, then unwind" "$T/pr/log" "made
needs-port
undo make-marker"

cat > watch.yaml <<'YAML'
runbook: 1
name: watch
vars: {dir: /tmp}
probes:
  error-rate-ok: {run: 'test ! -e ${dir}/errors'}
phases:
  - name: shift
    watch: {probes: [error-rate-ok], interval: 100ms, failures: 2}
    steps:
      - name: shift-traffic
        run: echo shifted >> ${dir}/log
        rollback: {run: 'echo unshifted >> ${dir}/log'}
      - name: soak
        run: touch ${dir}/errors; sleep 60
YAML
mkdir -p "$T/w"
run_migrate run watch.yaml --new --var dir="$T/w"
expect_rc "a failing watch probe aborts the phase" 1
expect_in "watch failure explained" "$T/out" "watch probe 'error-rate-ok' failed 2 times in a row"
expect_file "watch abort unwinds" "$T/w/log" "shifted
unshifted"

# ---- a local step's sh is /bin/sh, never an `sh` found first in PATH ----
mkdir -p "$T/fakebin"
printf '#!/bin/sh\ntouch "%s/fake-sh-ran"\nexit 0\n' "$T" >"$T/fakebin/sh"
chmod +x "$T/fakebin/sh"
cat > binsh.yaml <<YAML
runbook: 1
name: binsh
phases:
  - name: p
    steps:
      - name: s
        run: echo real > "$T/real-sh-ran"
YAML
PATH="$T/fakebin:$PATH" run_migrate run binsh.yaml --state-dir "$T/binsh-st"
expect_rc "a step runs with an sh of its own earlier in PATH" 0
expect_file "the step ran under /bin/sh" "$T/real-sh-ran" "real"
[ -e "$T/fake-sh-ran" ] && fail "the sh found in PATH ran the step" || pass "the sh found in PATH did not run"

finish
