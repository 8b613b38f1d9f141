# usage: zsh -f zsh-list.zsh COMPLETIONS_DIR WORKDIR "migrate ..."
#
# Runs an interactive zsh on a pseudo-terminal (zsh/zpty) with the _migrate
# completion from COMPLETIONS_DIR, types the line, asks for the list of
# choices (^D, list-choices) and prints the choices, one a line. Exit 2 if
# zsh does not answer, 77 if zsh/zpty is missing.
zmodload zsh/zpty || exit 77
dir=$1 work=$2 line=$3
zpty -b z zsh -f -i
zpty -w z "PS1='%% '; COLUMNS=500; LINES=500; LISTMAX=0; cd ${(q)work}; fpath=(${(q)dir} \$fpath); autoload -Uz compinit; compinit -u -D; zstyle ':completion:*' verbose no; unsetopt listtypes"
zpty -w z "print -r -- __REA''DY__"
out= start=$SECONDS
while (( SECONDS - start < 15 )); do
  if zpty -r -t z chunk; then
    out+=$chunk
    [[ $out == *__READY__* ]] && break
  else
    sleep 0.02
  fi
done
sleep 0.2
while zpty -r -t z chunk; do :; done
zpty -w -n z "$line"$'\C-d\C-e\C-u'"print -r -- __DO''NE__"$'\n'
out= start=$SECONDS
while (( SECONDS - start < 15 )); do
  if zpty -r -t z chunk; then
    out+=$chunk
    [[ $out == *__DONE__* ]] && break
  else
    sleep 0.02
  fi
done
zpty -d z
[[ $out == *__DONE__* ]] || { print -u2 "zsh did not answer"; exit 2 }
out=$(print -rn -- $out | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g')
# after the typed line: the listing, then zle redraws the line (which
# starts with "migrate"), or with no choices at once the marker command
out=${out#*$'\n'}
out=${out%%migrate*}
out=${out%%print -r*}
out=${out%%__DONE__*}
print -rl -- ${=out}
