#!/bin/sh
# check-ajv.sh SOURCE_ROOT: validate schemas/runbook.schema.json with ajv-cli
# (JSON Schema 2020-12, strict mode with union types allowed: what editors
# and CI pipelines use), then every runbooks/*.yaml and tests/valid/*.yaml
# against it, read as YAML 1.2; and check that ajv rejects a few runbooks
# that must fail, so the run cannot pass by validating nothing.
# The validators come from tests/schema/package-lock.json: `npm ci --prefix
# tests/schema` installs them (the README's test command does). Exits 77
# (skipped) when they are not installed.
set -u
root=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
here=$root/tests/schema
ajv=$here/node_modules/.bin/ajv
if [ ! -x "$ajv" ] || ! command -v node >/dev/null; then
	echo "SKIP: ajv not installed (apt-get install nodejs npm && npm ci --prefix tests/schema)"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/migrate-ajv.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$here" || exit 1
failed=0
AJV="$ajv --spec=draft2020 --strict=true --allow-union-types -c ajv-formats"

if $AJV compile -s "$root/schemas/runbook.schema.json" >"$tmp/compile.out" 2>&1; then
	echo "ok   ajv compiles the schema in strict mode"
else
	echo "FAIL ajv rejects the schema:"; cat "$tmp/compile.out"
	exit 1
fi

mkdir "$tmp/good" "$tmp/bad"
set -- "$root"/runbooks/*.yaml "$root"/tests/valid/*.yaml
node yaml-to-json.mjs "$tmp/good" "$@" || failed=$((failed + 1))
n=$(ls "$tmp/good" | wc -l)
if [ "$n" -ne $# ] || [ "$n" -lt 5 ]; then
	echo "FAIL converted $n of $# runbooks"; failed=$((failed + 1))
fi
# YAML 1.2: `on:` is the key "on", not the boolean true.
if grep -q '"on":' "$tmp"/good/*-full.json && ! grep -q '"true":' "$tmp"/good/*.json; then
	echo "ok   YAML 1.2 reading: on: is a string key"
else
	echo "FAIL YAML 1.2 reading: on: was not read as a string key"; failed=$((failed + 1))
fi
for f in "$tmp"/good/*.json; do
	if $AJV validate -s "$root/schemas/runbook.schema.json" -d "$f" >"$tmp/v.out" 2>&1; then
		echo "ok   ajv accepts $(basename "$f" .json | cut -c5-)"
	else
		echo "FAIL ajv rejects $(basename "$f" .json | cut -c5-):"; head -c 2000 "$tmp/v.out"; echo
		failed=$((failed + 1))
	fi
done

# Runbooks ajv must reject (label, YAML).
bad() {
	printf '%s\n' "$2" >"$tmp/bad/in.yaml"
	rm -f "$tmp"/bad/*.json
	node yaml-to-json.mjs "$tmp/bad" "$tmp/bad/in.yaml" || { failed=$((failed + 1)); return; }
	if $AJV validate -s "$root/schemas/runbook.schema.json" -d "$tmp"/bad/000-in.json >/dev/null 2>&1; then
		echo "FAIL ajv accepts $1"; failed=$((failed + 1))
	else
		echo "ok   ajv rejects $1"
	fi
}
bad "an unknown step key" 'runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", retries: 3}]}]'
bad "expect on an upload step" 'runbook: 1
name: x
hosts: {h: {address: 127.0.0.1}}
phases: [{name: p, steps: [{name: s, on: h, upload: {src: a, dest: /b}, expect: {exit: 0}}]}]'
bad "a secret with both env and file" 'runbook: 1
name: x
secrets: {t: {env: T, file: /t}}
phases: [{name: p, steps: [{name: s, run: "true"}]}]'
bad "a gate step with a command" 'runbook: 1
name: x
phases: [{name: p, steps: [{name: s, gate: "go?", run: "true"}]}]'

[ "$failed" -eq 0 ] && echo "all good" || echo "$failed problem(s)"
[ "$failed" -eq 0 ]
