#!/bin/bash
# Values reaching shell commands: every payload of injection-payloads.sh
# (quotes, $( ), backticks, ;, newlines, globs, leading dashes, ...) passed
# through ${...|quote} as a var, a capture and a for: item arrives byte for
# byte, and no canary file appears; the plain ${v} is injectable (the
# control that shows the canary works); validate warns (FILE:LINE:COL) for
# unquoted values in commands and --strict makes that exit 2; |json
# escapes for a JSON string.
. "$(dirname "$0")/lib.sh"

export MIGRATE_STATE_DIR="$T/state"
CANARY="$T/canary"
. "$SRCDIR/tests/cli/injection-payloads.sh"

no_canary() { # WHAT
	if [ -e "$CANARY" ]; then
		fail "$1: the canary file appeared"
		rm -f "$CANARY"
	else
		pass "$1: no canary"
	fi
}

# expect_bytes WHAT FILE PAYLOAD: FILE holds exactly PAYLOAD
expect_bytes() {
	if [ -f "$2" ] && cmp -s "$2" <(printf '%s' "$3"); then
		pass "$1: byte-exact"
	else
		fail "$1: not byte-exact" "want: $(printf '%s' "$3" | od -c | head -3)" "got:  $(od -c "$2" 2>&1 | head -3)"
	fi
}

cat > var.yaml <<'YAML'
runbook: 1
name: var
vars:
  p: x
  out: x
phases:
  - name: p
    steps:
      - name: write
        run: printf '%s' ${p|quote} > ${out|quote}
        rollback:
          run: printf '%s' ${p|quote} > ${out|quote}.rb
      - name: argv
        run: set -- ${p|quote}; printf '%s' "$#:$1" > ${out|quote}.argv
YAML

cat > capture.yaml <<'YAML'
runbook: 1
name: capture
vars:
  src: x
  out: x
phases:
  - name: p
    steps:
      - name: emit
        run: cat ${src|quote}; printf END
        capture: {v: '(?s)\A(.*)END\z'}
      - name: use
        run: printf '%s' ${steps.emit.v|quote} > ${out|quote}
YAML

i=0
for p in "${PAYLOADS[@]}"; do
	i=$((i + 1))
	run_migrate run var.yaml --var p="$p" --var out="$T/var.$i"
	expect_rc "var payload $i" 0
	expect_bytes "var payload $i" "$T/var.$i" "$p"
	expect_bytes "var payload $i is one argument" "$T/var.$i.argv" "1:$p"
	no_canary "var payload $i"

	printf '%s' "$p" > "$T/src.$i"
	run_migrate run capture.yaml --var src="$T/src.$i" --var out="$T/cap.$i"
	expect_rc "capture payload $i" 0
	expect_bytes "capture payload $i" "$T/cap.$i" "$p"
	no_canary "capture payload $i"
done

# for: items, all payloads in one list (a --vars file; JSON is YAML)
python3 - "$T/items.json" <<'PY' "${PAYLOADS[@]}"
import json, sys
json.dump({"items": sys.argv[2:], "out": sys.argv[1] + ".d"}, open(sys.argv[1], "w", encoding="utf-8"), ensure_ascii=False)
PY
mkdir -p "$T/items.json.d"
cat > items.yaml <<'YAML'
runbook: 1
name: items
vars:
  items: [a]
  out: x
phases:
  - name: p
    steps:
      - name: each
        for: ${items}
        run: printf '%s' ${item|quote} > ${out|quote}/$(ls ${out|quote} | wc -l)
YAML
run_migrate run items.yaml --vars "$T/items.json"
expect_rc "for: over every payload" 0
i=0
for p in "${PAYLOADS[@]}"; do
	expect_bytes "item payload $((i + 1))" "$T/items.json.d/$i" "$p"
	i=$((i + 1))
done
no_canary "for: items"

# the control: a plain ${p} is injectable, and the canary shows it
cat > plain.yaml <<'YAML'
runbook: 1
name: plain
vars:
  p: x
phases:
  - name: p
    steps:
      - name: s
        run: echo ${p}
YAML
run_migrate run plain.yaml --var p="; touch $CANARY"
if [ -e "$CANARY" ]; then
	pass "control: a plain \${p} runs the payload (the canary works)"
	rm -f "$CANARY"
else
	fail "control: the unquoted payload did not create the canary; this test would not see an injection"
fi

# validate: warnings with FILE:LINE:COL, exit 0; --strict: exit 2
run_migrate validate plain.yaml
expect_rc "validate warns but passes" 0
expect_in "the warning names the place" "$T/err" "plain.yaml:9:19: warning: variable \${p} is interpolated into the command 'run' of step 's' without |quote"
expect_in "the warning says what to write" "$T/err" 'write ${p|quote}'
expect_in "stdout says ok, with warnings" "$T/out" "plain.yaml: ok (runbook 'plain', 1 phase, 1 step, with warnings)"
run_migrate validate --strict plain.yaml
expect_rc "validate --strict refuses" 2
expect_in "--strict says why" "$T/err" "1 warning, which --strict makes errors"
run_migrate validate --strict --format json plain.yaml
expect_rc "validate --strict --format json" 2
if python3 - "$T/out" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))[0]
assert f["valid"] is False and f["errors"] == [], f
w = f["warnings"][0]
assert (w["line"], w["column"]) == (9, 19) and w["message"].startswith("warning: variable ${p}"), w
PY
then pass "json lists the warning with line and column"; else fail "json warnings" "$(cat "$T/out")"; fi
for f in var.yaml capture.yaml items.yaml; do
	run_migrate validate --strict "$f"
	expect_rc "validate --strict $f (all quoted)" 0
	expect_not_in "no warning for $f" "$T/err" "warning"
done

cat > kinds.yaml <<'YAML'
runbook: 1
name: kinds
vars:
  v: x
  list: [a]
secrets:
  tok: {env: TOK}
probes:
  pr:
    run: test ${v}
phases:
  - name: p
    steps:
      - name: cap
        run: echo 1
        capture: {c: '(\d)'}
      - name: s
        for: ${list}
        run: "echo ${steps.cap.c} ${item} ${host} ${host.address} ${secrets.tok} ${run.id} ${phase} ${env.HOME} ${v|urlencode} ${v|quote} ${secrets.tok|quote}"
        after: [pr]
        rollback: {run: "undo ${v}"}
      - name: notcommands
        run: "true"
        env: {X: "${v}"}
        workdir: "/tmp/${v}"
YAML
run_migrate validate kinds.yaml
expect_rc "validate kinds" 0
for what in "capture \${steps.cap.c}" "item \${item}" "host value \${host}" "host value \${host.address}" \
    "secret 'tok' is interpolated into the command 'run' of step 's' without |quote" 'use "$MIGRATE_SECRET_TOK"' \
    "variable \${v} is interpolated into the command 'run' of a probe" \
    "variable \${v} is interpolated into the command 'rollback.run' of step 's'"; do
	expect_in "warns for $what" "$T/err" "$what"
done
grep ': warning:' "$T/err" > "$T/warnings"
for safe in "\${run.id} is" "\${phase} is" "\${env.HOME} is" "\${v|urlencode} is" "\${v|quote} is" \
    "secret 'tok' is interpolated into the command 'env" "'env.X'" "'workdir'"; do
	expect_not_in "no warning for $safe" "$T/warnings" "$safe"
done
n=$(wc -l < "$T/warnings")
if [ "$n" -eq 7 ]; then pass "7 warnings in kinds.yaml"; else fail "expected 7 warnings in kinds.yaml, got $n" "$(cat "$T/err")"; fi

# mapping items and notify hooks
cat > more.yaml <<'YAML'
runbook: 1
name: more
vars:
  dbs: [{name: a, port: 1}]
notify:
  - run: echo ${event.text} ${event.kind|quote}
phases:
  - name: p
    steps:
      - name: s
        for: ${dbs}
        run: echo ${item.name} ${item.port|quote}
YAML
run_migrate validate more.yaml
expect_rc "validate more.yaml" 0
expect_in "warns for \${item.KEY}" "$T/err" "more.yaml:12:19: warning: item \${item.name} is interpolated into the command 'run' of step 's' without |quote"
expect_in "warns for \${event.X} in a notify hook" "$T/err" "warning: event field \${event.text} is interpolated into the command 'notify.run' of a notify hook"
n=$(grep -c ': warning:' "$T/err")
if [ "$n" -eq 2 ]; then pass "2 warnings in more.yaml"; else fail "expected 2 warnings in more.yaml, got $n" "$(cat "$T/err")"; fi

# the shipped examples pass --strict
run_migrate validate --strict "$SRCDIR"/runbooks/*.yaml
expect_rc "validate --strict runbooks/*.yaml" 0

# |json: the inside of a JSON string, whatever the value holds
cat > json.yaml <<'YAML'
runbook: 1
name: json
vars:
  p: x
  out: x
phases:
  - name: p
    steps:
      - name: write
        env: {DOC: '{"v": "${p|json}"}'}
        run: printf '%s' "$DOC" > ${out|quote}
YAML
i=0
for p in "${PAYLOADS[@]}"; do
	i=$((i + 1))
	run_migrate run json.yaml --var p="$p" --var out="$T/json.$i"
	if python3 -c 'import json, sys; d = json.load(open(sys.argv[1], encoding="utf-8")); assert d["v"] == sys.argv[2], d' "$T/json.$i" "$p" 2>"$T/json.err"; then
		pass "|json payload $i decodes to the value"
	else
		fail "|json payload $i" "$(cat "$T/json.$i" 2>&1 | head -c 300)" "$(cat "$T/json.err")"
	fi
done
no_canary "|json"

finish
