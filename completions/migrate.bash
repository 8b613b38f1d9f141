# bash completion for migrate(1)                               -*- shell-script -*-
#
# Completes commands (and unique prefixes of them), each command's options,
# option values (--color, --format, --report, --state-dir, --vars), runbook
# files for run/plan/validate/check, run ids for resume/rollback/approve/status, and
# phase, step and variable names read from the runbook already on the line
# (for --phase, --from, --to, --approve and --var).
#
# Self-contained: it does not need the bash-completion package, but works
# with it (installed as .../bash-completion/completions/migrate).

# The word lists below (commands, options, names) never hold blanks or glob
# characters, so plain COMPREPLY=($(compgen -W ...)) is safe for them.
# shellcheck disable=SC2207

_migrate_commands="run plan validate check resume rollback approve status history version help"

# Options of each command, and the options among them that take a value.
_migrate_options()
{
    case $1 in
    run)
        echo "--var --vars --phase --from --to --dry-run --yes --approve --no-rollback --new" \
            "--forks --state-dir --report --accept-new-host-keys -v --verbose -q --quiet" \
            "--color -h --help" ;;
    plan) echo "--var --vars --phase --from --to --format --color -h --help" ;;
    validate) echo "--var --vars --format --color --strict -v --verbose -q --quiet -h --help" ;;
    check) echo "--var --vars --phase --from --to --forks --accept-new-host-keys --state-dir --color -h --help" ;;
    resume)
        echo "--yes --approve --force --retry-in-doubt --skip-in-doubt --skip-pause --no-rollback" \
            "--forks --state-dir --report --accept-new-host-keys -v --verbose -q --quiet" \
            "--color -h --help" ;;
    rollback)
        echo "--yes --to --past-commit --force --retry-in-doubt --skip-in-doubt --state-dir --report" \
            "--accept-new-host-keys -v --verbose -q --quiet --color -h --help" ;;
    approve) echo "--as --state-dir -h --help" ;;
    status | history) echo "--state-dir --format --color -h --help" ;;
    version | help) echo "-h --help" ;;
    esac
}

_migrate_takes_value()
{
    case $1 in
    --var | --vars | --phase | --from | --to | --approve | --forks | --state-dir | \
        --report | --format | --color | --as) return 0 ;;
    esac
    return 1
}

# The command a (possibly abbreviated) word names, or nothing.
_migrate_resolve()
{
    local c found="" n=0
    for c in $_migrate_commands; do
        if [[ $c == "$1" ]]; then
            echo "$c"
            return
        fi
        if [[ $c == "$1"* ]]; then
            found=$c
            n=$((n + 1))
        fi
    done
    [[ $n -eq 1 ]] && echo "$found"
}

# Names from a runbook: _migrate_runbook_names phases|steps|gates|vars FILE.
# A light reading of the YAML (block style, as the examples are written):
# `- name: X` items of `phases:` at the list's own indentation are phases,
# deeper ones are steps; gates are the phases and steps that have a gate:;
# keys at the first level of `vars:` are variables.
_migrate_runbook_names()
{
    [[ -n ${2-} && -f $2 && -r $2 ]] || return 0
    awk -v want="$1" '
    function ind(s) { match(s, /^ */); return RLENGTH }
    function clean(v) {
        sub(/^[ \t]+/, "", v)
        sub(/[ \t]+#.*$/, "", v)
        sub(/[,}].*$/, "", v)
        gsub(/["\047]/, "", v)
        sub(/[ \t]+$/, "", v)
        return v
    }
    /^[^ \t#-][^:]*:/ { sec = $0; sub(/[ \t]*:.*/, "", sec); base = -1; next }
    sec == "phases" && /^[ \t]*-[ \t]*\{?[ \t]*name[ \t]*:/ {
        v = $0; sub(/^[ \t]*-[ \t]*\{?[ \t]*name[ \t]*:/, "", v); v = clean(v)
        if (v == "") next
        if (base < 0) base = ind($0)
        if (ind($0) == base) { if (want == "phases") print v }
        else if (want == "steps") print v
        last = v
        if (want == "gates" && $0 ~ /[{,][ \t]*gate[ \t]*:/) { print v; last = "" }
        next
    }
    sec == "phases" && want == "gates" && last != "" && /^[ \t]*gate[ \t]*:/ { print last; last = "" }
    sec == "vars" && want == "vars" && /^[ \t]+[A-Za-z0-9_-]+[ \t]*:/ {
        if (base < 0) base = ind($0)
        if (ind($0) == base) { v = $0; sub(/^[ \t]+/, "", v); sub(/[ \t]*:.*/, "", v); print v }
    }' "$2" 2>/dev/null
}

# The state directory the line uses: --state-dir, $MIGRATE_STATE_DIR,
# $XDG_STATE_HOME/migrate, ~/.local/state/migrate.
_migrate_state_dir()
{
    local i
    for ((i = 2; i < ${#COMP_WORDS[@]}; i++)); do
        if [[ ${COMP_WORDS[i]} == --state-dir && $i -lt $COMP_CWORD ]]; then
            if [[ ${COMP_WORDS[i + 1]-} == "=" ]]; then
                echo "${COMP_WORDS[i + 2]-}"
            else
                echo "${COMP_WORDS[i + 1]-}"
            fi
            return
        fi
    done
    if [[ -n ${MIGRATE_STATE_DIR-} ]]; then
        echo "$MIGRATE_STATE_DIR"
    elif [[ ${XDG_STATE_HOME-} == /* ]]; then
        echo "$XDG_STATE_HOME/migrate"
    else
        echo "$HOME/.local/state/migrate"
    fi
}

_migrate_run_ids()
{
    local dir f
    dir=$(_migrate_state_dir)
    dir=${dir/#\~/$HOME}
    for f in "$dir"/runs/*.jsonl; do
        [[ -e $f ]] || continue
        f=${f##*/}
        echo "${f%.jsonl}"
    done
}

# COMPREPLY += files matching the runbook suffixes, and directories.
_migrate_files()
{
    local f
    local -a all
    mapfile -t all < <(compgen -f -- "$1")
    for f in "${all[@]}"; do
        if [[ -d $f || ${2-} == any || $f == *.yaml || $f == *.yml ]]; then
            COMPREPLY+=("$f")
        fi
    done
    # bash then marks directories with / and quotes special characters
    type compopt &>/dev/null && compopt -o filenames 2>/dev/null
}

_migrate()
{
    local cur prev cmd word runbook="" i
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}

    # --opt=value: bash splits it into --opt, =, value (and --report
    # junit=FILE into --report, junit, =, FILE).
    local eq=""
    if [[ $cur == "=" ]]; then
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        cur=""
        eq=1
    elif [[ $prev == "=" && $COMP_CWORD -ge 2 ]]; then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
        eq=1
    fi
    if [[ -n $eq && ($prev == junit || $prev == json) ]]; then
        _migrate_files "$cur" any
        return 0
    fi

    if [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W "$_migrate_commands -h --help --version -V" -- "$cur"))
        return 0
    fi
    cmd=$(_migrate_resolve "${COMP_WORDS[1]}")
    [[ -n $cmd ]] || return 0

    # The runbook: the first word after the command that is not an option
    # or an option's value (the word being completed does not count).
    for ((i = 2; i < ${#COMP_WORDS[@]}; i++)); do
        [[ $i -eq $COMP_CWORD ]] && continue
        word=${COMP_WORDS[i]}
        if [[ $word == "=" ]]; then
            i=$((i + 1))
            continue
        fi
        if [[ $word == -* ]]; then
            if _migrate_takes_value "$word" && [[ ${COMP_WORDS[i + 1]-} != "=" ]]; then
                i=$((i + 1))
            elif [[ $word == --*=* ]]; then
                : # --opt=value in one word (COMP_WORDBREAKS without =)
            fi
            continue
        fi
        runbook=$word
        break
    done
    runbook=${runbook/#\~/$HOME}

    case $prev in
    --color)
        COMPREPLY=($(compgen -W "auto always never" -- "$cur"))
        return 0 ;;
    --format)
        COMPREPLY=($(compgen -W "text json" -- "$cur"))
        return 0 ;;
    --report)
        if [[ $cur == junit=* || $cur == json=* ]]; then
            local kind=${cur%%=*}
            _migrate_files "${cur#*=}" any
            COMPREPLY=("${COMPREPLY[@]/#/$kind=}")
        else
            COMPREPLY=($(compgen -W "junit= json=" -- "$cur"))
            type compopt &>/dev/null && compopt -o nospace 2>/dev/null
        fi
        return 0 ;;
    --state-dir)
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        type compopt &>/dev/null && compopt -o filenames 2>/dev/null
        return 0 ;;
    --vars)
        _migrate_files "$cur"
        return 0 ;;
    --phase)
        COMPREPLY=($(compgen -W "$(_migrate_runbook_names phases "$runbook")" -- "$cur"))
        return 0 ;;
    --from | --to)
        COMPREPLY=($(compgen -W "$(_migrate_runbook_names steps "$runbook")" -- "$cur"))
        return 0 ;;
    --approve)
        # the phases that have a gate, and the gate steps
        COMPREPLY=($(compgen -W "$(_migrate_runbook_names gates "$runbook")" -- "$cur"))
        return 0 ;;
    --var)
        if [[ $cur != *=* ]]; then
            COMPREPLY=($(compgen -W "$(_migrate_runbook_names vars "$runbook" | sed 's/$/=/')" -- "$cur"))
            type compopt &>/dev/null && compopt -o nospace 2>/dev/null
        fi
        return 0 ;;
    --forks)
        return 0 ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_migrate_options "$cmd")" -- "$cur"))
        return 0
    fi

    case $cmd in
    run | plan | check)
        [[ -z $runbook ]] && _migrate_files "$cur" ;;
    validate)
        _migrate_files "$cur" ;;
    resume | rollback | status | approve)
        [[ -z $runbook ]] && COMPREPLY=($(compgen -W "$(_migrate_run_ids)" -- "$cur")) ;;
    help)
        [[ $COMP_CWORD -eq 2 ]] && COMPREPLY=($(compgen -W "$_migrate_commands" -- "$cur")) ;;
    esac
    return 0
}

complete -F _migrate migrate
