#!/bin/bash
# A resumed run is reported as one run (issue 12 item 11): after a run
# stopped at a gate and was resumed, the JSON and JUnit reports, history
# and the closing summary show the run's first start, its working time over
# both sessions and the units of both sessions.
. "$(dirname "$0")/lib.sh"

cat > two.yaml <<'EOF2'
runbook: 1
name: two
vars: {dir: /tmp}
phases:
  - name: first
    steps:
      - name: a
        run: sleep 1; echo a >> ${dir}/ran.log
      - name: b
        run: echo b >> ${dir}/ran.log
  - name: second
    gate: "Go on?"
    steps:
      - name: c
        run: echo c >> ${dir}/ran.log
EOF2

run_migrate run two.yaml --var dir="$T" --report json=first.json
expect_rc "the first session stops at the gate" 4
sleep 1.1   # the resumed session starts in a later second
run_migrate resume --yes --report json=r.json --report junit=r.xml
expect_rc "the resumed session completes the run" 0
expect_file "every step ran once" "$T/ran.log" "a
b
c"
expect_in "the closing summary counts the units of both sessions" "$T/out" "succeeded: 3 units in"
expect_in "the closing summary says it spans two sessions" "$T/out" "over 2 sessions"
J=$(ls "$XDG_STATE_HOME"/migrate/runs/*.jsonl)

run_migrate history --format json
cp "$T/out" hist.json
run_migrate history
cp "$T/out" hist.txt

if python3 - "$J" r.json r.xml hist.json first.json > check.out 2>&1 <<'PY'
import json, sys, xml.etree.ElementTree as ET
jpath, rpath, xpath, hpath, fpath = sys.argv[1:]
recs = [json.loads(l) for l in open(jpath)]
# the run's own start (run_start's "started"; older journals: its ts)
rs = [r for r in recs if r["type"] == "run_start"][0]
start = rs.get("started", rs["ts"])
ends = [r for r in recs if r["type"] == "run_end"]
assert len(ends) == 2, "two sessions, two run_end records"
work = ends[-1]["work_ms"]
r = json.load(open(rpath))
first = json.load(open(fpath))
problems = []
def check(cond, what):
    if not cond:
        problems.append(what)
check(r["started"][:19] == start[:19], "report started %s is not the first start %s" % (r["started"], start))
check(r["started"] == first["started"], "report started differs from the first session's report")
check(r["session_started"] != r["started"], "session_started should be the resumed session's start")
check(r["sessions"] == 2, "sessions %r" % r.get("sessions"))
check(r["duration_ms"] == work, "duration_ms %r is not the run's working time %r" % (r["duration_ms"], work))
check(r["duration_ms"] >= 1000, "duration_ms %r leaves out the first session (a: sleep 1)" % r["duration_ms"])
check(r["duration_ms"] > r["session_duration_ms"], "duration_ms is only the last session's")
check(r["counts"]["done"] == 3 and r["counts"]["failed"] == 0, "counts %r" % r["counts"])
x = ET.parse(xpath).getroot()
check(x.get("tests") == "3" and x.get("failures") == "0", "junit tests=%s failures=%s" % (x.get("tests"), x.get("failures")))
check(abs(float(x.get("time")) * 1000 - work) < 2, "junit time %s is not the working time %r" % (x.get("time"), work))
check((x.get("timestamp") or "")[:19] == start[:19], "junit timestamp %r is not the first start" % x.get("timestamp"))
suites = {s.get("name"): s for s in x.findall("testsuite")}
check((suites["first"].get("timestamp") or "")[:19] <= (suites["second"].get("timestamp") or "")[:19]
      and suites["first"].get("timestamp"), "the first phase's suite keeps its start")
h = json.load(open(hpath))
row = h[0] if isinstance(h, list) else (h.get("runs") or [])[0]
check(row["duration_ms"] == work, "history duration_ms %r is not the working time %r" % (row["duration_ms"], work))
check(row["started"] == start, "history started %r" % row["started"])
check(row.get("sessions") == 2, "history sessions %r" % row.get("sessions"))
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
then
	pass "reports and history describe the whole run"
else
	fail "reports and history describe the whole run" "$(cat check.out)" "$(head -c 1500 r.json)"
fi
# history's text shows at least a second (the first session's sleep 1)
if grep -E '(^|[^0-9.])(1\.[0-9]s|[1-9][0-9]*\.[0-9]+s|[0-9]+s)' hist.txt >/dev/null; then
	pass "history's duration covers the first session"
else
	fail "history's duration" "$(cat hist.txt)"
fi

finish
