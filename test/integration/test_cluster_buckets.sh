#!/usr/bin/env bash
# A bucket destroyed while a node is down, then created again, must not
# show that node's old objects. The node is SIGKILLed holding objects of
# bucket b; b is destroyed, enough metadata changes follow for the leader
# to compact its Raft log (so the node comes back to a snapshot, not to
# the destroy entry), and b is created again. When the node is back and
# new objects are written, b lists exactly those, the old ones are gone
# from every read, and the node's disk no longer holds them.
. "$(dirname "$0")/lib.sh"
ais_test_init cluster_buckets

ais_cluster_up 3
export AIS_ENDPOINT=127.0.0.1:$PORT,127.0.0.1:$((PORT + 1)),127.0.0.1:$((PORT + 2))
"$AIS" bucket create ais://b
for i in $(seq 1 60); do
	printf 'old %d\n' "$i" | "$AIS" put - "ais://b/old/o$i" >/dev/null || fail "put old/o$i"
done
held=$(find "$AIS_CLUSTER_DIR/node2"/mp*/b -type f | wc -l)
[ "$held" -gt 0 ] || fail "node 2 holds none of the objects"
note "node 2 holds $held old objects; killing it"
ais_node_kill 2

"$AIS" bucket rm ais://b || fail "bucket destroy with a node down"
# Metadata changes past the log's compaction (a snapshot every 256
# entries, 64 kept after it; libraft drops whole segments, so it takes
# two snapshots for the entries the node misses to be gone).
for i in $(seq 1 300); do
	"$AIS" bucket create "ais://churn$i" >/dev/null || fail "bucket create churn$i"
	"$AIS" bucket rm "ais://churn$i" >/dev/null || fail "bucket destroy churn$i"
done
"$AIS" bucket create ais://b

ais_node_restart
all_up() { [ "$("$AIS" cluster show 2>/dev/null | grep -cE '^[0-9a-f]{16} .* online .* up ')" -eq 3 ]; }
ais_wait_for 60 all_up
# (Written once every node is up: an object whose owner is down cannot be.)
for i in 1 2 3; do
	printf 'new %d\n' "$i" | "$AIS" put - "ais://b/new/o$i" >/dev/null || fail "put new/o$i"
done
grep -q "earlier bucket of that name" "$AIS_CLUSTER_DIR/node2/aisd.log" ||
	fail "node 2 did not come back to a snapshot (it replayed the log): the case is not tested"

listing()
{
	"$AIS" ls -r ais://b 2>"$T/ls.err" | sort >"$T/ls" || return 1
	[ "$(cat "$T/ls")" = "$(printf 'new/o1\nnew/o2\nnew/o3')" ]
}
ais_wait_for 30 listing || fail "ais://b lists: $(cat "$T/ls" "$T/ls.err" | head -5)"
for i in $(seq 1 60); do
	assert_cmd_fails "$AIS" get "ais://b/old/o$i" -
done
for i in 1 2 3; do
	[ "$("$AIS" get "ais://b/new/o$i" -)" = "new $i" ] || fail "new/o$i"
done
gone() { [ "$(find "$AIS_CLUSTER_DIR/node2"/mp*/b -path '*/old/*' -type f 2>/dev/null | wc -l)" -eq 0 ]; }
ais_wait_for 30 gone
note "the old objects of b are gone from node 2; b shows only its new objects"
