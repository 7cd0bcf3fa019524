#!/usr/bin/env bash
# copies=N (ais bucket create --copies, ais bucket props set): every object
# on N different nodes. With one node of three killed (SIGKILL), every GET
# and the listing succeed and every byte is right; PUTs, overwrites and
# DELETEs made during the outage succeed, are counted as degraded, and are
# on every copy within a minute of the node's restart (the restarted node
# serves no stale copy meanwhile: it catches up first). Changing copies
# adds or drops copies in a rebalance; `ais cluster remove --force` of a
# dead node makes the lost copies again from the survivors.
. "$(dirname "$0")/lib.sh"
ais_test_init copies

# copies_ok BUCKET WANT: every object of BUCKET on WANT nodes (and on one
# mountpath of each), none elsewhere. Prints the first offender.
copies_ok()
{
	local bad
	bad=$(for d in "$AIS_CLUSTER_DIR"/node*; do
		find "$d"/mp* -path "*/$1/*" -not -path '*/.ais/*' -type f \
			-printf '%P\n' 2>/dev/null | sort -u
	done | sort | uniq -c | awk -v w="$2" '$1 != w {print; exit}')
	[ -z "$bad" ] || { echo "copies: $bad (want $2)" >&2; return 1; }
	# Each node holds a name once (one mountpath).
	for d in "$AIS_CLUSTER_DIR"/node*; do
		bad=$(find "$d"/mp* -path "*/$1/*" -not -path '*/.ais/*' -type f \
			-printf '%P\n' 2>/dev/null | sort | uniq -d | head -1)
		[ -z "$bad" ] || { echo "on two mountpaths of $d: $bad" >&2; return 1; }
	done
}
copies_of_name()
{ # copies_of_name BUCKET NAME: the files of the object's copies
	find "$AIS_CLUSTER_DIR"/node*/mp* -path "*/$1/$2" -type f 2>/dev/null
}
count_files()
{
	find "$AIS_CLUSTER_DIR"/node*/mp* -path "*/$1/*" -not -path '*/.ais/*' \
		-type f 2>/dev/null | wc -l
}
read_all()
{ # read_all BUCKET PREFIX SRC N FAILFILE
	local i
	for i in $(seq 1 "$4"); do
		ais_get_check "ais://$1/$2o$i" "$3/o$i" "$5"
	done
}

ais_cluster_up 3
N=300
mkdir -p "$T/src" "$T/new"
for i in $(seq 1 $N); do
	{ printf 'object %d\n' "$i"; head -c $((i * 53)) /dev/urandom; } >"$T/src/o$i"
done

# ---- properties -------------------------------------------------------
"$AIS" bucket create ais://two --copies 2
"$AIS" bucket create ais://one
assert_eq 2 "$("$AIS" bucket props ais://two | awk '$1 == "copies" {print $2}')" "copies of two"
assert_eq 1 "$("$AIS" bucket props ais://one | awk '$1 == "copies" {print $2}')" "copies of one"
assert_cmd_fails "$AIS" bucket create ais://four --copies 4
"$AIS" bucket props ais://four >/dev/null 2>&1 && fail "a refused create made the bucket"
assert_cmd_fails "$AIS" bucket create ais://zero --copies 0
assert_cmd_fails "$AIS" bucket props ais://nope
assert_cmd_fails "$AIS" bucket props set ais://two copies=4

# ---- every object on two nodes ----------------------------------------
"$AIS" put -r -q "$T/src" ais://two/d/ || fail "upload"
copies_ok two 2 || fail "after the upload"
assert_eq $((2 * N)) "$(count_files two)" "copies on the disks"
: >"$T/fail"
read_all two d/ "$T/src" $N "$T/fail"
[ -s "$T/fail" ] && fail "reads with every node up: $(head -3 "$T/fail")"

# ---- one node killed: every read, listing and write succeeds -----------
ais_node_kill 1
: >"$T/fail"
read_all two d/ "$T/src" $N "$T/fail"
[ -s "$T/fail" ] && fail "reads with node 1 dead: $(wc -l <"$T/fail") failed: $(head -3 "$T/fail")"
assert_eq $N "$("$AIS" ls -r ais://two | grep -c '^d/o')" "listing with node 1 dead"
# Writes: new objects, overwrites of old ones, deletes.
for i in $(seq 1 60); do
	{ printf 'new %d\n' "$i"; head -c $((i * 97)) /dev/urandom; } >"$T/new/o$i"
done
"$AIS" put -r -q "$T/new" ais://two/n/ || fail "PUTs with node 1 dead"
for i in $(seq 1 40); do
	{ printf 'rewritten %d\n' "$i"; head -c 777 /dev/urandom; } >"$T/src/o$i"
	"$AIS" put -q "$T/src/o$i" "ais://two/d/o$i" || fail "overwrite o$i with node 1 dead"
done
for i in $(seq 41 60); do
	"$AIS" rm "ais://two/d/o$i" >/dev/null || fail "delete o$i with node 1 dead"
done
degraded=$("$AIS" bucket summary ais://two | awk '$1 == "ais://two" {print $NF}')
[ "$degraded" -gt 0 ] || fail "no degraded objects counted during the outage"
"$AIS" cluster show | grep -q 'degraded' || fail "ais cluster show does not count degraded objects"
: >"$T/fail"
read_all two n/ "$T/new" 60 "$T/fail"
read_all two d/ "$T/src" 40 "$T/fail"
[ -s "$T/fail" ] && fail "reads of the outage's writes: $(head -3 "$T/fail")"

# ---- the node comes back: no stale read, every copy made ---------------
ais_node_restart
: >"$T/fail"
read_all two d/ "$T/src" 40 "$T/fail"
read_all two n/ "$T/new" 60 "$T/fail"
for i in $(seq 41 60); do
	"$AIS" get "ais://two/d/o$i" "$T/got" >/dev/null 2>&1 &&
		echo "o$i: deleted during the outage, back after the restart" >>"$T/fail"
done
[ -s "$T/fail" ] && fail "reads right after the restart: $(head -3 "$T/fail")"
replicated()
{
	copies_ok two 2 2>/dev/null &&
		[ "$(count_files two)" -eq $((2 * (N - 20 + 60))) ]
}
ais_wait_for 60 replicated
copies_ok two 2 || fail "after the restart"
assert_eq $((N - 20 + 60)) "$("$AIS" ls -r ais://two | grep -c .)" "listing after the restart"
degraded_done() { "$AIS" bucket summary ais://two | awk '$1 == "ais://two" {exit $NF != 0}'; }
ais_wait_for 30 degraded_done
# Every copy the same bytes: each node's file of an overwritten object.
for i in 1 17 40; do
	for f in $(find "$AIS_CLUSTER_DIR"/node*/mp* -path "*/two/d/o$i" -type f); do
		cmp -s "$f" "$T/src/o$i" || fail "a copy of d/o$i is stale: $f"
	done
done

# ---- two clients overwrite one name during an outage -------------------
ais_node_kill 1
head -c 40000 /dev/urandom >"$T/va"
head -c 50000 /dev/urandom >"$T/vb"
for k in 1 2 3; do
	"$AIS" put -q "$T/va" ais://two/race &
	"$AIS" put -q "$T/vb" ais://two/race &
	wait
done
ais_node_restart
same_copies()
{
	local f first=""
	[ "$(copies_of_name two race | wc -l)" -eq 2 ] || return 1
	for f in $(copies_of_name two race); do
		[ -z "$first" ] && first=$f && continue
		cmp -s "$f" "$first" || return 1
	done
}
ais_wait_for 60 same_copies
"$AIS" get ais://two/race "$T/got" || fail "get race"
f=$(copies_of_name two race | head -1)
cmp -s "$T/got" "$f" || fail "GET of race is not what the copies hold"
{ cmp -s "$T/got" "$T/va" || cmp -s "$T/got" "$T/vb"; } || fail "race holds neither version"

# ---- copies=3, then 1: a rebalance adds and drops copies --------------
"$AIS" bucket props set ais://two copies=3 >/dev/null
ais_wait_for 60 copies_ok two 3
"$AIS" bucket props set ais://two copies=1 >/dev/null
ais_wait_for 60 copies_ok two 1
: >"$T/fail"
read_all two d/ "$T/src" 40 "$T/fail"
[ -s "$T/fail" ] && fail "reads after copies=1: $(head -3 "$T/fail")"

# ---- a dead node removed: the survivors make its copies again ---------
"$AIS" bucket props set ais://two copies=2 >/dev/null
ais_wait_for 60 copies_ok two 2
ais_node_kill 2
id=$("$AIS" cluster show | awk -v p=":$((PORT + 2)) " '$0 ~ p {print $1}')
[ -n "$id" ] || fail "no id for node 2"
marked_down() { "$AIS" cluster show | grep "^$id " | grep -q ' down '; }
ais_wait_for 30 marked_down
gen=$(ais_rebalance_gen)
"$AIS" cluster remove "$id" --force >/dev/null || fail "remove --force"
rm -rf "$AIS_CLUSTER_DIR/node2" # its disks are gone with it
ais_wait_for 60 ais_settled 2 0 "$gen"
copies_ok two 2 || fail "after the remove"
: >"$T/fail"
read_all two d/ "$T/src" 40 "$T/fail"
read_all two n/ "$T/new" 60 "$T/fail"
[ -s "$T/fail" ] && fail "reads after the remove: $(head -3 "$T/fail")"
note "copies: ok"
