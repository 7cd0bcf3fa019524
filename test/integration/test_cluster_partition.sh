#!/usr/bin/env bash
# A network partition, made with network namespaces: three nodes, each in a
# namespace of its own on a bridge (veth pairs), all on the same ports at
# different addresses. The leader is cut off (its veth taken down):
#  * the majority elects a new leader and keeps changing metadata;
#  * the cut-off node refuses metadata changes ("read-only") but still
#    serves the objects it holds;
#  * when the link is back it catches up (it sees the majority's bucket,
#    not its own refused one) without taking the leadership back.
# Needs root and `ip netns` (CI runs as root): skipped (a failure on CI)
# otherwise.
. "$(dirname "$0")/lib.sh"
ais_test_init cluster_partition

[ "$(id -u)" -eq 0 ] || ais_skip "needs root for network namespaces"
command -v ip >/dev/null || ais_skip "needs iproute2 (ip)"

k=$((RANDOM % 200 + 20))
net=10.231.$k
br=aisbr$k
ns=()
for i in 0 1 2; do ns[i]=ais$k-$i; done
APORT=51080
RPORT=52080

netns_down()
{
	local i
	for i in 0 1 2; do
		ip netns pids "${ns[i]}" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "${ns[i]}" 2>/dev/null
		ip link del "vh$k-$i" 2>/dev/null
	done
	ip link del "$br" 2>/dev/null
	true
}
ais_cleanup netns_down

ip link add "$br" type bridge || ais_skip "cannot create a bridge here"
ip addr add "$net.254/24" dev "$br"
ip link set "$br" up
for i in 0 1 2; do
	ip netns add "${ns[i]}" || ais_skip "cannot create a network namespace"
	ip link add "vh$k-$i" type veth peer name "vn$k-$i"
	ip link set "vn$k-$i" netns "${ns[i]}"
	ip link set "vh$k-$i" master "$br" up
	ip netns exec "${ns[i]}" ip addr add "$net.$((i + 1))/24" dev "vn$k-$i"
	ip netns exec "${ns[i]}" ip link set "vn$k-$i" up
	ip netns exec "${ns[i]}" ip link set lo up
done

seeds="$net.1:$APORT,$net.2:$APORT,$net.3:$APORT"
for i in 0 1 2; do
	mkdir -p "$T/n$i/mp"
	ip netns exec "${ns[i]}" "$AISD" -l "$net.$((i + 1))" -p $APORT \
		--raft-port $RPORT -m "$T/n$i/mp" -s "$seeds" --down-after 2000 \
		--pidfile "$T/n$i/aisd.pid" >>"$T/n$i/aisd.log" 2>&1 &
done
export AIS_ENDPOINT=$seeds

# The leader's node id, as node I (an address) sees it; "" for none.
leader_seen_by()
{
	local out
	out=$(AIS_ENDPOINT=$1 "$AIS" cluster show 2>&1 || true)
	echo "$out" >"$T/show.out"
	echo "$out" | sed -n '1s/.*leader \([0-9a-f]\{8,\}\).*/\1/p'
}
node_id()
{
	cat "$T/n$1/mp/.ais/node"
}

# All three in the map, online, with 3 voters.
three_up()
{
	local out
	out=$("$AIS" cluster show 2>/dev/null) || return 1
	[ "$(echo "$out" | grep -cE '^[0-9a-f]+ .* online +(leader|voter) +up')" -eq 3 ]
}
ais_wait_for 60 three_up
"$AIS" bucket create ais://before || fail "bucket create"
for j in $(seq 1 30); do
	head -c $((j * 997)) /dev/urandom >"$T/obj$j"
	"$AIS" put "$T/obj$j" "ais://before/o$j" >/dev/null || fail "put o$j"
done

leader=$(leader_seen_by "$net.2:$APORT")
[ -n "$leader" ] || fail "no leader shown by ais cluster show: $(cat "$T/show.out")"
cut=-1
for i in 0 1 2; do [ "$(node_id $i)" = "$leader" ] && cut=$i; done
[ $cut -ge 0 ] || fail "leader $leader is none of the nodes"
note "cutting off node $cut, the leader ($leader)"
ip link set "vh$k-$cut" down
t0=$(date +%s.%N)

majority=()
for i in 0 1 2; do [ $i -ne $cut ] && majority+=("$net.$((i + 1)):$APORT"); done
maj_ep=$(IFS=,; echo "${majority[*]}")

# The majority elects a new leader and takes a change.
ais_wait_for 20 env AIS_ENDPOINT="$maj_ep" "$AIS" bucket create ais://during ||
	fail "the majority could not create a bucket after the leader was cut off"
t1=$(date +%s.%N)
note "majority committed a change $(awk "BEGIN{print $t1 - $t0}") s after the cut"
new=$(leader_seen_by "${majority[0]}")
[ -n "$new" ] && [ "$new" != "$leader" ] ||
	fail "majority leader is '$new' (the old one was $leader)"

# The minority refuses changes: read-only, with a reason.
out=$(ip netns exec "${ns[cut]}" env AIS_ENDPOINT="$net.$((cut + 1)):$APORT" \
	timeout 60 "$AIS" bucket create ais://minority 2>&1) &&
	fail "the cut-off node took a metadata change: $out"
echo "$out" | grep -q "read-only" ||
	fail "the cut-off node's refusal does not say read-only: $out"

# ... and still serves what it holds.
served=0
for f in "$T/n$cut/mp/before"/o*; do
	[ -e "$f" ] || continue
	o=$(basename "$f")
	ip netns exec "${ns[cut]}" env AIS_ENDPOINT="$net.$((cut + 1)):$APORT" \
		timeout 30 "$AIS" get "ais://before/$o" "$T/got-$o" >/dev/null 2>&1 ||
		fail "the cut-off node did not serve its object $o"
	cmp -s "$T/got-$o" "$T/obj${o#o}" || fail "object $o: wrong bytes from the cut-off node"
	served=$((served + 1))
done
note "the cut-off node served its $served objects"

# The link comes back: the node catches up, without a new election.
ip link set "vh$k-$cut" up
ais_wait_for 30 sh -c "AIS_ENDPOINT=$net.$((cut + 1)):$APORT '$AIS' bucket ls 2>/dev/null | grep -q during" ||
	fail "the healed node does not see the majority's bucket"
follows_new() { [ "$(leader_seen_by "$net.$((cut + 1)):$APORT")" = "$new" ]; }
ais_wait_for 10 follows_new ||
	fail "the healed node does not follow the majority's leader $new"
"$AIS" bucket ls | grep -q minority && fail "the refused bucket exists"
[ "$(leader_seen_by "${majority[0]}")" = "$new" ] ||
	fail "the leadership moved when the node came back"
"$AIS" bucket create ais://after || fail "no change possible after healing"
# The leader marks the node up again once it answers (clients skip a node
# marked down): wait for that before reading its objects.
all_up()
{
	[ "$("$AIS" cluster show 2>/dev/null | grep -cE '^[0-9a-f]+ .* online .* up ')" -eq 3 ]
}
ais_wait_for 45 all_up
for j in $(seq 1 30); do
	"$AIS" get "ais://before/o$j" "$T/back$j" >/dev/null || fail "get o$j after healing"
	cmp -s "$T/back$j" "$T/obj$j" || fail "o$j: wrong bytes after healing"
done
note "partition: majority carried on, minority read-only and serving, healed cleanly"
