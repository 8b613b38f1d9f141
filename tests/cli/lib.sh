# lib.sh - helpers for the black-box tests of the built migrate binary.
# Each test script sources this, calls `check NAME COMMAND...` style
# assertions, and ends with `finish`, which prints "N passed, N failed" and
# exits non-zero if anything failed.
#
# MIGRATE is the binary under test (meson passes it); T is a fresh
# temporary directory removed at exit.

set -u
MIGRATE=${MIGRATE:?MIGRATE must point at the built binary}
SRCDIR=${SRCDIR:?SRCDIR must point at the source tree}
T=$(mktemp -d "${TMPDIR:-/tmp}/migrate-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
export NO_COLOR=1
unset MIGRATE_STATE_DIR
# the default state directory ($XDG_STATE_HOME/migrate) stays in $T
export XDG_STATE_HOME="$T/xdg-state"
cd "$T" || exit 1

passed=0
failed=0

pass() { passed=$((passed + 1)); echo "ok - $1"; }
fail() {
	failed=$((failed + 1))
	echo "not ok - $1"
	shift
	for line in "$@"; do echo "#   $line"; done
}

# run_migrate ARGS...: run the binary with stdin closed, a hang guard, and
# stdout/stderr in $T/out and $T/err; the exit code in $rc.
run_migrate() {
	timeout -k 5 120 "$MIGRATE" "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
}

# expect_rc NAME WANT: the last run_migrate exited WANT.
expect_rc() {
	if [ "$rc" -eq "$2" ]; then
		pass "$1: exit $2"
	else
		fail "$1: exit $rc, expected $2" "stdout: $(head -c 3000 "$T/out")" "stderr: $(head -c 3000 "$T/err")"
	fi
}

# expect_in NAME FILE TEXT: FILE contains TEXT (fixed string).
expect_in() {
	if grep -qF -- "$3" "$2"; then
		pass "$1"
	else
		fail "$1: '$3' not in $(basename "$2")" "$(head -c 3000 "$2")"
	fi
}

# expect_not_in NAME FILE TEXT: FILE does not contain TEXT.
expect_not_in() {
	if grep -qF -- "$3" "$2"; then
		fail "$1: '$3' found in $(basename "$2")" "$(grep -nF -- "$3" "$2" | head -5)"
	else
		pass "$1"
	fi
}

# expect_file NAME FILE CONTENT: FILE holds exactly CONTENT.
expect_file() {
	local got
	got=$(cat "$2" 2>/dev/null)
	if [ "$got" = "$3" ]; then
		pass "$1"
	else
		fail "$1: $(basename "$2") differs" "expected: $(printf '%s' "$3" | tr '\n' '|')" "got:      $(printf '%s' "$got" | tr '\n' '|')"
	fi
}

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
