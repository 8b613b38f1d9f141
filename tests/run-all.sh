#!/bin/bash
# Build and run the whole test suite twice: a plain build with warnings as
# errors and journal fault injection (-Dfault_injection=true, which adds
# tests/cli/test-fault.sh), and a build under AddressSanitizer + UndefinedBehaviorSanitizer
# (leaks and UB reports fail the tests); then the libFuzzer build (clang)
# replays fuzz/corpus/ and fuzzes for a bounded time (fuzz/meson.build). Prints "N passed, N failed" last
# and exits non-zero if any test failed.
set -u
cd "$(dirname "$0")/.."

status=0
total_pass=0
total_fail=0

run_suite() { # DIR MESON-OPTIONS...
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" -Dwerror=true "$@" >/dev/null || return 1
	else
		meson setup "$dir" -Dwerror=true "$@" >/dev/null || return 1
	fi
	meson compile -C "$dir" || return 1
	meson test -C "$dir" --print-errorlogs --num-processes 2
	local rc=$?
	local counts
	counts=$(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("result") in ("OK", "EXPECTEDFAIL", "SKIP"):
        p += 1
    else:
        f += 1
print(p, f)
PY
)
	total_pass=$((total_pass + ${counts% *}))
	total_fail=$((total_fail + ${counts#* }))
	return $rc
}

run_suite build-test -Dfault_injection=true || status=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false || status=1
# The fuzz build (clang, libFuzzer + ASan + UBSan): replay fuzz/corpus/ and
# fuzz for MIGRATE_FUZZ_SECONDS (default 60); only the 'fuzz' suite runs.
run_fuzz() { # DIR
	local dir=$1 opts=(-Dfuzz=true -Dtests=false -Dwerror=true -Dfuzz_seconds="${MIGRATE_FUZZ_SECONDS:-60}")
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "${opts[@]}" >/dev/null || return 1
	else
		CC=clang meson setup "$dir" "${opts[@]}" >/dev/null || return 1
	fi
	meson compile -C "$dir" || return 1
	meson test -C "$dir" --suite fuzz --print-errorlogs
	local rc=$? p f
	read -r p f < <(python3 -c '
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("result") in ("OK", "EXPECTEDFAIL", "SKIP"): p += 1
    else: f += 1
print(p, f)' "$dir/meson-logs/testlog.json")
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	return $rc
}
run_fuzz build-fuzz || { status=1; [ "$total_fail" -eq 0 ] && total_fail=1; }
[ "$status" -ne 0 ] && [ "$total_fail" -eq 0 ] && total_fail=1

echo "suite: $total_pass passed, $total_fail failed"
exit $status
