#!/bin/bash
# Secrets never reach output: not when a step echoes them, not in failure
# tails, not in -v streams, not in plan; they reach commands through
# ${secrets.X} and MIGRATE_SECRET_<NAME>.
. "$(dirname "$0")/lib.sh"

SECRET='s3cr3t-Value-93f1'
export API_TOKEN="$SECRET"
printf 'file-Secret-77aa\n' > "$T/dbpass"

cat > secrets.yaml <<YAML
runbook: 1
name: secrets
vars:
  dir: /tmp
secrets:
  api_token: {env: API_TOKEN}
  db_password: {file: $T/dbpass}
phases:
  - name: p
    steps:
      - name: echo-interpolated
        run: echo "token is \${secrets.api_token}"; echo "again \${secrets.api_token}" >&2
        rollback: {run: 'echo "rollback sees \${secrets.api_token}"; exit 1'}
      - name: echo-env
        run: echo "env has \$MIGRATE_SECRET_API_TOKEN and \$MIGRATE_SECRET_DB_PASSWORD" | tee "\${dir}/seen"
      - name: fail-with-it
        run: echo "leaking \${secrets.db_password} before failing"; exit 3
YAML

run_migrate run secrets.yaml -v --var dir="$T"
expect_rc "the failing step and failing rollback" 3
expect_in "the command got the real value" "$T/seen" "env has $SECRET and file-Secret-77aa"
for f in out err; do
	expect_not_in "env secret absent from $f" "$T/$f" "$SECRET"
	expect_not_in "file secret absent from $f" "$T/$f" "file-Secret-77aa"
done
expect_in "masked as ***" "$T/out" "token is ***"
expect_in "masked in failure output" "$T/out" "leaking *** before failing"
expect_in "masked in rollback failure output" "$T/out" "rollback sees ***"

run_migrate run secrets.yaml --var dir="$T"
for f in out err; do
	expect_not_in "secret absent from $f without -v" "$T/$f" "$SECRET"
done

run_migrate plan secrets.yaml
expect_rc "plan" 0
expect_in "plan shows *** for secrets" "$T/out" 'token is ***'
expect_not_in "plan never shows the secret" "$T/out" "$SECRET"
run_migrate plan secrets.yaml --format json
expect_not_in "json plan never shows the secret" "$T/out" "$SECRET"

unset API_TOKEN
run_migrate run secrets.yaml --var dir="$T"
expect_rc "missing secret source" 2
expect_in "missing secret named" "$T/err" "api_token"
run_migrate history --format json
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert all(r.get("outcome") != "corrupt" for r in d), d' "$T/out"; then
	pass "a run refused for a missing secret leaves no empty journal"
else
	fail "an empty journal was left behind" "$(cat "$T/out")"
fi

finish
