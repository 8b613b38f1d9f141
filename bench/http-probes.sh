#!/bin/bash
# Benchmark: 1,000 HTTP probe units (one `probe` step looping for: over
# 1,000 items) against a local nginx serving a small JSON file, side by side
# with the floor: curl fetching the same 1,000 URLs over one kept-alive
# connection, plus the journal's two fsync'ed records per unit
# (bench/journal-floor.c). Prints the figures and the ratio (target <= 1.2x);
# asserts nothing.
#
#   bench/http-probes.sh [build/migrate] [UNITS]
set -eu
MIGRATE=$(realpath "${1:-build/migrate}")
N=${2:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
chmod 755 "$T"
NGINX_PID=
trap '[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null; rm -rf "$T"' EXIT

secs() { python3 -c 'import time; print(time.monotonic())'; }

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$T/www" "$T/nginx"
printf '{"status": "ok", "error_rate": "0.0004", "version": "1.2.3"}\n' >"$T/www/health.json"
cat >"$T/nginx/nginx.conf" <<CONF
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes 1;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 64; }
http {
	access_log off;
	keepalive_requests 100000;
	client_body_temp_path $T/nginx/body;
	proxy_temp_path $T/nginx/proxy;
	fastcgi_temp_path $T/nginx/fastcgi;
	uwsgi_temp_path $T/nginx/uwsgi;
	scgi_temp_path $T/nginx/scgi;
	server {
		listen 127.0.0.1:$PORT;
		root $T/www;
		default_type application/json;
	}
}
CONF
nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/health.json" && break; sleep 0.1; done

{
	echo "runbook: 1"
	echo "name: http-bench"
	echo "phases:"
	echo "  - name: p"
	echo "    steps:"
	echo "      - name: probe"
	printf "        for: ["
	seq -s, 1 "$N" | tr -d '\n'
	echo "]"
	echo "        probe:"
	echo "          http: {url: \"http://127.0.0.1:$PORT/health.json?i=\${item}\"}"
	echo "          expect: {body: '\"status\": \"ok\"', value: {json: /error_rate, below: 0.01}}"
} >"$T/probes.yaml"
for i in $(seq "$N"); do echo "url = \"http://127.0.0.1:$PORT/health.json?i=$i\""; echo "output = /dev/null"; done >"$T/curl.cfg"
cc -O2 -o "$T/journal-floor" "$HERE/journal-floor.c"

# the floor: curl over one connection, then the journal's fsyncs
t0=$(secs)
curl -s -K "$T/curl.cfg"
t1=$(secs)
"$T/journal-floor" "$T/floor.jsonl" "$N"
t2=$(secs)
"$MIGRATE" run "$T/probes.yaml" -q --state-dir "${BENCH_STATE_DIR:-$T/state}" </dev/null >/dev/null
t3=$(secs)

python3 - "$N" "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
n, t0, t1, t2, t3 = int(sys.argv[1]), *map(float, sys.argv[2:])
curl, fs, mig = t1 - t0, t2 - t1, t3 - t2
floor = curl + fs
print(f"HTTP probe units: {n} (nginx, one small JSON file)")
print(f"  curl, one connection    {curl*1000:8.1f} ms")
print(f"  2 fsync'ed records/unit {fs*1000:8.1f} ms")
print(f"  floor                   {floor*1000:8.1f} ms  ({floor/n*1000:.2f} ms/unit)")
print(f"  migrate run             {mig*1000:8.1f} ms  ({mig/n*1000:.2f} ms/unit)")
print(f"  ratio migrate/floor     {mig/floor:8.2f}x  (target <= 1.2x)")
PY
