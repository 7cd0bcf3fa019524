#!/bin/sh
# End-to-end smoke test of aisloader against 3 aisd nodes on loopback:
# prefill, GET by epochs, shard member GETs by epochs (GNU tar shards), a
# mixed run with cleanup, --json parsed by python3, and the usage/setup exit
# statuses.
#
# Usage: smoke.sh AISD AIS AISLOADER   (ports from $AISLOADER_SMOKE_PORT,
# default: a free random range below the ephemeral ports; exit 77 skips when a
# binary or python3 is missing).
set -u

AISD=${1:-}
AIS=${2:-}
LOADER=${3:-}
PORT=${AISLOADER_SMOKE_PORT:-$(python3 -c '
import random, socket
for _ in range(200):
    p = random.randrange(20000, 32000, 4)
    try:
        for i in range(3):
            s = socket.socket(); s.bind(("127.0.0.1", p + i)); s.close()
        print(p); break
    except OSError:
        pass
')}
for b in "$AISD" "$AIS" "$LOADER"; do
	[ -x "$b" ] || { echo "skip: missing binary '$b'"; exit 77; }
done
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
tar --version 2>/dev/null | grep -q 'GNU tar' || {
	echo "skip: no GNU tar"
	exit 77
}

DIR=$(mktemp -d /tmp/aisloader-smoke.XXXXXX)
PIDS=""
fail() {
	echo "FAIL: $*"
	for f in "$DIR"/*.log; do
		echo "---- $f"
		tail -n 30 "$f"
	done
	exit 1
}
cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

EP=127.0.0.1:$PORT
for i in 0 1 2; do
	p=$((PORT + i))
	mkdir -p "$DIR/n$i/mp"
	join=""
	[ $i -gt 0 ] && join="-j $EP"
	# shellcheck disable=SC2086 # $join is zero or two words
	"$AISD" -l 127.0.0.1 -p $p -m "$DIR/n$i/mp" $join \
		>"$DIR/n$i.log" 2>&1 &
	PIDS="$PIDS $!"
	# Wait for this node to answer before the next one joins it.
	t=0
	until "$AIS" --endpoint 127.0.0.1:$p cluster show >/dev/null 2>&1; do
		t=$((t + 1))
		[ $t -gt 100 ] && fail "node $i did not come up in 10 s"
		kill -0 $! 2>/dev/null || fail "node $i died"
		sleep 0.1
	done
done
t=0
until [ "$("$AIS" --endpoint "$EP" cluster show 2>/dev/null |
	grep -c online)" = 3 ]; do
	t=$((t + 1))
	[ $t -gt 100 ] && fail "the cluster did not reach 3 nodes"
	sleep 0.1
done
export AIS_ENDPOINT="$EP"
"$AIS" bucket create ais://smoke >/dev/null || fail "bucket create"

# Usage errors exit 2, setup errors 1.
"$LOADER" --bucket smoke --members --put-pct 10 >/dev/null 2>"$DIR/usage.err"
[ $? = 2 ] || fail "--members --put-pct 10 should exit 2"
grep -q -- '--members.*--put-pct' "$DIR/usage.err" ||
	fail "--members --put-pct: no clear message: $(cat "$DIR/usage.err")"
"$LOADER" --bucket smoke --members --epochs 1 >/dev/null 2>&1
[ $? = 1 ] || fail "--members without shards should exit 1"
"$LOADER" --bucket smoke --workers 4 --conns 2 >/dev/null 2>"$DIR/usage.err"
[ $? = 2 ] || fail "--conns below --workers should exit 2"
grep -q -- '--conns 2 is less than --workers 4' "$DIR/usage.err" ||
	fail "--conns 2: no clear message: $(cat "$DIR/usage.err")"
"$LOADER" --bucket smoke --workers 2 --conns 8 --put-pct 5 >/dev/null \
	2>"$DIR/usage.err"
[ $? = 2 ] || fail "--conns above --workers with PUTs should exit 2"
grep -q -- 'needs a GET-only load' "$DIR/usage.err" ||
	fail "--conns with PUTs: no clear message: $(cat "$DIR/usage.err")"
"$LOADER" --bucket smoke --put-pct 200 >/dev/null 2>&1
[ $? = 2 ] || fail "--put-pct 200 should exit 2"
"$LOADER" --bucket nosuch --duration 1s >/dev/null 2>&1
[ $? = 1 ] || fail "a missing bucket should exit 1"
"$LOADER" --bucket smoke --prefix empty --duration 1s >/dev/null 2>&1
[ $? = 1 ] || fail "nothing to GET should exit 1"

# Prefill: each of 300 names written exactly once.
"$LOADER" --bucket smoke --prefix fill --put-pct 100 --objects 300 \
	--size 1KiB-64KiB --epochs 1 --order seq --seed 3 --workers 8 -q \
	--json >"$DIR/fill.json" || fail "prefill"
n=$("$AIS" ls ais://smoke/fill/ | grep -c aisloader-3-)
[ "$n" = 300 ] || fail "prefill made $n objects, not 300"

# Two epochs of GETs: exactly 600 operations, all bytes accounted.
"$LOADER" --bucket smoke --prefix fill --epochs 2 --order seq --workers 8 \
	--json -q >"$DIR/get.json" || fail "GET epochs"
# The same with 24 GETs in flight from 2 threads (--conns): still exactly
# once per name and epoch, every byte.
"$LOADER" --bucket smoke --prefix fill --epochs 2 --order seq --workers 2 \
	--conns 24 --json -q >"$DIR/get-conns.json" || fail "GET epochs --conns"
python3 - "$DIR/fill.json" "$DIR/get.json" "$DIR/get-conns.json" <<'PY' || fail "GET json"
import json, sys
fill = json.load(open(sys.argv[1]))
assert fill["by_op"]["put"]["ops"] == 300, fill
for name in sys.argv[2:]:
    get = json.load(open(name))
    assert get["ops"] == 600 and get["errors"] == 0, get
    assert get["bytes"] == 2 * fill["bytes"], (get["bytes"], fill["bytes"])
get = json.load(open(sys.argv[3]))
assert get["workers"] == 2 and get["conns"] == 24, get
lat = get["latency_us"]
assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"] * 1.01, lat
PY

# Shard members: 3 GNU tar shards of 50 members of 1-64 KiB (in a
# subdirectory, with a symlink that is not read), next to an object that is
# not a shard; two epochs read every regular member exactly twice.
python3 - "$DIR" <<'PY' || fail "making shards"
import os, random, subprocess, sys, tarfile
d = sys.argv[1]
rnd = random.Random(7)
total = members = 0
for s in range(3):
    src = os.path.join(d, "src%d" % s)
    os.makedirs(os.path.join(src, "img"))
    for m in range(50):
        n = rnd.randint(1024, 65536)
        with open(os.path.join(src, "img", "%03d.bin" % m), "wb") as f:
            f.write(rnd.randbytes(n))
        total += n
        members += 1
    os.symlink("000.bin", os.path.join(src, "img", "link"))
    subprocess.check_call(["tar", "-C", src, "-cf",
                           os.path.join(d, "shard-%d.tar" % s), "img"])
# A shard cut inside the data of one member: the members before it stay
# readable, the cut one and those after are gone.
t = tarfile.open(os.path.join(d, "shard-0.tar"))
regs = [m for m in t.getmembers() if m.isfile()]
cut = regs[20]
t.close()
with open(os.path.join(d, "shard-0.tar"), "rb") as f:
    data = f.read(cut.offset_data + 10)
with open(os.path.join(d, "cut.tar"), "wb") as f:
    f.write(data)
before = [m for m in regs if m.offset_data + m.size <= cut.offset]
with open(os.path.join(d, "expect"), "w") as f:
    f.write("%d %d %d %d\n" % (members, total, len(before),
                               sum(m.size for m in before)))
PY
for s in 0 1 2; do
	"$AIS" put "$DIR/shard-$s.tar" ais://smoke/shards/s$s.tar >/dev/null ||
		fail "put shard $s"
done
"$AIS" put "$DIR/shard-1.tar" ais://smoke/shards/not-a-shard.bin \
	>/dev/null || fail "put a plain object"
"$AIS" put "$DIR/cut.tar" ais://smoke/cut/cut.tar >/dev/null ||
	fail "put the cut shard"
"$LOADER" --bucket smoke --prefix shards --members --epochs 2 --workers 8 \
	--json -q >"$DIR/members.json" || fail "member GET epochs"
"$LOADER" --bucket smoke --prefix shards --members --epochs 2 --workers 2 \
	--conns 16 --json -q >"$DIR/members-conns.json" ||
	fail "member GET epochs --conns"
"$LOADER" --bucket smoke --prefix cut --members --epochs 1 --workers 2 \
	--json -q >"$DIR/cut.json" 2>"$DIR/cut.err" ||
	fail "member GETs of a cut shard: $(cat "$DIR/cut.err")"
python3 - "$DIR" <<'PY' || fail "members json"
import json, os, sys
d = sys.argv[1]
members, total, cut_members, cut_bytes = map(int, open(os.path.join(d, "expect")).read().split())
m = json.load(open(os.path.join(d, "members.json")))
assert m["members"] is True and m["shards"] == 3, m
assert m["shard_members"] == members and m["shard_member_bytes"] == total, m
assert m["ops"] == 2 * members and m["errors"] == 0, m
assert m["bytes"] == 2 * total, (m["bytes"], total)
assert m["by_op"]["get"]["ops"] == 2 * members, m
m2 = json.load(open(os.path.join(d, "members-conns.json")))
for k in ("ops", "bytes", "errors", "shard_members"):
    assert m2[k] == m[k], (k, m2[k], m[k])
c = json.load(open(os.path.join(d, "cut.json")))
assert c["shards_with_errors"] == 1 and c["errors"] == 0, c
assert c["ops"] == cut_members and c["bytes"] == cut_bytes, (c, cut_members, cut_bytes)
PY
[ "$(grep -c 'WARN.*cut\.tar' "$DIR/cut.err")" = 1 ] ||
	fail "expected one warning for the cut shard: $(cat "$DIR/cut.err")"

# Interval lines, and a deadline that falls on a tick, end on time.
timeout 30 "$LOADER" --bucket smoke --prefix fill --duration 2s \
	--stats-interval 1s --workers 4 >"$DIR/lines.out" ||
	fail "interval run (status $?)"
grep -q '^ *1\.[0-9]s  GET [0-9,]* ops/s .* p99\.9 .* err 0$' \
	"$DIR/lines.out" || fail "no interval line: $(cat "$DIR/lines.out")"
grep -q '^GET .* err 0$' "$DIR/lines.out" || fail "no summary line"

# A mixed run with cleanup leaves nothing behind.
"$LOADER" --bucket smoke --prefix mix --put-pct 50 --workers 16 \
	--duration 3s --objects 200 --cleanup --json -q \
	>"$DIR/mix.json" || fail "mixed run"
python3 - "$DIR/mix.json" <<'PY' || fail "mixed json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["errors"] == 0 and d["by_op"]["get"]["ops"] > 0 and d["by_op"]["put"]["ops"] > 0, d
assert d["cleanup"]["errors"] == 0 and d["cleanup"]["deleted"] > 0, d
PY
n=$("$AIS" ls ais://smoke/mix/ 2>/dev/null | grep -c aisloader-)
[ "$n" = 0 ] || fail "cleanup left $n objects"

# A node that dies mid-run turns into counted errors and exit 1, not a
# hang. (Listing needs every node, so the node stops after the start.)
# shellcheck disable=SC2086 # one word per process
set -- $PIDS
"$LOADER" --bucket smoke --prefix fill --duration 3s --workers 4 --json -q \
	--timeout 2s >"$DIR/down.json" 2>"$DIR/down.log" &
lpid=$!
sleep 1
kill "$3"
wait $lpid
[ $? = 1 ] || fail "errors should exit 1"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['errors'] > 0 and d['errors_by_errno'] and d['ops'] > 0, d" \
	"$DIR/down.json" || fail "down json"
echo "aisloader smoke: OK"
