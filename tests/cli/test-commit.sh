#!/bin/bash
# test-commit.sh - a run's commit point (SPEC §7) everywhere a run is
# shown: plan (text and JSON) marks it; status (text and JSON), history
# (text and JSON) and the reports (JSON and JUnit) show the commit point a
# run passed, on a run that succeeded and on one that failed after it; a
# run that failed before it shows none.
. "$SRCDIR/tests/cli/lib.sh"

cat >commit.yaml <<'YAML'
runbook: 1
name: cutover
phases:
  - name: prepare
    steps:
      - name: copy
        run: 'true'
        rollback: {run: 'true'}
      - name: early
        run: test ! -e "$STATE/fail-early"
  - name: db-switch
    commit: true
    steps:
      - name: switch
        run: 'true'
        rollback: {run: 'true'}
  - name: cleanup
    steps:
      - name: last
        run: test ! -e "$STATE/fail-last"
YAML
export STATE="$T"

# run_id: the id of the newest run (its journal)
run_id() { basename "$(ls -t "$XDG_STATE_HOME"/migrate/runs/*.jsonl | head -1)" .jsonl; }
# json_get FILE EXPR: print EXPR evaluated on the JSON document j in FILE
json_get() { python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# expect_json NAME FILE EXPR WANT
expect_json() {
	local got
	got=$(json_get "$2" "$3" 2>&1)
	if [ "$got" = "$4" ]; then pass "$1"; else fail "$1: $3 is '$got', expected '$4'" "$(head -c 1500 "$2")"; fi
}

run_migrate plan commit.yaml
expect_in "plan marks the commit point" "$T/out" "commit point: once db-switch is verified"
run_migrate plan commit.yaml --format json
expect_json "plan --format json marks the commit phase" "$T/out" '[p.get("commit", False) for p in j["phases"]]' "[False, True, False]"

# ---- a run that succeeded past its commit point ----
run_migrate run commit.yaml --report json="$T/ok.json" --report junit="$T/ok.xml"
expect_rc "the run succeeds" 0
ok=$(run_id)
run_migrate status "$ok"
expect_in "status shows the commit point" "$T/out" "commit    phase db-switch"
run_migrate status "$ok" --format json
expect_json "status --format json: commit_point" "$T/out" 'j["commit_point"]' "db-switch"
expect_json "JSON report: commit_point" "$T/ok.json" 'j["commit_point"]' "db-switch"
expect_json "JSON report: the phase is marked" "$T/ok.json" '[p["name"] for p in j["phases"] if p.get("commit_point")]' "['db-switch']"
expect_in "JUnit report: a commit_point property" "$T/ok.xml" '<property name="commit_point" value="db-switch"/>'

# ---- a run that failed after it: exit 3, the commit point everywhere ----
touch "$T/fail-last"
run_migrate run commit.yaml --report json="$T/after.json" --report junit="$T/after.xml"
expect_rc "a failure after the commit point" 3
after=$(run_id)
rm -f "$T/fail-last"
run_migrate status "$after" --format json
expect_json "status --format json of the failed run: commit_point" "$T/out" 'j["commit_point"]' "db-switch"
expect_json "JSON report of the failed run: commit_point" "$T/after.json" 'j["commit_point"]' "db-switch"
expect_in "JUnit report of the failed run: commit_point" "$T/after.xml" '<property name="commit_point" value="db-switch"/>'

# ---- a run that failed before it (--new: the one above is unfinished): no commit point anywhere ----
touch "$T/fail-early"
run_migrate run commit.yaml --new --report json="$T/before.json" --report junit="$T/before.xml"
expect_rc "a failure before the commit point unwinds all" 1
before=$(run_id)
rm -f "$T/fail-early"
run_migrate status "$before"
expect_not_in "status shows no commit point" "$T/out" "commit    "
run_migrate status "$before" --format json
expect_json "status --format json: no commit_point" "$T/out" 'j["commit_point"]' "None"
expect_json "JSON report: no commit_point" "$T/before.json" 'j["commit_point"]' "None"
expect_not_in "JUnit report: no commit_point" "$T/before.xml" 'commit_point'

# ---- history, text and JSON ----
run_migrate history
expect_rc "history" 0
expect_in "history: DETAILS column" "$T/out" "DETAILS"
if grep -F "$ok" "$T/out" | grep -qF "commit point db-switch"; then pass "history: the succeeded run shows its commit point"; else fail "history row of $ok" "$(cat "$T/out")"; fi
if grep -F "$after" "$T/out" | grep -qF "failed after commit point db-switch"; then pass "history: the failed run names it once"; else fail "history row of $after" "$(cat "$T/out")"; fi
if grep -F "$after" "$T/out" | grep -qF "commit point db-switch; "; then fail "history: commit point named twice"; else pass "history: not named twice"; fi
if grep -F "$before" "$T/out" | grep -qF "commit point"; then fail "history: no commit point before it"; else pass "history: no commit point for the run that failed before it"; fi
run_migrate history --format json
expect_json "history --format json: commit_point per run" "$T/out" \
	"{r['run_id']: r['commit_point'] for r in j}[\"$ok\"], {r['run_id']: r['commit_point'] for r in j}[\"$after\"], {r['run_id']: r['commit_point'] for r in j}[\"$before\"]" \
	"('db-switch', 'db-switch', None)"

finish
