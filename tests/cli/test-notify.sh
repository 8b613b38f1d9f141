#!/bin/bash
# test-notify.sh - notify: hooks that make HTTP requests (SPEC §7) against
# the suite's real HTTP server (tests/httpd.py on 127.0.0.1, a free port):
# the events arrive in order with ${event.*} filled in (|json keeps the
# body JSON), secrets are masked in what the server received, a hook to a
# server that never answers is cut at its timeout, and a failing hook (any
# kind) is shown and journaled without changing the exit code. Time bounds
# only detect hangs.
. "$SRCDIR/tests/cli/lib.sh"

. "$SRCDIR/tests/cli/httpd-lib.sh"

# bodies NAME PATH: the bodies of the requests NAME's server got on PATH, one per line.
bodies() {
	python3 - "$T/$1.log" "$2" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"] == sys.argv[2]:
        print(r["body"])
PY
}


# notes JOURNAL: its notify records, "HOOK EVENT KIND MESSAGE" one per line.
notes() {
	python3 - "$1" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["type"] == "notify":
        print(r["hook"], r["event"], r["kind"], r["message"])
PY
}

# a port nothing listens on: bound, then closed
CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

start_httpd chat '{"/chat": [{"status": 200}], "/broken": [{"status": 500}], "/hang": [{"mode": "hang"}]}'
CHAT=$PORT

cat >hooks.yaml <<EOF
runbook: 1
name: hooks
secrets:
  token: {env: NOTIFY_TOKEN}
vars:
  chat: http://127.0.0.1:$CHAT
notify:
  - on: [start, phase, gate, failure, rollback, done]
    http:
      method: POST
      url: "\${chat}/chat"
      headers: {Content-Type: application/json}
      body: '{"kind": "\${event.kind|json}", "phase": "\${event.phase|json}", "step": "\${event.step|json}", "text": "\${event.text|json}", "run": "\${event.run_id|json}"}'
  - on: [done]
    http: {url: "\${chat}/broken"}
  - on: [failure]
    http: {url: "\${chat}/hang"}
    timeout: 1s
  - on: [done]
    http: {method: POST, url: "http://127.0.0.1:$CLOSED/x", body: "\${event.text}"}
  - on: [done]
    run: exit 7
phases:
  - name: prepare
    steps:
      - name: a
        run: echo a
        rollback: {run: echo undo-a}
  - name: shift
    steps:
      - name: b
        run: echo "token \$MIGRATE_SECRET_TOKEN"
        expect: {stdout: '\${secrets.token} never'}
EOF
export NOTIFY_TOKEN=s3cr3t-token-value
run_migrate run hooks.yaml
expect_rc "failing, hanging and unreachable hooks leave the exit code of the failed run" 1
RUN=$(basename "$(journal_of)" .jsonl)
bodies chat /chat >"$T/chat.bodies"
if python3 - "$T/chat.bodies" "$RUN" >"$T/kinds" 2>"$T/py.err" <<'PY'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for e in got:
    assert e["run"] == sys.argv[2], e
print(" ".join(e["kind"] + ":" + e["phase"] + ":" + e["step"] for e in got))
PY
then pass "every hook body is JSON (|json) with the run id"; else fail "hook bodies parse" "$(cat "$T/py.err")" "$(cat "$T/chat.bodies")"; fi
expect_file "the events, in order, with phase and step" "$T/kinds" "start:: phase:prepare: phase:shift: failure:shift:b rollback:shift: done:shift:"
expect_in "the failure's text says what failed" "$T/chat.bodies" "failed: step 'b' failed: stdout does not match"
expect_in "the done text says the outcome" "$T/chat.bodies" "ended: rolled back (exit 1)"
expect_not_in "no secret reached the HTTP server" "$T/chat.log" "s3cr3t-token-value"
expect_in "the secret is masked in the event text" "$T/chat.bodies" "'*** never'"
expect_in "the hook to a server that never answers is cut at its timeout" "$T/err" "notify hook 3 (failure) failed: no answer within its timeout (1s); the run goes on"
expect_in "a 500 answer is a failed hook" "$T/err" "notify hook 2 (done) failed: status 500, expected 2xx; the run goes on"
expect_in "an unreachable hook is a failed hook" "$T/err" "notify hook 4 (done) failed:"
expect_in "a run hook's exit code is a failed hook" "$T/err" "notify hook 5 (done) failed: exit 7; the run goes on"
J=$(journal_of)
notes "$J" >"$T/notes"
expect_in "journaled: the hanging hook" "$T/notes" "3 failure http no answer within its timeout (1s)"
expect_in "journaled: the 500" "$T/notes" "2 done http status 500, expected 2xx"
expect_in "journaled: the unreachable one" "$T/notes" "4 done http "
expect_in "journaled: the run hook" "$T/notes" "5 done run exit 7"
expect_not_in "no secret in the journal" "$J" "s3cr3t-token-value"
run_migrate status "$RUN"
expect_rc "status reads a journal with notify records" 0
expect_in "status shows a failed hook" "$T/out" "notify    hook 2 (done) failed: status 500, expected 2xx"
run_migrate status "$RUN" --format json
if python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
hooks = [(n["hook"], n["event"], n["kind"]) for n in j["notify_failures"]]
assert (3, "failure", "http") in hooks and (5, "done", "run") in hooks, hooks
assert j["outcome"] == "rolled_back", j["outcome"]
' "$T/out"; then pass "status --format json lists the failed hooks"; else fail "status json notify_failures" "$(head -c 2000 "$T/out")"; fi
run_migrate history
expect_rc "history reads it" 0

# ---- a run that succeeds stays a success whatever its hooks do; a gate stop stays resumable ----
start_httpd down '{"/chat": [{"status": 503}]}'
DOWN=$PORT
cat >gate.yaml <<EOF
runbook: 1
name: gated
secrets:
  token: {env: NOTIFY_TOKEN}
notify:
  - on: [gate, done]
    http: {method: POST, url: "http://127.0.0.1:$DOWN/chat", body: '\${event.kind}|\${event.step}|\${event.text}'}
    timeout: 5s
phases:
  - name: check
    steps: [{name: a, run: 'true'}]
  - name: go
    gate: "Ship with key \${secrets.token}?"
    steps: [{name: b, run: 'true'}]
EOF
run_migrate run gate.yaml
expect_rc "a gate stop with a failing hook: exit 4" 4
RUN=$(basename "$(journal_of)" .jsonl)
bodies down /chat >"$T/down.bodies"
expect_in "the gate event names the gate and its question" "$T/down.bodies" "gate|go|run $RUN waits at gate go: Ship with key ***?"
expect_not_in "no secret in the gate's event" "$T/down.log" "s3cr3t-token-value"
expect_in "the failed gate hook is shown" "$T/err" "notify hook 1 (gate) failed: status 503, expected 2xx"
run_migrate resume "$RUN" --approve go
expect_rc "resume accepts a journal with notify records, and the run succeeds" 0
expect_in "the done hook failed too" "$T/err" "notify hook 1 (done) failed: status 503, expected 2xx; the run goes on"
run_migrate status "$RUN" --format json
if python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["outcome"] == "succeeded", j["outcome"]
ev = [n["event"] for n in j["notify_failures"]]
assert ev[0] == "gate" and ev[-1] == "done", ev
' "$T/out"; then pass "succeeded, with the failed hooks journaled"; else fail "status json after resume" "$(head -c 2000 "$T/out")"; fi

finish
