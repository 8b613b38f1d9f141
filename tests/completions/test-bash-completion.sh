#!/bin/bash
# Test completions/migrate.bash: source it, fill COMP_WORDS/COMP_CWORD the
# way bash does (with '=' as a separate word), call _migrate and compare
# COMPREPLY. usage: test-bash-completion.sh [SOURCE_ROOT]
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
fixture=$root/tests/completions/fixture.yaml
# shellcheck source=../../completions/migrate.bash
. "$root/completions/migrate.bash" || exit 1

failures=0
tests=0

# complete WORD... : the line is "migrate WORD...", the cursor on the last
# word, or on the word given by $AT (1 is the first word after "migrate").
complete_line()
{
    COMP_WORDS=(migrate "$@")
    COMP_CWORD=${AT:-$((${#COMP_WORDS[@]} - 1))}
    COMP_LINE="${COMP_WORDS[*]}"
    COMP_POINT=${#COMP_LINE}
    [[ -n ${AT-} ]] && COMP_POINT=$(($(printf '%s ' "${COMP_WORDS[@]:0:AT+1}" | wc -c) - 1))
    COMPREPLY=()
    _migrate migrate "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort
}

# expect "WANT (space-separated, any order)" WORD...
expect()
{
    local want=$1 got
    shift
    tests=$((tests + 1))
    got=$(complete_line "$@" 2>&1 | tr '\n' ' ' | sed 's/ *$//')
    want=$(printf '%s\n' $want | LC_ALL=C sort | tr '\n' ' ' | sed 's/ *$//')
    if [[ $got == "$want" ]]; then
        echo "ok   migrate $*"
    else
        echo "FAIL migrate $*"
        echo "     want: $want"
        echo "     got:  $got"
        failures=$((failures + 1))
    fi
}

# contains "WORDS that must all be offered" WORD...
contains()
{
    local want=$1 got w missing=""
    shift
    tests=$((tests + 1))
    got=" $(complete_line "$@" | tr '\n' ' ') "
    for w in $want; do
        [[ $got == *" $w "* ]] || missing+=" $w"
    done
    if [[ -z $missing ]]; then
        echo "ok   migrate $* (contains $want)"
    else
        echo "FAIL migrate $*: missing$missing; got:$got"
        failures=$((failures + 1))
    fi
}

# lacks "WORDS that must not be offered" WORD...
lacks()
{
    local bad=$1 got w found=""
    shift
    tests=$((tests + 1))
    got=" $(complete_line "$@" | tr '\n' ' ') "
    for w in $bad; do
        [[ $got == *" $w "* ]] && found+=" $w"
    done
    if [[ -z $found ]]; then
        echo "ok   migrate $* (lacks $bad)"
    else
        echo "FAIL migrate $*: offers$found"
        failures=$((failures + 1))
    fi
}

cmds="run plan validate check resume rollback approve status history version help"

# commands
expect "$cmds -h --help --version -V" ""
expect "run rollback resume" r
expect "plan" pl
expect "status" st
expect "$cmds" help ""

# options of each command
contains "--var --vars --phase --from --to --dry-run --yes --approve --no-rollback --forks --state-dir --report --accept-new-host-keys --verbose --quiet --color --help" run -
lacks "--format --force --retry-in-doubt" run -
expect "--var --vars --phase --from --to --format --color -h --help" plan -
contains "--force --retry-in-doubt --skip-in-doubt --skip-pause --no-rollback" resume --
lacks "--phase --dry-run" resume --
expect "--state-dir --format --color -h --help" status -
expect "--state-dir --format --color -h --help" history -
expect "--as" approve --a
contains "--to --past-commit" rollback --
contains "--force --retry-in-doubt --skip-in-doubt --report" rollback --
lacks "--approve --phase" rollback --
contains "--yes" rollback --
contains "--new" run --
expect "--forks" run "$fixture" --fo
expect "--format" plan "$fixture" --fo
# an abbreviated command gets its options
contains "--dry-run" ru --d

# option values
expect "auto always never" run --color ""
expect "always" plan --color al
expect "text json" plan --format ""
expect "json" status --format = j
expect "junit= json=" run --report ""
expect "junit=" run "$fixture" --report ju

# phase, step and variable names from the runbook on the line
expect "prepare switch-over cleanup" run "$fixture" --phase ""
expect "switch-over" plan "$fixture" --phase sw
expect "cleanup" run --yes "$fixture" --phase = c
expect "snapshot check-space flip approve-flip remove-old" run "$fixture" --from ""
expect "flip" plan "$fixture" --from fl
expect "remove-old" run --phase cleanup "$fixture" --to re
expect "approve-flip" run "$fixture" --approve approve
expect "prepare approve-flip" run "$fixture" --approve ""
expect "region= weights= api_url=" run "$fixture" --var ""
# the runbook may come after the option being completed
AT=3 expect "prepare switch-over cleanup" run --phase "" "$fixture"
AT=3 expect "check-space" run --from ch --yes "$fixture"
# no runbook yet, or one that does not exist: nothing, and no error
expect "" run --phase ""
expect "" run "$root/tests/completions/no-such-file.yaml" --phase ""
expect "" plan /dev/null --from ""

# runbook files
(
    failures=0
    cd "$root/tests/completions" || exit 1
    expect "fixture.yaml" run fix
    expect "fixture.yaml" validate fixture.yaml fix
    lacks "test-bash-completion.sh" run ""
    # a second positional argument is not offered for run
    expect "" run fixture.yaml fix
    exit "$failures"
)
failures=$((failures + $?))
tests=$((tests + 4))

# run ids from the state directory
state=$(mktemp -d) || exit 1
trap 'rm -rf "$state"' EXIT
mkdir -p "$state/runs"
: >"$state/runs/20250101T120000Z-demo-ab12.jsonl"
: >"$state/runs/20250102T090000Z-demo-ef01.jsonl"
expect "20250101T120000Z-demo-ab12 20250102T090000Z-demo-ef01" status --state-dir "$state" ""
MIGRATE_STATE_DIR=$state expect "20250102T090000Z-demo-ef01" resume 20250102
expect "" rollback --state-dir "$state/nowhere" ""

echo "$tests checks, $failures failed"
[[ $failures -eq 0 ]]
