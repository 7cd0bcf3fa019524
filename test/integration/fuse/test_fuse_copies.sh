#!/usr/bin/env bash
# copies=2 on 3 nodes under a mount: a node SIGKILLed during a
# multi-process epoch fails no read and returns no wrong byte; `ls -R` is
# complete while it is down; files written through the mount meanwhile
# succeed and are on two nodes within a minute of its restart.
. "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
fuse_test_init fuse_copies
ais_cluster_up 3
"$AIS" bucket create ais://c --copies 2 >/dev/null
N=240
mkdir -p "$T/src/a" "$T/src/b"
for i in $(seq 1 $N); do
	d=a
	[ $((i % 2)) -eq 0 ] && d=b
	{ printf 'sample %d\n' "$i"; head -c $((20000 + i * 97)) /dev/urandom; } >"$T/src/$d/s$i"
done
"$AIS" put -r -q "$T/src" ais://c/ || fail "upload"
fuse_mount m -o attr_timeout=0,entry_timeout=0
M=$MNT/c

# Four readers, three epochs each, every file compared with its source;
# node 1 is killed during the first epoch.
timed 600 python3 - "$M" "$T/src" "$T/started" >"$T/epoch.out" 2>&1 <<'PY' &
import os, sys
from multiprocessing import Pool
m, src, started = sys.argv[1], sys.argv[2], sys.argv[3]
names = sorted(os.path.join(d, f) for d in ("a", "b")
               for f in os.listdir(os.path.join(src, d)))
def read(rel):
    try:
        with open(os.path.join(m, rel), "rb") as f:
            got = f.read()
    except OSError as e:
        return "%s: %s" % (rel, e)
    with open(os.path.join(src, rel), "rb") as f:
        return None if got == f.read() else "%s: wrong bytes" % rel
bad = 0
with Pool(4) as p:
    for epoch in range(3):
        for i, err in enumerate(p.imap_unordered(read, names, chunksize=4)):
            if epoch == 0 and i == len(names) // 4:
                open(started, "w").close()
            if err:
                bad += 1
                print(err)
print("failed", bad)
sys.exit(1 if bad else 0)
PY
epoch=$!
ais_wait_for 120 test -e "$T/started"
ais_node_kill 1
note "node 1 killed during the epoch"
wait $epoch || fail "epoch with a node killed: $(tail -5 "$T/epoch.out")"
grep -q '^failed 0$' "$T/epoch.out" || fail "epoch: $(tail -3 "$T/epoch.out")"

# The listing is complete, through the mount, with the node down.
assert_eq $N "$(cd "$M" && ls -R | grep -c '^s[0-9]')" "ls -R with node 1 down"
# Files written through the mount meanwhile.
mkdir -p "$T/new"
for i in $(seq 1 30); do
	head -c $((5000 + i * 311)) /dev/urandom >"$T/new/w$i"
	cp "$T/new/w$i" "$M/a/w$i" || fail "cp w$i into the mount with node 1 down"
done
for i in $(seq 1 30); do
	cmp -s "$T/new/w$i" "$M/a/w$i" || fail "w$i reads back wrong with node 1 down"
done
# Those whose copy set has node 1 (about 20 of the 30) were stored short
# of a copy: aisfs says so in its log.
grep -q "stored with 1 of its copies missing" "$T/m.aisfs.log" ||
	fail "aisfs logged no write short of a copy"

ais_node_restart
note "node 1 restarted"
two_copies()
{
	local n
	n=$(for d in "$AIS_CLUSTER_DIR"/node*; do
		find "$d"/mp* -path '*/c/a/w*' -type f -printf '%f\n' | sort -u
	done | sort | uniq -c | awk '$1 == 2' | wc -l)
	[ "$n" -eq 30 ]
}
ais_wait_for 60 two_copies
for i in $(seq 1 30); do
	cmp -s "$T/new/w$i" "$M/a/w$i" || fail "w$i wrong after the restart"
done
note "fuse_copies: ok"
