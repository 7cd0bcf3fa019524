#!/usr/bin/env bash
# An endpoint list with a dead first node (issue 11: "ais whose AIS_ENDPOINT
# node is dead fails every command although two nodes are up"). Runs
# against the daemon as it is (per-node buckets, no Raft, no "down" marks):
# on 3 nodes, node 0 (the first address of AIS_ENDPOINT) is killed; then
#  - ais reaches the cluster through the next address, and cluster show
#    shows node 0 unreachable without failing;
#  - every object that node 0 does not hold is read (get and stat), each
#    object it holds fails with a clear error, all within bounded time;
#  - a bucket listing fails with EIO ("incomplete"): with a node missing it
#    cannot be complete, and a partial one must never be shown as whole;
#  - a list with no live address fails with "cannot reach any of".
# With the Raft daemon (bucket table from any node, "down" marks) more is
# expected (bucket ls works with a node dead); that is not asserted here.
. "$(dirname "$0")/lib.sh"
ais_test_init endpoint_failover
ais_cluster_up 3

N=40
"$AIS" bucket create ais://fo >/dev/null || fail "bucket create"
for i in $(seq 1 $N); do
	printf 'object %d\n' "$i" | "$AIS" put - "ais://fo/o/$i" >/dev/null ||
		fail "put o/$i"
done

# Which objects node 0 holds, from its disk (object = file under
# <mountpath>/<bucket>/<name>).
d0=$(ais_node_dir 0)
find "$d0" -path '*/fo/o/*' -type f -printf '%f\n' | sort -n >"$T/on0"
n0=$(wc -l <"$T/on0")
note "node 0 holds $n0 of $N objects"
[ "$n0" -gt 0 ] && [ "$n0" -lt "$N" ] ||
	fail "expected node 0 to hold some but not all of $N objects, got $n0"

export AIS_ENDPOINT="127.0.0.1:$PORT,127.0.0.1:$((PORT + 1)),127.0.0.1:$((PORT + 2))"
"$AIS" ls ais://fo >/dev/null || fail "ls with every node up"
ais_node_kill 0

note "cluster show with node 0 dead"
start=$SECONDS
"$AIS" cluster show >"$T/show" || fail "cluster show with node 0 dead"
cat "$T/show" >&2
grep "127.0.0.1:$PORT " "$T/show" | grep -q unreachable ||
	fail "cluster show does not show node 0 as unreachable"
grep -q "3 nodes (2 up)" "$T/show" || fail "cluster show: not 2 of 3 up"

note "get and stat"
ok=0
bad=0
for i in $(seq 1 $N); do
	if grep -qx "$i" "$T/on0"; then
		rc=0
		"$AIS" get "ais://fo/o/$i" - >/dev/null 2>"$T/err" || rc=$?
		[ "$rc" -eq 1 ] || fail "get of o/$i (on the dead node): exit $rc"
		grep -q "127.0.0.1:$PORT" "$T/err" ||
			fail "get of o/$i: the error does not name node 0: $(cat "$T/err")"
		bad=$((bad + 1))
	else
		out=$("$AIS" get "ais://fo/o/$i" -) || fail "get o/$i"
		assert_eq "object $i" "$out" "content of o/$i"
		"$AIS" stat "ais://fo/o/$i" >/dev/null || fail "stat o/$i"
		ok=$((ok + 1))
	fi
done
assert_eq "$n0" "$bad" "objects failing with node 0 dead"
assert_eq $((N - n0)) "$ok" "objects read with node 0 dead"

note "a listing that cannot be complete"
rc=0
"$AIS" ls ais://fo >"$T/ls" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "ls with a node dead: exit $rc (output: $(head -3 "$T/ls"))"
[ ! -s "$T/ls" ] || fail "ls with a node dead printed a partial listing"
grep -q "Input/output error" "$T/err" || fail "ls: not EIO: $(cat "$T/err")"
grep -q "listing of fo/ incomplete" "$T/err" ||
	fail "ls: no 'incomplete' reason: $(cat "$T/err")"
[ $((SECONDS - start)) -lt 60 ] ||
	fail "the commands with node 0 dead took $((SECONDS - start)) s"

note "no live address"
rc=0
AIS_ENDPOINT="127.0.0.1:$PORT,127.0.0.1:$((PORT + 9))" "$AIS" cluster show \
	>/dev/null 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "a list of dead addresses: exit $rc"
grep -q "cannot reach any of 127.0.0.1:$PORT, 127.0.0.1:$((PORT + 9))" "$T/err" ||
	fail "a list of dead addresses: $(cat "$T/err")"
# --endpoint takes a list too, and a malformed one is a usage error.
"$AIS" --endpoint "127.0.0.1:$PORT,127.0.0.1:$((PORT + 2))" stat ais://fo/o/1 \
	>/dev/null 2>&1 || grep -qx 1 "$T/on0" || fail "--endpoint with a list"
rc=0
"$AIS" --endpoint "127.0.0.1:$PORT,,x:1" cluster show >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "exit status of a malformed --endpoint"
