#!/usr/bin/env bash
# What TLS costs, A/B: the same 3-node cluster with auth, started with TLS
# (ais local up's default) and with --no-tls, the same objects (4 KiB and
# 1 MiB), the same load (aisloader, 32 connections for 4 KiB, 8 for
# 1 MiB), and one epoch through an aisfs mount over the 4 KiB objects
# (epoch.py, 4 processes, a fresh mount each time), alternating, ROUNDS
# rounds. Prints one line per run and the median ratios (tls / plain).
#
#   test/bench/tls_ab.sh [BUILD_DIR]    (default ./build-rel)
#
# $AB_ROUNDS (default 3), $AB_SECONDS (default 10), $AB_PORT (default
# 19500), $AB_DIR (default /var/tmp/aisbench-tls: removed at the end).
set -euo pipefail

B=$(cd "${1:-build-rel}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${AB_ROUNDS:-3} SECS=${AB_SECONDS:-10}
P=${AB_PORT:-19500} W=${AB_DIR:-/var/tmp/aisbench-tls}
AIS=$B/tools/ais AISLOADER=$B/tools/aisloader/aisloader AISFS=$B/fuse/aisfs
export AIS_AISD=$B/daemon/aisd XDG_CONFIG_HOME=$W/xdg
M=$W/mnt

cleanup() {
	mountpoint -q "$M" 2>/dev/null && fusermount3 -u "$M"
	for m in tls plain; do
		[ -d "$W/c-$m" ] && "$AIS" local down --dir "$W/c-$m" >/dev/null 2>&1
	done
	rm -rf "$W"
}
trap cleanup EXIT
rm -rf "$W"
mkdir -p "$W" "$M"

up() {
	local extra=()
	[ "$1" = plain ] && extra=(--no-tls)
	"$AIS" local up --dir "$W/c-$1" --port "$P" --nodes 3 --s3-port 0 \
		"${extra[@]}" >/dev/null 2>&1
}
down() { "$AIS" local down --dir "$W/c-$1" >/dev/null; }
# aisload BUCKET CONNS: "ops/s p99_us"
aisload() {
	"$AISLOADER" --endpoint "127.0.0.1:$P" --bucket "$1" --workers 2 \
		--conns "$2" --duration "${SECS}s" -q --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["errors"] == 0 and j["ops"] > 0, j
print(int(j["ops_per_s"]), "%.0f" % j["latency_us"]["p99"])'
}
# epoch: seconds of one epoch over the 4 KiB objects through a new mount
epoch() {
	"$AISFS" mount "127.0.0.1:$P" "$M" >/dev/null
	python3 "$HERE/epoch.py" "$M/small" --procs 4 --expect-files 5000 \
		--expect-bytes $((5000 * 4096)) | python3 -c '
import json, sys; print("%.3f" % json.load(sys.stdin)["seconds"])'
	fusermount3 -u "$M"
}

for m in tls plain; do
	up "$m"
	export AIS_ENDPOINT=127.0.0.1:$P
	"$AIS" bucket create ais://small ais://big >/dev/null
	"$AISLOADER" --bucket small --put-pct 100 --objects 5000 --size 4KiB \
		--order seq --epochs 1 --workers 16 --seed 1 -q >/dev/null
	"$AISLOADER" --bucket big --put-pct 100 --objects 200 --size 1MiB \
		--order seq --epochs 1 --workers 8 --seed 1 -q >/dev/null
	down "$m"
done
declare -A res
for ((r = 1; r <= ROUNDS; r++)); do
	for m in tls plain; do
		up "$m"
		aisload small 32 >/dev/null # warm the caches
		v=$(aisload small 32)
		echo "round $r: $m 4 KiB: $v (ops/s, p99 us)"
		res[small_$m]+="${v%% *} "
		aisload big 8 >/dev/null
		v=$(aisload big 8)
		echo "round $r: $m 1 MiB: $v (ops/s, p99 us)"
		res[big_$m]+="${v%% *} "
		v=$(epoch)
		echo "round $r: $m mount epoch, 5000 x 4 KiB: $v s"
		res[epoch_$m]+="$v "
		down "$m"
	done
done
med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ a[NR] = $1 }
	END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for s in small big; do
	a=$(med "${res[${s}_tls]}") i=$(med "${res[${s}_plain]}")
	echo "median $s GETs: tls $a ops/s, plain $i ops/s, ratio $(python3 -c "print(round($a / $i, 2))")"
done
a=$(med "${res[epoch_tls]}") i=$(med "${res[epoch_plain]}")
echo "median mount epoch: tls $a s, plain $i s, speed ratio $(python3 -c "print(round($i / $a, 2))")"
