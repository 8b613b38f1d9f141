#!/bin/bash
# Hostile YAML: billion laughs, alias chains, deep nesting (flow and block),
# huge scalars, a million keys, many duplicate keys, invalid UTF-8, NUL
# bytes. Each is refused by validate, plan and run with exit 2 and a
# FILE-prefixed message naming the problem, and nothing runs. The large
# inputs are generated here. Hangs are caught by run_migrate's generous
# timeout (exit 124), never by timing assertions; the time each took is
# printed for the record.
. "$(dirname "$0")/lib.sh"

export MIGRATE_STATE_DIR="$T/state"

python3 - <<'PY'
head = "runbook: 1\nname: bomb\n"
tail = "phases:\n  - name: p\n    steps:\n      - {name: s, run: \"touch ran\"}\n"
def w(name, s):
    open(name, "wb").write(s if isinstance(s, bytes) else s.encode())
lines = ["vars:", "  l0: &l0 \"lol\""] + ["  l%d: &l%d [%s]" % (i, i, ",".join(["*l%d" % (i - 1)] * 10)) for i in range(1, 13)]
w("laughs.yaml", head + "\n".join(lines) + "\n" + tail)
lines = ["vars:", "  a0: &a0 [x]"] + ["  a%d: &a%d [*a%d, *a%d]" % (i, i, i - 1, i - 1) for i in range(1, 200000)]
w("alias-chain.yaml", head + "\n".join(lines) + "\n" + tail)
lines = ["vars:", "  a0: &a0 x"] + ["  a%d: &a%d [*a%d]" % (i, i, i - 1) for i in range(1, 100000)]
w("alias-linear.yaml", head + "\n".join(lines) + "\n" + tail)
w("deep-flow.yaml", head + "vars:\n  d: " + "[" * 100000 + "]" * 100000 + "\n" + tail)
w("deep-flow-map.yaml", head + "vars:\n  d: " + "{a: " * 50000 + "x" + "}" * 50000 + "\n" + tail)
w("deep-block.yaml", head + "vars:\n" + "".join(" " * (i + 2) + "k:\n" for i in range(3000)) + tail)
w("huge-scalar.yaml", head + "vars:\n  big: \"" + "x" * (16 << 20) + "\"\n" + tail)
w("huge-file.yaml", head + "#" + "x" * (9 << 20) + "\n" + tail)
def key(n):
    s = ""
    for _ in range(5):
        s += "abcdefghijklmnopqrstuvwxyz"[n % 26]
        n //= 26
    return s
# a million keys in under 8 MiB: a flow mapping of keys without values
w("million-keys.yaml", head + "vars: {" + ",".join(key(i) for i in range(1000000)) + "}\n" + tail)
w("duplicate-keys.yaml", head + "vars:\n" + "  k: v\n" * 100000 + tail)
w("invalid-utf8.yaml", (head + "vars:\n  k: \"").encode() + b"\xff\xfe\xc3\x28\xed\xa0\x80" + b"\"\n" + tail.encode())
w("invalid-utf8-key.yaml", (head + "vars:\n  \xc0\xaf: v\n").encode("latin-1") + tail.encode())
w("nul-bytes.yaml", (head + "vars:\n  k: v\x00w\n").encode() + tail.encode())
w("nul-first.yaml", b"\x00" + (head + tail).encode())
w("recursive.yaml", head + "vars:\n  a: &a [*a]\n" + tail)
PY

# bomb FILE MESSAGE: validate, plan and run all refuse FILE with exit 2 and MESSAGE
bomb() {
	local f=$1 msg=$2 cmd t0 t1
	for cmd in validate plan run; do
		t0=$(date +%s%N)
		run_migrate "$cmd" "$f"
		t1=$(date +%s%N)
		if [ "$rc" -eq 124 ]; then
			fail "$cmd $f: hung (killed by the 120 s guard)"
			continue
		fi
		expect_rc "$cmd $f" 2
		expect_in "$cmd $f says why" "$T/err" "$msg"
		if grep -qaE 'runtime error:|Sanitizer|Segmentation' "$T/err"; then
			fail "$cmd $f: sanitizer or crash report" "$(head -c 2000 "$T/err")"
		fi
		echo "# $cmd $f: $(( (t1 - t0) / 1000000 )) ms"
	done
	if [ -e "$T/ran" ]; then
		fail "$f: a step ran"
		rm -f "$T/ran"
	fi
}

bomb laughs.yaml "laughs.yaml:10:48: document too large: more than 1000000 nodes (after expanding aliases)"
bomb alias-chain.yaml "alias-chain.yaml:22:24: document too large"
bomb alias-linear.yaml "alias-linear.yaml:67:14: nesting deeper than 64 levels (through an alias)"
bomb deep-flow.yaml "deep-flow.yaml:4:68: nesting deeper than 64 levels"
bomb deep-flow-map.yaml "deep-flow-map.yaml:4:254: nesting deeper than 64 levels"
bomb deep-block.yaml "deep-block.yaml:67:66: nesting deeper than 64 levels"
bomb huge-scalar.yaml "huge-scalar.yaml: file is too large (the limit is 8 MiB)"
bomb huge-file.yaml "huge-file.yaml: file is too large"
bomb million-keys.yaml "million-keys.yaml:3:3000008: document too large"
bomb duplicate-keys.yaml "duplicate-keys.yaml:5:3: duplicate key 'k' (first at 4:3)"
bomb invalid-utf8.yaml "invalid-utf8.yaml:4:7: invalid YAML: invalid leading UTF-8 octet"
bomb invalid-utf8-key.yaml "invalid-utf8-key.yaml:4:3: invalid YAML: invalid length of a UTF-8 sequence"
bomb nul-bytes.yaml "nul-bytes.yaml:4:7: file contains a NUL byte"
bomb nul-first.yaml "nul-first.yaml:1:1: file contains a NUL byte"
bomb recursive.yaml "recursive.yaml:4:10: alias refers to the node that contains it"

finish
