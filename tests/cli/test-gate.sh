#!/bin/bash
# Gates: without a terminal exit 4 unless approved by --yes or --approve.
. "$(dirname "$0")/lib.sh"

cat > gate.yaml <<'YAML'
runbook: 1
name: gate
vars:
  dir: /tmp
phases:
  - name: prepare
    steps:
      - name: before
        run: echo before >> "${dir}/log"
  - name: cutover
    gate: "On-call assembled?"
    steps:
      - name: during
        run: echo during >> "${dir}/log"
      - name: go-no-go
        gate: "Error rate below 0.1%?"
      - name: after
        run: echo after >> "${dir}/log"
YAML
run_migrate run gate.yaml --new --var dir="$T"
expect_rc "phase gate without a terminal" 4
expect_file "nothing after the gate ran" "$T/log" "before"
expect_in "the gate is named" "$T/out" "cutover"
rm -f "$T/log"

run_migrate run gate.yaml --new --var dir="$T" --approve cutover
expect_rc "step gate still needs approval" 4
expect_file "stopped at the step gate" "$T/log" "before
during"
rm -f "$T/log"

run_migrate run gate.yaml --new --var dir="$T" --approve cutover --approve go-no-go
expect_rc "both gates approved by name" 0
expect_file "everything ran" "$T/log" "before
during
after"
rm -f "$T/log"

run_migrate run gate.yaml --new --var dir="$T" --yes
expect_rc "--yes approves every gate" 0

finish
