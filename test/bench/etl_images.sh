#!/usr/bin/env bash
# An epoch over COUNT JPEGs with a resize (shorter side to 224, centre
# crop, JPEG again: etl/resize.py), three ways, the same run, alternating,
# ROUNDS rounds:
#   etl    the resize runs on the nodes (inline): 4 reader processes read
#          an aisfs -o etl=resize,etl_args=224 mount
#   client 4 processes read a plain read-only aisfs mount and resize in
#          the client, with the same code
#   local  4 processes read the local disk and resize (the reference)
# Caches are warm (one epoch each first). On one machine the nodes and the
# readers share the CPUs, so this measures what the inline path costs or
# saves per sample, not a cluster's spare CPUs. Needs python3-pil and
# python3-numpy (scripts/deps.sh), /dev/fuse.
#
#   test/bench/etl_images.sh [BUILD_DIR]    (default ./build-rel)
#
# $IMG_ROUNDS (default 3), $IMG_COUNT (default 10000), $IMG_WORKERS
# (transform processes per node, default 2), $IMG_PORT (default 19500),
# $IMG_DIR (default /var/tmp/aisbench-img: removed at the end).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
B=$(cd "${1:-build-rel}" && pwd)
ROUNDS=${IMG_ROUNDS:-3} COUNT=${IMG_COUNT:-10000} WORKERS=${IMG_WORKERS:-2}
P=${IMG_PORT:-19500} W=${IMG_DIR:-/var/tmp/aisbench-img}
# The CA and token local up saves stay in the work dir, out of $HOME.
export XDG_CONFIG_HOME=$W/xdg
AIS=$B/tools/ais AISFS=$B/fuse/aisfs PY=/usr/bin/python3
export AIS_ENDPOINT=127.0.0.1:$P

cleanup() {
	for m in etl plain; do
		mountpoint -q "$W/m-$m" 2>/dev/null && "$AISFS" umount -l "$W/m-$m"
	done
	[ -d "$W/c" ] && "$AIS" local down --dir "$W/c" >/dev/null 2>&1
	rm -rf "$W"
}
trap cleanup EXIT
rm -rf "$W"
mkdir -p "$W/etl" "$W/img" "$W/m-etl" "$W/m-plain"
chmod 755 "$W" "$W/etl"
cp "$SRC/etl/resize.py" "$W/etl/"
# Photos-like JPEGs (500 x 375, smooth gradients and noise, about 40 KiB).
"$PY" - "$W/img" "$COUNT" <<'EOF'
import os, random, sys
from PIL import Image, ImageFilter
out, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
base = [Image.effect_noise((500, 375), 40).convert("RGB").filter(ImageFilter.GaussianBlur(1)) for _ in range(8)]
for i in range(n):
    d = f"{out}/c{i % 100:03d}"
    os.makedirs(d, exist_ok=True)
    im = Image.blend(base[i % 8], Image.new("RGB", (500, 375), tuple(rng.randrange(256) for _ in range(3))), 0.5)
    im.save(f"{d}/img_{i:06d}.jpg", "JPEG", quality=85)
EOF
AIS_AISD=$B/daemon/aisd "$AIS" local up --dir "$W/c" --port "$P" --nodes 3 \
	--etl-dir "$W/etl" >/dev/null
"$AIS" bucket create ais://img >/dev/null
"$AIS" put -r -q "$W/img" ais://img
"$AIS" etl init resize --mode worker --workers "$WORKERS" \
	--cmd "ais-etl-python $W/etl/resize.py"
"$AISFS" mount -o ro,etl=resize,etl_args=224 "$AIS_ENDPOINT" "$W/m-etl"
"$AISFS" mount -o ro "$AIS_ENDPOINT" "$W/m-plain"

# epoch DIR RESIZE: seconds for 4 processes to read every file under DIR
# (and resize it in the process when RESIZE is 1).
epoch() {
	"$PY" - "$1" "$2" "$SRC/etl" <<'EOF'
import os, sys, time
from multiprocessing import Pool
top, resize = sys.argv[1], sys.argv[2] == "1"
sys.path.insert(0, sys.argv[3])
import resize as r
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(top) for f in fs)
def work(k):
    n = 0
    for p in files[k::4]:
        with open(p, "rb") as f:
            data = f.read()
        if resize:
            data = r.transform(data, p, "224")
        n += len(data)
    return n
t0 = time.monotonic()
with Pool(4) as pool:
    total = sum(pool.map(work, range(4)))
print("%.2f %d %d" % (time.monotonic() - t0, len(files), total))
EOF
}

declare -A res
for ((r = 1; r <= ROUNDS; r++)); do
	for k in etl client local; do
		case $k in
		etl) dir=$W/m-etl/img resize=0 ;;
		client) dir=$W/m-plain/img resize=1 ;;
		local) dir=$W/img resize=1 ;;
		esac
		[ "$r" = 1 ] && epoch "$dir" "$resize" >/dev/null # warm
		v=$(epoch "$dir" "$resize")
		echo "round $r: $k: $v (s, files, bytes read or made)"
		res[$k]+="${v%% *} "
	done
done
med() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
l=$(echo "${res[local]}" | med)
echo
for k in etl client local; do
	m=$(echo "${res[$k]}" | med)
	printf '%-7s median %7ss  %5.2fx local\n' "$k" "$m" "$(echo "$m $l" | awk '{ print $1 / $2 }')"
done
