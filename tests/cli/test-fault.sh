#!/bin/bash
# Journal fault injection (needs a build with -Dfault_injection=true): for
# every k, the k-th journal write or sync of a 20-step run fails (EIO or
# ENOSPC in turn). Then: the run exits non-zero saying the journal could not
# be written; no step ran whose start was not on record; the journal stays
# readable (status) and resumable (resume finishes the run, a step whose
# end was on record does not run again).
. "$(dirname "$0")/lib.sh"

N=20
{
	echo "runbook: 1"
	echo "name: fault"
	echo "vars: {dir: /tmp}"
	echo "phases:"
	echo "  - name: p"
	echo "    steps:"
	for i in $(seq $N); do
		echo "      - name: s$i"
		echo "        run: 'echo s$i >> \${dir}/ran.log'"
		echo "        idempotent: true"
	done
} > fault.yaml

py_check() { # NAME PYTHON-ARGS...: a python check that prints why when it fails
	local name=$1
	shift
	if out=$(python3 "$@" 2>&1); then pass "$name"; else fail "$name" "$out"; fi
}

# What the journal says: started units, units ended done (one per line).
cat > jq.py <<'PY'
import json, sys
kind = sys.argv[2]
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        r = json.loads(line)
    except ValueError:
        continue  # a torn last line
    if kind == "started" and r.get("type") == "unit_start":
        print(r["unit"])
    if kind == "done" and r.get("type") == "unit_end" and r.get("status") == "done":
        print(r["unit"])
PY

k=0
reached_end=false
while [ $k -lt 200 ]; do
	k=$((k + 1))
	err=EIO
	[ $((k % 2)) -eq 0 ] && err=ENOSPC
	st="$T/st-$k"
	rm -f "$T/ran.log"
	touch "$T/ran.log"
	MIGRATE_FAULT="$k:$err" timeout -k 5 120 "$MIGRATE" run fault.yaml --var dir="$T" --state-dir "$st" \
		</dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 0 ]; then
		# k is past the last journal write of a whole run: every k before it was tested
		reached_end=true
		break
	fi
	j=$(ls "$st"/runs/*.jsonl 2>/dev/null | head -1)
	if grep -qiE "cannot (write|sync|create).*journal|journal.*(cannot|not writable)|cannot sync directory" "$T/out" "$T/err"; then
		pass "k=$k ($err): exit $rc with a message about the journal"
	else
		fail "k=$k ($err): exit $rc without a clear message" "$(cat "$T/out" "$T/err" | head -20)"
	fi
	# every step that ran had its start on record
	if [ -n "$j" ]; then
		python3 jq.py "$j" started > "$T/started"
	else
		: > "$T/started"
	fi
	if extra=$(grep -vxFf "$T/started" "$T/ran.log"); then
		fail "k=$k: steps ran without their start on record" "$extra"
	else
		pass "k=$k: no step ran after the failed write"
	fi
	if [ -z "$j" ]; then
		# the first record could not be written: nothing ran, nothing is left behind
		[ -s "$T/ran.log" ] && fail "k=$k: steps ran without a journal" || pass "k=$k: no journal, nothing ran"
		run_migrate run fault.yaml --var dir="$T" --state-dir "$st"
		expect_rc "k=$k: the next run starts" 0
		continue
	fi
	run_migrate status --state-dir "$st"
	expect_rc "k=$k: status reads the journal" 0
	python3 jq.py "$j" done > "$T/done-before"
	cp "$T/ran.log" "$T/ran-before"
	run_migrate resume --state-dir "$st" --yes
	expect_rc "k=$k: resume finishes the run" 0
	py_check "k=$k: every step ran, none done before ran again" - "$T/ran.log" "$T/ran-before" "$T/done-before" "$N" <<'PY'
import sys
ran = open(sys.argv[1]).read().split()
before = open(sys.argv[2]).read().split()
done = open(sys.argv[3]).read().split()
n = int(sys.argv[4])
missing = [f"s{i}" for i in range(1, n + 1) if f"s{i}" not in ran]
assert not missing, f"never ran: {missing}"
again = [u for u in done if ran.count(u) != 1]
assert not again, f"done before the fault, ran again: {again}"
PY
done
$reached_end && pass "every k up to a whole run ($((k - 1)) journal writes and syncs) was tested" ||
	fail "the run never got past the faults (k=$k)"

finish
