#!/usr/bin/env bash
# The aisfs benchmark suite: builds its own data set, starts its own
# `ais local` cluster, runs every case against references measured in the
# same run, cleans up, and prints one table of medians and ratios plus one
# JSON line (see BENCHMARKS.md for what each case measures).
#
#   test/bench/run.sh [--quick] [--keep] [--reps N] [--only CASES]
#                     [--build DIR] [--dir DIR] [--nodes N]
#
#   --quick      small sizes, one repetition: about a minute (CI's bench_quick)
#   --keep       keep the data and logs (the work dir is printed at the end)
#   --reps N     repetitions of every case (default 3; --quick: 1)
#   --only LIST  comma-separated subset of: epoch,big,small,meta,ingest,million
#   --build DIR  the meson build dir (default $AIS_BUILD_DIR, else ./build);
#                $AIS, $AISD, $AISFS, $AISLOADER override single programs
#   --dir DIR    where the work dir is made (default $AIS_BENCH_DIR, else
#                /var/tmp/aisbench); must be on the disk under test
#   --nodes N    nodes of the local cluster (default 3, 2 mountpaths each)
#
# $AIS_BENCH_AISFS_OPTS adds aisfs mount options (comma separated).
# Exit status: 0 when everything ran and every byte count matched, whether
# targets were met or not (the table says); 1 when something failed to run
# or read wrong bytes; 2 for a usage error.

# Become a child subreaper (re-exec once under python3's prctl): ais local up
# and FUSE daemons detach, and PID 1 of a container may never reap them.
if [ -z "${AIS_BENCH_SUBREAPER:-}" ] && [ -x /usr/bin/python3 ]; then
	export AIS_BENCH_SUBREAPER=1
	exec /usr/bin/python3 -c '
import ctypes, os, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
os.execvp(sys.argv[1], sys.argv[1:])' bash "$0" "$@"
fi

set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

QUICK=0
KEEP=0
REPS=
ONLY=epoch,big,small,meta,ingest,million
BUILD=${AIS_BUILD_DIR:-$SRC/build}
BASE=${AIS_BENCH_DIR:-/var/tmp/aisbench}
NODES=3

usage()
{
	sed -n '6,19p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--keep) KEEP=1 ;;
	--reps) REPS=${2:?}; shift ;;
	--only) ONLY=${2:?}; shift ;;
	--build) BUILD=${2:?}; shift ;;
	--dir) BASE=${2:?}; shift ;;
	--nodes) NODES=${2:?}; shift ;;
	-h | --help) usage ;;
	*) echo "run.sh: unknown option $1" >&2; usage ;;
	esac
	shift
done
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || {
	echo "run.sh: no build dir (--build DIR or \$AIS_BUILD_DIR)" >&2
	exit 2
}
case ",$ONLY," in *,epoch,* | *,big,* | *,small,* | *,meta,* | *,ingest,* | *,million,*) ;;
*) echo "run.sh: --only: nothing known in '$ONLY'" >&2; exit 2 ;;
esac

# Sizes: the full run is the issue's; --quick shrinks everything.
if [ "$QUICK" = 1 ]; then
	MODE=quick
	SAMPLES=300 SHARD_SIZE=$((16 << 20))
	BIG=$((64 << 20)) BIG_IO=$((32 << 20))
	SMALL=2000 META=2000 META_DIRS=20 LOAD=3
	MIL=3000
	: "${REPS:=1}"
	TMO=300
else
	MODE=full
	SAMPLES=10000 SHARD_SIZE=$((100 << 20))
	BIG=$((4 << 30)) BIG_IO=$((1 << 30))
	SMALL=20000 META=100000 META_DIRS=1000 LOAD=15
	MIL=${AIS_BENCH_MILLION:-1000000}
	: "${REPS:=3}"
	TMO=3600
fi
PROCS=4 WORKERS=32
CLASSES=100

# passthrough_ll keeps one O_PATH descriptor open per inode the kernel
# knows, so one process cannot serve more inodes than RLIMIT_NOFILE allows
# (20000 in some containers, where only CAP_SYS_RESOURCE could raise it).
# The reference trees are therefore made of part dirs of at most PART_INODES
# inodes, and passthrough_ll mounts each part on its own (one mount when the
# limit allows).
nofile=$(ulimit -n)
[ "$nofile" = unlimited ] && nofile=1048576
PART_INODES=$((nofile > 4000 ? nofile - 2000 : nofile / 2))
parts_for()
{
	echo $((($1 + PART_INODES - 1) / PART_INODES))
}
SAMPLE_PARTS=$(parts_for $((2 * SAMPLES + CLASSES + 1)))
META_PARTS=$(parts_for $((META + META_DIRS + 1)))
# The million: 1 KiB samples, 1,000 to a directory.
MIL_DIRS=$(((MIL + 999) / 1000))
MIL_PARTS=$(parts_for $((MIL + MIL_DIRS + 1)))

AIS=${AIS:-$BUILD/tools/ais}
AISD=${AISD:-$BUILD/daemon/aisd}
AISFS=${AISFS:-$BUILD/fuse/aisfs}
AISLOADER=${AISLOADER:-$BUILD/tools/aisloader/aisloader}
PTLL_SRC=${PTLL_SRC:-/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c}

note()
{
	printf '# %s\n' "$*" >&2
}

die()
{
	printf 'bench: FAIL: %s\n' "$*" >&2
	exit 1
}

want()
{
	case ",$ONLY," in *",$1,"*) return 0 ;; esac
	return 1
}

# ---- preflight: every program and reference tool must be here (no skip) --
for p in "$AIS" "$AISD" "$AISFS" "$AISLOADER"; do
	[ -x "$p" ] || die "$p not built (meson compile -C $BUILD, or set --build)"
done
for t in cc pkg-config tar fusermount3 archivemount nginx wrk fio find dd \
	timeout mountpoint; do
	command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] ||
		die "$t is missing (scripts/deps.sh installs the bench's tools)"
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
pkg-config --exists fuse3 || die "no fuse3 pkg-config (libfuse3-dev)"
[ -r "$PTLL_SRC" ] || die "$PTLL_SRC missing (libfuse3-dev ships it)"
[ -c /dev/fuse ] && [ -r /dev/fuse ] && [ -w /dev/fuse ] ||
	die "/dev/fuse is not usable here"
COLD=0
if [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
	COLD=1
fi

mkdir -p "$BASE"
W=$(mktemp -d "$BASE/run.XXXXXX")
# The CA and token local up saves stay in the work dir, out of $HOME.
export XDG_CONFIG_HOME=$W/xdg
D=$W/data
M=$W/mnt
L=$W/logs
RES=$W/results.tsv
mkdir -p "$D" "$M" "$L"
: >"$RES"
RSS_PID=
NGINX_PID=
PORT_LOCK=

# ---- cleanup: always, also on failure and Ctrl-C -------------------------
unmount_all()
{
	local mp i
	# Deepest first, so that nested mounts come off before their parents.
	for mp in $(awk -v w="$W/" 'index($2, w) == 1 {print $2}' /proc/mounts |
		sort -r); do
		fusermount3 -u -z "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null ||
			note "could not unmount $mp"
	done
	for ((i = 0; i < 50; i++)); do
		grep -qF " $W/" /proc/mounts || return 0
		sleep 0.1
	done
}

kill_leftovers()
{
	local f pid
	for f in $(grep -alsF -- "$W/" /proc/[0-9]*/cmdline 2>/dev/null || true); do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[ "$pid" != $$ ] || continue
		if grep -aqsE 'aisd|aisfs|passthrough_ll|archivemount|nginx' "$f"; then
			note "killing leftover pid $pid: $(tr '\0' ' ' <"$f" | cut -c1-80)"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	wait 2>/dev/null || true
}

on_exit()
{
	local rc=$? f
	set +e
	trap - EXIT INT TERM
	[ -n "$RSS_PID" ] && kill -TERM "$RSS_PID" 2>/dev/null && wait "$RSS_PID"
	if [ -n "$NGINX_PID" ]; then
		kill -TERM "$NGINX_PID" 2>/dev/null
		wait "$NGINX_PID" 2>/dev/null
	fi
	unmount_all
	if [ -f "$W/cluster/cluster.conf" ]; then
		timeout 60 "$AIS" local down --dir "$W/cluster" >/dev/null 2>&1 ||
			note "ais local down failed"
	fi
	kill_leftovers
	if [ "$rc" -ne 0 ]; then
		while IFS= read -r -d '' f; do
			printf '==== last 30 lines of %s ====\n' "$f" >&2
			tail -n 30 "$f" >&2
		done < <(find "$W" -name '*.log' -size +0 -print0 2>/dev/null | sort -z)
	fi
	[ -n "$PORT_LOCK" ] && rm -rf "$PORT_LOCK"
	if [ "$KEEP" = 1 ]; then
		note "kept $W"
	else
		rm -rf "$W" || note "could not remove $W"
	fi
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers --------------------------------------------------------------
now()
{
	date +%s.%N
}

# secs_since T0: seconds from T0 to now, 4 decimals.
secs_since()
{
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.4f", b - a }'
}

# record CASE SUBJECT UNIT VALUE: one measurement.
record()
{
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RES"
	note "$1 / $2: $4 $3"
}

# drop: empties the page cache (and so the nodes' too) before a cold run.
drop()
{
	[ "$COLD" = 1 ] || return 0
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# json_get FILE KEY: a top-level number from a one-line JSON file.
json_get()
{
	"$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# tree_stats DIR: "FILES BYTES" of the regular files under DIR.
tree_stats()
{
	find "$1" -type f -printf '%s\n' |
		awk '{ n++; b += $1 } END { printf "%d %d\n", n, b }'
}

# Picks a base port: a random multiple of 10 in 20000..39990 whose ten
# ports are free, locked against concurrent test runs the way
# test/integration/lib.sh does (an atomic mkdir of the same lock dir).
pick_port()
{
	local tries base lock owner i filter
	for ((tries = 0; tries < 200; tries++)); do
		base=$((20000 + (RANDOM % 2000) * 10))
		lock="${TMPDIR:-/tmp}/ais-test-port-$base.lock"
		if ! mkdir "$lock" 2>/dev/null; then
			owner=$(cat "$lock/pid" 2>/dev/null || true)
			if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
				rm -rf "$lock"
			fi
			continue
		fi
		echo $$ >"$lock/pid"
		filter=
		for ((i = 0; i < 10; i++)); do
			filter="$filter${filter:+ or }sport = :$((base + i))"
		done
		if [ -z "$(ss -Htan "( $filter )" 2>/dev/null)" ]; then
			PORT=$base
			PORT_LOCK=$lock
			return 0
		fi
		rm -rf "$lock"
	done
	die "no free port range found in 20000-39999"
}

# mount_aisfs NAME BUCKET: a fresh aisfs mount of BUCKET on $M/NAME.
# shards=dir: the epochs walk each shard as a directory of its name (the
# tree archivemount and the local disk have); the default shards=view
# reads the same members under NAME.d, by the same code.
mount_aisfs()
{
	local dir=$M/$1 opts="bucket=$2,shards=dir,log=$L/$1.aisfs.log"
	[ -n "${AIS_BENCH_AISFS_OPTS:-}" ] && opts="$opts,$AIS_BENCH_AISFS_OPTS"
	mkdir -p "$dir"
	timeout 60 "$AISFS" mount -o "$opts" "$EP" "$dir" >>"$L/mounts.log" 2>&1 ||
		die "aisfs mount of $2 on $dir failed (see $L/mounts.log)"
	mountpoint -q "$dir" || die "$dir is not mounted"
}

# mount_ptll NAME SRCDIR: passthrough_ll of SRCDIR on $M/NAME, page cache
# kept across opens (cache=always), multithreaded (its default loop).
mount_ptll()
{
	local dir=$M/$1
	mkdir -p "$dir"
	timeout 60 "$PTLL" -o "source=$2,cache=always" "$dir" \
		>>"$L/mounts.log" 2>&1 || die "passthrough_ll of $2 on $dir failed"
	mountpoint -q "$dir" || die "$dir is not mounted"
}

# mount_ptll_tree NAME SRCDIR: one passthrough_ll mount per part dir of
# SRCDIR, on $M/NAME/part-NN: $M/NAME shows the tree of SRCDIR.
mount_ptll_tree()
{
	local p
	mkdir -p "$M/$1"
	for p in "$2"/part-*; do
		mount_ptll "$1/$(basename "$p")" "$p"
	done
}

umount_ptll_tree()
{
	local p
	for p in "$M/$1"/part-*; do
		umount_fuse "$p"
	done
}

# umount_fuse DIR: unmounts and waits (bounded) until it is gone.
umount_fuse()
{
	local i
	fusermount3 -u "$1" 2>/dev/null || umount "$1" 2>/dev/null ||
		fusermount3 -u -z "$1" || die "cannot unmount $1"
	for ((i = 0; i < 100; i++)); do
		mountpoint -q "$1" || return 0
		sleep 0.1
	done
	die "$1 still mounted 10 s after unmount"
}

# epoch SUBJECT CASE ROOT [FILES BYTES]: one epoch.py run (expecting the
# samples' counts, or FILES and BYTES); records its seconds.
epoch()
{
	local out=$W/epoch.json
	# shellcheck disable=SC2086 # EPOCH_ARGS: words, or none
	timeout "$TMO" "$PY" "$HERE/epoch.py" "$3" --procs "$PROCS" ${EPOCH_ARGS:-} \
		--expect-files "${4:-$EP_FILES}" \
		--expect-bytes "${5:-$EP_BYTES}" >"$out" ||
		die "epoch over $3 ($1, $2) failed or read wrong bytes: $(cat "$out")"
	record "$2" "$1" s "$(json_get "$out" seconds)"
}

# epochs3 COLD WARM SRC PTNAME BUCKET MNTNAME [FILES BYTES]: cold (when
# caches can be dropped) and warm epochs over SRC on local disk, through
# passthrough_ll (mounted as PTNAME), and over aisfs's BUCKET (mounted as
# MNTNAME), each cold one on dropped caches and a fresh mount.
epochs3()
{
	drop
	[ "$COLD" = 1 ] && epoch local_disk "$1" "$3" "${7:-}" "${8:-}"
	epoch local_disk "$2" "$3" "${7:-}" "${8:-}"

	mount_ptll_tree "$4" "$3"
	drop
	[ "$COLD" = 1 ] && epoch passthrough_ll "$1" "$M/$4" "${7:-}" "${8:-}"
	epoch passthrough_ll "$2" "$M/$4" "${7:-}" "${8:-}"
	umount_ptll_tree "$4"

	mount_aisfs "$6" "$5"
	drop
	[ "$COLD" = 1 ] && epoch aisfs "$1" "$M/$6" "${7:-}" "${8:-}"
	epoch aisfs "$2" "$M/$6" "${7:-}" "${8:-}"
	umount_fuse "$M/$6"
}

# ---- set-up ---------------------------------------------------------------
note "bench ($MODE): work dir $W, build $BUILD, reps $REPS"
# The source revision the programs were copied at (the tree may move on).
rev=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$rev" != unknown ] && [ -n "$(git -C "$SRC" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	rev="$rev-dirty"
fi
# Private copies of the programs: a rebuild of the build dir during the run
# (a shared work tree) must not change the binaries halfway.
mkdir -p "$W/bin"
cp "$AIS" "$AISD" "$AISFS" "$AISLOADER" "$W/bin/"
AIS=$W/bin/$(basename "$AIS") AISD=$W/bin/$(basename "$AISD")
AISFS=$W/bin/$(basename "$AISFS") AISLOADER=$W/bin/$(basename "$AISLOADER")
PTLL=$W/passthrough_ll
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -O2 -Wall -o "$PTLL" "$PTLL_SRC" $(pkg-config --cflags --libs fuse3) \
	2>"$L/ptll-build.log" || die "cannot build passthrough_ll"

pick_port
EP=127.0.0.1:$PORT
NGINX_PORT=$((PORT + 9))
[ "$NODES" -ge 1 ] && [ "$NODES" -le 8 ] || die "--nodes must be 1..8"
export AIS_ENDPOINT=$EP AIS_AISD=$AISD

t0=$(now)
note "generating data under $D"
"$PY" "$HERE/gendata.py" samples "$D/samples" --count "$SAMPLES" \
	--classes "$CLASSES" --parts "$SAMPLE_PARTS" >"$W/samples.json"
EP_FILES=$(json_get "$W/samples.json" files)
EP_BYTES=$(json_get "$W/samples.json" bytes)
if want epoch; then
	"$PY" "$HERE/gendata.py" shards "$D/samples" "$D/shards" \
		--size "$SHARD_SIZE" >"$W/shards.json"
	NSHARDS=$(json_get "$W/shards.json" shards)
fi
want big && "$PY" "$HERE/gendata.py" big "$D/big/big.bin" --size "$BIG" >/dev/null
want small && "$PY" "$HERE/gendata.py" small "$D/small" --count "$SMALL" >/dev/null
want meta && "$PY" "$HERE/gendata.py" meta "$D/meta" --count "$META" \
	--dirs "$META_DIRS" --parts "$META_PARTS" >"$W/meta.json"
want million && "$PY" "$HERE/gendata.py" meta "$D/mil" --count "$MIL" \
	--dirs "$MIL_DIRS" --parts "$MIL_PARTS" --size 1KiB >"$W/mil.json"
note "data generated in $(secs_since "$t0") s"

timeout 120 "$AIS" local up --dir "$W/cluster" --port "$PORT" \
	--nodes "$NODES" >"$L/local-up.log" 2>&1 ||
	die "ais local up failed: $(tail -n 20 "$L/local-up.log")"
"$PY" "$HERE/rss.py" "$W/rss.json" "$W/" &
RSS_PID=$!

# ---- epoch: cold and warm, aisfs over shards vs the extracted files -------
if want epoch; then
	"$AIS" bucket create ais://ep >/dev/null
	timeout "$TMO" "$AIS" put -r -q "$D/shards" ais://ep/ ||
		die "ais put -r of the shards failed"
	# Every shard listed through its node-side index: also waits until the
	# indexes are built, and checks that nothing is missing.
	n=0
	for f in "$D"/shards/*.tar; do
		k=$(timeout 120 "$AIS" shard ls "ais://ep/$(basename "$f")" | wc -l) ||
			die "ais shard ls $(basename "$f") failed"
		n=$((n + k))
	done
	[ "$n" -ge "$EP_FILES" ] || die "shard indexes list $n members, expected $EP_FILES"
	for ((r = 1; r <= REPS; r++)); do
		note "epoch rep $r/$REPS"
		epochs3 cold_epoch warm_epoch "$D/samples" ptep ep ep

		# archivemount: one mount per shard, named like the shard, so that
		# the tree is the one aisfs shows. Its mount (which reads every
		# header) is timed apart; the epoch runs on dropped caches. It runs
		# in the first repetition only: one epoch takes about ten minutes
		# here, and its target is a 40x gap, far above run-to-run noise.
		[ "$r" = 1 ] || continue
		t0=$(now)
		for f in "$D"/shards/*.tar; do
			mkdir -p "$M/am/$(basename "$f")"
			timeout "$TMO" archivemount -o readonly "$f" \
				"$M/am/$(basename "$f")" >>"$L/mounts.log" 2>&1 ||
				die "archivemount $f failed"
		done
		record archivemount_mount archivemount s "$(secs_since "$t0")"
		if [ "$COLD" = 1 ]; then
			drop
			epoch archivemount cold_epoch "$M/am"
		fi
		for f in "$M"/am/*.tar; do
			umount_fuse "$f"
		done
	done
fi

# ---- big file: sequential and 1 MiB random reads, cold -------------------
# dd_rate FILE: sequential read with dd bs=1M; records MiB/s.
dd_rate()
{
	local t0 secs bytes
	t0=$(now)
	timeout "$TMO" dd if="$1" of=/dev/null bs=1M 2>"$W/dd.err" ||
		die "dd of $1 failed: $(cat "$W/dd.err")"
	secs=$(secs_since "$t0")
	bytes=$(awk '/bytes/ { print $1 }' "$W/dd.err" | tail -n 1)
	[ "$bytes" = "$BIG" ] || die "dd read $bytes bytes of $1, expected $BIG"
	awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / 1048576 / s }'
}

# fio_rate FILE: 1 MiB random reads (psync, buffered) of BIG_IO bytes.
fio_rate()
{
	timeout "$TMO" fio --name=randread --filename="$1" --rw=randread \
		--bs=1M --size="$BIG" --io_size="$BIG_IO" --ioengine=psync \
		--direct=0 --readonly --output-format=json \
		--output="$W/fio.json" >/dev/null 2>"$W/fio.err" ||
		die "fio on $1 failed: $(cat "$W/fio.err")"
	"$PY" - "$W/fio.json" "$BIG_IO" <<'PY' || die "fio on $1: wrong byte count"
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]["read"]
if j["io_bytes"] != int(sys.argv[2]):
    sys.exit("fio read %d bytes, expected %s" % (j["io_bytes"], sys.argv[2]))
print("%.1f" % (j["bw_bytes"] / 1048576.0))
PY
}

if want big; then
	"$AIS" bucket create ais://big >/dev/null
	timeout "$TMO" "$AIS" put -q "$D/big/big.bin" ais://big/big.bin ||
		die "ais put of the big file failed"
	for ((r = 1; r <= REPS; r++)); do
		note "big file rep $r/$REPS"
		mount_ptll ptbig "$D/big"
		drop
		record big_seq passthrough_ll MiB/s "$(dd_rate "$M/ptbig/big.bin")"
		drop
		record big_rand passthrough_ll MiB/s "$(fio_rate "$M/ptbig/big.bin")"
		umount_fuse "$M/ptbig"

		mount_aisfs big big
		drop
		record big_seq aisfs MiB/s "$(dd_rate "$M/big/big.bin")"
		drop
		record big_rand aisfs MiB/s "$(fio_rate "$M/big/big.bin")"
		umount_fuse "$M/big"
	done
fi

# ---- small GETs: aisloader vs nginx + wrk, same objects, same concurrency -
if want small; then
	"$AIS" bucket create ais://small >/dev/null
	timeout "$TMO" "$AIS" put -r -q "$D/small" ais://small/ ||
		die "ais put -r of the small objects failed"
	mkdir -p "$W/nginx/tmp"
	user=
	[ "$(id -u)" = 0 ] && user="user root;"
	cat >"$W/nginx/nginx.conf" <<EOF
$user
worker_processes 2;
daemon off;
pid $W/nginx/nginx.pid;
error_log $L/nginx.error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 65;
	keepalive_requests 100000000;
	default_type application/octet-stream;
	client_body_temp_path $W/nginx/tmp/body;
	proxy_temp_path $W/nginx/tmp/proxy;
	fastcgi_temp_path $W/nginx/tmp/fastcgi;
	uwsgi_temp_path $W/nginx/tmp/uwsgi;
	scgi_temp_path $W/nginx/tmp/scgi;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $D;
	}
}
EOF
	# Round-robin over the objects, each thread from its own offset.
	cat >"$W/nginx/paths.lua" <<'EOF'
local n, i = 1, 0
local threads = 0
function setup(thread)
	thread:set("first", threads * 7919)
	threads = threads + 1
end
function init(args)
	n = tonumber(args[1])
	i = first or 0
end
function request()
	i = i + 1
	return wrk.format("GET", string.format("/small/o%06d", i % n))
end
EOF
	"$NGINX" -p "$W/nginx" -c "$W/nginx/nginx.conf" -e "$L/nginx.error.log" \
		>>"$L/nginx.log" 2>&1 &
	NGINX_PID=$!
	"$PY" - "$NGINX_PORT" "$D/small/o000001" <<'PY' || die "nginx did not serve the objects"
import sys, time, urllib.request
url = "http://127.0.0.1:%s/small/o000001" % sys.argv[1]
want = open(sys.argv[2], "rb").read()
for _ in range(100):
    try:
        if urllib.request.urlopen(url, timeout=2).read() == want:
            sys.exit(0)
        sys.exit("nginx served other bytes")
    except OSError:
        time.sleep(0.1)
sys.exit("nginx not answering")
PY
	for ((r = 1; r <= REPS; r++)); do
		note "small GETs rep $r/$REPS"
		# The same model as wrk's: 2 threads, WORKERS connections.
		timeout $((LOAD + 120)) "$AISLOADER" --endpoint "$EP" --bucket small \
			--workers 2 --conns "$WORKERS" --duration "${LOAD}s" --json -q \
			>"$W/aisloader.json" 2>"$L/aisloader.log" ||
			die "aisloader failed: $(tail -n 5 "$L/aisloader.log")"
		v=$("$PY" - "$W/aisloader.json" "$SMALL" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
if j["errors"] or j["ops"] <= 0:
    sys.exit("aisloader: %d ops, %d errors" % (j["ops"], j["errors"]))
print("%.0f %.1f" % (j["ops_per_s"], j["latency_us"]["p99"]))
PY
) || die "aisloader run was not clean"
		record small_get aisloader ops/s "${v% *}"
		record small_get_p99 aisloader us "${v#* }"

		timeout $((LOAD + 60)) wrk -t2 -c"$WORKERS" -d"${LOAD}s" --latency \
			-s "$W/nginx/paths.lua" "http://127.0.0.1:$NGINX_PORT" -- "$SMALL" \
			>"$W/wrk.out" 2>&1 || die "wrk failed: $(cat "$W/wrk.out")"
		! grep -q 'Non-2xx' "$W/wrk.out" ||
			die "nginx answered errors: $(cat "$W/wrk.out")"
		v=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$W/wrk.out")
		[ -n "$v" ] && [ "$v" -gt 0 ] || die "wrk: no rate: $(cat "$W/wrk.out")"
		record small_get nginx_wrk ops/s "$v"
		# "     99%    1.23ms" in wrk's latency distribution, in us.
		v=$(awk '$1 == "99%" { v = $2; u = 1
			if (v ~ /us$/) u = 1; else if (v ~ /ms$/) u = 1000
			else if (v ~ /s$/) u = 1000000
			sub(/[a-z]+$/, "", v); printf "%.1f", v * u }' "$W/wrk.out")
		[ -n "$v" ] || die "wrk: no p99: $(cat "$W/wrk.out")"
		record small_get_p99 nginx_wrk us "$v"
	done
	kill -TERM "$NGINX_PID"
	wait "$NGINX_PID" || true
	NGINX_PID=
fi

# ---- metadata: find + stat over many objects, fresh mounts ---------------
# meta_walk SUBJECT ROOT: find | wc -l, then the stat walk; records both
# parts and their sum.
meta_walk()
{
	local t0 n t_find out=$W/metawalk.json
	t0=$(now)
	n=$(timeout "$TMO" find "$2" -type f | wc -l)
	t_find=$(secs_since "$t0")
	[ "$n" = "$META" ] || die "find in $2 ($1) saw $n files, expected $META"
	timeout "$TMO" "$PY" "$HERE/metawalk.py" "$2" --expect-files "$META" \
		--expect-bytes "$META_BYTES" >"$out" ||
		die "stat walk of $2 ($1) failed: $(cat "$out")"
	record metadata_find "$1" s "$t_find"
	record metadata_stat "$1" s "$(json_get "$out" seconds)"
	record metadata "$1" s "$(awk -v a="$t_find" -v b="$(json_get "$out" seconds)" \
		'BEGIN { printf "%.4f", a + b }')"
}

if want meta; then
	META_BYTES=$(json_get "$W/meta.json" bytes)
	"$AIS" bucket create ais://meta >/dev/null
	t0=$(now)
	timeout "$TMO" "$AIS" put -r -q "$D/meta" ais://meta/ ||
		die "ais put -r of the metadata tree failed"
	sync
	record metadata_put ais_put_r s "$(secs_since "$t0")"
	t0=$(now)
	cp -r "$D/meta" "$W/cpmeta"
	sync
	record metadata_put cp_r_local s "$(secs_since "$t0")"
	rm -rf "$W/cpmeta"
	for ((r = 1; r <= REPS; r++)); do
		note "metadata rep $r/$REPS"
		mount_aisfs meta meta
		meta_walk aisfs "$M/meta"
		umount_fuse "$M/meta"
		mount_ptll_tree ptmeta "$D/meta"
		meta_walk passthrough_ll "$M/ptmeta"
		umount_ptll_tree ptmeta
	done
fi

# ---- ingest: ais put -r and cp -r into the mount vs cp -r on local disk ---
# expect_stats WHAT "FILES BYTES": the stats must be the samples'.
expect_stats()
{
	[ "$2" = "$EP_FILES $EP_BYTES" ] ||
		die "$1: got files/bytes $2, expected $EP_FILES $EP_BYTES"
}

if want ingest; then
	# Nothing is deleted until every rep is done: for 30 s after a mass
	# delete, ext4 scans the inodes just freed at every file it creates
	# (recently_deleted), which made whatever ran next several times
	# slower than it is.
	for ((r = 1; r <= REPS; r++)); do
		note "ingest rep $r/$REPS"
		"$AIS" bucket create "ais://ing-put-$r" >/dev/null
		t0=$(now)
		timeout "$TMO" "$AIS" put -r -q "$D/samples" "ais://ing-put-$r/" ||
			die "ais put -r of the samples failed"
		sync
		record ingest ais_put_r s "$(secs_since "$t0")"
		expect_stats "ais put -r" "$("$AIS" ls -r -l -b "ais://ing-put-$r" |
			awk '{ n++; b += $1 } END { printf "%d %d\n", n, b }')"

		# Into the mount: as mounted by default (each close returns
		# once its file is durable on its node), and with -o writeback
		# (closes return at once; "sync DIR" is the fsync of a
		# directory, which waits for every upload queued before it).
		for wb in "" writeback; do
			b=ing-cp${wb:+-wb}-$r
			"$AIS" bucket create "ais://$b" >/dev/null
			AIS_BENCH_AISFS_OPTS=${wb:+$wb${AIS_BENCH_AISFS_OPTS:+,$AIS_BENCH_AISFS_OPTS}} \
				mount_aisfs ing "$b"
			t0=$(now)
			timeout "$TMO" cp -r "$D/samples/." "$M/ing/" ||
				die "cp -r into the mount${wb:+ ($wb)} failed"
			sync "$M/ing" || die "sync of the mount${wb:+ ($wb)} failed"
			sync
			record ingest "aisfs_cp_r${wb:+_wb}" s "$(secs_since "$t0")"
			umount_fuse "$M/ing"
			expect_stats "cp -r into the mount${wb:+ ($wb)}" \
				"$("$AIS" ls -r -l -b "ais://$b" | grep -v '/\.aisfs\.dir$' |
				awk '{ n++; b += $1 } END { printf "%d %d\n", n, b }')"
		done

		t0=$(now)
		cp -r "$D/samples" "$W/cpcopy-$r"
		sync
		record ingest cp_r_local s "$(secs_since "$t0")"
		expect_stats "cp -r local" "$(tree_stats "$W/cpcopy-$r")"
	done
	for ((r = 1; r <= REPS; r++)); do
		for b in ing-put ing-cp ing-cp-wb; do
			timeout "$TMO" "$AIS" bucket rm "ais://$b-$r" >/dev/null
		done
		rm -rf "$W/cpcopy-$r"
	done
fi

# ---- a million small samples: ingest, epochs over objects and over shards -

if want million; then
	MIL_BYTES=$(json_get "$W/mil.json" bytes)
	note "million: $MIL samples of 1 KiB in $MIL_DIRS dirs"
	# The reference copy goes last and stays until the end of the case:
	# ext4 without a journal (as here) does not reuse the inodes of files
	# deleted in the last minutes, and scanning past them made every
	# file created after an rm -rf of a million several times slower.
	"$AIS" bucket create ais://mil >/dev/null
	t0=$(now)
	timeout "$TMO" "$AIS" put -r -q "$D/mil" ais://mil/ ||
		die "ais put -r of the million failed"
	sync
	record mil_ingest ais_put_r s "$(secs_since "$t0")"
	"$AIS" bucket create ais://milsh >/dev/null
	t0=$(now)
	timeout "$TMO" "$AIS" shard create -q --size 64MiB "$D/mil" \
		ais://milsh/mil || die "ais shard create of the million failed"
	sync
	record mil_ingest ais_shard_create s "$(secs_since "$t0")"
	t0=$(now)
	cp -r "$D/mil" "$W/cpmil"
	sync
	record mil_ingest cp_r_local s "$(secs_since "$t0")"
	for f in $("$AIS" ls -r ais://milsh | awk '/\.tar$/ {print $NF}'); do
		timeout 300 "$AIS" shard ls "ais://milsh/${f#ais://milsh/}" \
			>/dev/null || die "ais shard ls $f failed"
	done
	for ((r = 1; r <= REPS; r++)); do
		note "million rep $r/$REPS"
		epochs3 mil_cold mil_warm "$D/mil" ptmil mil mil "$MIL" "$MIL_BYTES"

		# The same without leases: every open asks the owner node.
		AIS_BENCH_AISFS_OPTS=${AIS_BENCH_AISFS_OPTS:+$AIS_BENCH_AISFS_OPTS,}noleases \
			mount_aisfs milnl mil
		epoch aisfs_noleases mil_warm "$M/milnl" "$MIL" "$MIL_BYTES"
		umount_fuse "$M/milnl"

		mount_aisfs milsh milsh
		drop
		[ "$COLD" = 1 ] &&
			epoch aisfs_shards mil_cold "$M/milsh" "$MIL" "$MIL_BYTES"
		epoch aisfs_shards mil_warm "$M/milsh" "$MIL" "$MIL_BYTES"
		umount_fuse "$M/milsh"

		# Read-only mounts, as a training job would use: the kernel
		# opens files by itself (aisfs(1), kernel_open).
		for b in mil milsh; do
			AIS_BENCH_AISFS_OPTS=${AIS_BENCH_AISFS_OPTS:+$AIS_BENCH_AISFS_OPTS,}ro \
				mount_aisfs "${b}ro" "$b"
			s=aisfs_ro
			[ "$b" = milsh ] && s=aisfs_shards_ro
			drop
			[ "$COLD" = 1 ] &&
				epoch "$s" mil_cold "$M/${b}ro" "$MIL" "$MIL_BYTES"
			epoch "$s" mil_warm "$M/${b}ro" "$MIL" "$MIL_BYTES"
			# What is left per warm member is Python's isatty()
			# ioctl at each buffered open (up to 3.13): the same
			# epoch with readers that make none, and the local
			# disk's with the same readers.
			if [ "$b" = milsh ]; then
				EPOCH_ARGS=--no-isatty epoch "${s}_noisatty" \
					mil_warm "$M/${b}ro" "$MIL" "$MIL_BYTES"
				# The cold epochs above dropped the local
				# files' cache: read them once first.
				"$PY" "$HERE/epoch.py" "$D/mil" --procs "$PROCS" \
					>/dev/null
				EPOCH_ARGS=--no-isatty epoch local_disk_noisatty \
					mil_warm "$D/mil" "$MIL" "$MIL_BYTES"
			fi
			umount_fuse "$M/${b}ro"
		done
	done
	rm -rf "$W/cpmil"
fi

# ---- report ---------------------------------------------------------------
kill -TERM "$RSS_PID"
wait "$RSS_PID" || true
RSS_PID=

# A sanitizer report in any daemon or mount log fails the run.
if grep -rlE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
	"$W/cluster" "$L" --include='*.log' >/dev/null 2>&1; then
	die "sanitizer report in $(grep -rlE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$W/cluster" "$L" --include='*.log' | tr '\n' ' ')"
fi

build=$("$PY" - "$BUILD/meson-info/intro-buildoptions.json" <<'PY' 2>/dev/null || echo unknown
import json, sys
o = {x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}
s = "%s, b_ndebug=%s" % (o.get("buildtype"), o.get("b_ndebug"))
if o.get("b_sanitize", "none") != "none":
    s += ", sanitize=%s" % o["b_sanitize"]
print(s)
PY
)
data="$SAMPLES samples ($((EP_BYTES >> 20)) MiB)"
want epoch && data="$data in $NSHARDS shards"
want big && data="$data, big file $((BIG >> 20)) MiB"
want small && data="$data, $SMALL x 4 KiB"
want meta && data="$data, $META entries in $META_DIRS dirs"
want million && data="$data, $MIL x 1 KiB in $MIL_DIRS dirs"
only=
[ "$ONLY" = epoch,big,small,meta,ingest,million ] || only=$ONLY
"$PY" "$HERE/report.py" "$RES" "$W/rss.json" \
	--meta "mode=$MODE" --meta "cpus=$(nproc)" --meta "kernel=$(uname -r)" \
	--meta "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" --meta "git_rev=$rev" \
	--meta "build=$build" --meta "reps=$REPS" --meta "cold=$COLD" \
	--meta "cluster=$NODES nodes x 2 mountpaths, aisfs opts: ${AIS_BENCH_AISFS_OPTS:-defaults}, epoch procs: $PROCS, load: ${WORKERS} conns from 2 threads ${LOAD}s" \
	--meta "data=$data" --meta "only=$only" \
	--meta "passthrough_ll=cache=always, multithreaded; $SAMPLE_PARTS mount(s) for the epoch tree, $META_PARTS for the metadata tree (RLIMIT_NOFILE $nofile)" >"$W/report.txt" ||
	{
		cat "$W/report.txt"
		die "report incomplete"
	}
cat "$W/report.txt"
