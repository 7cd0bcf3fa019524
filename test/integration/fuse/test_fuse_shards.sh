#!/usr/bin/env bash
# Shards as directories through aisfs (shards=dir): archives
# made by GNU tar (nested dirs, a symlink, a hard link, an empty file, a
# 150-byte name), Python tarfile (pax, UTF-8 names), bsdtar, zip (stored
# and deflated), tar.gz and tar.lz4 are uploaded with `ais put`; through
# the mount `find -type f` equals the archiver's file list, `cp -r` of the
# shard directory is identical to what the archiver extracts, readlink
# gives the link target, members are read-only (EROFS), rereads give the
# same bytes (the second from the page cache), a replaced shard is seen,
# a shards=file mount shows each archive as the file that was uploaded,
# and the default (shards=view) shows both: the file, and its members
# under NAME.d (read as a tar stream, written twice, listed once).
. "$AIS_SRC_DIR/test/integration/fuse/fuse_lib.sh"
fuse_test_init fuse_shards
for tool in tar bsdtar zip lz4 gzip; do
	command -v "$tool" >/dev/null || ais_skip "$tool is not installed"
done
ais_cluster_up 3
"$AIS" bucket create ais://b >/dev/null || fail "bucket create"

# The tree the archives are made of.
SRC=$T/src
long=$(printf 'n%.0s' $(seq 150))
mkdir -p "$SRC/a/b/c" "$SRC/d"
: >"$SRC/a/empty"
head -c 511 /dev/urandom >"$SRC/a/b/511.bin"
head -c 513 /dev/urandom >"$SRC/a/b/c/513.bin"
head -c 3000000 /dev/urandom >"$SRC/a/big.bin"
echo "text" >"$SRC/top.txt"
echo "long" >"$SRC/d/$long.txt"
ln -s ../top.txt "$SRC/a/link"
ln "$SRC/a/b/511.bin" "$SRC/a/hard" # a hard link: a regular file here

note "making the archives"
L=$T/local
mkdir -p "$L"
tar --format=gnu -cf "$L/gnu.tar" -C "$SRC" . || fail "tar gnu"
tar -czf "$L/gz.tar.gz" -C "$SRC" a top.txt || fail "tar -z"
tar -cf - -C "$SRC" . | lz4 -q -c >"$L/lz.tar.lz4" || fail "tar | lz4"
bsdtar -cf "$L/bsd.tar" -C "$SRC" a d || fail "bsdtar"
python3 - "$L" <<'PY' || fail "python archives"
import io, os, sys, tarfile, zipfile
out = sys.argv[1]
rnd = os.urandom(200000)
with tarfile.open(os.path.join(out, "pax.tar"), "w",
                  format=tarfile.PAX_FORMAT) as tf:
    for name, data in [("naïve café/日本語.txt", b"utf-8\n"),
                       ("emoji 🐍/" + "ü" * 60 + ".bin", rnd),
                       ("plain/empty", b"")]:
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mtime = 1700000000
        ti.mode = 0o640
        tf.addfile(ti, io.BytesIO(data))
with zipfile.ZipFile(os.path.join(out, "z.zip"), "w") as zf:
    zf.writestr(zipfile.ZipInfo("stored/s.bin", (2024, 1, 2, 3, 4, 6)),
                rnd, compress_type=zipfile.ZIP_STORED)
    zf.writestr(zipfile.ZipInfo("deflated/d.txt", (2024, 1, 2, 3, 4, 6)),
                b"abc" * 100000, compress_type=zipfile.ZIP_DEFLATED)
    zf.writestr("deflated/deeper/x.txt", b"x\n",
                compress_type=zipfile.ZIP_DEFLATED)
    zf.writestr(zipfile.ZipInfo("emptydir/"), b"")
PY

# Reference trees: what the archivers themselves extract.
X=$T/x
ARCHIVES=(gnu.tar bsd.tar pax.tar gz.tar.gz lz.tar.lz4 z.zip)
for f in "${ARCHIVES[@]}"; do
	mkdir -p "$X/$f"
done
for f in gnu.tar bsd.tar pax.tar; do
	tar -xf "$L/$f" -C "$X/$f" || fail "tar -x $f"
done
tar -xzf "$L/gz.tar.gz" -C "$X/gz.tar.gz" || fail "tar -xz"
lz4 -q -dc "$L/lz.tar.lz4" | tar -xf - -C "$X/lz.tar.lz4" ||
	fail "lz4 | tar -x"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
	"$L/z.zip" "$X/z.zip" || fail "unzip"

for f in "${ARCHIVES[@]}"; do
	"$AIS" put "$L/$f" "ais://b/sets/$f" >/dev/null || fail "ais put $f"
done

fuse_mount m -o shards=dir
M=$MNT/b/sets

note "the archives are directories"
for f in "${ARCHIVES[@]}"; do
	[ -d "$M/$f" ] || fail "$f is not a directory in the mount"
done
assert_eq "$(printf '%s\n' "${ARCHIVES[@]}" | LC_ALL=C sort)" \
	"$(find "$M" -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort)" \
	"the directory holding the shards"
[ "$(stat -c %F "$M/gnu.tar")" = directory ] || fail "stat of gnu.tar"

note "find -type f equals the archiver's file list"
for f in gnu.tar bsd.tar pax.tar gz.tar.gz lz.tar.lz4; do
	case $f in
	*.gz) tflag=-tzf ;;
	*) tflag=-tf ;;
	esac
	if [ "$f" = lz.tar.lz4 ]; then
		lz4 -q -dc "$L/$f" | tar -tf - >"$T/list.raw"
	else
		tar $tflag "$L/$f" >"$T/list.raw"
	fi
	# tar -t lists directories and links too: keep the regular files.
	while IFS= read -r p; do
		p=${p#./}
		p=${p%/}
		[ -n "$p" ] && [ -f "$X/$f/$p" ] && [ ! -L "$X/$f/$p" ] &&
			printf '%s\n' "$p"
	done <"$T/list.raw" | LC_ALL=C sort >"$T/want"
	[ -s "$T/want" ] || fail "$f: empty reference list"
	(cd "$M/$f" && find . -type f | sed 's#^\./##' | LC_ALL=C sort) >"$T/got"
	diff -u "$T/want" "$T/got" >&2 || fail "$f: find -type f differs from tar -t"
done
python3 -c 'import sys, zipfile
print("\n".join(sorted(n for n in zipfile.ZipFile(sys.argv[1]).namelist()
                       if not n.endswith("/"))))' "$L/z.zip" |
	LC_ALL=C sort >"$T/want"
(cd "$M/z.zip" && find . -type f | sed 's#^\./##' | LC_ALL=C sort) >"$T/got"
diff -u "$T/want" "$T/got" >&2 || fail "z.zip: find -type f differs from the zip list"

note "cp -r out of every shard equals the archiver's extraction"
for f in "${ARCHIVES[@]}"; do
	timed 120 cp -r "$M/$f/" "$T/out-$f" || fail "cp -r $f"
	diff -r --no-dereference "$X/$f" "$T/out-$f" >&2 ||
		fail "$f: cp -r differs from the extracted archive"
done

note "symlinks, empty files, long names, metadata"
assert_eq "../top.txt" "$(readlink "$M/gnu.tar/a/link")" "readlink in gnu.tar"
assert_eq "../top.txt" "$(readlink "$M/lz.tar.lz4/a/link")" "readlink in tar.lz4"
assert_eq "text" "$(cat "$M/gnu.tar/a/link")" "reading through the symlink"
[ -L "$M/gnu.tar/a/link" ] || fail "a/link is not a symlink"
assert_eq 0 "$(stat -c %s "$M/gnu.tar/a/empty")" "size of the empty member"
assert_eq "long" "$(cat "$M/gnu.tar/d/$long.txt")" "member with a 150-byte name"
assert_eq "$(stat -c %Y "$X/gnu.tar/a/big.bin")" \
	"$(stat -c %Y "$M/gnu.tar/a/big.bin")" "mtime of a member"
assert_eq 1700000000 "$(stat -c %Y "$M/pax.tar/plain/empty")" "pax mtime"
assert_eq 640 "$(stat -c %a "$M/pax.tar/plain/empty")" "pax mode"
# du counts the files and the link (directories have size 0 on aisfs).
target=../top.txt
du_want=$(find "$X/gnu.tar" -type f -printf '%s\n' |
	awk -v l=${#target} '{s += $1} END {print s + l}')
assert_eq "$du_want" "$(du -sb "$M/gnu.tar" | cut -f1)" "du -sb of a shard"
# A name that is not there, in a shard, is ENOENT.
expect_errno ENOENT "os.stat('$M/gnu.tar/a/nope')"
expect_errno ENOTDIR "os.listdir('$M/gnu.tar/top.txt')"

note "members are read-only"
expect_errno EROFS "open('$M/gnu.tar/new', 'w')"
expect_errno EROFS "open('$M/gnu.tar/a/new', 'w')"
expect_errno EROFS "open('$M/gnu.tar/top.txt', 'r+')"
expect_errno EROFS "os.mkdir('$M/gnu.tar/newdir')"
expect_errno EROFS "os.unlink('$M/gnu.tar/top.txt')"
expect_errno EROFS "os.rmdir('$M/gnu.tar/a/b/c')"
expect_errno EROFS "os.rename('$M/gnu.tar/top.txt', '$M/gnu.tar/t2')"
expect_errno EROFS "os.rename('$M/gnu.tar/top.txt', '$M/moved')"
expect_errno EROFS "os.truncate('$M/gnu.tar/top.txt', 0)"
expect_errno EROFS "os.chmod('$M/gnu.tar/top.txt', 0o600)"
expect_errno EROFS "os.symlink('x', '$M/gnu.tar/l2')"
expect_errno EROFS "os.rmdir('$M/gnu.tar')"
assert_eq "text" "$(cat "$M/gnu.tar/top.txt")" "member unchanged"
"$AIS" stat ais://b/sets/gnu.tar >/dev/null || fail "the shard object is gone"

note "every member read twice gives the same bytes"
python3 - "$M" "$X" "${ARCHIVES[@]}" <<'PY' || fail "rereading members"
import os, sys
mnt, ref, names = sys.argv[1], sys.argv[2], sys.argv[3:]
n = 0
for epoch in range(2):
    for shard in names:
        root = os.path.join(mnt, shard)
        for d, _, files in os.walk(root):
            for f in files:
                p = os.path.join(d, f)
                if os.path.islink(p):
                    continue
                with open(p, "rb") as fh:
                    data = fh.read()
                want = open(os.path.join(ref, shard,
                                         os.path.relpath(p, root)),
                            "rb").read()
                if data != want:
                    sys.exit("epoch %d: %s differs" % (epoch, p))
                # A ranged read of the middle.
                if len(data) > 10:
                    with open(p, "rb") as fh:
                        fh.seek(len(data) // 3)
                        if fh.read(7) != data[len(data) // 3:][:7]:
                            sys.exit("ranged read of %s" % p)
                n += 1
print("read %d members" % n)
PY

note "a second epoch over a shard costs no node request per open"
# 300 members: one HEAD per open (close-to-open per member) would be 300
# requests; revalidating the shard instead costs one per entry_timeout.
python3 - "$L/many.tar" <<'PY' || fail "making many.tar"
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as tf:
    for i in range(300):
        data = (b"%06d" % i) * (100 + i)
        ti = tarfile.TarInfo("c%d/%04d.bin" % (i % 3, i))
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
PY
"$AIS" put "$L/many.tar" ais://b/sets/many.tar >/dev/null || fail "put many.tar"
node_requests()
{
	"$AIS" cluster show | awk '/online/ {s += $NF} END {print s + 0}'
}
epoch()
{
	python3 - "$M/many.tar" <<'PY'
import os, sys
n = 0
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        i = int(f.split(".")[0])
        with open(os.path.join(d, f), "rb") as fh:
            if fh.read() != (b"%06d" % i) * (100 + i):
                sys.exit("wrong bytes in %s" % f)
        n += 1
print(n)
PY
}
assert_eq 300 "$(epoch)" "first epoch over many.tar"
r0=$(node_requests)
assert_eq 300 "$(epoch)" "second epoch over many.tar"
r1=$(node_requests)
note "second epoch: $((r1 - r0)) node requests for 300 opens"
[ $((r1 - r0)) -lt 60 ] ||
	fail "second epoch over 300 members cost $((r1 - r0)) node requests"
# With attr_timeout=0 every open asks again: the counter can tell.
fuse_mount m0 -o shards=dir,attr_timeout=0
M0=$MNT/b/sets
r0=$(node_requests)
cat "$M0"/many.tar/c0/* >/dev/null || fail "reading with attr_timeout=0"
cat "$M0"/many.tar/c0/* >/dev/null || fail "rereading with attr_timeout=0"
r1=$(node_requests)
[ $((r1 - r0)) -ge 200 ] ||
	fail "attr_timeout=0: 200 opens cost only $((r1 - r0)) node requests"
fuse_umount "$T/m0"
MNT=$T/m

if command -v fincore >/dev/null; then
	note "a member reopened is served from the page cache"
	f=$M/lz.tar.lz4/a/big.bin
	cat "$f" >/dev/null
	res=$(fincore --bytes --noheadings --output RES "$f")
	[ "${res:-0}" -ge 3000000 ] ||
		fail "page cache of an unchanged member dropped at open: $res"
fi

note "a shard replaced through ais put is seen at the next open"
cat "$M/gnu.tar/a/big.bin" >/dev/null # now in the page cache
SRC2=$T/src2
mkdir -p "$SRC2/a/new"
head -c 3000000 /dev/urandom >"$SRC2/a/big.bin" # same path, same size
echo new >"$SRC2/a/new/file"
tar -cf "$L/gnu2.tar" -C "$SRC2" . || fail "tar gnu2"
"$AIS" put "$L/gnu2.tar" ais://b/sets/gnu.tar >/dev/null || fail "ais put over"
ok=0
for i in $(seq 1 50); do
	if ! [ -e "$M/gnu.tar/top.txt" ] && [ -f "$M/gnu.tar/a/new/file" ]; then
		ok=1
		break
	fi
	sleep 0.1
done
assert_eq 1 "$ok" "the replaced shard's tree"
cmp "$SRC2/a/big.bin" "$M/gnu.tar/a/big.bin" ||
	fail "a member of the replaced shard read stale bytes"
"$AIS" put "$L/gnu.tar" ais://b/sets/gnu.tar >/dev/null || fail "ais put back"

note "shards=file shows the archives as the uploaded files"
fuse_mount mf -o shards=file
for f in "${ARCHIVES[@]}"; do
	[ -f "$MNT/b/sets/$f" ] || fail "shards=file: $f is not a regular file"
	cmp "$L/$f" "$MNT/b/sets/$f" || fail "shards=file: $f bytes differ"
done
fuse_umount "$MNT"

note "the default (shards=view): a shard is its file, its members are under NAME.d"
fuse_mount mv
V=$MNT/b/sets
fuse_mount mv2
V2=$MNT/b/sets
for f in "${ARCHIVES[@]}"; do
	[ -f "$V/$f" ] || fail "view: $f is not a regular file"
	cmp "$L/$f" "$V/$f" || fail "view: $f bytes differ"
	[ -d "$V/$f.d" ] || fail "view: $f.d is not a directory"
	cp -r "$V/$f.d" "$T/view-$f" || fail "view: cp -r $f.d"
	diff -r --no-dereference "$X/$f" "$T/view-$f" >&2 ||
		fail "view: the tree of $f.d differs from the archiver's"
done
assert_eq "$(stat -c %s "$L/gnu.tar")" "$(stat -c %s "$V/gnu.tar")" \
	"view: getsize of a shard"
# Listed once, as the files: du, find and cp -r see each shard's bytes once.
assert_eq "$(printf '%s\n' "${ARCHIVES[@]}" many.tar | LC_ALL=C sort)" \
	"$(find "$V" -mindepth 1 -printf '%P\n' | LC_ALL=C sort)" \
	"view: find lists the shards, not their members"
want=0
for f in "${ARCHIVES[@]}" many.tar; do
	want=$((want + $(stat -c %s "$L/$f")))
done
assert_eq "$want" "$(du -sb --apparent-size "$V" | cut -f1)" "view: du"
# WebDataset's reader: the shard as a tar stream, every sample byte-exact.
python3 - "$V/pax.tar" "$X/pax.tar" <<'PY' || fail "view: tarfile stream"
import os, sys, tarfile
n = 0
with tarfile.open(sys.argv[1], "r|") as t:
    for m in t:
        if m.isfile():
            data = t.extractfile(m).read()
            assert data == open(os.path.join(sys.argv[2], m.name), "rb").read(), m.name
            n += 1
assert n > 0
PY
# WebDataset's writer, twice through the mount (a second run rewrites it).
for run in one two; do
	python3 - "$V/written.tar" "$run" <<'PY' || fail "view: shard writer ($run)"
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for i in range(5):
        for ext, data in (("cls", b"%d" % i), ("txt", sys.argv[2].encode() * 100)):
            ti = tarfile.TarInfo("%06d.%s" % (i, ext))
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
PY
	ok=0
	for _ in $(seq 1 50); do
		[ "$(cat "$V2/written.tar.d/000004.txt" 2>/dev/null | head -c 3)" = "$run" ] &&
			{ ok=1; break; }
		sleep 0.1
	done
	assert_eq 1 "$ok" "view: the written shard's members ($run), another mount"
	assert_eq "$run" "$(head -c 3 "$V/written.tar.d/000004.txt")" \
		"view: the written shard's members ($run)"
done
# A view is read-only, and a real object of that name wins.
expect_errno EROFS "os.rmdir('$V/gnu.tar.d')"
expect_errno EROFS "open('$V/gnu.tar.d/top.txt', 'w')"
expect_errno ENOENT "os.listdir('$V/none.tar.d')"
echo real >"$T/real"
"$AIS" put "$T/real" ais://b/sets/bsd.tar.d/real >/dev/null
for _ in $(seq 1 50); do
	[ "$(cat "$V/bsd.tar.d/real" 2>/dev/null)" = real ] && break
	sleep 0.1
done
assert_eq real "$(cat "$V/bsd.tar.d/real")" "view: a real bsd.tar.d wins"
fuse_umount "$T/mv2"
fuse_umount "$T/mv"
note "ok"
