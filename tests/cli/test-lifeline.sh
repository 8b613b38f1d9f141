#!/bin/bash
# The lifeline of local commands (SPEC §4, issue 12 item 5): when migrate
# dies by SIGKILL in the middle of a local step, the step's process group
# is stopped (a marker the step would write later never appears); the
# journal records the group (in the unit's unit_start, written once sh is
# spawned and before it gets its script; a unit_pgid for later attempts
# and in older journals); and resume, even with
# --retry-in-doubt, refuses (exit 6) to run an in-doubt unit again while
# its recorded group is still alive, naming the unit and the group.
. "$(dirname "$0")/lib.sh"
MKJOURNAL=${MKJOURNAL:?MKJOURNAL must point at the mkjournal helper}

cat > slow.yaml <<'EOF'
runbook: 1
name: slow
vars: {dir: /tmp}
phases:
  - name: p
    steps:
      - name: first
        run: echo first >> ${dir}/runs.log
      - name: slow
        run: echo started >> ${dir}/runs.log; sleep 4; echo late > ${dir}/marker
EOF

wait_for() { # CMD...: poll up to 20 s
	for _ in $(seq 200); do "$@" && return 0; sleep 0.1; done
	return 1
}
journal() { ls "$1"/runs/*.jsonl 2>/dev/null | head -1; }
# the pgid the journal recorded last for unit slow, in a unit_start or a unit_pgid (empty: none)
pgid_of() { grep -E '"type":"unit_(start|pgid)","unit":"slow".*"pgid":' "$(journal "$1")" 2>/dev/null | tail -1 | sed 's/.*"pgid":\([0-9]*\).*/\1/'; }
group_alive() { ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'; }
group_gone() { ! group_alive "$1"; }

# start_and_kill DIR: run slow.yaml, SIGKILL migrate once step slow runs
start_and_kill() {
	mkdir -p "$1"
	"$MIGRATE" run slow.yaml --state-dir "$1/state" --var dir="$1" </dev/null >"$1/run.out" 2>&1 &
	local pid=$!
	wait_for grep -qx started "$1/runs.log"
	wait_for test -n "$(pgid_of "$1/state")"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
}

# --- 1. SIGKILL during the step: its group dies, the marker never appears
D="$T/killed"
start_and_kill "$D"
PG=$(pgid_of "$D/state")
if [ -n "$PG" ] && grep -q '"type":"unit_start","unit":"slow".*"pgid":'"$PG"',"boot_id":"[0-9a-f-]*"' "$(journal "$D/state")"; then
	pass "journal: the unit's unit_start records the group of its local command ($PG) and the boot id"
else
	fail "journal: no unit_start with the group for unit slow" "$(cat "$(journal "$D/state")")"
fi
if grep -q '"type":"unit_pgid"' "$(journal "$D/state")"; then
	fail "journal: a unit_pgid besides the unit_start (one fdatasync'ed record per start)" "$(grep unit_pgid "$(journal "$D/state")")"
else
	pass "journal: no separate unit_pgid record for a first attempt"
fi
if [ -n "$PG" ] && wait_for group_gone "$PG"; then
	pass "the step's process group is stopped after migrate was killed"
else
	fail "the step's process group $PG is still alive" "$(ps -eo pid,pgid,stat,args | awk -v g="$PG" '$2 == g')"
fi
# the step would have written the marker 4 s after it started: wait past that
sleep 5
if [ -e "$D/marker" ]; then
	fail "the killed step kept running and wrote its marker"
else
	pass "the killed step never wrote its marker"
fi
run_migrate resume --state-dir "$D/state" --retry-in-doubt
expect_rc "resume --retry-in-doubt after the group died" 0
expect_file "the step ran again on resume, to its end" "$D/marker" "late"
expect_file "the first step ran once" "$D/runs.log" "first
started
started"
run_migrate status --state-dir "$D/state"
expect_rc "status reads a journal whose unit_start has a pgid" 0

# --- 2. the recorded group is still alive at resume: refused, exit 6
D="$T/alive"
start_and_kill "$D"
OLD=$(pgid_of "$D/state")
wait_for group_gone "$OLD"
# A group that outlives its lifeline (as if the watcher had been killed
# too): a live group of our own, recorded as the unit's.
setsid sleep 300 </dev/null >/dev/null 2>&1 &
HOLDER=$!
LIVE=$(ps -o pgid= -p "$HOLDER" | tr -d ' ')
RUN=$(basename "$(journal "$D/state")" .jsonl)
BOOT=$(cat /proc/sys/kernel/random/boot_id)
printf '{"type":"unit_pgid","unit":"slow","pgid":%s,"boot_id":"%s"}\n' "$LIVE" "$BOOT" |
	"$MKJOURNAL" --state-dir "$D/state" --run-id "$RUN" --append >/dev/null || fail "mkjournal --append"
run_migrate resume --state-dir "$D/state" --retry-in-doubt
expect_rc "resume --retry-in-doubt while the unit's group is alive" 6
expect_in "the refusal names the unit" "$T/err" "unit slow is in doubt and its command is still running"
expect_in "the refusal names the group" "$T/err" "process group $LIVE"
expect_in "the refusal says how to proceed" "$T/err" "kill -TERM -- -$LIVE"
if [ "$(grep -cx started "$D/runs.log")" -eq 1 ]; then
	pass "the refused resume ran nothing"
else
	fail "the refused resume ran the step again" "$(cat "$D/runs.log")"
fi
run_migrate resume --state-dir "$D/state"
expect_rc "plain resume while the unit's group is alive" 6
expect_in "plain resume names the running group, not only the undecided unit" "$T/err" "process group $LIVE"
kill -TERM -- "-$LIVE" 2>/dev/null
wait "$HOLDER" 2>/dev/null
run_migrate resume --state-dir "$D/state" --retry-in-doubt
expect_rc "resume --retry-in-doubt once the group is gone" 0
expect_file "the step ran again, once" "$D/marker" "late"

# --- 3. a group recorded under another boot (the machine restarted) is not checked
D="$T/reboot"
start_and_kill "$D"
wait_for group_gone "$(pgid_of "$D/state")"
setsid sleep 300 </dev/null >/dev/null 2>&1 &
HOLDER=$!
LIVE=$(ps -o pgid= -p "$HOLDER" | tr -d ' ')
RUN=$(basename "$(journal "$D/state")" .jsonl)
printf '{"type":"unit_pgid","unit":"slow","pgid":%s,"boot_id":"00000000-0000-0000-0000-000000000000"}\n' "$LIVE" |
	"$MKJOURNAL" --state-dir "$D/state" --run-id "$RUN" --append >/dev/null || fail "mkjournal --append"
run_migrate resume --state-dir "$D/state" --retry-in-doubt
expect_rc "a group id of an earlier boot does not block resume" 0
kill -TERM -- "-$LIVE" 2>/dev/null
wait "$HOLDER" 2>/dev/null

finish
