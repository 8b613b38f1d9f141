#!/bin/sh
# run-smoke.sh FUZZER CORPUS SECONDS: fuzz for a bounded time, starting from
# the committed corpus (read only; new inputs go to a temporary directory).
# Exits non-zero, keeping the crashing input's path in the log, on any
# crash, leak, sanitizer report or input slower than 20 s.
set -u
fuzzer=$1
corpus=$2
seconds=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/new" "$work/crashes"
"$fuzzer" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=16384 \
	-dict="$(dirname "$0")/runbook.dict" -print_final_stats=1 \
	-artifact_prefix="$work/crashes/" "$work/new" "$corpus"
rc=$?
if [ "$rc" -ne 0 ]; then
	for f in "$work"/crashes/*; do
		[ -e "$f" ] || continue
		echo "finding: $(basename "$f") (base64 below; save it into fuzz/corpus/ once fixed)"
		base64 "$f"
	done
fi
exit "$rc"
