#!/usr/bin/env bash
# What checking every block read costs, and how fast a scrub runs:
#  * two 3-node clusters of one build side by side, one with
#    verify_reads = on (the default), one with it off, the same objects
#    in each: small GETs (4 KiB objects), 100 KiB GETs and shard member
#    GETs (aisloader --members over tar shards), alternated REPS times
#    (this machine is shared and noisy): median ops/s, on / off;
#  * cold and warm epochs (epoch.py, 4 processes) over the shards through
#    an aisfs mount of each cluster, alternated REPS times; the page cache
#    dropped before each cold one: median seconds, on / off;
#  * `ais scrub` of the 100 KiB objects and the shards against `cat` of
#    the same files from the nodes' disks (page cache warm for both).
#   test/bench/verify.sh BUILD_DIR [PORT] [DUR] [REPS]
# $SHARDS: tar shards of 200 samples of 20-60 KiB (default 48, 1.9 GB).
set -euo pipefail
B=$(cd "${1:?usage: verify.sh BUILD_DIR [PORT] [DUR] [REPS]}" && pwd)
PORT=${2:-31600}
DUR=${3:-8s}
REPS=${4:-3}
AIS=$B/tools/ais
LOADER=$B/tools/aisloader/aisloader
AISFS=$B/fuse/aisfs
SHARDS=${SHARDS:-48}
D=$(mktemp -d "${TMPDIR:-/var/tmp}/aisbenchvf.XXXX")
# The CA and token local up saves stay in the work dir, out of $HOME.
export XDG_CONFIG_HOME=$D/xdg
cleanup()
{
	fusermount3 -uz "$D/mnt-on" 2>/dev/null || true
	fusermount3 -uz "$D/mnt-off" 2>/dev/null || true
	"$AIS" local down --dir "$D/on" >/dev/null 2>&1 || true
	"$AIS" local down --dir "$D/off" >/dev/null 2>&1 || true
	rm -rf "$D"
}
trap cleanup EXIT
echo "verify_reads = off" >"$D/off.conf"
"$AIS" local up --dir "$D/on" --nodes 3 --port "$PORT" >/dev/null
"$AIS" local up --dir "$D/off" --nodes 3 --port $((PORT + 20)) \
	--config "$D/off.conf" >/dev/null
on=127.0.0.1:$PORT
off=127.0.0.1:$((PORT + 20))

# Shards: $SHARDS tar shards of 200 samples of 20-60 KiB.
mkdir -p "$D/samples"
python3 - "$D/samples" "$SHARDS" <<'PY'
import os, random, sys, tarfile, io
root = sys.argv[1]
rnd = random.Random(7)
for s in range(int(sys.argv[2])):
    with tarfile.open(os.path.join(root, "shard-%02d.tar" % s), "w") as t:
        for i in range(200):
            data = os.urandom(rnd.randint(20000, 60000))
            ti = tarfile.TarInfo("%05d.jpg" % i)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
PY
for ep in $on $off; do
	export AIS_ENDPOINT=$ep
	"$AIS" bucket create ais://small >/dev/null
	"$AIS" bucket create ais://mid >/dev/null
	"$AIS" bucket create ais://sh >/dev/null
	"$LOADER" --bucket small --put-pct 100 --size 4KiB --objects 2000 \
		--epochs 1 --order seq -q >/dev/null 2>&1
	"$LOADER" --bucket mid --put-pct 100 --size 100KiB --objects 2000 \
		--epochs 1 --order seq -q >/dev/null 2>&1
	"$AIS" put -r -q "$D/samples" ais://sh/ >/dev/null
	for f in "$D"/samples/*.tar; do
		"$AIS" shard ls "ais://sh/$(basename "$f")" >/dev/null
	done
done

get()
{ # get ENDPOINT BUCKET [ARGS]: ops/s of one run
	local ep=$1 b=$2
	shift 2
	AIS_ENDPOINT=$ep "$LOADER" --bucket "$b" --workers 2 --conns 32 \
		--duration "$DUR" --json -q "$@" 2>/dev/null |
		python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["errors"] == 0, j["first_errors"]; print(j["ops_per_s"])'
}
for c in small mid sh; do
	args=()
	[ "$c" = sh ] && args=(--members)
	: >"$D/$c.on"
	: >"$D/$c.off"
	for r in $(seq 1 "$REPS"); do
		get $on $c "${args[@]}" >>"$D/$c.on"
		get $off $c "${args[@]}" >>"$D/$c.off"
	done
done
python3 - "$D" "$REPS" <<'PY'
import statistics, sys
d, reps = sys.argv[1], sys.argv[2]
names = {"small": "4 KiB GETs", "mid": "100 KiB GETs", "sh": "shard member GETs (20-60 KiB)"}
print("GET ops/s, aisloader --workers 2 --conns 32, %s rounds each, alternated" % reps)
for c in ("small", "mid", "sh"):
    on = [float(l) for l in open("%s/%s.on" % (d, c))]
    off = [float(l) for l in open("%s/%s.off" % (d, c))]
    mon, moff = statistics.median(on), statistics.median(off)
    print("  %-30s on %s (median %.0f)  off %s (median %.0f)  on/off %.3f" % (
        names[c], " ".join("%.0f" % x for x in on), mon,
        " ".join("%.0f" % x for x in off), moff, mon / moff))
PY

# Epochs through the mount, cold and warm.
for c in on off; do
	mkdir -p "$D/mnt-$c"
	ep=$on
	[ $c = off ] && ep=$off
	"$AISFS" mount -o bucket=sh,shards=dir "$ep" "$D/mnt-$c" >/dev/null
done
epoch()
{ # epoch DIR: seconds of one epoch.py run over DIR
	python3 "$(dirname "$0")/epoch.py" "$1" --procs 4 --expect-files $((SHARDS * 200)) |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])'
}
for c in on off; do : >"$D/cold.$c"; : >"$D/warm.$c"; done
for r in $(seq 1 "$REPS"); do
	for c in on off; do
		sync
		echo 3 >/proc/sys/vm/drop_caches
		epoch "$D/mnt-$c" >>"$D/cold.$c"
		epoch "$D/mnt-$c" >>"$D/warm.$c"
	done
done
python3 - "$D" "$REPS" "$SHARDS" <<'PY'
import statistics, sys
d, reps, shards = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("epochs through aisfs over %d tar shards (%d samples of 20-60 KiB), 4 processes, %s rounds, alternated; seconds" % (shards, shards * 200, reps))
for k in ("cold", "warm"):
    on = [float(l) for l in open("%s/%s.on" % (d, k))]
    off = [float(l) for l in open("%s/%s.off" % (d, k))]
    mon, moff = statistics.median(on), statistics.median(off)
    print("  %-5s epoch  on %s (median %.2f)  off %s (median %.2f)  on/off time %.3f" % (
        k, " ".join("%.2f" % x for x in on), mon, " ".join("%.2f" % x for x in off), moff, mon / moff))
PY
fusermount3 -u "$D/mnt-on"
fusermount3 -u "$D/mnt-off"

# Scrub rate against cat of the same files (both warm).
export AIS_ENDPOINT=$on
files=$(find "$D/on"/node*/mp* \( -path '*/small/*' -o -path '*/mid/*' -o \
	-path '*/sh/*' \) -type f -not -path '*/.ais/*')
bytes=$(echo "$files" | xargs cat | wc -c)
t0=$(date +%s.%N)
echo "$files" | xargs cat >/dev/null
t1=$(date +%s.%N)
"$AIS" scrub -q >/dev/null
t2=$(date +%s.%N)
"$AIS" scrub -q >"$D/scrub.out"
t3=$(date +%s.%N)
python3 - "$bytes" "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
b, t0, t1, t2, t3 = int(sys.argv[1]), *map(float, sys.argv[2:])
cat = b / (t1 - t0) / 2**20
scrub = b / (t3 - t2) / 2**20
print("scrub of %.0f MiB (every copy, one node's share each): %.0f MiB/s; "
      "cat of the same files %.0f MiB/s; ratio %.2f" % (b / 2**20, scrub, cat, scrub / cat))
PY
tail -1 "$D/scrub.out"
