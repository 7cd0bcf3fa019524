#!/usr/bin/env bash
# aisfs POSIX behaviour on a real mount: writes (sequential, random,
# append, truncate), rename, unlink, mkdir/rmdir, buckets at the root,
# errno values, chmod/utimens persistence, xattrs, statfs, ro and bucket=.
. "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
fuse_test_init fuse_posix
ais_cluster_up 3
"$AIS" bucket create ais://b >/dev/null

fuse_mount m
M=$MNT
note "mounted on $M"

# The root shows the buckets; mkdir/rmdir there create/destroy buckets.
find "$M" -mindepth 1 -maxdepth 1 -type d -name b | grep -q . ||
	fail "bucket b not listed at the root"
mkdir "$M/newbkt"
"$AIS" bucket list 2>/dev/null | grep -q newbkt || "$AIS" ls 2>/dev/null |
	grep -q newbkt || fail "mkdir at the root did not create a bucket"
rmdir "$M/newbkt"
[ ! -e "$M/newbkt" ] || fail "rmdir at the root left the bucket"

B=$M/b
# Lookups by path alone (nothing listed first), of names put by another
# client: each dNN owned by one node, its object dNN/x often by another.
# The owner of dNN answers for the whole cluster (RESOLVE): a directory
# whose objects live elsewhere is still a directory, a name that is
# neither is ENOENT, a name under an object is no directory.
for i in $(seq -w 1 24); do
	echo "x$i" | "$AIS" put - "ais://b/lk/d$i/x" >/dev/null 2>&1 ||
		fail "put lk/d$i/x"
done
for i in $(seq -w 1 24); do
	[ -d "$B/lk/d$i" ] || fail "lookup: lk/d$i is not a directory"
	[ -f "$B/lk/d$i/x" ] || fail "lookup: lk/d$i/x is not a file"
	[ ! -e "$B/lk/d$i/none" ] || fail "lookup: lk/d$i/none exists"
	[ ! -e "$B/lk/d$i/x/y" ] || fail "lookup: lk/d$i/x/y exists"
	[ ! -e "$B/lk/x$i" ] || fail "lookup: lk/x$i exists"
done
expect_errno ENOENT "os.stat('$B/lk/d01/none')"
expect_errno ENOTDIR "os.stat('$B/lk/d01/x/y')"
assert_eq x07 "$(cat "$B/lk/d07/x")" "read through looked-up names"

# Sequential write and read back.
head -c 3000000 /dev/urandom >"$T/seq"
cp "$T/seq" "$B/seq"
cmp "$T/seq" "$B/seq" || fail "sequential write/read differs"
assert_eq 3000000 "$(stat -c %s "$B/seq")" "size after cp"

# Overwrite with shorter content; version goes up.
v1=$(getfattr --only-values -n user.ais.version "$B/seq" 2>/dev/null || echo 1)
echo short >"$B/seq"
assert_eq short "$(cat "$B/seq")" "overwrite"
v2=$(getfattr --only-values -n user.ais.version "$B/seq" 2>/dev/null || echo 2)
[ "$v2" -gt "$v1" ] || fail "version did not grow ($v1 -> $v2)"
getfattr --only-values -n user.ais.checksum "$B/seq" | grep -q '^xxh3:' ||
	fail "user.ais.checksum missing"

# Random writes inside a file, the same on a local copy: bytes equal.
python3 - "$B/rand" "$T/rand" <<'PY'
import os, random, sys
random.seed(42)
base = os.urandom(5 << 20)
fds = []
for p in sys.argv[1:]:
    with open(p, "wb") as f:
        f.write(base)
for p in sys.argv[1:]:
    fds.append(os.open(p, os.O_RDWR))
for i in range(300):
    off = random.randrange(0, 6 << 20)
    data = os.urandom(random.randrange(1, 300000))
    for fd in fds:
        os.pwrite(fd, data, off)
    if i % 97 == 0:
        n = random.randrange(1, 6 << 20)
        for fd in fds:
            os.ftruncate(fd, n)
    if i % 50 == 0:  # read-your-writes while open
        a = os.pread(fds[0], 65536, off)
        b = os.pread(fds[1], 65536, off)
        assert a == b, "read while open differs at %d" % off
for fd in fds:
    os.close(fd)
PY
cmp "$T/rand" "$B/rand" || fail "random writes differ from the local file"
# Reopen without O_TRUNC and patch a few bytes (fetch into the spool first).
printf 'PATCH' | dd of="$B/rand" bs=1 seek=1000 conv=notrunc status=none
printf 'PATCH' | dd of="$T/rand" bs=1 seek=1000 conv=notrunc status=none
cmp "$T/rand" "$B/rand" || fail "in-place patch differs"

# Append, truncate by path (grow and shrink).
printf 'one\n' >"$B/app"
printf 'two\n' >>"$B/app"
assert_eq "one two" "$(tr '\n' ' ' <"$B/app" | sed 's/ $//')" "append"
truncate -s 10000 "$B/app"
assert_eq 10000 "$(stat -c %s "$B/app")" "truncate grow"
truncate -s 4 "$B/app"
assert_eq one "$(cat "$B/app")" "truncate shrink"
: >"$B/empty"
assert_eq 0 "$(stat -c %s "$B/empty")" "empty file"

# mkdir, nested dirs, empty dir kept by a hidden marker.
mkdir -p "$B/d1/d2/d3"
echo x >"$B/d1/d2/d3/f"
mkdir "$B/emptydir"
assert_eq "" "$(ls -A "$B/emptydir")" "empty dir lists nothing"

# rename: file, over an existing file, into another dir, a whole dir.
echo r1 >"$B/r1"
echo r2 >"$B/r2"
mv "$B/r1" "$B/r2"
assert_eq r1 "$(cat "$B/r2")" "rename over a file"
[ ! -e "$B/r1" ] || fail "rename left the source"
mv "$B/r2" "$B/d1/r3"
assert_eq r1 "$(cat "$B/d1/r3")" "rename into a directory"
mv "$B/d1" "$B/d9"
assert_eq x "$(cat "$B/d9/d2/d3/f")" "directory rename"
[ ! -e "$B/d1" ] || fail "directory rename left the source"
assert_eq r1 "$(cat "$B/d9/r3")" "file in renamed dir"

# unlink
rm "$B/d9/r3"
[ ! -e "$B/d9/r3" ] || fail "unlink"

# errno values
expect_errno ENOENT "open('$B/nope')"
expect_errno ENOENT "os.stat('$B/nodir/nope')"
expect_errno ENOTDIR "open('$B/app/x')"
expect_errno ENOTDIR "os.mkdir('$B/app/x')"
expect_errno ENOTDIR "os.listdir('$B/app')"
expect_errno ENOTEMPTY "os.rmdir('$B/d9')"
expect_errno EISDIR "open('$B/d9', 'w')"
expect_errno EISDIR "os.unlink('$B/d9')"
expect_errno EISDIR "os.rename('$B/app', '$B/d9')"
expect_errno ENOTDIR "os.rename('$B/d9', '$B/app')"
expect_errno ENOTEMPTY "os.rename('$B/emptydir', '$B/d9')"
expect_errno EEXIST "os.mkdir('$B/d9')"
expect_errno ENOTDIR "os.rmdir('$B/app')"
expect_errno ENOENT "os.rmdir('$B/nodir')"
expect_errno EXDEV "os.rename('$B/app', '$M/newb2/app') if os.mkdir('$M/newb2') is None else 0"
rmdir "$M/newb2"

# A file created with mode 0 is mode 0000 (root may still read it).
python3 -c "import os; os.close(os.open('$B/mode0', os.O_CREAT | os.O_WRONLY, 0))"
assert_eq 0 "$(stat -c %a "$B/mode0")" "mode of a file created with mode 0"

# chmod / utimens are stored in the object.
chmod 0600 "$B/app"
touch -m -d '2001-02-03 04:05:06 UTC' "$B/app"

# statfs
total=$(stat -f -c %b "$B")
[ "$total" -gt 0 ] || fail "statfs reports no capacity"

# After a remount: everything above persisted.
fuse_umount "$M"
fuse_mount m
M=$MNT
B=$M/b
cmp "$T/rand" "$B/rand" || fail "random-write file after remount"
assert_eq 600 "$(stat -c %a "$B/app")" "mode after remount"
assert_eq 0 "$(stat -c %a "$B/mode0")" "mode 0000 after remount"
rm "$B/mode0"
assert_eq 981173106 "$(stat -c %Y "$B/app")" "mtime after remount"
[ -d "$B/emptydir" ] || fail "empty directory lost at remount"
assert_eq "" "$(ls -A "$B/emptydir")" "marker hidden after remount"
rmdir "$B/emptydir"
[ ! -e "$B/emptydir" ] || fail "rmdir of the empty dir"
rm -r "$B/d9"
[ ! -e "$B/d9" ] || fail "rm -r"

# A read-only mount and a bucket mount.
fuse_mount ro -o ro,bucket=b
R=$MNT
cmp "$T/rand" "$R/rand" || fail "bucket= mount content"
expect_errno EROFS "open('$R/new', 'w')"
expect_errno EROFS "os.mkdir('$R/newdir')"
expect_errno EROFS "os.unlink('$R/rand')"
fuse_umount "$R"
