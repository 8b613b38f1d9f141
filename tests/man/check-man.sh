#!/bin/sh
# Lint the man pages: groff must format each with no warning at all
# (-ww), and the rendered text must hold the sections the pages promise.
# Exit 77 (skipped) when groff is not installed.
# usage: check-man.sh [SOURCE_ROOT]
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v groff >/dev/null 2>&1 || { echo "skip: groff is not installed"; exit 77; }
failures=0

for page in "$root"/man/*.[1-8]; do
    name=${page##*/}
    warnings=$(groff -t -man -Tutf8 -ww -z "$page" 2>&1)
    if [ -n "$warnings" ]; then
        echo "FAIL $name: groff warnings:"
        printf '%s\n' "$warnings" | sed 's/^/     /'
        failures=$((failures + 1))
    else
        echo "ok   $name: no groff warnings"
    fi
done

# sections PAGE SECTION...
sections()
{
    page=$1
    shift
    text=$(groff -t -man -Tutf8 -P-cbou "$root/man/$page" 2>/dev/null)
    for s in "$@"; do
        if printf '%s\n' "$text" | grep -qx "$s"; then
            echo "ok   $page: $s"
        else
            echo "FAIL $page: no section $s"
            failures=$((failures + 1))
        fi
    done
}

sections migrate.1 NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS "EXIT STATUS" \
    ENVIRONMENT FILES SECURITY EXAMPLES "SEE ALSO"
sections migrate-runbook.5 NAME SYNOPSIS DESCRIPTION "TOP-LEVEL KEYS" HOSTS PHASES \
    STEPS EXPECT ROLLBACK DURATIONS INTERPOLATION "BUILT-IN DEFAULTS" "SEE ALSO"

# every exit code of SPEC section 1 is documented in migrate.1
text=$(groff -t -man -Tutf8 -P-cbou "$root/man/migrate.1" 2>/dev/null |
    sed -n '/^EXIT STATUS/,/^ENVIRONMENT/p')
for code in 0 1 2 3 4 5 6; do
    if printf '%s\n' "$text" | grep -qE "^ +$code\$|^ +$code  "; then
        echo "ok   migrate.1: exit status $code"
    else
        echo "FAIL migrate.1: exit status $code not documented"
        failures=$((failures + 1))
    fi
done

echo "$failures failed"
[ "$failures" -eq 0 ]
