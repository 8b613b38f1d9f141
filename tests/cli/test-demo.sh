#!/bin/bash
# The demo runbooks the README points at.
. "$(dirname "$0")/lib.sh"

run_migrate run "$SRCDIR/runbooks/demo.yaml" --yes --var workdir="$T/demo"
expect_rc "demo runs" 0
expect_file "demo switched the pointer" "$T/demo/v2/VERSION" "v2"
expect_in "demo shows the retry" "$T/out" "after 3 attempts"

run_migrate run "$SRCDIR/runbooks/demo-rollback.yaml" --var workdir="$T/rb"
expect_rc "demo-rollback fails and unwinds" 1
expect_file "demo-rollback order" "$T/rb/order.log" "run make-workdir
run stop-writers
run note-cutover
run switch-traffic
run smoke-test
undo switch-traffic
undo stop-writers
undo make-workdir"
expect_in "failure output shown" "$T/out" "503 Service Unavailable"

for f in "$SRCDIR"/runbooks/*.yaml; do
	run_migrate validate "$f"
	expect_rc "validate $(basename "$f")" 0
	run_migrate plan "$f"
	expect_rc "plan $(basename "$f")" 0
done

finish
