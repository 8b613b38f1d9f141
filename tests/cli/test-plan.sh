#!/bin/bash
# plan and run --dry-run show everything and execute nothing.
. "$(dirname "$0")/lib.sh"

cat > creates.yaml <<'YAML'
runbook: 1
name: creates-files
vars:
  dir: /tmp
phases:
  - name: make
    gate: "ready?"
    steps:
      - name: touch-a
        run: touch "${dir}/a"
        rollback: {run: 'rm -f "${dir}/a"'}
      - name: touch-b
        for: [x, y]
        run: touch "${dir}/b-${item}"
        rollback: {run: 'rm -f "${dir}/b-${item}"'}
      - name: touch-c
        run: touch "${dir}/c"
YAML

run_migrate plan creates.yaml --var dir="$T/p"
expect_rc "plan" 0
[ -z "$(ls -A "$T" | grep -v -e '^out$' -e '^err$' -e '^creates.yaml$')" ] && pass "plan created no file" || fail "plan created files" "$(ls -A "$T")"
[ -e "$T/.migrate" ] && fail "plan created a state dir" || pass "plan created no state dir"
expect_in "plan shows resolved command" "$T/out" "touch \"$T/p/b-y\""
expect_in "plan shows the gate" "$T/out" 'gate: "ready?"'
expect_in "plan shows rollback order" "$T/out" "roll back touch-b[1] <- touch-b[0] <- touch-a"
expect_in "plan shows a step without rollback" "$T/out" "no rollback"

run_migrate run creates.yaml --dry-run --var dir="$T/p"
expect_rc "run --dry-run" 0
[ -e "$T/p" ] && fail "dry-run created files" || pass "dry-run created nothing"
expect_in "dry-run prints the plan" "$T/out" "plan for creates-files"

run_migrate plan creates.yaml --format json --var dir="$T/p"
expect_rc "plan --format json" 0
if python3 - "$T/out" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
units = [u["unit"] for ph in plan["phases"] for s in ph["steps"] for u in s["units"]]
assert units == ["touch-a", "touch-b[0]", "touch-b[1]", "touch-c"], units
last = plan["phases"][0]["steps"][2]["units"][0]
assert last["on_failure_unwind"] == ["touch-b[1]", "touch-b[0]", "touch-a"], last
assert plan["phases"][0]["gate"] == "ready?"
PY
then pass "json plan lists units and unwind order"; else fail "json plan content"; fi

run_migrate plan creates.yaml --from touch-b --to touch-b
expect_rc "plan with a selection" 0
expect_not_in "selection leaves out touch-a" "$T/out" "step touch-a"

finish
