#!/bin/bash
# Benchmark: what migrate adds on top of the least a journaled local runner
# must do, and how fast it validates a large runbook. Prints figures and
# ratios against floors run side by side on the same machine; asserts
# nothing.
#
#   bench/run-overhead.sh [build/migrate] [STEPS] [REPEAT]
#
# Local overhead: STEPS (default 1,000) no-op steps (`run: 'true'`), median
# of REPEAT (default 3) runs, beside bench/floor.c doing the same work with
# nothing else: fork/exec `sh -s` with the command on stdin, plus two
# fdatasync'ed journal records per step, in the same directory. Target:
# migrate <= 1.3x the floor.
set -eu
MIGRATE=$(realpath "${1:-build/migrate}")
N=${2:-1000}
R=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-cc}
T=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/migrate-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT

if ! command -v "$CC" >/dev/null; then
	echo "run-overhead: skipped: no C compiler ($CC) for bench/floor.c"
	exit 0
fi
"$CC" -O2 -o "$T/floor" "$HERE/floor.c"

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

# One line per repetition: floor seconds, migrate seconds, sh-loop seconds.
for r in $(seq "$R"); do
	rm -f "$T/floor.jsonl"
	fl=$("$T/floor" "$N" "$T/floor.jsonl")
	rm -rf "$T/state"
	t0=$(date +%s.%N)
	"$MIGRATE" run "$T/steps.yaml" -q --state-dir "$T/state" </dev/null >/dev/null
	t1=$(date +%s.%N)
	t2=$(date +%s.%N)
	for _ in $(seq "$N"); do echo true | sh -s; done
	t3=$(date +%s.%N)
	echo "$fl $t0 $t1 $t2 $t3"
done > "$T/times"

python3 - "$N" "$R" "$T/times" "$(df -P "$T" | awk 'NR==2 {print $1}')" <<'PY'
import statistics, sys
n, r, path, dev = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = []
for l in open(path):
    fl, t0, t1, t2, t3 = map(float, l.split())
    rows.append((fl, t1 - t0, t3 - t2))
floor, mig, sh = (statistics.median(c) for c in zip(*rows))
print(f"local overhead: {n:,} journaled no-op steps, median of {r} (journal on {dev})")
print(f"  floor (bench/floor.c: sh -s + 2 fdatasync'ed records) {floor*1000:9.1f} ms  ({floor/n*1000:.2f} ms/step)")
print(f"  migrate run                                          {mig*1000:9.1f} ms  ({mig/n*1000:.2f} ms/step)")
print(f"  peer: echo true | sh -s loop in bash, no journal      {sh*1000:9.1f} ms  ({sh/n*1000:.2f} ms/step)")
print(f"  ratio migrate/floor {mig/floor:.2f}x (target <= 1.30x: {'met' if mig/floor <= 1.3 else 'MISSED'});"
      f" per-run ratios {', '.join(f'{m/f:.2f}' for f, m, _ in rows)}")
PY
echo

# Validation of a large runbook against parsing the same YAML with PyYAML.
if ! python3 -c 'import yaml' 2>/dev/null; then
	echo "validate 2000 steps: skipped (python3-yaml, the peer, is not installed)"
	exit 0
fi
{
	echo "runbook: 1"
	echo "name: big"
	echo "vars: {api: 'https://api.example.com'}"
	echo "probes:"
	echo "  health: {run: 'curl -fsS \${api|quote}/health', expect: {stdout: 'ok'}}"
	echo "phases:"
	for p in $(seq 20); do
		echo "  - name: phase$p"
		echo "    steps:"
		for i in $(seq 100); do
			echo "      - name: p$p-s$i"
			echo "        run: echo \${api|quote} $i"
			echo "        expect: {stdout: '^https?://'}"
			echo "        after: [health]"
			echo "        rollback: {run: 'echo undo $i'}"
		done
	done
} > "$T/big.yaml"
for r in $(seq "$R"); do
	t0=$(date +%s.%N)
	python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$T/big.yaml"
	t1=$(date +%s.%N)
	"$MIGRATE" validate -q "$T/big.yaml"
	t2=$(date +%s.%N)
	echo "$t0 $t1 $t2"
done > "$T/vtimes"
python3 - "$R" "$T/vtimes" <<'PY'
import statistics, sys
r, path = int(sys.argv[1]), sys.argv[2]
rows = [list(map(float, l.split())) for l in open(path)]
base, mig = (statistics.median(c) for c in zip(*[(t1 - t0, t2 - t1) for t0, t1, t2 in rows]))
print(f"validate 2,000 steps, median of {r}:")
print(f"  peer: PyYAML safe_load  {base*1000:8.1f} ms (parse only)")
print(f"  migrate validate        {mig*1000:8.1f} ms (parse, check, compile patterns)")
print(f"  ratio                   {mig/base:8.2f}x")
PY
