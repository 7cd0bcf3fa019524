#!/usr/bin/env bash
# Node lifecycle on a 4-node cluster while one loop stats and reads objects of r/
# and another lists r/ (`ais ls -r`: 1,200 names, two pages of the default
# 1,000), rebalances throttled to 1 MB/s per node so that they overlap:
#  1. maintenance start on a node: it keeps (and serves) what it holds, new
#     objects go elsewhere; stop puts it back and a rebalance brings its
#     share home; no read fails, every listing is exactly the set of names;
#  2. a 5th node joins: every listing made during the rebalance is exactly
#     the set (no name missed, none twice);
#  3. the Raft leader is killed with SIGKILL: a new leader within seconds,
#     a bucket create and a maintenance change commit through the
#     survivors; the old leader restarts with its data and rejoins.
. "$(dirname "$0")/lib.sh"
ais_test_init cluster_lifecycle

printf 'rebalance_rate_mb = 1\n' >"$T/aisd.conf"
export AIS_TEST_AISD_CONF=$T/aisd.conf
# Each node starts a page's scan 0-200 ms late (daemon/rpc/list.c): the
# scans of one listing are far apart while objects move between them.
export AISD_TEST_LIST_DELAY_MS=200
ais_cluster_up 4
EPS=127.0.0.1:$PORT,127.0.0.1:$((PORT + 1)),127.0.0.1:$((PORT + 2)),127.0.0.1:$((PORT + 3))
export AIS_ENDPOINT=$EPS
"$AIS" bucket create ais://b

N=1200 # objects r/o1..r/oN of 64 KiB: read and listed
mkdir -p "$T/src/r"
for i in $(seq 1 $N); do
	{ printf 'o%d\n' "$i"; head -c 65536 /dev/zero; } >"$T/src/r/o$i"
done
"$AIS" put -r -q "$T/src/r" ais://b/r || fail "upload"
(cd "$T/src" && find r -type f | sort) >"$T/names"
[ "$(wc -l <"$T/names")" -eq $N ] || fail "source names"

# Background loops until $T/stop exists; failures to $T/fail.
LOOPS=()
read_loop()
{
	local i
	while [ ! -e "$T/stop" ]; do
		for i in $(seq 1 $N | shuf -n 200); do
			# A third are stat'ed first: during a move a stat of
			# an object not yet at its new owner asks the old one.
			if [ $((i % 3)) -eq 0 ] &&
				! "$AIS" stat "ais://b/r/o$i" >"$T/st" 2>"$T/rl.err"; then
				echo "stat r/o$i: $(cat "$T/rl.err")" >>"$T/fail"
			elif [ $((i % 3)) -eq 0 ] && ! grep -q "$(stat -c %s "$T/src/r/o$i")" "$T/st"; then
				echo "stat r/o$i: wrong size: $(head -2 "$T/st")" >>"$T/fail"
			fi
			ais_get_check "ais://b/r/o$i" "$T/src/r/o$i" "$T/fail"
		done
		echo r >>"$T/rounds"
	done
}
list_loop()
{
	while [ ! -e "$T/stop" ]; do
		if ! "$AIS" ls -r ais://b/r/ >"$T/ls" 2>"$T/ls.err"; then
			echo "ls: $(cat "$T/ls.err")" >>"$T/fail"
		else
			sort "$T/ls" >"$T/ls.sorted"
			if ! cmp -s "$T/ls.sorted" "$T/names"; then
				echo "ls: $(comm -23 "$T/names" "$T/ls.sorted" 2>/dev/null | wc -l) missed" \
					"($(comm -23 "$T/names" "$T/ls.sorted" | head -3 | tr '\n' ' '))," \
					"$(sort "$T/ls.sorted" | uniq -d | wc -l) twice," \
					"$(comm -13 "$T/names" "$T/ls.sorted" | wc -l) unknown" >>"$T/fail"
			fi
		fi
		echo l >>"$T/lists"
	done
}
start_loops()
{
	rm -f "$T/stop" "$T/rounds" "$T/lists"
	: >"$T/fail"
	read_loop &
	LOOPS+=($!)
	list_loop &
	LOOPS+=($!)
}
stop_loops()
{
	local p
	touch "$T/stop"
	for p in "${LOOPS[@]}"; do wait "$p" || true; done
	LOOPS=()
	[ -s "$T/fail" ] && fail "$1: $(sort "$T/fail" | uniq -c | sort -rn | head -5)"
	note "$1: $(wc -l <"$T/rounds") read rounds, $(wc -l <"$T/lists") listings, none failed"
}
end_loops()
{
	local p
	touch "$T/stop"
	for p in "${LOOPS[@]}"; do wait "$p" 2>/dev/null || true; done
}
ais_cleanup end_loops

# The node list of `ais cluster show`: "ID HOST:PORT STATE ROLE UP/DOWN".
show() { "$AIS" cluster show 2>/dev/null; }
# The object files of bucket b on node I's disks.
# (Not the shard index sidecars under .ais/.)
files_of() { find "$AIS_CLUSTER_DIR/node$1"/mp* -path '*/b/*' -not -path '*/.ais/*' -type f 2>/dev/null; }
check_objects()
{
	local i
	for i in $(seq 1 $N); do
		"$AIS" get "ais://b/r/o$i" "$T/chk" >/dev/null || fail "get r/o$i"
		cmp -s "$T/chk" "$T/src/r/o$i" || fail "r/o$i: wrong bytes"
	done
}
ais_wait_for 60 ais_settled 4

# Shards made by GNU tar: s/sK.tar holds a/m1, a/m2 and b/m3.
S=20
for k in $(seq 1 $S); do
	mkdir -p "$T/sh$k/a" "$T/sh$k/b"
	printf 'shard %d member 1\n' "$k" >"$T/sh$k/a/m1"
	head -c $((3000 + k)) /dev/urandom >"$T/sh$k/a/m2"
	printf 'shard %d member 3\n' "$k" >"$T/sh$k/b/m3"
	tar -C "$T/sh$k" -cf "$T/s$k.tar" a b
	"$AIS" put -q "$T/s$k.tar" "ais://b/s/s$k.tar" >/dev/null || fail "put s$k.tar"
done

# --- 1. maintenance start and stop ------------------------------------
M=2
mid=$(cat "$AIS_CLUSTER_DIR/node$M/mp0/.ais/node")
held=$(files_of $M | wc -l)
note "node $M ($mid) holds $held objects"
start_loops
g=$(ais_rebalance_gen)
"$AIS" cluster maintenance start "127.0.0.1:$((PORT + M))" >"$T/m.out" ||
	fail "maintenance start: $(cat "$T/m.out")"
grep -q "maintenance started" "$T/m.out" || fail "maintenance start said: $(cat "$T/m.out")"
ais_wait_for 60 ais_settled 4 1 "$g"
show | grep -E "^$mid .* maintenance " >/dev/null || fail "node $M not shown in maintenance"
# What the node in maintenance holds is read through the new owners, which
# do not hold it: ranges, shard listings and members, byte for byte.
ranged=0
for f in $(files_of $M | grep '/b/r/' | head -20); do
	o=$(basename "$f")
	"$AIS" get "ais://b/r/$o" - --offset 3 --length 100 >"$T/rg" ||
		fail "range of r/$o on the node in maintenance"
	cmp -s "$T/rg" <(tail -c +4 "$T/src/r/$o" | head -c 100) || fail "range of r/$o: wrong bytes"
	ranged=$((ranged + 1))
done
shards=0
for f in $(files_of $M | grep '/b/s/'); do
	k=$(basename "$f" .tar)
	k=${k#s}
	"$AIS" shard ls "ais://b/s/s$k.tar" >"$T/sls" 2>&1 ||
		fail "shard ls of s$k.tar on the node in maintenance: $(cat "$T/sls")"
	for m in a/m1 a/m2 b/m3; do
		grep -q "$m" "$T/sls" || fail "shard ls of s$k.tar lacks $m: $(cat "$T/sls")"
		"$AIS" get "ais://b/s/s$k.tar" --member "$m" "$T/mem" >/dev/null ||
			fail "member $m of s$k.tar on the node in maintenance"
		cmp -s "$T/mem" "$T/sh$k/$m" || fail "member $m of s$k.tar: wrong bytes"
	done
	shards=$((shards + 1))
done
note "read through the new owners: $ranged ranges, $shards shards (3 members each)"
[ "$ranged" -gt 0 ] && [ "$shards" -gt 0 ] || fail "the node in maintenance holds no object or shard to test"
# New objects go to the other nodes; the node keeps what it held.
for i in $(seq 1 40); do
	printf 'new %d\n' "$i" | "$AIS" put - "ais://b/n/o$i" >/dev/null || fail "put n/o$i"
done
[ "$(files_of $M | grep -c '/b/n/')" -eq 0 ] || fail "a new object landed on the node in maintenance"
[ "$(files_of $M | wc -l)" -eq "$held" ] ||
	fail "the node in maintenance holds $(files_of $M | wc -l) objects, had $held"
sleep 2
g=$(ais_rebalance_gen)
"$AIS" cluster maintenance stop "$mid" >"$T/m.out" || fail "maintenance stop: $(cat "$T/m.out")"
grep -q "maintenance stopped" "$T/m.out" || fail "maintenance stop said: $(cat "$T/m.out")"
ais_wait_for 90 ais_settled 4 0 "$g"
stop_loops "maintenance start/stop"
ais_check_disks b $((N + 40 + S))
mine=$(files_of $M | wc -l)
[ "$mine" -gt $(((N + 40) * 15 / 100)) ] ||
	fail "after maintenance stop node $M holds $mine of $((N + 40)) objects"
for i in $(seq 1 40); do
	[ "$("$AIS" get "ais://b/n/o$i" -)" = "new $i" ] || fail "n/o$i after maintenance"
done

# --- 2. listings while a 5th node joins --------------------------------
start_loops
sleep 1
ais_node_add 0
ais_wait_for 120 ais_settled 5
stop_loops "a node joined"
ais_check_disks b $((N + 40 + S))
[ "$(find "$T/extra0/mp0" -path '*/b/*' -type f | wc -l)" -gt 0 ] ||
	fail "the new node received nothing"
check_objects

# --- 3. the leader killed -----------------------------------------------
leader=$(show | sed -n '1s/.*leader \([0-9a-f]\{16\}\).*/\1/p')
[ -n "$leader" ] || fail "no leader in: $(show | head -1)"
L=-1
for i in 0 1 2 3; do
	[ "$(cat "$AIS_CLUSTER_DIR/node$i/mp0/.ais/node")" = "$leader" ] && L=$i
done
if [ $L -lt 0 ]; then
	# The leader is the extra node: kill it through its pid.
	note "the leader is the joined node"
	kill -9 "$(ais_extra_pid 0)"
	restart_leader() { ais_node_add 0; }
else
	note "killing node $L, the leader ($leader)"
	ais_node_kill $L KILL
	restart_leader() { ais_node_restart; }
fi
t0=$(now_ms)
new_leader()
{
	local l
	l=$(show | sed -n '1s/.*leader \([0-9a-f]\{16\}\).*/\1/p')
	[ -n "$l" ] && [ "$l" != "$leader" ]
}
ais_wait_for 30 new_leader
note "a new leader $(($(now_ms) - t0)) ms after the SIGKILL"
"$AIS" bucket create ais://after || fail "bucket create after the leader died"
note "bucket create committed $(($(now_ms) - t0)) ms after the SIGKILL"
# A maintenance change on a surviving node, and back.
other=
for i in 0 1 2 3; do [ $i -ne $L ] && [ -z "$other" ] && other=$i; done
"$AIS" cluster maintenance start "127.0.0.1:$((PORT + other))" >"$T/m.out" ||
	fail "maintenance start after the leader died: $(cat "$T/m.out")"
show | grep -qE "^$(cat "$AIS_CLUSTER_DIR/node$other/mp0/.ais/node") .* maintenance " ||
	fail "node $other not in maintenance: $(show)"
"$AIS" cluster maintenance stop "127.0.0.1:$((PORT + other))" >"$T/m.out" ||
	fail "maintenance stop after the leader died: $(cat "$T/m.out")"
# Five nodes want five voters: with one dead, every survivor votes (the
# standby took the dead voter's place).
voters() { [ "$(show | grep -cE '^[0-9a-f]{16} .* (leader|voter) +up')" -eq 4 ]; }
ais_wait_for 30 voters
"$AIS" bucket ls | grep -qx 'ais://after' || fail "bucket after not listed: $("$AIS" bucket ls)"

restart_leader
ais_wait_for 120 ais_settled 5
show | grep -q "^$leader " || fail "the old leader did not rejoin with its id"
"$AIS" bucket ls | grep -qx 'ais://after' || fail "bucket after not listed after the restart"
ais_check_disks b $((N + 40 + S))
check_objects
note "maintenance, a join and a leader's death: no read or listing failed, nothing lost or doubled"
