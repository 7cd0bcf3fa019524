#!/usr/bin/env bash
# An elastic cluster, end to end, with a rebalance slowed down to 1 MB/s so
# that everything below overlaps with it:
#  1. a 4th node joins while a loop reads every object: no read fails; it
#     ends up with about a quarter of the objects; overwrites and deletes
#     made during the rebalance keep their last state;
#  2. a 5th node joins and a sending node is killed (SIGKILL) mid-rebalance,
#     then restarted: the rebalance completes, no object is lost and none
#     is left on two nodes;
#  3. that 5th node is decommissioned while the loop reads: no read fails,
#     the node leaves the map and stops, every object is readable.
. "$(dirname "$0")/lib.sh"
ais_test_init cluster_elastic

printf 'rebalance_rate_mb = 1\n' >"$T/aisd.conf"
export AIS_TEST_AISD_CONF=$T/aisd.conf
ais_cluster_up 3
export AIS_ENDPOINT=127.0.0.1:$PORT,127.0.0.1:$((PORT + 1)),127.0.0.1:$((PORT + 2))
"$AIS" bucket create ais://b

N=600     # objects of 64 KiB; the loop reads o1..o$READ,
READ=500  # the others are overwritten and deleted
mkdir -p "$T/src"
for i in $(seq 1 $N); do
	{ printf 'o%d-g1\n' "$i"; head -c 65536 /dev/zero; } >"$T/src/o$i"
done
"$AIS" put -r -q "$T/src" ais://b || fail "upload"

# The read loop: every object it reads must have its bytes; failures go
# to $T/readfail. Runs until $T/stop exists.
READER=
read_loop()
{
	local i
	rm -f "$T/stop"
	: >"$T/readfail"
	(
		while [ ! -e "$T/stop" ]; do
			for i in $(seq 1 $READ | shuf); do
				[ -e "$T/stop" ] && break
				ais_get_check "ais://b/o$i" "$T/src/o$i" "$T/readfail"
			done
			echo round >>"$T/rounds"
		done
	) &
	READER=$!
}
stop_reading()
{
	touch "$T/stop"
	wait "$READER" || true
	[ -s "$T/readfail" ] && fail "reads failed while the cluster changed: $(head -5 "$T/readfail")"
	note "reads: $(wc -l <"$T/rounds") rounds, none failed"
	rm -f "$T/rounds"
}

# A failure must not leave the loop running (the teardown waits for it).
end_reader()
{
	touch "$T/stop"
	[ -z "$READER" ] || wait "$READER" 2>/dev/null
}
ais_cleanup end_reader

check_objects()
{
	local i
	for i in $(seq 1 $N); do
		if [ -e "$T/src/o$i" ]; then
			"$AIS" get "ais://b/o$i" "$T/chk" >/dev/null || fail "get o$i"
			cmp -s "$T/chk" "$T/src/o$i" || fail "o$i: wrong bytes"
		else
			assert_cmd_fails "$AIS" get "ais://b/o$i" "$T/chk"
		fi
	done
}

# --- 1. a node joins during reads, overwrites and deletes ---------------
read_loop
ais_node_add 0
# During the rebalance: overwrite and delete objects the loop does not read.
for i in $(seq $((READ + 1)) $((READ + 50))); do
	{ printf 'o%d-g2\n' "$i"; head -c 65536 /dev/zero; } >"$T/src/o$i"
	"$AIS" put "$T/src/o$i" "ais://b/o$i" >/dev/null || fail "overwrite o$i"
done
for i in $(seq $((READ + 51)) $N); do
	"$AIS" rm "ais://b/o$i" >/dev/null || fail "delete o$i"
	rm "$T/src/o$i"
done
"$AIS" job show >&2 || true
ais_wait_for 120 ais_settled 4
stop_reading
live=$((N - 50))
ais_check_disks b $live
held=$(find "$T/extra0/mp0" -path '*/b/*' -type f | wc -l)
note "the new node holds $held of $live objects"
[ "$held" -gt $((live * 15 / 100)) ] && [ "$held" -lt $((live * 35 / 100)) ] ||
	fail "the new node holds $held of $live objects, not about a quarter"
check_objects

# --- 2. a sending node killed mid-rebalance, restarted ------------------
ais_node_add 1
ais_wait_for 30 sh -c "'$AIS' job show 2>/dev/null | grep -q ' running '"
sleep 1
note "killing node 0 during the rebalance"
ais_node_kill 0
sleep 2
timeout 90 "$AIS" local up --dir "$AIS_CLUSTER_DIR" --config "$AIS_TEST_AISD_CONF" \
	>"$T/up2.out" 2>&1 || fail "restart node 0: $(cat "$T/up2.out")"
ais_wait_for 180 ais_settled 5
ais_check_disks b $live
check_objects

# --- 3. decommission during reads ---------------------------------------
read_loop
gone=$(cat "$T/extra1/mp0/.ais/node")
xpid=$(ais_extra_pid 1)
"$AIS" cluster decommission "127.0.0.1:$((PORT + 11))" || fail "decommission"
ais_wait_for 180 ais_settled 4
stop_reading
"$AIS" cluster show | grep -q "$gone" && fail "decommissioned node $gone still in the map"
gone_proc() { ! _ais_alive "$xpid"; }
ais_wait_for 20 gone_proc
[ -e "$T/extra1/mp0/.ais/raft/removed" ] || fail "the decommissioned node left no marker"
[ "$(find "$T/extra1/mp0" -path '*/b/*' -type f | wc -l)" -eq 0 ] ||
	fail "the decommissioned node kept objects"
ais_check_disks b $live
check_objects
note "join, kill during rebalance and decommission: no read failed, nothing lost or doubled"
