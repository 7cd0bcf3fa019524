#!/usr/bin/env bash
# Whole trees through aisfs: cp -r in and back out, rsync -a in, tar -x into
# the mount and tar -c out of it; find, du and stat agree with the source.
# The tree has 2,000 files in nested directories, empty files, empty
# directories, names with spaces and UTF-8, and one 300 MiB file.
. "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
fuse_test_init fuse_tree
command -v rsync >/dev/null || ais_skip "rsync is not installed"
ais_cluster_up 3
"$AIS" bucket create ais://t >/dev/null
fuse_mount m
M=$MNT/t

SRC=$T/src
python3 - "$SRC" <<'PY'
import os, random, sys
random.seed(7)
root = sys.argv[1]
names = ["plain", "with space", "naïve café", "日本語", "emoji 🐍", "a-b_c.d"]
dirs = [root]
for i in range(60):
    parent = random.choice(dirs)
    d = os.path.join(parent, "%s %d" % (random.choice(names), i))
    os.makedirs(d)
    dirs.append(d)
os.makedirs(os.path.join(root, "empty dir", "nested empty"))
n = 0
while n < 1999:
    d = random.choice(dirs)
    p = os.path.join(d, "%s-%04d%s" % (random.choice(names), n,
                                        random.choice([".txt", ".bin", ""])))
    size = random.choice([0, 0, 1, 100, 4096, 65536, 200000, 1 << 20])
    with open(p, "wb") as f:
        f.write(os.urandom(size))
    n += 1
with open(os.path.join(root, "big file.bin"), "wb") as f:
    for _ in range(300):
        f.write(os.urandom(1 << 20))
PY
nsrc=$(find "$SRC" -type f | wc -l)
assert_eq 2000 "$nsrc" "files in the source tree"

note "cp -r in"
timed 900 cp -r "$SRC" "$M/cp"
note "diff -r"
timed 600 diff -r "$SRC" "$M/cp" || fail "cp -r in: trees differ"
note "cp -r out"
timed 600 cp -r "$M/cp" "$T/out"
diff -r "$SRC" "$T/out" || fail "cp -r out: trees differ"
rm -rf "$T/out"

# find / du / stat on the mount match the source.
assert_eq "$(cd "$SRC" && find . | LC_ALL=C sort | wc -l)" \
	"$(cd "$M/cp" && find . | LC_ALL=C sort | wc -l)" "find | wc -l"
assert_eq "$(cd "$SRC" && find . -type f -printf '%P %s\n' | LC_ALL=C sort | md5sum)" \
	"$(cd "$M/cp" && find . -type f -printf '%P %s\n' | LC_ALL=C sort | md5sum)" \
	"stat sizes of every file"
assert_eq "$(cd "$SRC" && find . -type d -printf '%P\n' | LC_ALL=C sort | md5sum)" \
	"$(cd "$M/cp" && find . -type d -printf '%P\n' | LC_ALL=C sort | md5sum)" \
	"directories (empty ones included)"
# Directories have size 0 on aisfs, so du -sb is the sum of the file sizes.
sum=$(find "$SRC" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
assert_eq "$sum" "$(du -sb "$M/cp" | cut -f1)" "du -sb"
assert_eq "$(stat -c %s "$SRC/big file.bin")" "$(stat -c %s "$M/cp/big file.bin")" \
	"stat size of the big file"

note "rsync -a in"
rm -f "$SRC/big file.bin" # the other copies need not move 300 MiB again
timed 900 rsync -a "$SRC/" "$M/rsync/" || fail "rsync -a failed"
diff -r "$SRC" "$M/rsync" || fail "rsync -a: trees differ"
# A second rsync finds nothing to do (sizes and mtimes were kept).
changed=$(timed 600 rsync -a --itemize-changes "$SRC/" "$M/rsync/" | grep -c '^>f' || true)
assert_eq 0 "$changed" "files re-sent by a second rsync -a"

note "tar -x into the mount, tar -c out of it"
tar -cf "$T/src.tar" -C "$SRC" .
mkdir "$M/tarx"
timed 900 tar -xf "$T/src.tar" -C "$M/tarx" || fail "tar -x into the mount"
diff -r "$SRC" "$M/tarx" || fail "tar -x: trees differ"
timed 600 tar -cf "$T/out.tar" -C "$M/tarx" . || fail "tar -c out of the mount"
mkdir "$T/untar"
tar -xf "$T/out.tar" -C "$T/untar"
diff -r "$SRC" "$T/untar" || fail "tar -c: trees differ"

note "rm -r"
timed 600 rm -r "$M/tarx"
[ ! -e "$M/tarx" ] || fail "rm -r left the directory"
