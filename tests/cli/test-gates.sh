#!/bin/bash
# Guards and gates (SPEC §7): a run-level watch that trips during a pause
# and during a gate wait; a phase watch that covers its gate; gates with a
# timeout (on_timeout: stop | rollback) without a terminal, and approvals
# that `migrate approve` hands over to a run while it waits.
#
# The watch probes are `run` probes that start failing when a file appears.
# No assertion depends on timing: the pauses and timeouts are long, and the
# hang guard of run_migrate (120 s) would catch a run that does not stop.
. "$(dirname "$0")/lib.sh"
export MIGRATE_STATE_DIR="$T/state"
export OUT="$T/out.log" STATE="$T"

# start_bg ARGS...: run migrate ARGS in the background (hang guard 120 s);
# its stdout/stderr in $T/bg.out / $T/bg.err, its exit code in $T/bg.rc.
start_bg() {
	rm -f "$T/bg.rc"
	(
		timeout -k 5 120 "$MIGRATE" "$@" </dev/null >"$T/bg.out" 2>"$T/bg.err"
		echo $? >"$T/bg.rc"
	) &
	bg=$!
}
# wait_bg: wait for it; its exit code in $rc.
wait_bg() {
	wait "$bg"
	rc=$(cat "$T/bg.rc" 2>/dev/null || echo 99)
}
# wait_journal NAME TEXT: wait (up to 60 s) until the journal of the newest
# run of runbook NAME (one not in $seen) holds TEXT; its run id in $id.
seen=" "
wait_journal() {
	id=
	for _ in $(seq 1 600); do
		j=$(ls "$MIGRATE_STATE_DIR/runs/" 2>/dev/null | grep -E "^[0-9TZ]+-$1-[0-9a-f]+\.jsonl$" |
			while read -r f; do case "$seen" in *" $f "*) ;; *) echo "$f" ;; esac; done | head -1)
		if [ -n "$j" ] && grep -qF -- "$2" "$MIGRATE_STATE_DIR/runs/$j"; then
			id=${j%.jsonl}
			seen="$seen$j "
			return 0
		fi
		sleep 0.1
	done
	fail "the journal of $1 never held $2" "$(cat "$T/bg.out" "$T/bg.err" 2>/dev/null | tail -20)"
	return 1
}

# --- a run-level watch trips during a pause ----------------------------------
cat > guard.yaml <<'YAML'
runbook: 1
name: guard
probes:
  error-rate:
    run: test ! -e "$STATE/errors"
watch:
  probes: [error-rate]
  interval: 100ms
  failures: 2
  from: shift
phases:
  - name: prepare
    steps:
      - name: copy
        run: echo copy >> "$OUT"
        rollback:
          run: echo undo-copy >> "$OUT"
      - name: settle
        pause: 1s
  - name: shift
    steps:
      - name: shift
        run: echo shift >> "$OUT"
        rollback:
          run: echo undo-shift >> "$OUT"
      - name: bake
        pause: 10m
      - name: never
        run: echo never >> "$OUT"
YAML
run_migrate validate guard.yaml
expect_rc "a run-level watch validates" 0
run_migrate plan guard.yaml
expect_rc "and plans" 0

rm -f "$OUT" "$T/errors"
start_bg run guard.yaml
wait_journal guard '"unit":"bake"' && touch "$T/errors"
wait_bg
expect_rc "a trip during the pause: the run fails and unwinds (exit 1)" 1
expect_file "the pause stopped; everything unwound" "$OUT" "copy
shift
undo-shift
undo-copy"
expect_in "the trip names the probe" "$T/bg.out" "run watch probe 'error-rate' failed 2 times in a row"
expect_in "the journal says why the run failed" "$MIGRATE_STATE_DIR/runs/$id.jsonl" "run watch probe 'error-rate' failed"

# from: the watch does not run before its phase (the probe fails from the start)
rm -f "$OUT"; touch "$T/errors"
sed -e 's/pause: 1s/pause: 2s/' guard.yaml > guard2.yaml
run_migrate run guard2.yaml
expect_rc "a probe failing from the start trips once phase 'from' began" 1
expect_file "the phases before 'from' are not watched" "$OUT" "copy
shift
undo-shift
undo-copy"
rm -f "$T/errors"

# --- a run-level watch trips during a gate wait ------------------------------
cat > guard-gate.yaml <<'YAML'
runbook: 1
name: guard-gate
probes:
  error-rate:
    run: test ! -e "$STATE/errors"
watch: {probes: [error-rate], interval: 100ms, failures: 1}
phases:
  - name: shift
    steps:
      - name: shift
        run: echo shift >> "$OUT"
        rollback:
          run: echo undo-shift >> "$OUT"
  - name: finish
    gate: {message: "Shift done: finish?", timeout: 10m, on_timeout: stop}
    steps:
      - name: finish
        run: echo finish >> "$OUT"
YAML
rm -f "$OUT"
start_bg run guard-gate.yaml
wait_journal guard-gate '"state":"waiting"' && touch "$T/errors"
wait_bg
expect_rc "a trip during the gate wait: the run fails and unwinds (exit 1)" 1
expect_file "the gate wait stopped; unwound, nothing after the gate ran" "$OUT" "shift
undo-shift"
expect_in "names the probe" "$T/bg.out" "run watch probe 'error-rate' failed 1 time in a row"
expect_in "the gate is journaled as stopped" "$MIGRATE_STATE_DIR/runs/$id.jsonl" '"state":"stopped"'
rm -f "$T/errors"

# --- a phase watch covers its gate wait ---------------------------------------
cat > phase-gate.yaml <<'YAML'
runbook: 1
name: phase-gate
probes:
  error-rate:
    run: test ! -e "$STATE/errors"
phases:
  - name: shift
    steps:
      - name: shift
        run: echo shift >> "$OUT"
        rollback:
          run: echo undo-shift >> "$OUT"
  - name: finish
    watch: {probes: [error-rate], interval: 100ms}
    gate: {message: "finish?", timeout: 10m}
    steps:
      - name: finish
        run: echo finish >> "$OUT"
YAML
rm -f "$OUT"
start_bg run phase-gate.yaml
wait_journal phase-gate '"state":"waiting"' && touch "$T/errors"
wait_bg
expect_rc "a phase watch trips during its gate wait (exit 1)" 1
expect_in "names the phase's watch probe" "$T/bg.out" "watch probe 'error-rate' failed 1 time in a row"
expect_file "unwound" "$OUT" "shift
undo-shift"
rm -f "$T/errors"

# --- gate timeout without a terminal -----------------------------------------
cat > timeout.yaml <<'YAML'
runbook: 1
name: timeout
phases:
  - name: prepare
    steps:
      - name: copy
        run: echo copy >> "$OUT"
        rollback:
          run: echo undo-copy >> "$OUT"
  - name: switch
    gate: {message: "Switch?", approvals: 2, timeout: 1s, on_timeout: rollback}
    steps:
      - name: switch
        run: echo switch >> "$OUT"
YAML
rm -f "$OUT"
run_migrate run timeout.yaml
expect_rc "on_timeout: rollback without a terminal: the run unwinds (exit 1)" 1
expect_file "unwound, the gated phase never ran" "$OUT" "copy
undo-copy"
expect_in "says why" "$T/out" "gate 'switch' was not approved within 1s (on_timeout: rollback)"

sed -e 's/on_timeout: rollback/on_timeout: stop/' -e 's/^name: timeout/name: timeout-stop/' timeout.yaml > stop.yaml
rm -f "$OUT"
run_migrate run stop.yaml
expect_rc "on_timeout: stop: exit 4" 4
expect_in "says why" "$T/out" "not approved within 1s; needs 2 distinct approvals, has 0"
expect_in "and how people approve" "$T/out" "it needs 2 distinct approvals: each person records one with migrate approve"
expect_file "nothing after the gate ran, nothing unwound" "$OUT" "copy"
sid=$(sed -n 's/.*run \([0-9TZ]*-timeout-stop-[0-9a-f]*\).*/\1/p' "$T/out" | head -1)
run_migrate approve "$sid" switch --as alice
expect_rc "an approval of the stopped run" 0
run_migrate approve "$sid" switch --as bob
expect_rc "a second approval" 0
run_migrate resume "$sid"
expect_rc "resume passes the gate" 0
expect_file "the rest ran" "$OUT" "copy
switch"

# --- approvals handed to a run that waits (migrate approve from elsewhere) ----
sed -e 's/timeout: 1s/timeout: 10m/' -e 's/^name: timeout/name: live/' timeout.yaml > live.yaml
rm -f "$OUT"
start_bg run live.yaml --report json="$T/live.json" --report junit="$T/live.xml"
wait_journal live '"state":"waiting"'
run_migrate status "$id"
expect_in "status of the waiting run says how to approve" "$T/out" "the run waits at gate 'switch' for approvals: \`migrate approve $id switch --as NAME\`"
run_migrate approve "$id" switch --as alice
expect_rc "the first approval is taken by the waiting run" 0
expect_in "says so" "$T/out" "by alice recorded (1 of 2); the run waiting at the gate took it"
run_migrate approve "$id" --as alice
expect_rc "the same name again" 0
expect_in "counts once" "$T/out" "alice already approved gate 'switch'"
run_migrate approve "$id" other --as carol
expect_rc "a gate the run does not wait at" 2
expect_in "names the gate it waits at" "$T/err" "waits at gate 'switch', not 'other'"
run_migrate approve "$id" switch --as bob
expect_rc "the second approval" 0
expect_in "the run goes on" "$T/out" "(2 of 2); the run waiting at the gate took it and goes on"
wait_bg
expect_rc "the run went on as soon as it had enough approvals" 0
expect_file "the gated phase ran" "$OUT" "copy
switch"
journal="$MIGRATE_STATE_DIR/runs/$id.jsonl"
expect_in "the run journaled alice's approval" "$journal" '"type":"approval","gate":"switch","name":"alice","user":"'"$(id -un)"'"'
expect_in "with the way it came" "$journal" '"via":"migrate approve"'
expect_in "the gate names its approvers" "$journal" '"state":"approved","by":"alice, bob"'
if [ -e "$MIGRATE_STATE_DIR/runs/$id.approvals" ]; then
	fail "the inbox is removed when the wait ends" "$(ls -la "$MIGRATE_STATE_DIR/runs/$id.approvals")"
else
	pass "the inbox is removed when the wait ends"
fi
run_migrate approve "$id" --as carol
expect_rc "approve once the run went on" 6

# --- who approved, in status and the reports (people, not mechanisms) -------
me=$(id -un)
run_migrate status "$id"
expect_in "status lists the gate" "$T/out" "approved   switch (needs 2 approvals)"
expect_in "status names alice, her OS user and how" "$T/out" "approved by alice ($me@"
expect_in "status says how it came" "$T/out" ", migrate approve, "
expect_in "status names bob" "$T/out" "approved by bob ($me@"
run_migrate status "$id" --format json
/usr/bin/python3 - "$T/out" "$me" <<'PY' && pass "status --format json lists the gate's approvers" || fail "status --format json: gates" "$(cat "$T/out")"
import json, sys
doc = json.load(open(sys.argv[1]))
g = [g for g in doc["gates"] if g["name"] == "switch"][0]
assert g["state"] == "approved" and g["approvals_needed"] == 2, g
assert [a["name"] for a in g["approved_by"]] == ["alice", "bob"], g
assert all(a["user"] == sys.argv[2] and a["via"] == "migrate approve" and a["host"] for a in g["approved_by"]), g
PY
/usr/bin/python3 - "$T/live.json" "$me" <<'PY' && pass "the JSON report lists the gate's approvers" || fail "JSON report: gates" "$(cat "$T/live.json")"
import json, sys
doc = json.load(open(sys.argv[1]))
g = [g for g in doc["gates"] if g["name"] == "switch"][0]
assert g["state"] == "approved" and g["phase"] == "switch" and g["reason"] is None, g
assert [a["name"] for a in g["approved_by"]] == ["alice", "bob"], g
assert all(a["user"] == sys.argv[2] and a["via"] == "migrate approve" and a["at"] for a in g["approved_by"]), g
PY
expect_in "the JUnit report names the approvers" "$T/live.xml" "name=\"gate.switch\" value=\"approved; approved by alice ($me@"

# --approve and --yes are one approval by the invoking user: the person is named
sed -e 's/approvals: 2, //' -e 's/^name: timeout/name: oneperson/' timeout.yaml > one.yaml
rm -f "$OUT"
run_migrate run one.yaml --approve switch --report json="$T/one.json"
expect_rc "--approve passes a one-person gate" 0
oid=$(sed -n 's/.*run \([0-9TZ]*-oneperson-[0-9a-f]*\).*/\1/p' "$T/out" | head -1)
expect_in "the gate record names the person" "$MIGRATE_STATE_DIR/runs/$oid.jsonl" "\"state\":\"approved\",\"by\":\"$me\""
expect_not_in "not the mechanism" "$MIGRATE_STATE_DIR/runs/$oid.jsonl" '"by":"--approve"'
/usr/bin/python3 - "$T/one.json" "$me" <<'PY' && pass "the JSON report names the person who passed --approve" || fail "JSON report: --approve" "$(cat "$T/one.json")"
import json, sys
g = json.load(open(sys.argv[1]))["gates"][0]
assert g["approved_by"][0]["name"] == sys.argv[2] and g["approved_by"][0]["via"] == "--approve", g
PY

# a signal while a gate waits: exit 5, the run resumes at the gate
rm -f "$OUT"
start_bg run live.yaml
wait_journal live '"state":"waiting"'
pid=$(sed -n 's/.*"type":"run_start".*"pid":\([0-9]*\).*/\1/p' "$MIGRATE_STATE_DIR/runs/$id.jsonl")
[ -n "$pid" ] && kill -INT "$pid"
wait_bg
expect_rc "SIGINT while the gate waits: exit 5" 5
expect_in "the gate is journaled as interrupted" "$MIGRATE_STATE_DIR/runs/$id.jsonl" '"state":"interrupted"'
# resumed with --yes (one approval by the invoking user), it waits at the gate again for the second
rid=$id
seen=" "
start_bg resume "$rid" --yes
for _ in $(seq 1 600); do
	[ "$(grep -c '"state":"waiting"' "$MIGRATE_STATE_DIR/runs/$rid.jsonl")" -ge 2 ] && break
	sleep 0.1
done
run_migrate approve "$rid" --as bob
expect_rc "a second person approves the resumed run while it waits" 0
expect_in "--yes counted as one" "$T/out" "(2 of 2)"
wait_bg
expect_rc "the resumed run went on" 0
expect_file "the gated phase ran once" "$OUT" "copy
switch"
finish
