#!/bin/bash
# Run every benchmark of bench/ against one built binary and print their
# figures, one after another, with the date and the machine first (what
# bench/README.md records). A benchmark that is missing or cannot run here
# is skipped with a line saying why; the others still run. Asserts nothing.
#
#   bench/run-all.sh [build/migrate]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
MIGRATE=$(realpath "${1:-build/migrate}")

if [ ! -x "$MIGRATE" ]; then
	echo "run-all: $MIGRATE is not an executable migrate (build it first: meson setup build && meson compile -C build)" >&2
	exit 2
fi
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:  $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo 2>/dev/null)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) (1, 5, 15 min; wall times on a loaded machine are inflated, CPU times less so)"
echo "binary:   $MIGRATE ($("$MIGRATE" version 2>/dev/null | head -1))"
echo

# name, command line; each runs from the source tree's root.
run_one() {
	local name=$1 file=$2
	shift 2
	echo "=== $name"
	if [ ! -f "$HERE/$file" ]; then
		echo "SKIPPED $name: bench/$file is not there"
		echo
		return
	fi
	"$@"
	local rc=$?
	[ "$rc" -ne 0 ] && echo "SKIPPED $name: bench/$file could not run here (exit $rc, see above)"
	echo
}

cd "$HERE/.." || exit 2
run_one "local overhead (run-overhead.sh)" run-overhead.sh bash "$HERE/run-overhead.sh" "$MIGRATE"
# the same at 5x the steps, once: the cost per step must not grow with the run
run_one "local overhead at 5,000 steps (run-overhead.sh)" run-overhead.sh bash "$HERE/run-overhead.sh" "$MIGRATE" 5000 1
if command -v python3 >/dev/null; then
	run_one "scale (scale.py)" scale.py python3 "$HERE/scale.py" --migrate "$MIGRATE"
else
	echo "=== scale (scale.py)"; echo "SKIPPED scale: python3 is not installed"; echo
fi
run_one "SSH fan-out (ssh-fanout.sh)" ssh-fanout.sh bash "$HERE/ssh-fanout.sh" "$MIGRATE"
run_one "HTTP probes (http-probes.sh)" http-probes.sh bash "$HERE/http-probes.sh" "$MIGRATE"
