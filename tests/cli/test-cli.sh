#!/bin/bash
# The command line itself: help, version, usage errors, commands not built yet.
. "$(dirname "$0")/lib.sh"

run_migrate --help
expect_rc "--help" 0
expect_in "--help lists run" "$T/out" "run"

run_migrate help run
expect_rc "help run" 0
expect_in "help run shows --no-rollback" "$T/out" "--no-rollback"

run_migrate run --help
expect_rc "run --help" 0
expect_in "run --help is the usage" "$T/out" "usage: migrate run RUNBOOK"

run_migrate version
expect_rc "version" 0
expect_in "version prints a version" "$T/out" "migrate 0."
run_migrate --version
expect_rc "--version" 0

run_migrate
expect_rc "no command" 2
run_migrate frobnicate
expect_rc "unknown command" 2
expect_in "unknown command is named" "$T/err" "unknown command 'frobnicate'"

run_migrate val "$SRCDIR/runbooks/demo.yaml"
expect_rc "unique prefix 'val' means validate" 0

run_migrate run
expect_rc "run without a runbook" 2
run_migrate run "$SRCDIR/runbooks/demo.yaml" --bogus
expect_rc "unknown option" 2
expect_in "unknown option is named" "$T/err" "unknown option '--bogus'"
run_migrate run "$SRCDIR/runbooks/demo.yaml" --color sometimes
expect_rc "bad --color value" 2
run_migrate run "$SRCDIR/runbooks/demo.yaml" --forks 0
expect_rc "bad --forks value" 2
run_migrate run "$SRCDIR/runbooks/demo.yaml" --var novalue
expect_rc "--var without =" 2
run_migrate run /nonexistent/runbook.yaml
expect_rc "missing runbook file" 2
expect_in "missing file is named" "$T/err" "/nonexistent/runbook.yaml"

run_migrate check "$SRCDIR/runbooks/demo.yaml"
expect_rc "check of a runbook without hosts or URLs" 0
expect_in "check says what it checked" "$T/out" "no HTTP endpoints"

finish
