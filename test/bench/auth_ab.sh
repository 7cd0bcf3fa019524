#!/usr/bin/env bash
# GETs with auth against without, A/B: the same 3-node cluster started
# with its secret (every request carries a token the nodes check: ais
# local up's default) and with --insecure, the same objects (4 KiB and
# 1 MiB), the same load (aisloader, 32 connections for 4 KiB, 8 for
# 1 MiB), alternating, ROUNDS rounds. Prints one line per run and the
# median ratios (auth / insecure).
#
#   test/bench/auth_ab.sh [BUILD_DIR]    (default ./build-rel)
#
# $AB_ROUNDS (default 3), $AB_SECONDS (default 10), $AB_PORT (default
# 19400), $AB_DIR (default /var/tmp/aisbench-auth: removed at the end).
set -euo pipefail

B=$(cd "${1:-build-rel}" && pwd)
ROUNDS=${AB_ROUNDS:-3} SECS=${AB_SECONDS:-10}
P=${AB_PORT:-19400} W=${AB_DIR:-/var/tmp/aisbench-auth}
AIS=$B/tools/ais AISLOADER=$B/tools/aisloader/aisloader
export AIS_AISD=$B/daemon/aisd XDG_CONFIG_HOME=$W/xdg

cleanup() {
	for m in auth insecure; do
		[ -d "$W/c-$m" ] && "$AIS" local down --dir "$W/c-$m" >/dev/null 2>&1
	done
	rm -rf "$W"
}
trap cleanup EXIT
rm -rf "$W"
mkdir -p "$W"

up() {
	local extra=()
	[ "$1" = insecure ] && extra=(--insecure)
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

for m in auth insecure; do
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
	for m in auth insecure; do
		up "$m"
		aisload small 32 >/dev/null # warm the caches
		v=$(aisload small 32)
		echo "round $r: $m 4 KiB: $v (ops/s, p99 us)"
		res[small_$m]+="${v%% *} "
		aisload big 8 >/dev/null
		v=$(aisload big 8)
		echo "round $r: $m 1 MiB: $v (ops/s, p99 us)"
		res[big_$m]+="${v%% *} "
		down "$m"
	done
done
med() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ a[NR] = $1 }
	END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for s in small big; do
	a=$(med "${res[${s}_auth]}") i=$(med "${res[${s}_insecure]}")
	echo "median $s: auth $a ops/s, insecure $i ops/s, ratio $(python3 -c "print(round($a / $i, 2))")"
done
