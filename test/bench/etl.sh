#!/usr/bin/env bash
# What a transform costs per object (ais-etl(7)): GETs of the same 4 KiB
# objects plain, through the C identity worker (etl/identity, worker
# mode), through the Python host serving an identity function
# (ais-etl-python), and through a filter (a link to cat, one process per
# object), the same cluster, alternating, ROUNDS rounds. One request in
# flight (latency: what a transform adds to a GET) and 8 (throughput, the
# most a node runs at once). Prints a line per run and the medians.
#
#   test/bench/etl.sh [BUILD_DIR]    (default ./build-rel)
#
# $ETL_ROUNDS (default 3), $ETL_SECONDS (default 10), $ETL_COUNT (default
# 5000 objects), $ETL_PORT (default 19400), $ETL_DIR (default
# /var/tmp/aisbench-etl: removed at the end).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
B=$(cd "${1:-build-rel}" && pwd)
ROUNDS=${ETL_ROUNDS:-3} SECS=${ETL_SECONDS:-10} COUNT=${ETL_COUNT:-5000}
P=${ETL_PORT:-19400} W=${ETL_DIR:-/var/tmp/aisbench-etl}
# The CA and token local up saves stay in the work dir, out of $HOME.
export XDG_CONFIG_HOME=$W/xdg
AIS=$B/tools/ais AISLOADER=$B/tools/aisloader/aisloader
export AIS_ENDPOINT=127.0.0.1:$P

cleanup() {
	[ -d "$W/c" ] && "$AIS" local down --dir "$W/c" >/dev/null 2>&1
	rm -rf "$W"
}
trap cleanup EXIT
rm -rf "$W"
mkdir -p "$W/etl"
# Transforms run as nobody when the nodes run as root.
chmod 755 "$W" "$W/etl"
cp "$B/etl/identity" "$W/etl/"
ln -s "$(command -v cat)" "$W/etl/cat"
cat >"$W/etl/same.py" <<'EOF'
def transform(data, name, args):
    return data
EOF
python3 "$HERE/gendata.py" small "$W/data/small" --count "$COUNT" >/dev/null

AIS_AISD=$B/daemon/aisd "$AIS" local up --dir "$W/c" --port "$P" --nodes 3 \
	--etl-dir "$W/etl" >/dev/null
"$AIS" bucket create ais://small >/dev/null
"$AIS" put -r -q "$W/data/small" ais://small/
"$AIS" etl init c --mode worker --workers 8 --cmd "$W/etl/identity"
"$AIS" etl init py --mode worker --workers 8 \
	--cmd "ais-etl-python $W/etl/same.py"
"$AIS" etl init filter --cmd "$W/etl/cat"

# load ETL CONNS: "ops/s p50_us" of a GET-only run.
load() {
	local etl=()
	[ "$1" = plain ] || etl=(--etl "$1")
	"$AISLOADER" --bucket small --workers "$2" --conns "$2" \
		--duration "${SECS}s" -q --json "${etl[@]}" | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["errors"] == 0 and j["ops"] > 0, j
print("%d %.0f" % (j["ops_per_s"], j["latency_us"]["p50"]))'
}

declare -A ops lat
kinds="plain c py filter"
for ((r = 1; r <= ROUNDS; r++)); do
	for conns in 1 8; do
		for k in $kinds; do
			[ "$r" = 1 ] && load "$k" "$conns" >/dev/null # warm
			v=$(load "$k" "$conns")
			echo "round $r: $k, $conns in flight: $v (ops/s, p50 us)"
			ops[$k.$conns]+="${v%% *} "
			lat[$k.$conns]+="${v##* } "
		done
	done
done
med() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo
printf '%-8s %14s %14s %12s %14s\n' kind "1: p50 us" "1: +us/object" "8: ops/s" "8: vs plain"
p1=$(echo "${lat[plain.1]}" | med) o8=$(echo "${ops[plain.8]}" | med)
for k in $kinds; do
	l=$(echo "${lat[$k.1]}" | med) o=$(echo "${ops[$k.8]}" | med)
	printf '%-8s %14s %14s %12s %13.2fx\n' "$k" "$l" "$((l - p1))" "$o" \
		"$(echo "$o $o8" | awk '{ print $1 / $2 }')"
done
