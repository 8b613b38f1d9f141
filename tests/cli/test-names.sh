#!/bin/bash
# Units named by value (issue 12 item 8, SPEC §1): the terminal/plain lines,
# `status` (text and JSON) and the JUnit report show STEP[VALUE], a mapping
# item by its first field, long values cut to 24 characters (23 + "…");
# the journal still keys units by index.
. "$(dirname "$0")/lib.sh"

cat > names.yaml <<'YAML'
runbook: 1
name: names
vars:
  weights: ["10", "50", "100", "a-very-long-item-value-that-goes-on"]
  sites:
    - {site: alpha, port: "1"}
    - {site: beta, port: "2"}
phases:
  - name: p
    steps:
      - name: shift
        for: ${weights}
        run: echo "weight ${item}"
      - name: open
        for: ${sites}
        run: echo "site ${item.site} ${item.port}"
YAML
run_migrate run names.yaml --report junit="$T/r.xml" --report json="$T/r.json"
expect_rc "the run succeeded" 0
for n in 'shift[10]' 'shift[50]' 'shift[100]' 'shift[a-very-long-item-value-…]' 'open[alpha]' 'open[beta]'; do
	expect_in "plain output names $n" "$T/out" "$n"
done
expect_not_in "plain output shows no index key" "$T/out" "shift[0]"
expect_not_in "the long value is cut" "$T/out" "goes-on"
grep -q 'name="shift\[100\]"' "$T/r.xml" && pass "JUnit testcase shift[100]" || fail "JUnit lacks shift[100]" "$(cat "$T/r.xml")"
grep -q 'name="open\[beta\]"' "$T/r.xml" && pass "JUnit testcase open[beta]" || fail "JUnit lacks open[beta]"
grep -q 'name="shift\[0\]"' "$T/r.xml" && fail "JUnit shows an index key" || pass "JUnit shows no index key"
python3 - "$T/r.json" <<'PY' && pass "JSON report: name by value beside the index key" || fail "JSON report names"
import json, sys
us = {u["unit"]: u for p in json.load(open(sys.argv[1]))["phases"] for u in p["units"]}
assert us["shift[2]"]["name"] == "shift[100]", us["shift[2]"]
assert us["open[1]"]["name"] == "open[beta]", us["open[1]"]
PY

J=$(ls "$XDG_STATE_HOME"/migrate/runs/*.jsonl | head -1)
python3 - "$J" <<'PY' && pass "the journal keeps index keys" || fail "journal keys changed" "$(cat "$J")"
import json, sys
ends = [json.loads(l)["unit"] for l in open(sys.argv[1]) if '"unit_end"' in l]
assert ends == ["shift[0]", "shift[1]", "shift[2]", "shift[3]", "open[0]", "open[1]"], ends
PY

run_migrate status
expect_rc "status" 0
for n in 'shift[10]' 'shift[100]' 'shift[a-very-long-item-value-…]' 'open[alpha]'; do
	expect_in "status names $n" "$T/out" "$n"
done
expect_not_in "status shows no index key" "$T/out" "shift[0]"
run_migrate status --format json
python3 - "$T/out" <<'PY' && pass "status JSON: name beside key" || fail "status JSON names" "$(cat "$T/out")"
import json, sys
us = {u["key"]: u for u in json.load(open(sys.argv[1]))["units"]}
assert us["shift[0]"]["name"] == "shift[10]", us["shift[0]"]
assert us["shift[3]"]["name"] == "shift[a-very-long-item-value-…]", us["shift[3]"]
assert us["open[0]"]["name"] == "open[alpha]", us["open[0]"]
PY

# Everywhere else an operator reads a unit: the failure message, the advice
# of `status`, the JSON report's unwind list and probe results, the list
# `migrate rollback` shows before it asks, and plan's unwind order.
rm -rf "$XDG_STATE_HOME"
cat > undo.yaml <<YAML
runbook: 1
name: undo
vars:
  weights: ["10", "50", "100"]
probes:
  seen:
    run: echo ok
phases:
  - name: p
    steps:
      - name: shift
        for: \${weights}
        run: echo "weight \${item}"
        after: [seen]
        rollback: {run: 'test ! -e "$T/block-\${item}"'}
      - name: boom
        for: \${weights}
        run: test "\${item}" != 50
YAML
touch "$T/block-50"
run_migrate run undo.yaml --report json="$T/u.json"
expect_rc "a rollback failed" 3
expect_in "the failure names the unit by value" "$T/out" "step 'boom[50]' failed"
expect_not_in "no index key in the run's output" "$T/out" "[1]"
python3 - "$T/u.json" <<'PY' && pass "JSON report: unwind_names and probe unit_name by value" || fail "JSON report unwind/probe names" "$(cat "$T/u.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["unwind"] == ["boom[0]", "shift[2]", "shift[1]"], d["unwind"]
assert d["unwind_names"] == ["boom[10]", "shift[100]", "shift[50]"], d["unwind_names"]
names = [p["unit_name"] for p in d["probes"] if p["probe"] == "seen"]
assert names == ["shift[10]", "shift[50]", "shift[100]"], names
assert [p["unit"] for p in d["probes"] if p["probe"] == "seen"] == ["shift[0]", "shift[1]", "shift[2]"]
PY
run_migrate status
expect_in "status advice names the stuck rollback by value" "$T/out" "the rollback of 'shift[50]' did not complete"
expect_not_in "status shows no index key" "$T/out" "[1]"
rm -f "$T/block-50"
RUN=$(ls "$XDG_STATE_HOME"/migrate/runs/ | sed 's/\.jsonl$//')
run_migrate rollback "$RUN" --yes
expect_rc "rollback --yes" 0
expect_in "rollback lists shift[50] before it starts" "$T/out" "  shift[50]"
expect_in "rollback lists shift[10] before it starts" "$T/out" "  shift[10]"
expect_not_in "rollback's list shows no index key" "$T/out" "shift[0]"
run_migrate plan undo.yaml
expect_in "plan's unwind order by value" "$T/out" "shift[100] <- shift[50] <- shift[10]"
expect_not_in "plan shows no index key" "$T/out" "shift[1]"

finish
