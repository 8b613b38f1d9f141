#!/bin/bash
# migrate status and migrate history, read from journals written by the
# mkjournal helper (the real journal module): a succeeded run, a failed run
# with an unwind that stopped, a run stopped at a gate, a crashed run with a
# unit in doubt, a torn last line, a corrupt journal, and an empty or
# missing state directory.
. "$(dirname "$0")/lib.sh"
MKJOURNAL=${MKJOURNAL:?MKJOURNAL must point at the mkjournal helper}

S=$T/state

# json_check NAME PYTHON-EXPRESSION: the last stdout is JSON (bound to d) and the expression is true.
json_check() {
	if python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
	    "$T/out" "$2" 2>"$T/pyerr"; then
		pass "$1"
	else
		fail "$1: $2" "$(head -c 2000 "$T/out")" "$(cat "$T/pyerr")"
	fi
}

# journal ID RUNBOOK-NAME [FILE]: write a journal for ID from the records on stdin, after a run_start.
journal() {
	{
		printf '{"type":"run_start","run_id":"%s","runbook":"%s","file":"%s","sha256":"%s","vars":{"n":1},"selection":{"phases":[],"from":null,"to":null},"pid":4242,"host":"ops1","user":"ops","version":"0.1.0"}\n' \
		    "$1" "$2" "${3:-/srv/$2.yaml}" "${4:-0000}"
		cat
	} | "$MKJOURNAL" --state-dir "$S" >/dev/null || fail "mkjournal $1"
}

# --- nothing there yet --------------------------------------------------------
run_migrate history --state-dir "$S"
expect_rc "history of a missing state dir" 0
expect_in "history says there are no runs" "$T/out" "no runs in $S"
if [ -e "$S" ]; then fail "history created the state dir"; else pass "history created nothing"; fi
run_migrate history --state-dir "$S" --format json
expect_rc "history --format json of a missing state dir" 0
json_check "empty history is []" 'd == []'
run_migrate status --state-dir "$S"
expect_rc "status without runs" 2
expect_in "status says there are no runs" "$T/err" "no runs in $S"
if [ -e "$S" ]; then fail "status created the state dir"; else pass "status created nothing"; fi

# --- a clean run ----------------------------------------------------------------
OK=20261120T080000Z-demo-0001
journal $OK demo <<'EOF'
{"type":"phase_start","phase":"prepare"}
{"type":"unit_start","unit":"create","step":"create","phase":"prepare","item":null,"host":"local","attempt":1}
{"type":"unit_end","unit":"create","status":"done","attempts":1,"exit_code":0,"duration_ms":1500,"message":null,"captures":{"keys":"3"},"tail":"3 keys\n"}
{"type":"unit_start","unit":"shift[0]","step":"shift","phase":"prepare","item":"10","host":"local","attempt":1}
{"type":"unit_end","unit":"shift[0]","status":"done","attempts":1,"exit_code":0,"duration_ms":20,"message":null,"captures":{},"tail":""}
{"type":"phase_end","phase":"prepare","ok":true}
{"type":"run_end","outcome":"succeeded","exit_code":0,"failure":null,"duration_ms":1600}
EOF
run_migrate status $OK --state-dir "$S"
expect_rc "status of a succeeded run" 0
expect_in "status names the run" "$T/out" "$OK"
expect_in "status names the runbook and file" "$T/out" "demo (/srv/demo.yaml)"
expect_in "status shows the outcome" "$T/out" "succeeded (exit 0)"
expect_in "status shows the duration" "$T/out" "1.6s"
expect_in "status lists a unit with attempts, duration, exit code" "$T/out" "1 attempt   1.5s     exit 0"
expect_in "status lists a for: unit by its value" "$T/out" "shift[10]"
expect_in "status says nothing is left to do" "$T/out" "next: nothing to do: the run succeeded"
run_migrate status $OK --state-dir "$S" --format json
expect_rc "status --format json" 0
json_check "status json is the run" 'd["run_id"] == "'$OK'" and d["outcome"] == "succeeded" and d["exit_code"] == 0 and d["finished"]'
json_check "status json has the units" '[u["key"] for u in d["units"]] == ["create", "shift[0]"] and d["units"][1]["name"] == "shift[10]"'
json_check "status json has unit fields" 'd["units"][0]["captures"] == {"keys": "3"} and d["units"][0]["completed_seq"] == 1 and d["units"][1]["item"] == "10" and d["units"][0]["rollback_state"] == "none"'
json_check "status json says what next" 'd["next"]["action"] == "none"'

# --- a failed run whose unwind stopped at a failed rollback ------------------------
BAD=20261121T080000Z-cutover-0002
journal $BAD cutover <<'EOF'
{"type":"unit_start","unit":"backup@db","step":"backup","phase":"pre","item":null,"host":"db","attempt":1}
{"type":"unit_end","unit":"backup@db","status":"done","attempts":1,"exit_code":0,"duration_ms":10,"message":null,"captures":{},"tail":""}
{"type":"unit_start","unit":"freeze","step":"freeze","phase":"pre","item":null,"host":"local","attempt":1}
{"type":"unit_end","unit":"freeze","status":"done","attempts":1,"exit_code":null,"duration_ms":10,"message":null,"captures":{},"tail":""}
{"type":"unit_start","unit":"note","step":"note","phase":"pre","item":null,"host":"local","attempt":1}
{"type":"unit_end","unit":"note","status":"done","attempts":1,"exit_code":0,"duration_ms":10,"message":null,"captures":{},"tail":""}
{"type":"unit_start","unit":"migrate","step":"migrate","phase":"pre","item":null,"host":"local","attempt":1}
{"type":"unit_retry","unit":"migrate","attempt":1,"message":"exit status 2","delay_ms":100}
{"type":"unit_start","unit":"migrate","step":"migrate","phase":"pre","item":null,"host":"local","attempt":2}
{"type":"unit_end","unit":"migrate","status":"failed","attempts":2,"exit_code":2,"duration_ms":300,"message":"exit status 2 (expected 0)","captures":{},"tail":"line 1\nline 2\nERROR: table locked\n"}
{"type":"unwind_start","reason":"step 'migrate' failed"}
{"type":"rollback_end","unit":"note","status":"no_rollback","message":null,"duration_ms":0}
{"type":"rollback_start","unit":"freeze"}
{"type":"rollback_end","unit":"freeze","status":"done","message":null,"duration_ms":5}
{"type":"rollback_start","unit":"backup@db"}
{"type":"rollback_end","unit":"backup@db","status":"failed","message":"rm: permission denied","duration_ms":7}
{"type":"run_end","outcome":"needs_human","exit_code":3,"failure":"step 'migrate' failed: exit status 2 (expected 0)","duration_ms":400}
EOF
run_migrate status $BAD --state-dir "$S"
expect_rc "status of a failed run" 0
expect_in "failed run: outcome" "$T/out" "failed and NOT fully rolled back: a person must look (exit 3)"
expect_in "failed run: failure" "$T/out" "failure   step 'migrate' failed: exit status 2 (expected 0)"
expect_in "failed run: failed unit line" "$T/out" "FAILED   migrate"
expect_in "failed run: attempts" "$T/out" "2 attempts"
expect_in "failed run: unit message" "$T/out" "      exit status 2 (expected 0)"
expect_in "failed run: output tail" "$T/out" "│ ERROR: table locked"
expect_in "failed run: host" "$T/out" "backup@db  db"
expect_in "failed run: rolled back" "$T/out" "rolled back"
expect_in "failed run: no rollback" "$T/out" "no rollback"
expect_in "failed run: rollback failed with its message" "$T/out" "rollback: rm: permission denied"
expect_in "failed run: what next" "$T/out" "migrate rollback $BAD"
run_migrate status $BAD --state-dir "$S" --format json
expect_rc "failed run: status --format json" 0
json_check "failed run json: rollback states" '{u["key"]: u["rollback_state"] for u in d["units"]} == {"backup@db": "failed", "freeze": "done", "note": "no_rollback", "migrate": "none"}'
json_check "failed run json: completion order" '[u["completed_seq"] for u in d["units"]] == [1, 2, 3, None]'
json_check "failed run json: failed unit" 'd["units"][3]["state"] == "failed" and d["units"][3]["exit_code"] == 2 and d["units"][3]["attempts"] == 2 and "table locked" in d["units"][3]["tail"]'
json_check "failed run json: next is rollback" 'd["next"]["action"] == "rollback" and d["next"]["command"] == "migrate rollback '$BAD'"'

# --- a run stopped at a gate ---------------------------------------------------
GATE=20261122T080000Z-cutover-0003
journal $GATE cutover <<'EOF'
{"type":"unit_start","unit":"a","step":"a","phase":"one","item":null,"host":"local","attempt":1}
{"type":"unit_end","unit":"a","status":"done","attempts":1,"exit_code":0,"duration_ms":10,"message":null,"captures":{},"tail":""}
{"type":"gate","name":"go-live","phase":"two","state":"asked","by":null,"question":"Go?"}
{"type":"gate","name":"go-live","phase":"two","state":"unanswered","by":null,"question":"Go?"}
{"type":"run_end","outcome":"gate","exit_code":4,"failure":null,"duration_ms":50}
EOF
run_migrate status $GATE --state-dir "$S"
expect_rc "status of a gated run" 0
expect_in "gated run: outcome" "$T/out" "stopped at a gate that was not approved (exit 4)"
expect_in "gated run: how to continue" "$T/out" "migrate resume $GATE --approve go-live"
run_migrate status $GATE --state-dir "$S" --format json
json_check "gated run json" 'd["pending_gate"] == "go-live" and d["next"]["command"] == "migrate resume '$GATE' --approve go-live"'

# --- a crashed run: a unit in doubt, torn last line; the runbook says idempotent --
cat >"$T/crash.yaml" <<'EOF'
runbook: 1
name: crash
phases:
  - name: one
    steps:
      - name: a
        run: "true"
      - name: b
        run: "true"
        idempotent: true
      - name: c
        run: "true"
EOF
CRASH=20261123T080000Z-crash-0004
journal $CRASH crash "$T/crash.yaml" <<'EOF'
{"type":"unit_start","unit":"a","step":"a","phase":"one","item":null,"host":"local","attempt":1}
{"type":"unit_end","unit":"a","status":"done","attempts":1,"exit_code":0,"duration_ms":10,"message":null,"captures":{},"tail":""}
{"type":"unit_start","unit":"b","step":"b","phase":"one","item":null,"host":"local","attempt":1}
{"type":"unit_start","unit":"c","step":"c","phase":"one","item":null,"host":"local","attempt":1}
EOF
printf '{"seq":6,"ts":"2026-11-23T08:00:0' >>"$S/runs/$CRASH.jsonl"
run_migrate status --state-dir "$S"
expect_rc "status of the newest run (crashed)" 0
expect_in "status without RUN-ID shows the newest run" "$T/out" "$CRASH"
expect_in "crashed run: unfinished" "$T/out" "unfinished (no run end recorded: crashed or still running)"
expect_in "crashed run: in-doubt unit" "$T/out" "IN-DOUBT b"
expect_in "crashed run: idempotent unit runs again" "$T/out" "resume runs it again (the step is idempotent)"
expect_in "crashed run: other unit needs a decision" "$T/out" "migrate resume $CRASH --retry-in-doubt"
expect_in "crashed run: torn tail noted" "$T/out" "last line was cut short"
expect_in "crashed run: what next" "$T/out" "migrate resume $CRASH"
expect_in "crashed run: the runbook changed" "$T/out" "the runbook file changed since the run started"
run_migrate status --state-dir "$S" --format json
json_check "crashed run json" 'd["finished"] is False and d["outcome"] is None and d["exit_code"] is None and d["torn_tail"] and d["next"]["action"] == "resume"'
json_check "crashed run json: resume plans" '[u["on_resume"] for u in d["units"]] == [None, "run_again", "ask_operator"]'

# --- history ----------------------------------------------------------------------
run_migrate history --state-dir "$S"
expect_rc "history" 0
expect_in "history has a header" "$T/out" "RUN ID"
expect_in "history lists the succeeded run" "$T/out" "$OK"
expect_in "history shows the failure, short" "$T/out" "step 'migrate' failed"
expect_in "history shows unfinished runs" "$T/out" "unfinished"
order=$(grep -o '2026112[0-9]T080000Z-[a-z]*-000[0-9]' "$T/out" | tr '\n' ' ')
if [ "$order" = "$CRASH $GATE $BAD $OK " ]; then pass "history is newest first"; else fail "history order: $order"; fi
run_migrate history --state-dir "$S" --format json
expect_rc "history --format json" 0
json_check "history json lists every run newest first" '[r["run_id"] for r in d] == ["'$CRASH'", "'$GATE'", "'$BAD'", "'$OK'"]'
json_check "history json outcomes" '[r["outcome"] for r in d] == ["unfinished", "gate", "needs_human", "succeeded"]'

# --- unknown and invalid run ids ----------------------------------------------------
run_migrate status 20991231T000000Z-nope-ffff --state-dir "$S"
expect_rc "status of an unknown run" 2
expect_in "unknown run is named" "$T/err" "no run '20991231T000000Z-nope-ffff' in $S"
run_migrate status ../etc --state-dir "$S"
expect_rc "status of an invalid run id" 2

# --- a corrupt journal -------------------------------------------------------------
python3 - "$S/runs/$BAD.jsonl" <<'PY'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
lines[3] = lines[3].replace('"freeze"', '"frozen"', 1)
open(p, "w").write("\n".join(lines))
PY
run_migrate status $BAD --state-dir "$S"
expect_rc "status of a corrupt journal" 6
expect_in "corrupt journal: line named" "$T/err" "corrupt at line 4"
run_migrate history --state-dir "$S"
expect_rc "history with a corrupt journal" 0
expect_in "history lists it as corrupt" "$T/out" "corrupt"
expect_in "history still lists the others" "$T/out" "$OK"
run_migrate history --state-dir "$S" --format json
json_check "history json: corrupt run" '[r["outcome"] for r in d if r["run_id"] == "'$BAD'"] == ["corrupt"] and [r["runbook"] for r in d if r["run_id"] == "'$BAD'"] == ["cutover"]'

finish
