#!/bin/bash
# Journal, lock, resume, gates, signals and reports (SPEC §4), black-box.
. "$(dirname "$0")/lib.sh"

export MIGRATE_STATE_DIR="$T/state"
J() { ls -t "$MIGRATE_STATE_DIR"/runs/*.jsonl | head -1; }

cat > steps.yaml <<'YAML'
runbook: 1
name: steps
vars: {dir: /tmp, code: "0"}
secrets:
  token: {env: STEPS_TOKEN}
phases:
  - name: one
    steps:
      - name: a
        run: echo a >> ${dir}/log; echo "token ${secrets.token}"
        rollback: {run: 'echo undo a >> ${dir}/log'}
      - name: b
        run: echo b >> ${dir}/log; while [ -e ${dir}/hold ]; do sleep 0.05; done
        rollback: {run: 'echo undo b >> ${dir}/log'}
  - name: two
    gate: "Proceed to phase two?"
    steps:
      - name: c
        run: echo c >> ${dir}/log; exit ${code}
        rollback: {run: 'echo undo c >> ${dir}/log'}
YAML
export STEPS_TOKEN=tok-Secret-5150

# --- files, modes, records, secrets -------------------------------------
run_migrate run steps.yaml --new --var dir="$T" --yes --report junit="$T/r.xml" --report json="$T/r.json"
expect_rc "run with journal" 0
[ "$(stat -c %a "$MIGRATE_STATE_DIR/runs")" = 700 ] && pass "runs/ is 0700" || fail "runs/ mode $(stat -c %a "$MIGRATE_STATE_DIR/runs")"
[ "$(stat -c %a "$MIGRATE_STATE_DIR/locks")" = 700 ] && pass "locks/ is 0700" || fail "locks/ mode"
[ "$(stat -c %a "$(J)")" = 600 ] && pass "journal is 0600" || fail "journal mode $(stat -c %a "$(J)")"
expect_not_in "no secret in the journal" "$(J)" "tok-Secret-5150"
expect_not_in "no secret in the JUnit report" "$T/r.xml" "tok-Secret-5150"
expect_not_in "no secret in the JSON report" "$T/r.json" "tok-Secret-5150"
if python3 - "$(J)" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
types = [r["type"] for r in recs]
assert types[0] == "run_start" and types[-1] == "run_end", types
assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1))
assert all("sum" in r and "ts" in r for r in recs)
start = recs[0]
assert len(start["sha256"]) == 64 and start["vars"]["code"] == "0", start
assert "token" not in json.dumps(start["vars"])
for t in ("phase_start", "gate", "unit_start", "unit_end", "phase_end"):
    assert t in types, t
ends = [r for r in recs if r["type"] == "unit_end"]
assert [r["unit"] for r in ends] == ["a", "b", "c"] and all(r["status"] == "done" for r in ends)
assert recs[-1]["outcome"] == "succeeded" and recs[-1]["exit_code"] == 0
PY
then pass "journal records: run_start .. run_end, seq, sums, vars, units"; else fail "journal content"; fi
if xmllint --noout "$T/r.xml" 2>"$T/xml.err"; then pass "JUnit report is well-formed XML"; else fail "JUnit XML" "$(cat "$T/xml.err")"; fi
[ "$(grep -c '<testcase ' "$T/r.xml")" = 3 ] && pass "JUnit: one testcase per unit" || fail "JUnit testcase count" "$(grep -c '<testcase ' "$T/r.xml")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["outcome"]=="succeeded"' "$T/r.json" && pass "JSON report parses" || fail "JSON report"
run_migrate status --format json
expect_rc "status --format json" 0
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" && pass "status json parses" || fail "status json"
run_migrate history --format json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==1' "$T/out" && pass "history json parses" || fail "history json"
rm -f "$T/log"

# --- gate without a terminal, then resume --yes ----------------------------
run_migrate run steps.yaml --new --var dir="$T" --report junit="$T/gate.xml"
expect_rc "gate without a terminal" 4
expect_file "stopped before phase two" "$T/log" "a
b"
[ -s "$T/gate.xml" ] && pass "report written at a gate stop" || fail "no report at gate stop"
run_migrate resume
expect_rc "resume without approval stops at the gate again" 4
run_migrate resume --yes
expect_rc "resume --yes finishes the run" 0
expect_file "earlier steps did not run again" "$T/log" "a
b
c"
run_migrate resume
expect_rc "nothing left to resume" 6
rm -f "$T/log"

# --- failure, then rollback command finishes nothing twice -----------------
run_migrate run steps.yaml --new --var dir="$T" --var code=3 --yes --no-rollback
expect_rc "--no-rollback leaves steps in place" 3
run_migrate rollback --yes
expect_rc "rollback command unwinds" 0
expect_file "rolled back in reverse" "$T/log" "a
b
c
undo b
undo a"
run_migrate rollback "$(basename "$(J)" .jsonl)"
expect_rc "a second rollback has nothing to do" 0
expect_in "says nothing to roll back" "$T/out" "nothing to roll back"
rm -f "$T/log"

# --- SIGINT during a step: exit 5, resume completes ------------------------
touch "$T/hold"
"$MIGRATE" run steps.yaml --var dir="$T" --yes --report json="$T/int.json" </dev/null >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 500); do grep -qx b "$T/log" 2>/dev/null && break; sleep 0.02; done
kill -INT $pid
wait $pid; rc=$?
expect_rc "SIGINT" 5
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["exit_code"]==5, d["exit_code"]' "$T/int.json" && pass "report written on interrupt" || fail "report on interrupt"
grep -q '"type":"interrupted"' "$(J)" && pass "journal records the interrupt" || fail "no interrupted record"
rm -f "$T/hold"
run_migrate resume --yes
expect_rc "resume after SIGINT completes" 0
expect_file "the interrupted step ran again, a did not" "$T/log" "a
b
b
c"
rm -f "$T/log"

# --- locks: a second run exits 6 at once naming the first -----------------
touch "$T/hold"
"$MIGRATE" run steps.yaml --var dir="$T" --yes </dev/null >"$T/first.out" 2>&1 &
first=$!
for _ in $(seq 500); do grep -qx b "$T/log" 2>/dev/null && break; sleep 0.02; done
first_id=$(basename "$(J)" .jsonl)
start=$(date +%s%N)
run_migrate run steps.yaml --new --var dir="$T" --yes
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
expect_rc "second run of a locked runbook" 6
expect_in "the holder is named" "$T/err" "$first_id"
[ "$elapsed" -lt 5000 ] && pass "refused at once (${elapsed} ms)" || fail "refusal took ${elapsed} ms"
kill -KILL $first
wait $first 2>/dev/null
rm -f "$T/hold"
run_migrate run steps.yaml --new --var dir="$T" --yes
expect_rc "after the holder died a new run starts" 0
rm -f "$T/log"

# --- torn last line: ignored; corrupt middle record: refused ---------------
run_migrate run steps.yaml --new --var dir="$T"
expect_rc "gated run for the torn-tail test" 4
printf '{"seq":99,"type":"unit_st' >> "$(J)"
run_migrate resume --yes
expect_rc "resume with a torn last line" 0
expect_in "the torn line is mentioned" "$T/err" "torn"
expect_file "nothing before the torn line was lost" "$T/log" "a
b
c"
rm -f "$T/log"
run_migrate run steps.yaml --new --var dir="$T"
expect_rc "gated run for the corruption test" 4
python3 - "$(J)" <<'PY'
import sys
p = sys.argv[1]
lines = open(p, "rb").read().split(b"\n")
lines[2] = lines[2].replace(b'"type"', b'"tipe"', 1)
open(p, "wb").write(b"\n".join(lines))
PY
run_migrate resume --yes
expect_rc "resume refuses a corrupt journal" 6
expect_in "names the line" "$T/err" "line 3"
run_migrate status
expect_rc "status of a corrupt journal" 6
[ "$(grep -c . "$T/log")" = 2 ] && pass "nothing ran on a corrupt journal" || fail "steps ran" "$(cat "$T/log")"
rm -f "$T/log"

# --- changed runbook: refused unless --force -------------------------------
run_migrate run steps.yaml --new --var dir="$T"
expect_rc "gated run for the changed-runbook test" 4
echo "# edited" >> steps.yaml
run_migrate resume --yes
expect_rc "resume refuses a changed runbook" 6
expect_in "says it changed" "$T/err" "changed"
run_migrate resume --yes --force
expect_rc "resume --force" 0

# --- a failed rollback stops the unwind; `migrate rollback` continues it ---
cat > unwind.yaml <<'YAML'
runbook: 1
name: unwind
vars: {dir: /tmp}
phases:
  - name: p
    steps:
      - {name: u1, run: 'echo u1 >> ${dir}/ulog', rollback: {run: 'echo undo u1 >> ${dir}/ulog'}}
      - {name: u2, run: 'echo u2 >> ${dir}/ulog', rollback: {run: 'test -e ${dir}/fixed && echo undo u2 >> ${dir}/ulog'}}
      - {name: u3, run: 'echo u3 >> ${dir}/ulog', rollback: {run: 'echo undo u3 >> ${dir}/ulog'}}
      - {name: u4, run: 'exit 1'}
YAML
run_migrate run unwind.yaml --new --var dir="$T"
expect_rc "rollback of u2 fails" 3
run_migrate status
expect_in "status shows the failed rollback" "$T/out" "rollback FAILED"
touch "$T/fixed"
run_migrate rollback --yes
expect_rc "rollback continues the unwind" 0
expect_file "u3 was not rolled back twice; u2 and u1 were" "$T/ulog" "u1
u2
u3
undo u3
undo u2
undo u1"

# --- SIGINT during the unwind: exit 5; resume refuses, rollback finishes -----
cat > unwind2.yaml <<'YAML'
runbook: 1
name: unwind2
vars: {dir: /tmp}
phases:
  - name: p
    steps:
      - {name: w1, run: 'true', rollback: {run: 'echo undo w1 >> ${dir}/wlog'}}
      - {name: w2, run: 'true', rollback: {run: 'echo undo w2 >> ${dir}/wlog; while [ -e ${dir}/whold ]; do sleep 0.05; done'}}
      - {name: w3, run: 'exit 1'}
YAML
touch "$T/whold"
"$MIGRATE" run unwind2.yaml --var dir="$T" </dev/null >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 500); do grep -q "undo w2" "$T/wlog" 2>/dev/null && break; sleep 0.02; done
kill -INT $pid
wait $pid; rc=$?
expect_rc "SIGINT during the unwind" 5
rm -f "$T/whold"
run_migrate resume
expect_rc "resume refuses a run stopped while unwinding" 6
expect_in "points at rollback" "$T/err" "migrate rollback"
run_migrate rollback --yes
expect_rc "rollback finishes the unwind" 0
expect_file "the interrupted rollback ran again, then w1" "$T/wlog" "undo w2
undo w2
undo w1"

# --- a second SIGINT exits at once; the journal stays valid -----------------
cat > stubborn.yaml <<'YAML'
runbook: 1
name: stubborn
vars: {dir: /tmp}
phases:
  - name: p
    steps:
      - name: ignores-term
        run: trap '' TERM; echo $$ > ${dir}/stubborn.pid; sleep 60 & echo $! >> ${dir}/stubborn.pid; wait
YAML
"$MIGRATE" run stubborn.yaml --var dir="$T" </dev/null >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 500); do [ "$(grep -c . "$T/stubborn.pid" 2>/dev/null)" = 2 ] && break; sleep 0.02; done
# the step ignores SIGTERM, so after the first SIGINT migrate would wait out the 5 s grace
kill -INT $pid; sleep 0.3; kill -INT $pid
wait $pid; rc=$?
expect_rc "second SIGINT" 5
gone=1
for _ in $(seq 100); do
	gone=1
	while read -r p; do kill -0 "$p" 2>/dev/null && gone=0; done < "$T/stubborn.pid"
	[ $gone = 1 ] && break
	sleep 0.1
done
[ $gone = 1 ] && pass "the step's processes were killed on the hard exit" || fail "processes survived a second SIGINT"
if python3 - "$(J)" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    json.loads(line)
PY
then pass "journal parses after a second SIGINT"; else fail "journal damaged by a second SIGINT"; fi
run_migrate status
expect_rc "status after a second SIGINT" 0

# --- the journal cannot be written (file size limit): the run stops, exit 3 --
{
	echo "runbook: 1"
	echo "name: many"
	echo "vars: {dir: /tmp}"
	echo "phases:"
	echo "  - name: p"
	echo "    steps:"
	for i in $(seq 60); do echo "      - {name: m$i, run: 'echo m$i >> \${dir}/mlog'}"; done
} > many.yaml
(ulimit -f 8; exec "$MIGRATE" run many.yaml --var dir="$T" --state-dir "$T/small" </dev/null >"$T/out" 2>"$T/err"); rc=$?
expect_rc "a journal that cannot be written stops the run" 3
expect_in "says the journal could not be written" "$T/out" "cannot write the journal"
ran=$(grep -c . "$T/mlog")
[ "$ran" -lt 60 ] && pass "the run stopped early ($ran of 60 steps)" || fail "all steps ran without a journal"
if python3 - "$(ls "$T"/small/runs/*.jsonl)" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ends = [r["unit"] for r in recs if r["type"] == "unit_end"]
log = open(sys.argv[1].rsplit("/small/", 1)[0] + "/mlog").read().split()
# every step that ran is in the journal as started; none ran unrecorded
starts = [r["unit"] for r in recs if r["type"] == "unit_start"]
assert set(log) <= set(starts) | set(ends), (log, starts)
PY
then pass "no step ran without its start record"; else fail "a step ran unrecorded"; fi

# --- symlinked state: refused ----------------------------------------------
mkdir -p "$T/elsewhere"
mkdir -p "$T/s2" && ln -s "$T/elsewhere" "$T/s2/runs"
run_migrate run steps.yaml --new --var dir="$T" --yes --state-dir "$T/s2"
expect_rc "a symlinked runs/ is refused" 6

finish
