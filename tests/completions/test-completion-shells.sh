#!/bin/sh
# Test the zsh and fish completions: syntax (zsh -n, fish -n), then a few
# completions asked of the real shells (zsh on a pseudo-terminal through
# zsh-list.zsh, fish through `complete -C`). A shell that is not installed
# is skipped; exit 77 (skipped) when neither is.
# usage: test-completion-shells.sh [SOURCE_ROOT]
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
here=$root/tests/completions
failures=0
ran=0

have() { command -v "$1" >/dev/null 2>&1; }

# check SHELL "want (sorted, space-separated)" "migrate ..."
check()
{
    sh_=$1 want=$2 line=$3
    case $sh_ in
    zsh) got=$(cd "$here" && zsh -f "$here/zsh-list.zsh" "$root/completions" "$here" "$line" 2>&1) ;;
    fish) got=$(cd "$here" && fish --no-config -c 'source $argv[1]; complete -C $argv[2]' \
        "$root/completions/migrate.fish" "$line" 2>&1 | cut -f1) ;;
    esac
    got=$(printf '%s\n' "$got" | LC_ALL=C sort | tr '\n' ' ' | sed 's/^ *//; s/ *$//')
    want=$(printf '%s\n' $want | LC_ALL=C sort | tr '\n' ' ' | sed 's/^ *//; s/ *$//')
    if [ "$got" = "$want" ]; then
        echo "ok   $sh_: $line"
    else
        echo "FAIL $sh_: $line"
        echo "     want: $want"
        echo "     got:  $got"
        failures=$((failures + 1))
    fi
}

cases()
{
    s=$1
    check "$s" "approve check help history plan resume rollback run status validate version" "migrate "
    check "$s" "--as" "migrate approve --a"
    check "$s" "--past-commit" "migrate rollback --pa"
    check "$s" "resume rollback run" "migrate r"
    check "$s" "prepare switch-over cleanup" "migrate run fixture.yaml --phase "
    check "$s" "" "migrate run --phase "
    check "$s" "flip" "migrate plan fixture.yaml --from fl"
    check "$s" "always auto never" "migrate run --color "
    check "$s" "approve-flip prepare" "migrate run fixture.yaml --approve "
    check "$s" "fixture.yaml" "migrate run fix"
    check "$s" "--dry-run" "migrate ru --d"
    check "$s" "--force --forks" "migrate resume --fo"
    check "$s" "--retry-in-doubt" "migrate rollback --ret"
    check "$s" "" "migrate run no-such-file.yaml --from "
}

if have zsh; then
    ran=1
    if zsh -n "$root/completions/_migrate"; then
        echo "ok   zsh -n completions/_migrate"
    else
        echo "FAIL zsh -n completions/_migrate"
        failures=$((failures + 1))
    fi
    if zsh -f -c 'zmodload zsh/zpty' 2>/dev/null; then
        cases zsh
        check zsh "api_url region weights" "migrate run fixture.yaml --var "
        check zsh "json text" "migrate status --format="
        check zsh "json junit" "migrate run --report "
    else
        echo "skip zsh completions: no zsh/zpty module"
    fi
else
    echo "skip zsh: not installed"
fi

if have fish; then
    ran=1
    if fish --no-execute "$root/completions/migrate.fish"; then
        echo "ok   fish -n completions/migrate.fish"
    else
        echo "FAIL fish -n completions/migrate.fish"
        failures=$((failures + 1))
    fi
    cases fish
    check fish "api_url= region= weights=" "migrate run fixture.yaml --var "
    check fish "--format=json --format=text" "migrate status --format="
    check fish "json= junit=" "migrate run --report "
else
    echo "skip fish: not installed"
fi

[ "$ran" -eq 1 ] || exit 77
echo "$failures failed"
[ "$failures" -eq 0 ]
