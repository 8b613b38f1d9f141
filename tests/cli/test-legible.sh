#!/bin/bash
# Output that says what happened (issue 12 items 9 and 12): a rollback's
# output is kept apart from its unit's in the terminal, `status` (text and
# JSON) and both reports; an interrupted unit is INTERRUPTED, not FAILED; a
# watch sample that failed without tripping the watch is a warning; probe
# rows show their duration; a long unit name does not break the columns.
. "$(dirname "$0")/lib.sh"

# ---- item 9: the rollback's output under the rollback, not the unit ----
cat > rb.yaml <<'YAML'
runbook: 1
name: rbout
phases:
  - name: p
    steps:
      - name: one
        run: echo one-step-output
        rollback: {run: echo one-rollback-output}
      - name: two
        run: echo two-step-output; exit 3
        rollback: {run: echo two-rollback-output; exit 4, when: always}
YAML
run_migrate run rb.yaml --report json="$T/rb.json" --report junit="$T/rb.xml"
expect_rc "the rollback of the failed unit failed" 3
python3 - "$T/out" <<'PY' && pass "terminal: the unit's last output is its own, the rollback's under the rollback" || fail "terminal output tails" "$(cat "$T/out")"
import sys
out = open(sys.argv[1]).read()
unit, _, unwind = out.partition("unwinding:")
assert "two-step-output" in unit and "two-rollback-output" not in unit, unit
assert "rollback output:" in unwind and "two-rollback-output" in unwind, unwind
assert "two-step-output" not in unwind, unwind
PY
run_migrate status
python3 - "$T/out" <<'PY' && pass "status: last output and rollback output apart" || fail "status output tails" "$(cat "$T/out")"
import sys
lines = open(sys.argv[1]).read().split("\n")
i = lines.index("      last output:")
j = lines.index("      rollback output:")
assert i < j, (i, j)
assert [l for l in lines[i + 1:j] if "│" in l] == ["      │ two-step-output"], lines[i:j]
assert lines[j + 1] == "      │ two-rollback-output", lines[j:]
PY
run_migrate status --format json
python3 - "$T/out" <<'PY' && pass "status JSON: tail and rollback_tail apart" || fail "status JSON tails" "$(cat "$T/out")"
import json, sys
us = {u["key"]: u for u in json.load(open(sys.argv[1]))["units"]}
assert us["two"]["tail"] == "two-step-output\n", us["two"]
assert us["two"]["rollback_tail"] == "two-rollback-output\n", us["two"]
assert us["one"]["tail"] == "one-step-output\n", us["one"]
PY
python3 - "$T/rb.json" <<'PY' && pass "JSON report: output_tail and rollback.output_tail apart" || fail "JSON report tails" "$(cat "$T/rb.json")"
import json, sys
us = {u["unit"]: u for p in json.load(open(sys.argv[1]))["phases"] for u in p["units"]}
assert us["two"]["output_tail"] == "two-step-output\n", us["two"]
assert us["two"]["rollback"]["output_tail"] == "two-rollback-output\n", us["two"]
PY
python3 - "$T/rb.xml" <<'PY' && pass "JUnit: the failure text is the unit's, the rollback's in its own testcase" || fail "JUnit tails" "$(cat "$T/rb.xml")"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
f = cases[("rbout.p", "two")].find("failure").text
assert "two-step-output" in f and "rollback-output" not in f, f
rf = cases[("rbout.rollback", "two")].find("failure").text
assert "two-rollback-output" in rf and "two-step-output" not in rf, rf
PY

# A completed unit rolled back: the rollback's output is not added to the unit's.
cat > rb2.yaml <<'YAML'
runbook: 1
name: rbdone
phases:
  - name: p
    steps:
      - name: one
        run: echo one-step-output
        rollback: {run: echo one-rollback-output}
      - name: two
        run: exit 3
YAML
run_migrate run rb2.yaml --report json="$T/rb2.json" --report junit="$T/rb2.xml"
expect_rc "failed and rolled back" 1
python3 - "$T/rb2.json" "$T/rb2.xml" <<'PY' && pass "reports: a rolled-back unit's output is its own" || fail "reports of a rolled-back unit" "$(cat "$T/rb2.json" "$T/rb2.xml")"
import json, sys, xml.etree.ElementTree as ET
us = {u["unit"]: u for p in json.load(open(sys.argv[1]))["phases"] for u in p["units"]}
assert us["one"]["output_tail"] == "one-step-output\n", us["one"]
assert us["one"]["rollback"]["output_tail"] == "one-rollback-output\n", us["one"]
cases = {(c.get("classname"), c.get("name")): c for c in ET.parse(sys.argv[2]).getroot().iter("testcase")}
assert cases[("rbdone.p", "one")].find("system-out").text == "one-step-output\n"
assert cases[("rbdone.rollback", "one")].find("system-out").text == "one-rollback-output\n"
PY

# ---- item 12: an interrupted unit is INTERRUPTED ----
cat > intr.yaml <<YAML
runbook: 1
name: intr
phases:
  - name: p
    steps:
      - name: first
        run: echo first
      - name: sleeper
        run: touch "$T/started"; sleep 60
YAML
rm -rf "$XDG_STATE_HOME"
"$MIGRATE" run intr.yaml --report json="$T/intr.json" --report junit="$T/intr.xml" </dev/null >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 1 200); do [ -e "$T/started" ] && break; sleep 0.1; done
kill -INT $pid
for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
wait $pid
rc=$?
expect_rc "interrupted" 5
expect_in "terminal: the unit is INTERRUPTED" "$T/out" "INTERRUPTED sleeper"
expect_not_in "terminal: nothing FAILED" "$T/out" "FAILED"
run_migrate status
expect_in "status: the unit is INTERRUPTED" "$T/out" "INTERRUPTED sleeper"
expect_not_in "status: nothing FAILED" "$T/out" "FAILED"
run_migrate status --format json
python3 - "$T/out" "$T/intr.json" "$T/intr.xml" <<'PY' && pass "status JSON and reports: state interrupted" || fail "interrupted state" "$(cat "$T/out")"
import json, sys, xml.etree.ElementTree as ET
us = {u["key"]: u for u in json.load(open(sys.argv[1]))["units"]}
assert us["sleeper"]["state"] == "interrupted", us["sleeper"]
ru = {u["unit"]: u for p in json.load(open(sys.argv[2]))["phases"] for u in p["units"]}
assert ru["sleeper"]["state"] == "interrupted", ru["sleeper"]
cases = {c.get("name"): c for c in ET.parse(sys.argv[3]).getroot().iter("testcase")}
assert cases["sleeper"].find("failure") is None
assert cases["sleeper"].find("error").get("type") == "interrupted"
PY

# ---- item 12: a watch sample that failed without tripping is a warning ----
cat > watch.yaml <<YAML
runbook: 1
name: watchwarn
probes:
  flaky:
    run: 'if [ -e "$T/flag" ]; then rm -f "$T/flag"; exit 1; fi; echo fine'
  slow:
    run: sleep 0.2; echo fine
phases:
  - name: p
    watch: {probes: [flaky], interval: 100ms, failures: 2}
    steps:
      - name: wait
        run: touch "$T/flag"; while [ -e "$T/flag" ]; do sleep 0.1; done; sleep 0.5
    verify: [slow]
YAML
run_migrate run watch.yaml --report json="$T/watch.json"
expect_rc "one failed sample does not trip the watch" 0
expect_in "the failed sample is a warning" "$T/out" "WARN    watch probe flaky"
expect_in "the warning says how far from tripping" "$T/out" "1 of 2 failed samples in a row trip the watch"
expect_not_in "nothing FAILED" "$T/out" "FAILED"
python3 - "$T/out" <<'PY' && pass "the verify probe's row shows its duration" || fail "verify row duration" "$(cat "$T/out")"
import re, sys
rows = [l for l in open(sys.argv[1]) if "verify probe slow" in l]
assert len(rows) == 1 and re.search(r"local +[0-9.]+m?s\s*$", rows[0]), rows
PY
J=$(ls -t "$XDG_STATE_HOME"/migrate/runs/*.jsonl | head -1)
python3 - "$T/watch.json" "$J" <<'PY' && pass "report and journal: the failed sample is a warning, with durations" || fail "watch warning in report/journal" "$(cat "$T/watch.json")"
import json, sys
ps = json.load(open(sys.argv[1]))["probes"]
bad = [p for p in ps if p["probe"] == "flaky" and p["verdict"] == "fail"]
assert len(bad) == 1 and bad[0].get("warning") is True, bad
assert all(p.get("warning") is None for p in ps if p["verdict"] == "pass"), ps
slow = [p for p in ps if p["probe"] == "slow"]
assert len(slow) == 1 and slow[0]["duration_ms"] >= 200, slow
recs = [json.loads(l) for l in open(sys.argv[2]) if '"probe"' in l]
assert [r.get("warning") for r in recs if r.get("type") == "probe" and r["probe"] == "flaky" and not r["ok"]] == [True], recs
PY

# ---- item 12: long names keep the columns ----
cat > long.yaml <<'YAML'
runbook: 1
name: longnames
vars:
  w: ["10", "an-item-value-long-enough-to-be-cut-here"]
phases:
  - name: p
    steps:
      - name: short
        run: "true"
      - name: a-step-name-long-enough-to-pass-any-sane-column-width
        for: ${w}
        run: "true"
      - name: medium-length-step-name-over-28
        run: "true"
YAML
run_migrate run long.yaml
expect_rc "long names run" 0
expect_in "the whole long name is shown" "$T/out" "a-step-name-long-enough-to-pass-any-sane-column-width[an-item-value-long-enou…]"
python3 - "$T/out" <<'PY' && pass "terminal: the target column stays put" || fail "terminal columns" "$(cat "$T/out")"
import sys
cols = {l.index(" local ") for l in open(sys.argv[1]) if " local " in l}
assert len(cols) == 1, cols
PY
run_migrate status
python3 - "$T/out" <<'PY' && pass "status: the host column stays put, the long names whole" || fail "status columns" "$(cat "$T/out")"
import sys
text = open(sys.argv[1]).read()
assert "a-step-name-long-enough-to-pass-any-sane-column-width[10]" in text, text
cols = {l.index(" local ") for l in text.split("\n") if " local " in l}
assert len(cols) == 1, cols
PY

# ---- item 13: plan shows where verify, watch and a gate's show probes run ----
cat > places.yaml <<'YAML'
runbook: 1
name: places
hosts:
  db: {address: 127.0.0.1, port: 1, user: nobody}
probes:
  here:
    run: echo ok
  ondb:
    on: db
    run: echo ok
  web:
    http: {url: "http://127.0.0.1:1/health"}
phases:
  - name: p
    gate: {message: "go?", show: [here, ondb]}
    watch: {probes: [web, ondb], interval: 30s}
    steps:
      - name: s
        run: "true"
      - name: g
        gate: {message: "again?", show: [ondb]}
    verify: [here, ondb, web]
YAML
run_migrate plan places.yaml
expect_rc "plan" 0
expect_in "plan: the gate's show probes and where they run" "$T/out" "shows before asking: here (on local), ondb (on db)"
expect_in "plan: the watch probes and where they run" "$T/out" "watch: web (on local), ondb (on db) every 30s"
expect_in "plan: the gate step's show probe and where it runs" "$T/out" "shows before asking: ondb (on db)"
expect_in "plan: the verify probes and where they run" "$T/out" "verify: here (on local), ondb (on db), web (on local)"
run_migrate plan places.yaml --format json
python3 - "$T/out" <<'PY' && pass "plan JSON: verify_on, watch probes_on, gate show_on" || fail "plan JSON placement" "$(cat "$T/out")"
import json, sys
p = json.load(open(sys.argv[1]))["phases"][0]
pairs = lambda a: [(x["name"], x["on"]) for x in a]
assert pairs(p["verify_on"]) == [("here", "local"), ("ondb", "db"), ("web", "local")], p["verify_on"]
assert pairs(p["watch"]["probes_on"]) == [("web", "local"), ("ondb", "db")], p["watch"]
assert pairs(p["gate_options"]["show_on"]) == [("here", "local"), ("ondb", "db")], p["gate_options"]
PY

# ---- item 14: the message for a list of mappings that are not plain ----
cat > formap.yaml <<'YAML'
runbook: 1
name: formap
vars:
  sites:
    - {site: alpha, ports: "1"}
    - {site: beta, ports: ["1", "2"]}
phases:
  - name: p
    steps:
      - name: open
        for: ${sites}
        run: echo ${item.site}
YAML
run_migrate validate formap.yaml
expect_rc "a mapping item with a list field is invalid" 2
expect_in "the message names the item and its field" "$T/err" "field 'ports' of item 2 of variable 'sites' is a list"
expect_not_in "the message does not say the variable holds a mapping" "$T/err" "holds a mapping"

finish
