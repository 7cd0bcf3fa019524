#!/usr/bin/env bash
# The node's CPU time per cached 4 KiB GET, for comparing two builds on a
# noisy machine (CPU time moves less than throughput when other work
# competes for the cores): one aisd, 2,000 objects of 4 KiB, three runs of
# 50 aisloader epochs (100,000 GETs, 32 in flight from 2 threads); prints
# the aisd process's utime+stime in clock ticks (1/100 s) for each run.
#   test/bench/node_cpu.sh BUILD_DIR [PORT]
# Run two builds alternately, several times, and compare medians.
set -e
B=$(cd "${1:?usage: node_cpu.sh BUILD_DIR [PORT]}" && pwd)
PORT=${2:-53100}
D=$(mktemp -d "${TMPDIR:-/var/tmp}/aisnodecpu.XXXX")
# The CA and token local up saves stay in the work dir, out of $HOME.
export XDG_CONFIG_HOME=$D/xdg
trap '$B/tools/ais local down --dir $D >/dev/null 2>&1; rm -rf $D' EXIT
$B/tools/ais local up --dir $D --nodes 1 --port $PORT >/dev/null
export AIS_ENDPOINT=127.0.0.1:$PORT
$B/tools/ais bucket create ais://c >/dev/null
$B/tools/aisloader/aisloader --bucket c --put-pct 100 --objects 2000 --epochs 1 --order seq --workers 4 --size 4KiB > $D/put.out 2>&1
pid=$(cat $D/node0/aisd.pid)
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
$B/tools/aisloader/aisloader --bucket c --workers 2 --conns 32 --epochs 3 --order seq >/dev/null 2>&1
for r in 1 2 3; do
	c0=$(cpu)
	$B/tools/aisloader/aisloader --bucket c --workers 2 --conns 32 --epochs 50 --order seq --json > $D/get.json 2>/dev/null || $B/tools/aisloader/aisloader --bucket c --workers 2 --conns 32 --epochs 50 --order seq > $D/get.json 2>&1
	c1=$(cpu)
	echo "run $r: aisd cpu $((c1 - c0)) ticks for $(grep -oE '"ops": *[0-9]+' $D/get.json | head -1 | grep -oE '[0-9]+$') GETs"
done
