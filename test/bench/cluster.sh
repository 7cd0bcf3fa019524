#!/usr/bin/env bash
# The elastic cluster, measured against references in the same run:
#  * rebalance throughput: a 4th node joins a 3-node cluster holding
#    OBJS objects of SIZE; the bytes the rebalance moved over the time from
#    the join to every node done, against `cp -r` + sync of the same bytes
#    between two directories of this machine (ratio; goal >= 0.5);
#  * GET latency (aisloader, 4 threads x 8 in flight) during that
#    rebalance against the same load before it (p50, p99; goal p99 <= 2x);
#  * leader failover: SIGKILL of the Raft leader to the next committed
#    change (a bucket create through a surviving node), REPS times.
#   test/bench/cluster.sh BUILD_DIR [PORT] [OBJS] [SIZE] [REPS]
set -euo pipefail
B=$(cd "${1:?usage: cluster.sh BUILD_DIR [PORT] [OBJS] [SIZE] [REPS]}" && pwd)
PORT=${2:-31200}
OBJS=${3:-800}
SIZE=${4:-256KiB}
REPS=${5:-5}
AIS=$B/tools/ais
LOADER=$B/tools/aisloader/aisloader
D=$(mktemp -d "${TMPDIR:-/var/tmp}/aisbenchcl.XXXX")
# The CA and token local up saves stay in the work dir, out of $HOME.
export XDG_CONFIG_HOME=$D/xdg
cleanup()
{
	"$AIS" local down --dir "$D/c" >/dev/null 2>&1 || true
	[ -f "$D/x/aisd.pid" ] && kill "$(cat "$D/x/aisd.pid")" 2>/dev/null
	sleep 1
	rm -rf "$D"
}
trap cleanup EXIT
now() { date +%s.%N; }
export AIS_ENDPOINT=127.0.0.1:$PORT,127.0.0.1:$((PORT + 1)),127.0.0.1:$((PORT + 2))

"$AIS" local up --dir "$D/c" --nodes 3 --port "$PORT" >/dev/null
"$AIS" bucket create ais://r >/dev/null
"$LOADER" --bucket r --put-pct 100 --objects "$OBJS" --epochs 1 --order seq \
	--workers 4 --size "$SIZE" >/dev/null 2>&1
bytes=$(du -sb "$D"/c/node*/mp*/r | awk '{s += $1} END {print s}')

# Reference: the same bytes copied between two directories, made durable.
t0=$(now)
cp -r "$D/c/node0/mp0/r" "$D/copy0"
cp -r "$D/c/node1/mp0/r" "$D/copy1"
sync
t1=$(now)
copied=$(du -sb "$D/copy0" "$D/copy1" | awk '{s += $1} END {print s}')
cp_mbs=$(awk "BEGIN{printf \"%.1f\", $copied / ($t1 - $t0) / 1e6}")
rm -rf "$D/copy0" "$D/copy1"

lat()
{
	"$LOADER" --bucket r --workers 4 --conns 8 --duration "$1" --json 2>/dev/null |
		python3 -c 'import json,sys; j=json.load(sys.stdin); l=j.get("latency_us") or j.get("latency") or {}; print(l.get("p50","?"), l.get("p99","?"))'
}
before=$(lat 5s)

rid0=$("$AIS" job show | awk '/^[0-9a-f]+ /{print $2}' | sort -n | tail -1)
# Four nodes done with one generation newer than before the join.
settled()
{
	local job
	job=$("$AIS" job show 2>/dev/null) || return 1
	[ "$(echo "$job" | awk -v r="$rid0" '/^[0-9a-f]+ / && $2 > r && $3 == "done"' | wc -l)" -eq 4 ] &&
		[ "$(echo "$job" | awk '/^[0-9a-f]+ /{print $2}' | sort -u | wc -l)" -eq 1 ]
}
mkdir -p "$D/x/mp0"
t0=$(now)
"$B/daemon/aisd" -l 127.0.0.1 -p $((PORT + 10)) --raft-port $((PORT + 11)) \
	-m "$D/x/mp0" -j "127.0.0.1:$PORT" --pidfile "$D/x/aisd.pid" \
	>"$D/x/aisd.log" 2>&1 &
lat 4s >"$D/during" &
latpid=$!
until settled; do sleep 0.1; done
t1=$(now)
wait "$latpid" || true
during=$(cat "$D/during")
moved=$(du -sb "$D/x/mp0/r" | awk '{print $1}')
reb_mbs=$(awk "BEGIN{printf \"%.1f\", $moved / ($t1 - $t0) / 1e6}")
# The rebalance alone, from the nodes' logs: the first node to start the
# newest generation to the last one done with it.
move_s=$(cat "$D"/c/node*/aisd.log "$D/x/aisd.log" | python3 -c '
import re, sys, datetime
ev = {}
for l in sys.stdin:
    m = re.match(r"(\S+ \S+) aisd\[\d+\] NOTE: rebalance (\d+): (started|this node is done)", l)
    if m:
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        ev.setdefault(int(m.group(2)), []).append((m.group(3), t))
g = max(ev)
s = min(t for k, t in ev[g] if k == "started")
e = max(t for k, t in ev[g] if k != "started")
print("%.3f" % (e - s))')
mv_mbs=$(awk "BEGIN{printf \"%.1f\", $moved / $move_s / 1e6}")

echo "data: $OBJS objects of $SIZE, $(awk "BEGIN{printf \"%.0f\", $bytes/1e6}") MB"
echo "rebalance: $(awk "BEGIN{printf \"%.0f\", $moved/1e6}") MB to the new node in $move_s s (first node started to last node done) = $mv_mbs MB/s; cp -r + sync $cp_mbs MB/s; ratio $(awk "BEGIN{printf \"%.2f\", $mv_mbs / $cp_mbs}")"
echo "join: $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s from aisd --join to every node done and the cluster settled ($reb_mbs MB/s over that)"
echo "GET latency us (p50 p99): before $before; during the rebalance $during"

# Leader failover.
for r in $(seq 1 "$REPS"); do
	leader=$("$AIS" cluster show | sed -n '1s/.*leader \([0-9a-f]*\).*/\1/p')
	pidf=$(grep -l "$leader" "$D"/c/node*/mp0/.ais/node | head -1 | sed 's#/mp0/.ais/node#/aisd.pid#')
	[ -n "$pidf" ] || pidf=$D/x/aisd.pid
	t0=$(now)
	kill -9 "$(cat "$pidf")"
	until "$AIS" bucket create "ais://fo$r" >/dev/null 2>&1; do sleep 0.05; done
	t1=$(now)
	echo "failover $r: $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s from SIGKILL of the leader to the next committed change"
	"$AIS" local up --dir "$D/c" >/dev/null 2>&1 || true
	if ! kill -0 "$(cat "$D/x/aisd.pid")" 2>/dev/null; then
		"$B/daemon/aisd" -l 127.0.0.1 -p $((PORT + 10)) --raft-port $((PORT + 11)) \
			-m "$D/x/mp0" -j "127.0.0.1:$PORT" --pidfile "$D/x/aisd.pid" \
			>>"$D/x/aisd.log" 2>&1 &
	fi
	sleep 3
done
