#!/usr/bin/env bash
# Transformed views (aisfs -o etl=NAME[,etl_args=A]): training code reads
# transform outputs with open()/read() and nothing else. Through a worker
# in C and the Python host: every object and shard member (tar and
# tar.gz) reads as its output, and stat's size, cat, cp -r and read()
# agree, also for a transform whose output changes from run to run; a new
# version of an object gets a new output; a failing transform is EIO for
# that file only; the view is read-only; a transform the cluster does not
# have is refused at mount.
. "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
fuse_test_init fuse_etl

ais_etl_cluster_up
cp "$AIS_BUILD_DIR/etl/identity" "$AIS_SRC_DIR/etl/hash.py" "$E/"
cat >"$E/rand.py" <<'EOF'
import os
import random


def transform(data, name, args):
    # A different output, of another size, every run (as an augmentation).
    return os.urandom(random.randint(1, 200000))
EOF
cat >"$E/picky.py" <<'EOF'
def transform(data, name, args):
    if name.endswith(".bad"):
        raise ValueError(f"{name} is not an image")
    return data[::-1]
EOF
"$AIS" bucket create ais://b >/dev/null
SRC=$T/src
mkdir -p "$SRC/d/sub" "$T/shard/a"
for i in $(seq 1 20); do
	head -c $((i * 3001)) /dev/urandom >"$SRC/d/o$i"
done
head -c 700000 /dev/urandom >"$SRC/d/sub/big"
echo "not an image" >"$SRC/d/x.bad"
"$AIS" put -r -q "$SRC/d" ais://b/d || fail "put -r"
head -c 5000 /dev/urandom >"$T/shard/a/x.bin"
echo text >"$T/shard/t.txt"
tar -cf "$T/s.tar" -C "$T/shard" .
tar -czf "$T/s.tgz" -C "$T/shard" .
"$AIS" put "$T/s.tar" ais://b/s.tar >/dev/null
"$AIS" put "$T/s.tgz" ais://b/s.tgz >/dev/null
"$AIS" etl init same --mode worker --cmd "$E/identity"
"$AIS" etl init hash --mode worker --cmd "ais-etl-python $E/hash.py"
"$AIS" etl init rand --mode worker --cmd "ais-etl-python $E/rand.py"
"$AIS" etl init picky --mode worker --cmd "ais-etl-python $E/picky.py"

md5() { md5sum <"$1" | cut -d' ' -f1; }

note "hashes through the Python host"
fuse_mount m1 -o etl=hash,etl_args=md5
M1=$MNT/b
n=0
while IFS= read -r -d '' f; do
	rel=${f#"$SRC/"}
	[ "$rel" = d/x.bad ] && continue
	assert_eq "$(md5 "$f")" "$(cat "$M1/$rel")" "cat $rel"
	assert_eq 33 "$(stat -c %s "$M1/$rel")" "stat -c %s $rel"
	n=$((n + 1))
done < <(find "$SRC/d" -type f -print0)
[ "$n" -eq 21 ] || fail "only $n files compared"
cp -r "$M1/d" "$T/copy" || fail "cp -r out of the view"
for i in 1 7 20; do
	assert_eq "$(md5 "$SRC/d/o$i")" "$(cat "$T/copy/o$i")" "cp -r copy of o$i"
done
assert_eq "$(md5 "$T/shard/a/x.bin")" "$(cat "$M1/s.tar.d/a/x.bin")" "a tar member"
assert_eq "$(md5 "$T/shard/a/x.bin")" "$(cat "$M1/s.tgz.d/a/x.bin")" "a tar.gz member"
assert_eq "$(md5 "$T/s.tar")" "$(cat "$M1/s.tar")" "the shard itself"

note "the first 100 bytes through the C worker"
fuse_mount m2 -o etl=same,etl_args=100
M2=$MNT/b
for i in 1 2 20; do
	cmp -s <(head -c 100 "$SRC/d/o$i") "$M2/d/o$i" || fail "o$i through same"
	assert_eq 100 "$(stat -c %s "$M2/d/o$i")" "size of o$i through same"
done
cmp -s <(head -c 100 "$T/shard/a/x.bin") "$M2/s.tgz.d/a/x.bin" ||
	fail "a tar.gz member through same"

note "a transform whose output differs every run: stat and read agree"
fuse_mount m3 -o etl=rand
python3 - "$MNT/b/d" <<'EOF' || fail "stat and read disagree"
import os, sys
top = sys.argv[1]
for name in sorted(os.listdir(top)):
    p = os.path.join(top, name)
    if os.path.isdir(p):
        continue
    size = os.stat(p).st_size
    with open(p, "rb") as f:
        fsize = os.fstat(f.fileno()).st_size
        data = f.read()
    if not (size == fsize == len(data)):
        sys.exit(f"{name}: stat {size}, fstat {fsize}, read {len(data)}")
EOF

note "a failing transform: EIO for that file only"
fuse_mount m4 -o etl=picky
expect_errno EIO "os.stat('$MNT/b/d/x.bad')"
python3 - "$SRC/d/o3" "$MNT/b/d/o3" <<'EOF' || fail "o3 through picky"
import sys
assert open(sys.argv[1], "rb").read()[::-1] == open(sys.argv[2], "rb").read()
EOF
grep -q "x.bad is not an image" "$T/m4.aisfs.log" ||
	fail "the transform's message is not in the mount's log"

note "read-only, and a new version gets a new output"
expect_errno EROFS "open('$M1/d/new', 'w')"
expect_errno EROFS "os.mkdir('$M1/d/nd')"
expect_errno EROFS "os.unlink('$M1/d/o1')"
expect_errno EROFS "open('$M1/d/o1', 'r+b')"
head -c 4321 /dev/urandom >"$T/o1.v2"
"$AIS" put "$T/o1.v2" ais://b/d/o1 >/dev/null
ais_wait_for 10 sh -c "[ \"\$(cat '$M1/d/o1')\" = '$(md5 "$T/o1.v2")' ]"

note "refused mounts"
mkdir -p "$T/m5"
out=$("$AISFS" mount -o etl=nope "$AIS_ENDPOINT" "$T/m5" 2>&1) &&
	fail "a mount of an unknown transform succeeded"
case "$out" in *"no such transform"*) ;; *) fail "etl=nope: $out" ;; esac
out=$("$AISFS" mount -o etl=hash,writeback "$AIS_ENDPOINT" "$T/m5" 2>&1) &&
	fail "etl with writeback succeeded"
case "$out" in *"read-only"*) ;; *) fail "etl,writeback: $out" ;; esac
