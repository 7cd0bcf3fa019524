#!/usr/bin/env bash
# PUT throughput with copies=2 against copies=1, same cluster, same run:
# a 3-node `ais local` cluster with two buckets (copies 1 and 2); aisloader
# PUTs of SIZE for DUR into one, then the other, alternated REPS times
# (this machine is shared and noisy). Prints the medians and their ratio
# (goal: copies=2 >= 0.7x copies=1).
#   test/bench/copies.sh BUILD_DIR [PORT] [SIZE] [DUR] [REPS] [WORKERS]
set -euo pipefail
B=$(cd "${1:?usage: copies.sh BUILD_DIR [PORT] [SIZE] [DUR] [REPS] [WORKERS]}" && pwd)
PORT=${2:-31400}
SIZE=${3:-128KiB}
DUR=${4:-10s}
REPS=${5:-3}
WORKERS=${6:-16}
AIS=$B/tools/ais
LOADER=$B/tools/aisloader/aisloader
D=$(mktemp -d "${TMPDIR:-/var/tmp}/aisbenchcp.XXXX")
# The CA and token local up saves stay in the work dir, out of $HOME.
export XDG_CONFIG_HOME=$D/xdg
cleanup()
{
	"$AIS" local down --dir "$D/c" >/dev/null 2>&1 || true
	rm -rf "$D"
}
trap cleanup EXIT
export AIS_ENDPOINT=127.0.0.1:$PORT

"$AIS" local up --dir "$D/c" --nodes 3 --port "$PORT" >/dev/null
"$AIS" bucket create ais://one >/dev/null
"$AIS" bucket create ais://two --copies 2 >/dev/null

put()
{ # put BUCKET: MiB/s and ops/s of one run
	"$LOADER" --bucket "$1" --put-pct 100 --size "$SIZE" --objects 2000 \
		--workers "$WORKERS" --duration "$DUR" --json -q 2>/dev/null |
		python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["errors"] == 0, j["first_errors"]; print(j["mib_per_s"], j["ops_per_s"])'
}
: >"$D/one"
: >"$D/two"
for r in $(seq 1 "$REPS"); do
	put one >>"$D/one"
	put two >>"$D/two"
done
python3 - "$D/one" "$D/two" "$SIZE" "$WORKERS" <<'PY'
import statistics, sys
one = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
two = [tuple(map(float, l.split())) for l in open(sys.argv[2])]
m1 = statistics.median(x[0] for x in one)
m2 = statistics.median(x[0] for x in two)
print("PUT %s, %s workers, %d rounds each" % (sys.argv[3], sys.argv[4], len(one)))
print("  copies=1: %s MiB/s (median %.1f)" % (" ".join("%.1f" % x[0] for x in one), m1))
print("  copies=2: %s MiB/s (median %.1f)" % (" ".join("%.1f" % x[0] for x in two), m2))
print("  ratio copies=2 / copies=1: %.2f" % (m2 / m1))
PY
