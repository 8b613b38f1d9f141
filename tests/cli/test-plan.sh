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
[ -e "$XDG_STATE_HOME" ] && fail "plan created a state dir" || pass "plan created no state dir"
expect_in "plan shows resolved command" "$T/out" "touch \"$T/p/b-y\""
expect_in "plan shows the gate" "$T/out" 'gate: "ready?"'
expect_in "plan shows rollback order" "$T/out" "roll back touch-b[y] <- touch-b[x] <- touch-a"
expect_in "plan shows a step without rollback" "$T/out" "no rollback"
# The whole unwind order once, at the end: newest first, then what stays.
if python3 - "$T/out" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
i = next(k for k, l in enumerate(lines) if l.startswith("unwind order, newest first (3 units"))
assert lines[i + 1:i + 4] == ["  touch-b[y]", "  touch-b[x]", "  touch-a"], lines[i:]
assert lines[i + 4].startswith("kept, in order"), lines[i:]
assert lines[i + 5:] == ["  touch-c", ""], lines[i:]
PY
then pass "plan ends with the whole unwind order"; else fail "unwind order at the end" "$(tail -8 "$T/out")"; fi

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
assert plan["unwind_order"] == ["touch-b[1]", "touch-b[0]", "touch-a"], plan["unwind_order"]
assert plan["kept"] == ["touch-c"], plan["kept"]
def unwind(u):
    w = u["on_failure_unwind"]
    return plan["unwind_order"][w["start"]:w["start"] + w["count"]]
steps = plan["phases"][0]["steps"]
assert unwind(steps[2]["units"][0]) == ["touch-b[1]", "touch-b[0]", "touch-a"]
assert unwind(steps[1]["units"][1]) == ["touch-b[0]", "touch-a"]
assert unwind(steps[0]["units"][0]) == []
assert all(u["on_failure_kept"]["count"] == 0 for s in steps for u in s["units"])
assert plan["phases"][0]["gate"] == "ready?"
PY
then pass "json plan lists units and unwind order"; else fail "json plan content" "$(head -c 3000 "$T/out")"; fi

run_migrate plan creates.yaml --from touch-b --to touch-b
expect_rc "plan with a selection" 0
expect_not_in "selection leaves out touch-a" "$T/out" "step touch-a"

# Long unwinds: each unit names a few units and the count, the whole list
# comes once; a `when: always` rollback puts the failing unit first.
python3 - <<'PY' > long.yaml
print("runbook: 1\nname: long\nphases:\n  - name: p\n    steps:")
for i in range(8):
    print(f"      - {{name: s{i}, run: 'true', rollback: {{run: 'true'}}}}")
print("      - {name: keep, run: 'true'}")
print("      - {name: last, run: 'true', rollback: {run: 'true', when: always}}")
PY
run_migrate plan long.yaml
expect_rc "plan of a long runbook" 0
expect_in "a long unwind is cut" "$T/out" "if it fails: roll back the 7 units before this one, newest first: s6 <- s5 <- s4 <- s3 <- … (the whole order is at the end)"
expect_in "a short unwind is whole" "$T/out" "if it fails: roll back s5 <- s4 <- s3 <- s2 <- s1 <- s0"
expect_in "when: always rolls back the unit itself first" "$T/out" "roll back this unit, then the 8 units before it, newest first: last <- s7 <- s6 <- s5 <- s4 <- …"
expect_in "the unit without rollback is kept" "$T/out" "; kept (no rollback): keep"

# 10,000 steps: the plan holds exactly one full unwind list (output grows
# linearly with the units, not with their square).
python3 - <<'PY' > big.yaml
print("runbook: 1\nname: big\nphases:\n  - name: p\n    steps:")
for i in range(10000):
    print(f"      - {{name: s{i}, run: 'true', rollback: {{run: 'true'}}}}")
PY
run_migrate plan big.yaml
expect_rc "plan of 10,000 steps" 0
if python3 - "$T/out" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
heads = [k for k, l in enumerate(lines) if l.startswith("unwind order")]
assert len(heads) == 1, heads
order = lines[heads[0] + 1:heads[0] + 10001]
assert order == [f"  s{i}" for i in range(9999, -1, -1)], order[:3]
# s0 is in every unit's unwind; it is named only where the list is short
# (the next 6 units), by its own step, and once in the whole list.
named = [l for l in lines if "s0" in l.split()]
assert len(named) <= 10, named
assert len(lines) < 10 * 10000, len(lines)
PY
then pass "a 10,000-step plan has one full unwind list"; else fail "10,000-step plan" "$(head -c 2000 "$T/out")"; fi
run_migrate plan big.yaml --format json
expect_rc "json plan of 10,000 steps" 0
if python3 - "$T/out" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
plan = json.loads(text)
assert len(plan["unwind_order"]) == 10000
assert text.count('"s0"') == 4, text.count('"s0"')   # step name, unit key, unit name, the one unwind order
last = plan["phases"][0]["steps"][-1]["units"][0]["on_failure_unwind"]
assert last == {"self": False, "start": 1, "count": 9999}, last
PY
then pass "a 10,000-step json plan has one full unwind list"; else fail "10,000-step json plan"; fi

# A group step: sudo (the step's or its host's), batch, max_fail, and where
# each after/check probe runs and how often (SPEC §2, §3). plan connects to
# nothing, so the group's addresses are never reached.
cat > group.yaml <<'YAML'
runbook: 1
name: grouped
hosts:
  web: {addresses: [127.0.0.1, 127.0.0.2, 127.0.0.3], user: nobody}
  db: {addresses: [127.0.0.4, 127.0.0.5], user: nobody, sudo: true}
probes:
  app-up: {run: 'test -e /run/app.pid'}
  health: {http: {url: 'http://127.0.0.1:9/health'}}
  from-here: {run: 'true', on: local}
phases:
  - name: deploy
    steps:
      - name: restart
        on: web
        sudo: true
        batch: 1
        max_fail: 1
        run: systemctl restart app
        after: [app-up, health, from-here]
        check: app-up
      - name: status
        on: db
        run: systemctl status db
      - name: note
        run: echo done
YAML
run_migrate plan group.yaml
expect_rc "plan of a group step" 0
expect_in "plan shows the step's sudo" "$T/out" "step restart  under sudo  on web"
expect_in "plan shows the host's sudo" "$T/out" "step status  under sudo  on db"
expect_in "plan shows no sudo for a local step" "$T/out" "step note  on local"
expect_in "plan shows the batch" "$T/out" "in batches of 1 of the hosts"
expect_in "plan shows max_fail" "$T/out" "max_fail: 1 (hosts that may fail"
expect_in "plan shows an after probe per host of the batch" "$T/out" \
    "after each batch, probes: app-up (on the unit's host, once per host of the batch)"
expect_in "plan shows an http after probe once per batch, from here" "$T/out" "health (on local, once per batch)"
expect_in "plan shows an after probe with on: once per batch" "$T/out" "from-here (on local, once per batch)"
expect_in "plan shows where the check probe runs" "$T/out" "probe app-up (on the unit's host)"
run_migrate plan group.yaml --format json
expect_rc "json plan of a group step" 0
if python3 - "$T/out" <<'PY'
import json, sys
steps = json.load(open(sys.argv[1]))["phases"][0]["steps"]
r, st, note = steps
assert r["sudo"] is True and r["batch"] == "1" and r["max_fail"] == "1", r
assert r["after_probes"] == [
    {"name": "app-up", "on": "the unit's host", "in_batch": "per host"},
    {"name": "health", "on": "local", "in_batch": "per batch"},
    {"name": "from-here", "on": "local", "in_batch": "per batch"}], r["after_probes"]
assert r["check"] == "app-up" and r["check_on"] == "the unit's host", r
assert [u["host"] for u in r["units"]] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"], r["units"]
assert all(u["sudo"] is True for u in r["units"]), r["units"]
assert "sudo" not in st and all(u["sudo"] is True for u in st["units"]), st
assert all(u["sudo"] is False for u in note["units"]), note
PY
then pass "json plan shows sudo, batch, max_fail and where each probe runs"; else fail "json plan of a group step" "$(head -c 3000 "$T/out")"; fi

# A plan of 10,000 steps under a limit on address space, as the build before
# the huge-page heap (src/heap.c) ran it: the heap's first growth is large,
# later ones are not. Sanitizer builds reserve terabytes of shadow memory,
# so no such limit can apply to them.
python3 - "$T/big.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("runbook: 1\nname: big\nphases:\n  - name: p\n    steps:\n")
    for i in range(10000):
        f.write(f"      - {{name: s{i}, run: 'echo {i}', rollback: {{run: 'echo undo {i}'}}}}\n")
PY
if ldd "$MIGRATE" 2>/dev/null | grep -q libasan || nm "$MIGRATE" 2>/dev/null | grep -q __asan_init; then
	pass "plan under ulimit -v: not run in a sanitizer build"
else
	(ulimit -v 40000; timeout -k 5 120 "$MIGRATE" plan "$T/big.yaml" </dev/null >"$T/out" 2>"$T/err")
	rc=$?
	expect_rc "plan of 10,000 steps under ulimit -v 40000" 0
	expect_in "... to its last step" "$T/out" "roll back the 9999 units before this one, newest first: s9998 <- s9997"
fi

finish
