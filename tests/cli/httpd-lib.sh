# httpd-lib.sh - the suite's real HTTP server (tests/httpd.py) for CLI
# tests: sourced after lib.sh. start_httpd starts one on 127.0.0.1 with a
# free port; every server is stopped when the test exits.

HTTPD_PIDS=()
trap 'for p in "${HTTPD_PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT

# start_httpd NAME CONFIG-JSON: a server whose port is in $PORT, its log in $T/NAME.log.
start_httpd() {
	printf '%s\n' "$2" >"$T/$1.json"
	rm -f "$T/$1.port"
	python3 "$SRCDIR/tests/httpd.py" --config "$T/$1.json" --log "$T/$1.log" --port-file "$T/$1.port" &
	HTTPD_PIDS+=($!)
	for _ in $(seq 100); do [ -s "$T/$1.port" ] && break; sleep 0.1; done
	PORT=$(cat "$T/$1.port")
}

# set_config NAME CONFIG-JSON: replace a running server's script (read on its next request).
set_config() {
	printf '%s\n' "$2" >"$T/$1.json.new" && mv "$T/$1.json.new" "$T/$1.json"
}

# journal_of: the journal of the newest run.
journal_of() { ls -t "$XDG_STATE_HOME"/migrate/runs/*.jsonl | head -1; }
