# injection-payloads.sh - hostile values for ${...|quote} tests, meant to be
# sourced by any test that pushes values into commands (locally here in
# test-injection.sh; the SSH tests can source it and run the same loop
# against a remote host).
#
# Before sourcing, set CANARY to a path that must never exist: every
# payload that escapes its quoting tries to create it. PAYLOADS is an array
# of byte strings (no NUL bytes: a shell value cannot hold one).
: "${CANARY:?set CANARY before sourcing injection-payloads.sh}"
PAYLOADS=(
	"'; touch $CANARY; '"
	"\"; touch $CANARY; \""
	"\$(touch $CANARY)"
	"\`touch $CANARY\`"
	"; touch $CANARY"
	"&& touch $CANARY ||"
	"| touch $CANARY"
	"> $CANARY"
	$'line one\ntouch '"$CANARY"$'\nline three'
	$'trailing newline\n'
	"*"
	"/*"
	"-rf"
	"--help"
	"-n"
	"\$HOME \${PATH} \$((1+2)) \$\$ \$?"
	"\\\\ backslashes \\n \\'"
	"it's \"quoted\" ''"
	"'"
	"\"'\"'\"'"
	$'tab\there cr\rhere'
	"é😀 ünïcødé"
	"%s%n%x"
	"!! ~root {a,b} [ab]"
	"\${secrets.x} \$\${literal}"
	"   leading and trailing spaces   "
	""
)
