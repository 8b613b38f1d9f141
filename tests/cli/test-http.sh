#!/bin/bash
# test-http.sh - HTTP steps, rollbacks and probes against real HTTP(S)
# servers: tests/httpd.py (the suite's scripted server) started on
# 127.0.0.1 with free ports, HTTPS with a throwaway certificate made by
# openssl here. Time bounds only detect hangs.
. "$SRCDIR/tests/cli/lib.sh"

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT

# start_httpd NAME CONFIG-JSON [tls]: a server whose port is in $PORT,
# its log in $T/NAME.log and its config in $T/NAME.json.
start_httpd() {
	local name=$1 config=$2 tls=${3:-}
	printf '%s\n' "$config" >"$T/$name.json"
	rm -f "$T/$name.port"
	if [ -n "$tls" ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/$name.key" -out "$T/$name.crt" \
			-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 ||
			{ fail "openssl makes a certificate"; return 1; }
		python3 "$SRCDIR/tests/httpd.py" --config "$T/$name.json" --log "$T/$name.log" \
			--port-file "$T/$name.port" --cert "$T/$name.crt" --key "$T/$name.key" &
	else
		python3 "$SRCDIR/tests/httpd.py" --config "$T/$name.json" --log "$T/$name.log" \
			--port-file "$T/$name.port" &
	fi
	PIDS+=($!)
	for _ in $(seq 100); do [ -s "$T/$name.port" ] && break; sleep 0.1; done
	PORT=$(cat "$T/$name.port")
}

# set_config NAME CONFIG-JSON: replace a running server's script (read on its next request).
set_config() {
	printf '%s\n' "$2" >"$T/$1.json.new" && mv "$T/$1.json.new" "$T/$1.json"
}

# reqs NAME: the requests NAME's server got, one per line: METHOD PATH KEY BODY
reqs() {
	python3 - "$T/$1.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r["method"], r["path"], r["headers"].get("Idempotency-Key", "-"), r["body"])
PY
}

count() { reqs "$1" | grep -c -- "$2"; }

expect_count() { # NAME SERVER PATTERN N
	local n
	n=$(count "$2" "$3")
	if [ "$n" -eq "$4" ]; then pass "$1"; else fail "$1: $n requests matching '$3', expected $4" "$(reqs "$2")"; fi
}

# ---- retry until healthy: 503, 503, 200 passes after exactly 3 requests ----
start_httpd a '{"/health": [{"status": 503}, {"status": 503}, {"status": 200, "body": "{\"status\": \"ok\"}"}]}'
A=$PORT
cat >retry.yaml <<EOF
runbook: 1
name: http-retry
probes:
  health:
    http: {url: "http://127.0.0.1:$A/health"}
    expect: {status: 200, body: '"status"\\s*:\\s*"ok"'}
phases:
  - name: p
    steps:
      - name: wait-healthy
        probe: health
        retry: {attempts: 5, interval: 100ms}
EOF
run_migrate run retry.yaml --state-dir "$T/st"
expect_rc "503,503,200 with retry" 0
expect_count "exactly 3 requests" a "GET /health" 3
expect_in "retries say the status" "$T/out" "status 503, expected 200"
peers=$(python3 -c 'import json,sys; print(len({json.loads(l)["peer"] for l in open(sys.argv[1])}))' "$T/a.log")
if [ "$peers" -eq 1 ]; then pass "one kept-alive connection for the 3 requests"; else fail "$peers connections for 3 requests"; fi

# ---- libcurl is opened on first use: one that cannot be loaded stops the run before anything runs ----
cat >nocurl.yaml <<EOF
runbook: 1
name: http-nocurl
phases:
  - name: p
    steps:
      - name: first
        run: "touch '$T/nocurl-first-ran'"
      - name: ping
        http: {url: "http://127.0.0.1:$A/health"}
EOF
MIGRATE_LIBCURL=/nonexistent/libcurl.so.4 run_migrate run nocurl.yaml --state-dir "$T/st-nocurl"
expect_rc "libcurl cannot be loaded: refused like an invalid runbook" 2
expect_in "the refusal names the step and says why, FILE:LINE:COL" "$T/err" "nocurl.yaml:9:9: step 'ping' (http): HTTP needs libcurl, which cannot be loaded: /nonexistent/libcurl.so.4"
if [ -e "$T/nocurl-first-ran" ]; then fail "the step before the HTTP one ran although the run was refused"; else pass "nothing ran"; fi
run_migrate validate nocurl.yaml
expect_rc "validate does not need libcurl" 0

# ---- body / not_body / latency ----
start_httpd b '{"/ok": [{"body": "{\"status\": \"ok\"}"}], "/degraded": [{"body": "{\"status\": \"ok\", \"errors\": [\"disk\"]}"}], "/slow": [{"body": "ok", "delay": 1.5}]}'
B=$PORT
cat >body.yaml <<EOF
runbook: 1
name: http-body
phases:
  - name: p
    steps:
      - name: body-missing
        probe:
          http: {url: "http://127.0.0.1:$B/ok"}
          expect: {body: 'ready'}
EOF
run_migrate run body.yaml --state-dir "$T/st"
expect_rc "body that does not match" 1
expect_in "says body does not match" "$T/out" "body does not match 'ready'"
sed -i "s|/ok\"}|/degraded\"}|; s|expect: {body: 'ready'}|expect: {body: '\"ok\"', not_body: 'errors'}|" body.yaml
run_migrate run body.yaml --state-dir "$T/st"
expect_rc "not_body that matches" 1
expect_in "says body matches not_body" "$T/out" "body matches 'errors', which it must not"
cat >latency.yaml <<EOF
runbook: 1
name: http-latency
phases:
  - name: p
    steps:
      - name: fast-enough
        probe:
          http: {url: "http://127.0.0.1:$B/slow"}
          expect: {latency: 300ms}
EOF
run_migrate run latency.yaml --state-dir "$T/st"
expect_rc "latency bound exceeded" 1
expect_in "says it took too long" "$T/out" "more than 300ms"

# ---- a metric above its bound fails the step; the unwind sends the rollback request ----
start_httpd c '{"/flag": [{"status": 204}], "/prom/api/v1/query": [{"prom": 0.05}], "/stats": [{"body": "{\"db\": {\"lag\": \"0.25\"}}"}]}'
C=$PORT
cat >metric.yaml <<EOF
runbook: 1
name: http-metric
probes:
  error-rate:
    prometheus: {url: "http://127.0.0.1:$C/prom", query: 'sum(rate(http_requests_total{code=~"5.."}[5m]))'}
    expect: {value: {below: 0.01}}
phases:
  - name: p
    steps:
      - name: enable-flag
        http: {method: POST, url: "http://127.0.0.1:$C/flag", body: '{"enabled": true}'}
        expect: {status: [200, 204]}
        after: [error-rate]
        rollback:
          # the change was made before the after probe failed: undo it too
          when: always
          http: {method: POST, url: "http://127.0.0.1:$C/flag", body: '{"enabled": false}'}
EOF
run_migrate run metric.yaml --state-dir "$T/st" --report "json=$T/metric.json"
expect_rc "metric above its bound" 1
expect_in "value next to its bound" "$T/out" "error-rate 0.05 < 0.01"
expect_in "why it failed" "$T/out" "value 0.05 is not below 0.01"
expect_count "the change was sent" c 'POST /flag .* {"enabled": true}' 1
expect_count "the rollback request was sent" c 'POST /flag .* {"enabled": false}' 1
if reqs c | grep -n . | grep -q '^1:POST /flag.*true' && reqs c | tail -1 | grep -q 'false'; then
	pass "rollback after the change"
else
	fail "rollback after the change" "$(reqs c)"
fi
expect_in "query is url-encoded" "$T/c.log" 'query=sum%28rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29'
expect_in "JSON report has the probe value" "$T/metric.json" '"value_text": "0.05"'

# ---- json: values and Prometheus answers, no data under each policy ----
cat >json.yaml <<EOF
runbook: 1
name: http-json
probes:
  lag:
    http: {url: "http://127.0.0.1:$C/stats"}
    expect: {value: {json: /db/lag, below: 1}}
phases:
  - name: p
    steps:
      - name: lag-ok
        probe: lag
      - name: echo
        run: echo "lag was \${probes.lag.value}"
EOF
run_migrate run json.yaml --state-dir "$T/st" -v
expect_rc "json: pointer to a numeric string" 0
expect_in "value shown" "$T/out" "0.25 < 1"
expect_in "\${probes.NAME.value} holds the latest value" "$T/out" "lag was 0.25"
sed -i 's|json: /db/lag|json: /db/missing|' json.yaml
run_migrate run json.yaml --state-dir "$T/st"
expect_rc "absent pointer: no data fails by default" 1
expect_in "says no data" "$T/out" "no data"
set_config c '{"/stats": [{"body": "<html>busy</html>"}]}'
sed -i 's|json: /db/missing|json: /db/lag|' json.yaml
run_migrate run json.yaml --state-dir "$T/st"
expect_rc "a body that is not JSON" 1
expect_in "says not JSON" "$T/out" "the body is not JSON"

set_config c '{"/prom/api/v1/query": [{"prom": null}]}'
nodata() { # POLICY
	cat >nodata.yaml <<EOF
runbook: 1
name: http-nodata
probes:
  error-rate:
    prometheus: {url: "http://127.0.0.1:$C/prom", query: 'up'}
    expect: {value: {below: 0.01}, no_data: $1}
phases:
  - name: p
    steps:
      - name: s
        run: "true"
    verify: [error-rate]
EOF
}
nodata fail
run_migrate run nodata.yaml --state-dir "$T/st"
expect_rc "empty Prometheus result, no_data: fail" 1
expect_in "no data is the reason" "$T/out" "no data"
nodata pass
run_migrate run nodata.yaml --state-dir "$T/st"
expect_rc "empty Prometheus result, no_data: pass" 0
nodata hold
run_migrate run nodata.yaml --state-dir "$T/st-hold"
expect_rc "empty Prometheus result, no_data: hold stops at a gate" 4
expect_in "hold asks to go on" "$T/out" "has no data"
run_migrate run nodata.yaml --state-dir "$T/st-hold2" --yes
expect_rc "hold approved with --yes" 0
run_migrate resume --state-dir "$T/st-hold"
expect_rc "resume asks the hold again (nobody to answer)" 4
expect_in "resume says which probe holds" "$T/out" "probe 'error-rate' has no data"
run_migrate resume --state-dir "$T/st-hold" --approve error-rate
expect_rc "resume --approve PROBE goes on" 0
set_config c '{"/prom/api/v1/query": [{"status": 400, "prom": "error"}]}'
nodata fail
run_migrate run nodata.yaml --state-dir "$T/st-err"
expect_rc "a Prometheus error payload" 1
expect_in "says the Prometheus error" "$T/out" "Prometheus error: bad_data: parse error"

# ---- watch: starts failing during a long step, aborts it and unwinds ----
start_httpd w '{"/prom/api/v1/query": [{"prom": 0.001}, {"prom": 0.001}, {"prom": 0.5}], "/done": [{"status": 200}]}'
W=$PORT
cat >watch.yaml <<EOF
runbook: 1
name: http-watch
probes:
  error-rate:
    prometheus: {url: "http://127.0.0.1:$W/prom", query: 'up'}
    expect: {value: {below: 0.01}}
phases:
  - name: p
    watch: {probes: [error-rate], interval: 300ms, failures: 2}
    steps:
      - name: first
        run: "true"
        rollback:
          http: {method: POST, url: "http://127.0.0.1:$W/done", body: undo-first}
      - name: long
        run: sleep 60
EOF
t0=$(date +%s)
run_migrate run watch.yaml --state-dir "$T/st" --report "json=$T/watch.json"
t1=$(date +%s)
expect_rc "a failing watch aborts the running step" 1
expect_in "the watch says why" "$T/out" "watch probe 'error-rate' failed 2 times in a row"
expect_count "and the unwind ran the rollback" w "POST /done .* undo-first" 1
if [ $((t1 - t0)) -lt 30 ]; then pass "watch trip well before the step's end"; else fail "watch took $((t1 - t0))s"; fi
n=$(python3 -c 'import json,sys; print(sum(1 for p in json.load(open(sys.argv[1]))["probes"] if p["context"] == "watch"))' "$T/watch.json")
if [ "$n" -ge 4 ]; then pass "JSON report has every watch sample ($n)"; else fail "JSON report has $n watch samples"; fi

# ---- a window watch trips on failures that are not consecutive ----
alt='{"/prom/api/v1/query": [{"prom": 0.5}, {"prom": 0.001}, {"prom": 0.5}, {"prom": 0.001}, {"prom": 0.5}, {"prom": 0.001}, {"prom": 0.5}, {"prom": 0.001}, {"prom": 0.5}, {"prom": 0.001}, {"prom": 0.5}, {"prom": 0.001}, {"prom": 0.5}, {"prom": 0.001}, {"prom": 0.5}, {"prom": 0.001}, {"prom": 0.5}, {"prom": 0.001}, {"prom": 0.5}, {"prom": 0.001}, {"prom": 0.5}, {"prom": 0.001}, {"prom": 0.5}, {"prom": 0.001}, {"prom": 0.001}], "/done": [{"status": 200}]}'
set_config w "$alt"
cat >window.yaml <<EOF
runbook: 1
name: http-window
probes:
  error-rate:
    prometheus: {url: "http://127.0.0.1:$W/prom", query: 'up'}
    expect: {value: {below: 0.01}}
phases:
  - name: p
    watch: {probes: [error-rate], interval: 150ms, failures: 2, window: 3}
    steps:
      - name: long
        run: sleep 60
EOF
run_migrate run window.yaml --state-dir "$T/st-w1"
expect_rc "window watch trips on alternating failures" 1
expect_in "window watch says so" "$T/out" "failed 2 of its last 3 samples"
set_config w "$alt"
sed -i 's|, window: 3||; s|sleep 60|sleep 2|' window.yaml
run_migrate run window.yaml --state-dir "$T/st-w2"
expect_rc "the same failures, consecutive counting: no trip" 0

# ---- bake: the after probe is requested only after the pause ----
start_httpd k '{"/change": [{"status": 200}], "/health": [{"status": 200}]}'
K=$PORT
cat >bake.yaml <<EOF
runbook: 1
name: http-bake
probes:
  health:
    http: {url: "http://127.0.0.1:$K/health"}
phases:
  - name: p
    steps:
      - name: change
        http: {method: PUT, url: "http://127.0.0.1:$K/change", body: x}
        pause: 1s
        after: [health]
EOF
run_migrate run bake.yaml --state-dir "$T/st"
expect_rc "bake then check" 0
gap=$(python3 -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
t = {r["path"]: r["time"] for r in rs}
print("%.3f" % (t["/health"] - t["/change"]))' "$T/k.log")
if python3 -c "import sys; sys.exit(0 if float('$gap') >= 1.0 else 1)"; then
	pass "after probe requested after the pause (${gap}s)"
else
	fail "after probe came ${gap}s after the change, before the 1s pause ended"
fi

# ---- TLS: self-signed refused by default; ca_cert or insecure: true accept it ----
start_httpd s '{"/h": [{"body": "secure"}]}' tls
S=$PORT
tls() { # EXTRA-FIELDS
	cat >tls.yaml <<EOF
runbook: 1
name: http-tls
phases:
  - name: p
    steps:
      - name: get
        http: {url: "https://127.0.0.1:$S/h"$1}
        expect: {body: secure}
EOF
}
tls ""
run_migrate run tls.yaml --state-dir "$T/st"
expect_rc "self-signed certificate refused" 1
expect_in "says the certificate is not trusted" "$T/out" "TLS certificate not trusted"
tls ", ca_cert: \"$T/s.crt\""
run_migrate run tls.yaml --state-dir "$T/st"
expect_rc "accepted with ca_cert" 0
tls ", insecure: true"
run_migrate run tls.yaml --state-dir "$T/st"
expect_rc "accepted with insecure: true" 0
run_migrate plan tls.yaml
expect_in "plan flags insecure" "$T/out" "TLS verification OFF"

# ---- migrate check: every endpoint reached once, TLS included, nothing sent ----
: >"$T/s.log"
: >"$T/k.log"
cat >check.yaml <<EOF
runbook: 1
name: http-check
probes:
  health:
    http: {url: "http://127.0.0.1:$K/health"}
phases:
  - name: p
    steps:
      - name: change
        http: {method: POST, url: "http://127.0.0.1:$K/change", body: x}
        after: [health]
        rollback:
          http: {method: DELETE, url: "http://127.0.0.1:$K/change"}
      - name: tls
        http: {method: PUT, url: "https://127.0.0.1:$S/h", ca_cert: "$T/s.crt"}
EOF
run_migrate check check.yaml
expect_rc "check: every endpoint reached" 0
expect_in "check: the http endpoint" "$T/out" "http://127.0.0.1:$K"
expect_in "check: the https endpoint, TLS handshake done" "$T/out" "TLS ok"
expect_in "check: counts" "$T/out" "2 HTTP endpoints: 2 reachable, 0 failed"
if [ -s "$T/k.log" ] || [ -s "$T/s.log" ]; then
	fail "check sent a request" "$(cat "$T/k.log" "$T/s.log")"
else
	pass "check sent no request"
fi
sed -i 's|, ca_cert: "[^"]*"||' check.yaml
run_migrate check check.yaml
expect_rc "check: an untrusted certificate" 1
expect_in "check says why" "$T/out" "TLS certificate not trusted"
sed -i "s|127.0.0.1:$K/health|127.0.0.1:1/health|" check.yaml
run_migrate check check.yaml
expect_in "check: a refused connection" "$T/out" "cannot connect"

# ---- redirects, a dripping server, a 5 MiB body ----
start_httpd r '{"/old": [{"mode": "redirect", "location": "/new"}], "/new": [{"body": "here"}], "/drip": [{"mode": "drip"}], "/big": [{"mode": "big", "size": 5242880}], "/huge": [{"mode": "big", "size": 104857600}]}'
R=$PORT
cat >redirect.yaml <<EOF
runbook: 1
name: http-redirect
phases:
  - name: p
    steps:
      - name: get
        http: {url: "http://127.0.0.1:$R/old"}
EOF
run_migrate run redirect.yaml --state-dir "$T/st"
expect_rc "redirect not followed by default" 1
expect_in "says it was not followed" "$T/out" "not followed without follow: true"
sed -i 's|/old"}|/old", follow: true}|' redirect.yaml
run_migrate run redirect.yaml --state-dir "$T/st"
expect_rc "redirect followed with follow: true" 0

cat >drip.yaml <<EOF
runbook: 1
name: http-drip
phases:
  - name: p
    steps:
      - name: get
        http: {url: "http://127.0.0.1:$R/drip"}
        timeout: 2s
EOF
t0=$(date +%s)
run_migrate run drip.yaml --state-dir "$T/st"
t1=$(date +%s)
expect_rc "a dripping server fails" 1
expect_in "within its timeout" "$T/out" "timed out after 2s"
if [ $((t1 - t0)) -lt 30 ]; then pass "drip stopped early"; else fail "drip took $((t1 - t0))s"; fi

cat >big.yaml <<EOF
runbook: 1
name: http-big
phases:
  - name: p
    steps:
      - name: get
        http: {url: "http://127.0.0.1:$R/big"}
        expect: {body: '^y+$'}
      - name: huge
        http: {url: "http://127.0.0.1:$R/huge"}
        timeout: 60s
EOF
rss=$(python3 - "$MIGRATE" run big.yaml --state-dir "$T/st" <<'PY'
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
PY
)
if [ "${rss% *}" = 0 ] && [ "${rss#* }" -lt 80 ]; then
	pass "5 MiB and 100 MiB bodies read with bounded memory (max RSS ${rss#* } MiB)"
else
	fail "big bodies: exit ${rss% *}, max RSS ${rss#* } MiB"
fi

# ---- Idempotency-Key: the same on every retry, and after SIGKILL + resume ----
start_httpd i '{"/apply": [{"status": 500}, {"status": 500}, {"status": 201}], "/get": [{"status": 200}]}'
I=$PORT
cat >idem.yaml <<EOF
runbook: 1
name: http-idem
phases:
  - name: p
    steps:
      - name: apply
        http: {method: POST, url: "http://127.0.0.1:$I/apply", body: '{"x": 1}'}
        retry: {attempts: 3, interval: 100ms}
      - name: read
        http: {url: "http://127.0.0.1:$I/get"}
EOF
run_migrate run idem.yaml --state-dir "$T/st"
expect_rc "POST retried until it succeeds" 0
keys=$(reqs i | awk '$1 == "POST" { print $3 }' | sort -u)
if [ "$(reqs i | grep -c '^POST')" -eq 3 ] && [ "$(printf '%s\n' "$keys" | wc -l)" -eq 1 ] && [ "$keys" != "-" ]; then
	pass "one Idempotency-Key across 3 attempts ($keys)"
else
	fail "Idempotency-Key across retries" "$(reqs i)"
fi
expect_in "GET carries no key" <(reqs i | grep '^GET') "GET /get - "

set_config i '{"/apply": [{"mode": "hang"}, {"status": 201}], "/get": [{"status": 200}]}'
: >"$T/i.log"
"$MIGRATE" run idem.yaml --state-dir "$T/st2" </dev/null >"$T/out" 2>"$T/err" &
mpid=$!
for _ in $(seq 100); do grep -q '"POST"' "$T/i.log" && break; sleep 0.1; done
kill -9 "$mpid"
wait "$mpid" 2>/dev/null
run_migrate resume --state-dir "$T/st2" --retry-in-doubt
expect_rc "resume after SIGKILL during the request" 0
keys=$(reqs i | awk '$1 == "POST" { print $3 }' | sort -u)
if [ "$(reqs i | grep -c '^POST')" -eq 2 ] && [ "$(printf '%s\n' "$keys" | wc -l)" -eq 1 ]; then
	pass "the same Idempotency-Key after SIGKILL + resume"
else
	fail "Idempotency-Key after resume" "$(reqs i)"
fi

# ---- check: on resume, an http check probe settles an in-doubt unit ----
set_config i '{"/apply": [{"mode": "hang"}], "/applied": [{"status": 200, "body": "{\"applied\": 1}"}], "/get": [{"status": 200}]}'
: >"$T/i.log"
cat >settle.yaml <<EOF
runbook: 1
name: http-settle
phases:
  - name: p
    steps:
      - name: apply
        http: {method: POST, url: "http://127.0.0.1:$I/apply", body_file: payload.json}
        timeout: 20s
        check:
          http: {url: "http://127.0.0.1:$I/applied"}
          expect: {value: {json: /applied, equals: 1}, no_data: fail}
      - name: read
        http: {url: "http://127.0.0.1:$I/get"}
EOF
printf '{"replicas": 3}' >payload.json
"$MIGRATE" run settle.yaml --state-dir "$T/st3" </dev/null >"$T/out" 2>"$T/err" &
mpid=$!
for _ in $(seq 100); do grep -q '"POST"' "$T/i.log" && break; sleep 0.1; done
kill -9 "$mpid"
wait "$mpid" 2>/dev/null
expect_in "body_file sent as the body" <(reqs i) 'POST /apply'
expect_in "body_file content" "$T/i.log" '"body": "{\"replicas\": 3}"'
run_migrate resume --state-dir "$T/st3"
expect_rc "check probe settles the in-doubt unit" 0
expect_in "the check passed" "$T/out" "check probe"
expect_count "apply not sent again" i "POST /apply" 1
rm payload.json
run_migrate run settle.yaml --state-dir "$T/st4"
expect_rc "a missing body_file" 1
expect_in "says which file" "$T/out" "cannot read body_file 'payload.json'"

# ---- CR/LF in a header: refused at load, and once expanded ----
cat >crlf.yaml <<EOF
runbook: 1
name: http-crlf
phases:
  - name: p
    steps:
      - name: s
        http:
          url: "http://127.0.0.1:$I/get"
          headers: {X-Note: "a\r\nInjected: yes"}
EOF
run_migrate validate crlf.yaml
expect_rc "CR/LF in a header refused at load" 2
expect_in "says so at the value" "$T/err" "crlf.yaml:9:"
cat >crlf2.yaml <<EOF
runbook: 1
name: http-crlf2
secrets:
  token: {env: HTTP_TEST_TOKEN}
phases:
  - name: p
    steps:
      - name: s
        http:
          url: "http://127.0.0.1:$I/get"
          headers: {Authorization: "Bearer \${secrets.token}"}
EOF
: >"$T/i.log"
HTTP_TEST_TOKEN=$'abcd\r\nX-Injected: 1' run_migrate run crlf2.yaml --state-dir "$T/st"
expect_rc "a line break that comes from a secret" 1
expect_in "says so" "$T/out" "contains a line break (CR or LF) once expanded"
expect_not_in "nothing was sent" "$T/i.log" "Injected"

# ---- secrets masked in URLs and libcurl's errors ----
cat >mask.yaml <<EOF
runbook: 1
name: http-mask
secrets:
  token: {env: HTTP_TEST_TOKEN}
phases:
  - name: p
    steps:
      - name: s
        http: {url: "http://\${secrets.token}.invalid/x"}
        timeout: 10s
EOF
HTTP_TEST_TOKEN=s3cr3t-host-name run_migrate run mask.yaml --state-dir "$T/st" --report "json=$T/mask.json"
expect_rc "unresolvable host" 1
expect_in "says it cannot resolve" "$T/out" "cannot resolve"
expect_not_in "secret not in the output" "$T/out" "s3cr3t-host-name"
expect_not_in "secret not in the report" "$T/mask.json" "s3cr3t-host-name"
if grep -rq "s3cr3t-host-name" "$T/st/runs"; then fail "secret in the journal"; else pass "secret not in the journal"; fi

# ---- a traffic shift: weights 10 -> 100, after probes, a watch on the error rate ----
shift_config() { # WEIGHT-WHERE-ERRORS-START
	cat <<EOF
{"/weight": [{"status": 204}],
 "/health": [{"body": "{\"status\": \"ok\"}"}],
 "/prom/api/v1/query": [{"switch": "/weight", "cases": {"{\"weight\": $1}": {"prom": 0.2}}, "default": {"prom": 0.0004}}]}
EOF
}
start_httpd t "$(shift_config none)"
TP=$PORT
cat >shift.yaml <<EOF
runbook: 1
name: traffic-shift
vars:
  lb: "http://127.0.0.1:$TP"
  weights: [10, 25, 50, 100]
probes:
  api-health:
    http: {url: "\${lb}/health"}
    expect: {status: 200, body: '"status"\\s*:\\s*"ok"', latency: 2s}
  error-rate:
    prometheus: {url: "\${lb}/prom", query: 'sum(rate(http_requests_total{code=~"5.."}[5m]))'}
    expect: {value: {below: 0.01}}
phases:
  - name: traffic-shift
    watch: {probes: [error-rate], interval: 200ms, failures: 2}
    steps:
      - name: shift
        for: \${weights}
        http: {method: PUT, url: "\${lb}/weight", body: '{"weight": \${item}}'}
        pause: 300ms
        after: [api-health, error-rate]
        rollback:
          http: {method: PUT, url: "\${lb}/weight", body: '{"weight": 0}'}
EOF
run_migrate run shift.yaml --state-dir "$T/st" --report "json=$T/shift.json"
expect_rc "healthy traffic shift completes" 0
if [ "$(reqs t | awk '$1 == "PUT" { print $4 $5 }' | tr '\n' ' ')" = '{"weight":10} {"weight":25} {"weight":50} {"weight":100} ' ]; then
	pass "weights set 10, 25, 50, 100 in order"
else
	fail "weights in order" "$(reqs t | grep PUT)"
fi
expect_in "after probes show the error rate next to its bound" "$T/out" "error-rate 0.0004 < 0.01 ok"

: >"$T/t.log"
set_config t "$(shift_config 50)"
run_migrate run shift.yaml --state-dir "$T/st" --report "json=$T/shift2.json"
expect_rc "error rate rises at 50%: the shift fails and unwinds" 1
puts=$(reqs t | awk '$1 == "PUT" { print $4 $5 }' | tr '\n' ' ')
if [ "$puts" = '{"weight":10} {"weight":25} {"weight":50} {"weight":0} {"weight":0} ' ]; then
	pass "never went to 100; rolled back 25 and 10"
else
	fail "traffic shift unwind" "$puts" "$(head -c 2000 "$T/out")"
fi
expect_in "the failure names the error rate" "$T/out" "error-rate"

finish
