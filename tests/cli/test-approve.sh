#!/bin/bash
# Gates with several approvers (SPEC §7): migrate approve records approvals
# in the journal; resume passes the gate once enough distinct names approved.
. "$(dirname "$0")/lib.sh"
export MIGRATE_STATE_DIR="$T/state"

cat > two.yaml <<'YAML'
runbook: 1
name: two
phases:
  - name: prepare
    steps:
      - name: before
        run: echo before >> "$OUT"
  - name: switch
    gate: {message: "Switch the database?", approvals: 2}
    steps:
      - name: during
        run: echo during >> "$OUT"
YAML
export OUT="$T/out.log"

run_migrate run two.yaml
expect_rc "a two-person gate without a terminal stops" 4
expect_file "nothing after the gate ran" "$OUT" "before"
id=$(sed -n 's/.*run \([0-9TZ]*-two-[0-9a-f]*\).*/\1/p' "$T/out" | head -1)
[ -n "$id" ] && pass "the run id is shown" || fail "no run id in the output" "$(cat "$T/out")"

run_migrate approve "$id" switch --as alice
expect_rc "first approval" 0
expect_in "first approval counted" "$T/out" "by alice recorded (1 of 2); 1 more needed"

run_migrate resume "$id"
expect_rc "resume with one approval of two stops again" 4
expect_file "still nothing after the gate" "$OUT" "before"

run_migrate approve "$id" --as alice
expect_rc "the same name again" 0
expect_in "the same name counts once" "$T/out" "alice already approved gate 'switch'"

run_migrate approve "$id" nope --as bob
expect_rc "a gate the run is not stopped at" 2
expect_in "names the gate it is stopped at" "$T/err" "is stopped at gate 'switch', not 'nope'"

run_migrate approve "$id" switch --as bob
expect_rc "second approval" 0
expect_in "second approval counted" "$T/out" "by bob recorded (2 of 2)"

journal="$MIGRATE_STATE_DIR/runs/$id.jsonl"
expect_in "the journal has alice's approval" "$journal" '"type":"approval","gate":"switch","name":"alice"'
expect_in "the journal has bob's approval" "$journal" '"type":"approval","gate":"switch","name":"bob"'
expect_in "with the OS user" "$journal" "\"user\":\"$(id -un)\""

run_migrate resume "$id"
expect_rc "resume passes the gate with two approvals" 0
expect_file "the rest ran" "$OUT" "before
during"
expect_in "the approvers are named" "$journal" '"state":"approved","by":"alice, bob"'

run_migrate approve "$id" --as carol
expect_rc "approve of a run that is not at a gate" 6
expect_in "says why" "$T/err" "is not stopped at a gate (succeeded)"

run_migrate approve not-a-run-id --as carol
expect_rc "approve of a bad run id" 2

# --yes counts as one approval by the invoking user
rm -f "$OUT"
run_migrate run two.yaml
expect_rc "stops again" 4
id=$(sed -n 's/.*run \([0-9TZ]*-two-[0-9a-f]*\).*/\1/p' "$T/out" | head -1)
run_migrate resume "$id" --yes
expect_rc "--yes alone is one approval of two" 4
expect_in "says what is missing" "$T/out" "needs 2 distinct approvals, has 1 ($(id -un))"
run_migrate approve "$id" --as dave
expect_in "dave is the second" "$T/out" "(2 of 2)"
run_migrate resume "$id"
expect_rc "--yes (journaled) and dave pass it" 0

finish
