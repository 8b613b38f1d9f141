#!/bin/bash
# Benchmark: what migrate adds on top of the shell for local steps, and how
# fast it validates a large runbook. Prints figures and ratios against a
# baseline run side by side on the same machine; asserts nothing.
#
#   bench/run-overhead.sh [build/migrate] [STEPS]
set -eu
MIGRATE=${1:-build/migrate}
N=${2:-200}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

secs() { python3 -c 'import time; print(time.monotonic())'; }

{
	echo "runbook: 1"
	echo "name: bench"
	echo "phases:"
	echo "  - name: p"
	echo "    steps:"
	for i in $(seq "$N"); do
		echo "      - {name: s$i, run: 'true', rollback: {run: 'true'}}"
	done
} > "$T/steps.yaml"

# Baseline: the same commands, each fed to `sh -s` on stdin, one after another.
t0=$(secs)
for _ in $(seq "$N"); do echo true | sh -s; done
t1=$(secs)
"$MIGRATE" run "$T/steps.yaml" -q --state-dir "$T/state" </dev/null >/dev/null
t2=$(secs)

python3 - "$N" "$t0" "$t1" "$t2" <<'PY'
import sys
n, t0, t1, t2 = int(sys.argv[1]), *map(float, sys.argv[2:])
base, mig = t1 - t0, t2 - t1
print(f"local steps: {n}")
print(f"  sh -s loop        {base*1000:8.1f} ms  ({base/n*1000:.2f} ms/step)")
print(f"  migrate run       {mig*1000:8.1f} ms  ({mig/n*1000:.2f} ms/step)")
print(f"  ratio migrate/sh  {mig/base:8.2f}x")
PY

# Validation of a large runbook against parsing the same YAML with PyYAML.
{
	echo "runbook: 1"
	echo "name: big"
	echo "vars: {api: 'https://api.example.com'}"
	echo "probes:"
	echo "  health: {run: 'curl -fsS \${api}/health', expect: {stdout: 'ok'}}"
	echo "phases:"
	for p in $(seq 20); do
		echo "  - name: phase$p"
		echo "    steps:"
		for i in $(seq 100); do
			echo "      - name: p$p-s$i"
			echo "        run: echo \${api} $i"
			echo "        expect: {stdout: '^https?://'}"
			echo "        after: [health]"
			echo "        rollback: {run: 'echo undo $i'}"
		done
	done
} > "$T/big.yaml"
t0=$(secs)
python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$T/big.yaml"
t1=$(secs)
"$MIGRATE" validate -q "$T/big.yaml"
t2=$(secs)
python3 - "$t0" "$t1" "$t2" <<'PY'
import sys
t0, t1, t2 = map(float, sys.argv[1:])
base, mig = t1 - t0, t2 - t1
print("validate 2000 steps:")
print(f"  PyYAML safe_load  {base*1000:8.1f} ms (parse only, baseline)")
print(f"  migrate validate  {mig*1000:8.1f} ms (parse, check, compile patterns)")
print(f"  ratio             {mig/base:8.2f}x")
PY
