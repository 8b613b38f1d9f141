# fish completion for migrate(1): commands, each command's options and their
# values, runbook files, run ids from the state directory, and phase, step
# and variable names read from the runbook already on the line.

set -g __migrate_commands run plan validate check resume rollback approve status history version help
set -g __migrate_value_options --var --vars --phase --from --to --approve --forks --state-dir --report --format --color --as

# The command on the line (unique prefixes accepted), or nothing.
function __migrate_command
    set -l tokens (commandline -opc)
    set -l word $tokens[2]
    test -n "$word"; or return 1
    string match -q -- '-*' $word; and return 1
    if contains -- $word $__migrate_commands
        echo $word
        return 0
    end
    set -l found (string match -- "$word*" $__migrate_commands)
    if test (count $found) -eq 1
        echo $found
        return 0
    end
    return 1
end

function __migrate_needs_command
    set -l tokens (commandline -opc)
    test (count $tokens) -eq 1
end

# __migrate_using CMD...: the line's command is one of these.
function __migrate_using
    set -l cmd (__migrate_command); or return 1
    contains -- $cmd $argv
end

# The positional arguments typed so far (after the command), one a line.
function __migrate_positionals
    set -l tokens (commandline -opc)
    set -l skip 0
    for t in $tokens[3..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        if contains -- $t $__migrate_value_options
            set skip 1
        else if not string match -q -- '-*' $t
            echo $t
        end
    end
end

function __migrate_no_positional
    test (count (__migrate_positionals)) -eq 0
end

# The runbook: the first positional argument anywhere on the line (the
# word being completed does not count).
function __migrate_runbook
    set -l tokens (commandline -o)
    set -l current (math (count (commandline -opc)) + 1)
    set -l typing (commandline -ct)
    set -l skip 0
    for i in (seq 3 (count $tokens))
        set -l t $tokens[$i]
        if test $skip -eq 1
            set skip 0
            continue
        end
        if test $i -eq $current; and test -n "$typing"
            continue
        end
        if contains -- $t $__migrate_value_options
            set skip 1
        else if not string match -q -- '-*' $t
            string replace -r -- '^~' $HOME $t
            return 0
        end
    end
    return 1
end

# __migrate_runbook_names phases|steps|gates|vars: names from the runbook on
# the line. A light reading of the YAML: `- name: X` items of `phases:` at
# the list's own indentation are phases, deeper ones are steps; gates are the
# phases and steps that have a gate:; keys at the first level of `vars:` are
# variables.
function __migrate_runbook_names --argument-names want
    set -l file (__migrate_runbook); or return 0
    test -f "$file" -a -r "$file"; or return 0
    awk -v want=$want '
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
    }' $file 2>/dev/null
end


function __migrate_var_names
    set -l cur (string replace -r -- '^--var=' '' (commandline -ct))
    string match -q -- '*=*' $cur; and return 0
    for n in (__migrate_runbook_names vars)
        echo $n=
    end
end

# Runbook files (*.yaml, *.yml) and directories for the word being typed.
function __migrate_runbook_files
    set -l cur (string replace -r -- '^~' $HOME (commandline -ct))
    for f in $cur*
        if test -d $f
            echo $f/
        else if string match -q -r -- '\.ya?ml$' $f
            echo $f
        end
    end
end

function __migrate_state_dir
    set -l tokens (commandline -opc)
    set -l n (count $tokens)
    for i in (seq 2 $n)
        if test "$tokens[$i]" = --state-dir; and test $i -lt $n
            set -l j (math $i + 1)
            string replace -r -- '^~' $HOME $tokens[$j]
            return 0
        end
        if string match -q -- '--state-dir=*' $tokens[$i]
            string replace -r -- '^--state-dir=~?' '' $tokens[$i]
            return 0
        end
    end
    if test -n "$MIGRATE_STATE_DIR"
        echo $MIGRATE_STATE_DIR
    else if string match -q -- '/*' "$XDG_STATE_HOME"
        echo $XDG_STATE_HOME/migrate
    else
        echo $HOME/.local/state/migrate
    end
end

function __migrate_run_ids
    set -l dir (__migrate_state_dir)
    for f in $dir/runs/*.jsonl
        string replace -r -- '\.jsonl$' '' (basename $f)
    end
end

function __migrate_report
    set -l cur (string replace -r -- '^--report=' '' (commandline -ct))
    if string match -q -r -- '^(junit|json)=' $cur
        set -l parts (string split -m 1 = -- $cur)
        for f in (__fish_complete_path $parts[2])
            echo $parts[1]=$f
        end
    else
        printf '%s\n' junit= json=
    end
end

complete -c migrate -f

# commands
complete -c migrate -n __migrate_needs_command -a run -d 'Execute a runbook'
complete -c migrate -n __migrate_needs_command -a plan -d 'Show what run would do; touches nothing'
complete -c migrate -n __migrate_needs_command -a validate -d 'Check runbook files offline'
complete -c migrate -n __migrate_needs_command -a check -d 'Validate, then reach every host and URL read-only'
complete -c migrate -n __migrate_needs_command -a resume -d 'Continue an interrupted or gated run'
complete -c migrate -n __migrate_needs_command -a rollback -d 'Unwind the completed steps of a run'
complete -c migrate -n __migrate_needs_command -a approve -d 'Record an approval for a run stopped or waiting at a gate'
complete -c migrate -n __migrate_needs_command -a status -d 'State of one run'
complete -c migrate -n __migrate_needs_command -a history -d 'Runs in the state directory, newest first'
complete -c migrate -n __migrate_needs_command -a version -d 'Print the version'
complete -c migrate -n __migrate_needs_command -a help -d 'Show help for a command'
complete -c migrate -n __migrate_needs_command -s V -l version -d 'Print the version'
complete -c migrate -n __migrate_needs_command -s h -l help -d 'Show help'

# positional arguments
complete -c migrate -n '__migrate_using run plan check; and __migrate_no_positional' -k -a '(__migrate_runbook_files)'
complete -c migrate -n '__migrate_using validate' -k -a '(__migrate_runbook_files)'
complete -c migrate -n '__migrate_using resume rollback approve status; and __migrate_no_positional' -a '(__migrate_run_ids)' -d 'run id'
complete -c migrate -n '__migrate_using help; and __migrate_no_positional' -a "$__migrate_commands"

# options
complete -c migrate -n '__migrate_using run plan validate check' -l var -x -a '(__migrate_var_names)' -d 'Override a variable (NAME=VALUE)'
complete -c migrate -n '__migrate_using run plan validate check' -l vars -r -k -a '(__migrate_runbook_files)' -d 'Override variables from a YAML file'
complete -c migrate -n '__migrate_using run plan check' -l phase -x -a '(__migrate_runbook_names phases)' -d 'Run only this phase'
complete -c migrate -n '__migrate_using run plan check' -l from -x -a '(__migrate_runbook_names steps)' -d 'Start at this step'
complete -c migrate -n '__migrate_using run plan check' -l to -x -a '(__migrate_runbook_names steps)' -d 'Stop after this step'
complete -c migrate -n '__migrate_using run' -l dry-run -d 'Show the plan instead of running'
complete -c migrate -n '__migrate_using run resume' -l yes -d 'Approve every gate without asking'
complete -c migrate -n '__migrate_using rollback' -l yes -d 'Roll back without asking'
complete -c migrate -n '__migrate_using run' -l new -d 'Start although a run of this runbook is unfinished'
complete -c migrate -n '__migrate_using run resume' -l approve -x -a '(__migrate_runbook_names gates)' -d 'Approve one gate'
complete -c migrate -n '__migrate_using run resume' -l no-rollback -d 'On failure, leave completed steps in place'
complete -c migrate -n '__migrate_using run resume check' -l forks -x -d 'Hosts worked on at once (default 10)'
complete -c migrate -n '__migrate_using rollback' -l to -x -d 'Unwind only what came after this phase or step'
complete -c migrate -n '__migrate_using rollback' -l past-commit -d 'Unwind past a commit point too'
complete -c migrate -n '__migrate_using approve' -l as -x -d 'Approve as this name'
complete -c migrate -n '__migrate_using run check resume rollback approve status history' -l state-dir -x -a '(__fish_complete_directories)' -d 'Journals and locks'
complete -c migrate -n '__migrate_using run resume rollback' -l report -x -a '(__migrate_report)' -d 'Write a report: junit=FILE or json=FILE'
complete -c migrate -n '__migrate_using run check resume rollback' -l accept-new-host-keys -d 'Trust and record host keys never seen before'
complete -c migrate -n '__migrate_using validate' -l strict -d 'Treat warnings as errors (exit 2)'
complete -c migrate -n '__migrate_using plan validate status history' -l format -x -a 'text json' -d 'Output format'
complete -c migrate -n '__migrate_using run validate resume rollback' -s v -l verbose -d 'Stream step output live'
complete -c migrate -n '__migrate_using run validate resume rollback' -s q -l quiet -d 'Print only failures and the summary'
complete -c migrate -n '__migrate_using run plan validate check resume rollback status history' -l color -x -a 'auto always never' -d 'Use colour'
complete -c migrate -n '__migrate_using resume rollback' -l force -d 'Go on although the runbook file changed'
complete -c migrate -n '__migrate_using resume rollback' -l retry-in-doubt -d 'Run units left in doubt again'
complete -c migrate -n '__migrate_using resume rollback' -l skip-in-doubt -d 'Count units left in doubt as done'
complete -c migrate -n '__migrate_using resume' -l skip-pause -d 'Skip what is left of a pause the run was in'
complete -c migrate -n 'not __migrate_needs_command' -s h -l help -d 'Show help for the command'
