#!/bin/bash
# Crash test (SPEC §4): kill `migrate run` with SIGKILL inside every step and
# between every two steps of a 20-step runbook, then resume. Every step that
# completed before the kill runs exactly once; an idempotent step caught in
# the middle runs again; a step with a check probe is settled by it; any
# other step caught in the middle stops resume with exit 6 until the
# operator chooses --retry-in-doubt or --skip-in-doubt.
. "$(dirname "$0")/lib.sh"

N=20
{
	echo "runbook: 1"
	echo "name: crash"
	echo "vars: {dir: /tmp}"
	echo "phases:"
	for p in 1 2; do
		echo "  - name: phase$p"
		echo "    steps:"
		for i in $(seq $(( (p - 1) * N / 2 + 1 )) $(( p * N / 2 ))); do
			echo "      - name: s$i"
			# record the run, then wait while the test holds this step
			echo "        run: 'echo s$i >> \${dir}/runs.log; while [ -e \${dir}/hold-s$i ]; do sleep 0.02; done'"
			echo "        pause: 100ms"
			if [ $((i % 5)) -eq 0 ]; then
				echo "        check: {run: 'grep -qx s$i \${dir}/runs.log'}"
			elif [ $((i % 2)) -eq 0 ]; then
				echo "        idempotent: true"
			fi
			echo "        rollback: {run: 'echo undo s$i >> \${dir}/undo.log'}"
		done
	done
} > crash.yaml

wait_for() { # CMD...: poll up to 20 s
	for _ in $(seq 1000); do "$@" && return 0; sleep 0.02; done
	return 1
}
journal_of() { ls "$1"/runs/*.jsonl 2>/dev/null | head -1; }
has_end() { grep -q "\"type\":\"unit_end\",\"unit\":\"s$2\"" "$(journal_of "$1")" 2>/dev/null; }
has_start() { grep -q "\"type\":\"unit_start\",\"unit\":\"s$2\"" "$(journal_of "$1")" 2>/dev/null; }
count() { grep -cx "s$2" "$1/runs.log" 2>/dev/null; }

# crash MODE K: kill inside step K, or between K and K+1; resume; check.
crash() {
	local mode=$1 k=$2 d="$T/$1-$2" rc2 choice=""
	mkdir -p "$d"
	[ "$mode" = inside ] && touch "$d/hold-s$k"
	"$MIGRATE" run crash.yaml --state-dir "$d/state" --var dir="$d" </dev/null >"$d/run.out" 2>&1 &
	local pid=$!
	if [ "$mode" = inside ]; then
		wait_for grep -qx "s$k" "$d/runs.log" 2>/dev/null
	else
		wait_for has_end "$d/state" "$k"
	fi
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	if [ "$mode" = between ] && has_start "$d/state" $((k + 1)); then
		rm -rf "$d"
		return 2   # the kill came too late (s$((k + 1)) had started): try again
	fi
	rm -f "$d/hold-s$k"
	timeout -k 5 120 "$MIGRATE" resume --state-dir "$d/state" </dev/null >"$d/resume.out" 2>&1
	rc2=$?
	if [ "$mode" = inside ] && [ $((k % 5)) -ne 0 ] && [ $((k % 2)) -ne 0 ]; then
		# not idempotent, no check: resume must stop and name the unit
		if [ "$rc2" -ne 6 ] || ! grep -q "s$k" "$d/resume.out"; then
			fail "inside s$k: resume should stop with exit 6 naming s$k (got $rc2)" "$(cat "$d/resume.out")"
			return
		fi
		[ $((k % 4)) -eq 1 ] && choice=--retry-in-doubt || choice=--skip-in-doubt
		timeout -k 5 120 "$MIGRATE" resume --state-dir "$d/state" $choice </dev/null >"$d/resume2.out" 2>&1
		rc2=$?
	fi
	if [ "$rc2" -ne 0 ]; then
		fail "$mode s$k: resume exit $rc2" "$(tail -20 "$d/resume.out" "$d/resume2.out" 2>/dev/null)"
		return
	fi
	# every step ran exactly once, except the one caught inside that was run again
	local bad=""
	for i in $(seq $N); do
		local want=1 got
		if [ "$mode" = inside ] && [ "$i" -eq "$k" ]; then
			if [ $((k % 5)) -eq 0 ] || [ "$choice" = --skip-in-doubt ]; then want=1; else want=2; fi
		fi
		got=$(count "$d" "$i")
		[ "$got" = "$want" ] || bad="$bad s$i:$got/$want"
	done
	if [ -n "$bad" ]; then
		fail "$mode s$k: runs per step (got/want):$bad" "$(cat "$d/runs.log" | tr '\n' ' ')"
	else
		pass "killed $mode s$k${choice:+ ($choice)}: every step ran as it should and the run finished"
	fi
	[ -e "$d/undo.log" ] && fail "$mode s$k: something was rolled back" "$(cat "$d/undo.log")"
	rm -rf "$d"
}

for k in $(seq $N); do
	crash inside "$k"
	[ "$k" -lt $N ] || continue
	for try in 1 2 3 4 5; do
		crash between "$k" && break
		[ $? -eq 2 ] || break
		[ "$try" -eq 5 ] && fail "between s$k and s$((k + 1)): five kills all came too late"
	done
done

finish
