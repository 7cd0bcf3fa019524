#!/usr/bin/env bash
# Close-to-open consistency between two mounts of one cluster, and many
# readers at once: a multiprocessing pool of 4 reads every file and gets
# every byte right.
. "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
fuse_test_init fuse_consistency
ais_cluster_up 3
"$AIS" bucket create ais://c >/dev/null
fuse_mount a -o attr_timeout=30,entry_timeout=30
A=$MNT/c
fuse_mount b -o attr_timeout=30,entry_timeout=30
B=$MNT/c

# Long cache timeouts on purpose: only the revalidation at open can make B
# see A's new bytes.
for i in 1 2 3 4 5; do
	head -c 200000 /dev/urandom >"$T/v$i"
	cp "$T/v$i" "$A/shared"
	cmp "$T/v$i" "$B/shared" || fail "round $i: B does not see A's close"
	cmp "$T/v$i" "$A/shared" || fail "round $i: A does not see its own write"
done
# Same size, same second: only the version tells them apart.
printf 'AAAA' >"$A/same"
cat "$B/same" >/dev/null
printf 'BBBB' >"$A/same"
assert_eq BBBB "$(cat "$B/same")" "same-size overwrite seen by B"
# A new name created on A appears on B; a deletion on A disappears on B.
echo new >"$A/fresh"
assert_eq new "$(cat "$B/fresh")" "new file on B"
mkdir "$A/newdir"
echo x >"$A/newdir/f"
assert_eq x "$(cat "$B/newdir/f")" "file in a new directory on B"
rm "$A/fresh"
expect_errno ENOENT "open('$B/fresh')"

# Parallel readers.
note "writing the data set"
python3 - "$A/ds" "$T/ds.sums" <<'PY'
import hashlib, os, random, sys
random.seed(3)
root, sums = sys.argv[1], sys.argv[2]
os.makedirs(root)
with open(sums, "w") as out:
    for i in range(300):
        d = os.path.join(root, "shard%02d" % (i % 10))
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, "sample%04d.bin" % i)
        data = os.urandom(random.choice([0, 1, 1000, 70000, 1 << 20, 3 << 20]))
        with open(p, "wb") as f:
            f.write(data)
        out.write("%s %s\n" % (os.path.relpath(p, root),
                               hashlib.sha256(data).hexdigest()))
PY
note "reading it with a pool of 4 on the other mount"
timed 600 python3 - "$B/ds" "$T/ds.sums" <<'PY'
import hashlib, multiprocessing, os, sys
root, sums = sys.argv[1], sys.argv[2]
want = dict(l.split() for l in open(sums))

def digest(rel):
    h = hashlib.sha256()
    with open(os.path.join(root, rel), "rb") as f:
        while True:
            b = f.read(1 << 16)
            if not b:
                break
            h.update(b)
    return rel, h.hexdigest()

found = sorted(os.path.relpath(os.path.join(d, f), root)
               for d, _, fs in os.walk(root) for f in fs)
assert found == sorted(want), "listing differs: %d vs %d" % (len(found), len(want))
with multiprocessing.Pool(4) as pool:
    for _ in range(2):  # twice: the second pass may come from the cache
        bad = [r for r, h in pool.imap_unordered(digest, found) if h != want[r]]
        assert not bad, "wrong bytes in %s" % bad[:5]
print("ok", len(found))
PY

note "nocto: reopening skips the check; a change is seen after attr_timeout"
node_requests()
{
	"$AIS" cluster show | awk '/online/ {s += $NF} END {print s + 0}'
}
# Long timeouts: the kernel asks nothing during the loop, so whatever
# reaches the nodes comes from the opens.
fuse_mount n -o nocto,attr_timeout=60,entry_timeout=60
N=$MNT/c
printf one >"$A/nc"
assert_eq one "$(cat "$N/nc")" "nocto: first read"
r0=$(node_requests)
r1=$(node_requests)
base=$((r1 - r0)) # what asking costs by itself
for i in $(seq 20); do
	cat "$N/nc" >/dev/null || fail "nocto: reopen $i"
done
r2=$(node_requests)
# One HEAD per open (cto) would be 20.
[ $((r2 - r1 - base)) -lt 8 ] ||
	fail "nocto: 20 reopens within attr_timeout cost $((r2 - r1 - base)) requests"
fuse_mount n1 -o nocto,attr_timeout=1,entry_timeout=1
N1=$MNT/c
assert_eq one "$(cat "$N1/nc")" "nocto, attr_timeout=1: first read"
printf two >"$A/nc" # same size
sleep 1.5
assert_eq two "$(cat "$N1/nc")" "nocto: a change seen after attr_timeout"
assert_eq two "$(cat "$B/nc")" "cto (the default): the change"
