#!/usr/bin/env bash
# A mountpath added to a node (aisd(8): the mountpath list in the config or
# on the command line, then a restart): the node moves every object onto
# the mountpath it now belongs to while it serves them. Every object is
# read right after the restart (on one file system the resilver is a
# rename per object and may be over by then: reads look on every
# mountpath either way); afterwards the new mountpath holds its share,
# no object is on two mountpaths, every byte is right, a listing has every
# name once, and a restart with the same set moves nothing.
. "$(dirname "$0")/lib.sh"
ais_test_init resilver

D=$T/node
mkdir -p "$D/mp0" "$D/mp1" "$D/mp2"
start()
{
	"$AISD" -l 127.0.0.1 -p "$PORT" --raft-port $((PORT + 1)) \
		--pidfile "$D/aisd.pid" "$@" >>"$D/aisd.log" 2>&1 &
	ready() { "$AIS" bucket ls >/dev/null 2>&1; }
	ais_wait_for 30 ready
}
stop()
{
	local pid
	pid=$(tr -d ' \n' <"$D/aisd.pid")
	kill "$pid"
	gone() { ! _ais_alive "$pid"; }
	ais_wait_for 20 gone
}
end_node() { kill "$(cat "$D/aisd.pid" 2>/dev/null)" 2>/dev/null || true; }
ais_cleanup end_node

start -m "$D/mp0" -m "$D/mp1"
"$AIS" bucket create ais://b
N=400
mkdir -p "$T/src"
for i in $(seq 1 $N); do
	{ printf 'object %d\n' "$i"; head -c $((i * 37)) /dev/urandom; } >"$T/src/o$i"
done
"$AIS" put -r -q "$T/src" ais://b/d || fail "upload"
stop

# Restart with a third mountpath; read everything at once.
# (The first start resilvered nothing: a node without the memory of its
# mountpath set checks once.)
dones=$(grep -c "resilver done" "$D/aisd.log")
start -m "$D/mp0" -m "$D/mp1" -m "$D/mp2"
: >"$T/fail"
for i in $(seq 1 $N); do
	if ! "$AIS" get "ais://b/d/o$i" "$T/got" >/dev/null 2>"$T/err"; then
		echo "o$i: $(cat "$T/err")" >>"$T/fail"
	elif ! cmp -s "$T/got" "$T/src/o$i"; then
		echo "o$i: wrong bytes" >>"$T/fail"
	fi
done
[ -s "$T/fail" ] && fail "reads during the resilver: $(head -3 "$T/fail")"
done_log() { [ "$(grep -c "resilver done" "$D/aisd.log")" -gt "$dones" ]; }
ais_wait_for 60 done_log
grep "resilver done" "$D/aisd.log" | tail -1 >&2

on() { find "$D/mp$1/b" -type f 2>/dev/null | wc -l; }
n0=$(on 0) n1=$(on 1) n2=$(on 2)
note "objects per mountpath: $n0 $n1 $n2"
assert_eq $N $((n0 + n1 + n2)) "objects on the three mountpaths"
[ "$n2" -gt $((N * 15 / 100)) ] && [ "$n2" -lt $((N * 50 / 100)) ] ||
	fail "the new mountpath holds $n2 of $N objects, not about a third"
dups=$(find "$D"/mp*/b -type f -printf '%f\n' | sort | uniq -d)
[ -z "$dups" ] || fail "objects on two mountpaths: $(echo "$dups" | head -3)"
for i in $(seq 1 $N); do
	"$AIS" get "ais://b/d/o$i" "$T/got" >/dev/null || fail "get o$i after the resilver"
	cmp -s "$T/got" "$T/src/o$i" || fail "o$i: wrong bytes after the resilver"
done
[ "$("$AIS" ls -r ais://b/d/ | sort -u | wc -l)" -eq $N ] ||
	fail "the listing does not have every name once"
[ "$("$AIS" ls -r ais://b/d/ | wc -l)" -eq $N ] || fail "the listing has duplicates"

# The same set again: nothing to do.
stop
start -m "$D/mp0" -m "$D/mp1" -m "$D/mp2"
sleep 1
[ "$(grep -c "the mountpath set changed" "$D/aisd.log")" -eq 2 ] ||
	fail "a restart with the same mountpaths resilvered again"
note "a mountpath added: $n2 of $N objects moved onto it, no read failed"
