#!/bin/bash
# test-baseline.sh - baseline comparisons (SPEC §7): a bound of
# expect.value relative to another probe sampled at the same moment
# (below: {probe: legacy-p95, times: 1.2}, plus: N), in after, verify and
# watch probes. Metrics come from the suite's real HTTP server
# (tests/httpd.py on 127.0.0.1, a free port) answering Prometheus queries
# for v2 and legacy, and from run probes printing numbers kept in files.
# Time bounds only detect hangs.
. "$SRCDIR/tests/cli/lib.sh"

. "$SRCDIR/tests/cli/httpd-lib.sh"

# metrics V2 LEGACY: what the server answers for each query
metrics() {
	set_config prom "{\"/v2/api/v1/query\": [{\"prom\": $1}], \"/legacy/api/v1/query\": [{\"prom\": $2}]}"
}

start_httpd prom '{}'
PROM=$PORT
metrics 0.23 0.2

cat >voice.yaml <<EOF
runbook: 1
name: voice-v2
vars:
  prom: http://127.0.0.1:$PROM
probes:
  legacy-p95:
    prometheus: {url: "\${prom}/legacy", query: 'histogram_quantile(0.95, legacy)'}
  v2-p95:
    prometheus: {url: "\${prom}/v2", query: 'histogram_quantile(0.95, v2)'}
    expect: {value: {below: {probe: legacy-p95, times: 1.2}}}
phases:
  - name: shift
    steps:
      - name: flag
        run: echo "flag on" >> "$T/flag.log"
        rollback: {run: echo "flag off" >> "$T/flag.log"}
      - name: bake
        run: 'true'
        after: [v2-p95]
    verify: [v2-p95]
EOF
run_migrate validate voice.yaml
expect_rc "a relative bound validates" 0
run_migrate plan voice.yaml
expect_rc "and plans" 0
run_migrate run voice.yaml
expect_rc "v2 within 20 % of legacy: the run succeeds" 0
expect_in "output shows both values and the bound" "$T/out" "v2-p95 0.23 < 0.24 (legacy-p95 0.2 × 1.2) ok"
J=$(journal_of)
if python3 - "$J" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
probes = [r for r in recs if r["type"] == "probe" and r["probe"] == "v2-p95"]
assert len(probes) == 2, probes
for r in probes:
    assert r["value"] == 0.23 and r["ok"], r
    b = r["baselines"][0]
    assert b["probe"] == "legacy-p95" and b["bound"] == "below" and b["value"] == 0.2, b
    assert abs(b["limit"] - 0.24) < 1e-9 and b["times"] == 1.2, b
PY
then pass "the journal holds both values and the computed bound"; else fail "journal baselines" "$(grep probe "$J")"; fi

metrics 0.3 0.2
: >"$T/flag.log"
run_migrate run voice.yaml
expect_rc "v2 30 % above legacy: the after probe fails and the run unwinds" 1
expect_in "the failure shows both values and the bound" "$T/out" "value 0.3 is not below 0.24 (legacy-p95 0.2 × 1.2 = 0.24)"
expect_in "the failed sample shows them too" "$T/out" "v2-p95 0.3 < 0.24 (legacy-p95 0.2 × 1.2) FAILED"
expect_file "the flag was set and rolled back" "$T/flag.log" "flag on
flag off"
run_migrate status "$(basename "$(journal_of)" .jsonl)" --format json
if python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["outcome"] == "rolled_back", j["outcome"]
' "$T/out"; then pass "status: rolled back"; else fail "status after a baseline failure" "$(head -c 1500 "$T/out")"; fi

# the baseline moves with the same moment: legacy slower too, v2 within 20 % of it
metrics 0.5 0.45
run_migrate run voice.yaml
expect_rc "the bound follows the baseline's value (0.5 < 0.54)" 0
expect_in "computed from the new baseline" "$T/out" "v2-p95 0.5 < 0.54 (legacy-p95 0.45 × 1.2) ok"

# no data from the baseline counts as no data: a failed sample
metrics 0.23 null
run_migrate run voice.yaml
expect_rc "no data from the baseline fails the sample" 1
expect_in "saying so" "$T/out" "no data from baseline probe 'legacy-p95'"
sed 's/times: 1.2}}}/times: 1.2}}, no_data: pass}/' voice.yaml >voice-nodata.yaml
run_migrate run voice-nodata.yaml
expect_rc "with no_data: pass, a baseline without data passes" 0

# ---- run probes with plus:, in a phase watch; the watch trips and the run unwinds ----
echo 0.010 >"$T/v2-err"
echo 0.008 >"$T/legacy-err"
cat >watch.yaml <<EOF
runbook: 1
name: errors
probes:
  legacy-err: {run: cat "$T/legacy-err"}
  v2-err:
    run: cat "$T/v2-err"
    expect: {value: {regex: '([0-9.]+)', at_most: {probe: legacy-err, times: 1.5, plus: 0.001}}}
phases:
  - name: ramp
    watch: {probes: [v2-err], interval: 100ms, failures: 2}
    steps:
      - name: shift
        run: 'true'
        rollback: {run: echo undone >> "$T/undo.log"}
      - name: bake
        run: sleep DURATION
EOF
sed 's/DURATION/3/' watch.yaml >watch-ok.yaml
run_migrate run watch-ok.yaml
expect_rc "a watch within its relative bound lets the phase finish" 0
if python3 - "$(journal_of)" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
w = [r for r in recs if r["type"] == "probe" and r["context"] == "watch"]
assert w, "no watch sample"
for r in w:
    assert r["ok"] and r["value_text"] == "0.010", r
    assert r["bounds"] == "<= 0.013 (legacy-err 0.008 \u00d7 1.5 + 0.001)", r["bounds"]
    b = r["baselines"][0]
    assert b["probe"] == "legacy-err" and b["value"] == 0.008 and b["plus"] == 0.001 and abs(b["limit"] - 0.013) < 1e-9, b
PY
then pass "watch samples journal both values and the bound (a run probe's whole output is its value)"; else fail "watch samples in the journal" "$(grep watch "$(journal_of)" | head -3)"; fi
echo 0.020 >"$T/v2-err"
: >"$T/undo.log"
sed 's/DURATION/60/' watch.yaml >watch-trip.yaml
run_migrate run watch-trip.yaml
expect_rc "the watch trips on the relative bound and the run unwinds" 1
expect_in "naming the probe, its value and the bound" "$T/out" "watch probe 'v2-err' failed 2 times in a row: value 0.020 is more than 0.013 (legacy-err 0.008 × 1.5 + 0.001 = 0.013)"
expect_file "the shift before the stopped bake was rolled back" "$T/undo.log" "undone"

# ---- a step's and a rollback's own expect: the baseline is sampled right after the action ----
echo 0.20 >"$T/legacy"
echo 0.23 >"$T/v2"
echo 0.23 >"$T/v2rb"
cat >step-own.yaml <<EOF
runbook: 1
name: own
probes:
  legacy: {run: cat "$T/legacy"}
phases:
  - name: p
    steps:
      - name: measure
        run: cat "$T/v2"
        expect: {value: {regex: '([0-9.]+)', below: {probe: legacy, times: 1.2}}}
        rollback:
          run: cat "$T/v2rb"
          expect: {value: {regex: '([0-9.]+)', at_most: {probe: legacy, plus: 0.05}}}
      - name: later
        run: test ! -e "$T/fail-later"
EOF
run_migrate run step-own.yaml
expect_rc "a step's value within its relative bound passes" 0
echo 0.30 >"$T/v2"
run_migrate run step-own.yaml
expect_rc "a step's value above its relative bound fails the unit" 1
expect_in "the failure says what the bound was made of" "$T/out" "(legacy 0.20 × 1.2 = 0.24)"
echo none >"$T/legacy"
echo 0.10 >"$T/v2"
run_migrate run step-own.yaml
expect_rc "a baseline without data fails the step" 1
expect_in "saying which baseline had no data" "$T/out" "no data from baseline probe 'legacy'"
echo 0.20 >"$T/legacy"
echo 0.30 >"$T/v2rb"
touch "$T/fail-later"
run_migrate run step-own.yaml
expect_rc "a rollback whose value is above its relative bound fails the unwind" 3
expect_in "the rollback failure names the bound" "$T/out" "(legacy 0.20 + 0.05 = 0.25)"
echo 0.22 >"$T/v2rb"
run_migrate rollback --yes
expect_rc "migrate rollback finishes the unwind once the value is within its relative bound" 0

finish
