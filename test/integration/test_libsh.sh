#!/usr/bin/env bash
# Integration: lib.sh itself. A test that fails (or is killed by a signal)
# with a cluster up still runs its cleanups in reverse order, prints the node
# logs, stops every node and removes its temp dir; ais_node_kill and
# ais_node_restart bring a node back under a new pid; ais_skip exits 77, or
# fails when CI demands every test.
. "$(dirname "$0")/lib.sh"

ais_test_init libsh
lib=$(cd "$(dirname "$0")" && pwd)/lib.sh

# The inner test: cluster up, kill/restart node 1, cleanups, then its fate
# ($1: fail | pass | term).
cat >"$T/inner.sh" <<EOF
. "$lib"
ais_test_init inner
echo "\$T" >"$T/inner.T"
ais_cluster_up 2
ais_cleanup sh -c 'echo first >>"$T/order"'
ais_cleanup sh -c 'echo second >>"$T/order"'
old=\$(ais_node_pid 1)
ais_node_kill 1
ais_node_restart
new=\$(ais_node_pid 1)
[ "\$old" != "\$new" ] || fail "node 1 was not restarted"
kill -0 "\$new" || fail "restarted node 1 is not running"
"\$AIS" bucket create ais://lib >/dev/null
case "\$1" in
fail) assert_eq 1 2 "deliberate failure" ;;
term) kill -TERM \$\$; sleep 30 ;;
esac
exit 0
EOF

# No aisd of the inner test may survive it.
check_no_leftovers()
{
	local innerT=$1 p cmd
	[ ! -e "$innerT" ] || fail "inner temp dir $innerT not removed"
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		case "$cmd" in
		*aisd*"$innerT/"*)
			if [ "$(awk '/^State:/ {print $2}' "$p/status" 2>/dev/null)" != Z ]; then
				fail "aisd ${p#/proc/} of the inner test still runs"
			fi
			;;
		esac
	done
}

for fate in pass fail term; do
	note "inner test: $fate"
	rm -f "$T/order" "$T/inner.T"
	rc=0
	AIS_TEST_SUBREAPER= timeout 120 bash "$T/inner.sh" "$fate" >"$T/inner.out" 2>&1 || rc=$?
	innerT=$(cat "$T/inner.T")
	case $fate in
	pass) assert_eq 0 "$rc" "exit status of a passing test" ;;
	fail)
		assert_eq 1 "$rc" "exit status of a failing test"
		grep -q "FAIL: deliberate failure" "$T/inner.out" || fail "no FAIL line"
		grep -q "last 50 lines of .*node0/aisd.log" "$T/inner.out" ||
			fail "node logs not printed on failure"
		;;
	term) assert_eq 143 "$rc" "exit status after SIGTERM" ;;
	esac
	assert_eq "second first" "$(tr '\n' ' ' <"$T/order" | sed 's/ $//')" \
		"cleanups in reverse order"
	check_no_leftovers "$innerT"
done

note "ais_skip"
cat >"$T/skip.sh" <<EOF
. "$lib"
ais_test_init skip
ais_skip "nothing to see"
EOF
rc=0
AIS_TEST_REQUIRE_FUSE=0 CI= bash "$T/skip.sh" >/dev/null 2>&1 || rc=$?
assert_eq 77 "$rc" "ais_skip exit status"
rc=0
AIS_TEST_REQUIRE_FUSE=1 bash "$T/skip.sh" >/dev/null 2>&1 || rc=$?
assert_eq 1 "$rc" "ais_skip with AIS_TEST_REQUIRE_FUSE=1"
rc=0
AIS_TEST_REQUIRE_FUSE=0 CI=true bash "$T/skip.sh" >/dev/null 2>&1 || rc=$?
assert_eq 1 "$rc" "ais_skip with CI=true"
