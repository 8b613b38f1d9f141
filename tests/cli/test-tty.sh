#!/bin/bash
# What a person at a terminal sees and does: gate prompts on /dev/tty, the
# live line with its timer, marks, colours and NO_COLOR, -q and -v; and
# that without a terminal the output is plain timestamped lines.
#
# Runs on a pseudo-terminal made by tty-drive.py (Debian's python3, stdlib
# only); skipped (77) when /usr/bin/python3 cannot make one. No assertion
# depends on timing except the hang guards.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
DRIVE="$SRCDIR/tests/cli/tty-drive.py"
if ! "$PY" -c 'import pty, termios, select' 2>/dev/null; then
	echo "SKIP: $PY cannot import pty"
	exit 77
fi
export MIGRATE_STATE_DIR="$T/state"
ESC=$'\033'

# run_tty [--expect TEXT --send LINE]... -- ARGS...: run migrate ARGS on a
# new terminal (stdin, stdout, stderr and /dev/tty), typing LINE when TEXT
# appears; everything it wrote in $T/out, the driver's complaints in
# $T/err, the exit code in $rc. The array tty_env holds env(1) arguments
# for the run (for example -u NO_COLOR).
tty_env=()
run_tty() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	timeout -k 5 120 "$PY" "$DRIVE" --timeout 60 --out "$T/out" "${opts[@]}" -- \
		env "${tty_env[@]}" "$MIGRATE" "$@" </dev/null 2>"$T/err"
	rc=$?
	# on a terminal a sanitizer's report lands in the capture
	if grep -qaE 'runtime error:|ERROR: [A-Za-z]+Sanitizer' "$T/out"; then
		fail "sanitizer report on the terminal (migrate $*)" "$(grep -aE -A20 'runtime error:|Sanitizer' "$T/out" | head -40)"
	fi
}

# screen FILE: the text as lines, a carriage return starting a new line,
# erase-line and colour sequences removed.
screen() {
	tr '\r' '\n' <"$1" | sed "s/${ESC}\[K//g; s/${ESC}\[[0-9;]*m//g"
}

# expect_re NAME FILE ERE / expect_not_re: lines of FILE (as `screen` shows
# them) match / do not match the extended regular expression.
expect_re() {
	if screen "$2" | grep -qaE -- "$3"; then
		pass "$1"
	else
		fail "$1: no line matches /$3/" "$(screen "$2" | head -c 3000)"
	fi
}
expect_not_re() {
	if screen "$2" | grep -qaE -- "$3"; then
		fail "$1: a line matches /$3/" "$(screen "$2" | grep -naE -- "$3" | head -5)"
	else
		pass "$1"
	fi
}

# expect_bytes / expect_no_bytes NAME FILE PCRE: the raw bytes of FILE
# (all of it as one string) match / do not match.
expect_bytes() {
	if grep -qaPz -- "$3" "$2"; then
		pass "$1"
	else
		fail "$1: /$3/ not in the raw output" "$(head -c 3000 "$2" | cat -v)"
	fi
}
expect_no_bytes() {
	if grep -qaPz -- "$3" "$2"; then
		fail "$1: /$3/ found in the raw output" "$(grep -oaPz -- ".{0,40}$3.{0,40}" "$2" | head -c 600 | cat -v)"
	else
		pass "$1"
	fi
}

SGR='\x1b\[[0-9;]*m'
STAMP='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'

cat > gate.yaml <<'YAML'
runbook: 1
name: tty-gate
vars:
  dir: /tmp
phases:
  - name: prepare
    steps:
      - name: before
        run: echo before >> "${dir}/log"
  - name: cutover
    gate: "On-call assembled?"
    steps:
      - name: during
        run: echo during >> "${dir}/log"
      - name: go-no-go
        gate: "Error rate below 0.1%?"
      - name: after
        run: echo after >> "${dir}/log"
YAML

# --- 1. a gate on a terminal, answered yes ---------------------------------
run_tty --expect "r = roll back now: " --send yes \
	--expect "r = roll back now: " --send yes -- run gate.yaml --new --var dir="$T"
expect_rc "gates answered yes at the terminal" 0
expect_file "everything after the gates ran" "$T/log" "before
during
after"
expect_in "the prompt asks the phase gate's question" "$T/out" "On-call assembled?"
expect_in "the prompt names the phase gate" "$T/out" "approve gate 'cutover'? y = go on, n = stop here (resume later), r = roll back now: "
expect_in "the prompt asks the step gate's question" "$T/out" "Error rate below 0.1%?"
expect_in "the prompt names the step gate" "$T/out" "approve gate 'go-no-go'? y = go on"
expect_in "the approval is shown" "$T/out" "gate approved"
expect_in "approved by the operator, by name" "$T/out" "gate approved by $(id -un)"
# the question is asked once, not printed again by the prompt (issue 12)
n=$(screen "$T/out" | grep -c "On-call assembled?")
[ "$n" = 1 ] && pass "the gate's question is shown once" || fail "the gate's question is shown $n times" "$(screen "$T/out" | head -c 3000)"
expect_re "the run succeeds" "$T/out" "run [^ ]+ succeeded"
rm -f "$T/log"

# --- 2. answered no (and other answers that are not exactly yes) ----------
run_tty --expect "r = roll back now: " --send no -- run gate.yaml --new --var dir="$T"
expect_rc "gate answered no" 4
expect_file "answered no: nothing after the gate ran" "$T/log" "before"
expect_in "answered no: the gate is declined" "$T/out" "gate declined"
expect_in "answered no: the summary names the gate" "$T/out" "stopped at gate 'cutover'"
rm -f "$T/log"

for answer in YES " yes" "yes please" x; do
	run_tty --expect "r = roll back now: " --send "$answer" -- run gate.yaml --new --var dir="$T"
	expect_rc "gate answered '$answer'" 4
	expect_file "answered '$answer': nothing after the gate ran" "$T/log" "before"
	rm -f "$T/log"
done

# A run stopped at a gate resumes at that gate; answered yes there, it ends.
run_tty --expect "r = roll back now: " --send no -- run gate.yaml --new --var dir="$T"
expect_rc "stopped at the gate before resuming" 4
run_tty --expect "approve gate 'cutover'? y = go on" --send y \
	--expect "approve gate 'go-no-go'? y = go on" --send y -- resume
expect_rc "resume at the terminal, gates answered yes" 0
expect_file "resume ran the rest once" "$T/log" "before
during
after"
rm -f "$T/log"

# Ctrl-C at the prompt is an interrupt (SPEC §3: exit 5), not an answer.
run_tty --expect "r = roll back now: " --send '^C' -- run gate.yaml --new --var dir="$T"
if [ "$rc" -eq 5 ]; then
	pass "Ctrl-C at the prompt interrupts the run (exit 5)"
else
	fail "Ctrl-C at the prompt: exit $rc, expected 5" "$(head -c 3000 "$T/out" | cat -v)"
fi
expect_file "Ctrl-C at the prompt: nothing after the gate ran" "$T/log" "before"
rm -f "$T/log"

# --- 2b. r at the gate rolls back now (SPEC §7) ------------------------------
cat > gate-r.yaml <<'YAML'
runbook: 1
name: tty-gate-r
vars:
  dir: /tmp
phases:
  - name: prepare
    steps:
      - name: before
        run: echo before >> "${dir}/log"
        rollback:
          run: echo undo-before >> "${dir}/log"
  - name: cutover
    gate: "Go?"
    steps:
      - name: during
        run: echo during >> "${dir}/log"
YAML
run_tty --expect "r = roll back now: " --send r -- run gate-r.yaml --new --var dir="$T"
expect_rc "r at the gate: the run unwinds (exit 1)" 1
expect_file "r at the gate: what ran before it is undone, nothing after it ran" "$T/log" "before
undo-before"
expect_in "r at the gate: the summary says why" "$T/out" "gate 'cutover': the operator chose to roll back"
rid=$(screen "$T/out" | sed -nE 's/.*run ([0-9TZ]+-tty-gate-r-[0-9a-f]+).*/\1/p' | head -1)
expect_in "r at the gate: journaled" "$MIGRATE_STATE_DIR/runs/$rid.jsonl" '"state":"rollback"'
rm -f "$T/log"

# a two-person gate at a terminal: y is one approval; the second comes from
# `migrate approve` in another terminal while the run waits (timeout)
cat > gate-2.yaml <<'YAML'
runbook: 1
name: tty-gate-2
vars:
  dir: /tmp
phases:
  - name: cutover
    gate: {message: "Two people say go?", approvals: 2, timeout: 2m}
    steps:
      - name: during
        run: echo during >> "${dir}/log"
YAML
(
	for _ in $(seq 1 600); do
		grep -qs '"state":"waiting"' "$MIGRATE_STATE_DIR"/runs/*-tty-gate-2-*.jsonl && break
		sleep 0.1
	done
	# after the y: the approval of the invoking user is in the journal
	for _ in $(seq 1 600); do
		grep -qs '"via":"terminal"' "$MIGRATE_STATE_DIR"/runs/*-tty-gate-2-*.jsonl && break
		sleep 0.1
	done
	id=$(ls "$MIGRATE_STATE_DIR/runs" | sed -n 's/^\(.*-tty-gate-2-[0-9a-f]*\)\.jsonl$/\1/p' | head -1)
	"$MIGRATE" approve "$id" cutover --as second-person >"$T/approve.out" 2>&1
	echo "rc=$?" >>"$T/approve.out"
) &
helper=$!
run_tty --expect "r = roll back now: " --send y -- run gate-2.yaml --new --var dir="$T"
wait "$helper"
expect_rc "two-person gate at a terminal: y plus an approval from elsewhere" 0
expect_file "two-person gate: the steps ran" "$T/log" "during"
expect_in "the other approver's command says the run took it" "$T/approve.out" "(2 of 2); the run waiting at the gate took it"
expect_in "the approval command succeeded" "$T/approve.out" "rc=0"
expect_in "both approvers are named" "$T/out" "gate approved by $(id -un), second-person"
rm -f "$T/log"

# a watch trip while the question waits: the prompt stops, the run fails and unwinds
cat > gate-w.yaml <<'YAML'
runbook: 1
name: tty-gate-w
vars:
  dir: /tmp
probes:
  error-rate:
    run: test ! -e "${dir}/errors"
watch: {probes: [error-rate], interval: 100ms}
phases:
  - name: prepare
    steps:
      - name: before
        run: echo before >> "${dir}/log"
        rollback:
          run: echo undo-before >> "${dir}/log"
  - name: cutover
    gate: "Go?"
    steps:
      - name: during
        run: echo during >> "${dir}/log"
YAML
(
	for _ in $(seq 1 600); do
		grep -qs '"state":"waiting"' "$MIGRATE_STATE_DIR"/runs/*-tty-gate-w-*.jsonl && break
		sleep 0.1
	done
	touch "$T/errors"
) &
helper=$!
run_tty -- run gate-w.yaml --new --var dir="$T"
wait "$helper"
expect_rc "a watch trip while the gate asks: the run unwinds (exit 1)" 1
expect_file "the trip stopped the question; unwound" "$T/log" "before
undo-before"
expect_in "the trip is named" "$T/out" "run watch probe 'error-rate' failed 1 time in a row"
rm -f "$T/log" "$T/errors"

# --- 3. --yes on a terminal does not ask -----------------------------------
run_tty -- run gate.yaml --new --var dir="$T" --yes
expect_rc "--yes on a terminal" 0
expect_not_in "--yes: no prompt" "$T/out" "r = roll back now"
expect_in "--yes: approval shown" "$T/out" "gate approved"
expect_file "--yes: everything ran" "$T/log" "before
during
after"
rm -f "$T/log"

run_tty -- run gate.yaml --new --var dir="$T" --approve cutover --approve go-no-go
expect_rc "--approve for every gate on a terminal" 0
expect_not_in "--approve: no prompt" "$T/out" "r = roll back now"
rm -f "$T/log"

# --- 4. the live line ------------------------------------------------------
cat > slow.yaml <<'YAML'
runbook: 1
name: tty-slow
vars:
  dir: /tmp
phases:
  - name: p
    steps:
      - name: slow
        run: sleep 1.5; echo slow >> "${dir}/log"
      - name: quick
        run: echo quick >> "${dir}/log"
YAML
run_tty -- run slow.yaml --new --var dir="$T"
expect_rc "live run on a terminal" 0
expect_bytes "the live line is redrawn with CR + erase" "$T/out" '\r\x1b\[K  (\x1b\[[0-9;]*m)?…(\x1b\[[0-9;]*m)? slow '
# the timer values of the redraws of 'slow', in ms
timer=$(screen "$T/out" | sed -nE 's/^  … slow +local +([0-9.]+(ms|s))$/\1/p' |
	awk '/ms$/ { print $0 + 0; next } { print int(($0 + 0) * 1000) }')
if [ "$(printf '%s\n' "$timer" | grep -c .)" -ge 2 ] &&
	printf '%s\n' "$timer" | awk 'NR > 1 && $1 < prev { bad = 1 } { prev = $1 } END { exit bad }' &&
	[ "$(printf '%s\n' "$timer" | tail -1)" -gt "$(printf '%s\n' "$timer" | head -1)" ]; then
	pass "the live timer grows ($(printf '%s' "$timer" | tr '\n' ' ')ms)"
else
	fail "the live timer does not grow" "values: $(printf '%s' "$timer" | tr '\n' ' ')" "$(head -c 3000 "$T/out" | cat -v)"
fi
expect_re "the finished line has the ✓ mark and a duration" "$T/out" '^  ✓ slow +local +[0-9.]+m?s$'
expect_re "the quick step has its ✓ line too" "$T/out" '^  ✓ quick +local +[0-9.]+m?s$'
expect_not_re "no timestamps on a terminal" "$T/out" "^$STAMP"
expect_not_in "no plain-mode marks on a terminal" "$T/out" "ok     "
expect_file "both steps ran" "$T/log" "slow
quick"
rm -f "$T/log"

# --- 5. colours ------------------------------------------------------------
tty_env=(-u NO_COLOR)
run_tty --expect "r = roll back now: " --send yes \
	--expect "r = roll back now: " --send yes -- run gate.yaml --new --var dir="$T" --color auto
expect_rc "colour run" 0
expect_bytes "--color auto on a terminal: green" "$T/out" '\x1b\[32m'
expect_bytes "--color auto on a terminal: bold" "$T/out" '\x1b\[1m'
expect_bytes "--color auto on a terminal: reset" "$T/out" '\x1b\[0m'
rm -f "$T/log"

run_tty -- run slow.yaml --new --var dir="$T"
expect_bytes "colour is the default on a terminal" "$T/out" '\x1b\[32m'

run_tty -- run slow.yaml --new --var dir="$T" --color never
expect_rc "--color never" 0
expect_no_bytes "--color never: no colour codes" "$T/out" "$SGR"
expect_bytes "--color never: the live line is still drawn" "$T/out" '\r\x1b\[K'

tty_env=(NO_COLOR=1)
run_tty --expect "r = roll back now: " --send yes \
	--expect "r = roll back now: " --send yes -- run gate.yaml --new --var dir="$T" --color auto
expect_rc "NO_COLOR run with gates" 0
expect_no_bytes "NO_COLOR: no colour codes, prompt included" "$T/out" "$SGR"
rm -f "$T/log"
run_tty -- run slow.yaml --new --var dir="$T"
expect_no_bytes "NO_COLOR, default --color: no colour codes" "$T/out" "$SGR"
expect_bytes "NO_COLOR: the live line is still drawn" "$T/out" '\r\x1b\[K'
expect_re "NO_COLOR: marks are still drawn" "$T/out" '^  ✓ slow '

run_tty -- run slow.yaml --new --var dir="$T" --color always
expect_bytes "--color always wins over NO_COLOR" "$T/out" '\x1b\[32m'
tty_env=()
rm -f "$T/log"

# --- 6. without a terminal -------------------------------------------------
unset NO_COLOR
run_migrate run slow.yaml --new --var dir="$T" --color auto
expect_rc "plain run" 0
expect_no_bytes "plain: no escape bytes" "$T/out" '\x1b'
expect_no_bytes "plain: no carriage returns" "$T/out" '\r'
expect_no_bytes "plain: no terminal marks" "$T/out" '(✓|✗|↻|↶|…|■)'
if grep -av '^$' "$T/out" | grep -qavE "^$STAMP "; then
	fail "plain: a line without a timestamp" "$(grep -av '^$' "$T/out" | grep -navE "^$STAMP " | head -5)"
else
	pass "plain: every line starts with a UTC timestamp"
fi
expect_re "plain: the step's line" "$T/out" "^$STAMP   ok +slow +local +[0-9.]+m?s$"
rm -f "$T/log"

cat > fail.yaml <<'YAML'
runbook: 1
name: tty-fail
phases:
  - name: p
    steps:
      - name: good
        run: echo fine
        rollback: {run: echo undo}
      - name: bad
        run: for i in $(seq 1 30); do echo "out $i"; done; echo "disk full" >&2; exit 3
YAML
run_migrate run fail.yaml --new --color always
expect_rc "plain failing run" 1
expect_bytes "plain + --color always: colour codes" "$T/out" '\x1b\[31m'
run_migrate run fail.yaml --new --color auto
expect_no_bytes "plain failing run: no escape bytes" "$T/out" '\x1b'
expect_re "plain: the failed line is timestamped" "$T/out" "^$STAMP   FAILED +bad +local"
expect_re "plain: the rollback line is timestamped" "$T/out" "^$STAMP   UNDONE +good +local"
expect_re "plain: the summary is timestamped" "$T/out" "^$STAMP run [^ ]+ failed and was rolled back"
# details under a record (message, last output) are indented continuations
if grep -av '^$' "$T/out" | grep -qavE "^($STAMP | )"; then
	fail "plain: a line neither timestamped nor indented" "$(grep -av '^$' "$T/out" | grep -navE "^($STAMP | )" | head -5)"
else
	pass "plain: every line is timestamped or an indented continuation"
fi
export NO_COLOR=1

# --- 7. -q on a terminal ---------------------------------------------------
run_tty -- run slow.yaml --new --var dir="$T" -q
expect_rc "-q success" 0
expect_not_in "-q: no ✓ lines" "$T/out" "✓"
expect_not_in "-q: no live line" "$T/out" "…"
expect_not_in "-q: no phase header" "$T/out" "phase p"
expect_re "-q: the summary" "$T/out" '^run [^ ]+ succeeded: 2 units in '
lines=$(screen "$T/out" | grep -c .)
if [ "$lines" -eq 1 ]; then
	pass "-q success: only the summary"
else
	fail "-q success: $lines lines, expected only the summary" "$(screen "$T/out")"
fi
rm -f "$T/log"

run_tty -- run fail.yaml --new -q
expect_rc "-q failure" 1
expect_re "-q failure: the ✗ line" "$T/out" '^  ✗ bad +local +[0-9.]+m?s$'
expect_in "-q failure: the message" "$T/out" "exit 3, expected 0"
expect_in "-q failure: last output, stderr" "$T/out" "│ disk full"
expect_in "-q failure: last output, stdout" "$T/out" "│ out 30"
expect_in "-q failure: the last 20 lines" "$T/out" "│ out 12"
expect_not_in "-q failure: not more than 20 lines" "$T/out" "│ out 11"
expect_not_in "-q failure: no ✓ line for the good step" "$T/out" "✓"
expect_re "-q failure: the summary" "$T/out" '^run [^ ]+ failed and was rolled back'

# the same failure without -q shows the ✓ and ↶ lines as well
run_tty -- run fail.yaml --new
expect_rc "failure on a terminal" 1
expect_re "failure: ✓ line of the good step" "$T/out" '^  ✓ good +local'
expect_re "failure: ✗ line" "$T/out" '^  ✗ bad +local'
expect_re "failure: ↶ line of the rollback" "$T/out" '^  ↶ good +local .*rolled back'
expect_in "failure: last output" "$T/out" "│ disk full"

# --- 8. -v streams output --------------------------------------------------
cat > talk.yaml <<'YAML'
runbook: 1
name: tty-talk
phases:
  - name: p
    steps:
      - name: talk
        run: echo "first line"; sleep 0.3; echo "second line"
      - name: after
        run: "true"
YAML
run_migrate run talk.yaml --new -v
expect_rc "-v plain" 0
first=$(grep -naF "│ first line" "$T/out" | head -1 | cut -d: -f1)
second=$(grep -naF "│ second line" "$T/out" | head -1 | cut -d: -f1)
done_at=$(grep -naE "^$STAMP   ok +talk " "$T/out" | head -1 | cut -d: -f1)
if [ -n "$first" ] && [ -n "$second" ] && [ -n "$done_at" ] &&
	[ "$first" -lt "$second" ] && [ "$second" -lt "$done_at" ]; then
	pass "-v plain: output lines stream before the unit's line"
else
	fail "-v plain: output lines not streamed before the unit's line" "$(cat "$T/out")"
fi
expect_re "-v plain: output lines are timestamped" "$T/out" "^$STAMP +│ first line$"
expect_no_bytes "-v plain: no escape bytes" "$T/out" '\x1b'

run_tty -- run talk.yaml --new -v
expect_rc "-v on a terminal" 0
if screen "$T/out" | grep -v '^  … ' | grep -aE '│ first line|│ second line|^  ✓ talk ' |
	sed -E 's/ +local.*//' | tr '\n' '|' | grep -qF '      │ first line|      │ second line|  ✓ talk|'; then
	pass "-v on a terminal: output lines before the ✓ line"
else
	fail "-v on a terminal: output lines not before the ✓ line" "$(screen "$T/out")"
fi

run_migrate run talk.yaml --new
expect_not_in "without -v no output lines on success" "$T/out" "first line"

finish
