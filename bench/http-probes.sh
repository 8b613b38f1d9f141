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

# The floor (curl over one connection, then the journal's fsyncs) and
# migrate, alternately, ROUNDS times: the disk is shared, so each side's
# best round is compared.
ROUNDS=${ROUNDS:-2}
best_curl=1e9 best_fs=1e9 best_mig=1e9
for r in $(seq "$ROUNDS"); do
	rm -rf "$T/floor.jsonl" "$T/state"
	t0=$(secs)
	curl -s -K "$T/curl.cfg"
	t1=$(secs)
	"$T/journal-floor" "$T/floor.jsonl" "$N"
	t2=$(secs)
	"$MIGRATE" run "$T/probes.yaml" -q --state-dir "${BENCH_STATE_DIR:-$T/state}" </dev/null >/dev/null
	t3=$(secs)
	read -r best_curl best_fs best_mig < <(python3 -c "
import sys
a = [float(x) for x in sys.argv[1:]]
print(min(a[0], a[3] - 0), min(a[1], a[4]), min(a[2], a[5]))" \
		"$best_curl" "$best_fs" "$best_mig" \
		"$(python3 -c "print($t1 - $t0)")" "$(python3 -c "print($t2 - $t1)")" "$(python3 -c "print($t3 - $t2)")")
	rm -rf "${BENCH_STATE_DIR:-$T/state}"
done

# The HTTP side alone: the journal on tmpfs (fsync costs nothing there), against curl.
shm_mig=0
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	S=$(mktemp -d /dev/shm/migrate-bench.XXXXXX)
	t0=$(secs)
	"$MIGRATE" run "$T/probes.yaml" -q --state-dir "$S/state" </dev/null >/dev/null
	t1=$(secs)
	rm -rf "$S"
	shm_mig=$(python3 -c "print($t1 - $t0)")
fi

python3 - "$N" "$best_curl" "$best_fs" "$best_mig" "$ROUNDS" "$shm_mig" <<'PY'
import sys
n, curl, fs, mig, rounds = int(sys.argv[1]), *map(float, sys.argv[2:5]), sys.argv[5]
floor = curl + fs
print(f"HTTP probe units: {n} (nginx, one small JSON file); best of {rounds} rounds each")
print(f"  curl, one connection    {curl*1000:8.1f} ms")
print(f"  2 synced records/unit   {fs*1000:8.1f} ms")
print(f"  floor                   {floor*1000:8.1f} ms  ({floor/n*1000:.2f} ms/unit)")
print(f"  migrate run             {mig*1000:8.1f} ms  ({mig/n*1000:.2f} ms/unit)")
print(f"  ratio migrate/floor     {mig/floor:8.2f}x  (target <= 1.2x)")
shm = float(sys.argv[6])
if shm > 0:
    print(f"HTTP side alone (journal on tmpfs): migrate {shm*1000:.1f} ms vs curl {curl*1000:.1f} ms:"
          f" {shm/curl:.2f}x")
PY
