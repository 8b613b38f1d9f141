#!/bin/bash
# rollback: {once: true} (SPEC §2, issue 12 item 7): the rollback of a for:
# step runs once per host for all its completed items, at the newest of
# them (${item} bound to it), not once per item; the older items are
# journaled as rolled back by it; `migrate rollback` and status agree. On
# a group of real sshds (sshd-lib.sh): once per host.
. "$(dirname "$0")/lib.sh"
. "$SRCDIR/tests/cli/sshd-lib.sh"
sshd_need

cat > once.yaml <<'EOF2'
runbook: 1
name: once
vars: {dir: /tmp, items: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}
phases:
  - name: p
    steps:
      - name: shift
        for: ${items}
        run: echo "shift ${item}" >> ${dir}/did.log
        rollback: {once: true, run: 'echo "undo at ${item}" >> ${dir}/undo.log'}
      - name: per-item
        for: [a, b]
        run: 'true'
        rollback: {run: 'echo "per-item ${item}" >> ${dir}/undo.log'}
      - name: last
        run: test ! -e ${dir}/fail-last
EOF2

count() { grep -c "$2" "$1" 2>/dev/null || echo 0; }

run_migrate validate once.yaml
expect_rc "once: true validates" 0

# ten items, a failure afterwards: the rollback ran exactly once, at item 10
D="$T/a"; mkdir -p "$D"; touch "$D/fail-last"
run_migrate run once.yaml --state-dir "$D/state" --var dir="$D"
expect_rc "a failure after the for: step unwinds it" 1
expect_file "the unwind ran the once rollback exactly once, at the newest item, after per-item's" "$D/undo.log" "per-item b
per-item a
undo at 10"
expect_in "the output says which rollback covered an older item" "$T/out" "rolled back by shift[10]'s rollback (once: true)"
J=$(ls "$D"/state/runs/*.jsonl)
if [ "$(grep -c '"type":"rollback_end","unit":"shift\[[0-8]\]".*"covered_by":"shift\[9\]"' "$J")" -eq 9 ]; then
	pass "the journal records the nine older units as covered by shift[9]"
else
	fail "the journal's covered units" "$(grep rollback_end "$J")"
fi
run_migrate status --state-dir "$D/state" --format json
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
units = d.get("units", [])
shift = [u for u in units if u.get("step") == "shift"]
assert len(shift) == 10, len(shift)
bad = [u for u in shift if u.get("rollback_state") != "done"]
sys.exit(1 if bad else 0)
' "$T/out" 2>"$T/py.err"; then
	pass "status shows every shift unit rolled back"
else
	fail "status shows every shift unit rolled back" "$(cat "$T/py.err")" "$(head -c 2000 "$T/out")"
fi
run_migrate status --state-dir "$D/state"
expect_in "status names the rollback that covered an older item" "$T/out" "rolled back (by the rollback of shift[10], once: true)"
run_migrate rollback --state-dir "$D/state" --yes
expect_file "migrate rollback afterwards runs nothing again" "$D/undo.log" "per-item b
per-item a
undo at 10"

# an unwind stopped after the once rollback (a rollback of an earlier step
# fails), then finished by `migrate rollback`: still exactly once
cat > once2.yaml <<'EOF2'
runbook: 1
name: once2
vars: {dir: /tmp}
phases:
  - name: p
    steps:
      - name: before
        run: 'true'
        rollback: {run: 'test ! -e ${dir}/fail-before && echo "before undone" >> ${dir}/undo.log'}
      - name: shift
        for: [10, 25, 50, 100]
        run: 'true'
        rollback: {once: true, run: 'echo "weights back from ${item}" >> ${dir}/undo.log'}
      - name: last
        run: 'false'
EOF2
D="$T/b"; mkdir -p "$D"; touch "$D/fail-before"
run_migrate run once2.yaml --state-dir "$D/state" --var dir="$D"
expect_rc "a failing rollback of an earlier step stops the unwind" 3
expect_file "the once rollback ran once before the unwind stopped" "$D/undo.log" "weights back from 100"
rm -f "$D/fail-before"
run_migrate rollback --state-dir "$D/state" --yes
expect_rc "migrate rollback finishes the unwind" 0
expect_file "the once rollback did not run again" "$D/undo.log" "weights back from 100
before undone"

# once: true without for: is an error at the key
cat > bad.yaml <<'EOF2'
runbook: 1
name: bad
phases:
  - name: p
    steps:
      - name: s
        run: 'true'
        rollback: {run: 'true', once: true}
EOF2
run_migrate validate bad.yaml
expect_rc "once: true on a step without for: is invalid" 2
expect_in "it names the place and the reason" "$T/err" "bad.yaml:8:33: 'once: true' is for the rollback of a step with 'for:'"

run_migrate plan once.yaml
expect_in "plan says the rollback runs once per host" "$T/out" "rollback once per host for all completed items"
run_migrate plan once.yaml --format json
expect_in "plan JSON has once" "$T/out" '"once":true'

# --- on a group of real sshds: once per host
if true; then
	sshd_start a
	sshd_start b
	sshd_known a
	sshd_known b
	WHO='$(echo $SSH_CONNECTION | cut -d" " -f3-4 | tr " " _)'
	cat > grp.yaml <<YAML
runbook: 1
name: once-grp
$(hosts_yaml a b)
  web: {hosts: [a, b]}
phases:
  - name: p
    steps:
      - name: shift
        on: web
        for: [1, 2, 3]
        run: 'true'
        rollback: {once: true, run: 'echo "undo \${item}" >> $REMOTE/undo-$WHO'}
      - name: last
        run: 'false'
YAML
	run_migrate run grp.yaml --state-dir "$T/gst"
	expect_rc "group: the failure unwinds" 1
	for p in "$(sshd_port a)" "$(sshd_port b)"; do
		expect_file "group: host on port $p rolled back once, at the newest item" \
		    "$REMOTE/undo-127.0.0.1_$p" "undo 3"
	done
fi

finish
