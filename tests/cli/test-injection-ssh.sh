#!/bin/bash
# Values reaching remote commands (issue 11 item 9, over SSH): every payload
# of injection-payloads.sh (quotes, $( ), backticks, ;, newlines, globs,
# leading dashes, ...) passed through ${...|quote} as a var, a capture of a
# remote step and a for: item arrives byte for byte in a command run on a
# real sshd on 127.0.0.1 (sshd-lib.sh), and no canary file appears on
# either side; ${...|json} inside a JSON document in a remote step's env
# decodes to the value. The plain ${p} control shows the canary would be
# seen.
. "$(dirname "$0")/lib.sh"
. "$SRCDIR/tests/cli/sshd-lib.sh"
sshd_need

sshd_start r
sshd_known r
export MIGRATE_STATE_DIR="$T/state"
# The remote user writes into $REMOTE; a payload that escapes its quoting
# (remotely or locally) creates the canary there.
CANARY="$REMOTE/canary"
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

# expect_remote_owner WHAT FILE: FILE was written by the remote user (the step ran over SSH)
expect_remote_owner() {
	local o
	o=$(stat -c %U "$2" 2>/dev/null)
	if [ "$o" = "$SSH_USER" ]; then pass "$1: written on the SSH side"; else fail "$1: owner '$o', expected $SSH_USER"; fi
}

cat > var.yaml <<YAML
runbook: 1
name: ssh-var
$(hosts_yaml r)
vars:
  p: x
  out: x
phases:
  - name: p
    steps:
      - name: write
        on: r
        run: printf '%s' \${p|quote} > \${out|quote}
        rollback:
          run: printf '%s' \${p|quote} > \${out|quote}.rb
      - name: argv
        on: r
        run: set -- \${p|quote}; printf '%s' "\$#:\$1" > \${out|quote}.argv
      - name: whoami
        on: r
        run: id -un > \${out|quote}.who
YAML

cat > capture.yaml <<YAML
runbook: 1
name: ssh-capture
$(hosts_yaml r)
vars:
  src: x
  out: x
phases:
  - name: p
    steps:
      - name: emit
        on: r
        run: cat \${src|quote}; printf END
        capture: {v: '(?s)\\A(.*)END\\z'}
      - name: use
        on: r
        run: printf '%s' \${steps.emit.v|quote} > \${out|quote}
YAML

i=0
for p in "${PAYLOADS[@]}"; do
	i=$((i + 1))
	run_migrate run var.yaml --var p="$p" --var out="$REMOTE/var.$i"
	expect_rc "var payload $i over SSH" 0
	expect_bytes "var payload $i over SSH" "$REMOTE/var.$i" "$p"
	expect_bytes "var payload $i over SSH is one argument" "$REMOTE/var.$i.argv" "1:$p"
	no_canary "var payload $i over SSH"

	printf '%s' "$p" > "$REMOTE/src.$i"
	chmod 644 "$REMOTE/src.$i"
	run_migrate run capture.yaml --var src="$REMOTE/src.$i" --var out="$REMOTE/cap.$i"
	expect_rc "capture payload $i over SSH" 0
	expect_bytes "capture payload $i over SSH" "$REMOTE/cap.$i" "$p"
	no_canary "capture payload $i over SSH"
done
expect_remote_owner "var payloads" "$REMOTE/var.1"
expect_remote_owner "captures" "$REMOTE/cap.1"
expect_file "the steps ran as the SSH user" "$REMOTE/var.1.who" "$SSH_USER"

# the rollback command, with a payload, when a later step fails
cat > rb.yaml <<YAML
runbook: 1
name: ssh-rollback
$(hosts_yaml r)
vars:
  p: x
  out: x
phases:
  - name: p
    steps:
      - name: write
        on: r
        run: "true"
        rollback:
          run: printf '%s' \${p|quote} > \${out|quote}
      - name: boom
        on: r
        run: exit 3
YAML
i=0
for p in "${PAYLOADS[@]}"; do
	i=$((i + 1))
	run_migrate run rb.yaml --var p="$p" --var out="$REMOTE/rb.$i"
	expect_rc "rollback payload $i over SSH (the step fails, the unwind succeeds)" 1
	expect_bytes "rollback payload $i over SSH" "$REMOTE/rb.$i" "$p"
	no_canary "rollback payload $i over SSH"
done

# for: items, all payloads in one list (a --vars file; JSON is YAML)
mkdir -p "$REMOTE/items.d"
chmod 1777 "$REMOTE/items.d"
python3 - "$T/items.json" "$REMOTE/items.d" <<'PY' "${PAYLOADS[@]}"
import json, sys
json.dump({"items": sys.argv[3:], "out": sys.argv[2]}, open(sys.argv[1], "w", encoding="utf-8"), ensure_ascii=False)
PY
cat > items.yaml <<YAML
runbook: 1
name: ssh-items
$(hosts_yaml r)
vars:
  items: [a]
  out: x
phases:
  - name: p
    steps:
      - name: each
        on: r
        for: \${items}
        run: printf '%s' \${item|quote} > \${out|quote}/\$(ls \${out|quote} | wc -l)
YAML
run_migrate run items.yaml --vars "$T/items.json"
expect_rc "for: over every payload over SSH" 0
i=0
for p in "${PAYLOADS[@]}"; do
	expect_bytes "item payload $((i + 1)) over SSH" "$REMOTE/items.d/$i" "$p"
	i=$((i + 1))
done
no_canary "for: items over SSH"

# |json: the inside of a JSON string in a remote step's environment
cat > json.yaml <<YAML
runbook: 1
name: ssh-json
$(hosts_yaml r)
vars:
  p: x
  out: x
phases:
  - name: p
    steps:
      - name: write
        on: r
        env: {DOC: '{"v": "\${p|json}"}'}
        run: printf '%s' "\$DOC" > \${out|quote}
YAML
i=0
for p in "${PAYLOADS[@]}"; do
	i=$((i + 1))
	run_migrate run json.yaml --var p="$p" --var out="$REMOTE/json.$i"
	expect_rc "|json payload $i over SSH" 0
	if python3 -c 'import json, sys; d = json.load(open(sys.argv[1], encoding="utf-8")); assert d["v"] == sys.argv[2], d' "$REMOTE/json.$i" "$p" 2>"$T/json.err"; then
		pass "|json payload $i over SSH decodes to the value"
	else
		fail "|json payload $i over SSH" "$(head -c 300 "$REMOTE/json.$i" 2>&1)" "$(cat "$T/json.err")"
	fi
done
no_canary "|json over SSH"

# the control: a plain ${p} in a remote command is injectable, and the canary shows it
cat > plain.yaml <<YAML
runbook: 1
name: ssh-plain
$(hosts_yaml r)
vars:
  p: x
phases:
  - name: p
    steps:
      - name: s
        on: r
        run: echo \${p}
YAML
run_migrate run plain.yaml --var p="; touch $CANARY"
if [ -e "$CANARY" ]; then
	pass "control: a plain \${p} runs the payload on the host (the canary works)"
	expect_remote_owner "control canary" "$CANARY"
	rm -f "$CANARY"
else
	fail "control: the unquoted payload did not create the canary; this test would not see an injection" "$(cat "$T/out" "$T/err")"
fi

finish
