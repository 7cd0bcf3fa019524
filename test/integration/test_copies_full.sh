#!/usr/bin/env bash
# A copy's disk full during a PUT (copies=3 on 3 nodes, the third node's
# mountpath an 8 MiB tmpfs). What aisd(8) promises:
# * the full node is a replica: the PUT succeeds degraded, `ais put` says
#   so, the object reads right from the others, the full node keeps no
#   partial file, and the copy is made once the disk has room;
# * the full node takes the PUT (its owner): the PUT fails with ENOSPC and
#   no copy of the new version exists anywhere; the old one stays on every
#   node and reads right.
# Needs root (mount).
. "$(dirname "$0")/lib.sh"
ais_test_init copies_full

[ "$(id -u)" = 0 ] || ais_skip "needs root to mount a small tmpfs"
ais_cluster_up 2
FULL=$T/extra0/mp0
mkdir -p "$FULL"
mount -t tmpfs -o size=8m aisfull "$FULL" || ais_skip "cannot mount a tmpfs"
ais_cleanup umount -l "$FULL"
ais_node_add 0
ais_wait_for 60 ais_settled 3
FULL_ID=$(cat "$FULL/.ais/node")

"$AIS" bucket create ais://f --copies 3

# node_of NAME: the owner of ais://f/NAME (the first node `ais stat` lists).
node_of()
{
	"$AIS" stat "ais://f/$1" | awk '$1 == "nodes" {print $2}'
}
# files_of NAME: the object files of NAME on every node.
files_of()
{
	find "$AIS_CLUSTER_DIR"/node*/mp* "$FULL" -path "*/f/$1" -not -path '*/.ais/*' \
		-type f 2>/dev/null
}
tmp_empty()
{
	[ -z "$(find "$FULL/.ais/tmp" -type f 2>/dev/null)" ]
}

# Small first versions of 40 names; find one the full node owns and one
# it does not.
mkdir -p "$T/src"
for i in $(seq 1 40); do
	printf 'first version of n%d\n' "$i" >"$T/src/n$i.v1"
	"$AIS" put -q "$T/src/n$i.v1" "ais://f/n$i" || fail "PUT n$i v1"
done
OWN="" REP=""
for i in $(seq 1 40); do
	if [ "$(node_of "n$i")" = "$FULL_ID" ]; then
		[ -n "$OWN" ] || OWN=n$i
	else
		[ -n "$REP" ] || REP=n$i
	fi
done
[ -n "$OWN" ] && [ -n "$REP" ] || fail "no name owned by the full node ($OWN) or by another ($REP)"
assert_eq 3 "$(files_of "$OWN" | wc -l)" "copies of $OWN"
note "full node $FULL_ID owns $OWN, not $REP"

# ---- the full node is a replica: degraded, then repaired -----------------
head -c $((12 << 20)) /dev/urandom >"$T/src/big"
"$AIS" put -q "$T/src/big" "ais://f/$REP" 2>"$T/put.err" ||
	fail "PUT with a replica's disk full failed: $(cat "$T/put.err")"
grep -q "fewer copies" "$T/put.err" || fail "ais put did not say the PUT is degraded: $(cat "$T/put.err")"
ais_wait_for 5 tmp_empty || fail "a partial file left on the full node: $(find "$FULL/.ais/tmp" -type f)"
"$AIS" get "ais://f/$REP" "$T/got" >/dev/null || fail "GET $REP"
cmp -s "$T/got" "$T/src/big" || fail "GET $REP: wrong bytes"
# The full node holds no new bytes (its old copy, or none).
for f in $(files_of "$REP"); do
	case $f in
	"$FULL"/*) cmp -s "$f" "$T/src/$REP.v1" || fail "the full node holds a partial $REP" ;;
	*) cmp -s "$f" "$T/src/big" || fail "$f: not the new version" ;;
	esac
done
"$AIS" cluster show | grep -q "degraded" || fail "cluster show counts no degraded object"
[ "$("$AIS" bucket summary ais://f | awk '$1 == "ais://f" {print $5}')" -ge 1 ] ||
	fail "bucket summary counts no degraded object: $("$AIS" bucket summary ais://f)"

# ---- the full node owns the name: ENOSPC, the old version everywhere -----
if "$AIS" put -q "$T/src/big" "ais://f/$OWN" 2>"$T/put2.err"; then
	fail "PUT owned by the full node succeeded"
fi
grep -qi "space" "$T/put2.err" || fail "no ENOSPC message: $(cat "$T/put2.err")"
ais_wait_for 5 tmp_empty || fail "a partial file left on the full node"
for f in $(files_of "$OWN"); do
	cmp -s "$f" "$T/src/$OWN.v1" || fail "$f: not the old version after a failed PUT"
done
assert_eq 3 "$(files_of "$OWN" | wc -l)" "copies of $OWN after the failed PUT"
"$AIS" get "ais://f/$OWN" "$T/got" >/dev/null || fail "GET $OWN after the failed PUT"
cmp -s "$T/got" "$T/src/$OWN.v1" || fail "GET $OWN: not the old version"

# ---- room again: the missing copy is made ---------------------------------
mount -o remount,size=64m "$FULL" || fail "remount the tmpfs bigger"
full_copy_ok()
{
	local f
	f=$(find "$FULL" -path "*/f/$REP" -not -path '*/.ais/*' -type f | head -1)
	[ -n "$f" ] && cmp -s "$f" "$T/src/big"
}
ais_wait_for 60 full_copy_ok || fail "the missing copy was not made within 60 s"
ais_wait_for 30 sh -c "! '$AIS' cluster show | grep -q degraded" ||
	fail "still degraded: $("$AIS" cluster show)"
# Every node's copy of REP is the new version; the others are untouched.
assert_eq 3 "$(files_of "$REP" | wc -l)" "copies of $REP after the repair"
for f in $(files_of "$REP"); do
	cmp -s "$f" "$T/src/big" || fail "$f: not the new version after the repair"
done
for i in $(seq 1 40); do
	[ "n$i" = "$REP" ] && continue
	"$AIS" get "ais://f/n$i" - 2>/dev/null | cmp -s - "$T/src/n$i.v1" ||
		fail "n$i changed"
done
note "ok"
